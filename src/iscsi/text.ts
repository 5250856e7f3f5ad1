/**
 * Text segment codec (RFC 7143 §6.1): `key=value\0` pairs in Login/Text PDUs, plus the value
 * syntaxes shared by target and initiator (numbers, booleans, lists, iSCSI names).
 */

const MAX_KEY_LENGTH = 63;
const MAX_BINARY_VALUE_LENGTH = 8192;

export type KeyValue = readonly [key: string, value: string];

export class TextError extends Error {}

/** Encode pairs as NUL-terminated `key=value` strings (no padding; the serializer pads). */
export function encodeText(pairs: Iterable<KeyValue>): Buffer {
  const parts: string[] = [];
  for (const [k, v] of pairs) parts.push(`${k}=${v}\0`);
  return Buffer.from(parts.join(''), 'utf8');
}

/**
 * Decode a text segment. Trailing NUL padding is ignored; a final string without its NUL is
 * accepted (some initiators omit it). Throws TextError for a string without '=' or with an
 * empty/over-long key, which the caller answers as a protocol/initiator error.
 */
export function decodeText(data: Buffer): KeyValue[] {
  const out: KeyValue[] = [];
  let start = 0;
  const n = data.length;
  while (start < n) {
    let end = data.indexOf(0, start);
    if (end < 0) end = n;
    if (end > start) {
      const s = data.toString('utf8', start, end);
      const eq = s.indexOf('=');
      if (eq <= 0) throw new TextError(`malformed text key "${s.slice(0, 64)}"`);
      const key = s.slice(0, eq);
      if (key.length > MAX_KEY_LENGTH) throw new TextError(`key too long: ${key.slice(0, 64)}`);
      const value = s.slice(eq + 1);
      if (value.length > MAX_BINARY_VALUE_LENGTH) throw new TextError(`value of ${key} too long`);
      out.push([key, value]);
    }
    start = end + 1;
  }
  return out;
}

/** Decimal, 0x hex or 0b base64 number (RFC 7143 §6.1 numerical values). */
export function parseNumber(v: string): number | undefined {
  if (/^[0-9]+$/.test(v)) {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  if (/^0[xX][0-9a-fA-F]+$/.test(v)) {
    const n = parseInt(v.slice(2), 16);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

export function parseBoolean(v: string): boolean | undefined {
  return v === 'Yes' ? true : v === 'No' ? false : undefined;
}

export const formatBoolean = (b: boolean): string => (b ? 'Yes' : 'No');

export function parseList(v: string): string[] {
  return v.split(',');
}

/** Reserved answer values. */
export const NOT_UNDERSTOOD = 'NotUnderstood';
export const IRRELEVANT = 'Irrelevant';
export const REJECT = 'Reject';

/** Well-formed iSCSI name (iqn./eui./naa.), ≤ 223 bytes, compared lower-cased. */
export function isValidIscsiName(name: string): boolean {
  if (!name || Buffer.byteLength(name) > 223) return false;
  const n = name.toLowerCase();
  if (n.startsWith('iqn.')) return /^iqn\.\d{4}-\d{2}\.[a-z0-9_-]+(\.[a-z0-9_-]+)*(:[^\s,]*)?$/.test(n);
  if (n.startsWith('eui.')) return /^eui\.[0-9a-f]{16}$/.test(n);
  if (n.startsWith('naa.')) return /^naa\.([0-9a-f]{16}|[0-9a-f]{32})$/.test(n);
  return false;
}

export const normalizeName = (name: string): string => name.toLowerCase();
