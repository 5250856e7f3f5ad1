/**
 * A bitmap over a disk's LBAs that costs memory only where bits are set: 32768-bit chunks held in a
 * Map, with all-ones chunks kept as a marker. Used twice by the disk: which blocks are mapped (thin
 * provisioning, GET LBA STATUS) and which blocks changed since the last snapshot (incremental backup).
 */
const SHIFT = 15;
const CHUNK_BITS = 1 << SHIFT;
const WORDS = CHUNK_BITS / 32;
const FULL = 1 as const;
type Chunk = Uint32Array | typeof FULL;

export interface Extent {
  lba: number;
  count: number;
}

export class BlockBitmap {
  private chunks = new Map<number, Chunk>();

  constructor(readonly bits: number) {}

  static fromExtents(bits: number, extents: Iterable<Extent>): BlockBitmap {
    const b = new BlockBitmap(bits);
    for (const e of extents) b.set(e.lba, e.count);
    return b;
  }

  /** A bitmap with every bit set. */
  static full(bits: number): BlockBitmap {
    const b = new BlockBitmap(bits);
    b.set(0, bits);
    return b;
  }

  get(i: number): boolean {
    const c = this.chunks.get(Math.floor(i / CHUNK_BITS));
    if (c === undefined) return false;
    if (c === FULL) return true;
    const o = i % CHUNK_BITS;
    return (c[o >>> 5]! & (1 << (o & 31))) !== 0;
  }

  set(start: number, count: number): void {
    this.apply(start, count, true);
  }

  clear(start: number, count: number): void {
    this.apply(start, count, false);
  }

  private apply(start: number, count: number, value: boolean): void {
    let i = start;
    const end = Math.min(start + count, this.bits);
    while (i < end) {
      const ci = Math.floor(i / CHUNK_BITS);
      const from = i - ci * CHUNK_BITS;
      const to = Math.min(CHUNK_BITS, end - ci * CHUNK_BITS);
      const whole = from === 0 && to === CHUNK_BITS;
      let c = this.chunks.get(ci);
      if (whole) {
        if (value) this.chunks.set(ci, FULL);
        else this.chunks.delete(ci);
      } else if (!(value ? c === FULL : c === undefined)) {
        if (c === undefined) c = new Uint32Array(WORDS);
        else if (c === FULL) c = new Uint32Array(WORDS).fill(0xffffffff);
        setBits(c, from, to, value);
        this.chunks.set(ci, c);
      }
      i = ci * CHUNK_BITS + to;
    }
  }

  /** Length of the run of bits equal to `value` starting at `start`, at most `max`. */
  runLength(start: number, max: number, value: boolean): number {
    const end = Math.min(this.bits, start + max);
    let i = start;
    while (i < end) {
      const ci = Math.floor(i / CHUNK_BITS);
      const c = this.chunks.get(ci);
      const chunkEnd = Math.min(end, (ci + 1) * CHUNK_BITS);
      if (c === undefined || c === FULL) {
        if ((c === FULL) !== value) return i - start;
        i = chunkEnd;
        continue;
      }
      while (i < chunkEnd) {
        const o = i - ci * CHUNK_BITS;
        const w = c[o >>> 5]!;
        if ((o & 31) === 0 && w === (value ? 0xffffffff : 0) && i + 32 <= chunkEnd) {
          i += 32;
          continue;
        }
        if (((w & (1 << (o & 31))) !== 0) !== value) return i - start;
        i++;
      }
    }
    return i - start;
  }

  /** Number of set bits. */
  count(): number {
    let n = 0;
    for (const [ci, c] of this.chunks) {
      if (c === FULL) n += Math.min(CHUNK_BITS, this.bits - ci * CHUNK_BITS);
      else for (let w = 0; w < WORDS; w++) n += popcount(c[w]!);
    }
    return n;
  }

  /** Runs of set bits in LBA order. */
  *extents(): Generator<Extent> {
    const keys = [...this.chunks.keys()].sort((a, b) => a - b);
    let cur: Extent | undefined;
    for (const ci of keys) {
      const base = ci * CHUNK_BITS;
      let i = base;
      const end = Math.min(this.bits, base + CHUNK_BITS);
      while (i < end) {
        const ones = this.runLength(i, end - i, true);
        if (ones) {
          if (cur && cur.lba + cur.count === i) cur.count += ones;
          else {
            if (cur) yield cur;
            cur = { lba: i, count: ones };
          }
          i += ones;
        }
        if (i >= end) break;
        i += this.runLength(i, end - i, false);
      }
    }
    if (cur) yield cur;
  }

  /** Hand over the current bits and start empty (atomic with respect to the event loop). */
  takeAndReset(): BlockBitmap {
    const old = new BlockBitmap(this.bits);
    old.chunks = this.chunks;
    this.chunks = new Map();
    return old;
  }

  clearAll(): void {
    this.chunks = new Map();
  }
}

function setBits(c: Uint32Array, from: number, to: number, value: boolean): void {
  let i = from;
  while (i < to) {
    const w = i >>> 5;
    const lo = i & 31;
    const n = Math.min(32 - lo, to - i);
    const mask = n === 32 ? 0xffffffff : ((1 << n) - 1) << lo;
    c[w] = value ? c[w]! | mask : c[w]! & ~mask;
    i += n;
  }
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
