/**
 * Typed wrapper over buffer-layout. SCSI structures are big-endian with bit-packed flag bytes;
 * buffer-layout handles the byte-aligned fields and we keep flag bytes as plain u8 fields that
 * the family modules pack with `bit()` / `field()` below, so each structure is still declared in
 * one table and decoded in one place.
 */
import * as BL from 'buffer-layout';

export type FieldLayout = BL.Layout;
export const u8 = BL.u8;
export const u16 = BL.u16be;
export const u24 = BL.u24be;
export const u32 = BL.u32be;
/** 64-bit big-endian as a JS number: exact up to 2^53, which covers every LBA and byte count dmsim can hold. */
export const u64 = BL.nu64be;
export const blob = BL.blob;
export const seq = BL.seq;

export interface Struct<T> {
  readonly span: number;
  decode(b: Uint8Array, offset?: number): T;
  encode(v: T, b?: Buffer, offset?: number): Buffer;
  offsetOf(field: keyof T & string): number;
}

/** Declare a fixed-size structure. Encoding fills omitted numeric fields with 0. */
export function struct<T extends object>(fields: BL.Layout[]): Struct<T> {
  const s = BL.struct<T>(fields);
  const names = fields.map((f) => f.property).filter((p): p is string => !!p);
  return {
    span: s.span,
    decode(b, offset = 0) {
      if (b.length - offset < s.span) throw new RangeError(`need ${s.span} bytes, have ${b.length - offset}`);
      return s.decode(b, offset);
    },
    encode(v, b, offset = 0) {
      const out = b ?? Buffer.alloc(s.span + offset);
      const full = { ...v } as Record<string, unknown>;
      for (const n of names) if (full[n] === undefined) full[n] = fieldDefault(s.layoutFor(n));
      s.encode(full as T, out, offset);
      return out;
    },
    offsetOf(field) {
      const o = s.offsetOf(field);
      if (o === undefined) throw new Error(`no field ${field}`);
      return o;
    },
  };
}

function fieldDefault(l: BL.Layout | undefined): unknown {
  if (l instanceof BL.Blob) return Buffer.alloc(l.span);
  return 0;
}

/** Read bit `n` (0 = LSB) of a byte. */
export const bit = (byte: number, n: number): boolean => ((byte >> n) & 1) === 1;
/** Extract `width` bits starting at bit `lsb`. */
export const field = (byte: number, lsb: number, width: number): number => (byte >> lsb) & ((1 << width) - 1);
/** Pack [value, lsb, width] triples into one byte. */
export function pack(...parts: Array<[number | boolean, number, number?]>): number {
  let v = 0;
  for (const [val, lsb, width = 1] of parts) v |= ((Number(val) & ((1 << width) - 1)) << lsb);
  return v & 0xff;
}

/** Fixed-width ASCII field, space padded, as INQUIRY and VPD use. */
export function asciiField(s: string, len: number): Buffer {
  const b = Buffer.alloc(len, 0x20);
  b.write(s.slice(0, len), 'ascii');
  return b;
}
