/**
 * Medium auxiliary memory (MAM, SPC-4 READ ATTRIBUTE 8Ch / WRITE ATTRIBUTE 8Dh): the CDBs, the
 * attribute format and the attribute catalogue of smc.md §5.4. The drive encodes READ ATTRIBUTE
 * responses and parses WRITE ATTRIBUTE lists with these; the backup server does the reverse.
 */
import { bit, field, pack, struct, u8, u16, u32 } from './layout.js';

export const MamFormat = { BINARY: 0, ASCII: 1, TEXT: 2 } as const;

/** READ ATTRIBUTE service actions (byte 1 bits 4..0). */
export const ReadAttributeSA = { VALUES: 0x00, LIST: 0x01, VOLUME_LIST: 0x02, PARTITION_LIST: 0x03, SUPPORTED: 0x05 } as const;

/** One attribute as it sits in a READ ATTRIBUTE response or WRITE ATTRIBUTE list. */
export interface Attribute {
  id: number;
  readOnly: boolean;
  format: number;
  value: Buffer;
}

export interface AttributeDef {
  id: number;
  name: string;
  format: number;
  /** Fixed length in bytes; undefined = variable (up to `max`). */
  length?: number;
  max?: number;
  readOnly: boolean;
}

const ro = (id: number, name: string, format: number, length: number): AttributeDef => ({ id, name, format, length, readOnly: true });
const rw = (id: number, name: string, format: number, length?: number, max?: number): AttributeDef => ({ id, name, format, ...(length !== undefined ? { length } : {}), ...(max !== undefined ? { max } : {}), readOnly: false });
const { BINARY: B, ASCII: A, TEXT: T } = MamFormat;

/** The attributes dmsim's drive knows, ascending (smc.md §5.4 table). */
export const MAM_ATTRIBUTES: readonly AttributeDef[] = [
  ro(0x0000, 'remaining capacity in partition (MiB)', B, 8),
  ro(0x0001, 'maximum capacity in partition (MiB)', B, 8),
  ro(0x0002, 'TapeAlert flags', B, 8),
  ro(0x0003, 'load count', B, 8),
  ro(0x0004, 'MAM space remaining', B, 8),
  ro(0x0005, 'assigning organization', A, 8),
  ro(0x0006, 'formatted density code', B, 1),
  ro(0x0007, 'initialization count', B, 2),
  ro(0x0008, 'volume identifier', A, 32),
  ro(0x0009, 'volume change reference', B, 4),
  ro(0x020a, 'device at last load', A, 40),
  ro(0x020b, 'device at load -1', A, 40),
  ro(0x020c, 'device at load -2', A, 40),
  ro(0x020d, 'device at load -3', A, 40),
  ro(0x0220, 'total MiB written in medium life', B, 8),
  ro(0x0221, 'total MiB read in medium life', B, 8),
  ro(0x0222, 'total MiB written in current/last load', B, 8),
  ro(0x0223, 'total MiB read in current/last load', B, 8),
  ro(0x0224, 'logical position of first encrypted block', B, 8),
  ro(0x0225, 'logical position of first unencrypted block after the first encrypted block', B, 8),
  ro(0x0400, 'medium manufacturer', A, 8),
  ro(0x0401, 'medium serial number', A, 32),
  ro(0x0402, 'medium length (m)', B, 4),
  ro(0x0403, 'medium width (0.1 mm)', B, 4),
  ro(0x0404, 'assigning organization', A, 8),
  ro(0x0405, 'medium density code', B, 1),
  ro(0x0406, 'medium manufacture date', A, 8),
  ro(0x0407, 'MAM capacity', B, 8),
  ro(0x0408, 'medium type', B, 1),
  ro(0x0409, 'medium type information', B, 2),
  rw(0x0800, 'application vendor', A, 8),
  rw(0x0801, 'application name', A, 32),
  rw(0x0802, 'application version', A, 8),
  rw(0x0803, 'user medium text label', T, 160),
  rw(0x0804, 'date and time last written', A, 12),
  rw(0x0805, 'text localization identifier', B, 1),
  rw(0x0806, 'barcode', A, 32),
  rw(0x0807, 'owning host textual name', T, 80),
  rw(0x0808, 'media pool', T, 160),
  rw(0x0809, 'partition user text label', A, 16),
  rw(0x080a, 'load/unload at partition', B, 1),
  rw(0x080b, 'application format version', A, 16),
  rw(0x080c, 'volume coherency information', B, undefined, 256),
  rw(0x0820, 'medium globally unique identifier', B, 36),
  rw(0x0821, 'media pool globally unique identifier', B, 36),
];

const BY_ID = new Map(MAM_ATTRIBUTES.map((d) => [d.id, d]));

/** Host vendor-specific range (1400h–17FFh): writable with any format and length. */
const isHostVendorAttribute = (id: number): boolean => id >= 0x1400 && id <= 0x17ff;

export function attributeDef(id: number): AttributeDef | undefined {
  return BY_ID.get(id) ?? (isHostVendorAttribute(id) ? { id, name: 'host vendor specific', format: B, max: 1024, readOnly: false } : undefined);
}

/** Value of an ASCII (space-padded) or TEXT (NUL-padded) attribute, or binary as is, at its fixed length. */
export function attributeValue(def: AttributeDef, v: string | number | bigint | Buffer): Buffer {
  if (Buffer.isBuffer(v)) return v;
  const n = def.length ?? 8;
  if (typeof v === 'string') {
    const b = Buffer.alloc(n, def.format === MamFormat.ASCII ? 0x20 : 0);
    b.write(v.slice(0, n), 0, def.format === MamFormat.TEXT ? 'utf8' : 'ascii');
    return b;
  }
  const b = Buffer.alloc(n);
  let x = BigInt(v);
  for (let i = n - 1; i >= 0; i--) {
    b[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return b;
}

// ---------------------------------------------------------------- attribute format (5-byte header + value)

export function encodeAttributes(attrs: readonly Attribute[]): Buffer {
  return Buffer.concat(attrs.map((a) => {
    const h = Buffer.alloc(5);
    h.writeUInt16BE(a.id, 0);
    h[2] = pack([a.readOnly, 7], [a.format, 0, 2]);
    h.writeUInt16BE(a.value.length, 3);
    return Buffer.concat([h, a.value]);
  }));
}

/** A WRITE ATTRIBUTE list or a READ ATTRIBUTE answer that does not parse: offset of the bad attribute. */
export class AttributeListError extends Error {
  constructor(readonly offset: number, message: string) {
    super(message);
    this.name = 'AttributeListError';
  }
}

/** Parse attributes from `b` (no 4-byte header); each result carries its byte offset in `b` + `base`. */
export function decodeAttributes(b: Buffer, base = 0): Array<Attribute & { offset: number }> {
  const out: Array<Attribute & { offset: number }> = [];
  for (let p = 0; p < b.length; ) {
    if (p + 5 > b.length) throw new AttributeListError(base + p, `attribute header at ${base + p} cut short`);
    const len = b.readUInt16BE(p + 3);
    if (p + 5 + len > b.length) throw new AttributeListError(base + p, `attribute ${b.readUInt16BE(p).toString(16)}h value cut short`);
    out.push({ id: b.readUInt16BE(p), readOnly: bit(b[p + 2]!, 7), format: field(b[p + 2]!, 0, 2), value: Buffer.from(b.subarray(p + 5, p + 5 + len)), offset: base + p });
    p += 5 + len;
  }
  return out;
}

/**
 * READ ATTRIBUTE SA 00h answer: AVAILABLE DATA counts every attribute that would be returned,
 * then whole attributes only up to the allocation length (smc.md §5.4).
 */
export function encodeAttributeValues(attrs: readonly Attribute[], allocationLength: number): Buffer {
  const body = encodeAttributes(attrs);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  let cut = 0;
  for (const a of attrs) {
    if (4 + cut + 5 + a.value.length > allocationLength) break;
    cut += 5 + a.value.length;
  }
  return Buffer.concat([head, body.subarray(0, cut)]);
}

export function decodeAttributeValues(b: Buffer): { available: number; attributes: Attribute[] } {
  if (b.length < 4) throw new RangeError('attribute data shorter than its header');
  const available = b.readUInt32BE(0);
  return { available, attributes: decodeAttributes(b.subarray(4, Math.min(b.length, 4 + available))).map(({ offset: _o, ...a }) => a) };
}

/** SA 01h / 05h: AVAILABLE DATA then 2-byte identifiers. */
export function encodeAttributeIdList(ids: readonly number[]): Buffer {
  const b = Buffer.alloc(4 + 2 * ids.length);
  b.writeUInt32BE(2 * ids.length, 0);
  ids.forEach((id, i) => b.writeUInt16BE(id, 4 + 2 * i));
  return b;
}

export function decodeAttributeIdList(b: Buffer): number[] {
  const n = Math.min(b.length - 4, b.readUInt32BE(0));
  return Array.from({ length: Math.floor(n / 2) }, (_, i) => b.readUInt16BE(4 + 2 * i));
}

/** SA 02h / 03h: AVAILABLE DATA (0002h), first number, count. */
export function encodeNumberList(first: number, count: number): Buffer {
  return Buffer.from([0x00, 0x02, first, count]);
}

/** WRITE ATTRIBUTE parameter list: PARAMETER DATA LENGTH (n−3) then attributes. */
export function encodeWriteAttributeList(attrs: readonly Attribute[]): Buffer {
  const body = encodeAttributes(attrs);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

// ---------------------------------------------------------------- CDBs

export interface ReadAttributeCdb {
  serviceAction: number;
  volume: number;
  partition: number;
  firstAttribute: number;
  allocationLength: number;
  cache: boolean;
}

interface ReadAttrRaw {
  opcode: number;
  sa: number;
  r2: number;
  r3: number;
  r4: number;
  volume: number;
  r6: number;
  partition: number;
  first: number;
  alloc: number;
  b14: number;
  control: number;
}
const readAttr = struct<ReadAttrRaw>([u8('opcode'), u8('sa'), u8('r2'), u8('r3'), u8('r4'), u8('volume'), u8('r6'), u8('partition'), u16('first'), u32('alloc'), u8('b14'), u8('control')]);

export function decodeReadAttributeCdb(cdb: Buffer): ReadAttributeCdb {
  const r = readAttr.decode(cdb);
  return { serviceAction: field(r.sa, 0, 5), volume: r.volume, partition: r.partition, firstAttribute: r.first, allocationLength: r.alloc, cache: bit(r.b14, 0) };
}

export function encodeReadAttributeCdb(v: Partial<ReadAttributeCdb>): Buffer {
  return readAttr.encode({
    opcode: 0x8c,
    sa: field(v.serviceAction ?? 0, 0, 5),
    r2: 0,
    r3: 0,
    r4: 0,
    volume: v.volume ?? 0,
    r6: 0,
    partition: v.partition ?? 0,
    first: v.firstAttribute ?? 0,
    alloc: v.allocationLength ?? 0x8000,
    b14: pack([!!v.cache, 0]),
    control: 0,
  });
}

export interface WriteAttributeCdb {
  wtc: boolean;
  volume: number;
  partition: number;
  parameterListLength: number;
}

interface WriteAttrRaw {
  opcode: number;
  b1: number;
  r2: number;
  r3: number;
  r4: number;
  volume: number;
  r6: number;
  partition: number;
  r8: number;
  r9: number;
  len: number;
  r14: number;
  control: number;
}
const writeAttr = struct<WriteAttrRaw>([u8('opcode'), u8('b1'), u8('r2'), u8('r3'), u8('r4'), u8('volume'), u8('r6'), u8('partition'), u8('r8'), u8('r9'), u32('len'), u8('r14'), u8('control')]);

export function decodeWriteAttributeCdb(cdb: Buffer): WriteAttributeCdb {
  const r = writeAttr.decode(cdb);
  return { wtc: bit(r.b1, 0), volume: r.volume, partition: r.partition, parameterListLength: r.len };
}

export function encodeWriteAttributeCdb(v: Partial<WriteAttributeCdb> & { parameterListLength: number }): Buffer {
  return writeAttr.encode({ opcode: 0x8d, b1: pack([!!v.wtc, 0]), r2: 0, r3: 0, r4: 0, volume: v.volume ?? 0, r6: 0, partition: v.partition ?? 0, r8: 0, r9: 0, len: v.parameterListLength, r14: 0, control: 0 });
}
