/**
 * Snapshots driven from the command line (snapshot.md §5, §6), each piece its own process: the
 * router (`dmsim router`), the CLI (`dmsim snapshot`, `dmsim backup --snapshot`, `dmsim restore`)
 * and an application host writing over iSCSI.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { discover } from '../../src/backup-server/discovery.js';
import { ScsiClient } from '../../src/backup-server/scsi-client.js';
import { IscsiTransport } from '../../src/backup-server/transport-iscsi.js';
import { collect, runCli, spawnCli, spawnCliWatched, waitForLog } from '../cli/cli-process.js';
import type { ChildProcess } from 'node:child_process';

const TOKEN = 'snapshot-modes-token-0123';
const BACKUP = 'iqn.2026-11.dev.dmsim.hosts:backup1';
let dir: string;
let router: ChildProcess;
let iscsi: string;
let api: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dmsim-snapmodes-'));
  process.env.DMSIM_API_TOKEN = TOKEN;
  router = spawnCliWatched(['router', '--iscsi', '127.0.0.1:0', '--api', '127.0.0.1:0', '--data', path.join(dir, 'data'), '--log-level', 'info']);
  const ready = await waitForLog(router, 'router ready', 60_000);
  iscsi = String(ready.iscsi);
  api = String(ready.api);
}, 90_000);
afterAll(async () => {
  if (router && router.exitCode === null) {
    const done = collect(router);
    router.kill('SIGTERM');
    await done;
  }
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
