/**
 * The backup server as users run it against a lab split over processes: `dmsim backup` / `dmsim
 * restore` with --router (the process holding the data mover and drives) and the array's targets
 * found at a second --portal or through iSNS (--isns). The source disk lives in the array process,
 * the tape in the router process; the copy goes array → data mover → tape over real iSCSI, and the
 * restore back onto another LU of the array reads back byte-exact.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/iscsi/initiator/index.js';
import { clearUnitAttentions } from '../../src/iscsi/initiator/scsi.js';
import { collect, runCli, spawnCli, spawnCliWatched, waitForLog } from '../cli/cli-process.js';
import { startIsnsd, type Isnsd } from '../helpers/isnsd.js';
import { requireTools } from '../helpers/require-tool.js';
import { freePort } from '../helpers/tgtd.js';

const root = new URL('../../', import.meta.url).pathname;
const BACKUP1 = 'iqn.2026-11.dev.dmsim.hosts:backup1';
const SIZE = 64 * 1024 * 1024;

// Both processes and the CLI share one management API token (the change-map take is a write).
beforeAll(() => {
  process.env.DMSIM_API_TOKEN = 'backup-split-token';
});
afterAll(() => {
  delete process.env.DMSIM_API_TOKEN;
});

const procs: ChildProcess[] = [];
let isnsd: Isnsd | undefined;
afterEach(async () => {
  for (const p of procs.splice(0))
    if (p.exitCode === null && p.signalCode === null) {
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await gone;
    }
  await isnsd?.stop();
  isnsd = undefined;
});

/** The default lab with small disks beside fat and scratch (fast tests), array1 optionally at a fixed portal. */
function labFile(arrayPortal?: string): string {
  const lab = JSON.parse(readFileSync(path.join(root, 'fixtures/labs/default.json'), 'utf8')) as { arrays: Array<{ lus: Array<Record<string, unknown>>; portal?: string }>; $schema?: string };
  delete lab.$schema;
  for (const lu of lab.arrays[0]!.lus) if (!lu.content && lu.name !== 'scratch') lu.size = '4MiB';
  if (arrayPortal) lab.arrays[0]!.portal = arrayPortal;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'backup-split-'));
  writeFileSync(path.join(dir, 'lab.json'), JSON.stringify(lab));
  return path.join(dir, 'lab.json');
}

interface Served {
  proc: ChildProcess;
  port: number;
  api?: string;
}

async function serve(lab: string, node: string, iscsi: string, extra: string[] = [], data = mkdtempSync(path.join(os.tmpdir(), `backup-split-${node}-`))): Promise<Served> {
  const proc = spawnCliWatched(['router', '--lab', lab, '--serve', node, '--iscsi', iscsi, '--data', data, ...extra]);
  procs.push(proc);
  const ready = await waitForLog(proc, 'router ready');
  return { proc, port: Number(String(ready.iscsi).split(':').pop()), ...(ready.api ? { api: `http://${String(ready.api)}` } : {}) };
}

/** Bytes of array1 LUN `lun` as backup1 reads them over iSCSI. */
async function readLu(port: number, lun: number): Promise<Buffer> {
  const s = await connect({ host: '127.0.0.1', port, initiatorName: BACKUP1, targetName: 'iqn.2026-11.dev.dmsim:array1' });
  try {
    await clearUnitAttentions(s, lun);
    const parts: Buffer[] = [];
    const chunk = 256 * 1024;
    for (let off = 0; off < SIZE; off += chunk) {
      const lba = off / 512;
      const n = chunk / 512;
      const cdb = Buffer.from([0x28, 0, lba >>> 24, (lba >>> 16) & 0xff, (lba >>> 8) & 0xff, lba & 0xff, 0, n >> 8, n & 0xff, 0]);
      const r = await s.command({ lun, cdb, dataInLength: chunk });
      expect(r.status).toBe(0);
      parts.push(r.dataIn);
    }
    return Buffer.concat(parts);
  } finally {
    await s.close();
  }
}

/** The router's API: catalog, data mover port, cartridges; the array's: the disk's change maps. */
const cliArgs = (where: string[], router: Served, array: Served) => ['--router', `iscsi://127.0.0.1:${router.port}`, ...where, '--api', router.api!, '--changes-api', array.api!, '--initiator-name', BACKUP1];

async function backupAndRestore(where: string[], router: Served, array: Served): Promise<void> {
  const arrayPort = array.port;
  const common = [...cliArgs(where, router, array), '--quiet'];
  const b = await runCli(['backup', ...common, '--source', 'array1/fat', '--tape', 'router1/tape0', '--mode', 'sparse', '--json']);
  expect(b.code, b.stderr).toBe(0);
  const job = JSON.parse(b.stdout) as { backupId: number; ok: boolean; streamBytes: number; bytesMoved: number; portBytesDuringCopy: number };
  expect(job.ok).toBe(true);
  // Server-free: the data went array process → data mover → tape, not through the backup server's port.
  expect(job.bytesMoved).toBeGreaterThan(1024 * 1024);
  expect(job.portBytesDuringCopy).toBeLessThan(job.bytesMoved / 100);
  const r = await runCli(['restore', ...common, '--backup', String(job.backupId), '--target', 'array1/scratch', '--json']);
  expect(r.code, r.stderr).toBe(0);
  const [src, dst] = await Promise.all([readLu(arrayPort, 0), readLu(arrayPort, 2)]);
  expect(dst.equals(src)).toBe(true);
}

describe('dmsim backup across processes', () => {
  it('--portal: backs up array1 (array process) to router1/tape0 (router process) and restores to array1/scratch byte-exact', async () => {
    const arrayPort = await freePort();
    const lab = labFile(`127.0.0.1:${arrayPort}`);
    const array = await serve(lab, 'array1', `127.0.0.1:${arrayPort}`, ['--api', '127.0.0.1:0']);
    const router = await serve(lab, 'router1', '127.0.0.1:0', ['--api', '127.0.0.1:0']);
    await backupAndRestore(['--portal', `127.0.0.1:${arrayPort}`], router, array);
  }, 120_000);

  it('the array process SIGKILLed mid-backup: COPY ABORTED 0D/02, and --retries resumes once it is back; the restore reads back byte-exact', async () => {
    const arrayPort = await freePort();
    const lab = labFile(`127.0.0.1:${arrayPort}`);
    const arrayData = mkdtempSync(path.join(os.tmpdir(), 'backup-split-array1-'));
    let array = await serve(lab, 'array1', `127.0.0.1:${arrayPort}`, ['--api', '127.0.0.1:0'], arrayData);
    const router = await serve(lab, 'router1', '127.0.0.1:0', ['--api', '127.0.0.1:0']);
    // The source slowed down so the kill lands inside the data file.
    const cap = await fetch(`${array.api}/api/lus/array1/fat/faults`, { method: 'PATCH', headers: { authorization: `Bearer ${process.env.DMSIM_API_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ throughputBytesPerSec: 4 * 1048576 }) });
    expect(cap.status).toBe(200);
    const common = cliArgs(['--portal', `127.0.0.1:${arrayPort}`], router, array);
    const child = spawnCli(['backup', ...common, '--source', 'array1/fat', '--tape', 'router1/tape0', '--mode', 'sparse', '--no-checksums', '--retries', '3', '--retry-wait', '30', '--json']);
    const done = collect(child);
    // Kill when the progress says a MiB has reached the tape.
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no progress from the backup')), 30_000);
      child.stderr!.on('data', (d: Buffer) => {
        const m = /([\d.]+)\/([\d.]+) MiB/.exec(d.toString());
        if (m && Number(m[1]) >= 1 && Number(m[1]) < Number(m[2]) - 1) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    const gone = new Promise((r) => array.proc.once('exit', r));
    array.proc.kill('SIGKILL');
    await gone;
    await new Promise((r) => setTimeout(r, 1000));
    array = await serve(lab, 'array1', `127.0.0.1:${arrayPort}`, ['--api', '127.0.0.1:0'], arrayData);
    const b = await done;
    expect(b.code, b.stderr).toBe(0);
    const job = JSON.parse(b.stdout) as { backupId: number; ok: boolean };
    expect(job.ok).toBe(true);
    // The catalog tells the story: an unreachable copy target, then the resume from the failed segment.
    const cat = await runCli(['catalog', 'show', String(job.backupId), '--api', router.api!, '--json']);
    expect(cat.code, cat.stderr).toBe(0);
    expect(cat.stdout).toMatch(/0D\/02|COPY TARGET DEVICE NOT REACHABLE/i);
    expect(cat.stdout).toMatch(/a copy target was unreachable; source and drive answer again/);
    // The sense named the failed segment (COMMAND-SPECIFIC INFORMATION), which the resume starts from.
    expect(cat.stdout).toMatch(/resuming from the failed segment: segment \d+ of list \d+/);
    const r = await runCli(['restore', ...common, '--quiet', '--no-verify', '--backup', String(job.backupId), '--target', 'array1/scratch']);
    expect(r.code, r.stderr).toBe(0);
    const [src, dst] = await Promise.all([readLu(arrayPort, 0), readLu(arrayPort, 2)]);
    expect(dst.equals(src)).toBe(true);
  }, 180_000);

  it('without --portal or --isns the array LU is not found, and the message lists what the router offers (exit 2)', async () => {
    const arrayPort = await freePort();
    const lab = labFile(`127.0.0.1:${arrayPort}`);
    await serve(lab, 'array1', `127.0.0.1:${arrayPort}`, ['--api', 'off']);
    const router = await serve(lab, 'router1', '127.0.0.1:0', ['--api', '127.0.0.1:0']);
    const b = await runCli(['backup', '--router', `iscsi://127.0.0.1:${router.port}`, '--api', router.api!, '--source', 'array1/fat', '--tape', 'router1/tape0', '--quiet']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/no disk named "array1\/fat"/);
  }, 60_000);
});

const haveIsns = requireTools('backup server finding targets through isnsd', 'isnsd', 'isnsadm');

describe.skipIf(!haveIsns)('dmsim backup --isns', () => {
  it('finds array1 through iSNS (the DD the lab zone "backup" became), backs up and restores byte-exact, and leaves no entity behind', async () => {
    isnsd = await startIsnsd();
    const lab = labFile();
    const isns = ['--isns', `127.0.0.1:${isnsd.port}`];
    const array = await serve(lab, 'array1', '127.0.0.1:0', ['--api', '127.0.0.1:0', ...isns]);
    await waitForLog(array.proc, 'registered with iSNS server');
    const router = await serve(lab, 'router1', '127.0.0.1:0', ['--api', '127.0.0.1:0', ...isns]);
    await waitForLog(router.proc, 'registered with iSNS server');
    await backupAndRestore(isns, router, array);
    const entities = isnsd.list('entities');
    expect(entities).toContain('array1.default.dmsim');
    expect(entities).not.toContain('backup.');
  }, 120_000);

  it('an initiator in no discovery domain of the lab finds nothing through iSNS', async () => {
    isnsd = await startIsnsd();
    const lab = labFile();
    const isns = ['--isns', `127.0.0.1:${isnsd.port}`];
    const array = await serve(lab, 'array1', '127.0.0.1:0', ['--api', 'off', ...isns]);
    await waitForLog(array.proc, 'registered with iSNS server');
    const b = await runCli(['backup', ...isns, '--initiator-name', 'iqn.2026-11.dev.dmsim.test:stranger', '--catalog', path.join(mkdtempSync(path.join(os.tmpdir(), 'cat-')), 'c.sqlite'), '--source', 'array1/fat', '--tape', 'router1/tape0', '--quiet']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/discovery found no disk at all/);
  }, 60_000);
});
