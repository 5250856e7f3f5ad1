/**
 * Data safety the way users run it (issue 13): `dmsim router` as its own process, every backup
 * server command another process over iSCSI. The cartridge is labelled with its real barcode
 * (learned from the router's management API), the drive is reserved for the data mover's own port
 * (learned the same way) or the job refuses, an incremental with no changes leaves no empty tape
 * file, restore and verify find the cartridge themselves, a restore reads back what it wrote and
 * fails on damaged tape data, and an incremental after a full without change tracking says why it
 * copies every block. Bytes on the cartridge are checked with Debian's mtdump and dmsim's reader.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { open, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inspectTape, tapeFileRecords } from '../../firmware-sim/devices/tape/inspect.js';
import { decodeBackupRecord } from '../../src/backup-server/backup-record.js';
import { Catalog } from '../../src/backup-server/catalog.js';
import { discover } from '../../src/backup-server/discovery.js';
import { ScsiClient } from '../../src/backup-server/scsi-client.js';
import { decodeLabel } from '../../src/backup-server/tape-handling.js';
import { IscsiTransport } from '../../src/backup-server/transport-iscsi.js';
import { requireTools } from '../helpers/require-tool.js';
import { collect, runCli, spawnCliWatched, waitForLog } from '../cli/cli-process.js';

const TOKEN = 'safety-test-token-0123456';
const haveMtdump = requireTools('tape files as mtdump sees them', 'mtdump');
let dir: string;
let router: ChildProcess;
let iscsi: string;
let api: string;
let catalogFile: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dmsim-safety-'));
  catalogFile = path.join(dir, 'catalog.sqlite');
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

const tap = (barcode: string) => path.join(dir, 'data', 'tapes', `${barcode}.tap`);
/** With the API: the router's answers for barcode, data mover port and change maps. */
const withApi = () => ['--router', `iscsi://${iscsi}`, '--api', `http://${api}`, '--catalog', catalogFile, '--quiet'];
/** Without the API: nothing but SCSI. */
const scsiOnly = () => ['--router', `iscsi://${iscsi}`, '--catalog', catalogFile, '--quiet'];

const idOf = (stdout: string) => Number(/backup (\d+) complete/.exec(stdout)?.[1]);

function catalogRead<T>(f: (c: Catalog) => T): T {
  const c = new Catalog(catalogFile);
  try {
    return f(c);
  } finally {
    c.close();
  }
}

/** What each tape file of the image starts with, by dmsim's reader. */
async function tapeFiles(file: string): Promise<Array<{ records: number; closed: boolean; first: string }>> {
  const rep = await inspectTape(file);
  expect(rep.problem).toBeUndefined();
  const out = [];
  for (const f of rep.files) {
    let first = '';
    for await (const r of tapeFileRecords(file, f.file)) {
      const label = decodeLabel(r);
      const rec = decodeBackupRecord(r);
      first = label !== undefined ? `label ${label}` : rec ? `${rec.kind} ${rec.backupId}` : 'data';
      break;
    }
    out.push({ records: f.records, closed: f.closed, first });
  }
  return out;
}

/** Tape files mtdump lists before it meets what it takes for end of data (two tape marks in a row). */
function mtdumpFiles(file: string): number {
  const out = spawnSync('mtdump', [file], { encoding: 'utf8' });
  expect(out.status).toBe(0);
  return [...out.stdout.matchAll(/end of tape file/g)].length;
}

async function sourceClient() {
  const [host, port] = iscsi.split(':');
  const client = new ScsiClient(new IscsiTransport({ host: host!, port: Number(port), initiatorName: 'iqn.2026-11.dev.dmsim.hosts:backup1' }));
  const d = await discover(client);
  return { client, lu: (lun: number) => d.lus.find((l) => l.kind === 'disk' && l.lun === lun)! };
}

it('an unreserved job is refused: no data mover port known (no --api, no --data-mover-port) and spc2 reservation', async () => {
  const r = await runCli(['backup', ...scsiOnly(), '--source', 'array1/0', '--tape', 'router1/1', '--mode', 'full', '--barcode', 'DM0001L3']);
  expect(r.code, r.stdout + r.stderr).toBe(1);
  expect(r.stderr).toMatch(/cannot reserve the tape drive for the data mover: the data mover's initiator port is unknown \(.*--api.*\); give --data-mover-port WWPN .* or --reservation none/);
  // Nothing was written: the cartridge is still blank, the catalog has no backup.
  const rep = await inspectTape(tap('DM0001L3'));
  expect(rep.records + rep.filemarks).toBe(0);
  // Without the API and without a barcode, a blank cartridge is not labelled with an invented name.
  const n = await runCli(['backup', ...scsiOnly(), '--reservation', 'none', '--source', 'array1/0', '--tape', 'router1/1', '--mode', 'files']);
  expect(n.code, n.stdout + n.stderr).toBe(1);
  expect(n.stderr).toMatch(/the cartridge is blank and its barcode is unknown \(no media changer reports it and no management API \(--api\) was given to ask\): give --barcode CODE/);
  expect((await inspectTape(tap('DM0001L3'))).records).toBe(0);
}, 60_000);

it('full, empty incremental, incremental: real barcode on tape, drive reserved for the data mover, no empty tape file, chain restores and verifies without --tape', async () => {
  const full = await runCli(['backup', ...withApi(), '--source', 'array1/0', '--tape', 'router1/1', '--mode', 'full']);
  expect(full.code, full.stdout + full.stderr).toBe(0);
  expect(full.stdout).toMatch(/backup \d+ complete: full, 67108864 bytes on DM0001L3,/);
  const fullId = idOf(full.stdout);
  const empty = await runCli(['backup', ...withApi(), '--source', 'array1/0', '--tape', 'router1/1', '--mode', 'incremental']);
  expect(empty.code, empty.stdout + empty.stderr).toBe(0);
  expect(empty.stdout).toMatch(/incremental, 0 bytes on DM0001L3/);
  const emptyId = idOf(empty.stdout);
  const src = await sourceClient();
  try {
    const fat = src.lu(0);
    await src.client.write(fat.target, fat.lun, 7000, Buffer.alloc(16 * 512, 0x3c), 512);
  } finally {
    await src.client.transport.close();
  }
  const inc = await runCli(['backup', ...withApi(), '--source', 'array1/0', '--tape', 'router1/1', '--mode', 'incremental']);
  expect(inc.code, inc.stdout + inc.stderr).toBe(0);
  expect(inc.stdout).toMatch(/incremental, 8192 bytes on DM0001L3/);
  const incId = idOf(inc.stdout);

  // The cartridge: its barcode in the label, the empty incremental as header + trailer only.
  const files = await tapeFiles(tap('DM0001L3'));
  expect(files.map((f) => f.first)).toEqual([
    'label DM0001L3',
    `header ${fullId}`, 'data', `trailer ${fullId}`,
    `header ${emptyId}`, `trailer ${emptyId}`,
    `header ${incId}`, 'data', `trailer ${incId}`,
  ]);
  expect(files.every((f) => f.closed && f.records > 0)).toBe(true);
  if (haveMtdump) expect(mtdumpFiles(tap('DM0001L3'))).toBe(files.length);

  // The catalog names the real cartridge, records the empty one, and saw the reservation.
  const rows = catalogRead((c) => [fullId, emptyId, incId].map((id) => ({ ...c.backup(id)!, events: c.events(id).map((e) => e.message) })));
  expect(rows.map((b) => [b.status, b.barcode, b.stream_bytes])).toEqual([['complete', 'DM0001L3', 67108864], ['complete', 'DM0001L3', 0], ['complete', 'DM0001L3', 8192]]);
  for (const b of rows) expect(b.events).toContain('drive reserved (third-party RESERVE(10)) for data mover port 500d5a0000020002');

  // Restore the chain without --tape: the catalog names the cartridge, the router's API the drive.
  const r = await runCli(['restore', ...withApi(), '--backup', String(incId), '--target', 'array1/2']);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`restored backup chain ${fullId} → ${emptyId} → ${incId}: .*; read back \\d+ bytes, SHA-256 matches the catalog`));
  const v = await runCli(['verify', ...withApi(), '--backup', String(emptyId)]);
  expect(v.code, v.stdout + v.stderr).toBe(0);
  expect(v.stdout).toMatch(new RegExp(`backup ${emptyId}: OK`));
  const check = await sourceClient();
  try {
    const a = await check.client.read(check.lu(0).target, 0, 0, 131072, 512);
    const b = await check.client.read(check.lu(2).target, 2, 0, 131072, 512);
    expect(a.equals(b)).toBe(true);
  } finally {
    await check.client.transport.close();
  }

  // 64 bytes flipped inside a data record of the full backup: restore reads back, fails loudly.
  const rep = await inspectTape(tap('DM0001L3'));
  const rec = rep.entries.find((e) => e.kind === 'record' && e.file === 2 && e.length === 65536)!;
  const fh = await open(tap('DM0001L3'), 'r+');
  const flip = async () => {
    const b = Buffer.alloc(64);
    await fh.read(b, 0, 64, rec.offset + 4 + 4096);
    for (let i = 0; i < 64; i++) b[i] = b[i]! ^ 0xff;
    await fh.write(b, 0, 64, rec.offset + 4 + 4096);
    await fh.sync();
  };
  try {
    await flip();
    const bad = await runCli(['restore', ...withApi(), '--backup', String(fullId), '--target', 'array1/2']);
    expect(bad.code, bad.stdout + bad.stderr).toBe(1);
    expect(bad.stdout).toMatch(/FAILED backup chain \d+: .*READ BACK DIFFERS from the catalog\nrestored data differs from the catalog: backup \d+'s blocks read back from the target hash to SHA-256 [0-9a-f]{64}, the catalog recorded [0-9a-f]{64}/);
    const skip = await runCli(['restore', ...withApi(), '--backup', String(fullId), '--target', 'array1/2', '--no-verify']);
    expect(skip.code, skip.stdout + skip.stderr).toBe(0);
    expect(skip.stdout).toMatch(/not verified \(--no-verify\)/);
  } finally {
    await flip();
    await fh.close();
  }
}, 180_000);

it('incremental after a full without change tracking copies every block and says why, in the output and the catalog', async () => {
  const full = await runCli(['backup', ...scsiOnly(), '--data-mover-port', '500d5a0000020002', '--source', 'array1/0', '--tape', 'router1/2', '--mode', 'full', '--barcode', 'DM0002L3']);
  expect(full.code, full.stdout + full.stderr).toBe(0);
  expect(full.stdout).toMatch(/warning: no change epoch started \(no change tracking: over iSCSI it needs --api\)/);
  const fullId = idOf(full.stdout);
  const inc = await runCli(['backup', ...withApi(), '--source', 'array1/0', '--tape', 'router1/2', '--mode', 'incremental']);
  expect(inc.code, inc.stdout + inc.stderr).toBe(0);
  expect(inc.stdout).toMatch(new RegExp(`incremental, 67108864 bytes on DM0002L3[^\\n]*\\nwarning: incremental copies every block of the source: backup ${fullId} \\(full\\) was taken without change tracking, so no change epoch began with it`));
  const incId = idOf(inc.stdout);
  const events = catalogRead((c) => c.events(incId).map((e) => e.message));
  expect(events.some((e) => /^warning: incremental copies every block of the source: backup \d+ \(full\) was taken without change tracking/.test(e))).toBe(true);
  // The next incremental has a trusted epoch again: only what changed since.
  const next = await runCli(['backup', ...withApi(), '--source', 'array1/0', '--tape', 'router1/2', '--mode', 'incremental']);
  expect(next.code, next.stdout + next.stderr).toBe(0);
  expect(next.stdout).toMatch(/incremental, 0 bytes on DM0002L3/);
  expect(next.stdout).not.toMatch(/warning/);
}, 180_000);
