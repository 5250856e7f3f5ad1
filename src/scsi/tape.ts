/**
 * Sequential-access (SSC-3/SSC-4) wire structures: the tape CDB fields, READ POSITION (short, long,
 * extended), READ BLOCK LIMITS, REPORT DENSITY SUPPORT and the tape mode pages (0Fh, 10h, 11h).
 * The emulated drive encodes responses and decodes CDBs with these; the backup server and the copy
 * manager encode CDBs and decode responses with the same functions.
 */
import { bit, field, pack, struct, u8, u16, u24, u32, u64, blob, asciiField, type Struct } from './layout.js';
import type { CdbRequest } from './cdb.js';

export const TapeOp = {
  TEST_UNIT_READY: 0x00,
  REWIND: 0x01,
  READ_BLOCK_LIMITS: 0x05,
  READ_6: 0x08,
  WRITE_6: 0x0a,
  WRITE_FILEMARKS_6: 0x10,
  SPACE_6: 0x11,
  MODE_SELECT_6: 0x15,
  ERASE_6: 0x19,
  MODE_SENSE_6: 0x1a,
  LOAD_UNLOAD: 0x1b,
  PREVENT_ALLOW: 0x1e,
  LOCATE_10: 0x2b,
  READ_POSITION: 0x34,
  REPORT_DENSITY_SUPPORT: 0x44,
  LOG_SELECT: 0x4c,
  LOG_SENSE: 0x4d,
  MODE_SELECT_10: 0x55,
  MODE_SENSE_10: 0x5a,
  WRITE_FILEMARKS_16: 0x80,
  READ_16: 0x88,
  WRITE_16: 0x8a,
  READ_ATTRIBUTE: 0x8c,
  WRITE_ATTRIBUTE: 0x8d,
  SPACE_16: 0x91,
  LOCATE_16: 0x92,
  /** SERVICE ACTION IN(12); SA 01h = READ MEDIA SERIAL NUMBER. */
  SERVICE_ACTION_IN_12: 0xab,
} as const;

/** SPACE CODE field (byte 1 bits 3..0). 2 (sequential filemarks) and 4/5 (setmarks) are not offered by dmsim. */
export const SpaceCode = { BLOCKS: 0, FILEMARKS: 1, SEQUENTIAL_FILEMARKS: 2, END_OF_DATA: 3, SETMARKS: 4, SEQUENTIAL_SETMARKS: 5 } as const;

/** LOCATE(16) DEST_TYPE (byte 1 bits 5..3). */
export const LocateDestType = { OBJECT: 0, FILE: 1, END_OF_DATA: 3 } as const;

/** READ POSITION service actions (byte 1 bits 4..0). */
export const ReadPositionForm = { SHORT: 0x00, SHORT_VENDOR: 0x01, LONG: 0x06, EXTENDED: 0x08 } as const;

const signExtend24 = (v: number) => (v & 0x800000 ? v - 0x1000000 : v);

// ---------------------------------------------------------------- CDBs

/** READ(6) / WRITE(6): FIXED (bit 0), SILI (bit 1, READ only), 24-bit TRANSFER LENGTH. */
export interface ReadWrite6Cdb {
  fixed: boolean;
  sili: boolean;
  transferLength: number;
}

interface Cdb6Raw {
  opcode: number;
  flags: number;
  len: number;
  control: number;
}
const cdb6 = struct<Cdb6Raw>([u8('opcode'), u8('flags'), u24('len'), u8('control')]);

export function decodeReadWrite6(cdb: Buffer): ReadWrite6Cdb {
  const r = cdb6.decode(cdb);
  return { fixed: bit(r.flags, 0), sili: bit(r.flags, 1), transferLength: r.len };
}

export function encodeRead6(v: ReadWrite6Cdb): Buffer {
  return cdb6.encode({ opcode: TapeOp.READ_6, flags: pack([v.fixed, 0], [v.sili, 1]), len: v.transferLength, control: 0 });
}

/** READ(6) of one variable-length record of up to `max` bytes (FIXED=0), SILI as given. */
export const readRecord6 = (max: number, sili: boolean): CdbRequest => ({
  cdb: encodeRead6({ fixed: false, sili, transferLength: max }),
  direction: 'in',
  length: max,
});

export function encodeWrite6(v: Omit<ReadWrite6Cdb, 'sili'>): Buffer {
  return cdb6.encode({ opcode: TapeOp.WRITE_6, flags: pack([v.fixed, 0]), len: v.transferLength, control: 0 });
}

/** WRITE FILEMARKS(6): IMMED bit 0, WSMK bit 1, 24-bit count. */
export interface WriteFilemarksCdb {
  immed: boolean;
  wsmk: boolean;
  count: number;
}

export function decodeWriteFilemarks6(cdb: Buffer): WriteFilemarksCdb {
  const r = cdb6.decode(cdb);
  return { immed: bit(r.flags, 0), wsmk: bit(r.flags, 1), count: r.len };
}

export function encodeWriteFilemarks6(v: Partial<WriteFilemarksCdb> & { count: number }): Buffer {
  return cdb6.encode({ opcode: TapeOp.WRITE_FILEMARKS_6, flags: pack([!!v.immed, 0], [!!v.wsmk, 1]), len: v.count, control: 0 });
}

/** SPACE(6)/(16): CODE and a signed COUNT (negative = toward BOP). */
export interface SpaceCdb {
  code: number;
  count: number;
}

export function decodeSpace6(cdb: Buffer): SpaceCdb {
  const r = cdb6.decode(cdb);
  return { code: field(r.flags, 0, 4), count: signExtend24(r.len) };
}

export function encodeSpace6(v: SpaceCdb): Buffer {
  if (v.count < -0x800000 || v.count > 0x7fffff) throw new RangeError(`SPACE(6) count ${v.count} out of 24-bit range`);
  return cdb6.encode({ opcode: TapeOp.SPACE_6, flags: field(v.code, 0, 4), len: v.count & 0xffffff, control: 0 });
}

export function decodeSpace16(cdb: Buffer): SpaceCdb {
  if (cdb.length < 16) throw new RangeError('SPACE(16) needs 16 bytes');
  return { code: field(cdb[1]!, 0, 4), count: Number(cdb.readBigInt64BE(4)) };
}

export function encodeSpace16(v: SpaceCdb): Buffer {
  const b = Buffer.alloc(16);
  b[0] = TapeOp.SPACE_16;
  b[1] = field(v.code, 0, 4);
  b.writeBigInt64BE(BigInt(v.count), 4);
  return b;
}

/** LOCATE(10) and LOCATE(16) in one shape; BT only exists in (10), DEST_TYPE and BAM only in (16). */
export interface LocateCdb {
  immed: boolean;
  cp: boolean;
  bt: boolean;
  destType: number;
  bam: boolean;
  partition: number;
  logicalId: number;
}

interface Locate10Raw {
  opcode: number;
  flags: number;
  r2: number;
  id: number;
  r7: number;
  partition: number;
  control: number;
}
const locate10 = struct<Locate10Raw>([u8('opcode'), u8('flags'), u8('r2'), u32('id'), u8('r7'), u8('partition'), u8('control')]);

export function decodeLocate10(cdb: Buffer): LocateCdb {
  const r = locate10.decode(cdb);
  return { immed: bit(r.flags, 0), cp: bit(r.flags, 1), bt: bit(r.flags, 2), destType: 0, bam: false, partition: r.partition, logicalId: r.id };
}

export function encodeLocate10(v: Partial<LocateCdb> & { logicalId: number }): Buffer {
  return locate10.encode({
    opcode: TapeOp.LOCATE_10,
    flags: pack([!!v.immed, 0], [!!v.cp, 1], [!!v.bt, 2]),
    r2: 0,
    id: v.logicalId,
    r7: 0,
    partition: v.partition ?? 0,
    control: 0,
  });
}

interface Locate16Raw {
  opcode: number;
  flags: number;
  flags2: number;
  partition: number;
  id: number;
  r12: number;
  r13: number;
  r14: number;
  control: number;
}
const locate16 = struct<Locate16Raw>([u8('opcode'), u8('flags'), u8('flags2'), u8('partition'), u64('id'), u8('r12'), u8('r13'), u8('r14'), u8('control')]);

export function decodeLocate16(cdb: Buffer): LocateCdb {
  const r = locate16.decode(cdb);
  return {
    immed: bit(r.flags, 0),
    cp: bit(r.flags, 1),
    bt: false,
    destType: field(r.flags, 3, 3),
    bam: bit(r.flags2, 0),
    partition: r.partition,
    logicalId: r.id,
  };
}

export function encodeLocate16(v: Partial<LocateCdb> & { logicalId: number }): Buffer {
  return locate16.encode({
    opcode: TapeOp.LOCATE_16,
    flags: pack([!!v.immed, 0], [!!v.cp, 1], [v.destType ?? 0, 3, 3]),
    flags2: pack([!!v.bam, 0]),
    partition: v.partition ?? 0,
    id: v.logicalId,
    r12: 0,
    r13: 0,
    r14: 0,
    control: 0,
  });
}

/** READ POSITION: service action and allocation length (used by the extended form). */
export interface ReadPositionCdb {
  serviceAction: number;
  allocationLength: number;
}

interface ReadPositionRaw {
  opcode: number;
  sa: number;
  r2: Uint8Array;
  alloc: number;
  control: number;
}
const readPositionCdb = struct<ReadPositionRaw>([u8('opcode'), u8('sa'), blob(5, 'r2'), u16('alloc'), u8('control')]);

export function decodeReadPositionCdb(cdb: Buffer): ReadPositionCdb {
  const r = readPositionCdb.decode(cdb);
  return { serviceAction: field(r.sa, 0, 5), allocationLength: r.alloc };
}

export function encodeReadPositionCdb(v: ReadPositionCdb): Buffer {
  return readPositionCdb.encode({ opcode: TapeOp.READ_POSITION, sa: field(v.serviceAction, 0, 5), r2: Buffer.alloc(5), alloc: v.allocationLength, control: 0 });
}

export const readPositionRequest = (v: ReadPositionCdb): CdbRequest => ({ cdb: encodeReadPositionCdb(v), direction: 'in', length: v.allocationLength });

/** LOAD UNLOAD: IMMED (byte 1 bit 0); byte 4: HOLD bit 3, EOT bit 2, RETEN bit 1, LOAD bit 0. */
export interface LoadUnloadCdb {
  immed: boolean;
  hold: boolean;
  eot: boolean;
  reten: boolean;
  load: boolean;
}

export function decodeLoadUnload(cdb: Buffer): LoadUnloadCdb {
  const b4 = cdb[4] ?? 0;
  return { immed: bit(cdb[1] ?? 0, 0), hold: bit(b4, 3), eot: bit(b4, 2), reten: bit(b4, 1), load: bit(b4, 0) };
}

export function encodeLoadUnload(v: Partial<LoadUnloadCdb>): Buffer {
  return Buffer.from([TapeOp.LOAD_UNLOAD, pack([!!v.immed, 0]), 0, 0, pack([!!v.load, 0], [!!v.reten, 1], [!!v.eot, 2], [!!v.hold, 3]), 0]);
}

/** ERASE(6): IMMED bit 1, LONG bit 0. */
export function decodeErase6(cdb: Buffer): { immed: boolean; long: boolean } {
  return { immed: bit(cdb[1] ?? 0, 1), long: bit(cdb[1] ?? 0, 0) };
}

export function encodeErase6(v: { immed?: boolean; long?: boolean }): Buffer {
  return Buffer.from([TapeOp.ERASE_6, pack([!!v.long, 0], [!!v.immed, 1]), 0, 0, 0, 0]);
}

export function encodeRewind(immed = false): Buffer {
  return Buffer.from([TapeOp.REWIND, immed ? 1 : 0, 0, 0, 0, 0]);
}

function encodeReadBlockLimitsCdb(mloi = false): Buffer {
  return Buffer.from([TapeOp.READ_BLOCK_LIMITS, mloi ? 1 : 0, 0, 0, 0, 0]);
}

/** READ BLOCK LIMITS with its data-in: 6 bytes, 20 with MLOI. */
export const readBlockLimitsRequest = (mloi = false): CdbRequest => ({ cdb: encodeReadBlockLimitsCdb(mloi), direction: 'in', length: mloi ? BLOCK_LIMITS_MLOI_LENGTH : BLOCK_LIMITS_LENGTH });

/** REPORT DENSITY SUPPORT: MEDIA (byte 1 bit 0), MEDIUM TYPE (bit 1), allocation length bytes 7–8. */
export interface ReportDensityCdb {
  media: boolean;
  mediumType: boolean;
  allocationLength: number;
}

export function decodeReportDensityCdb(cdb: Buffer): ReportDensityCdb {
  return { media: bit(cdb[1] ?? 0, 0), mediumType: bit(cdb[1] ?? 0, 1), allocationLength: cdb.readUInt16BE(7) };
}

export function encodeReportDensityCdb(v: Partial<ReportDensityCdb>): Buffer {
  const b = Buffer.alloc(10);
  b[0] = TapeOp.REPORT_DENSITY_SUPPORT;
  b[1] = pack([!!v.media, 0], [!!v.mediumType, 1]);
  b.writeUInt16BE(v.allocationLength ?? 0xffff, 7);
  return b;
}

// ---------------------------------------------------------------- READ POSITION data

/** Everything the three forms can carry; each form encodes the subset it has. */
export interface TapePosition {
  bop: boolean;
  eop: boolean;
  /** Block/object location unknown (short: LOLU; long: LONU). */
  locationUnknown: boolean;
  /** Long form MPU: logical file identifier unknown. */
  markUnknown?: boolean;
  bpew: boolean;
  partition: number;
  /** Next logical object to be read or written. */
  firstObject: number;
  /** Next object to be written to the medium from the buffer (dmsim: == firstObject). */
  lastObject: number;
  /** Filemarks between BOP and the position (long form). */
  fileId: number;
  objectsInBuffer: number;
  bytesInBuffer: number;
}

interface ShortPosRaw {
  flags: number;
  partition: number;
  r2: number;
  first: number;
  last: number;
  r12: number;
  objects: number;
  bytes: number;
}
const shortPos = struct<ShortPosRaw>([u8('flags'), u8('partition'), u16('r2'), u32('first'), u32('last'), u8('r12'), u24('objects'), u32('bytes')]);

interface LongPosRaw {
  flags: number;
  r1: number;
  partition: number;
  object: number;
  file: number;
  set: number;
}
const longPos = struct<LongPosRaw>([u8('flags'), u24('r1'), u32('partition'), u64('object'), u64('file'), u64('set')]);

interface ExtPosRaw {
  flags: number;
  partition: number;
  addLen: number;
  r4: number;
  objects: number;
  first: number;
  last: number;
  bytes: number;
}
const extPos = struct<ExtPosRaw>([u8('flags'), u8('partition'), u16('addLen'), u8('r4'), u24('objects'), u64('first'), u64('last'), u64('bytes')]);

export const READ_POSITION_LONG_LENGTH = longPos.span;

/** Short form (20 bytes). PERR is set when an identifier does not fit 32 bits (the field then saturates). */
export function encodePositionShort(p: TapePosition): Buffer {
  const perr = p.firstObject > 0xffffffff || p.lastObject > 0xffffffff;
  return shortPos.encode({
    flags: pack([p.bop, 7], [p.eop, 6], [p.locationUnknown, 2], [perr, 1], [p.bpew, 0]),
    partition: p.partition,
    r2: 0,
    first: Math.min(p.firstObject, 0xffffffff),
    last: Math.min(p.lastObject, 0xffffffff),
    r12: 0,
    objects: p.objectsInBuffer,
    bytes: p.bytesInBuffer,
  });
}

export function decodePositionShort(b: Buffer): TapePosition & { perr: boolean } {
  const r = shortPos.decode(b);
  return {
    bop: bit(r.flags, 7),
    eop: bit(r.flags, 6),
    locationUnknown: bit(r.flags, 2),
    perr: bit(r.flags, 1),
    bpew: bit(r.flags, 0),
    partition: r.partition,
    firstObject: r.first,
    lastObject: r.last,
    fileId: 0,
    objectsInBuffer: r.objects,
    bytesInBuffer: r.bytes,
  };
}

/** Long form (32 bytes): partition, object number and logical file identifier. */
export function encodePositionLong(p: TapePosition): Buffer {
  return longPos.encode({
    flags: pack([p.bop, 7], [p.eop, 6], [!!p.markUnknown, 3], [p.locationUnknown, 2], [p.bpew, 0]),
    r1: 0,
    partition: p.partition,
    object: p.firstObject,
    file: p.fileId,
    set: 0,
  });
}

export function decodePositionLong(b: Buffer): TapePosition {
  const r = longPos.decode(b);
  return {
    bop: bit(r.flags, 7),
    eop: bit(r.flags, 6),
    markUnknown: bit(r.flags, 3),
    locationUnknown: bit(r.flags, 2),
    bpew: bit(r.flags, 0),
    partition: r.partition,
    firstObject: r.object,
    lastObject: r.object,
    fileId: r.file,
    objectsInBuffer: 0,
    bytesInBuffer: 0,
  };
}

/** Extended form (32 bytes, ADDITIONAL LENGTH 1Ch). */
export function encodePositionExtended(p: TapePosition): Buffer {
  return extPos.encode({
    flags: pack([p.bop, 7], [p.eop, 6], [p.locationUnknown, 2], [p.bpew, 0]),
    partition: p.partition,
    addLen: extPos.span - 4,
    r4: 0,
    objects: p.objectsInBuffer,
    first: p.firstObject,
    last: p.lastObject,
    bytes: p.bytesInBuffer,
  });
}

export function decodePositionExtended(b: Buffer): TapePosition {
  const r = extPos.decode(b);
  return {
    bop: bit(r.flags, 7),
    eop: bit(r.flags, 6),
    locationUnknown: bit(r.flags, 2),
    bpew: bit(r.flags, 0),
    partition: r.partition,
    firstObject: r.first,
    lastObject: r.last,
    fileId: 0,
    objectsInBuffer: r.objects,
    bytesInBuffer: r.bytes,
  };
}

// ---------------------------------------------------------------- READ BLOCK LIMITS

export interface BlockLimits {
  granularity: number;
  maxBlockLength: number;
  minBlockLength: number;
  /** Only with MLOI=1 (SSC-4): MAXIMUM LOGICAL OBJECT IDENTIFIER. */
  maxLogicalObjectId?: number;
}

interface BlockLimitsRaw {
  g: number;
  max: number;
  min: number;
}
const blockLimits = struct<BlockLimitsRaw>([u8('g'), u24('max'), u16('min')]);
interface MloiRaw {
  mloi: number;
}
const blockLimitsMloi = struct<MloiRaw>([blob(12), u64('mloi')]);

const BLOCK_LIMITS_LENGTH = blockLimits.span;
const BLOCK_LIMITS_MLOI_LENGTH = blockLimitsMloi.span;

export function encodeBlockLimits(v: BlockLimits, mloi = false): Buffer {
  if (mloi) {
    // SSC-4: MLOI=1 data is 20 bytes; only bytes 12–19 (the identifier) are defined.
    return blockLimitsMloi.encode({ mloi: v.maxLogicalObjectId ?? 0 });
  }
  return blockLimits.encode({ g: field(v.granularity, 0, 5), max: v.maxBlockLength, min: v.minBlockLength });
}

/** `mloi` says which CDB form was sent: the data itself does not tell the two apart. */
export function decodeBlockLimits(b: Buffer, mloi = false): BlockLimits {
  if (mloi) {
    return { granularity: 0, maxBlockLength: 0, minBlockLength: 0, maxLogicalObjectId: blockLimitsMloi.decode(b).mloi };
  }
  const r = blockLimits.decode(b);
  return { granularity: field(r.g, 0, 5), maxBlockLength: r.max, minBlockLength: r.min };
}

// ---------------------------------------------------------------- REPORT DENSITY SUPPORT

export interface DensityDescriptor {
  primaryCode: number;
  secondaryCode: number;
  wrtok: boolean;
  dup: boolean;
  deflt: boolean;
  bitsPerMm: number;
  mediaWidth: number;
  tracks: number;
  /** Units of 10^6 bytes. */
  capacityMB: number;
  organization: string;
  name: string;
  description: string;
}

interface DensityRaw {
  primary: number;
  secondary: number;
  flags: number;
  descLen: number;
  bpmm: number;
  width: number;
  tracks: number;
  capacity: number;
  org: Uint8Array;
  name: Uint8Array;
  desc: Uint8Array;
}
const densityDesc = struct<DensityRaw>([
  u8('primary'),
  u8('secondary'),
  u8('flags'),
  u16('descLen'),
  u24('bpmm'),
  u16('width'),
  u16('tracks'),
  u32('capacity'),
  blob(8, 'org'),
  blob(8, 'name'),
  blob(20, 'desc'),
]);

const ascii = (b: Uint8Array) => Buffer.from(b).toString('latin1').replace(/[ \0]+$/, '');

/** Header (AVAILABLE DENSITY SUPPORT LENGTH = n − 2) then 52-byte descriptors; DLV=0 as HP/Quantum drives do. */
export function encodeDensityReport(descs: readonly DensityDescriptor[]): Buffer {
  const out = Buffer.alloc(4 + descs.length * densityDesc.span);
  out.writeUInt16BE(out.length - 2, 0);
  descs.forEach((d, i) =>
    densityDesc.encode(
      {
        primary: d.primaryCode,
        secondary: d.secondaryCode,
        flags: pack([d.wrtok, 7], [d.dup, 6], [d.deflt, 5]),
        descLen: 0,
        bpmm: d.bitsPerMm,
        width: d.mediaWidth,
        tracks: d.tracks,
        capacity: d.capacityMB,
        org: asciiField(d.organization, 8),
        name: asciiField(d.name, 8),
        desc: asciiField(d.description, 20),
      },
      out,
      4 + i * densityDesc.span,
    ),
  );
  return out;
}

/** The descriptors of a REPORT DENSITY SUPPORT answer (a 4-byte header, then fixed-size descriptors). */
function decodeReportList<R, T>(b: Buffer, desc: Struct<R>, what: string, map: (r: R) => T): T[] {
  if (b.length < 4) throw new RangeError(`${what} shorter than its header`);
  const end = Math.min(b.length, 2 + b.readUInt16BE(0));
  const out: T[] = [];
  for (let p = 4; p + desc.span <= end; p += desc.span) out.push(map(desc.decode(b, p)));
  return out;
}

export function decodeDensityReport(b: Buffer): DensityDescriptor[] {
  return decodeReportList(b, densityDesc, 'density report', (r) => ({
    primaryCode: r.primary,
    secondaryCode: r.secondary,
    wrtok: bit(r.flags, 7),
    dup: bit(r.flags, 6),
    deflt: bit(r.flags, 5),
    bitsPerMm: r.bpmm,
    mediaWidth: r.width,
    tracks: r.tracks,
    capacityMB: r.capacity,
    organization: ascii(r.org),
    name: ascii(r.name),
    description: ascii(r.desc),
  }));
}

export interface MediumTypeDescriptor {
  mediumType: number;
  densityCodes: number[];
  mediaWidth: number;
  /** Meters. */
  mediumLength: number;
  organization: string;
  name: string;
  description: string;
}

interface MediumTypeRaw {
  type: number;
  r1: number;
  descLen: number;
  count: number;
  codes: Uint8Array;
  width: number;
  length: number;
  r18: number;
  org: Uint8Array;
  name: Uint8Array;
  desc: Uint8Array;
}
const mediumTypeDesc = struct<MediumTypeRaw>([
  u8('type'),
  u8('r1'),
  u16('descLen'),
  u8('count'),
  blob(9, 'codes'),
  u16('width'),
  u16('length'),
  u16('r18'),
  blob(8, 'org'),
  blob(8, 'name'),
  blob(20, 'desc'),
]);

/** MEDIUM TYPE=1 answer: 56-byte medium type descriptors (DESCRIPTOR LENGTH 52 as SSC-3 gives it). */
export function encodeMediumTypeReport(descs: readonly MediumTypeDescriptor[]): Buffer {
  const out = Buffer.alloc(4 + descs.length * mediumTypeDesc.span);
  out.writeUInt16BE(out.length - 2, 0);
  descs.forEach((d, i) => {
    const codes = Buffer.alloc(9);
    d.densityCodes.slice(0, 9).forEach((c, j) => (codes[j] = c));
    mediumTypeDesc.encode(
      {
        type: d.mediumType,
        r1: 0,
        descLen: mediumTypeDesc.span - 4,
        count: Math.min(9, d.densityCodes.length),
        codes,
        width: d.mediaWidth,
        length: d.mediumLength,
        r18: 0,
        org: asciiField(d.organization, 8),
        name: asciiField(d.name, 8),
        desc: asciiField(d.description, 20),
      },
      out,
      4 + i * mediumTypeDesc.span,
    );
  });
  return out;
}

export function decodeMediumTypeReport(b: Buffer): MediumTypeDescriptor[] {
  return decodeReportList(b, mediumTypeDesc, 'medium type report', (r) => ({
    mediumType: r.type,
    densityCodes: [...Buffer.from(r.codes).subarray(0, r.count)],
    mediaWidth: r.width,
    mediumLength: r.length,
    organization: ascii(r.org),
    name: ascii(r.name),
    description: ascii(r.desc),
  }));
}

// ---------------------------------------------------------------- mode pages (page body incl. the 2-byte page header)

export const TapeModePage = { DATA_COMPRESSION: 0x0f, DEVICE_CONFIGURATION: 0x10, MEDIUM_PARTITION: 0x11 } as const;

/** Device-specific parameter byte of the mode header for sequential-access devices. */
export interface TapeDeviceSpecific {
  wp: boolean;
  bufferedMode: number;
  speed: number;
}

export function encodeTapeDeviceSpecific(v: TapeDeviceSpecific): number {
  return pack([v.wp, 7], [v.bufferedMode, 4, 3], [v.speed, 0, 4]);
}

export function decodeTapeDeviceSpecific(b: number): TapeDeviceSpecific {
  return { wp: bit(b, 7), bufferedMode: field(b, 4, 3), speed: field(b, 0, 4) };
}

/** Data Compression page 0Fh (length 0Eh). */
export interface DataCompressionPage {
  dce: boolean;
  dcc: boolean;
  dde: boolean;
  red: number;
  compressionAlgorithm: number;
  decompressionAlgorithm: number;
}

interface DcRaw {
  code: number;
  len: number;
  b2: number;
  b3: number;
  calg: number;
  dalg: number;
  r12: number;
}
const dcPage = struct<DcRaw>([u8('code'), u8('len'), u8('b2'), u8('b3'), u32('calg'), u32('dalg'), u32('r12')]);

export function encodeDataCompressionPage(v: DataCompressionPage, ps = false): Buffer {
  return dcPage.encode({
    code: TapeModePage.DATA_COMPRESSION | (ps ? 0x80 : 0),
    len: dcPage.span - 2,
    b2: pack([v.dce, 7], [v.dcc, 6]),
    b3: pack([v.dde, 7], [v.red, 5, 2]),
    calg: v.compressionAlgorithm,
    dalg: v.decompressionAlgorithm,
    r12: 0,
  });
}

export function decodeDataCompressionPage(b: Buffer): DataCompressionPage {
  const r = dcPage.decode(b);
  return { dce: bit(r.b2, 7), dcc: bit(r.b2, 6), dde: bit(r.b3, 7), red: field(r.b3, 5, 2), compressionAlgorithm: r.calg, decompressionAlgorithm: r.dalg };
}

/** Device Configuration page 10h (length 0Eh); only the fields dmsim acts on or reports are named. */
export interface DeviceConfigurationPage {
  activePartition: number;
  writeBufferFullRatio: number;
  readBufferEmptyRatio: number;
  /** 100 ms units. */
  writeDelayTime: number;
  /** Byte 8 as a whole: OBR, LOIS, RSMK, AVC, SOCF, ROBO, REW (bit 0). */
  byte8: number;
  gapSize: number;
  /** Byte 10 as a whole: EOD DEFINED, EEG, SEW (bit 3), SWP (bit 2), BAML, BAM. */
  byte10: number;
  bufferSizeAtEw: number;
  selectCompression: number;
  /** Byte 15 as a whole: WTRE, OIR, REWIND ON RESET, ASOCWP/PERSWP/PRMWP. */
  byte15: number;
}

interface DcfgRaw {
  code: number;
  len: number;
  b2: number;
  active: number;
  wbfr: number;
  rber: number;
  wdt: number;
  b8: number;
  gap: number;
  b10: number;
  bsew: number;
  sdca: number;
  b15: number;
}
const dcfgPage = struct<DcfgRaw>([
  u8('code'),
  u8('len'),
  u8('b2'),
  u8('active'),
  u8('wbfr'),
  u8('rber'),
  u16('wdt'),
  u8('b8'),
  u8('gap'),
  u8('b10'),
  u24('bsew'),
  u8('sdca'),
  u8('b15'),
]);
export const DeviceConfigBits = { REW: 0x01, SEW: 0x08, SWP: 0x04, EEG: 0x10, LOIS: 0x40 } as const;

export function encodeDeviceConfigurationPage(v: DeviceConfigurationPage, ps = false): Buffer {
  return dcfgPage.encode({
    code: TapeModePage.DEVICE_CONFIGURATION | (ps ? 0x80 : 0),
    len: dcfgPage.span - 2,
    b2: 0,
    active: v.activePartition,
    wbfr: v.writeBufferFullRatio,
    rber: v.readBufferEmptyRatio,
    wdt: v.writeDelayTime,
    b8: v.byte8,
    gap: v.gapSize,
    b10: v.byte10,
    bsew: v.bufferSizeAtEw,
    sdca: v.selectCompression,
    b15: v.byte15,
  });
}

export function decodeDeviceConfigurationPage(b: Buffer): DeviceConfigurationPage {
  const r = dcfgPage.decode(b);
  return {
    activePartition: r.active,
    writeBufferFullRatio: r.wbfr,
    readBufferEmptyRatio: r.rber,
    writeDelayTime: r.wdt,
    byte8: r.b8,
    gapSize: r.gap,
    byte10: r.b10,
    bufferSizeAtEw: r.bsew,
    selectCompression: r.sdca,
    byte15: r.b15,
  };
}

/** Medium Partition page 11h: fixed 8 bytes then one 2-byte PARTITION SIZE per partition. */
export interface MediumPartitionPage {
  maxAdditionalPartitions: number;
  additionalPartitionsDefined: number;
  /** Byte 4: FDP bit 7, SDP 6, IDP 5, PSUM 4..3, POFM 2, CLEAR 1, ADDP 0. */
  flags: number;
  mediumFormatRecognition: number;
  partitionUnits: number;
  partitionSizes: number[];
}

interface MpRaw {
  code: number;
  len: number;
  maxAdd: number;
  defined: number;
  flags: number;
  mfr: number;
  units: number;
  r7: number;
}
const mpPage = struct<MpRaw>([u8('code'), u8('len'), u8('maxAdd'), u8('defined'), u8('flags'), u8('mfr'), u8('units'), u8('r7')]);

export function encodeMediumPartitionPage(v: MediumPartitionPage): Buffer {
  const out = Buffer.alloc(mpPage.span + 2 * v.partitionSizes.length);
  mpPage.encode(
    {
      code: TapeModePage.MEDIUM_PARTITION,
      len: out.length - 2,
      maxAdd: v.maxAdditionalPartitions,
      defined: v.additionalPartitionsDefined,
      flags: v.flags,
      mfr: v.mediumFormatRecognition,
      units: v.partitionUnits,
      r7: 0,
    },
    out,
  );
  v.partitionSizes.forEach((n, i) => out.writeUInt16BE(Math.min(n, 0xffff), mpPage.span + 2 * i));
  return out;
}

export function decodeMediumPartitionPage(b: Buffer): MediumPartitionPage {
  const r = mpPage.decode(b);
  const end = Math.min(b.length, 2 + r.len);
  const partitionSizes: number[] = [];
  for (let p = mpPage.span; p + 2 <= end; p += 2) partitionSizes.push(b.readUInt16BE(p));
  return {
    maxAdditionalPartitions: r.maxAdd,
    additionalPartitionsDefined: r.defined,
    flags: r.flags,
    mediumFormatRecognition: r.mfr,
    partitionUnits: r.units,
    partitionSizes,
  };
}

// ---------------------------------------------------------------- LOG SENSE (the tape's pages)

export const TapeLogPage = {
  SUPPORTED: 0x00,
  WRITE_ERRORS: 0x02,
  READ_ERRORS: 0x03,
  SEQUENTIAL_ACCESS: 0x0c,
  TAPE_ALERT_RESPONSE: 0x12,
  VOLUME_STATISTICS: 0x17,
  TAPE_ALERT: 0x2e,
  TAPE_CAPACITY: 0x31,
} as const;

/** LOG SENSE CDB (4Dh): SP byte 1 bit 0, PC byte 2 bits 7..6, page code 5..0, subpage byte 3, pointer 5–6, allocation 7–8. */
export interface LogSenseCdb {
  sp: boolean;
  pc: number;
  pageCode: number;
  subpage: number;
  parameterPointer: number;
  allocationLength: number;
}

interface LogSenseRaw {
  opcode: number;
  b1: number;
  b2: number;
  subpage: number;
  r4: number;
  pointer: number;
  alloc: number;
  control: number;
}
const logSenseCdb = struct<LogSenseRaw>([u8('opcode'), u8('b1'), u8('b2'), u8('subpage'), u8('r4'), u16('pointer'), u16('alloc'), u8('control')]);

export function decodeLogSenseCdb(cdb: Buffer): LogSenseCdb {
  const r = logSenseCdb.decode(cdb);
  return { sp: bit(r.b1, 0), pc: field(r.b2, 6, 2), pageCode: field(r.b2, 0, 6), subpage: r.subpage, parameterPointer: r.pointer, allocationLength: r.alloc };
}

export function encodeLogSenseCdb(v: Partial<LogSenseCdb> & { pageCode: number }): Buffer {
  return logSenseCdb.encode({
    opcode: TapeOp.LOG_SENSE,
    b1: pack([!!v.sp, 0]),
    b2: pack([v.pc ?? 1, 6, 2], [v.pageCode, 0, 6]),
    subpage: v.subpage ?? 0,
    r4: 0,
    pointer: v.parameterPointer ?? 0,
    alloc: v.allocationLength ?? 0xffff,
    control: 0,
  });
}

/** One log parameter: code, control byte (DU, TSD, ETC, TMC, FORMAT AND LINKING) and value bytes. */
export interface LogParameter {
  code: number;
  control: number;
  value: Buffer;
}

/** Log page: 4-byte header (page code, subpage, PAGE LENGTH) then the parameters. */
export function encodeLogPage(pageCode: number, params: readonly LogParameter[], subpage = 0): Buffer {
  const len = params.reduce((n, p) => n + 4 + p.value.length, 0);
  const out = Buffer.alloc(4 + len);
  out[0] = pack([pageCode, 0, 6], [subpage !== 0, 6]);
  out[1] = subpage;
  out.writeUInt16BE(len, 2);
  let p = 4;
  for (const prm of params) {
    out.writeUInt16BE(prm.code, p);
    out[p + 2] = prm.control;
    out[p + 3] = prm.value.length;
    prm.value.copy(out, p + 4);
    p += 4 + prm.value.length;
  }
  return out;
}

export function decodeLogPage(b: Buffer): { pageCode: number; subpage: number; params: LogParameter[] } {
  if (b.length < 4) throw new RangeError('log page shorter than its header');
  const end = Math.min(b.length, 4 + b.readUInt16BE(2));
  const params: LogParameter[] = [];
  for (let p = 4; p + 4 <= end; p += 4 + b[p + 3]!) {
    params.push({ code: b.readUInt16BE(p), control: b[p + 2]!, value: Buffer.from(b.subarray(p + 4, Math.min(end, p + 4 + b[p + 3]!))) });
  }
  return { pageCode: field(b[0]!, 0, 6), subpage: b[1]!, params };
}

/** Supported log pages (00h): the page codes, one byte each, as the page's "parameters". */
export function encodeSupportedLogPages(codes: readonly number[]): Buffer {
  const out = Buffer.alloc(4 + codes.length);
  out.writeUInt16BE(codes.length, 2);
  codes.forEach((c, i) => (out[4 + i] = c));
  return out;
}

export function decodeSupportedLogPages(b: Buffer): number[] {
  if (b.length < 4) throw new RangeError('log page shorter than its header');
  return [...b.subarray(4, Math.min(b.length, 4 + b.readUInt16BE(2)))];
}

/** Supported log pages and subpages (00h/FFh): page/subpage byte pairs, header SPF=1 subpage FFh. */
export function encodeSupportedLogSubpages(pairs: ReadonlyArray<readonly [number, number]>): Buffer {
  const out = Buffer.alloc(4 + 2 * pairs.length);
  out[0] = 0x40;
  out[1] = 0xff;
  out.writeUInt16BE(2 * pairs.length, 2);
  pairs.forEach(([p, sp], i) => {
    out[4 + 2 * i] = p;
    out[5 + 2 * i] = sp;
  });
  return out;
}

/** LOG SELECT CDB (4Ch): PCR byte 1 bit 1, SP bit 0, PC byte 2 bits 7..6, page code, subpage, list length 7–8. */
export interface LogSelectCdb {
  pcr: boolean;
  sp: boolean;
  pc: number;
  pageCode: number;
  subpage: number;
  parameterListLength: number;
}

interface LogSelectRaw {
  opcode: number;
  b1: number;
  b2: number;
  subpage: number;
  r4: number;
  r5: number;
  r6: number;
  len: number;
  control: number;
}
const logSelectCdb = struct<LogSelectRaw>([u8('opcode'), u8('b1'), u8('b2'), u8('subpage'), u8('r4'), u8('r5'), u8('r6'), u16('len'), u8('control')]);

export function decodeLogSelectCdb(cdb: Buffer): LogSelectCdb {
  const r = logSelectCdb.decode(cdb);
  return { pcr: bit(r.b1, 1), sp: bit(r.b1, 0), pc: field(r.b2, 6, 2), pageCode: field(r.b2, 0, 6), subpage: r.subpage, parameterListLength: r.len };
}

export function encodeLogSelectCdb(v: Partial<LogSelectCdb>): Buffer {
  return logSelectCdb.encode({
    opcode: TapeOp.LOG_SELECT,
    b1: pack([!!v.pcr, 1], [!!v.sp, 0]),
    b2: pack([v.pc ?? 3, 6, 2], [v.pageCode ?? 0, 0, 6]),
    subpage: v.subpage ?? 0,
    r4: 0,
    r5: 0,
    r6: 0,
    len: v.parameterListLength ?? 0,
    control: 0,
  });
}

// ---------------------------------------------------------------- explicit-address commands (16-byte)

/**
 * READ(16) 88h / WRITE(16) 8Ah: FCS byte 1 bit 3, LCS bit 2, SILI bit 1 (READ only), FIXED bit 0;
 * PARTITION byte 3; LOGICAL OBJECT IDENTIFIER 4–11; TRANSFER LENGTH 12–14 (smc.md §5.1).
 */
export interface ReadWrite16Cdb extends ReadWrite6Cdb {
  fcs: boolean;
  lcs: boolean;
  partition: number;
  logicalId: number;
}

interface Cdb16Raw {
  opcode: number;
  flags: number;
  r2: number;
  partition: number;
  id: number;
  len: number;
  control: number;
}
const cdb16 = struct<Cdb16Raw>([u8('opcode'), u8('flags'), u8('r2'), u8('partition'), u64('id'), u24('len'), u8('control')]);

export function decodeReadWrite16(cdb: Buffer): ReadWrite16Cdb {
  const r = cdb16.decode(cdb);
  return { fixed: bit(r.flags, 0), sili: bit(r.flags, 1), lcs: bit(r.flags, 2), fcs: bit(r.flags, 3), partition: r.partition, logicalId: r.id, transferLength: r.len };
}

export function encodeRead16(v: Partial<ReadWrite16Cdb> & { logicalId: number; transferLength: number }): Buffer {
  return cdb16.encode({
    opcode: TapeOp.READ_16,
    flags: pack([!!v.fixed, 0], [!!v.sili, 1], [!!v.lcs, 2], [!!v.fcs, 3]),
    r2: 0,
    partition: v.partition ?? 0,
    id: v.logicalId,
    len: v.transferLength,
    control: 0,
  });
}

export function encodeWrite16(v: Partial<Omit<ReadWrite16Cdb, 'sili'>> & { logicalId: number; transferLength: number }): Buffer {
  return cdb16.encode({
    opcode: TapeOp.WRITE_16,
    flags: pack([!!v.fixed, 0], [!!v.lcs, 2], [!!v.fcs, 3]),
    r2: 0,
    partition: v.partition ?? 0,
    id: v.logicalId,
    len: v.transferLength,
    control: 0,
  });
}

/** WRITE FILEMARKS(16) 80h: FCS bit 3, LCS bit 2, IMMED bit 0; PARTITION byte 3; LOI 4–11; COUNT 12–14. */
export interface WriteFilemarks16Cdb {
  immed: boolean;
  fcs: boolean;
  lcs: boolean;
  partition: number;
  logicalId: number;
  count: number;
}

export function decodeWriteFilemarks16(cdb: Buffer): WriteFilemarks16Cdb {
  const r = cdb16.decode(cdb);
  return { immed: bit(r.flags, 0), lcs: bit(r.flags, 2), fcs: bit(r.flags, 3), partition: r.partition, logicalId: r.id, count: r.len };
}

export function encodeWriteFilemarks16(v: Partial<WriteFilemarks16Cdb> & { logicalId: number; count: number }): Buffer {
  return cdb16.encode({
    opcode: TapeOp.WRITE_FILEMARKS_16,
    flags: pack([!!v.immed, 0], [!!v.lcs, 2], [!!v.fcs, 3]),
    r2: 0,
    partition: v.partition ?? 0,
    id: v.logicalId,
    len: v.count,
    control: 0,
  });
}

// ---------------------------------------------------------------- READ MEDIA SERIAL NUMBER (ABh/01h)

export const READ_MEDIA_SERIAL_NUMBER_SA = 0x01;

export function encodeReadMediaSerialCdb(allocationLength: number, serviceAction = READ_MEDIA_SERIAL_NUMBER_SA): Buffer {
  const b = Buffer.alloc(12);
  b[0] = TapeOp.SERVICE_ACTION_IN_12;
  b[1] = field(serviceAction, 0, 5);
  b.writeUInt32BE(allocationLength, 6);
  return b;
}

export function decodeReadMediaSerialCdb(cdb: Buffer): { serviceAction: number; allocationLength: number } {
  return { serviceAction: field(cdb[1]!, 0, 5), allocationLength: cdb.readUInt32BE(6) };
}

/** Response: MEDIA SERIAL NUMBER LENGTH (bytes after the header, a multiple of 4), then the serial padded with spaces. */
export function encodeMediaSerial(serial: string): Buffer {
  const n = Math.ceil(Buffer.byteLength(serial, 'ascii') / 4) * 4;
  const out = Buffer.alloc(4 + n, 0x20);
  out.writeUInt32BE(n, 0);
  out.write(serial, 4, 'ascii');
  return out;
}

export function decodeMediaSerial(b: Buffer): string {
  if (b.length < 4) throw new RangeError('media serial number shorter than its header');
  return b.subarray(4, Math.min(b.length, 4 + b.readUInt32BE(0))).toString('ascii');
}

/**
 * CDB usage masks of the SSC-3 commands the drive implements, for REPORT SUPPORTED OPERATION
 * CODES and the reserved-bit check (1 bits: bits the drive looks at; the control byte is 00h, NACA
 * and LINK unsupported). Byte 0 is the opcode.
 */
export const tapeUsage = {
  testUnitReady: [0xff, 0x00, 0x00, 0x00, 0x00, 0x00],
  rewind: [0xff, 0x01, 0x00, 0x00, 0x00, 0x00],
  readBlockLimits: [0xff, 0x01, 0x00, 0x00, 0x00, 0x00],
  read6: [0xff, 0x03, 0xff, 0xff, 0xff, 0x00],
  write6: [0xff, 0x01, 0xff, 0xff, 0xff, 0x00],
  writeFilemarks6: [0xff, 0x03, 0xff, 0xff, 0xff, 0x00],
  space6: [0xff, 0x0f, 0xff, 0xff, 0xff, 0x00],
  erase6: [0xff, 0x03, 0x00, 0x00, 0x00, 0x00],
  loadUnload: [0xff, 0x01, 0x00, 0x00, 0x0f, 0x00],
  preventAllow: [0xff, 0x00, 0x00, 0x00, 0x03, 0x00],
  locate10: [0xff, 0x07, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0x00],
  readPosition: [0xff, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00],
  reportDensitySupport: [0xff, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00],
  writeFilemarks16: [0xff, 0x0d, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00],
  read16: [0xff, 0x0f, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00],
  write16: [0xff, 0x0d, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00],
  space16: [0xff, 0x0f, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00],
  locate16: [0xff, 0x3b, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00],
  logSelect: [0xff, 0x03, 0xff, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00],
  logSense: [0xff, 0x01, 0xff, 0xff, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00],
  writeAttribute: [0xff, 0x01, 0x00, 0x00, 0x00, 0xff, 0x00, 0xff, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00],
  readMediaSerialNumber: [0xff, 0x1f, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00],
  readAttribute: [0xff, 0x1f, 0x00, 0x00, 0x00, 0xff, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00],
} as const satisfies Record<string, readonly number[]>;
