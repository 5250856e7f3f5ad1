/**
 * One lab, several processes (`dmsim router --serve`): an array process and a router process
 * (drives + data mover) from the same lab file. The router's data mover reaches array1 over iSCSI
 * as its lab port router1/dm0 (zoning and masking judged by the array process), at the lab's
 * `portal` or where iSNS says; the same IQNs, LUNs and designators as in one process. With iSNS,
 * stopping the array process reaches the router as a state change notification.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type IscsiSession } from '../../src/iscsi/initiator/index.js';
import { clearUnitAttentions, inquiryVpd } from '../../src/iscsi/initiator/scsi.js';
import { decodeDeviceIdPage, DesignatorType, VpdPage } from '../../src/scsi/inquiry.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { ScsiStatus } from '../../src/scsi/status.js';
import { encodeRead6, encodeRewind } from '../../src/scsi/tape.js';
import { CscdType, encodeParameterList, encodeXcopyCdb, SegmentType, type CscdDescriptor, type SegmentDescriptor } from '../../src/scsi/xcopy.js';
import { runCli, spawnCliWatched, waitForLog } from '../cli/cli-process.js';
import { startIsnsd, type Isnsd } from '../helpers/isnsd.js';
import { requireTools } from '../helpers/require-tool.js';
import { freePort } from '../helpers/tgtd.js';

const root = new URL('../../', import.meta.url).pathname;
const CLIENT = 'iqn.2026-11.dev.dmsim.test:split-client';
const RECORD = 64 * 1024;
const RECORDS = 16;

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

function labFile(arrayPortal?: string): string {
  const lab = JSON.parse(readFileSync(path.join(root, 'fixtures/labs/default.json'), 'utf8')) as { arrays: Array<Record<string, unknown>>; $schema?: string };
  delete lab.$schema;
  if (arrayPortal) lab.arrays[0]!.portal = arrayPortal;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'split-lab-'));
  writeFileSync(path.join(dir, 'lab.json'), JSON.stringify(lab));
  return path.join(dir, 'lab.json');
}

async function serve(lab: string, node: string, iscsi: string, extra: string[] = []): Promise<{ proc: ChildProcess; port: number }> {
  const data = mkdtempSync(path.join(os.tmpdir(), `split-${node}-`));
  const proc = spawnCliWatched(['router', '--lab', lab, '--serve', node, '--iscsi', iscsi, '--api', 'off', '--data', data, ...extra]);
  procs.push(proc);
  const ready = await waitForLog(proc, 'router ready');
  return { proc, port: Number(String(ready.iscsi).split(':').pop()) };
}

async function naaOf(s: IscsiSession, lun: number): Promise<Buffer> {
  const d = decodeDeviceIdPage(await inquiryVpd(s, lun, VpdPage.DEVICE_ID)).find((x) => x.type === DesignatorType.NAA && x.association === 0);
  return d!.value;
}

const e4 = (naa: Buffer, params: CscdDescriptor['params'], pdt: number): CscdDescriptor => ({
  type: CscdType.IDENTIFICATION,
  luIdType: 0,
  nul: false,
  pdt,
  relativeInitiatorPort: 0,
  designator: { codeSet: 1, association: 0, designatorType: 3, value: naa },
  params,
});

/** array1/fat's first RECORDS × 64 KiB onto router1/tape0 through router1's data mover; returns the status and what the tape then holds. */
async function backupThroughDataMover(arrayPort: number, routerPort: number): Promise<{ status: number; sense?: Buffer; tape: Buffer; disk: Buffer }> {
  const toArray = await connect({ host: '127.0.0.1', port: arrayPort, initiatorName: CLIENT, targetName: 'iqn.2026-11.dev.dmsim:array1' });
  const toRouter = await connect({ host: '127.0.0.1', port: routerPort, initiatorName: CLIENT, targetName: 'iqn.2026-11.dev.dmsim:router1' });
  try {
    await clearUnitAttentions(toArray, 0);
    const disk = (await toArray.command({ lun: 0, cdb: Buffer.from([0x28, 0, 0, 0, 0, 0, 0, (RECORDS * RECORD) / 512 >> 8, ((RECORDS * RECORD) / 512) & 0xff, 0]), dataInLength: RECORDS * RECORD })).dataIn;
    const diskNaa = await naaOf(toArray, 0);
    const tapeNaa = await naaOf(toRouter, 1);
    await clearUnitAttentions(toRouter, 0);
    await clearUnitAttentions(toRouter, 1);
    expect((await toRouter.command({ lun: 1, cdb: encodeRewind() })).status).toBe(ScsiStatus.GOOD);
    const segments: SegmentDescriptor[] = [];
    for (let i = 0; i < RECORDS; i++) segments.push({ type: SegmentType.BLOCK_TO_STREAM, cat: false, src: 0, dst: 1, streamTransferLength: RECORD, blocks: RECORD / 512, lba: (i * RECORD) / 512 });
    const list = encodeParameterList({
      header: { listId: 1, str: false, listIdUsage: 0, priority: 0 },
      cscds: [e4(diskNaa, { kind: 'block', pad: false, blockLength: 512 }, 0), e4(tapeNaa, { kind: 'stream', pad: false, fixed: false, blockLength: 0 }, 1)],
      segments,
      inline: Buffer.alloc(0),
    });
    const r = await toRouter.command({ lun: 0, cdb: encodeXcopyCdb({ parameterListLength: list.length }), dataOut: list });
    await toRouter.command({ lun: 1, cdb: encodeRewind() });
    const recs: Buffer[] = [];
    for (;;) {
      const x = await toRouter.command({ lun: 1, cdb: encodeRead6({ fixed: false, sili: true, transferLength: RECORD }), dataInLength: RECORD });
      if (x.status !== ScsiStatus.GOOD) break;
      recs.push(x.dataIn);
    }
    return { status: r.status, ...(r.sense ? { sense: r.sense } : {}), tape: Buffer.concat(recs), disk };
  } finally {
    await Promise.all([toArray.close(), toRouter.close()]);
  }
}

describe('one lab across processes (--serve)', () => {
  it('the router process copies array1 (served by another process at its lab portal) to its tape, byte-exact', async () => {
    const arrayPort = await freePort();
    const lab = labFile(`127.0.0.1:${arrayPort}`);
    const array = await serve(lab, 'array1', `127.0.0.1:${arrayPort}`);
    const router = await serve(lab, 'router1', '127.0.0.1:0');
    const r = await backupThroughDataMover(array.port, router.port);
    expect(r.status, r.sense ? JSON.stringify(decodeSense(r.sense)) : '').toBe(ScsiStatus.GOOD);
    expect(r.tape.length).toBe(RECORDS * RECORD);
    expect(r.tape.equals(r.disk)).toBe(true);
  }, 60_000);

  it('refuses a --serve name the lab does not have, listing the ones it has (exit 2)', async () => {
    const r = await runCli(['router', '--serve', 'array9', '--iscsi', '127.0.0.1:0', '--api', 'off']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no array or router "array9".*array1, router1/);
  }, 30_000);
});

const haveIsns = requireTools('split lab with isnsd', 'isnsd', 'isnsadm');

describe.skipIf(!haveIsns)('one lab across processes found through iSNS', () => {
  it('registers both entities, copies with the portal iSNS gives, and marks the array down when its process stops', async () => {
    isnsd = await startIsnsd();
    const lab = labFile();
    const isns = ['--isns', `127.0.0.1:${isnsd.port}`];
    const array = await serve(lab, 'array1', '127.0.0.1:0', isns);
    await waitForLog(array.proc, 'registered with iSNS server');
    const router = await serve(lab, 'router1', '127.0.0.1:0', isns);
    await waitForLog(router.proc, 'registered with iSNS server');
    const entities = isnsd.list('entities');
    expect(entities).toContain('array1.default.dmsim');
    expect(entities).toContain('router1.default.dmsim');

    // The router learned array1's portal from iSNS (the lab names none).
    let r = await backupThroughDataMover(array.port, router.port);
    for (let i = 0; i < 20 && r.status !== ScsiStatus.GOOD; i++) {
      await new Promise((res) => setTimeout(res, 250));
      r = await backupThroughDataMover(array.port, router.port);
    }
    expect(r.status, r.sense ? JSON.stringify(decodeSense(r.sense)) : '').toBe(ScsiStatus.GOOD);
    expect(r.tape.equals(r.disk)).toBe(true);

    const down = waitForLog(router.proc, 'remote target unreachable', 20_000);
    array.proc.kill('SIGTERM');
    const rec = await down;
    expect(rec.iqn).toBe('iqn.2026-11.dev.dmsim:array1');
  }, 90_000);
});
