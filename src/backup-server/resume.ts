/**
 * Resume after COPY ABORTED from the failed segment itself.
 *
 * Why the cut is made at the drive's position and not inside the failed segment's descriptor:
 * SPC-4 says segments before the failing one are done, the failing one may be partly done, and
 * residue (CAT) is dropped with the failed command. What is on tape is therefore a whole number of
 * complete records; a record is written by one WRITE and is either there or not. The server reads
 * FAILED SEGMENT DETAILS (the sense with SEGMENT NUMBER and the INFORMATION residual) and COPY
 * STATUS (segments processed), checks the drive's position against what the plan says the failed
 * segment could have written, and re-plans the remaining tape operations from that record on. The
 * new first segment is the failed one adjusted to start at the first record that is not on tape,
 * so the cartridge ends up byte-identical to an uninterrupted backup.
 */
import { decodeSense, SenseKey, type SenseInfo } from '../scsi/sense.js';
import type { CompiledCommand, StreamPiece, TapeOp } from './plan/compile.js';
import type { ScsiClient } from './scsi-client.js';
import type { DataMoverRef } from './job-runner.js';

/** Tape objects (records + filemarks) an operation writes. */
export function opObjects(op: TapeOp): number {
  if (op.op === 'record') return 1;
  if (op.op === 'filemarks') return op.count;
  if (op.op === 'stream') return Math.ceil(streamLength(op.pieces) / op.recordSize);
  return 0;
}

function streamLength(pieces: StreamPiece[]): number {
  return pieces.reduce((s, p) => s + (p.kind === 'inline' ? p.data.length : p.length), 0);
}

function dropStreamBytes(pieces: StreamPiece[], skip: number): StreamPiece[] {
  const out: StreamPiece[] = [];
  for (const p of pieces) {
    const len = p.kind === 'inline' ? p.data.length : p.length;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    if (skip === 0) out.push(p);
    else if (p.kind === 'inline') out.push({ kind: 'inline', data: p.data.subarray(skip) });
    else if (p.kind === 'disk') out.push({ kind: 'disk', offset: p.offset + skip, length: len - skip });
    else out.push({ kind: 'discard', length: len - skip });
    skip = 0;
  }
  return out;
}

/**
 * The operations still to do once `written` objects of `ops` are on tape. A stream cut keeps its
 * record size and its record boundaries (the cut is a whole number of records), so the records that
 * follow are the same bytes an uninterrupted run writes.
 */
export function remainingOps(ops: TapeOp[], written: number): TapeOp[] {
  const out: TapeOp[] = [];
  let left = written;
  for (const op of ops) {
    const n = opObjects(op);
    if (left === 0) {
      out.push(op);
      continue;
    }
    if (n === 0) continue; // locate/register before the cut: already done
    if (left >= n) {
      left -= n;
      continue;
    }
    if (op.op === 'filemarks') out.push({ op: 'filemarks', count: n - left });
    else if (op.op === 'stream') out.push({ op: 'stream', recordSize: op.recordSize, pieces: dropStreamBytes(op.pieces, left * op.recordSize) });
    else throw new Error(`cannot cut a ${op.op} operation`);
    left = 0;
  }
  if (left > 0) throw new Error(`tape holds ${written} objects of the job, more than the ${written - left} it plans`);
  return out;
}

export interface FailureReport {
  /** Segment number within the failed command (sense COMMAND-SPECIFIC INFORMATION). */
  segment?: number;
  segmentsProcessed?: number;
  /** INFORMATION of the copy manager's sense: bytes of the failed segment not written (VALID=1). */
  residual?: number;
  sense?: SenseInfo;
}

/** RECEIVE COPY RESULTS for the failed list: FAILED SEGMENT DETAILS and COPY STATUS. */
export async function readFailure(client: ScsiClient, dm: DataMoverRef, listId: number): Promise<FailureReport> {
  const out: FailureReport = {};
  try {
    const st = await client.copyStatus(dm.target, dm.lun, listId);
    out.segmentsProcessed = st.segmentsProcessed;
  } catch {
    /* the copy manager may have dropped the list (reset): the EXTENDED COPY's own sense still says enough */
  }
  try {
    const fsd = await client.failedSegmentDetails(dm.target, dm.lun, listId);
    if (fsd?.sense.length) {
      const s = decodeSense(fsd.sense);
      out.sense = s;
      if (s.key === SenseKey.COPY_ABORTED && s.commandSpecific !== undefined) out.segment = s.commandSpecific & 0xffff;
      if (s.information !== undefined) out.residual = Number(s.information);
    }
  } catch {
    /* as above */
  }
  return out;
}

/**
 * Tape objects the failed command can have completed by the time segment `seg` failed: all of the
 * segments before it, and at most all of the failed one. `fromResidual` is what the sense's
 * INFORMATION implies (VALID=0: nothing written in the segment; else the unwritten bytes are whole
 * records off the segment's end); the drive's position stays the authority, this is a cross-check.
 */
export function objectWindow(cmd: CompiledCommand, seg: number, residual?: number): { min: number; max: number; fromResidual: number } {
  const per = cmd.segmentObjects;
  const before = per.slice(0, seg).reduce((s, x) => s + x, 0);
  const max = before + (per[seg] ?? 0);
  const rs = cmd.segments[seg]?.streamTransferLength;
  const fromResidual = residual === undefined || !rs ? before : Math.max(before, max - Math.ceil(residual / rs));
  return { min: before, max, fromResidual };
}
