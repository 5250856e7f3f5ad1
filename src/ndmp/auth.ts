/**
 * NDMP authentication helpers (ndmp.md §2.1): the MD5 challenge digest over a 128-byte buffer of
 * zeros with the password at 0, the 64-byte challenge at 64 − pwlen and the password again ending
 * at byte 127; the password is cut to 32 bytes so the pieces never overlap.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const CHALLENGE_LENGTH = 64;

export function newChallenge(): Buffer {
  return randomBytes(CHALLENGE_LENGTH);
}

export function md5Digest(password: string, challenge: Buffer): Buffer {
  const pw = Buffer.from(password, 'utf8').subarray(0, 32);
  const m = Buffer.alloc(128);
  pw.copy(m, 0);
  challenge.copy(m, 64 - pw.length);
  pw.copy(m, 128 - pw.length);
  return createHash('md5').update(m).digest();
}

export function sameSecret(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
