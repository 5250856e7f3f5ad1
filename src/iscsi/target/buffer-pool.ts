/**
 * Recycled write-gather buffers for large SBC writes: a steady 128 KiB write load then needs no
 * fresh ArrayBuffer (and no garbage) per command. Only buffers of commands whose device copies
 * the data (WRITE / WRITE AND VERIFY to a disk store) come back here, and only after their
 * command completed normally.
 */

/** Below this a write's data is usually a view into the socket chunk: no pooling. */
export const POOL_MIN = 16 * 1024;
const PER_SIZE = 64;
const TOTAL_MAX = 64 * 1024 * 1024;

/** SBC WRITE(10/12/16) and WRITE AND VERIFY(10/12/16): the disk copies dataOut into its store. */
export const POOLED_OPCODES: ReadonlySet<number> = new Set([0x2a, 0xaa, 0x8a, 0x2e, 0xae, 0x8e]);

export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private bytes = 0;

  take(size: number): Buffer {
    const list = this.free.get(size);
    const b = list?.pop();
    if (b) {
      this.bytes -= size;
      return b;
    }
    return Buffer.allocUnsafeSlow(size);
  }

  give(b: Buffer): void {
    const size = b.length;
    if (b.byteOffset !== 0 || b.buffer.byteLength !== size || this.bytes + size > TOTAL_MAX) return;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    if (list.length >= PER_SIZE) return;
    list.push(b);
    this.bytes += size;
  }
}
