/**
 * A reader for `dmsim inspect`: lists what a SIMH .tap image holds (records, filemarks, sizes, tape
 * files) without modifying it, and says where and why the image stops being well-formed. Unlike
 * mtdump it checks each trailer against its header and does not stop at a double tape mark.
 */
import { open } from 'node:fs/promises';
import { classifyWord, MAX_RECORD_LENGTH, MARK_SPAN, recordSpan } from './simh.js';
import { walkSimhImage, type SimhStop } from './simh-scan.js';

export type InspectEntry =
  | { kind: 'record'; object: number; file: number; offset: number; length: number; bad: boolean }
  | { kind: 'filemark'; object: number; file: number; offset: number };

export interface TapeFileSummary {
  file: number;
  records: number;
  bytes: number;
  minLength: number;
  maxLength: number;
  /** True when the file is closed by a filemark. */
  closed: boolean;
}

export interface InspectReport {
  size: number;
  /** Offset where the well-formed part ends (= size for a clean image). */
  end: number;
  /** Why the scan stopped before `size`, if it did. */
  problem?: string;
  records: number;
  filemarks: number;
  dataBytes: number;
  entries: InspectEntry[];
  files: TapeFileSummary[];
}

/** Scan an image; `maxEntries` bounds the listing (the counts always cover the whole image). */
export async function inspectTape(path: string, opts: { maxEntries?: number } = {}): Promise<InspectReport> {
  const max = opts.maxEntries ?? Infinity;
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const rep: InspectReport = { size, end: 0, records: 0, filemarks: 0, dataBytes: 0, entries: [], files: [] };
    let file: TapeFileSummary = { file: 0, records: 0, bytes: 0, minLength: 0, maxLength: 0, closed: false };
    let object = 0;
    const walk = await walkSimhImage(fh, size, {
      mark: (p) => {
        if (rep.entries.length < max) rep.entries.push({ kind: 'filemark', object, file: file.file, offset: p });
        file.closed = true;
        rep.files.push(file);
        file = { file: file.file + 1, records: 0, bytes: 0, minLength: 0, maxLength: 0, closed: false };
        rep.filemarks++;
        object++;
      },
      record: (p, n, bad) => {
        if (rep.entries.length < max) rep.entries.push({ kind: 'record', object, file: file.file, offset: p, length: n, bad });
        file.minLength = file.records ? Math.min(file.minLength, n) : n;
        file.maxLength = Math.max(file.maxLength, n);
        file.records++;
        file.bytes += n;
        rep.records++;
        rep.dataBytes += n;
        object++;
      },
    });
    const p = walk.end;
    const stop = walk.stop;
    if (stop) rep.problem = problemOf(stop);
    rep.end = p;
    if (file.records) rep.files.push(file);
    return rep;
  } finally {
    await fh.close();
  }
}

function problemOf(stop: SimhStop): string {
  const p = stop.offset;
  switch (stop.reason) {
    case 'torn-word':
      return `torn length word at ${p}`;
    case 'torn-record':
      return `record at ${p} promises ${stop.length} bytes, image ends first`;
    case 'trailer-mismatch':
      return `record at ${p}: trailer 0x${stop.trailer.toString(16)} does not match header 0x${stop.word.toString(16)}`;
    case 'eom':
      return `end-of-medium marker at ${p}`;
    case 'unexpected':
      return `unexpected word 0x${stop.word.toString(16)} (${stop.kind}) at ${p}`;
  }
}

/** Human-readable listing, one line per object, then per-file totals. */
export function formatInspect(r: InspectReport): string {
  const lines: string[] = [];
  for (const e of r.entries) {
    lines.push(
      e.kind === 'record'
        ? `obj ${e.object}\tfile ${e.file}\t@${e.offset}\trecord ${e.length} bytes${e.bad ? ' (flagged bad)' : ''}`
        : `obj ${e.object}\tfile ${e.file}\t@${e.offset}\tfilemark`,
    );
  }
  if (r.entries.length < r.records + r.filemarks) lines.push(`... ${r.records + r.filemarks - r.entries.length} more objects`);
  for (const f of r.files) {
    lines.push(`file ${f.file}: ${f.records} records, ${f.bytes} bytes, record size ${f.minLength}..${f.maxLength}${f.closed ? '' : ' (no closing filemark)'}`);
  }
  lines.push(`${r.records} records, ${r.filemarks} filemarks, ${r.dataBytes} data bytes, image ${r.size} bytes`);
  if (r.problem) lines.push(`stops at ${r.end}: ${r.problem}`);
  return lines.join('\n');
}

/**
 * The data records of tape file `file` (0-based: the records after the file-th filemark), in order,
 * read straight from the image: what `dd` from a drive positioned there would return. Stops at the
 * next filemark, at the end of the well-formed part, or at EOF.
 */
export async function* tapeFileRecords(path: string, file: number): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const word = Buffer.alloc(4);
    let p = 0;
    let current = 0;
    while (p + 4 <= size) {
      await fh.read(word, 0, 4, p);
      const w = word.readUInt32LE(0);
      const kind = classifyWord(w);
      if (kind === 'mark') {
        if (current === file) return;
        current++;
        p += MARK_SPAN;
        continue;
      }
      if (kind !== 'record' && kind !== 'bad-record') return;
      const n = w & MAX_RECORD_LENGTH;
      if (p + recordSpan(n) > size) return;
      if (current === file) {
        const data = Buffer.allocUnsafe(n);
        await fh.read(data, 0, n, p + 4);
        yield data;
      }
      p += recordSpan(n);
    }
  } finally {
    await fh.close();
  }
}
