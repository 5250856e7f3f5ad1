/**
 * The backup-server CLI as its own process against `dmsim router` (another process) over iSCSI,
 * the way deployments run it (issue 13 items 7, 8, 11, 12, 13): lab names, the router's catalog,
 * --json documents, errors as sentences, progress lines. A small lab keeps it fast.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, root, runCli, spawnCliWatched, waitForLog } from './cli-process.js';

type Lab = {
  arrays: Array<{ lus: Array<Record<string, unknown>> }>;
  routers: Array<{ vault: Array<Record<string, unknown>> }>;
  masking: Array<{ initiator: string; lus: string[] }>;
  api: { token?: string };
};

/** No JavaScript stack frames in what a user sees. */
const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe('dmsim CLI against a router process over iSCSI', () => {
  let dir: string;
  let router: ReturnType<typeof spawnCliWatched>;
  let routerUrl: string;
  let api: string;
  let work: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dmsim-iscsi-cli-'));
    work = await mkdtemp(path.join(tmpdir(), 'dmsim-iscsi-cli-cwd-'));
    const lab = JSON.parse(await readFile(path.join(root, 'fixtures/labs/default.json'), 'utf8')) as Lab;
    for (const lu of lab.arrays[0]!.lus) {
      lu.size = lu.name === 'blank' ? '768KiB' : '4MiB';
      delete lu.content;
    }
    lab.arrays[0]!.lus.push({ name: 'tiny', lun: 7, size: '256KiB', blockSize: 512, copyProfile: 'disk' });
    for (const m of lab.masking) if (m.initiator === 'backup1/p0') m.lus.push('array1/tiny');
    // tape1 holds a cartridge too small for a 4 MiB image.
    const small = lab.routers[0]!.vault.find((c) => c.loadedIn === 'tape1')!;
    small.capacity = '1MiB';
    // Full backups start change tracking through the router's API: a known token, inherited by the CLI children.
    lab.api.token = 'iscsi-cli-test-token-0123';
    process.env.DMSIM_API_TOKEN = lab.api.token;
    const file = path.join(dir, 'lab.json');
    await writeFile(file, JSON.stringify(lab));
    router = spawnCliWatched(['router', '--lab', file, '--iscsi', '127.0.0.1:0', '--api', '127.0.0.1:0', '--data', path.join(dir, 'data')]);
    const ready = await waitForLog(router, 'router ready', 60_000);
    routerUrl = `iscsi://${String(ready.iscsi)}`;
    api = `http://${String(ready.api)}`;
  }, 90_000);

  afterAll(async () => {
    const done = collect(router);
    router.kill('SIGTERM');
    await done;
    await rm(dir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  it('lab names work over iSCSI, the backup lands in the router’s catalog, --json is one document, progress is in KiB and ends at 100%', async () => {
    const b = await runCli(['backup', '--router', routerUrl, '--api', api, '--source', 'array1/blank', '--tape', 'router1/tape0', '--mode', 'full', '--reservation', 'none', '--barcode', 'DM0001L3', '--json'], { cwd: work });
    expect(b.code, b.stderr).toBe(0);
    const doc = JSON.parse(b.stdout) as { ok: boolean; backupId: number; source: string; tape: string; streamBytes: number };
    expect(doc).toMatchObject({ ok: true, source: 'array1/blank', tape: 'router1/tape0' });
    // Progress: sizes in KiB for a 768 KiB disk, no ETA from the first sample, a 100% line.
    const lines = b.stderr.split('\n').filter((l) => l.startsWith('full: ') && l.includes('%'));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines[0]).toMatch(/KiB .*ETA (--|0s)$/);
    expect(lines.at(-1)).toMatch(/ (7\d\d\.\d)\/\1 KiB 100% /);

    // The dashboard's catalog (the router's API) shows it; nothing was written in the CLI's cwd.
    const list = (await (await fetch(`${api}/api/backups`)).json()) as Array<{ id: number; status: string }>;
    expect(list.map((x) => [x.id, x.status])).toEqual([[doc.backupId, 'complete']]);
    const cat = await runCli(['catalog', 'list', '--api', api, '--json'], { cwd: work });
    expect(cat.code, cat.stderr).toBe(0);
    expect((JSON.parse(cat.stdout) as Array<{ id: number }>).map((x) => x.id)).toEqual([doc.backupId]);

    const v = await runCli(['verify', '--router', routerUrl, '--api', api, '--backup', String(doc.backupId), '--tape', 'router1/tape0', '--json'], { cwd: work });
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ backupId: doc.backupId, ok: true });

    const r = await runCli(['restore', '--router', routerUrl, '--api', api, '--backup', String(doc.backupId), '--target', 'array1/scratch', '--tape', 'router1/tape0', '--reservation', 'none', '--json'], { cwd: work });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, backupId: doc.backupId, target: 'array1/scratch' });
    const rl = r.stderr.split('\n').filter((l) => l.startsWith('restore: ') && l.includes('%'));
    expect(rl.at(-1)).toMatch(/ 100% /);

    // A target smaller than the source: both sizes named.
    const t = await runCli(['restore', '--router', routerUrl, '--api', api, '--backup', String(doc.backupId), '--target', 'array1/tiny', '--tape', 'router1/tape0', '--reservation', 'none'], { cwd: work });
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/target LU is smaller than the source: it has 512 blocks of 512 bytes \(256\.0 KiB\), backup \d+ needs 1536 blocks of 512 bytes \(768\.0 KiB\)/);
    noStack(t.stderr);
  }, 240_000);

  it('a bad LU name exits 2 listing the names that work; the stack only with --log-level debug', async () => {
    const args = ['backup', '--router', routerUrl, '--api', api, '--source', 'array1/nope', '--tape', 'router1/tape0', '--reservation', 'none'];
    const r = await runCli(args, { cwd: work });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no disk named "array1\/nope"; the disks .* offers are: .*array1\/fat.*array1\/blank.*array1\/scratch/);
    noStack(r.stderr);
    const d = await runCli([...args, '--log-level', 'debug'], { cwd: work });
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/\n\s+at .+:\d+:\d+/);
  }, 120_000);

  it('a full cartridge is reported as a full tape, with the sense named next to the hex', async () => {
    const r = await runCli(['backup', '--router', routerUrl, '--api', api, '--source', 'array1/fat', '--tape', 'router1/tape1', '--mode', 'full', '--reservation', 'none', '--barcode', 'DM0002L3', '--no-checksums', '--quiet'], { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/the tape is full/);
    expect(r.stdout).toMatch(/sense 0A\/0D\/0[0-9A-F] \(COPY ABORTED: [A-Z ]+\)/);
    noStack(r.stdout + r.stderr);
  }, 120_000);

  it('errors are sentences: catalog of a missing file, an unreachable router, a port in use', async () => {
    const c = await runCli(['catalog', 'list', '--catalog', path.join(work, 'typo.sqlite')], { cwd: work });
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/no catalog at .*typo\.sqlite/);

    const u = await runCli(['verify', '--router', 'iscsi://127.0.0.1:1', '--catalog', path.join(dir, 'data', 'catalog.sqlite'), '--backup', '1', '--tape', 'router1/tape0'], { cwd: work });
    expect(u.code).toBe(1);
    expect(u.stderr).toMatch(/router not reachable at 127\.0\.0\.1:1 \(connection refused\)/);
    noStack(u.stderr);

    const port = routerUrl.split(':').at(-1)!;
    const p = await runCli(['router', '--iscsi', `127.0.0.1:${port}`, '--api', 'off', '--data', path.join(work, 'd2')], { cwd: work });
    expect(p.code).toBe(1);
    expect(p.stderr).toMatch(new RegExp(`address 127\\.0\\.0\\.1:${port} is already in use .*port 0`));
  }, 120_000);
});
