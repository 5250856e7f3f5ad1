/**
 * On-disk layout of a snapshot side store (snapshot.md §6): dm's persistent exception store layout
 * (chunk 0 header, metadata area k at chunk 1 + k·(E+1), its E data chunks after it) with integrity
 * added: a CRC32C over the header, and 32-byte exception records carrying a sequence number, the
 * CRC32C of the preserved data and a CRC32C of the record itself. All integers little-endian.
 * Pure codec: no I/O.
 */
import { crc32cUpdate } from '../../../src/iscsi/crc32c.js';

/** "SnAp" as dm writes it (u32 LE 0x70416E53). */
export const COW_MAGIC = 0x70416e53;
/** Deliberately not dm's 1: dm refuses the store instead of misreading 32-byte records. */
export const COW_VERSION = 1001;
export const HEADER_BYTES = 140;
export const RECORD_BYTES = 32;

export enum InvalidReason {
  NONE = 0,
  STORE_FULL = 1,
  STORE_IO_ERROR = 2,
  STORE_DAMAGED = 3,
}

export const REASON_TEXT: Record<InvalidReason, string> = {
  [InvalidReason.NONE]: '',
  [InvalidReason.STORE_FULL]: 'store full',
  [InvalidReason.STORE_IO_ERROR]: 'store I/O error',
  [InvalidReason.STORE_DAMAGED]: 'store damaged',
};

export interface CowHeader {
  valid: boolean;
  chunkBytes: number;
  /** Store size limit in bytes (the file never grows beyond it). */
  storeSize: number;
  /** Origin capacity in blocks at the instant, and its block length. */
  capacityBlocks: number;
  blockLength: number;
  originNaa: Buffer;
  snapshotNaa: Buffer;
  /** 16-byte UUIDs. */
  snapshotId: string;
  setId: string;
  createdMs: number;
  committedSeq: number;
  reason: InvalidReason;
  invalidMs: number;
}

const uuidBytes = (u: string): Buffer => {
  const hex = u.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new RangeError(`not a UUID: ${u}`);
  return Buffer.from(hex, 'hex');
};
const uuidText = (b: Buffer): string => {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

export const crc32c = (b: Uint8Array, start = 0, end = b.length): number => crc32cUpdate(0, b, start, end);

/** The whole header chunk (chunkBytes long, zero past byte 140). */
export function encodeHeader(h: CowHeader): Buffer {
  const b = Buffer.alloc(h.chunkBytes);
  b.writeUInt32LE(COW_MAGIC, 0);
  b.writeUInt32LE(h.valid ? 1 : 0, 4);
  b.writeUInt32LE(COW_VERSION, 8);
  b.writeUInt32LE(h.chunkBytes / 512, 12);
  b.writeBigUInt64LE(BigInt(h.storeSize), 16);
  b.writeBigUInt64LE(BigInt(h.capacityBlocks), 24);
  b.writeUInt32LE(h.blockLength, 32);
  h.originNaa.copy(b, 40, 0, 16);
  h.snapshotNaa.copy(b, 56, 0, 16);
  uuidBytes(h.snapshotId).copy(b, 72);
  uuidBytes(h.setId).copy(b, 88);
  b.writeBigUInt64LE(BigInt(h.createdMs), 104);
  b.writeBigUInt64LE(BigInt(h.committedSeq), 112);
  b.writeUInt32LE(h.reason, 120);
  b.writeBigUInt64LE(BigInt(h.invalidMs), 128);
  b.writeUInt32LE(crc32c(b, 0, 136), 136);
  return b;
}

export type HeaderProblem = 'magic' | 'version' | 'crc' | 'short';

export function decodeHeader(b: Buffer): CowHeader | HeaderProblem {
  if (b.length < HEADER_BYTES) return 'short';
  if (b.readUInt32LE(0) !== COW_MAGIC) return 'magic';
  if (b.readUInt32LE(8) !== COW_VERSION) return 'version';
  if (b.readUInt32LE(136) !== crc32c(b, 0, 136)) return 'crc';
  const reason = b.readUInt32LE(120);
  return {
    valid: b.readUInt32LE(4) === 1,
    chunkBytes: b.readUInt32LE(12) * 512,
    storeSize: Number(b.readBigUInt64LE(16)),
    capacityBlocks: Number(b.readBigUInt64LE(24)),
    blockLength: b.readUInt32LE(32),
    originNaa: Buffer.from(b.subarray(40, 56)),
    snapshotNaa: Buffer.from(b.subarray(56, 72)),
    snapshotId: uuidText(b.subarray(72, 88)),
    setId: uuidText(b.subarray(88, 104)),
    createdMs: Number(b.readBigUInt64LE(104)),
    committedSeq: Number(b.readBigUInt64LE(112)),
    reason: reason in REASON_TEXT ? (reason as InvalidReason) : InvalidReason.STORE_DAMAGED,
    invalidMs: Number(b.readBigUInt64LE(128)),
  };
}

export const FLAG_ZERO = 1;

export interface CowRecord {
  oldChunk: number;
  newChunk: number;
  seq: number;
  flags: number;
  dataCrc: number;
}

export function encodeRecord(r: CowRecord): Buffer {
  const b = Buffer.alloc(RECORD_BYTES);
  b.writeBigUInt64LE(BigInt(r.oldChunk), 0);
  b.writeBigUInt64LE(BigInt(r.newChunk), 8);
  b.writeUInt32LE(r.seq, 16);
  b.writeUInt16LE(r.flags, 20);
  b.writeUInt32LE(r.dataCrc >>> 0, 24);
  b.writeUInt32LE(crc32c(b, 0, 28), 28);
  return b;
}

/** A record, 'end' (new_chunk 0: end of the list) or 'bad' (its CRC fails). */
export function decodeRecord(b: Buffer, at = 0): CowRecord | 'end' | 'bad' {
  const newChunk = Number(b.readBigUInt64LE(at + 8));
  if (newChunk === 0) return 'end';
  if (b.readUInt32LE(at + 28) !== crc32c(b, at, at + 28)) return 'bad';
  return { oldChunk: Number(b.readBigUInt64LE(at)), newChunk, seq: b.readUInt32LE(at + 16), flags: b.readUInt16LE(at + 20), dataCrc: b.readUInt32LE(at + 24) };
}

/** Geometry of a store: where record i and its data chunk live (dm's interleaving). */
export class CowGeometry {
  /** Records per metadata area. */
  readonly perArea: number;
  constructor(readonly chunkBytes: number) {
    this.perArea = chunkBytes / RECORD_BYTES;
  }
  /** Chunk number of metadata area k. */
  areaChunk(k: number): number {
    return 1 + k * (this.perArea + 1);
  }
  /** Byte offset of record i. */
  recordOffset(i: number): number {
    return this.areaChunk(Math.floor(i / this.perArea)) * this.chunkBytes + (i % this.perArea) * RECORD_BYTES;
  }
  /** Data chunk of the i-th allocation: allocation starts at chunk 2 and skips metadata areas. */
  dataChunk(i: number): number {
    const k = Math.floor(i / this.perArea);
    return this.areaChunk(k) + 1 + (i % this.perArea);
  }
  /** How many data chunks fit in a store of `bytes` (with their metadata areas). */
  capacity(bytes: number): number {
    const chunks = Math.floor(bytes / this.chunkBytes);
    if (chunks < 3) return 0;
    const full = Math.floor((chunks - 1) / (this.perArea + 1));
    const rest = chunks - 1 - full * (this.perArea + 1);
    return full * this.perArea + Math.max(0, rest - 1);
  }
  /** Store size that holds `dataChunks` data chunks. */
  sizeFor(dataChunks: number): number {
    const areas = Math.max(1, Math.ceil(dataChunks / this.perArea));
    return (1 + areas + dataChunks) * this.chunkBytes;
  }
}
