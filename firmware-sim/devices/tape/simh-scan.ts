/**
 * The one walk over a SIMH .tap image (tape-ssc.md §8.1), shared by the cartridge's load-time
 * index scan and the read-only `dmsim inspect` reader: each well-formed object is reported in
 * order, and the walk says where and why the well-formed part ends. What to do at that point
 * (cut a torn tail, refuse the image, report a problem) is the caller's.
 */
import type { FileHandle } from 'node:fs/promises';
import { classifyWord, MARK_SPAN, MAX_RECORD_LENGTH, recordSpan, type WordKind } from './simh.js';

/** Why a walk stopped before the end of the image. */
export type SimhStop =
  | { reason: 'torn-word'; offset: number }
  /** The record at `offset` promises `length` bytes the image does not hold. */
  | { reason: 'torn-record'; offset: number; word: number; length: number }
  | { reason: 'trailer-mismatch'; offset: number; word: number; trailer: number }
  | { reason: 'eom'; offset: number; word: number }
  /** An erase gap or a reserved word: nothing dmsim writes. */
  | { reason: 'unexpected'; offset: number; word: number; kind: WordKind };

export interface SimhVisitor {
  mark(offset: number): void;
  record(offset: number, length: number, bad: boolean): void;
}

/**
 * Walk the image's first `size` bytes. Resolves to where the well-formed part ends and, when that
 * is before `size`, why. A visitor that throws stops the walk with its error.
 */
export async function walkSimhImage(fh: FileHandle, size: number, visit: SimhVisitor): Promise<{ end: number; stop?: SimhStop }> {
  const r = new WindowReader(fh, size);
  let p = 0;
  while (p < size) {
    if (size - p < 4) return { end: p, stop: { reason: 'torn-word', offset: p } };
    const w = r.peek(p) ?? (await r.u32(p));
    const kind = classifyWord(w);
    if (kind === 'mark') {
      visit.mark(p);
      p += MARK_SPAN;
      continue;
    }
    if (kind === 'record' || kind === 'bad-record') {
      const n = w & MAX_RECORD_LENGTH;
      const span = recordSpan(n);
      if (p + span > size) return { end: p, stop: { reason: 'torn-record', offset: p, word: w, length: n } };
      const t = r.peek(p + span - 4) ?? (await r.u32(p + span - 4));
      if (t !== w) return { end: p, stop: { reason: 'trailer-mismatch', offset: p, word: w, trailer: t } };
      visit.record(p, n, kind === 'bad-record');
      p += span;
      continue;
    }
    if (kind === 'eom') return { end: p, stop: { reason: 'eom', offset: p, word: w } };
    return { end: p, stop: { reason: 'unexpected', offset: p, word: w, kind } };
  }
  return { end: p };
}

/** Sequential-ish reads of 4-byte words through a 1 MiB window. */
class WindowReader {
  private buf = Buffer.allocUnsafe(1 << 20);
  private start = 0;
  private len = 0;
  constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
  ) {}
  /** The word at p when it is in the window (no await on the common path), else undefined. */
  peek(p: number): number | undefined {
    return p >= this.start && p + 4 <= this.start + this.len ? this.buf.readUInt32LE(p - this.start) : undefined;
  }
  async u32(p: number): Promise<number> {
    const w = this.peek(p);
    if (w !== undefined) return w;
    this.start = p;
    const want = Math.min(this.buf.length, this.size - p);
    const { bytesRead } = await this.fh.read(this.buf, 0, want, p);
    this.len = bytesRead;
    if (bytesRead < 4) throw new Error(`short read at ${p}`);
    return this.buf.readUInt32LE(0);
  }
}
