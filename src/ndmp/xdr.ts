/**
 * XDR (RFC 4506) as NDMP uses it: a bounds-checked reader and a growing writer, plus small codec
 * combinators so every NDMP message body is declared once (src/ndmp/messages.ts) and shared by the
 * server and the test client. Pure: no I/O.
 *
 * Every length and count read from the wire is checked against the bytes actually left before
 * anything is allocated, so a lying length is an XdrError (the session answers XDR_DECODE_ERR),
 * never a huge allocation or a crash.
 */

export class XdrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XdrError';
  }
}

export class XdrReader {
  private off = 0;
  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.off;
  }

  private need(n: number, what: string): void {
    if (n > this.remaining) throw new XdrError(`${what}: needs ${n} bytes, ${this.remaining} left at offset ${this.off}`);
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }

  i32(what = 'i32'): number {
    this.need(4, what);
    const v = this.buf.readInt32BE(this.off);
    this.off += 4;
    return v;
  }

  hyper(what = 'hyper'): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64BE(this.off);
    this.off += 8;
    return v;
  }

  /** Variable opaque: u32 length, bytes, pad to 4. `max` caps the declared length. */
  opaque(what = 'opaque', max = Infinity): Buffer {
    const n = this.u32(`${what} length`);
    if (n > max) throw new XdrError(`${what}: length ${n} above the limit ${max}`);
    return this.fixed(n, what);
  }

  fixed(n: number, what = 'opaque'): Buffer {
    const padded = n + ((4 - (n % 4)) % 4);
    this.need(padded, what);
    const v = this.buf.subarray(this.off, this.off + n);
    this.off += padded;
    return v;
  }

  /** Array count, checked against the bytes left (every element takes at least `minElem` bytes). */
  count(what: string, minElem = 4): number {
    const n = this.u32(`${what} count`);
    if (n * minElem > this.remaining) throw new XdrError(`${what}: count ${n} cannot fit in the ${this.remaining} bytes left`);
    return n;
  }
}

export class XdrWriter {
  private buf: Buffer;
  private off = 0;
  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.off + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  u32(v: number): this {
    this.room(4);
    this.buf.writeUInt32BE(v >>> 0, this.off);
    this.off += 4;
    return this;
  }

  i32(v: number): this {
    this.room(4);
    this.buf.writeInt32BE(v | 0, this.off);
    this.off += 4;
    return this;
  }

  hyper(v: bigint): this {
    this.room(8);
    this.buf.writeBigUInt64BE(BigInt.asUintN(64, v), this.off);
    this.off += 8;
    return this;
  }

  opaque(b: Uint8Array): this {
    this.u32(b.length);
    return this.fixed(b);
  }

  fixed(b: Uint8Array): this {
    const padded = b.length + ((4 - (b.length % 4)) % 4);
    this.room(padded);
    this.buf.set(b, this.off);
    this.buf.fill(0, this.off + b.length, this.off + padded);
    this.off += padded;
    return this;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.off);
  }
}

// ------------------------------------------------------------------ combinators

export interface Codec<T> {
  enc(w: XdrWriter, v: T): void;
  dec(r: XdrReader): T;
}
export type Of<C> = C extends Codec<infer T> ? T : never;

export const u32: Codec<number> = { enc: (w, v) => void w.u32(v), dec: (r) => r.u32() };
/** XDR `short`/`u_short`/`u_char` travel as 4 bytes too (value in the low bits). */
export const i32: Codec<number> = { enc: (w, v) => void w.i32(v), dec: (r) => r.i32() };
export const hyper: Codec<bigint> = { enc: (w, v) => void w.hyper(v), dec: (r) => r.hyper() };
export const opaque: Codec<Buffer> = { enc: (w, v) => void w.opaque(v), dec: (r) => r.opaque() };
/** Strings are raw bytes on the wire; NDMP text is UTF-8 (ndmjob sends ASCII paths). */
export const str: Codec<string> = { enc: (w, v) => void w.opaque(Buffer.from(v, 'utf8')), dec: (r) => r.opaque('string').toString('utf8') };
export const fixedOpaque = (n: number): Codec<Buffer> => ({
  enc: (w, v) => {
    if (v.length !== n) throw new XdrError(`fixed opaque: ${v.length} bytes, ${n} expected`);
    w.fixed(v);
  },
  dec: (r) => r.fixed(n),
});
export const empty: Codec<Record<string, never>> = { enc: () => {}, dec: () => ({}) };

export function arrayOf<T>(c: Codec<T>, minElem = 4): Codec<T[]> {
  return {
    enc: (w, v) => {
      w.u32(v.length);
      for (const x of v) c.enc(w, x);
    },
    dec: (r) => {
      const n = r.count('array', minElem);
      const out: T[] = [];
      for (let i = 0; i < n; i++) out.push(c.dec(r));
      return out;
    },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a field map of codecs of any type; the result type is inferred per field
type Fields = Record<string, Codec<any>>;
export type StructOf<F extends Fields> = { [K in keyof F]: Of<F[K]> };

/** A struct: fields in declaration (object key) order. */
export function struct<F extends Fields>(fields: F): Codec<StructOf<F>> {
  const entries = Object.entries(fields);
  return {
    enc: (w, v) => {
      for (const [k, c] of entries) c.enc(w, (v as Record<string, unknown>)[k]);
    },
    dec: (r) => {
      const out: Record<string, unknown> = {};
      for (const [k, c] of entries) out[k] = c.dec(r);
      return out as StructOf<F>;
    },
  };
}

/** Encode a value with a codec into a fresh buffer. */
export function encode<T>(c: Codec<T>, v: T): Buffer {
  const w = new XdrWriter();
  c.enc(w, v);
  return w.bytes();
}

/** Decode a whole buffer (trailing bytes are tolerated, as XDR record readers do). */
export function decode<T>(c: Codec<T>, b: Buffer): T {
  return c.dec(new XdrReader(b));
}
