/**
 * The SIMH .tap word vocabulary (standard padded variant, tape-ssc.md §8.1): every metadata word
 * is a little-endian uint32; a record is `[n] data [pad if n odd] [n]`. Shared by the cartridge
 * writer, its load-time scanner and the inspect reader so the format is spelled out once.
 */

export const TAPE_MARK = 0x00000000;
export const EOM_MARKER = 0xffffffff;
export const ERASE_GAP = 0xfffffffe;
/** Bit 31: the record is flagged bad (data still present). */
export const ERROR_FLAG = 0x80000000;
export const MAX_RECORD_LENGTH = 0x00ffffff;

export type WordKind = 'mark' | 'record' | 'bad-record' | 'eom' | 'gap' | 'reserved';

export function classifyWord(w: number): WordKind {
  if (w === TAPE_MARK) return 'mark';
  if (w === EOM_MARKER) return 'eom';
  if (w === ERASE_GAP) return 'gap';
  // Bits 30..24 must be zero and the length non-zero for a data record (class 0 or class 8).
  if ((w & 0x7f000000) !== 0 || (w & MAX_RECORD_LENGTH) === 0) return 'reserved';
  return w & ERROR_FLAG ? 'bad-record' : 'record';
}

/** Bytes a record of `n` data bytes takes on the image (header + data + pad + trailer). */
export const recordSpan = (n: number): number => 8 + n + (n & 1);
export const MARK_SPAN = 4;
