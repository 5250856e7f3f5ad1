/**
 * What every CDB builder returns (CdbRequest), and the byte layouts of the READ/WRITE-style
 * LBA + TRANSFER LENGTH CDBs (6, 10, 12 and 16 bytes, SBC-3 §5) that sbc.ts's one LBA-range
 * codec encodes and decodes.
 */
import { struct, u8, u16, u32, u64 } from './layout.js';

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
