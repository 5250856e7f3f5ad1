/**
 * One snapshot's side store: a sparse file holding preserved origin chunks and the persistent
 * exception table (layout in cow-format.ts). Crash safety (snapshot.md §2): an exception is
 * written as data chunk then record, and only acted on (the origin overwritten) after one
 * fdatasync covering both — group-committed, so every append that arrives while a sync runs joins
 * the next one. The record carries the data's CRC32C, so at the next start a record whose data did
 * not reach the file is dropped (and everything after it), while the origin chunk it described was
 * never overwritten. Invalidation (store full, I/O error) is written and synced before the origin
 * write that the store cannot cover proceeds.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { ZEROES } from '../backing/block-store.js';
import { InlineIo } from '../backing/inline-io.js';
import {
  CowGeometry, FLAG_ZERO, InvalidReason, RECORD_BYTES, crc32c, decodeHeader, decodeRecord, encodeHeader, encodeRecord, type CowHeader,
} from './cow-format.js';

interface Exception {
  slot: number;
  zero: boolean;
}

/** Statistics of a store for the API. */
export interface SideStoreStats {
  exceptions: number;
  /** Bytes of the store in use (header, metadata areas, data chunks allocated). */
  usedBytes: number;
  storeSize: number;
}

export class SideStore {
  readonly geometry: CowGeometry;
  private readonly table = new Map<number, Exception>();
  /** Allocations made (next record index). */
  private next: number;
  private seq: number;
  private readonly capacity: number;
  private readonly io = new InlineIo(256 << 10);
  private syncing: Promise<void> | undefined;
  private syncQueued: Promise<void> | undefined;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private header: CowHeader,
    allocated: number,
  ) {
    this.geometry = new CowGeometry(header.chunkBytes);
    this.capacity = this.geometry.capacity(header.storeSize);
    this.next = allocated;
    this.seq = allocated;
  }

  get chunkBytes(): number {
    return this.header.chunkBytes;
  }
  get valid(): boolean {
    return this.header.valid;
  }
  get reason(): InvalidReason {
    return this.header.reason;
  }
  get invalidMs(): number {
    return this.header.invalidMs;
  }
  get info(): Readonly<CowHeader> {
    return this.header;
  }

  /** Create a new store file (fails if it exists), header written and synced. */
  static async create(path: string, header: Omit<CowHeader, 'valid' | 'committedSeq' | 'reason' | 'invalidMs'>): Promise<SideStore> {
    const full: CowHeader = { ...header, valid: true, committedSeq: 0, reason: InvalidReason.NONE, invalidMs: 0 };
    const fh = await open(path, 'wx+');
    try {
      await fh.write(encodeHeader(full), 0, full.chunkBytes, 0);
      await fh.datasync();
    } catch (e) {
      await fh.close();
      throw e;
    }
    return new SideStore(path, fh, full, 0);
  }

  /**
   * Open an existing store and recover it (§2.4). A damaged header yields a store that is invalid
   * with reason STORE_DAMAGED (its identity then comes from the catalog).
   */
  static async open(path: string, fallback: Omit<CowHeader, 'valid' | 'committedSeq' | 'reason' | 'invalidMs'>): Promise<SideStore> {
    const fh = await open(path, 'r+');
    try {
      const probe = Buffer.alloc(512);
      await fh.read(probe, 0, 512, 0);
      const h = decodeHeader(probe);
      if (typeof h === 'string' || h.chunkBytes !== fallback.chunkBytes) {
        const damaged: CowHeader = { ...fallback, valid: false, committedSeq: 0, reason: InvalidReason.STORE_DAMAGED, invalidMs: Date.now() };
        const s = new SideStore(path, fh, damaged, 0);
        await s.writeHeader();
        return s;
      }
      const s = new SideStore(path, fh, h, 0);
      if (h.valid) await s.recover();
      return s;
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  private async recover(): Promise<void> {
    const g = this.geometry;
    const cb = this.chunkBytes;
    const area = Buffer.alloc(cb);
    const data = Buffer.alloc(cb);
    let i = 0;
    let stop = false;
    for (let k = 0; !stop; k++) {
      const { bytesRead } = await this.fh.read(area, 0, cb, g.areaChunk(k) * cb);
      if (bytesRead < cb) area.fill(0, bytesRead);
      let j = 0;
      for (; j < g.perArea; j++, i++) {
        const r = decodeRecord(area, j * RECORD_BYTES);
        if (r === 'end' || r === 'bad' || r.seq !== i + 1 || r.newChunk !== g.dataChunk(i)) break;
        const zero = (r.flags & FLAG_ZERO) !== 0;
        if (r.seq > this.header.committedSeq) {
          // Not known to be durable: trust it only if its data is intact.
          let ok: boolean;
          if (zero) ok = r.dataCrc === 0;
          else {
            const { bytesRead: n } = await this.fh.read(data, 0, cb, r.newChunk * cb);
            if (n < cb) data.fill(0, n);
            ok = crc32c(data) === r.dataCrc;
          }
          if (!ok) break;
        }
        this.table.set(r.oldChunk, { slot: i, zero });
      }
      if (j < g.perArea) {
        // Zero the rest of this area so later appends start clean.
        if (j * RECORD_BYTES < cb) await this.fh.write(Buffer.alloc(cb - j * RECORD_BYTES), 0, cb - j * RECORD_BYTES, g.areaChunk(k) * cb + j * RECORD_BYTES);
        stop = true;
      }
    }
    this.next = i;
    this.seq = i;
    await this.fh.datasync();
    this.header = { ...this.header, committedSeq: i };
    await this.writeHeader();
  }

  has(chunk: number): boolean {
    return this.table.has(chunk);
  }

  get exceptionCount(): number {
    return this.table.size;
  }

  /** Origin chunk numbers preserved here. */
  chunks(): IterableIterator<number> {
    return this.table.keys();
  }

  stats(): SideStoreStats {
    const g = this.geometry;
    const used = this.next === 0 ? 2 * this.chunkBytes : (g.dataChunk(this.next - 1) + 1) * this.chunkBytes;
    return { exceptions: this.table.size, usedBytes: Math.min(used, this.header.storeSize), storeSize: this.header.storeSize };
  }

  /**
   * Preserve `data` (the old content of origin chunk `chunk`; shorter than a chunk only for the
   * origin's last chunk). Resolves once the exception is durable and in the table. Resolves false
   * when the store is full (the caller invalidates). I/O errors reject.
   */
  async preserve(chunk: number, data: Buffer): Promise<boolean> {
    if (!this.header.valid || this.next >= this.capacity) return false;
    // The origin's last chunk may be short: it is kept zero-padded, so the CRC covers a whole chunk.
    if (data.length < this.chunkBytes) {
      const padded = Buffer.alloc(this.chunkBytes);
      data.copy(padded);
      data = padded;
    }
    const i = this.next++;
    const slot = this.geometry.dataChunk(i);
    const zero = isZero(data);
    const rec = encodeRecord({ oldChunk: chunk, newChunk: slot, seq: ++this.seq, flags: zero ? FLAG_ZERO : 0, dataCrc: zero ? 0 : crc32c(data) });
    // Data before record: a SIGKILL between them leaves a record-less chunk (space only).
    if (!zero) await this.io.write(this.fh, data, slot * this.chunkBytes);
    await this.io.write(this.fh, rec, this.geometry.recordOffset(i));
    await this.sync();
    this.table.set(chunk, { slot: i, zero });
    return true;
  }

  /** Group commit: callers arriving while a sync runs share the next one. */
  sync(): Promise<void> {
    if (!this.syncing) {
      this.syncing = this.fh.datasync().finally(() => (this.syncing = undefined));
      return this.syncing;
    }
    return (this.syncQueued ??= this.syncing.then(() => {
      this.syncQueued = undefined;
      return this.sync();
    }));
  }

  /** Copy `length` bytes of preserved chunk `chunk` from `within` into `target` at `at`. */
  async readChunk(chunk: number, within: number, target: Buffer, at: number, length: number): Promise<void> {
    const e = this.table.get(chunk);
    if (!e) throw new Error(`chunk ${chunk} not preserved`);
    const view = target.subarray(at, at + length);
    if (e.zero) {
      view.fill(0);
      return;
    }
    const n = await this.io.read(this.fh, view, this.geometry.dataChunk(e.slot) * this.chunkBytes + within);
    if (n < length) view.fill(0, n);
  }

  /** Mark the store invalid, durably (S3): header written and synced before the caller goes on. */
  async invalidate(reason: InvalidReason): Promise<void> {
    if (!this.header.valid) return;
    this.header = { ...this.header, valid: false, reason, invalidMs: Date.now() };
    this.table.clear();
    try {
      await this.writeHeader();
    } catch {
      // The in-memory state is invalid whatever the disk says; at the next start the catalog
      // entry without a readable valid store comes back invalid too (header CRC or data CRC).
    }
  }

  private async writeHeader(): Promise<void> {
    await this.fh.write(encodeHeader(this.header), 0, this.chunkBytes, 0);
    await this.fh.datasync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      while (this.syncing) await this.syncing;
      if (this.header.valid) {
        await this.fh.datasync();
        this.header = { ...this.header, committedSeq: this.seq };
        await this.writeHeader();
      }
    } finally {
      await this.fh.close();
    }
  }
}

function isZero(b: Buffer): boolean {
  for (let p = 0; p < b.length; p += ZEROES.length) {
    const n = Math.min(ZEROES.length, b.length - p);
    if (!b.subarray(p, p + n).equals(ZEROES.subarray(0, n))) return false;
  }
  return true;
}
