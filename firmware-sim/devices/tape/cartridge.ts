/**
 * A tape cartridge: one SIMH .tap image (standard padded variant, tape-ssc.md §8.4) plus a sidecar
 * JSON file `<image>.json` holding what is not on the "tape" itself (barcode, capacity, early-warning
 * zone, write protect, density, the length known to be durable, an event history). The image stays a
 * pure SIMH file so Debian's mtdump reads it.
 *
 * In memory the cartridge keeps a positional index (object offsets, record lengths, filemark
 * positions) built by one scan on open, so LOCATE is O(1) and SPACE / file-number questions are
 * O(log n) binary searches: nothing re-reads the file to find a position.
 *
 * Durability: records are written with one positional writev each (header, caller's data buffer
 * untouched, pad, trailer) and NOT fsynced. `sync()` is the durability point; the drive calls it for
 * WRITE FILEMARKS (any count, IMMED or not), REWIND, LOAD/UNLOAD, ERASE, and LOCATE/SPACE/READ after
 * writing, as buffered-mode SSC drives flush there. A crash loses at most what was written since, and
 * the trailer-as-commit-mark rule below cuts a torn record on the next open.
 *
 * Append-only: writing at object k < count first truncates the image at k (so a crash then leaves a
 * shorter but consistent tape), then appends.
 */
import { open, readFile, rename, writeFile, stat, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { InlineIo } from '../backing/inline-io.js';
import { ERROR_FLAG, MARK_SPAN, MAX_RECORD_LENGTH, recordSpan } from './simh.js';
import { walkSimhImage } from './simh-scan.js';

export interface CartridgeMeta {
  barcode: string;
  /** Physical end of partition, bytes of image (record = 8 + padded length, filemark = 4). */
  capacity: number;
  /** Size of the early-warning zone before PEOP, bytes (EW = capacity − earlyWarning). */
  earlyWarning: number;
  /** Programmable early warning size before EW, bytes; 0 = off (tape-ssc.md §5: opt-in). */
  programmableEarlyWarning: number;
  writeProtected: boolean;
  /** Density code of the medium (LTO-4 46h by default). */
  density: number;
  /** Image length known to be on stable storage (after the last sync). */
  syncedLength: number;
  events: CartridgeEvent[];
}

export interface CartridgeEvent {
  at: string;
  what: string;
  offset?: number;
  bytes?: number;
}

export const DEFAULT_EW_SIZE = 2 * 1024 * 1024;
export const DEFAULT_DENSITY = 0x46;
const MAX_EVENTS = 100;

export type TapeObject = { kind: 'record'; offset: number; length: number; bad: boolean } | { kind: 'filemark'; offset: number };

/** The image is not a tape dmsim can use: 3/30/01 (unknown format) or 3/31/00 (corrupted). */
export class CartridgeFormatError extends Error {
  constructor(
    message: string,
    readonly asc: number,
    readonly ascq: number,
  ) {
    super(message);
    this.name = 'CartridgeFormatError';
  }
}

const PAD = Buffer.alloc(1);
/** Keep each writev well under IOV_MAX (1024 on Linux). */
const IOV_BATCH = 1020;

export class Cartridge {
  /** Start offset of object i. */
  private offs: number[] = [];
  /** Record length of object i; 0 = filemark. */
  private lens: number[] = [];
  /** Object indices of the filemarks, ascending. */
  private marks: number[] = [];
  private bad = new Set<number>();
  private end = 0;
  private metaDirty = false;
  /** Bytes written or the image truncated since the last fsync. */
  private unsynced = false;
  /**
   * Image transfers up to one record of a 1 MiB block (the largest block most backup software
   * writes) run inline on the event loop (inline-io.ts): a server-free backup then writes the tape
   * on this thread while the data mover's next disk reads run in the thread pool, on the other core.
   */
  private readonly io = new InlineIo(recordSpan(1 << 20));

  private constructor(
    readonly path: string,
    private fh: FileHandle | undefined,
    readonly meta: CartridgeMeta,
  ) {}

  static sidecarPath(imagePath: string): string {
    return `${imagePath}.json`;
  }

  /** Make a blank cartridge (overwrites an existing image). */
  static async create(path: string, opts: Partial<Omit<CartridgeMeta, 'syncedLength' | 'events'>> & { capacity: number }): Promise<Cartridge> {
    if (!Number.isSafeInteger(opts.capacity) || opts.capacity <= 0) throw new RangeError(`cartridge capacity must be a positive byte count, not ${opts.capacity}`);
    const meta: CartridgeMeta = {
      barcode: opts.barcode ?? basename(path).replace(/\.tap$/i, ''),
      capacity: opts.capacity,
      earlyWarning: opts.earlyWarning ?? Math.min(DEFAULT_EW_SIZE, Math.floor(opts.capacity / 2)),
      programmableEarlyWarning: opts.programmableEarlyWarning ?? 0,
      writeProtected: opts.writeProtected ?? false,
      density: opts.density ?? DEFAULT_DENSITY,
      syncedLength: 0,
      events: [{ at: new Date().toISOString(), what: 'created' }],
    };
    await writeFile(path, Buffer.alloc(0));
    await writeMeta(path, meta);
    const fh = await open(path, 'r+');
    return new Cartridge(path, fh, meta);
  }

  /**
   * Open an existing image, build the index, and cut a torn tail back to the last whole record.
   * A foreign image without a sidecar gets default metadata (capacity = max(size, 1 GiB)).
   */
  static async open(path: string, defaults: Partial<CartridgeMeta> = {}): Promise<Cartridge> {
    let meta: CartridgeMeta;
    const size = (await stat(path)).size;
    try {
      meta = normalizeMeta(JSON.parse(await readFile(Cartridge.sidecarPath(path), 'utf8')) as Partial<CartridgeMeta>, path, size);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new CartridgeFormatError(`bad sidecar for ${path}: ${String(e)}`, 0x30, 0x01);
      // No sidecar: everything present counts as acknowledged, so only a torn end is cut.
      meta = normalizeMeta({ ...defaults, syncedLength: size }, path, size);
    }
    const fh = await open(path, meta.writeProtected ? 'r' : 'r+');
    const c = new Cartridge(path, fh, meta);
    try {
      await c.scan(size);
    } catch (e) {
      await fh.close();
      throw e;
    }
    return c;
  }

  get barcode(): string {
    return this.meta.barcode;
  }
  get writeProtected(): boolean {
    return this.meta.writeProtected;
  }
  /** Number of logical objects (records + filemarks); EOD is at object `count`. */
  get count(): number {
    return this.offs.length;
  }
  /** Image length = medium position of EOD. */
  get length(): number {
    return this.end;
  }
  get filemarkCount(): number {
    return this.marks.length;
  }

  /** Medium position (image offset) of the BOP side of object i; EOD for i >= count. */
  offsetOf(i: number): number {
    return i < this.offs.length ? this.offs[i]! : this.end;
  }

  object(i: number): TapeObject | undefined {
    if (i < 0 || i >= this.offs.length) return undefined;
    const len = this.lens[i]!;
    return len === 0 ? { kind: 'filemark', offset: this.offs[i]! } : { kind: 'record', offset: this.offs[i]!, length: len, bad: this.bad.has(i) };
  }

  isFilemark(i: number): boolean {
    return i >= 0 && i < this.lens.length && this.lens[i] === 0;
  }

  recordLength(i: number): number {
    return this.lens[i] ?? 0;
  }

  /** Number of filemarks strictly before object i: the logical file identifier at position i. */
  fileIdAt(i: number): number {
    return lowerBound(this.marks, i);
  }

  /** Object index of the first filemark at or after i, or undefined. */
  nextFilemark(i: number): number | undefined {
    return this.marks[lowerBound(this.marks, i)];
  }

  /** Object index of the last filemark before i (strictly), or undefined. */
  prevFilemark(i: number): number | undefined {
    const k = lowerBound(this.marks, i) - 1;
    return k >= 0 ? this.marks[k] : undefined;
  }

  /** First object whose BOP side is at or beyond image offset `off` (count when none). */
  objectAtOffset(off: number): number {
    return lowerBound(this.offs, off);
  }

  /** Object index of the n-th filemark (0-based), or undefined. */
  filemark(n: number): number | undefined {
    return this.marks[n];
  }

  /** Read record i into `into` (or a new buffer) up to `max` bytes; returns the bytes read. */
  async readRecord(i: number, max: number, into?: Buffer): Promise<Buffer> {
    const len = this.lens[i];
    if (!len) throw new RangeError(`object ${i} is not a record`);
    const n = Math.min(len, max);
    const buf = into ? into.subarray(0, n) : Buffer.allocUnsafe(n);
    await this.readFully(buf, this.offs[i]! + 4);
    return buf;
  }

  /**
   * Read `k` consecutive records of `blockLength` bytes starting at object i into `into` (packed,
   * no headers): one read of the whole stretch of image, then the data parts copied out.
   */
  async readRecords(i: number, k: number, blockLength: number, into: Buffer): Promise<void> {
    if (k === 1 || blockLength >= 64 * 1024) {
      for (let j = 0; j < k; j++) await this.readRecord(i + j, blockLength, into.subarray(j * blockLength));
      return;
    }
    const span = recordSpan(blockLength);
    const img = Buffer.allocUnsafe(k * span);
    await this.readFully(img, this.offs[i]!);
    for (let j = 0; j < k; j++) img.copy(into, j * blockLength, j * span + 4, j * span + 4 + blockLength);
  }

  /** Discard objects at and after `at` (the tape-overwrite rule). */
  async truncateAt(at: number): Promise<void> {
    if (at >= this.offs.length) return;
    const cut = this.offs[at]!;
    await this.handle().truncate(cut);
    this.unsynced = true;
    this.offs.length = at;
    this.lens.length = at;
    this.marks.length = lowerBound(this.marks, at);
    for (const b of this.bad) if (b >= at) this.bad.delete(b);
    this.end = cut;
    if (this.meta.syncedLength > cut) {
      // The durable prefix shrinks with the image: make the cut itself durable (so discarded
      // records cannot come back after a power loss), then later appends look like a tail again.
      await this.handle().sync();
      this.meta.syncedLength = cut;
      this.metaDirty = true;
      await this.flushMeta();
    }
  }

  /**
   * Write `blocks` consecutive records of `blockLength` bytes taken from `data` (variable mode:
   * blocks = 1, blockLength = data.length) at object `at`, truncating first when `at` < count.
   * The data buffer is passed to the kernel as is: no copy.
   */
  async writeRecords(at: number, data: Buffer, blockLength: number, blocks: number): Promise<void> {
    if (blockLength < 1 || blockLength > MAX_RECORD_LENGTH) throw new RangeError(`record length ${blockLength}`);
    if (blocks === 0) return;
    await this.truncateAt(at);
    const word = Buffer.allocUnsafe(4);
    word.writeUInt32LE(blockLength, 0);
    const odd = (blockLength & 1) === 1;
    const span = recordSpan(blockLength);
    let pos = this.end;
    const iov: Buffer[] = [];
    let start = pos;
    for (let k = 0; k < blocks; k++) {
      iov.push(word, data.subarray(k * blockLength, (k + 1) * blockLength));
      if (odd) iov.push(PAD);
      iov.push(word);
      pos += span;
      if (iov.length >= IOV_BATCH) {
        await this.io.writev(this.handle(), iov, start);
        iov.length = 0;
        start = pos;
      }
    }
    if (iov.length) await this.io.writev(this.handle(), iov, start);
    this.unsynced = true;
    // Index only after the bytes are in the file.
    let off = this.end;
    for (let k = 0; k < blocks; k++) {
      this.offs.push(off);
      this.lens.push(blockLength);
      off += span;
    }
    this.end = pos;
  }

  async writeFilemarks(at: number, n: number): Promise<void> {
    if (n === 0) return;
    await this.truncateAt(at);
    await this.io.write(this.handle(), Buffer.alloc(n * MARK_SPAN), this.end);
    this.unsynced = true;
    for (let k = 0; k < n; k++) {
      this.marks.push(this.offs.length);
      this.offs.push(this.end);
      this.lens.push(0);
      this.end += MARK_SPAN;
    }
  }

  /** Fault injection: flag record i bad in the image itself (bit 31 in both length words). */
  async markBad(i: number): Promise<void> {
    const len = this.lens[i];
    if (!len) throw new RangeError(`object ${i} is not a record`);
    const w = Buffer.allocUnsafe(4);
    w.writeUInt32LE((len | ERROR_FLAG) >>> 0, 0);
    await this.io.write(this.handle(), w, this.offs[i]!);
    await this.io.write(this.handle(), w, this.offs[i]! + recordSpan(len) - 4);
    this.unsynced = true;
    this.bad.add(i);
  }

  isBad(i: number): boolean {
    return this.bad.has(i);
  }

  /** Durability point: fsync the image and record the synced length in the sidecar. */
  async sync(): Promise<void> {
    if (!this.fh) return;
    if (this.unsynced && !this.meta.writeProtected) await this.fh.sync();
    this.unsynced = false;
    if (this.meta.syncedLength !== this.end) {
      this.meta.syncedLength = this.end;
      this.metaDirty = true;
    }
    await this.flushMeta();
  }

  async setWriteProtected(wp: boolean): Promise<void> {
    if (wp === this.meta.writeProtected) return;
    await this.sync();
    this.meta.writeProtected = wp;
    this.event(wp ? 'write-protect on' : 'write-protect off');
    // Reopen with the matching access mode so a protected image is never opened writable.
    if (this.fh) {
      await this.fh.close();
      this.fh = await open(this.path, wp ? 'r' : 'r+');
      // A torn tail left alone while protected goes now, before anything is appended after it.
      if (!wp && (await this.fh.stat()).size > this.end) {
        await this.fh.truncate(this.end);
        this.unsynced = true;
        this.event('torn tail cut (write-protect off)', { offset: this.end });
      }
    }
    await this.flushMeta();
  }

  event(what: string, extra: Omit<CartridgeEvent, 'at' | 'what'> = {}): void {
    this.meta.events.push({ at: new Date().toISOString(), what, ...extra });
    if (this.meta.events.length > MAX_EVENTS) this.meta.events.splice(0, this.meta.events.length - MAX_EVENTS);
    this.metaDirty = true;
  }

  async close(): Promise<void> {
    if (!this.fh) return;
    await this.sync();
    await this.fh.close();
    this.fh = undefined;
  }

  get isOpen(): boolean {
    return this.fh !== undefined;
  }

  /** The bytes of the image at `pos`; the index says they are there, so a short read is an error. */
  private async readFully(buf: Buffer, pos: number): Promise<void> {
    const n = await this.io.read(this.handle(), buf, pos);
    if (n < buf.length) throw new Error(`short read at ${pos + n}`);
  }

  private handle(): FileHandle {
    if (!this.fh) throw new Error(`cartridge ${this.meta.barcode} is closed`);
    return this.fh;
  }

  private async flushMeta(): Promise<void> {
    if (!this.metaDirty) return;
    this.metaDirty = false;
    await writeMeta(this.path, this.meta);
  }

  /** Build the index; cut a torn or unacknowledged tail (tape-ssc.md §8.4 "Recovery on load"). */
  private async scan(size: number): Promise<void> {
    const synced = this.meta.syncedLength;
    const walk = await walkSimhImage(this.handle(), size, {
      mark: (p) => {
        this.marks.push(this.offs.length);
        this.offs.push(p);
        this.lens.push(0);
      },
      record: (p, n, bad) => {
        if (bad) this.bad.add(this.offs.length);
        this.offs.push(p);
        this.lens.push(n);
      },
    });
    let p = walk.end;
    let cutReason: string | undefined;
    const stop = walk.stop;
    if (stop) {
      if (stop.reason === 'torn-word') cutReason = 'torn length word';
      else if (stop.reason === 'torn-record') cutReason = 'torn record (image ends inside it)';
      else if (stop.reason === 'trailer-mismatch') {
        if (p < synced) throw new CartridgeFormatError(`record at ${p}: trailer ${hex(stop.trailer)} != header ${hex(stop.word)} inside synced data`, 0x31, 0x00);
        cutReason = 'torn record (trailer does not match header)';
      } else if (stop.reason === 'eom') cutReason = 'end-of-medium marker';
      else {
        if (p < synced) {
          if (p === 0) throw new CartridgeFormatError(`not a SIMH tape image (first word ${hex(stop.word)})`, 0x30, 0x01);
          throw new CartridgeFormatError(`word ${hex(stop.word)} at ${p} is not one dmsim writes`, 0x31, 0x00);
        }
        cutReason = `unexpected word ${hex(stop.word)}`;
      }
    }
    // Zero-filled blocks left by a power loss read as tape marks: marks past the synced length are
    // not acknowledged data, drop them.
    let keep = this.offs.length;
    while (keep > 0 && this.lens[keep - 1] === 0 && this.offs[keep - 1]! >= synced) keep--;
    if (keep < this.offs.length) {
      cutReason ??= 'unsynced trailing tape marks';
      p = this.offs[keep]!;
      this.offs.length = keep;
      this.lens.length = keep;
      this.marks.length = lowerBound(this.marks, keep);
    }
    this.end = p;
    if (p < size) {
      if (this.meta.writeProtected) {
        // A protected image is never modified; the torn tail is just not part of the tape.
        this.event('torn tail ignored (write-protected)', { offset: p, bytes: size - p });
      } else {
        await this.handle().truncate(p);
        await this.handle().sync();
        this.event(`recovered: cut ${cutReason ?? 'tail'}`, { offset: p, bytes: size - p });
      }
      this.meta.syncedLength = Math.min(this.meta.syncedLength, p);
      this.metaDirty = true;
    }
    await this.flushMeta();
  }
}

function normalizeMeta(m: Partial<CartridgeMeta>, path: string, size: number): CartridgeMeta {
  const capacity = typeof m.capacity === 'number' && m.capacity > 0 ? m.capacity : Math.max(size, 1 << 30);
  return {
    barcode: typeof m.barcode === 'string' ? m.barcode : basename(path).replace(/\.tap$/i, ''),
    capacity,
    earlyWarning: typeof m.earlyWarning === 'number' ? m.earlyWarning : Math.min(DEFAULT_EW_SIZE, Math.floor(capacity / 2)),
    programmableEarlyWarning: typeof m.programmableEarlyWarning === 'number' ? m.programmableEarlyWarning : 0,
    writeProtected: m.writeProtected === true,
    density: typeof m.density === 'number' ? m.density : DEFAULT_DENSITY,
    syncedLength: typeof m.syncedLength === 'number' ? m.syncedLength : size,
    events: Array.isArray(m.events) ? m.events : [],
  };
}

async function writeMeta(imagePath: string, meta: CartridgeMeta): Promise<void> {
  const p = Cartridge.sidecarPath(imagePath);
  const tmp = `${p}.tmp`;
  await writeFile(tmp, JSON.stringify(meta, null, 2) + '\n');
  await rename(tmp, p);
}

/** First index in sorted `a` with a[k] >= x. */
function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const hex = (w: number) => `0x${w.toString(16).padStart(8, '0')}`;

