/**
 * iSNSP attributes (RFC 4171 §5.3, §6.1): TAG (4) | LENGTH (4) | VALUE. LENGTH counts the value's
 * zero padding, so it is always a multiple of 4. Strings are UTF-8 with a terminating NUL, IP
 * addresses are always 16 bytes (IPv4 as IPv4-mapped), ports are 4 bytes with the UDP bit at
 * 0x00010000. Pure functions, no I/O.
 */
import { isIPv4 } from 'node:net';

export interface Tlv {
  tag: number;
  /** The value as on the wire, padding included; empty for a zero-length attribute. */
  value: Buffer;
}

export class TlvError extends Error {}

const pad4 = (n: number) => (n + 3) & ~3;

export const tlv = (tag: number, value: Buffer = Buffer.alloc(0)): Tlv => ({ tag, value });

/** A zero-length attribute: "return this" in a query, "every object" as a key, "assign" in a registration. */
export const empty = (tag: number): Tlv => tlv(tag);

export function tlvString(tag: number, s: string): Tlv {
  const bytes = Buffer.from(s, 'utf8');
  const value = Buffer.alloc(pad4(bytes.length + 1));
  bytes.copy(value);
  return tlv(tag, value);
}

export function tlvU32(tag: number, n: number): Tlv {
  const value = Buffer.alloc(4);
  value.writeUInt32BE(n >>> 0);
  return tlv(tag, value);
}

export function tlvU64(tag: number, n: bigint): Tlv {
  const value = Buffer.alloc(8);
  value.writeBigUInt64BE(n);
  return tlv(tag, value);
}

/** An IP address as the 16-byte field: IPv4 goes IPv4-mapped (::ffff:a.b.c.d). */
function encodeIp(address: string): Buffer {
  const out = Buffer.alloc(16);
  if (isIPv4(address)) {
    out[10] = 0xff;
    out[11] = 0xff;
    address.split('.').forEach((p, i) => (out[12 + i] = Number(p)));
    return out;
  }
  // IPv6: expand the one '::' to the zero groups it stands for.
  const [head = '', tail] = address.split('::');
  const groups = (g: string) => (g ? g.split(':').map((w) => parseInt(w, 16)) : []);
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const zeros = 8 - left.length - right.length;
  if (tail !== undefined && zeros < 1) throw new TlvError(`not an IP address: ${address}`);
  const words = tail === undefined ? left : [...left, ...new Array<number>(zeros).fill(0), ...right];
  if (words.length !== 8 || words.some((w) => !(w >= 0 && w <= 0xffff))) throw new TlvError(`not an IP address: ${address}`);
  words.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** The 16-byte field as text: IPv4-mapped and IPv4-compatible (isnsadm's form) decode as IPv4. */
export function decodeIp(b: Buffer): string {
  if (b.length !== 16) throw new TlvError(`IP address field of ${b.length} bytes (16 expected)`);
  const zeros10 = b.subarray(0, 10).every((x) => x === 0);
  const mapped = zeros10 && b[10] === 0xff && b[11] === 0xff;
  const compatible = zeros10 && b[10] === 0 && b[11] === 0 && b.readUInt32BE(12) > 1;
  if (mapped || compatible) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i).toString(16));
  return words.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

export const tlvIp = (tag: number, address: string): Tlv => tlv(tag, encodeIp(address));

interface PortField {
  port: number;
  udp: boolean;
}

export function tlvPort(tag: number, port: number, udp = false): Tlv {
  return tlvU32(tag, (port & 0xffff) | (udp ? 0x10000 : 0));
}

// --- reading values --------------------------------------------------------------------------

export function readString(t: Tlv): string {
  const nul = t.value.indexOf(0);
  return t.value.toString('utf8', 0, nul < 0 ? t.value.length : nul);
}

export function readU32(t: Tlv): number {
  if (t.value.length !== 4) throw new TlvError(`attribute ${t.tag}: ${t.value.length} bytes (4 expected)`);
  return t.value.readUInt32BE(0);
}

export function readPort(t: Tlv): PortField {
  const v = readU32(t);
  return { port: v & 0xffff, udp: (v & 0x10000) !== 0 };
}

// --- lists of attributes ---------------------------------------------------------------------

export function encodeTlvs(list: readonly Tlv[]): Buffer {
  const out = Buffer.alloc(list.reduce((n, t) => n + 8 + t.value.length, 0));
  let off = 0;
  for (const t of list) {
    if (t.value.length % 4) throw new TlvError(`attribute ${t.tag}: value of ${t.value.length} bytes is not padded to 4`);
    out.writeUInt32BE(t.tag, off);
    out.writeUInt32BE(t.value.length, off + 4);
    t.value.copy(out, off + 8);
    off += 8 + t.value.length;
  }
  return out;
}

/** Every attribute of a payload; a length that is not a multiple of 4 or runs past the end is an error. */
export function decodeTlvs(b: Buffer, offset = 0): Tlv[] {
  const out: Tlv[] = [];
  let off = offset;
  while (off < b.length) {
    if (b.length - off < 8) throw new TlvError(`truncated attribute header at byte ${off}`);
    const tag = b.readUInt32BE(off);
    const len = b.readUInt32BE(off + 4);
    if (len % 4) throw new TlvError(`attribute ${tag} at byte ${off}: length ${len} is not a multiple of 4`);
    if (off + 8 + len > b.length) throw new TlvError(`attribute ${tag} at byte ${off}: length ${len} runs past the payload`);
    out.push({ tag, value: b.subarray(off + 8, off + 8 + len) });
    off += 8 + len;
  }
  return out;
}
