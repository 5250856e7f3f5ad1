/**
 * One lab, three dmsim processes registered in isnsd (issue 17): array1 (disks), router1 (tape
 * drives) and router2 (the data mover that does the copy), plus the backup CLI as a fourth
 * process. The CLI finds array1 and router1 through iSNS and drives router2's data mover; the
 * data mover reaches array1 and router1's drive as lab nodes served elsewhere, at the portals
 * iSNS gives. Backup and restore are byte-exact, isnsadm lists every node, and stopping the drive
 * process reaches router2 as a state change notification that marks router1 down.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/iscsi/initiator/index.js';
import { clearUnitAttentions } from '../../src/iscsi/initiator/scsi.js';
import { runCli, spawnCliWatched, waitForLog } from '../cli/cli-process.js';
import { startIsnsd, type Isnsd } from '../helpers/isnsd.js';
import { requireTools } from '../helpers/require-tool.js';

const root = new URL('../../', import.meta.url).pathname;
const BACKUP1 = 'iqn.2026-11.dev.dmsim.hosts:backup1';
const SIZE = 64 * 1024 * 1024;
const haveIsns = requireTools('three-process lab with isnsd', 'isnsd', 'isnsadm');

interface Served {
  proc: ChildProcess;
  port: number;
  api: string;
}
const procs: ChildProcess[] = [];
let isnsd: Isnsd | undefined;
let array: Served, drives: Served, mover: Served;

beforeAll(() => {
  process.env.DMSIM_API_TOKEN = 'three-process-token';
});

afterAll(async () => {
  delete process.env.DMSIM_API_TOKEN;
  for (const p of procs.splice(0))
    if (p.exitCode === null && p.signalCode === null) {
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await gone;
    }
  await isnsd?.stop();
});

/** The default lab plus router2: no drives, a data mover zoned with array1 and router1. */
function labFile(): string {
  const lab = JSON.parse(readFileSync(path.join(root, 'fixtures/labs/default.json'), 'utf8')) as {
    $schema?: string;
    arrays: Array<{ lus: Array<Record<string, unknown>> }>;
    routers: unknown[];
    zones: Array<{ name: string; members: string[] }>;
    masking: Array<{ initiator: string; lus: string[] }>;
  };
  delete lab.$schema;
  for (const lu of lab.arrays[0]!.lus) if (!lu.content && lu.name !== 'scratch') lu.size = '4MiB';
  lab.routers.push({
    name: 'router2',
    wwnn: '50:0d:5a:00:00:03:00:00',
    ports: [{ name: 'fc0', wwpn: '50:0d:5a:00:00:03:00:01' }],
    dataMover: { name: 'datamover', lun: 0, copyProfile: 'full', initiator: { name: 'dm0', wwpn: '50:0d:5a:00:00:03:00:02' } },
    buses: [],
    vault: [],
  });
  lab.zones.find((z) => z.name === 'backup')!.members.push('router2/fc0');
  lab.zones.push({ name: 'datamover2', members: ['router2/dm0', 'router1/fc0', 'array1/p0'] });
  lab.masking.push({ initiator: 'router2/dm0', lus: ['array1/fat', 'array1/blank', 'array1/scratch'] });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'three-process-'));
  writeFileSync(path.join(dir, 'lab.json'), JSON.stringify(lab));
  return path.join(dir, 'lab.json');
}

async function serve(lab: string, node: string): Promise<Served> {
  const data = mkdtempSync(path.join(os.tmpdir(), `three-process-${node}-`));
  const proc = spawnCliWatched(['router', '--lab', lab, '--serve', node, '--iscsi', '127.0.0.1:0', '--api', '127.0.0.1:0', '--data', data, '--isns', `127.0.0.1:${isnsd!.port}`]);
  procs.push(proc);
  const ready = await waitForLog(proc, 'router ready');
  await waitForLog(proc, 'registered with iSNS server');
  return { proc, port: Number(String(ready.iscsi).split(':').pop()), api: `http://${String(ready.api)}` };
}

async function readLu(lun: number): Promise<Buffer> {
  const s = await connect({ host: '127.0.0.1', port: array.port, initiatorName: BACKUP1, targetName: 'iqn.2026-11.dev.dmsim:array1' });
  try {
    await clearUnitAttentions(s, lun);
    const parts: Buffer[] = [];
    const chunk = 1024 * 1024;
    for (let off = 0; off < SIZE; off += chunk) {
      const lba = off / 512;
      const n = chunk / 512;
      const r = await s.command({ lun, cdb: Buffer.from([0x28, 0, lba >>> 24, (lba >>> 16) & 0xff, (lba >>> 8) & 0xff, lba & 0xff, 0, n >> 8, n & 0xff, 0]), dataInLength: chunk });
      expect(r.status).toBe(0);
      parts.push(r.dataIn);
    }
    return Buffer.concat(parts);
  } finally {
    await s.close();
  }
}

describe.skipIf(!haveIsns)('a lab over three dmsim processes and isnsd', () => {
  beforeAll(async () => {
    isnsd = await startIsnsd();
    const lab = labFile();
    array = await serve(lab, 'array1');
    drives = await serve(lab, 'router1');
    mover = await serve(lab, 'router2');
  }, 90_000);

  it('isnsadm lists the nodes of all three processes', () => {
    const nodes = isnsd!.list('nodes');
    for (const n of ['iqn.2026-11.dev.dmsim:array1', 'iqn.2026-11.dev.dmsim:router1', 'iqn.2026-11.dev.dmsim:router2', 'iqn.2026-11.dev.dmsim:router1.dm', 'iqn.2026-11.dev.dmsim:router2.dm']) expect(nodes).toContain(n);
    const entities = isnsd!.list('entities');
    for (const e of ['array1.default.dmsim', 'router1.default.dmsim', 'router2.default.dmsim']) expect(entities).toContain(e);
  });

  it("backup array1/fat → router1/tape0 through router2's data mover, found through iSNS, and restore to array1/scratch, byte-exact", async () => {
    const common = ['--router', `iscsi://127.0.0.1:${mover.port}`, '--isns', `127.0.0.1:${isnsd!.port}`, '--api', mover.api, '--changes-api', array.api, '--initiator-name', BACKUP1, '--quiet'];
    // router2's API knows no cartridge of router1's drive: name it, as an operator would.
    const b = await runCli(['backup', ...common, '--source', 'array1/fat', '--tape', 'router1/tape0', '--barcode', 'DM0001L3', '--mode', 'sparse', '--json']);
    expect(b.code, b.stderr).toBe(0);
    const job = JSON.parse(b.stdout) as { backupId: number; ok: boolean; bytesMoved: number; portBytesDuringCopy: number };
    expect(job.ok).toBe(true);
    expect(job.portBytesDuringCopy).toBeLessThan(job.bytesMoved / 100);
    // router2's data mover did the copy: it logged in to both other processes.
    const view = (await (await fetch(`${mover.api}/api/remotes`)).json()) as { targets: Array<{ iqn: string; state: string }> };
    expect(view.targets.find((t) => t.iqn === 'iqn.2026-11.dev.dmsim:array1')?.state).toBe('up');
    expect(view.targets.find((t) => t.iqn === 'iqn.2026-11.dev.dmsim:router1')?.state).toBe('up');
    const r = await runCli(['restore', ...common, '--backup', String(job.backupId), '--tape', 'router1/tape0', '--target', 'array1/scratch']);
    expect(r.code, r.stderr).toBe(0);
    const [src, dst] = await Promise.all([readLu(0), readLu(2)]);
    expect(dst.equals(src)).toBe(true);
  }, 120_000);

  it('stopping the drive process sends an SCN: router2 marks router1 down', async () => {
    const down = waitForLog(mover.proc, 'remote target unreachable', 20_000);
    drives.proc.kill('SIGTERM');
    const rec = await down;
    expect(rec.iqn).toBe('iqn.2026-11.dev.dmsim:router1');
    const view = (await (await fetch(`${mover.api}/api/remotes`)).json()) as { targets: Array<{ iqn: string; state: string }> };
    expect(view.targets.find((t) => t.iqn === 'iqn.2026-11.dev.dmsim:router1')?.state).toBe('down');
  }, 30_000);
});
