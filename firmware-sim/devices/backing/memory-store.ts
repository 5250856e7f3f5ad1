/**
 * In-memory store, allocated lazily in 1 MiB chunks so a large LU costs only what was written.
 * Unallocated chunks read as zeros; discarding a whole chunk frees it.
 */
import { checkRange, type BlockStore } from './block-store.js';

const CHUNK_SHIFT = 20;
const CHUNK = 1 << CHUNK_SHIFT;

export class MemoryStore implements BlockStore {
  readonly kind = 'memory';
  private readonly chunks = new Map<number, Buffer>();

  get fresh(): boolean {
    return this.chunks.size === 0;
  }

  allocatedRanges(): Array<{ offset: number; length: number }> {
    return [...this.chunks.keys()]
      .sort((a, b) => a - b)
      .map((i) => ({ offset: i * CHUNK, length: Math.min(CHUNK, this.size - i * CHUNK) }));
  }

  constructor(readonly size: number) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad size ${size}`);
  }

  /** Bytes actually held (for tests and the management API). */
  get allocatedBytes(): number {
    return this.chunks.size * CHUNK;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const b = Buffer.allocUnsafe(length);
    this.copyOut(b, offset);
    return b;
  }

  async readInto(target: Buffer, offset: number): Promise<void> {
    this.copyOut(target, offset);
  }

  private copyOut(target: Buffer, offset: number): void {
    checkRange(this, offset, target.length);
    let done = 0;
    while (done < target.length) {
      const pos = offset + done;
      const idx = Math.floor(pos / CHUNK);
      const within = pos - idx * CHUNK;
      const n = Math.min(CHUNK - within, target.length - done);
      const c = this.chunks.get(idx);
      if (c) c.copy(target, done, within, within + n);
      else target.fill(0, done, done + n);
      done += n;
    }
  }

  async write(offset: number, data: Buffer): Promise<void> {
    checkRange(this, offset, data.length);
    let done = 0;
    while (done < data.length) {
      const pos = offset + done;
      const idx = Math.floor(pos / CHUNK);
      const within = pos - idx * CHUNK;
      const n = Math.min(CHUNK - within, data.length - done);
      let c = this.chunks.get(idx);
      if (!c) {
        c = Buffer.alloc(CHUNK);
        this.chunks.set(idx, c);
      }
      data.copy(c, within, done, done + n);
      done += n;
    }
  }

  async flush(): Promise<void> {}

  async discard(offset: number, length: number): Promise<void> {
    checkRange(this, offset, length);
    let done = 0;
    while (done < length) {
      const pos = offset + done;
      const idx = Math.floor(pos / CHUNK);
      const within = pos - idx * CHUNK;
      const n = Math.min(CHUNK - within, length - done);
      const c = this.chunks.get(idx);
      if (c) {
        if (n === CHUNK) this.chunks.delete(idx);
        else c.fill(0, within, within + n);
      }
      done += n;
    }
  }

  async close(): Promise<void> {}
}
