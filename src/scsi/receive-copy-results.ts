/**
 * RECEIVE COPY RESULTS (84h, LID1 service actions): the CDB and the four responses (COPY STATUS,
 * RECEIVE DATA, OPERATING PARAMETERS, FAILED SEGMENT DETAILS), encode and decode. The copy manager
 * encodes responses; the backup server decodes them.
 */
import { bit, field, struct, u8, u16, u32, blob } from './layout.js';
import { SpcOp } from './spc.js';
import type { CdbRequest } from './cdb.js';

export const RcrServiceAction = {
  COPY_STATUS: 0x00,
  RECEIVE_DATA: 0x01,
  OPERATING_PARAMETERS: 0x03,
  FAILED_SEGMENT_DETAILS: 0x04,
} as const;

export interface RcrCdb {
  serviceAction: number;
  listId: number;
  allocationLength: number;
}

interface RcrCdbRaw {
  opcode: number;
  sa: number;
  listId: number;
  alloc: number;
  control: number;
}
const rcrCdb = struct<RcrCdbRaw>([u8('opcode'), u8('sa'), u8('listId'), blob(7), u32('alloc'), blob(1), u8('control')]);

export function encodeRcrCdb(v: Partial<RcrCdb> & { serviceAction: number }): Buffer {
  return rcrCdb.encode({ opcode: SpcOp.RECEIVE_COPY_RESULTS, sa: field(v.serviceAction, 0, 5), listId: v.listId ?? 0, alloc: v.allocationLength ?? 1024, control: 0 });
}

export const rcrRequest = (v: Partial<RcrCdb> & { serviceAction: number }): CdbRequest => ({ cdb: encodeRcrCdb(v), direction: 'in', length: v.allocationLength ?? 1024 });

export function decodeRcrCdb(cdb: Buffer): RcrCdb {
  const r = rcrCdb.decode(cdb);
  return { serviceAction: field(r.sa, 0, 5), listId: r.listId, allocationLength: r.alloc };
}

// ---------------------------------------------------------------- SA 00h COPY STATUS

export const CopyManagerStatus = { IN_PROGRESS: 0x00, COMPLETED_GOOD: 0x01, COMPLETED_ERROR: 0x02 } as const;
export const TransferCountUnits = { BYTES: 0x00, KIB: 0x01, MIB: 0x02, GIB: 0x03, TIB: 0x04, PIB: 0x05, EIB: 0x06, BLOCKS: 0xf1 } as const;

export interface CopyStatus {
  heldDataDiscarded: boolean;
  status: number;
  segmentsProcessed: number;
  units: number;
  transferCount: number;
}

interface CopyStatusRaw {
  avail: number;
  status: number;
  segments: number;
  units: number;
  count: number;
}
const copyStatus = struct<CopyStatusRaw>([u32('avail'), u8('status'), u16('segments'), u8('units'), u32('count')]);

export function encodeCopyStatus(v: CopyStatus): Buffer {
  return copyStatus.encode({
    avail: 8,
    status: (v.heldDataDiscarded ? 0x80 : 0) | field(v.status, 0, 7),
    segments: v.segmentsProcessed,
    units: v.units,
    count: v.transferCount,
  });
}

export function decodeCopyStatus(b: Buffer): CopyStatus {
  const r = copyStatus.decode(b);
  return { heldDataDiscarded: bit(r.status, 7), status: field(r.status, 0, 7), segmentsProcessed: r.segments, units: r.units, transferCount: r.count };
}

/** A byte count in the units FreeBSD and dmsim use: bytes while it fits 32 bits, else MiB. */
export function transferCountOf(bytes: number): { units: number; transferCount: number } {
  if (bytes <= 0xffffffff) return { units: TransferCountUnits.BYTES, transferCount: bytes };
  return { units: TransferCountUnits.MIB, transferCount: Math.min(0xffffffff, Math.floor(bytes / 2 ** 20)) };
}

// ---------------------------------------------------------------- SA 01h RECEIVE DATA

export function encodeReceiveData(held: Buffer): Buffer {
  const b = Buffer.alloc(4 + held.length);
  b.writeUInt32BE(held.length, 0);
  held.copy(b, 4);
  return b;
}

export function decodeReceiveData(b: Buffer): Buffer {
  const n = b.readUInt32BE(0);
  return Buffer.from(b.subarray(4, 4 + n));
}

// ---------------------------------------------------------------- SA 03h OPERATING PARAMETERS

export interface OperatingParameters {
  snlid: boolean;
  maxCscdCount: number;
  maxSegmentCount: number;
  maxDescriptorListLength: number;
  maxSegmentLength: number;
  maxInlineDataLength: number;
  heldDataLimit: number;
  maxStreamTransferSize: number;
  totalConcurrentCopies: number;
  maxConcurrentCopies: number;
  dataSegmentGranularity: number;
  inlineDataGranularity: number;
  heldDataGranularity: number;
  /** Implemented descriptor type codes, ascending. */
  implementedCodes: number[];
}

interface OpParamsRaw {
  avail: number;
  snlid: number;
  maxCscd: number;
  maxSeg: number;
  maxDescList: number;
  maxSegLen: number;
  maxInline: number;
  heldLimit: number;
  maxStream: number;
  totalConc: number;
  maxConc: number;
  dataGran: number;
  inlineGran: number;
  heldGran: number;
  codesLen: number;
}
const opParams = struct<OpParamsRaw>([
  u32('avail'),
  u8('snlid'),
  blob(3),
  u16('maxCscd'),
  u16('maxSeg'),
  u32('maxDescList'),
  u32('maxSegLen'),
  u32('maxInline'),
  u32('heldLimit'),
  u32('maxStream'),
  blob(2),
  u16('totalConc'),
  u8('maxConc'),
  u8('dataGran'),
  u8('inlineGran'),
  u8('heldGran'),
  blob(3),
  u8('codesLen'),
]);

export function encodeOperatingParameters(v: OperatingParameters): Buffer {
  const codes = [...v.implementedCodes].sort((a, b) => a - b);
  const head = opParams.encode({
    avail: opParams.span - 4 + codes.length,
    snlid: v.snlid ? 1 : 0,
    maxCscd: v.maxCscdCount,
    maxSeg: v.maxSegmentCount,
    maxDescList: v.maxDescriptorListLength,
    maxSegLen: v.maxSegmentLength,
    maxInline: v.maxInlineDataLength,
    heldLimit: v.heldDataLimit,
    maxStream: v.maxStreamTransferSize,
    totalConc: v.totalConcurrentCopies,
    maxConc: v.maxConcurrentCopies,
    dataGran: v.dataSegmentGranularity,
    inlineGran: v.inlineDataGranularity,
    heldGran: v.heldDataGranularity,
    codesLen: codes.length,
  });
  return Buffer.concat([head, Buffer.from(codes)]);
}

export function decodeOperatingParameters(b: Buffer): OperatingParameters {
  const r = opParams.decode(b);
  return {
    snlid: bit(r.snlid, 0),
    maxCscdCount: r.maxCscd,
    maxSegmentCount: r.maxSeg,
    maxDescriptorListLength: r.maxDescList,
    maxSegmentLength: r.maxSegLen,
    maxInlineDataLength: r.maxInline,
    heldDataLimit: r.heldLimit,
    maxStreamTransferSize: r.maxStream,
    totalConcurrentCopies: r.totalConc,
    maxConcurrentCopies: r.maxConc,
    dataSegmentGranularity: r.dataGran,
    inlineDataGranularity: r.inlineGran,
    heldDataGranularity: r.heldGran,
    implementedCodes: [...b.subarray(opParams.span, opParams.span + r.codesLen)],
  };
}

// ---------------------------------------------------------------- SA 04h FAILED SEGMENT DETAILS

export interface FailedSegmentDetails {
  /** Status the EXTENDED COPY ended with. */
  commandStatus: number;
  /** The sense data it returned. */
  sense: Buffer;
}

/** `undefined` = the list is known but has no failure details: AVAILABLE DATA 0. */
export function encodeFailedSegmentDetails(v: FailedSegmentDetails | undefined): Buffer {
  if (!v) return Buffer.alloc(60);
  const b = Buffer.alloc(60 + v.sense.length);
  b.writeUInt32BE(b.length - 4, 0);
  b[56] = v.commandStatus;
  b.writeUInt16BE(v.sense.length, 58);
  v.sense.copy(b, 60);
  return b;
}

export function decodeFailedSegmentDetails(b: Buffer): FailedSegmentDetails | undefined {
  if (b.readUInt32BE(0) === 0) return undefined;
  const n = b.readUInt16BE(58);
  return { commandStatus: b[56]!, sense: Buffer.from(b.subarray(60, 60 + n)) };
}
