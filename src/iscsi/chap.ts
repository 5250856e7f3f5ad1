/**
 * CHAP for iSCSI (RFC 1994, RFC 7143 §12.1.3), both sides: response = MD5(id ‖ secret ‖
 * challenge); binary values as 0x hex or 0b base64 (RFC 7143 §6.1 binary-value).
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

export const CHAP_MD5 = 5;
export const CHAP_RESPONSE_LENGTH = 16;
export const CHAP_CHALLENGE_LENGTH = 16;
export const CHAP_MAX_CHALLENGE = 1024;

/** MD5(identifier byte ‖ secret ‖ challenge). */
export function chapResponse(id: number, secret: string | Buffer, challenge: Buffer): Buffer {
  const h = createHash('md5');
  h.update(Buffer.from([id & 0xff]));
  h.update(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret);
  h.update(challenge);
  return h.digest();
}

/** Constant-time check of a received response. */
export function chapVerify(id: number, secret: string | Buffer, challenge: Buffer, response: Buffer): boolean {
  const want = chapResponse(id, secret, challenge);
  return response.length === want.length && timingSafeEqual(response, want);
}

/** Encode binary as `0x` + lower-case hex (what libiscsi parses) or `0b` + base64. */
export function encodeBinary(b: Buffer, form: 'hex' | 'base64' = 'hex'): string {
  return form === 'hex' ? `0x${b.toString('hex')}` : `0b${b.toString('base64')}`;
}

/**
 * Decode a binary value; undefined when it is neither well-formed hex (0x/0X) nor base64
 * (0b/0B). An odd number of hex digits means a leading zero nibble.
 */
export function decodeBinary(v: string): Buffer | undefined {
  const p = v.slice(0, 2);
  const body = v.slice(2);
  if (!body) return undefined;
  if (p === '0x' || p === '0X') {
    if (!/^[0-9a-fA-F]+$/.test(body)) return undefined;
    return Buffer.from(body.length & 1 ? `0${body}` : body, 'hex');
  }
  if (p === '0b' || p === '0B') {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) return undefined;
    return Buffer.from(body, 'base64');
  }
  return undefined;
}

/** Fresh challenge and identifier for a login. */
export function newChallenge(): { id: number; challenge: Buffer } {
  return { id: randomInt(0, 256), challenge: randomBytes(CHAP_CHALLENGE_LENGTH) };
}

/** First algorithm in a CHAP_A offer that dmsim supports (MD5 only), or undefined. */
export function pickChapAlgorithm(offer: string): number | undefined {
  return offer.split(',').some((a) => a.trim() === String(CHAP_MD5)) ? CHAP_MD5 : undefined;
}

/** Parse CHAP_I (decimal 0..255, also 0x hex). */
export function parseChapId(v: string): number | undefined {
  const n = /^[0-9]+$/.test(v) ? Number(v) : /^0[xX][0-9a-fA-F]+$/.test(v) ? parseInt(v.slice(2), 16) : NaN;
  return Number.isInteger(n) && n >= 0 && n <= 255 ? n : undefined;
}
