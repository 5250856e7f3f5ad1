/**
 * Turns a backup or restore described as tape operations (records, filemarks, record streams made
 * of inline bytes and disk byte ranges) into EXTENDED COPY parameter lists within the data
 * mover's advertised limits.
 *
 * Why cuts happen only at record boundaries: residue (CAT) lives inside one EXTENDED COPY, so a
 * command that ended mid-record would either drop bytes or pad a short record into the middle of
 * the stream. Every piece is therefore split where it crosses a record boundary, and commands end
 * only at such cut points; the last segment of a stream has CAT=0 and the tape CSCD's PAD=1 pads
 * the final record with zeros, exactly as tar pads its last record.
 */
import { CscdType, encodeParameterList, ListIdUsage, SegmentType, type CscdDescriptor, type SegmentDescriptor } from '../../scsi/xcopy.js';

export interface LuRef {
  /** NAA designator from VPD 83h (association LU). */
  naa: Buffer;
  blockSize: number;
}

export interface CopyLimits {
  maxCscdCount: number;
  maxSegmentCount: number;
  maxDescriptorListLength: number;
  maxInlineDataLength: number;
  maxStreamTransferSize: number;
  /** 0 = no limit (bytes). */
  maxSegmentLength: number;
  supported: ReadonlySet<number>;
}

export type StreamPiece =
  | { kind: 'inline'; data: Buffer }
  /** Disk → tape (backup) or tape → disk (restore), LU byte offset and length. */
  | { kind: 'disk'; offset: number; length: number }
  /** Restore only: drop stream bytes (06h). */
  | { kind: 'discard'; length: number };

export type TapeOp =
  | { op: 'record'; data: Buffer }
  | { op: 'filemarks'; count: number }
  | { op: 'locate'; objectId: number }
  /** 14h: the copy manager registers its own I_T nexus with the tape (persistent reservations). */
  | { op: 'register'; reservationKey: bigint; serviceActionKey: bigint }
  | { op: 'stream'; recordSize: number; pieces: StreamPiece[] };

export interface CompiledCommand {
  listId: number;
  parameterList: Buffer;
  segments: SegmentDescriptor[];
  /** Index of this command's first segment in the whole job (for resume and reporting). */
  firstSegment: number;
  /** Bytes the data mover moves for this command (disk bytes + inline bytes written). */
  dataBytes: number;
  /** Tape objects (records + filemarks) this command writes; restore: 0. */
  objects: number;
  /** Tape objects each segment completes (resume: where the failed segment can have stopped). */
  segmentObjects: number[];
  /** Pieces to re-encode the command (resume prepends a LOCATE). */
  cscds: CscdDescriptor[];
  inline: Buffer;
}

/** The same command with a LOCATE segment in front (resume after a failure). */
export function withLocate(c: CompiledCommand, objectId: number, listId: number): CompiledCommand {
  const segments = [{ type: SegmentType.LOCATE, dst: 1, logicalObjectId: objectId } as SegmentDescriptor, ...c.segments];
  const parameterList = encodeParameterList({ header: { listId, str: false, listIdUsage: ListIdUsage.HOLD, priority: 0 }, cscds: c.cscds, segments, inline: c.inline });
  return { ...c, listId, segments, parameterList, firstSegment: c.firstSegment - 1, segmentObjects: [0, ...c.segmentObjects] };
}

export interface CompileInput {
  direction: 'backup' | 'restore';
  disk: LuRef;
  tape: LuRef;
  ops: TapeOp[];
  limits: CopyLimits;
  /** First list identifier; each command takes the next one (mod 256, skipping 0). */
  listId?: number;
}

interface Unit {
  seg: SegmentDescriptor;
  inline?: Buffer;
  bytes: number;
  /** A command may end after this unit. */
  cutAfter: boolean;
  /** Tape objects completed by this unit (records written, filemarks). */
  objects: number;
  /** Units cut from the same stream piece share it (they merge again inside one command). */
  piece?: number;
}

/**
 * Joins consecutive units of one piece that landed in the same command: pieces are split at every
 * record boundary only so that a command *may* end there.
 */
function mergeUnits(units: Unit[], lim: CopyLimits): Unit[] {
  const out: Unit[] = [];
  const maxSeg = lim.maxSegmentLength || Number.MAX_SAFE_INTEGER;
  for (const u of units) {
    const prev = out[out.length - 1];
    const t = u.seg.type;
    if (prev && u.piece !== undefined && prev.piece === u.piece && prev.seg.type === t && prev.bytes + u.bytes <= maxSeg) {
      if ((t === SegmentType.BLOCK_TO_STREAM || t === SegmentType.STREAM_TO_BLOCK) && prev.seg.blocks! + u.seg.blocks! <= 0xffff) {
        prev.seg = { ...prev.seg, blocks: prev.seg.blocks! + u.seg.blocks!, cat: u.seg.cat };
      } else if (t === SegmentType.INLINE_TO_STREAM || t === SegmentType.STREAM_TO_DISCARD || t === SegmentType.BLOCK_OFFSET_TO_STREAM || t === SegmentType.STREAM_TO_BLOCK_OFFSET) {
        prev.seg = { ...prev.seg, byteCount: prev.seg.byteCount! + u.seg.byteCount!, cat: u.seg.cat };
        if (prev.inline && u.inline) prev.inline = Buffer.concat([prev.inline, u.inline]);
      } else {
        out.push({ ...u });
        continue;
      }
      prev.bytes += u.bytes;
      prev.objects += u.objects;
      prev.cutAfter = u.cutAfter;
      continue;
    }
    out.push({ ...u });
  }
  return out;
}

const DISK = 0, TAPE = 1;
let pieceCounter = 0;
const SEG_LEN: Record<number, number> = { 0x00: 24, 0x01: 24, 0x04: 20, 0x06: 16, 0x08: 28, 0x09: 28, 0x10: 12, 0x12: 12, 0x14: 28 };

export class PlanError extends Error {
  override name = 'PlanError';
}

function cscd(ref: LuRef, pdt: number, pad: boolean): CscdDescriptor {
  return {
    type: CscdType.IDENTIFICATION,
    luIdType: 0,
    nul: false,
    pdt,
    relativeInitiatorPort: 0,
    designator: { codeSet: 1, association: 0, designatorType: 3, value: ref.naa },
    params: pdt === 0 ? { kind: 'block', pad, blockLength: ref.blockSize } : { kind: 'stream', pad, fixed: false, blockLength: 0 },
  };
}

/** Splits a stream's pieces at record boundaries and into segment-sized units. */
function streamUnits(input: CompileInput, recordSize: number, pieces: StreamPiece[]): Unit[] {
  const L = input.disk.blockSize;
  const lim = input.limits;
  const backup = input.direction === 'backup';
  // Merge adjacent inline pieces: one 04h per run of headers.
  const merged: StreamPiece[] = [];
  for (const p of pieces) {
    const last = merged[merged.length - 1];
    if (p.kind === 'inline' && last?.kind === 'inline') last.data = Buffer.concat([last.data, p.data]);
    else if (p.kind === 'inline') merged.push({ kind: 'inline', data: Buffer.from(p.data) });
    else if (p.length > 0) merged.push({ ...p });
  }
  const maxSeg = lim.maxSegmentLength || Number.MAX_SAFE_INTEGER;
  const units: Unit[] = [];
  let pos = 0;
  for (const p of merged) {
    const piece = ++pieceCounter;
    const first = units.length;
    const len = p.kind === 'inline' ? p.data.length : p.length;
    let done = 0;
    while (done < len) {
      const nextBoundary = (Math.floor((pos + done) / recordSize) + 1) * recordSize;
      let take = Math.min(len - done, nextBoundary - (pos + done));
      if (take === nextBoundary - (pos + done) && len - done > take) {
        // Whole records in the middle of a piece may go in one unit (bounded by segment limits).
        const whole = Math.floor((len - done - take) / recordSize) * recordSize;
        let cap = Math.min(maxSeg, p.kind === 'disk' ? 65535 * L : p.kind === 'inline' ? lim.maxInlineDataLength / 2 : 0xffffffff);
        cap = Math.floor(cap / recordSize) * recordSize;
        if (take === recordSize && whole > 0) take += Math.min(whole, Math.max(0, cap - recordSize));
      }
      const at = pos + done;
      const cutAfter = (at + take) % recordSize === 0;
      if (p.kind === 'inline') {
        if (!backup) throw new PlanError('inline data in a restore stream');
        units.push({ seg: { type: SegmentType.INLINE_TO_STREAM, cat: true, dst: TAPE, streamTransferLength: recordSize, byteCount: take }, inline: p.data.subarray(done, done + take), bytes: take, cutAfter, objects: 0 });
      } else if (p.kind === 'discard') {
        if (backup) throw new PlanError('discard in a backup stream');
        units.push({ seg: { type: SegmentType.STREAM_TO_DISCARD, cat: true, src: TAPE, streamTransferLength: recordSize, byteCount: take }, bytes: take, cutAfter, objects: 0 });
      } else {
        const off = p.offset + done;
        const aligned = off % L === 0 && take % L === 0;
        if (aligned) {
          units.push({
            seg: backup
              ? { type: SegmentType.BLOCK_TO_STREAM, cat: true, src: DISK, dst: TAPE, streamTransferLength: recordSize, blocks: take / L, lba: off / L }
              : { type: SegmentType.STREAM_TO_BLOCK, cat: true, src: TAPE, dst: DISK, streamTransferLength: recordSize, blocks: take / L, lba: off / L },
            bytes: take,
            cutAfter,
            objects: 0,
          });
        } else {
          units.push({
            seg: {
              type: backup ? SegmentType.BLOCK_OFFSET_TO_STREAM : SegmentType.STREAM_TO_BLOCK_OFFSET,
              cat: true, src: backup ? DISK : TAPE, dst: backup ? TAPE : DISK, streamTransferLength: recordSize,
              byteCount: take, lba: Math.floor(off / L), byteOffset: off % L,
            },
            bytes: take,
            cutAfter,
            objects: 0,
          });
        }
      }
      done += take;
    }
    for (let k = first; k < units.length; k++) units[k]!.piece = piece;
    pos += len;
  }
  if (units.length) {
    const last = units[units.length - 1]!;
    last.seg.cat = false;
    last.cutAfter = true;
  }
  return units;
}

export function compile(input: CompileInput): CompiledCommand[] {
  const lim = input.limits;
  const backup = input.direction === 'backup';
  const units: Unit[] = [];
  for (const op of input.ops) {
    if (op.op === 'record') {
      if (!backup) throw new PlanError('record write in a restore');
      units.push({ seg: { type: SegmentType.INLINE_TO_STREAM, cat: false, dst: TAPE, streamTransferLength: op.data.length, byteCount: op.data.length }, inline: op.data, bytes: op.data.length, cutAfter: true, objects: 1 });
    } else if (op.op === 'filemarks') {
      units.push({ seg: { type: SegmentType.WRITE_FILEMARKS, dst: TAPE, count: op.count, immed: false }, bytes: 0, cutAfter: true, objects: op.count });
    } else if (op.op === 'register') {
      const key = (k: bigint) => {
        const b = Buffer.alloc(8);
        b.writeBigUInt64BE(k);
        return b;
      };
      units.push({ seg: { type: SegmentType.REGISTER_KEY, dst: TAPE, reservationKey: key(op.reservationKey), serviceActionKey: key(op.serviceActionKey) }, bytes: 0, cutAfter: true, objects: 0 });
    } else if (op.op === 'locate') {
      units.push({ seg: { type: SegmentType.LOCATE, dst: TAPE, logicalObjectId: op.objectId }, bytes: 0, cutAfter: true, objects: 0 });
    } else {
      if (op.recordSize > lim.maxStreamTransferSize) throw new PlanError(`record size ${op.recordSize} exceeds the data mover's maximum stream transfer size ${lim.maxStreamTransferSize}`);
      const su = streamUnits(input, op.recordSize, op.pieces);
      // Records completed: whole records at each cut; the padded last record at the end.
      let at = 0;
      let counted = 0;
      for (const u of su) {
        at += u.bytes;
        const done = u === su[su.length - 1] ? Math.ceil(at / op.recordSize) : Math.floor(at / op.recordSize);
        u.objects = backup ? done - counted : 0;
        counted = done;
      }
      units.push(...su);
    }
  }
  for (const u of units) {
    if (!lim.supported.has(u.seg.type)) throw new PlanError(`the data mover does not implement segment type ${u.seg.type.toString(16).padStart(2, '0')}h`);
  }
  const cscds = [cscd(input.disk, 0x00, false), cscd(input.tape, 0x01, true)];
  const cscdBytes = 64;
  const out: CompiledCommand[] = [];
  let listId = input.listId ?? 1;
  let i = 0;
  let segIndex = 0;
  while (i < units.length) {
    let segs = 0, descBytes = cscdBytes, inlineBytes = 0, lastCut = -1;
    let j = i;
    for (; j < units.length; j++) {
      const u = units[j]!;
      const il = u.inline ? (u.inline.length + 3) & ~3 : 0;
      if (segs + 1 > lim.maxSegmentCount || descBytes + SEG_LEN[u.seg.type]! > lim.maxDescriptorListLength || inlineBytes + il > lim.maxInlineDataLength) break;
      segs++;
      descBytes += SEG_LEN[u.seg.type]!;
      inlineBytes += il;
      if (u.cutAfter) lastCut = j;
    }
    const end = j === units.length ? j - 1 : lastCut;
    if (end < i) throw new PlanError('the data mover limits leave no room for one record of the stream in a command');
    const chosen = mergeUnits(units.slice(i, end + 1), lim);
    const inlineParts: Buffer[] = [];
    let inlineOff = 0;
    const segments: SegmentDescriptor[] = chosen.map((u) => {
      if (!u.inline) return { ...u.seg };
      const s = { ...u.seg, inlineOffset: inlineOff };
      const padded = (u.inline.length + 3) & ~3;
      inlineParts.push(u.inline, Buffer.alloc(padded - u.inline.length));
      inlineOff += padded;
      return s;
    });
    const inline = Buffer.concat(inlineParts);
    const parameterList = encodeParameterList({ header: { listId, str: false, listIdUsage: ListIdUsage.HOLD, priority: 0 }, cscds, segments, inline });
    out.push({ listId, parameterList, segments, firstSegment: segIndex, dataBytes: chosen.reduce((s, u) => s + u.bytes, 0), objects: chosen.reduce((s, u) => s + u.objects, 0), segmentObjects: chosen.map((u) => u.objects), cscds, inline });
    segIndex += segments.length;
    listId = (listId % 255) + 1;
    i = end + 1;
  }
  return out;
}
