/**
 * Write data of a SCSI command, gathered into one buffer of EDTL bytes before the command is
 * dispatched (RFC 7143 §10.7, §11.7, §11.8): immediate data, unsolicited Data-Out up to
 * FirstBurstLength, then R2Ts for the rest, MaxOutstandingR2T at a time and MaxBurstLength each.
 * Data-Out is checked for order (DataPDUInOrder=Yes, DataSequenceInOrder=Yes) and, where it
 * can be, lands straight in the gather buffer as the parser reads it.
 */
import type { OperationalParams } from '../keys.js';
import { OFF, RESERVED_TAG, r2tHeader } from '../pdu/index.js';
import { POOL_MIN, POOLED_OPCODES, type BufferPool } from './buffer-pool.js';
import type { R2tState, ScsiTaskState } from './scsi-task.js';
import type { Session } from './session.js';
import type { Wire } from './wire.js';

/** Largest write a single command may carry (the gather buffer is allocated up front). */
const MAX_WRITE = 64 * 1024 * 1024;
/**
 * Write data a session may hold while gathering; beyond it new writes get TASK SET FULL (the
 * initiator retries), so memory per connection stays bounded whatever the command window.
 */
const WRITE_BUDGET = 256 * 1024 * 1024;

/**
 * Where the parser should put a SCSI Command's large immediate data: a recycled gather buffer of
 * EDTL bytes (handed to `startGather` as `pooled`), or undefined to leave it in the socket chunk.
 */
export function immediateSink(bhs: Buffer, len: number, pool: BufferPool): Buffer | undefined {
  const edtl = bhs.readUInt32BE(OFF.cmd.edtl);
  if (!(bhs[1]! & 0x20) || edtl < POOL_MIN || edtl > MAX_WRITE || len > edtl || !POOLED_OPCODES.has(bhs[OFF.cmd.cdb]!)) return undefined;
  return pool.take(edtl);
}

/**
 * Set up a new write task's gathering: its buffer (the pooled one the immediate data went to,
 * the immediate data itself when it is all of it, or a new one), the session's budget, and what
 * unsolicited data may follow. Returns `pooled` when the task did not take it.
 */
export function startGather(t: ScsiTaskState, s: Session, pool: BufferPool, immediate: Buffer, final: boolean, pooled: Buffer | undefined): Buffer | undefined {
  const { edtl } = t;
  const prm = s.params;
  const dlen = immediate.length;
  if (edtl > MAX_WRITE) {
    t.refuse = 'too-large';
  } else if (s.gatherBytes + edtl > WRITE_BUDGET) {
    t.refuse = 'busy';
  } else {
    if (pooled) {
      t.buf = pooled;
      t.pooled = true;
      pooled = undefined;
    } else if (dlen === edtl && final) t.buf = immediate;
    else if (edtl >= POOL_MIN && POOLED_OPCODES.has(t.cdb[0]!)) {
      t.buf = pool.take(edtl);
      t.pooled = true;
      if (dlen) immediate.copy(t.buf, 0);
    } else {
      t.buf = Buffer.allocUnsafe(edtl);
      if (dlen) immediate.copy(t.buf, 0);
    }
    t.gathered = edtl;
    s.gatherBytes += edtl;
  }
  t.received = dlen;
  t.unsolOpen = !final;
  t.unsolLimit = prm.initialR2T ? dlen : Math.min(prm.firstBurstLength, edtl);
  return pooled;
}

/** Solicit the next parts of the write, up to MaxOutstandingR2T R2Ts in flight. */
export function issueR2ts(w: Wire, t: ScsiTaskState, prm: OperationalParams): void {
  while (t.r2ts.length < prm.maxOutstandingR2T && t.r2tNext < t.edtl) {
    const len = Math.min(prm.maxBurstLength, t.edtl - t.r2tNext);
    const r: R2tState = { ttt: w.takeTtt(), offset: t.r2tNext, length: len, got: 0, dataSN: 0 };
    t.r2ts.push(r);
    t.r2tNext += len;
    w.writer.send(r2tHeader(t.lunBytes, t.itt, r.ttt, w.statSN, w.expCmdSN(), w.maxCmdSN(), t.r2tSN++, r.offset, len));
  }
}

/** Where in the task's gather buffer a Data-Out payload goes, when it is the one expected next. */
export function dataOutSink(t: ScsiTaskState, bhs: Buffer, len: number): Buffer | undefined {
  if (!t.buf || t.buf.length !== t.edtl) return undefined;
  const off = bhs.readUInt32BE(OFF.dataOut.bufferOffset);
  const ttt = bhs.readUInt32BE(OFF.dataOut.ttt);
  let expect: number;
  if (ttt === RESERVED_TAG) expect = t.unsolOpen ? t.received : -1;
  else {
    const r = t.r2ts.find((x) => x.ttt === ttt);
    expect = r && r.got + len <= r.length ? r.offset + r.got : -1;
  }
  if (off !== expect || off + len > t.edtl) return undefined;
  return t.buf.subarray(off, off + len);
}

/**
 * What a Data-Out means for its task: 'reject' (no such transfer: Reject INVALID PDU FIELD),
 * a sequence error (`why`), or the data taken, with whether to solicit more and whether the
 * task can move on (all data in, or the unsolicited part ended).
 */
type DataOutOutcome = 'reject' | { why: string } | { solicit: boolean; advance: boolean };

export function takeDataOut(t: ScsiTaskState, bhs: Buffer, data: Buffer): DataOutOutcome {
  const ttt = bhs.readUInt32BE(OFF.dataOut.ttt);
  const dataSN = bhs.readUInt32BE(OFF.dataOut.dataSN);
  const off = bhs.readUInt32BE(OFF.dataOut.bufferOffset);
  const final = (bhs[1]! & 0x80) !== 0;
  const len = data.length;
  const buf = t.buf;
  if (!buf) {
    // A refused write (too large / no buffer space): swallow its unsolicited data, then answer.
    if (ttt !== RESERVED_TAG || !t.unsolOpen) return 'reject';
    if (final) t.unsolOpen = false;
    return { solicit: false, advance: final };
  }
  let r: R2tState | undefined;
  if (ttt === RESERVED_TAG) {
    if (!t.unsolOpen) return { why: 'unsolicited Data-Out after the unsolicited sequence ended' };
    if (dataSN !== t.unsolDataSN || off !== t.received || off + len > t.unsolLimit) return { why: `unsolicited Data-Out out of order (DataSN ${dataSN}, offset ${off})` };
    t.unsolDataSN++;
  } else {
    r = t.r2ts.find((x) => x.ttt === ttt);
    if (!r) return 'reject';
    if (dataSN !== r.dataSN || off !== r.offset + r.got || r.got + len > r.length) return { why: `Data-Out out of order (DataSN ${dataSN}, offset ${off})` };
    r.dataSN++;
    r.got += len;
  }
  if (len && !(data.buffer === buf.buffer && data.byteOffset === buf.byteOffset + off)) data.copy(buf, off);
  t.received += len;
  let solicit = false;
  if (r) {
    if (r.got === r.length) {
      t.r2ts.splice(t.r2ts.indexOf(r), 1);
      solicit = t.received < t.edtl;
    }
  } else if (final) t.unsolOpen = false;
  return { solicit, advance: (t.received >= t.edtl && t.r2ts.length === 0 && !t.unsolOpen) || (!r && final) };
}
