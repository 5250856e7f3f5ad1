/** The deterministic write sequence of cow-writer-child.ts, recomputed by the parent to check acknowledged writes. */
export function writeOf(run: number, n: number, size: number): { offset: number; data: Buffer } {
  // xorshift on (run, n): offsets 512-aligned, lengths 512 B .. 24 KiB, so writes span chunks.
  let x = (run * 0x9e3779b1 + n * 0x85ebca6b + 1) >>> 0;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
  next();
  const length = 512 * (1 + (next() % 48));
  const offset = 512 * (next() % ((size - length) / 512));
  const data = Buffer.alloc(length);
  for (let p = 0; p < length; p += 8) {
    data.writeUInt32LE(run, p);
    data.writeUInt32LE(n, p + 4);
  }
  return { offset, data };
}
