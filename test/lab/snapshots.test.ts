/**
 * Snapshot LUs in the running lab (snapshot.md §4, §6), through the router's dispatch and the
 * management API: a set taken over the API gives a read-only LU of the array at LUN 255 with its own
 * NAA, seen only by the initiators it was mapped to; writes by the application to the origin leave
 * it at the instant; writes to it get DATA PROTECT 7/27/00; a full side store makes it NOT READY
 * 04/03 (origin writes go on); deletion takes the LU away; a restart brings snapshots back.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLab, type LabRuntime } from '../../firmware-sim/lab/build.js';
import { loadDefaultLab } from '../../firmware-sim/lab/load.js';
import type { InProcessPort } from '../../firmware-sim/fabric/in-process-port.js';
import { buildApi, type Api } from '../../src/api/server.js';
import { silentLogger } from '../../src/log.js';
import { decodeSense } from '../../src/scsi/sense.js';

const ARRAY = '500d5a0000010001';
const TOKEN = 'test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const cdb10 = (op: number, lba: number, blocks: number) => {
  const b = Buffer.alloc(10);
  b[0] = op;
  b.writeUInt32BE(lba, 2);
  b.writeUInt16BE(blocks, 7);
  return b;
};
const reportLuns = () => Buffer.from([0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
const luns = (d: Buffer) => Array.from({ length: d.readUInt32BE(0) / 8 }, (_, i) => d.readUInt16BE(8 + i * 8) & 0x3fff);

async function cmd(port: InProcessPort, lun: number, cdb: Buffer, dataOut?: Buffer, dataInLength = 1 << 20) {
  for (let i = 0; i < 6; i++) {
    const r = await port.command(ARRAY, lun, cdb, { dataOut, dataInLength });
    if (r.status === 2 && decodeSense(r.sense!).key === 6) continue; // unit attentions of a fresh nexus or a LUN change
    return r;
  }
  throw new Error('unit attentions did not clear');
}
const senseOf = (r: { status: number; sense?: Buffer }) => {
  expect(r.status).toBe(2);
  const s = decodeSense(r.sense!);
  return [s.key, s.asc, s.ascq];
};

describe('snapshot LUs in the lab', () => {
  let dataDir: string;
  let rt: LabRuntime;
  let api: Api;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-snap-'));
    rt = await buildLab(await loadDefaultLab(), { dataDir, log: silentLogger() });
    api = await buildApi(rt, { token: TOKEN });
  });
  afterAll(async () => {
    await api?.close();
    await rt?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  let snap: { id: string; lun: number; naa: string; name: string };
  const before: { data: Buffer } = { data: Buffer.alloc(0) };

  it('POST /api/snapshot-sets takes a snapshot LU at LUN 255 with its own NAA, mapped to the chosen initiators only', async () => {
    const app = rt.port('app1');
    const backup = rt.port('backup1');
    before.data = (await cmd(app, 0, cdb10(0x28, 0, 64))).dataIn!;
    const r = await api.app.inject({ method: 'POST', url: '/api/snapshot-sets', headers: auth, payload: { lus: [{ array: 'array1', lun: 0 }], mapTo: ['backup1/p0'], name: 'first' } });
    expect(r.statusCode, r.body).toBe(201);
    const body = r.json<{ setId: string; instant: string; snapshots: Array<typeof snap & { origin: string; capacityBlocks: number; state: string }> }>();
    expect(body.snapshots).toHaveLength(1);
    snap = body.snapshots[0]!;
    expect(snap).toMatchObject({ lun: 255, name: 'array1/fat@first', origin: 'array1/fat', capacityBlocks: (64 << 20) / 512, state: 'valid' });
    expect(snap.naa).not.toBe(rt.lu('array1/fat')!.lu.identity.naa.toString('hex'));
    expect(snap.naa).toMatch(/^6/);
    // Backup server and data mover see it; the application host does not.
    expect(luns((await cmd(backup, 0, reportLuns())).dataIn!)).toContain(255);
    expect(luns((await cmd(app, 0, reportLuns())).dataIn!)).not.toContain(255);
    expect(senseOf(await cmd(app, 255, cdb10(0x28, 0, 1)))).toEqual([5, 0x25, 0]);
    // VPD 83h carries the snapshot's NAA.
    const vpd = (await cmd(backup, 255, Buffer.from([0x12, 1, 0x83, 0, 255, 0]))).dataIn!;
    expect(vpd.toString('hex')).toContain(snap.naa);
  });

  it('application writes to the origin after the instant do not reach the snapshot; the snapshot is read-only (7/27/00)', async () => {
    const app = rt.port('app1');
    const backup = rt.port('backup1');
    const fresh = randomBytes(64 * 512);
    expect((await cmd(app, 0, cdb10(0x2a, 0, 64), fresh)).status).toBe(0);
    expect((await cmd(app, 0, cdb10(0x28, 0, 64))).dataIn!.equals(fresh)).toBe(true);
    expect((await cmd(backup, 255, cdb10(0x28, 0, 64))).dataIn!.equals(before.data)).toBe(true);
    expect(senseOf(await cmd(backup, 255, cdb10(0x2a, 0, 1), Buffer.alloc(512)))).toEqual([7, 0x27, 0]);
    // MODE SENSE(6): WP bit in the device-specific parameter.
    const ms = (await cmd(backup, 255, Buffer.from([0x1a, 0, 0x3f, 0, 255, 0]))).dataIn!;
    expect(ms[2]! & 0x80).toBe(0x80);
    const st = (await api.app.inject({ method: 'GET', url: `/api/snapshots/${snap.id}` })).json<{ exceptions: number; storeUsedBytes: number }>();
    expect(st.exceptions).toBe(8); // 32 KiB written = 8 chunks of 4 KiB preserved
  });

  it('a full side store invalidates the snapshot: origin writes succeed, the snapshot answers NOT READY 04/03 to reads, writes and TEST UNIT READY, the API says why', async () => {
    const app = rt.port('app1');
    const backup = rt.port('backup1');
    const r = await api.app.inject({ method: 'POST', url: '/api/snapshot-sets', headers: auth, payload: { lus: ['array1/fat'], mapTo: ['backup1'], name: 'tiny', storeSize: 4 * 4096 } });
    expect(r.statusCode, r.body).toBe(201);
    const tiny = r.json<{ snapshots: Array<{ id: string; lun: number }> }>().snapshots[0]!;
    expect(tiny.lun).toBe(254);
    for (let c = 0; c < 3; c++) expect((await cmd(app, 0, cdb10(0x2a, 1000 + c * 8, 8), Buffer.alloc(4096, c + 1))).status).toBe(0);
    expect((await cmd(app, 0, cdb10(0x28, 1016, 8))).dataIn!).toEqual(Buffer.alloc(4096, 3));
    const st = (await api.app.inject({ method: 'GET', url: `/api/snapshots/${tiny.id}` })).json<{ state: string; reason: string }>();
    expect(st).toMatchObject({ state: 'invalid', reason: 'store full' });
    expect(senseOf(await cmd(backup, tiny.lun, cdb10(0x28, 0, 1)))).toEqual([2, 4, 3]);
    expect(senseOf(await cmd(backup, tiny.lun, Buffer.alloc(6)))).toEqual([2, 4, 3]);
    // SBC order: the medium state (NOT READY) is reported before write protection.
    expect(senseOf(await cmd(backup, tiny.lun, cdb10(0x2a, 0, 1), Buffer.alloc(512)))).toEqual([2, 4, 3]);
    // The other snapshot of the same origin is unaffected.
    expect((await cmd(backup, 255, cdb10(0x28, 0, 64))).dataIn!.equals(before.data)).toBe(true);
    expect((await api.app.inject({ method: 'DELETE', url: `/api/snapshots/${tiny.id}`, headers: auth })).statusCode).toBe(200);
  });

  it('refuses bad requests with 4xx and a message', async () => {
    const post = (payload: object, headers: Record<string, string> = auth) => api.app.inject({ method: 'POST', url: '/api/snapshot-sets', headers, payload });
    expect((await post({ lus: ['array1/nope'] })).statusCode).toBe(404);
    expect((await post({ lus: ['array1/fat'], chunkSize: 3000 })).statusCode).toBe(422);
    expect((await post({ lus: ['array1/fat'], storeSize: 4096 })).statusCode).toBe(422);
    expect((await post({ lus: ['array1/fat'], name: 'first' })).statusCode).toBe(409);
    expect((await post({ lus: ['array1/fat'], mapTo: ['nohost'] })).statusCode).toBe(404);
    expect((await post({ lus: ['array1/fat'] }, {})).statusCode).toBe(401);
    // All-or-none: a set with one bad LU leaves no snapshot of the good one behind.
    expect((await post({ lus: ['array1/blank', 'array1/fat'], name: 'first' })).statusCode).toBe(409);
    expect(rt.snapshots.list().map((s) => s.name)).toEqual(['array1/fat@first']);
    expect((await readdir(path.join(dataDir, 'snapshots'))).filter((f) => f.endsWith('.cow'))).toHaveLength(1);
  });

  it('survives a clean restart: same LUN, NAA and point-in-time data', async () => {
    await api.close();
    await rt.close();
    rt = await buildLab(await loadDefaultLab(), { dataDir, log: silentLogger() });
    api = await buildApi(rt, { token: TOKEN });
    const list = (await api.app.inject({ method: 'GET', url: '/api/snapshots' })).json<Array<{ id: string; lun: number; naa: string; state: string }>>();
    expect(list).toEqual([expect.objectContaining({ id: snap.id, lun: 255, naa: snap.naa, state: 'valid' })]);
    expect((await cmd(rt.port('backup1'), 255, cdb10(0x28, 0, 64))).dataIn!.equals(before.data)).toBe(true);
  });

  it('DELETE removes the LU and its side store', async () => {
    expect((await api.app.inject({ method: 'DELETE', url: `/api/snapshots/${snap.id}`, headers: auth })).statusCode).toBe(200);
    const backup = rt.port('backup1');
    expect(luns((await cmd(backup, 0, reportLuns())).dataIn!)).not.toContain(255);
    expect((await api.app.inject({ method: 'GET', url: `/api/snapshots/${snap.id}` })).statusCode).toBe(404);
    expect((await readdir(path.join(dataDir, 'snapshots'))).filter((f) => f.endsWith('.cow'))).toEqual([]);
    // The origin keeps working without copy-on-write.
    expect((await cmd(rt.port('app1'), 0, cdb10(0x2a, 0, 1), Buffer.alloc(512, 7))).status).toBe(0);
  });
  it('an incremental from a snapshot older than the last change take is refused with 409 (its changes were consumed by the later take)', async () => {
    const app = rt.port('backup1'); // array1/scratch (LUN 2) is masked to the backup server
    const s1 = (await rt.snapshots.createSet({ lus: ['array1/scratch'], name: 'gap-a' })).snapshots[0]!;
    // Written after s1's instant: a plain take (a backup of the live disk) consumes it with s1's era.
    expect((await cmd(app, 2, cdb10(0x2a, 8, 1), Buffer.alloc(512, 9))).status).toBe(0);
    expect(await rt.snapshots.takeChanges('array1/scratch')).toContainEqual({ lba: 8, count: expect.any(Number) });
    const r = await api.app.inject({ method: 'POST', url: `/api/snapshots/${s1.id}/changes/take`, headers: auth });
    expect(r.statusCode, r.body).toBe(409);
    expect(r.json<{ message: string }>().message).toMatch(/already taken by a later change take/);
    // A snapshot taken after that take is fine, and so is a second take at it (nothing new).
    expect((await cmd(app, 2, cdb10(0x2a, 16, 1), Buffer.alloc(512, 3))).status).toBe(0);
    const s2 = (await rt.snapshots.createSet({ lus: ['array1/scratch'], name: 'gap-b' })).snapshots[0]!;
    expect((await cmd(app, 2, cdb10(0x2a, 24, 1), Buffer.alloc(512, 4))).status).toBe(0);
    const taken = (await api.app.inject({ method: 'POST', url: `/api/snapshots/${s2.id}/changes/take`, headers: auth })).json<{ extents: Array<{ lba: number; count: number }> }>();
    expect(taken.extents.map((x) => x.lba)).toEqual([16]);
    expect((await rt.snapshots.takeChanges('array1/scratch', s2.id))).toEqual([]);
    // s1 stays refused after s2's take too; the live changes after s2 are still there.
    await expect(rt.snapshots.takeChanges('array1/scratch', s1.id)).rejects.toThrow(/already taken/);
    expect((await rt.snapshots.takeChanges('array1/scratch')).map((x) => x.lba)).toEqual([24]);
    for (const s of [s1, s2]) await rt.snapshots.delete(s.id);
  });
});
