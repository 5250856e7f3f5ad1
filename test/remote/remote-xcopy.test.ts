/**
 * The data mover as a real iSCSI initiator (issue 17): a router process whose lab names a tgtd
 * target as a remote target copies from a tgtd disk LU to its own tape and back, byte-exact, when
 * a client sends EXTENDED COPY naming the tgtd LU by its own VPD 83h designator (as a backup
 * application does after reading it through its own HBA). The reach rule: a requester outside the
 * remote target's zone gets COPY ABORTED 0D/02 even though the data mover could log in. A tgtd
 * killed mid-copy ends the copy with COPY ABORTED 0D/02 and the tape holds whole records only.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type IscsiSession } from '../../src/iscsi/initiator/index.js';
import { clearUnitAttentions, inquiryVpd } from '../../src/iscsi/initiator/scsi.js';
import { decodeDeviceIdPage, DesignatorType, VpdPage } from '../../src/scsi/inquiry.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { ScsiStatus } from '../../src/scsi/status.js';
import { encodeRead6, encodeRewind } from '../../src/scsi/tape.js';
import { decodeCopyStatus, encodeRcrCdb, RcrServiceAction } from '../../src/scsi/receive-copy-results.js';
import { CscdType, encodeParameterList, encodeXcopyCdb, SegmentType, type CscdDescriptor, type SegmentDescriptor } from '../../src/scsi/xcopy.js';
import { spawnCliWatched, waitForLog } from '../cli/cli-process.js';
import { requireTools } from '../helpers/require-tool.js';
import { startTgtd, type Tgtd } from '../helpers/tgtd.js';

const ok = requireTools('remote LUs with tgtd', 'tgtd', 'tgtadm');
const root = new URL('../../', import.meta.url).pathname;
const RECORD = 64 * 1024;
const BACKUP1 = 'iqn.2026-11.dev.dmsim.hosts:backup1';
const STRANGER = 'iqn.2026-11.dev.dmsim.test:stranger';
const ROUTER = 'iqn.2026-11.dev.dmsim:router1';

interface Lab {
  router: ChildProcess;
  port: number;
  api: string;
}

interface RemotesView {
  served: string[];
  targets: Array<{ name: string; iqn: string; state: string; initiator: string; lastError?: string }>;
}
const remotes = async (l: Lab): Promise<RemotesView> => (await fetch(`http://${l.api}/api/remotes`)).json() as Promise<RemotesView>;

async function startRouter(remote: Record<string, unknown>, zones?: unknown[]): Promise<Lab> {
  const lab = JSON.parse(readFileSync(path.join(root, 'fixtures/labs/default.json'), 'utf8')) as Record<string, unknown>;
  delete lab.$schema;
  lab.remoteTargets = [remote];
  if (zones) lab.zones = [...(lab.zones as unknown[]), ...zones];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'remote-lab-'));
  writeFileSync(path.join(dir, 'lab.json'), JSON.stringify(lab));
  const router = spawnCliWatched(['router', '--lab', path.join(dir, 'lab.json'), '--iscsi', '127.0.0.1:0', '--api', '127.0.0.1:0', '--data', path.join(dir, 'data')]);
  const ready = await waitForLog(router, 'router ready');
  return { router, port: Number(String(ready.iscsi).split(':').pop()), api: String(ready.api) };
}

async function stopRouter(l: Lab | undefined): Promise<void> {
  if (!l || l.router.exitCode !== null) return;
  const gone = new Promise((r) => l.router.once('exit', r));
  l.router.kill('SIGKILL');
  await gone;
}

async function naaOf(s: IscsiSession, lun: number): Promise<Buffer> {
  const ids = decodeDeviceIdPage(await inquiryVpd(s, lun, VpdPage.DEVICE_ID));
  const naa = ids.find((d) => d.type === DesignatorType.NAA && d.association === 0);
  if (!naa) throw new Error(`LUN ${lun} reports no NAA designator`);
  return naa.value;
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

/** One segment per tape record: disk blocks [lba, lba + RECORD/512) ↔ one RECORD-byte record. */
function segments(type: number, records: number, record: number): SegmentDescriptor[] {
  const out: SegmentDescriptor[] = [];
  const per = record / 512;
  for (let i = 0; i < records; i++)
    out.push(type === SegmentType.BLOCK_TO_STREAM ? { type, cat: false, src: 0, dst: 1, streamTransferLength: record, blocks: per, lba: i * per } : { type, cat: false, src: 1, dst: 0, streamTransferLength: record, blocks: per, lba: i * per });
  return out;
}

async function xcopy(s: IscsiSession, diskNaa: Buffer, tapeNaa: Buffer, type: number, records: number, listId: number, record = RECORD) {
  const list = encodeParameterList({
    header: { listId, str: false, listIdUsage: 0, priority: 0 },
    cscds: [e4(diskNaa, { kind: 'block', pad: false, blockLength: 512 }, 0x00), e4(tapeNaa, { kind: 'stream', pad: false, fixed: false, blockLength: 0 }, 0x01)],
    segments: segments(type, records, record),
    inline: Buffer.alloc(0),
  });
  return s.command({ lun: 0, cdb: encodeXcopyCdb({ parameterListLength: list.length }), dataOut: list });
}

async function rewind(s: IscsiSession): Promise<void> {
  await clearUnitAttentions(s, 0);
  await clearUnitAttentions(s, 1);
  const r = await s.command({ lun: 1, cdb: encodeRewind() });
  expect(r.status).toBe(ScsiStatus.GOOD);
}

/** Every record up to the first filemark/EOD, as returned by READ(6) variable (records are at most `record` bytes). */
async function readRecords(s: IscsiSession, record = RECORD): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (;;) {
    const r = await s.command({ lun: 1, cdb: encodeRead6({ fixed: false, sili: true, transferLength: record }), dataInLength: record });
    if (r.status !== ScsiStatus.GOOD) {
      if (r.dataIn.length) out.push(r.dataIn);
      return out;
    }
    out.push(r.dataIn);
  }
}

const senseOf = (r: { sense?: Buffer }) => {
  const d = decodeSense(r.sense!);
  return [d.key, d.asc, d.ascq];
};

describe.skipIf(!ok)('remote LUs: the data mover copies to and from a tgtd disk', () => {
  let tgtd: Tgtd;
  let lab: Lab | undefined;
  const SIZE = 2 * 1024 * 1024;
  const data = randomBytes(SIZE);

  beforeAll(async () => {
    tgtd = await startTgtd({ sizeBytes: SIZE });
    writeFileSync(tgtd.backingFiles[0]!, data);
  });
  afterAll(async () => {
    await stopRouter(lab);
    await tgtd?.stop();
  });

  it('backs up the tgtd LU to a dmsim tape and restores it back, byte-exact (remote target in the default zone)', async () => {
    lab = await startRouter({ name: 'tgt1', portal: `${tgtd.host}:${tgtd.port}`, iqn: tgtd.targetName });
    const toTgt = await connect({ host: tgtd.host, port: tgtd.port, initiatorName: STRANGER, targetName: tgtd.targetName });
    const toRouter = await connect({ host: '127.0.0.1', port: lab.port, initiatorName: STRANGER, targetName: ROUTER });
    try {
      const diskNaa = await naaOf(toTgt, 1);
      const tapeNaa = await naaOf(toRouter, 1);
      await rewind(toRouter);
      const records = SIZE / RECORD;
      const b = await xcopy(toRouter, diskNaa, tapeNaa, SegmentType.BLOCK_TO_STREAM, records, 1);
      expect(b.status, b.sense ? senseOf(b).join('/') : '').toBe(ScsiStatus.GOOD);

      await rewind(toRouter);
      const got = await readRecords(toRouter);
      expect(got.map((r) => r.length)).toEqual(Array(records).fill(RECORD));
      expect(Buffer.concat(got).equals(data)).toBe(true);

      // Restore onto a wiped tgtd LU.
      writeFileSync(tgtd.backingFiles[0]!, Buffer.alloc(SIZE));
      await rewind(toRouter);
      const r = await xcopy(toRouter, diskNaa, tapeNaa, SegmentType.STREAM_TO_BLOCK, records, 2);
      expect(r.status, r.sense ? senseOf(r).join('/') : '').toBe(ScsiStatus.GOOD);
      expect(readFileSync(tgtd.backingFiles[0]!).equals(data)).toBe(true);
      // The API shows the remote target and the data mover's session to it.
      const view = await remotes(lab);
      expect(view.served).toEqual(['array1', 'router1']);
      expect(view.targets).toEqual([expect.objectContaining({ name: 'tgt1', iqn: tgtd.targetName, state: 'up', initiator: 'iqn.2026-11.dev.dmsim:router1.dm' })]);
    } finally {
      await toTgt.close();
      await toRouter.close();
      await stopRouter(lab);
      lab = undefined;
    }
  }, 60_000);

  it('reach rule: a requester outside the remote target zone gets COPY ABORTED 0D/02, one inside copies', async () => {
    writeFileSync(tgtd.backingFiles[0]!, data);
    lab = await startRouter({ name: 'tgt1', portal: `${tgtd.host}:${tgtd.port}`, iqn: tgtd.targetName }, [{ name: 'remote', members: ['backup1/p0', 'tgt1/target'] }]);
    const toTgt = await connect({ host: tgtd.host, port: tgtd.port, initiatorName: STRANGER, targetName: tgtd.targetName });
    const stranger = await connect({ host: '127.0.0.1', port: lab.port, initiatorName: STRANGER, targetName: ROUTER });
    const backup1 = await connect({ host: '127.0.0.1', port: lab.port, initiatorName: BACKUP1, targetName: ROUTER });
    try {
      const diskNaa = await naaOf(toTgt, 1);
      const tapeNaa = await naaOf(stranger, 1);
      await rewind(stranger);
      const denied = await xcopy(stranger, diskNaa, tapeNaa, SegmentType.BLOCK_TO_STREAM, 2, 3);
      expect(denied.status).toBe(ScsiStatus.CHECK_CONDITION);
      expect(senseOf(denied)).toEqual([0x0a, 0x0d, 0x02]);
      // Nothing reached the tape.
      await rewind(stranger);
      expect(await readRecords(stranger)).toEqual([]);

      await rewind(backup1);
      const allowed = await xcopy(backup1, diskNaa, tapeNaa, SegmentType.BLOCK_TO_STREAM, 2, 4);
      expect(allowed.status, allowed.sense ? senseOf(allowed).join('/') : '').toBe(ScsiStatus.GOOD);
      await rewind(backup1);
      expect(Buffer.concat(await readRecords(backup1)).equals(data.subarray(0, 2 * RECORD))).toBe(true);
    } finally {
      await Promise.all([toTgt.close(), stranger.close(), backup1.close()]);
      await stopRouter(lab);
      lab = undefined;
    }
  }, 60_000);
});

describe.skipIf(!ok)('remote LUs: the remote target dies mid-copy', () => {
  it('ends the copy with COPY ABORTED 0D/02; the tape holds whole records of the source only', async () => {
    const BIG = 192 * 1024;
    const SIZE = 256 * BIG;
    const tgtd = await startTgtd({ sizeBytes: SIZE });
    const data = randomBytes(SIZE);
    writeFileSync(tgtd.backingFiles[0]!, data);
    const lab = await startRouter({ name: 'tgt1', portal: `${tgtd.host}:${tgtd.port}`, iqn: tgtd.targetName });
    const toTgt = await connect({ host: tgtd.host, port: tgtd.port, initiatorName: STRANGER, targetName: tgtd.targetName });
    const toRouter = await connect({ host: '127.0.0.1', port: lab.port, initiatorName: STRANGER, targetName: ROUTER });
    try {
      const diskNaa = await naaOf(toTgt, 1);
      await toTgt.close();
      const tapeNaa = await naaOf(toRouter, 1);
      await rewind(toRouter);
      const copy = xcopy(toRouter, diskNaa, tapeNaa, SegmentType.BLOCK_TO_STREAM, SIZE / BIG, 5, BIG);
      // Let a few segments reach the tape (RECEIVE COPY STATUS on the same session), then pull the plug on the source.
      for (let i = 0; i < 400; i++) {
        const st = await toRouter.command({ lun: 0, cdb: encodeRcrCdb({ serviceAction: RcrServiceAction.COPY_STATUS, listId: 5, allocationLength: 12 }), dataInLength: 12 });
        if (st.status === ScsiStatus.GOOD && decodeCopyStatus(st.dataIn).segmentsProcessed >= 3) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      await tgtd.stop();
      const r = await copy;
      expect(r.status).toBe(ScsiStatus.CHECK_CONDITION);
      expect(senseOf(r)).toEqual([0x0a, 0x0d, 0x02]);
      await rewind(toRouter);
      const got = await readRecords(toRouter, BIG);
      // Segments 1 and 2 were done when the status said the third was under way.
      expect(got.length).toBeGreaterThanOrEqual(2);
      expect(got.length).toBeLessThan(SIZE / BIG);
      for (const [i, rec] of got.entries()) expect(rec.equals(data.subarray(i * BIG, (i + 1) * BIG)), `record ${i}`).toBe(true);
      expect((await remotes(lab)).targets[0]).toMatchObject({ name: 'tgt1', state: 'down' });
    } finally {
      await toRouter.close().catch(() => undefined);
      await stopRouter(lab);
      await tgtd.stop();
    }
  }, 90_000);
});
