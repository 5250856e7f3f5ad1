/**
 * READ CAPACITY(10) and READ CAPACITY(16) (SBC-3 §5.15, §5.16): CDBs and parameter data. The disk
 * encodes the data and decodes the CDBs; initiators (backup server, copy manager) do the reverse.
 */
import { bit, blob, field, pack, struct, u8, u16, u32, u64 } from './layout.js';
import { SbcOp } from './sbc.js';
import type { CdbRequest } from './cdb.js';

const READ_CAPACITY_16_SA = 0x10;

export interface ReadCapacity10Cdb {
  /** LOGICAL BLOCK ADDRESS (obsolete in SBC-3; must be 0 when PMI is 0). */
  lba: number;
  pmi: boolean;
}

interface Rc10CdbRaw { opcode: number; b1: number; lba: number; r6: number; r7: number; b8: number; control: number }
const rc10Cdb = struct<Rc10CdbRaw>([u8('opcode'), u8('b1'), u32('lba'), u8('r6'), u8('r7'), u8('b8'), u8('control')]);

export function decodeReadCapacity10Cdb(cdb: Buffer): ReadCapacity10Cdb {
  const r = rc10Cdb.decode(cdb);
  return { lba: r.lba, pmi: bit(r.b8, 0) };
}

export function encodeReadCapacity10Cdb(v: Partial<ReadCapacity10Cdb> = {}): Buffer {
  return rc10Cdb.encode({ opcode: SbcOp.READ_CAPACITY_10, b1: 0, lba: v.lba ?? 0, r6: 0, r7: 0, b8: pack([!!v.pmi, 0]), control: 0 });
}

export const readCapacity10Usage = [0xff, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x01, 0x00];

export interface ReadCapacity10Data {
  /** RETURNED LOGICAL BLOCK ADDRESS: last LBA, or FFFFFFFFh when it does not fit. */
  lastLba: number;
  blockLength: number;
}

interface Rc10Raw { lba: number; len: number }
const rc10Data = struct<Rc10Raw>([u32('lba'), u32('len')]);

export function encodeReadCapacity10(v: ReadCapacity10Data): Buffer {
  return rc10Data.encode({ lba: Math.min(v.lastLba, 0xffffffff), len: v.blockLength });
}

export function decodeReadCapacity10(b: Buffer): ReadCapacity10Data {
  const r = rc10Data.decode(b);
  return { lastLba: r.lba, blockLength: r.len };
}

export interface ReadCapacity16Cdb {
  lba: number;
  allocationLength: number;
  pmi: boolean;
}

interface Rc16CdbRaw { opcode: number; sa: number; lba: number; alloc: number; b14: number; control: number }
const rc16Cdb = struct<Rc16CdbRaw>([u8('opcode'), u8('sa'), u64('lba'), u32('alloc'), u8('b14'), u8('control')]);

export function decodeReadCapacity16Cdb(cdb: Buffer): ReadCapacity16Cdb {
  const r = rc16Cdb.decode(cdb);
  return { lba: r.lba, allocationLength: r.alloc, pmi: bit(r.b14, 0) };
}

export function encodeReadCapacity16Cdb(v: Partial<ReadCapacity16Cdb> = {}): Buffer {
  return rc16Cdb.encode({
    opcode: SbcOp.SERVICE_ACTION_IN_16, sa: READ_CAPACITY_16_SA, lba: v.lba ?? 0,
    alloc: v.allocationLength ?? 32, b14: pack([!!v.pmi, 0]), control: 0,
  });
}

export const readCapacity16Usage = [0xff, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00];

export interface ReadCapacity16Data {
  lastLba: number;
  blockLength: number;
  /** P_TYPE (protection type - 1) and PROT_EN. dmsim has no protection information: 0/false. */
  pType: number;
  protEn: boolean;
  pIExponent: number;
  /** LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT. */
  lbppbe: number;
  /** Logical block provisioning management enabled (thin provisioning). */
  lbpme: boolean;
  /** Deallocated blocks read as zeros. */
  lbprz: boolean;
  lowestAlignedLba: number;
}

interface Rc16Raw { lba: number; len: number; b12: number; b13: number; b14: number; r?: Buffer }
/** Bytes 16..31 are reserved; the structure spans the whole 32-byte parameter data. */
const rc16Data = struct<Rc16Raw>([u64('lba'), u32('len'), u8('b12'), u8('b13'), u16('b14'), blob(16, 'r')]);

export const READ_CAPACITY_16_LENGTH = 32;

/** READ CAPACITY(16) asking for the whole 32-byte parameter data. */
export const readCapacity16Request = (): CdbRequest => ({ cdb: encodeReadCapacity16Cdb({ allocationLength: READ_CAPACITY_16_LENGTH }), direction: 'in', length: READ_CAPACITY_16_LENGTH });

export function encodeReadCapacity16(v: Partial<ReadCapacity16Data> & Pick<ReadCapacity16Data, 'lastLba' | 'blockLength'>): Buffer {
  return rc16Data.encode({
    lba: v.lastLba,
    len: v.blockLength,
    b12: pack([v.pType ?? 0, 1, 3], [!!v.protEn, 0]),
    b13: pack([v.pIExponent ?? 0, 4, 4], [v.lbppbe ?? 0, 0, 4]),
    b14: ((v.lbpme ? 0x8000 : 0) | (v.lbprz ? 0x4000 : 0) | ((v.lowestAlignedLba ?? 0) & 0x3fff)) >>> 0,
  });
}

export function decodeReadCapacity16(b: Buffer): ReadCapacity16Data {
  const r = rc16Data.decode(b.length >= READ_CAPACITY_16_LENGTH ? b : Buffer.concat([b, Buffer.alloc(READ_CAPACITY_16_LENGTH - b.length)]));
  return {
    lastLba: r.lba,
    blockLength: r.len,
    pType: field(r.b12, 1, 3),
    protEn: bit(r.b12, 0),
    pIExponent: field(r.b13, 4, 4),
    lbppbe: field(r.b13, 0, 4),
    lbpme: (r.b14 & 0x8000) !== 0,
    lbprz: (r.b14 & 0x4000) !== 0,
    lowestAlignedLba: r.b14 & 0x3fff,
  };
}
