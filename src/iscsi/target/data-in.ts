/**
 * A finished SCSI command on the wire (RFC 7143 §11.4, §11.7): its data-in split at the
 * initiator's MaxRecvDataSegmentLength and MaxBurstLength, the status in the last Data-In when
 * it can ride there (phase collapse) or in a SCSI Response, and the residual against EDTL.
 */
import type { ScsiResult } from '../../../firmware-sim/router/task.js';
import { ScsiStatus } from '../../scsi/status.js';
import { DataInFlags, ResponseFlags, dataInHeader, scsiResponseHeader, snAdd } from '../pdu/index.js';
import type { BufferPool } from './buffer-pool.js';
import type { ScsiTaskState } from './scsi-task.js';
import type { Session } from './session.js';
import type { Wire } from './wire.js';

/**
 * Residual overflow/underflow (RFC 7143 §11.4.5.1): the bytes the command transferred or wanted to
 * (SPDTL: the result's transferLength, else the data-in it returned) against the initiator's EDTL.
 * A write whose LU did not say how much it took reports none.
 */
function residualOf(t: ScsiTaskState, r: ScsiResult, dataInLength: number): { resFlags: number; residual: number } {
  const edtl = t.read || t.write ? t.edtl : 0;
  const spdtl = r.transferLength ?? (t.read || dataInLength > 0 ? dataInLength : undefined);
  if (spdtl === undefined || spdtl === edtl) return { resFlags: 0, residual: 0 };
  return spdtl > edtl ? { resFlags: ResponseFlags.OVERFLOW, residual: spdtl - edtl } : { resFlags: ResponseFlags.UNDERFLOW, residual: edtl - spdtl };
}

/** Data-In PDUs (at most EDTL bytes) and the status of a command the dispatcher answered. */
export function sendResult(w: Wire, s: Session, pool: BufferPool, t: ScsiTaskState, r: ScsiResult): void {
  const data = r.dataIn;
  const dlen = data ? data.length : 0;
  const readEdtl = t.read ? t.edtl : 0;
  const { resFlags, residual } = residualOf(t, r, dlen);
  const status = r.status;
  const n = Math.min(dlen, readEdtl);
  const collapse = n > 0 && !r.sense && (status === ScsiStatus.GOOD || status === ScsiStatus.CONDITION_MET);
  let dataSN = 0;
  if (n > 0) {
    const prm = s.params;
    const mrdsl = prm.initiatorMaxRecvDataSegmentLength;
    const mbl = prm.maxBurstLength;
    const exp = s.expCmdSN;
    const max = s.maxCmdSN();
    // A pooled read buffer goes back once the socket has written its last byte (never on error).
    const rb = t.readBuf;
    const recycle = rb && data!.buffer === rb.buffer ? (err?: Error | null) => err || pool.give(rb) : undefined;
    t.readBuf = undefined;
    let off = 0;
    while (off < n) {
      const seqLeft = mbl - (off % mbl);
      const len = Math.min(mrdsl, n - off, seqLeft);
      const end = off + len;
      const last = end === n;
      let f = last || len === seqLeft ? DataInFlags.FINAL : 0;
      let sn = 0;
      if (last && collapse) {
        f |= DataInFlags.STATUS | resFlags;
        sn = w.statSN;
        w.statSN = snAdd(sn, 1);
      }
      w.writer.send(dataInHeader(f, status, t.itt, sn, exp, max, dataSN++, off, last && collapse ? residual : 0), data!.subarray(off, end), undefined, last ? recycle : undefined);
      off = end;
    }
  }
  if (!collapse) sendStatus(w, t, status, r.sense, resFlags, residual, dataSN);
}

/** A SCSI Response PDU, with the sense (if any) as its data segment. */
export function sendStatus(w: Wire, t: ScsiTaskState, status: number, sense: Buffer | undefined, resFlags: number, residual: number, dataSNs: number): void {
  let data: Buffer | undefined;
  if (sense && sense.length) {
    data = Buffer.allocUnsafe(2 + sense.length);
    data.writeUInt16BE(sense.length, 0);
    sense.copy(data, 2);
  }
  const sn = w.statSN;
  w.statSN = snAdd(sn, 1);
  w.writer.send(scsiResponseHeader(resFlags, 0, status, t.itt, sn, w.expCmdSN(), w.maxCmdSN(), dataSNs, residual), data);
}
