/**
 * The processing model of extended-copy.md §6: residual source and destination byte queues that
 * survive from one segment to the next, sources that issue "just enough whole reads", sinks that
 * issue "as many whole writes as possible", and the PAD/CAT table that decides the residue's fate.
 *
 * Memory: disk sources read ahead through the copy manager's shared p-queue pool, at most
 * `readAhead` chunks of `chunkBytes` per copy; everything else holds at most one write unit plus one
 * read. Nothing is proportional to the segment size.
 */
import type PQueue from 'p-queue';
import type { XcopyParameterList } from '../../src/scsi/xcopy.js';
import { encodeSense, Sense } from '../../src/scsi/sense.js';
import { ScsiStatus } from '../../src/scsi/status.js';
import type { CscdDevice } from './cscd-device.js';
import { Abort, CopyAbort } from './errors.js';
import type { CscdResolver } from './resolve.js';

export class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(b: Buffer): void {
    if (!b.length) return;
    this.chunks.push(b);
    this.length += b.length;
  }

  /** Remove and return the first `n` bytes (n ≤ length). */
  take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length === n) {
      this.chunks.shift();
      this.length -= n;
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      this.length -= n;
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      at += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.length -= n;
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.length = 0;
  }

  /** Whether any queued bytes live in `ab` (a recycled read buffer must not be reused while they do). */
  holds(ab: ArrayBufferLike): boolean {
    for (const c of this.chunks) if (c.buffer === ab) return true;
    return false;
  }
}

/**
 * The read buffers of one copy, recycled: a copy moves gigabytes in megabyte chunks, and a fresh
 * buffer per chunk made V8 run a full mark-compact every few dozen milliseconds (external memory
 * pressure), which halved the copy's speed. A buffer goes back to the pool only when a scan finds
 * nothing referring to it any more: not a read in flight, not the chunk being handed on, not data
 * left in the residual queues. Sinks must not keep the buffers they are given past their write.
 */
export class ChunkPool {
  private readonly free: Buffer[] = [];
  private readonly lent = new Set<Buffer>();

  constructor(
    readonly size: number,
    private readonly max: number,
  ) {}

  /** A buffer of `size` bytes; `inUse` tells which lent buffers are still referenced. */
  take(inUse: (ab: ArrayBufferLike) => boolean): Buffer {
    if (!this.free.length) {
      for (const b of this.lent) {
        if (inUse(b.buffer)) continue;
        this.lent.delete(b);
        this.free.push(b);
      }
    }
    let b = this.free.pop();
    if (!b) {
      // allocUnsafeSlow: a buffer of its own, never a slice of Node's shared pool.
      b = Buffer.allocUnsafeSlow(this.size);
      if (this.lent.size >= this.max) return b;
    }
    this.lent.add(b);
    return b;
  }

  /** A read that was left running (its consumer stopped early) may still fill `b`: never reuse it. */
  forget(b: Buffer): void {
    this.lent.delete(b);
  }
}

/** Held data (segments 0Bh–0Fh): the newest HELD DATA LIMIT bytes; HDD when older ones were dropped. */
export class HeldData {
  private q = new ByteQueue();
  discarded = false;

  constructor(private readonly limit: number) {}

  add(b: Buffer): void {
    if (b.length > this.limit) {
      this.discarded = true;
      b = b.subarray(b.length - this.limit);
    }
    // A copy: the chunk itself goes on to the destination and may be reused by the transport.
    this.q.push(Buffer.from(b));
    if (this.q.length > this.limit) {
      this.q.take(this.q.length - this.limit);
      this.discarded = true;
    }
  }

  get bytes(): Buffer {
    return this.q.take(this.q.length);
  }
}

export interface EngineOptions {
  /** Bytes per disk READ/WRITE the data mover issues. */
  chunkBytes: number;
  /** Disk chunks in flight or buffered ahead per copy. */
  readAhead: number;
  /** Largest READ the data mover sends; a chunk is read as several when it is smaller. */
  readBytes: number;
  /** Shared worker pool bounding concurrent disk reads across all copies. */
  pool: PQueue;
  maxStreamTransferSize: number;
}

/** Live state of one EXTENDED COPY command. */
export class CopyRun {
  readonly src = new ByteQueue();
  readonly dst = new ByteQueue();
  segmentsProcessed = 0;
  /** Bytes written to copy destinations (strict list order). */
  bytesWritten = 0;
  /** Of the current segment: destination bytes expected and written, and the unit INFORMATION counts in. */
  segExpected = 0;
  segWritten = 0;
  segUnit = 1;
  /** Work owed after the last segment whatever happens (15h REGISTER AND MOVE), with its segment number. */
  readonly finally: Array<{ segment: number; run: () => Promise<void> }> = [];
  /** Disk read buffers, recycled (readAhead in flight, one being handed on, a few held as residue). */
  readonly chunks: ChunkPool;
  /** The data of the write in flight: its buffer is in use until the write ends. */
  writing: Buffer | undefined;

  constructor(
    readonly list: XcopyParameterList,
    readonly resolver: CscdResolver,
    readonly opts: EngineOptions,
    readonly signal: AbortSignal,
    readonly held: HeldData | undefined,
  ) {
    this.chunks = new ChunkPool(opts.chunkBytes, opts.readAhead + 4);
  }

  /** Residual for INFORMATION: undefined (VALID=0) when nothing was written in the failing segment. */
  residual(): number | undefined {
    if (this.segWritten === 0 || this.segExpected <= this.segWritten) return undefined;
    return Math.floor((this.segExpected - this.segWritten) / this.segUnit);
  }
}

// ---------------------------------------------------------------- sinks

export interface Sink {
  /** Write unit: whole units are written, the rest stays residual destination data. */
  unit: number;
  /** Bytes per write command (a multiple of unit). */
  maxWrite: number;
  write(data: Buffer): Promise<void>;
  /** Flush what a byte-granular sink still buffers (read-modify-write tails). */
  finish?(): Promise<void>;
  pad: boolean;
}

export function diskSink(dev: CscdDevice, lba: number): Sink {
  let next = lba;
  const bl = dev.blockLength;
  return {
    unit: bl,
    maxWrite: 0,
    pad: dev.pad,
    async write(data) {
      await dev.writeBlocks(next, data);
      next += data.length / bl;
    },
  };
}

/** Byte-granular destination range (09h, 0Ah): partial first/last blocks are read, merged, rewritten. */
export function diskRangeSink(dev: CscdDevice, lba: number, byteOffset: number): Sink {
  const bl = dev.blockLength;
  let pos = lba * bl + byteOffset;
  let pending: Buffer = Buffer.alloc(0);
  const flushAligned = async (final: boolean) => {
    while (pending.length) {
      const inBlock = pos % bl;
      const blockLba = Math.floor(pos / bl);
      if (inBlock !== 0 || pending.length < bl) {
        const take = Math.min(bl - inBlock, pending.length);
        if (!final && inBlock + take < bl) return;
        const blk = await dev.readBlocks(blockLba, 1);
        pending.copy(blk, inBlock, 0, take);
        await dev.writeBlocks(blockLba, blk);
        pending = pending.subarray(take);
        pos += take;
        continue;
      }
      const whole = Math.floor(pending.length / bl) * bl;
      await dev.writeBlocks(blockLba, pending.subarray(0, whole));
      pending = pending.subarray(whole);
      pos += whole;
    }
  };
  return {
    unit: 1,
    maxWrite: 0,
    pad: dev.pad,
    async write(data) {
      pending = pending.length ? Buffer.concat([pending, data]) : data;
      await flushAligned(false);
      // A partial block waits for the next write; keep a copy, not the caller's (recycled) buffer.
      if (pending.length && pending.buffer === data.buffer) pending = Buffer.from(pending);
    },
    async finish() {
      await flushAligned(true);
    },
  };
}

export function streamSink(dev: CscdDevice, transferLength: number): Sink {
  const unit = dev.transferBytes(transferLength);
  return { unit, maxWrite: unit, pad: dev.pad, write: (d) => dev.writeStream(d) };
}

export const discardSink: Sink = { unit: 1, maxWrite: 0, pad: false, write: async () => {} };

/** The sink a destination-less segment (06h) uses: not a copy destination, so no transfer count. */
export function isCounted(s: Sink): boolean {
  return s !== discardSink;
}

// ---------------------------------------------------------------- sources

/** Whole-read producer: yields reads of at least `need` bytes in total (the last may overshoot). */
export type Reader = (need: number) => AsyncIterable<Buffer>;

/** Disk reads from `lba` on: whole blocks, chunked, read ahead through the shared pool, yielded in order. */
export function diskReader(run: CopyRun, dev: CscdDevice, lba: number, opts: { readAhead?: number } = {}): Reader {
  return (need) => diskBlocks(run, dev, lba, Math.ceil(need / dev.blockLength), opts.readAhead ?? run.opts.readAhead);
}

export async function* diskBlocks(run: CopyRun, dev: CscdDevice, lba: number, blocks: number, depth: number): AsyncGenerator<Buffer> {
  if (blocks === 0) return;
  checkRange(dev, lba, blocks);
  const bl = dev.blockLength;
  const per = Math.max(1, Math.floor(run.opts.chunkBytes / bl));
  const perRead = Math.max(1, Math.min(per, Math.floor(run.opts.readBytes / bl)));
  const end = lba + blocks;
  let next = lba;
  // Buffers this generator has read into and not yet handed on: the scan must not reclaim them.
  const mine = new Set<ArrayBufferLike>();
  const inUse = (ab: ArrayBufferLike) => mine.has(ab) || run.writing?.buffer === ab || run.src.holds(ab) || run.dst.holds(ab);
  interface Chunk {
    buf: Buffer;
    whole: Buffer | undefined;
    done: Promise<Buffer>;
  }
  const chunkAt = (at: number, n: number): Chunk => {
    const bytes = n * bl;
    const whole = bytes <= run.chunks.size ? run.chunks.take(inUse) : undefined;
    const buf = whole ? whole.subarray(0, bytes) : Buffer.allocUnsafe(bytes);
    mine.add(buf.buffer);
    // No abort signal for the pool (p-queue would add and remove a listener per chunk): a read
    // of an aborted copy fails at its first command, which checks the copy's signal.
    const read = async () => {
      for (let k = 0; k < n; k += perRead) {
        const m = Math.min(perRead, n - k);
        await dev.readBlocks(at + k, m, buf.subarray(k * bl, (k + m) * bl));
      }
      return buf;
    };
    return { buf, whole, done: depth === 0 ? read() : (run.opts.pool.add(read) as Promise<Buffer>) };
  };
  const inflight: Chunk[] = [];
  try {
    if (depth === 0) {
      // No read-ahead: each chunk is read only after the previous one was written (overlapping ranges on one LU).
      for (; next < end; next += per) {
        const c = chunkAt(next, Math.min(per, end - next));
        inflight.push(c);
        await c.done;
        inflight.length = 0;
        mine.delete(c.buf.buffer);
        yield c.buf;
      }
      return;
    }
    const schedule = () => {
      while (inflight.length < depth && next < end) {
        const n = Math.min(per, end - next);
        const c = chunkAt(next, n);
        c.done.catch(() => {}); // observed when awaited; keeps an early exit from leaving unhandled rejections
        inflight.push(c);
        next += n;
      }
    };
    schedule();
    while (inflight.length) {
      const c = inflight[0]!;
      await c.done;
      inflight.shift();
      schedule();
      mine.delete(c.buf.buffer);
      yield c.buf;
    }
  } finally {
    // Stopped early (enough bytes, or a failure): reads still running keep their buffers for good.
    for (const c of inflight) if (c.whole) run.chunks.forget(c.whole);
  }
}

/** LBA range past the capacity: answered before any I/O as 0D/02 with the disk's 5/21/00 forwarded (§6.4). */
export function checkRange(dev: CscdDevice, lba: number, blocks: number): void {
  if (lba + blocks > dev.capacity) {
    throw Abort.notReachable(dev.pointer, [{ source: 'source', status: ScsiStatus.CHECK_CONDITION, sense: encodeSense(Sense.lbaOutOfRange().sense) }]);
  }
}

export function checkRangeAs(role: 'source' | 'destination', dev: CscdDevice, lba: number, blocks: number): void {
  if (lba + blocks > dev.capacity) {
    throw Abort.notReachable(dev.pointer, [{ source: role, status: ScsiStatus.CHECK_CONDITION, sense: encodeSense(Sense.lbaOutOfRange().sense) }]);
  }
}

/** Tape reads of STREAM DEVICE TRANSFER LENGTH, one at a time (never read ahead on a stream). */
export function streamReader(dev: CscdDevice, transferLength: number): Reader {
  const unit = dev.transferBytes(transferLength);
  return async function* (need) {
    for (let got = 0; got < need; got += unit) yield await dev.readStream(transferLength);
  };
}

/** Processed bytes: residual source data first, then whole reads; overshoot becomes residual source data. */
export async function* processed(run: CopyRun, need: number, reader: Reader | undefined): AsyncGenerator<Buffer> {
  const r = run.src.take(Math.min(run.src.length, need));
  if (r.length) yield r;
  let left = need - r.length;
  if (left === 0 || !reader) return;
  for await (const chunk of reader(left)) {
    run.signal.throwIfAborted();
    if (chunk.length > left) {
      run.src.push(chunk.subarray(left));
      yield chunk.subarray(0, left);
      left = 0;
      break;
    }
    yield chunk;
    left -= chunk.length;
    if (left === 0) break;
  }
}

/**
 * Move `bytes` through residual destination data into the sink; stop at `exact` bytes written when
 * given. The source's next read runs while the previous write is in flight (as a router overlaps
 * its disk and tape I/O), unless `serial`: source and destination are the same blocks or the same
 * stream, so a read must see the write before it. Writes stay one at a time and in order.
 */
export async function pump(run: CopyRun, sink: Sink, bytes: AsyncIterable<Buffer>, opts: { exact?: number; hold?: boolean; serial?: boolean } = {}): Promise<void> {
  let writing: Promise<void> | undefined;
  try {
    for await (const b of bytes) {
      if (writing) await writing;
      writing = undefined;
      if (opts.hold) run.held?.add(b);
      run.dst.push(b);
      writing = drain(run, sink, opts.exact);
      if (opts.serial) await writing;
      else writing.catch(() => {}); // awaited before the next chunk, or below when the source fails
    }
  } catch (e) {
    // The source failed while a write was in flight: that write came first, so its failure wins.
    if (writing) await writing;
    throw e;
  }
  if (writing) await writing;
  await drain(run, sink, opts.exact);
  await sink.finish?.();
}

async function drain(run: CopyRun, sink: Sink, exact: number | undefined): Promise<void> {
  const cap = sink.maxWrite || Math.max(sink.unit, Math.floor(run.opts.chunkBytes / sink.unit) * sink.unit);
  for (;;) {
    let n = Math.floor(run.dst.length / sink.unit) * sink.unit;
    if (exact !== undefined) n = Math.min(n, exact - run.segWritten);
    n = Math.min(n, cap);
    if (n <= 0) return;
    run.signal.throwIfAborted();
    const data = run.dst.take(n);
    run.writing = data;
    // Written: the write succeeded, or failed only after recording the data (end-of-medium warning).
    let written = false;
    try {
      await sink.write(data);
      written = true;
    } catch (e) {
      written = e instanceof CopyAbort && e.completed;
      throw e;
    } finally {
      run.writing = undefined;
      if (written && isCounted(sink)) {
        run.segWritten += n;
        run.bytesWritten += n;
      }
    }
  }
}

/**
 * End-of-segment residue handling, SPC-4 table 116 (extended-copy.md §6.2). `exactDst`: the
 * destination count was exact by definition (01h, 0Ch, 02h/0Dh DC=1, 09h, 0Ah).
 */
export async function settleResidue(run: CopyRun, o: { cat: boolean; srcPad: boolean; sink: Sink; exactDst: boolean; last: boolean; segPtr: number }): Promise<void> {
  if (o.cat) {
    if (o.last) clearResidue(run);
    return;
  }
  const dstPad = o.sink.pad;
  const inexact = () => {
    // INFORMATION then counts the destination data left unwritten.
    run.segExpected = run.segWritten + run.dst.length;
    return Abort.inexact(o.segPtr);
  };
  if (o.exactDst && run.dst.length) throw inexact();
  if (!o.srcPad && !dstPad) {
    if (run.src.length || run.dst.length) throw inexact();
    return;
  }
  if (o.srcPad) run.src.clear();
  if (dstPad) {
    if (run.dst.length) {
      const short = (o.sink.unit - (run.dst.length % o.sink.unit)) % o.sink.unit;
      run.dst.push(Buffer.alloc(short));
      run.segExpected += short;
      await drain(run, o.sink, undefined);
    }
  } else {
    run.dst.clear();
  }
  if (o.last) clearResidue(run);
}

export function clearResidue(run: CopyRun): void {
  run.src.clear();
  run.dst.clear();
}
