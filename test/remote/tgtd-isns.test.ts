/**
 * tgtd registered in isnsd beside dmsim, found by the data mover through iSNS (issue 17): the lab
 * lists tgtd's target by IQN only (no portal) and zones it with backup1 and the data mover; the
 * router process registers those zones as DDs with tgtd's IQN among the members, asks isnsd for
 * the targets its data mover may see, and takes tgtd's portal from the answer. isnsadm lists
 * tgtd's node beside dmsim's. A backup of a tgtd LU to a dmsim tape and the restore onto a second
 * tgtd LU, both through the data mover, are byte-exact (compared in tgtd's backing files).
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, type IscsiSession } from '../../src/iscsi/initiator/index.js';
import { clearUnitAttentions, inquiryVpd } from '../../src/iscsi/initiator/scsi.js';
import { decodeDeviceIdPage, DesignatorType, VpdPage } from '../../src/scsi/inquiry.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { ScsiStatus } from '../../src/scsi/status.js';
import { encodeRewind } from '../../src/scsi/tape.js';
import { CscdType, encodeParameterList, encodeXcopyCdb, SegmentType, type CscdDescriptor, type SegmentDescriptor } from '../../src/scsi/xcopy.js';
import { runCli, spawnCliWatched, waitForLog } from '../cli/cli-process.js';
import { startIsnsd, type Isnsd } from '../helpers/isnsd.js';
import { requireTools } from '../helpers/require-tool.js';
import { startTgtd, type Tgtd } from '../helpers/tgtd.js';

const ok = requireTools('tgtd registered in isnsd', 'tgtd', 'tgtadm', 'isnsd', 'isnsadm');
const root = new URL('../../', import.meta.url).pathname;
const BACKUP1 = 'iqn.2026-11.dev.dmsim.hosts:backup1';
const ROUTER = 'iqn.2026-11.dev.dmsim:router1';
const RECORD = 64 * 1024;
const RECORDS = 32;
const SIZE = RECORDS * RECORD;

let isnsd: Isnsd | undefined;
let tgtd: Tgtd | undefined;
let router: ChildProcess | undefined;
let routerApi = '';
let routerPort = 0;
let data: Buffer;
afterAll(async () => {
  delete process.env.DMSIM_API_TOKEN;
  if (router && router.exitCode === null && router.signalCode === null) {
    const gone = new Promise((r) => router!.once('exit', r));
    router.kill('SIGKILL');
    await gone;
  }
  await tgtd?.stop();
  await isnsd?.stop();
});

const e4 = (naa: Buffer, params: CscdDescriptor['params'], pdt: number): CscdDescriptor => ({
  type: CscdType.IDENTIFICATION,
  luIdType: 0,
  nul: false,
  pdt,
  relativeInitiatorPort: 0,
  designator: { codeSet: 1, association: 0, designatorType: 3, value: naa },
  params,
});

async function naaOf(s: IscsiSession, lun: number): Promise<Buffer> {
  const d = decodeDeviceIdPage(await inquiryVpd(s, lun, VpdPage.DEVICE_ID)).find((x) => x.type === DesignatorType.NAA && x.association === 0);
  if (!d) throw new Error(`LUN ${lun} reports no NAA designator`);
  return d.value;
}

async function xcopy(s: IscsiSession, disk: Buffer, tape: Buffer, type: number, listId: number) {
  const segments: SegmentDescriptor[] = [];
  for (let i = 0; i < RECORDS; i++)
    segments.push({ type, cat: false, ...(type === SegmentType.BLOCK_TO_STREAM ? { src: 0, dst: 1 } : { src: 1, dst: 0 }), streamTransferLength: RECORD, blocks: RECORD / 512, lba: (i * RECORD) / 512 });
  const list = encodeParameterList({
    header: { listId, str: false, listIdUsage: 0, priority: 0 },
    cscds: [e4(disk, { kind: 'block', pad: false, blockLength: 512 }, 0), e4(tape, { kind: 'stream', pad: false, fixed: false, blockLength: 0 }, 1)],
    segments,
    inline: Buffer.alloc(0),
  });
  const r = await s.command({ lun: 0, cdb: encodeXcopyCdb({ parameterListLength: list.length }), dataOut: list });
  expect(r.status, r.sense ? JSON.stringify(decodeSense(r.sense)) : '').toBe(ScsiStatus.GOOD);
}

describe.skipIf(!ok)('tgtd in iSNS, found by the data mover', () => {
  it('isnsadm lists tgtd beside dmsim; backup tgtd LU 1 → dmsim tape and restore → tgtd LU 2 through the data mover, byte-exact', async () => {
    isnsd = await startIsnsd();
    tgtd = await startTgtd({ sizeBytes: SIZE, luns: 2, isns: { host: '127.0.0.1', port: isnsd.port } });
    data = randomBytes(SIZE);
    writeFileSync(tgtd.backingFiles[0]!, data);

    const lab = JSON.parse(readFileSync(path.join(root, 'fixtures/labs/default.json'), 'utf8')) as Record<string, unknown> & { zones: unknown[] };
    delete lab.$schema;
    // No portal: it comes from iSNS.
    lab.remoteTargets = [{ name: 'tgt1', iqn: tgtd.targetName }];
    lab.zones.push({ name: 'remote', members: ['backup1/p0', 'router1/fc0', 'router1/dm0', 'tgt1/target'] });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tgtd-isns-'));
    writeFileSync(path.join(dir, 'lab.json'), JSON.stringify(lab));
    process.env.DMSIM_API_TOKEN = 'tgtd-isns-token';
    router = spawnCliWatched(['router', '--lab', path.join(dir, 'lab.json'), '--iscsi', '127.0.0.1:0', '--api', '127.0.0.1:0', '--data', path.join(dir, 'data'), '--isns', `127.0.0.1:${isnsd.port}`]);
    const ready = await waitForLog(router, 'router ready');
    await waitForLog(router, 'registered with iSNS server');
    routerPort = Number(String(ready.iscsi).split(':').pop());
    routerApi = `http://${String(ready.api)}`;

    // tgtd registered itself (its entity is the numeric address of its connection, §5.1).
    const nodes = isnsd.list('nodes');
    expect(nodes).toContain(tgtd.targetName);
    expect(nodes).toContain(ROUTER);
    expect(nodes).toContain('iqn.2026-11.dev.dmsim:router1.dm');
    expect(isnsd.list('dds')).toContain(tgtd.targetName);

    const toTgt = await connect({ host: tgtd.host, port: tgtd.port, initiatorName: BACKUP1, targetName: tgtd.targetName });
    const toRouter = await connect({ host: '127.0.0.1', port: routerPort, initiatorName: BACKUP1, targetName: ROUTER });
    try {
      const src = await naaOf(toTgt, 1);
      const dst = await naaOf(toTgt, 2);
      await clearUnitAttentions(toRouter, 0);
      await clearUnitAttentions(toRouter, 1);
      const tape = await naaOf(toRouter, 1);
      expect((await toRouter.command({ lun: 1, cdb: encodeRewind() })).status).toBe(ScsiStatus.GOOD);
      // The portal may reach the data mover a moment after registration (its query follows it).
      for (let i = 0; i < 40; i++) {
        const view = (await (await fetch(`http://${String(ready.api)}/api/remotes`)).json()) as { targets: Array<{ name: string; portal?: unknown }> };
        if (view.targets.find((t) => t.name === 'tgt1')?.portal) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      await xcopy(toRouter, src, tape, SegmentType.BLOCK_TO_STREAM, 1);
      expect((await toRouter.command({ lun: 1, cdb: encodeRewind() })).status).toBe(ScsiStatus.GOOD);
      await xcopy(toRouter, dst, tape, SegmentType.STREAM_TO_BLOCK, 2);
    } finally {
      await Promise.all([toTgt.close(), toRouter.close()]);
    }
    expect(readFileSync(tgtd.backingFiles[1]!).equals(data)).toBe(true);
  }, 90_000);

  it('dmsim backup --isns: the tgtd LU (found through iSNS as backup1) → router1/tape1 (blank; tape0 holds the raw records of the first case) and restore → tgtd LU 2 from the CLI, byte-exact', async () => {
    writeFileSync(tgtd!.backingFiles[1]!, Buffer.alloc(SIZE));
    const short = tgtd!.targetName.replace(/^.*:/, '');
    const common = ['--router', `iscsi://127.0.0.1:${routerPort}`, '--isns', `127.0.0.1:${isnsd!.port}`, '--api', routerApi, '--initiator-name', BACKUP1, '--quiet'];
    const b = await runCli(['backup', ...common, '--source', `${short}/1`, '--tape', 'router1/tape1', '--mode', 'full', '--json']);
    expect(b.code, b.stderr).toBe(0);
    const job = JSON.parse(b.stdout) as { backupId: number; ok: boolean; streamBytes: number; portBytesDuringCopy: number; warnings: string[] };
    expect(job.ok).toBe(true);
    expect(job.streamBytes).toBe(SIZE);
    expect(job.portBytesDuringCopy).toBeLessThan(SIZE / 100);
    // tgtd keeps no change map: the full backup says so instead of failing.
    expect(job.warnings.join('\n')).toMatch(/no change epoch started \(change tracking: the management API .* has no LU with NAA/);
    const r = await runCli(['restore', ...common, '--backup', String(job.backupId), '--target', `${short}/2`]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(tgtd!.backingFiles[1]!).equals(data)).toBe(true);
  }, 90_000);
});
