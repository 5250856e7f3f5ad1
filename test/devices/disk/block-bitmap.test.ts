import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BlockBitmap } from '../../../firmware-sim/devices/disk/block-bitmap.js';

/** Reference model: one boolean per bit. */
function runs(bits: boolean[]): Array<{ lba: number; count: number }> {
  const out: Array<{ lba: number; count: number }> = [];
  for (let i = 0; i < bits.length; i++) {
    if (!bits[i]) continue;
    const last = out[out.length - 1];
    if (last && last.lba + last.count === i) last.count++;
    else out.push({ lba: i, count: 1 });
  }
  return out;
}

describe('BlockBitmap', () => {
  it('matches a boolean-array model under random set/clear, across chunk boundaries', () => {
    const size = 100_000;
    const op = fc.record({ set: fc.boolean(), start: fc.integer({ min: 0, max: size - 1 }), count: fc.integer({ min: 0, max: 70_000 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), fc.integer({ min: 0, max: size - 1 }), (ops, probe) => {
        const b = new BlockBitmap(size);
        const m = new Array<boolean>(size).fill(false);
        for (const o of ops) {
          if (o.set) b.set(o.start, o.count);
          else b.clear(o.start, o.count);
          for (let i = o.start; i < Math.min(size, o.start + o.count); i++) m[i] = o.set;
        }
        expect(b.get(probe)).toBe(m[probe]);
        expect([...b.extents()]).toEqual(runs(m));
        expect(b.count()).toBe(m.filter(Boolean).length);
        let n = 0;
        while (probe + n < size && m[probe + n] === m[probe]) n++;
        expect(b.runLength(probe, size, m[probe]!)).toBe(n);
      }),
      { numRuns: 60 },
    );
  });

  it('full() is all ones without per-bit memory; takeAndReset hands over and empties', () => {
    const b = BlockBitmap.full(3 * 32768 + 5);
    expect(b.count()).toBe(3 * 32768 + 5);
    expect([...b.extents()]).toEqual([{ lba: 0, count: 3 * 32768 + 5 }]);
    b.clear(40000, 10);
    const old = b.takeAndReset();
    expect([...old.extents()]).toEqual([{ lba: 0, count: 40000 }, { lba: 40010, count: 3 * 32768 + 5 - 40010 }]);
    expect(b.count()).toBe(0);
    expect(b.runLength(0, 1e6, false)).toBe(3 * 32768 + 5);
  });
});
