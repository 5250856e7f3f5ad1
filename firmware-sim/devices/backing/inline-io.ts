/**
 * Positional image I/O that runs inline on the event loop (pread/pwrite) or through libuv's
 * thread pool, for the disk file store and the tape cartridge alike. Against the page cache inline
 * is a memcpy, and a trip through the pool costs about 40 µs of CPU per call on the 2-core CI box,
 * so small transfers go inline. But an inline call that blocks (cold storage, or the kernel
 * throttling a writer once too much of the page cache is dirty, which can sleep a write for tens
 * of milliseconds) stalls every session the process serves. So a slow inline transfer sends the
 * transfers after it to the pool for a while.
 */
import { readSync, writeSync, writevSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

export class InlineIo {
  private poolUntil = 0;

  constructor(
    /** Largest transfer done inline; 0 = always the thread pool. */
    readonly max: number,
    /** An inline transfer slower than this (ms) sends the next ones to the pool for `backoffMs`. */
    private readonly slowMs = 5,
    private readonly backoffMs = 1000,
  ) {}

  /** Whether a transfer of `bytes` may run inline now; if so, pass the returned start time to done(). */
  start(bytes: number): number | undefined {
    if (bytes > this.max) return undefined;
    const now = performance.now();
    return now >= this.poolUntil ? now : undefined;
  }

  /** An inline transfer that began at `startedAt` has ended. */
  done(startedAt: number): void {
    const now = performance.now();
    if (now - startedAt > this.slowMs) this.poolUntil = now + this.backoffMs;
  }

  /** Fill `buf` from `pos` on; stops early only at the end of the file. Returns the bytes read. */
  async read(fh: FileHandle, buf: Buffer, pos: number): Promise<number> {
    const inline = this.start(buf.length);
    let done = 0;
    while (done < buf.length) {
      const n = inline !== undefined ? readSync(fh.fd, buf, done, buf.length - done, pos + done) : (await fh.read(buf, done, buf.length - done, pos + done)).bytesRead;
      if (n === 0) break;
      done += n;
    }
    if (inline !== undefined) this.done(inline);
    return done;
  }

  /** Write all of `buf` at `pos`. */
  async write(fh: FileHandle, buf: Buffer, pos: number): Promise<void> {
    const inline = this.start(buf.length);
    let done = 0;
    while (done < buf.length) {
      done += inline !== undefined ? writeSync(fh.fd, buf, done, buf.length - done, pos + done) : (await fh.write(buf, done, buf.length - done, pos + done)).bytesWritten;
    }
    if (inline !== undefined) this.done(inline);
  }

  /** Write all of `iov` at `pos`, in one call unless the kernel takes less (signals, quotas). */
  async writev(fh: FileHandle, iov: Buffer[], pos: number): Promise<void> {
    let total = 0;
    for (const b of iov) total += b.length;
    const inline = this.start(total);
    let written = inline !== undefined ? writevSync(fh.fd, iov, pos) : (await fh.writev(iov, pos)).bytesWritten;
    if (inline !== undefined) this.done(inline);
    if (written === total) return;
    // Short write: finish buffer by buffer.
    let off = 0;
    for (const b of iov) {
      if (written < off + b.length) {
        const skip = Math.max(0, written - off);
        await this.write(fh, b.subarray(skip), pos + off + skip);
        written = off + b.length;
      }
      off += b.length;
    }
  }
}
