/**
 * Whether an image transfer runs inline on the event loop (pread/pwrite) or through libuv's
 * thread pool. Against the page cache inline is a memcpy, and a trip through the pool costs about
 * 40 µs of CPU per call on the 2-core CI box, so small transfers go inline. But an inline call that
 * blocks (cold storage, or the kernel throttling a writer once too much of the page cache is dirty,
 * which can sleep a write for tens of milliseconds) stalls every session the process serves. So a
 * slow inline transfer sends the transfers after it to the pool for a while.
 */
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
}
