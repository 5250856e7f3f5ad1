/**
 * Common CDB forms (SPC-4 §4.2, SBC-3 §5): CDB length by opcode group, the allocation /
 * parameter-list length field by form, and the READ/WRITE-style LBA + TRANSFER LENGTH layouts of
 * the 6, 10, 12 and 16-byte CDBs. Device modules decode their specific commands on top of these.
 */
import { bit, field, pack, struct, u8, u16, u32, u64 } from './layout.js';

/**
 * A CDB with the data transfer it asks for, as libiscsi's CDB builders return it: the caller hands
 * all three to a transport and never restates the length.
 */
export interface CdbRequest {
  cdb: Buffer;
  direction: 'none' | 'in' | 'out';
  /** Bytes the command moves: the data-in expected, or the data-out to send. */
  length: number;
}

/** Opcode group (bits 7..5) → CDB length; groups 3 (variable/reserved) and 6/7 (vendor) have none. */
export function cdbLengthOf(opcode: number): number | undefined {
  switch (opcode >> 5) {
    case 0:
      return 6;
    case 1:
    case 2:
      return 10;
    case 4:
      return 16;
    case 5:
      return 12;
    default:
      return undefined;
  }
}

/**
 * The ALLOCATION LENGTH of a data-in command, by where its CDB form keeps it: byte 4 in 6-byte
 * CDBs (bytes 3..4 for INQUIRY, which SPC-3 widened), bytes 7..8 in 10-byte, 6..9 in 12-byte,
 * 10..13 in 16-byte CDBs. Undefined for forms it cannot know.
 */
export function allocationLengthOf(cdb: Buffer): number | undefined {
  const op = cdb[0];
  if (op === undefined) return undefined;
  const len = cdbLengthOf(op);
  if (len === undefined || cdb.length < len) return undefined;
  if (op === 0x12) return cdb.readUInt16BE(3);
  switch (len) {
    case 6:
      return cdb[4];
    case 10:
      return cdb.readUInt16BE(7);
    case 12:
      return cdb.readUInt32BE(6);
    default:
      return cdb.readUInt32BE(10);
  }
}

/** LBA + transfer length of READ/WRITE-style CDBs, plus the flag bits SBC puts in byte 1. */
export interface RwCdb {
  opcode: number;
  lba: number;
  /** In blocks, as written in the CDB (0 in a READ/WRITE(6) means 256: see `transferBlocks`). */
  transferLength: number;
  /** Byte 1 (RDPROTECT/WRPROTECT, DPO, FUA, FUA_NV); 6-byte CDBs have none. */
  flags: number;
  /** GROUP NUMBER (10/12/16-byte forms). */
  group: number;
  control: number;
}

export const rwFlags = (flags: number) => ({
  protect: field(flags, 5, 3),
  dpo: bit(flags, 4),
  fua: bit(flags, 3),
  fuaNv: bit(flags, 1),
});

export const packRwFlags = (v: { protect?: number; dpo?: boolean; fua?: boolean; fuaNv?: boolean }) =>
  pack([v.protect ?? 0, 5, 3], [!!v.dpo, 4], [!!v.fua, 3], [!!v.fuaNv, 1]);

interface Rw6 { opcode: number; lbaHi: number; lbaLo: number; len: number; control: number }
const rw6 = struct<Rw6>([u8('opcode'), u8('lbaHi'), u16('lbaLo'), u8('len'), u8('control')]);
interface Rw10 { opcode: number; flags: number; lba: number; group: number; len: number; control: number }
const rw10 = struct<Rw10>([u8('opcode'), u8('flags'), u32('lba'), u8('group'), u16('len'), u8('control')]);
interface Rw12 { opcode: number; flags: number; lba: number; len: number; group: number; control: number }
const rw12 = struct<Rw12>([u8('opcode'), u8('flags'), u32('lba'), u32('len'), u8('group'), u8('control')]);
interface Rw16 { opcode: number; flags: number; lba: number; len: number; group: number; control: number }
const rw16 = struct<Rw16>([u8('opcode'), u8('flags'), u64('lba'), u32('len'), u8('group'), u8('control')]);

/** The READ/WRITE-style byte layouts by CDB length, for every LBA-range codec (sbc.ts builds on them). */
export const RW_LAYOUTS = { 6: rw6, 10: rw10, 12: rw12, 16: rw16 } as const;

export function decodeRwCdb(cdb: Buffer): RwCdb {
  switch (cdbLengthOf(cdb[0] ?? 0xff)) {
    case 6: {
      const r = rw6.decode(cdb);
      return { opcode: r.opcode, lba: (field(r.lbaHi, 0, 5) << 16) | r.lbaLo, transferLength: r.len, flags: 0, group: 0, control: r.control };
    }
    case 10: {
      const r = rw10.decode(cdb);
      return { opcode: r.opcode, lba: r.lba, transferLength: r.len, flags: r.flags, group: field(r.group, 0, 5), control: r.control };
    }
    case 12: {
      const r = rw12.decode(cdb);
      return { opcode: r.opcode, lba: r.lba, transferLength: r.len, flags: r.flags, group: field(r.group, 0, 5), control: r.control };
    }
    case 16: {
      const r = rw16.decode(cdb);
      return { opcode: r.opcode, lba: r.lba, transferLength: r.len, flags: r.flags, group: field(r.group, 0, 5), control: r.control };
    }
    default:
      throw new RangeError(`opcode ${cdb[0]} has no READ/WRITE-style form`);
  }
}

/** Blocks a READ/WRITE-style CDB moves: a 6-byte TRANSFER LENGTH of 0 means 256 (SBC-3 §5.13). */
export const transferBlocks = (v: RwCdb): number => (cdbLengthOf(v.opcode) === 6 && v.transferLength === 0 ? 256 : v.transferLength);

export function encodeRwCdb(v: Omit<RwCdb, 'flags' | 'group' | 'control'> & Partial<Pick<RwCdb, 'flags' | 'group' | 'control'>>): Buffer {
  const flags = v.flags ?? 0;
  const group = v.group ?? 0;
  const control = v.control ?? 0;
  switch (cdbLengthOf(v.opcode)) {
    case 6:
      if (v.lba > 0x1fffff || v.transferLength > 0xff) throw new RangeError('LBA or length too large for a 6-byte CDB');
      return rw6.encode({ opcode: v.opcode, lbaHi: v.lba >> 16, lbaLo: v.lba & 0xffff, len: v.transferLength, control });
    case 10:
      if (v.lba > 0xffffffff || v.transferLength > 0xffff) throw new RangeError('LBA or length too large for a 10-byte CDB');
      return rw10.encode({ opcode: v.opcode, flags, lba: v.lba, group, len: v.transferLength, control });
    case 12:
      if (v.lba > 0xffffffff) throw new RangeError('LBA too large for a 12-byte CDB');
      return rw12.encode({ opcode: v.opcode, flags, lba: v.lba, len: v.transferLength, group, control });
    case 16:
      return rw16.encode({ opcode: v.opcode, flags, lba: v.lba, len: v.transferLength, group, control });
    default:
      throw new RangeError(`opcode ${v.opcode} has no READ/WRITE-style form`);
  }
}

/** Service action of the opcodes that carry one in byte 1 bits 4..0. */
export const serviceActionOf = (cdb: Buffer): number => field(cdb[1] ?? 0, 0, 5);
