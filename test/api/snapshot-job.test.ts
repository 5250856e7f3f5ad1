/**
 * The API's backup job with `snapshot: true` (snapshot.md §6, requestor): the job takes a snapshot
 * of the source, backs up from the snapshot LU, records it in the catalog, and deletes it unless
 * `keepSnapshot`. The data moves through the lab's real dispatch and copy manager.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Catalog } from '../../src/backup-server/catalog.js';
import { tempApiLab } from '../helpers/temp-lab.js';

let lab: Awaited<ReturnType<typeof tempApiLab>>;
beforeAll(async () => {
  lab = await tempApiLab('api-snapjob');
});
afterAll(() => lab?.close());

async function finished(id: number) {
  for (let i = 0; i < 1200; i++) {
    const jobs = (await lab.api.app.inject({ method: 'GET', url: '/api/jobs' })).json() as Array<{ id: number; state: string; backupId?: number; error?: string; snapshot?: { name: string; setId: string; instant: string; kept: boolean } }>;
    const j = jobs.find((x) => x.id === id)!;
    if (j.state !== 'running') return j;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('job did not finish');
}

it('POST /api/jobs/backup {snapshot: true}: backs up from a snapshot LU, recorded in the catalog; keepSnapshot keeps it, else it is deleted', async () => {
  const kept = await lab.api.app.inject({ method: 'POST', url: '/api/jobs/backup', headers: lab.auth, payload: { source: 'fat', tape: 'tape0', mode: 'full', snapshot: true, keepSnapshot: true } });
  expect(kept.statusCode, kept.body).toBe(202);
  const j1 = await finished((kept.json() as { job: number }).job);
  expect(j1.state, j1.error).toBe('complete');
  expect(j1.snapshot).toEqual({ name: expect.stringMatching(/^array1\/fat@/), setId: expect.any(String), instant: expect.any(String), kept: true });
  const listed = (await lab.api.app.inject({ method: 'GET', url: '/api/snapshots' })).json() as Array<{ name: string; naa: string }>;
  expect(listed.map((s) => s.name)).toEqual([j1.snapshot!.name]);
  const catalog = new Catalog(path.join(lab.rt.dataDir, 'catalog.sqlite'));
  try {
    const row = catalog.backups().find((b) => b.id === j1.backupId)!;
    expect(row).toMatchObject({ status: 'complete', snapshot_name: j1.snapshot!.name, snapshot_set: j1.snapshot!.setId, snapshot_naa: listed[0]!.naa, snapshot_instant: j1.snapshot!.instant });
    expect(row.source_naa).not.toBe(listed[0]!.naa);
  } finally {
    catalog.close();
  }
  // An incremental from a snapshot, without keepSnapshot: done, and the snapshot is gone afterwards.
  const inc = await lab.api.app.inject({ method: 'POST', url: '/api/jobs/backup', headers: lab.auth, payload: { source: 'fat', tape: 'tape0', mode: 'incremental', snapshot: true } });
  const j2 = await finished((inc.json() as { job: number }).job);
  expect(j2.state, j2.error).toBe('complete');
  expect(j2.snapshot?.kept).toBe(false);
  const diff = await lab.api.app.inject({ method: 'POST', url: '/api/jobs/backup', headers: lab.auth, payload: { source: 'fat', tape: 'tape0', mode: 'differential', snapshot: true } });
  const j3 = await finished((diff.json() as { job: number }).job);
  expect(j3.state, j3.error).toBe('complete');
  const after = (await lab.api.app.inject({ method: 'GET', url: '/api/snapshots' })).json() as Array<{ name: string }>;
  expect(after.map((s) => s.name)).toEqual([j1.snapshot!.name]);
  const c2 = new Catalog(path.join(lab.rt.dataDir, 'catalog.sqlite'));
  try {
    const rows = c2.backups().filter((b) => b.id === j2.backupId || b.id === j3.backupId);
    expect(rows.map((b) => [b.mode, b.status, b.base_backup_id, b.snapshot_name])).toEqual([
      ['incremental', 'complete', j1.backupId, j2.snapshot!.name],
      ['differential', 'complete', j1.backupId, j3.snapshot!.name],
    ]);
  } finally {
    c2.close();
  }
}, 120_000);

it('deleting the snapshot a backup is reading ends the copy COPY ABORTED 0A/0D/01 with 05/25/00 forwarded and fails the job, the catalog says why', async () => {
  const cap = await lab.api.app.inject({ method: 'PATCH', url: '/api/lus/router1/tape0/faults', headers: lab.auth, payload: { throughputBytesPerSec: 4 << 20 } });
  expect(cap.statusCode).toBe(200);
  try {
    const before = new Set(((await lab.api.app.inject({ method: 'GET', url: '/api/snapshots' })).json() as Array<{ id: string }>).map((s) => s.id));
    const r = await lab.api.app.inject({ method: 'POST', url: '/api/jobs/backup', headers: lab.auth, payload: { source: 'fat', tape: 'tape0', mode: 'full', checksums: false, snapshot: true, keepSnapshot: true } });
    const id = (r.json() as { job: number }).job;
    // Wait for the copy to be moving data, then delete the snapshot under it.
    let snapId: string | undefined;
    for (let i = 0; i < 400 && !snapId; i++) {
      const copies = (await lab.api.app.inject({ method: 'GET', url: '/api/copies' })).json() as Array<{ state: string; bytesWritten: number }>;
      if (copies.some((c) => c.state === 'running' && c.bytesWritten > 1 << 20)) {
        snapId = ((await lab.api.app.inject({ method: 'GET', url: '/api/snapshots' })).json() as Array<{ id: string }>).find((s) => !before.has(s.id))?.id;
      }
      if (!snapId) await new Promise((res) => setTimeout(res, 20));
    }
    expect(snapId).toBeDefined();
    const del = await lab.api.app.inject({ method: 'DELETE', url: `/api/snapshots/${snapId}`, headers: lab.auth });
    expect(del.statusCode).toBe(200);
    const j = await finished(id);
    expect(j.state).toBe('failed');
    // The copy manager reaches the array, whose LU is gone: THIRD PARTY DEVICE FAILURE with the
    // array's LOGICAL UNIT NOT SUPPORTED forwarded (SPC-4 copy target error reporting).
    expect(j.error).toMatch(/status 2h sense 0A\/0D\/01 \(COPY ABORTED: THIRD PARTY DEVICE FAILURE\).*source sense 05\/25\/00/);
    const catalog = new Catalog(path.join(lab.rt.dataDir, 'catalog.sqlite'));
    try {
      const row = catalog.backups().find((b) => b.id === j.backupId)!;
      expect(row.status).toBe('failed');
      expect(row.error).toBe(j.error);
    } finally {
      catalog.close();
    }
  } finally {
    await lab.api.app.inject({ method: 'DELETE', url: '/api/lus/router1/tape0/faults', headers: lab.auth });
  }
}, 120_000);
