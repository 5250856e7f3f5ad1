/**
 * Backup of a disk in use (snapshot.md §5.1): the router runs as its own process; an application
 * host writes a counter to the first and then the last block of array1/fat over iSCSI in a loop
 * while `dmsim backup --snapshot --mode full` (another process) snapshots the disk through the
 * management API and copies it server-free through EXTENDED COPY from the snapshot LU (named by
 * its NAA). The restore (a third process) gives exactly the disk's state at the snapshot instant:
 * a consistent counter pair and every other byte as on the origin. Every application write succeeded.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { discover } from '../../src/backup-server/discovery.js';
import { ScsiClient } from '../../src/backup-server/scsi-client.js';
import { IscsiTransport } from '../../src/backup-server/transport-iscsi.js';
import { runCli, startRouter, type RouterProcess } from '../cli/cli-process.js';

const TOKEN = 'snapshot-backup-token-0123';
const APP = 'iqn.2026-11.dev.dmsim.hosts:app1';
const BACKUP = 'iqn.2026-11.dev.dmsim.hosts:backup1';
const DM_PORT = '500d5a0000020002';
let dir: string;
let router: RouterProcess | undefined;
let iscsi: string;
let api: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dmsim-snapbk-'));
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

const counterBlock = (n: number) => {
  const b = Buffer.alloc(512);
  for (let p = 0; p < 512; p += 4) b.writeUInt32LE(n, p);
  return b;
};

it('dmsim backup --snapshot of a disk being written restores to the point-in-time image, byte-exact', async () => {
  const app = await session(APP);
  const fat = app.d.lus.find((l) => l.kind === 'disk' && l.lun === 0)!;
  const last = fat.blocks! - 1;
  // The application: first block, then last block, the same counter, until told to stop.
  let n = 0;
  let stop = false;
  let failure: unknown;
  const writer = (async () => {
    try {
      while (!stop) {
        n++;
        await app.client.write(fat.target, fat.lun, 0, counterBlock(n), 512);
        await app.client.write(fat.target, fat.lun, last, counterBlock(n), 512);
      }
    } catch (e) {
      failure = e;
    }
  })();
  while (n < 20) await new Promise((r) => setTimeout(r, 5));
  const catalog = path.join(dir, 'catalog.sqlite');
  const common = ['--router', `iscsi://${iscsi}`, '--catalog', catalog, '--data-mover-port', DM_PORT, '--quiet'];
  const b = await runCli(['backup', ...common, '--api', `http://${api}`, '--source', 'array1/0', '--tape', 'router1/1', '--mode', 'full', '--snapshot', '--keep-snapshot', '--barcode', 'DM0001L3']);
  const atEnd = n;
  stop = true;
  await writer;
  expect(failure).toBeUndefined();
  expect(b.code, b.stdout + b.stderr).toBe(0);
  expect(b.stdout).toMatch(/from snapshot array1\/fat@\S+ \(set [0-9a-f-]+\) at \d{4}-/);
  expect(atEnd).toBeGreaterThan(25); // the application kept writing during the backup
  const id = /backup (\d+) complete/.exec(b.stdout)![1]!;
  const r = await runCli(['restore', ...common, '--backup', id, '--target', 'array1/2', '--tape', 'router1/1']);
  expect(r.code, r.stdout + r.stderr).toBe(0);

  const bs = await session(BACKUP);
  try {
    const scratch = bs.d.lus.find((l) => l.kind === 'disk' && l.lun === 2)!;
    const origin = bs.d.lus.find((l) => l.kind === 'disk' && l.lun === 0)!;
    const snap = bs.d.lus.find((l) => l.kind === 'disk' && l.lun === 255)!;
    expect(snap.naa).not.toBe(origin.naa);
    const restored = await bs.client.read(scratch.target, scratch.lun, 0, scratch.blocks!, 512);
    const first = restored.readUInt32LE(0);
    const lastVal = restored.readUInt32LE(last * 512);
    // One state the application produced: the last block never newer than the first, at most one behind.
    expect(lastVal === first || lastVal === first - 1, `first ${first}, last ${lastVal}`).toBe(true);
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(atEnd);
    expect(restored.subarray(0, 512)).toEqual(counterBlock(first));
    expect(restored.subarray(last * 512)).toEqual(counterBlock(lastVal));
    // Everything else as on the origin (which nobody else wrote), and the same as the snapshot LU.
    const now = await bs.client.read(origin.target, origin.lun, 0, origin.blocks!, 512);
    expect(restored.subarray(512, last * 512).equals(now.subarray(512, last * 512))).toBe(true);
    const snapImage = await bs.client.read(snap.target, snap.lun, 0, snap.blocks!, 512);
    expect(snapImage.equals(restored)).toBe(true);
    // The application's host does not see the snapshot LU.
    expect(app.d.lus.some((l) => l.lun === 255)).toBe(false);
    // The snapshot kept by --keep-snapshot is listed with its fill, and can be deleted.
    const list = (await (await fetch(`http://${api}/api/snapshots`)).json()) as Array<{ id: string; naa: string; exceptions: number; state: string }>;
    expect(list).toEqual([expect.objectContaining({ naa: snap.naa, state: 'valid' })]);
    expect(list[0]!.exceptions).toBe(2);
    const del = await fetch(`http://${api}/api/snapshots/${list[0]!.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(del.status).toBe(200);
  } finally {
    await bs.client.transport.close();
    await app.client.transport.close();
  }
}, 180_000);
