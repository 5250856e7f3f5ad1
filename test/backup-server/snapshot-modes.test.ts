/**
 * Snapshots driven from the command line (snapshot.md §5, §6), each piece its own process: the
 * router (`dmsim router`), the CLI (`dmsim snapshot`, `dmsim backup --snapshot`, `dmsim restore`)
 * and an application host writing over iSCSI.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TransportBlockReader } from '../../src/backup-server/block-reader.js';
import { discover } from '../../src/backup-server/discovery.js';
import { FatVolume } from '../../src/fs/fat/volume.js';
import { ScsiClient } from '../../src/backup-server/scsi-client.js';
import { IscsiTransport } from '../../src/backup-server/transport-iscsi.js';
import { collect, runCli, spawnCli, startRouter, type RouterProcess } from '../cli/cli-process.js';

const TOKEN = 'snapshot-modes-token-0123';
const BACKUP = 'iqn.2026-11.dev.dmsim.hosts:backup1';
let dir: string;
let router: RouterProcess | undefined;
let iscsi: string;
let api: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dmsim-snapmodes-'));
  process.env.DMSIM_API_TOKEN = TOKEN;
  router = await startRouter(['--data', path.join(dir, 'data'), '--log-level', 'info']);
  ({ iscsi, api } = router);
}, 90_000);
afterAll(async () => {
  await router?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function session(initiatorName: string) {
  const [host, port] = iscsi.split(':');
  const client = new ScsiClient(new IscsiTransport({ host: host!, port: Number(port), initiatorName }));
  const d = await discover(client);
  return { client, d };
}

it('dmsim snapshot create | list | delete manage snapshot LUs over the management API', async () => {
  const apiUrl = `http://${api}`;
  const c = await runCli(['snapshot', 'create', '--api', apiUrl, 'array1/fat', '--name', 'bycli', '--map-to', BACKUP, '--json']);
  expect(c.code, c.stdout + c.stderr).toBe(0);
  const set = JSON.parse(c.stdout) as { setId: string; snapshots: Array<{ id: string; name: string; lun: number; naa: string; state: string }> };
  expect(set.snapshots).toEqual([expect.objectContaining({ name: 'array1/fat@bycli', lun: 255, state: 'valid' })]);
  // The LU it made is there over iSCSI for the initiator it was mapped to, with its own NAA.
  const bs = await session(BACKUP);
  try {
    const lu = bs.d.lus.find((l) => l.lun === 255);
    expect(lu?.naa).toBe(set.snapshots[0]!.naa);
  } finally {
    await bs.client.transport.close();
  }
  const l = await runCli(['snapshot', 'list', '--api', apiUrl]);
  expect(l.code, l.stderr).toBe(0);
  expect(l.stdout).toMatch(new RegExp(`^${set.snapshots[0]!.id}  array1/fat@bycli  LUN 255  naa\\.${set.snapshots[0]!.naa}  \\S+  valid  store \\d+ bytes \\([\\d.]+%\\), 0 chunks$`, 'm'));
  // Refusals are the API's, with its message; a second set of the same name is a conflict.
  const again = await runCli(['snapshot', 'create', '--api', apiUrl, 'array1/fat', '--name', 'bycli']);
  expect(again.code).not.toBe(0);
  expect(again.stderr).toMatch(/409: a snapshot "array1\/fat@bycli" exists/);
  const bad = await runCli(['snapshot', 'create', '--api', apiUrl, 'array1/fat', '--chunk-size', '1000']);
  expect(bad.stderr).toMatch(/422: chunkSize 1000/);
  const noToken = await collect(spawnCli(['snapshot', 'delete', '--api', apiUrl, 'array1/fat@bycli'], { env: { ...process.env, DMSIM_API_TOKEN: '' } }));
  expect(noToken.code).not.toBe(0);
  expect(noToken.stderr).toMatch(/401/);
  const d = await runCli(['snapshot', 'delete', '--api', apiUrl, 'array1/fat@bycli']);
  expect(d.code, d.stderr).toBe(0);
  expect(d.stdout).toBe('deleted snapshot array1/fat@bycli\n');
  const empty = await runCli(['snapshot', 'list', '--api', apiUrl, '--json']);
  expect(JSON.parse(empty.stdout)).toEqual([]);
  const gone = await runCli(['snapshot', 'delete', '--api', apiUrl, 'array1/fat@bycli']);
  expect(gone.stderr).toMatch(/404/);
  const usage = await runCli(['snapshot', 'frobnicate', '--api', apiUrl]);
  expect(usage.code).toBe(2);
}, 120_000);

const counterBlock = (n: number) => {
  const b = Buffer.alloc(512);
  for (let p = 0; p < 512; p += 4) b.writeUInt32LE(n, p);
  return b;
};

it('backup --snapshot --mode files: a file the application keeps writing restores as it was at the snapshot instant', async () => {
  const app = await session('iqn.2026-11.dev.dmsim.hosts:app1');
  const bs = await session(BACKUP);
  try {
    const disk = app.d.lus.find((l) => l.kind === 'disk' && l.lun === 0)!;
    const vol = await FatVolume.open(new TransportBlockReader(bs.client, disk.target, disk.lun, 512, disk.blocks!));
    const file = (await vol.walk()).find((e) => !e.isDirectory && e.size >= 4096 && e.extents.length > 0)!;
    const firstLba = file.extents[0]!.offset / 512;
    const lx = file.extents[file.extents.length - 1]!;
    const lastLba = Math.floor((lx.offset + lx.length - 1) / 512);
    expect(lastLba).toBeGreaterThan(firstLba);
    let n = 0;
    let stop = false;
    let failure: unknown;
    const writer = (async () => {
      try {
        while (!stop) {
          n++;
          await app.client.write(disk.target, disk.lun, firstLba, counterBlock(n), 512);
          await app.client.write(disk.target, disk.lun, lastLba, counterBlock(n), 512);
        }
      } catch (e) {
        failure = e;
      }
    })();
    while (n < 20) await new Promise((r) => setTimeout(r, 5));
    const catalog = path.join(dir, 'catalog.sqlite');
    const common = ['--router', `iscsi://${iscsi}`, '--catalog', catalog, '--data-mover-port', '500d5a0000020002', '--quiet'];
    const b = await runCli(['backup', ...common, '--api', `http://${api}`, '--source', 'array1/0', '--tape', 'router1/1', '--mode', 'files', '--snapshot', '--keep-snapshot', '--barcode', 'DM0003L3']);
    const atEnd = n;
    stop = true;
    await writer;
    expect(failure).toBeUndefined();
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(atEnd).toBeGreaterThan(25);
    const id = /backup (\d+) complete/.exec(b.stdout)![1]!;
    const out = path.join(dir, 'restored-file');
    const r = await runCli(['restore', ...common, '--backup', id, '--file', file.path, '--target', 'array1/2', '--tape', 'router1/1', '--out', out]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SHA-256 matches the catalog/);
    const got = await readFile(out);
    expect(got.length).toBe(file.size);
    const head = got.readUInt32LE(0);
    expect(head).toBeGreaterThan(0);
    expect(head).toBeLessThan(atEnd);
    // The file as the kept snapshot LU holds it (one instant), not as the disk has it now.
    const snapLu = (await discover(bs.client)).lus.find((l) => l.kind === 'disk' && l.lun === 255)!;
    const snapVol = await FatVolume.open(new TransportBlockReader(bs.client, snapLu.target, snapLu.lun, 512, snapLu.blocks!));
    const atInstant = await snapVol.readFile((await snapVol.walk()).find((e) => e.path === file.path)!);
    expect(got.equals(atInstant)).toBe(true);
    expect(got.subarray(0, 512)).toEqual(counterBlock(head));
    if (file.extents.length === 1) {
      // One contiguous run: the last block written is at the same distance in the file; one state of the application.
      const tail = got.readUInt32LE((lastLba - firstLba) * 512);
      expect(tail === head || tail === head - 1, `head ${head}, tail ${tail}`).toBe(true);
    }
    const d = await runCli(['snapshot', 'delete', '--api', `http://${api}`, '--set', (await (await fetch(`http://${api}/api/snapshots`)).json() as Array<{ setId: string }>)[0]!.setId]);
    expect(d.code, d.stderr).toBe(0);
  } finally {
    await app.client.transport.close();
    await bs.client.transport.close();
  }
}, 240_000);

it('backup --snapshot incremental: restores to the snapshot instant while the application writes; the writes after the instant are in the next incremental', async () => {
  const app = await session('iqn.2026-11.dev.dmsim.hosts:app1');
  const bs = await session(BACKUP);
  try {
    const disk = app.d.lus.find((l) => l.kind === 'disk' && l.lun === 0)!;
    const last = disk.blocks! - 1;
    const catalog = path.join(dir, 'catalog.sqlite');
    const common = ['--router', `iscsi://${iscsi}`, '--catalog', catalog, '--data-mover-port', '500d5a0000020002', '--quiet'];
    const backup = (mode: string, keep = false) =>
      runCli(['backup', ...common, '--api', `http://${api}`, '--source', 'array1/0', '--tape', 'router1/1', '--mode', mode, '--snapshot', ...(keep ? ['--keep-snapshot'] : []), '--barcode', 'DM0003L3']);
    await app.client.write(disk.target, disk.lun, 100, counterBlock(7), 512);
    const full = await backup('full');
    expect(full.code, full.stdout + full.stderr).toBe(0);
    // The application writes first block then last block, the same counter, during the incremental.
    let n = 0;
    let stop = false;
    let failure: unknown;
    const writer = (async () => {
      try {
        while (!stop) {
          n++;
          await app.client.write(disk.target, disk.lun, 0, counterBlock(n), 512);
          await app.client.write(disk.target, disk.lun, last, counterBlock(n), 512);
          // And a block of its own per round: a write between the instant and the end of the
          // backup that the next incremental missed would stay missing on its restore.
          await app.client.write(disk.target, disk.lun, 1000 + n, counterBlock(n), 512);
        }
      } catch (e) {
        failure = e;
      }
    })();
    while (n < 20) await new Promise((r) => setTimeout(r, 5));
    const inc = await backup('incremental', true);
    const atEnd = n;
    stop = true;
    await writer;
    expect(failure).toBeUndefined();
    expect(inc.code, inc.stdout + inc.stderr).toBe(0);
    expect(atEnd).toBeGreaterThan(25);
    const incId = Number(/backup (\d+) complete/.exec(inc.stdout)![1]);
    // The incremental copied the changed blocks only (the two counter blocks' chunks), not the disk.
    const { Catalog } = await import('../../src/backup-server/catalog.js');
    const cat = new Catalog(catalog);
    const row = cat.backups().find((b) => b.id === incId)!;
    cat.close();
    expect(row.mode).toBe('incremental');
    expect(row.snapshot_name).toMatch(/^array1\/fat@/);
    expect(row.snapshot_set).toMatch(/^[0-9a-f-]{36}$/);
    expect(row.snapshot_instant).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(row.source_naa).toBe(disk.naa); // the chain is the origin's, not the snapshot's
    expect(row.stream_bytes).toBeLessThan(1 << 20);
    const r = await runCli(['restore', ...common, '--backup', String(incId), '--target', 'array1/2', '--tape', 'router1/1']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const scratch = bs.d.lus.find((l) => l.kind === 'disk' && l.lun === 2)!;
    const snap = (await discover(bs.client)).lus.find((l) => l.kind === 'disk' && l.naa === row.snapshot_naa)!;
    const restored = await bs.client.read(scratch.target, scratch.lun, 0, scratch.blocks!, 512);
    const first = restored.readUInt32LE(0);
    const lastVal = restored.readUInt32LE(last * 512);
    expect(lastVal === first || lastVal === first - 1, `first ${first}, last ${lastVal}`).toBe(true);
    expect(first).toBeLessThan(atEnd);
    expect(restored.subarray(100 * 512, 101 * 512)).toEqual(counterBlock(7));
    expect(restored.equals(await bs.client.read(snap.target, snap.lun, 0, snap.blocks!, 512))).toBe(true);
    // The writes after the instant (during the backup) are the next incremental's: its restore is the disk now.
    const inc2 = await backup('incremental');
    expect(inc2.code, inc2.stdout + inc2.stderr).toBe(0);
    const id2 = /backup (\d+) complete/.exec(inc2.stdout)![1]!;
    const r2 = await runCli(['restore', ...common, '--backup', id2, '--target', 'array1/2', '--tape', 'router1/1']);
    expect(r2.code, r2.stdout + r2.stderr).toBe(0);
    const now = await bs.client.read(disk.target, disk.lun, 0, disk.blocks!, 512);
    expect(now.readUInt32LE(0)).toBe(atEnd);
    const again = await bs.client.read(scratch.target, scratch.lun, 0, scratch.blocks!, 512);
    expect(again.equals(now)).toBe(true);
  } finally {
    await app.client.transport.close();
    await bs.client.transport.close();
  }
}, 240_000);
