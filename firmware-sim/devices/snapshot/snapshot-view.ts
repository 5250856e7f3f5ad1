/**
 * The snapshot LU's BlockStore: chunks preserved in the side store come from there, the rest from
 * the origin image (snapshot.md §1.3). Read-only. Instead of dm's tracked reads, a read of origin
 * chunks is checked afterwards: the origin write path puts an exception in the table before it
 * changes the origin, so a chunk still without an exception once the origin read has ended was not
 * overwritten during it; chunks that gained one meanwhile are read again from the store.
 * An invalid snapshot answers NOT READY 04/03 (§4.5), a deleted one LOGICAL UNIT NOT SUPPORTED.
 */
import { Sense } from '../../../src/scsi/sense.js';
import type { BlockStore } from '../backing/block-store.js';
import type { SideStore } from './side-store.js';

export class SnapshotView implements BlockStore {
  readonly kind = 'snapshot';
  readonly fresh = false;
  deleted = false;

  constructor(
    private readonly origin: BlockStore,
    private readonly side: SideStore,
    readonly size: number,
  ) {}

  private check(): void {
    if (this.deleted) throw Sense.luNotSupported();
    if (!this.side.valid) throw Sense.notReady(0x03);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const b = Buffer.allocUnsafe(length);
    await this.readInto(b, offset);
    return b;
  }

  async readInto(target: Buffer, offset: number): Promise<void> {
    this.check();
    const cb = this.side.chunkBytes;
    const end = offset + target.length;
    if (offset < 0 || end > this.size) throw new RangeError(`range ${offset}+${target.length} outside snapshot of ${this.size} bytes`);
    const fromOrigin: Array<[number, number]> = [];
    let p = offset;
    while (p < end) {
      const c = Math.floor(p / cb);
      const stop = Math.min(end, (c + 1) * cb);
      if (this.side.has(c)) await this.side.readChunk(c, p - c * cb, target, p - offset, stop - p);
      else {
        const last = fromOrigin.at(-1);
        if (last && last[1] === p) last[1] = stop;
        else fromOrigin.push([p, stop]);
      }
      p = stop;
    }
    for (const [a, b] of fromOrigin) await this.origin.readInto(target.subarray(a - offset, b - offset), a);
    // Chunks preserved while the origin was being read: their origin bytes may already be new.
    for (const [a, b] of fromOrigin) {
      for (let c = Math.floor(a / cb); c * cb < b; c++) {
        if (!this.side.has(c)) continue;
        const s = Math.max(a, c * cb);
        const e = Math.min(b, (c + 1) * cb);
        await this.side.readChunk(c, s - c * cb, target, s - offset, e - s);
      }
    }
    this.check();
  }

  async write(): Promise<void> {
    throw Sense.writeProtected();
  }
  async discard(): Promise<void> {
    throw Sense.writeProtected();
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
