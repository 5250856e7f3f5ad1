/**
 * The NDMP data connection between the DATA service and the MOVER, as one byte-stream interface
 * for both kinds (ndmp.md §0): LOCAL is an in-process pipe (both services in one session, no
 * socket), TCP a real socket one side listened for and the other connected to. Writers wait
 * while the reader is behind (bounded memory); a closed connection reads as end of stream.
 */
import type { Socket } from 'node:net';

export interface ImageConn {
  readonly kind: 'local' | 'tcp';
  /** Resolves once the bytes are queued; rejects when the connection is closed. */
  write(b: Buffer): Promise<void>;
  /** End of stream for the reader (after the queued bytes). */
  end(): void;
  /** Next chunk, or null at end of stream / after close. */
  read(): Promise<Buffer | null>;
  /** Drop the connection both ways. */
  close(): void;
  /** Bytes handed to write() so far. */
  readonly written: number;
}

export class ConnClosedError extends Error {
  constructor() {
    super('data connection closed');
    this.name = 'ConnClosedError';
  }
}

const HIGH_WATER = 4 * 1024 * 1024;

/** LOCAL: DATA and MOVER of one session share this queue. */
export class LocalPipe implements ImageConn {
  readonly kind = 'local';
  written = 0;
  private queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private closed = false;
  private readWaiter: (() => void) | undefined;
  private writeWaiters: Array<() => void> = [];

  async write(b: Buffer): Promise<void> {
    if (this.closed || this.ended) throw new ConnClosedError();
    if (b.length === 0) return;
    this.queue.push(b);
    this.queued += b.length;
    this.written += b.length;
    this.wakeReader();
    while (this.queued > HIGH_WATER && !this.closed) await new Promise<void>((res) => this.writeWaiters.push(res));
    if (this.closed) throw new ConnClosedError();
  }

  end(): void {
    this.ended = true;
    this.wakeReader();
  }

  async read(): Promise<Buffer | null> {
    while (!this.queue.length && !this.ended && !this.closed) await new Promise<void>((res) => (this.readWaiter = res));
    if (this.closed) return null;
    const b = this.queue.shift();
    if (!b) return null;
    this.queued -= b.length;
    if (this.queued <= HIGH_WATER) this.wakeWriters();
    return b;
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    this.queued = 0;
    this.wakeReader();
    this.wakeWriters();
  }

  private wakeReader(): void {
    const w = this.readWaiter;
    this.readWaiter = undefined;
    w?.();
  }
  private wakeWriters(): void {
    const ws = this.writeWaiters;
    this.writeWaiters = [];
    for (const w of ws) w();
  }
}

/** TCP: one end of a real socket; reads pause the socket while the consumer is behind. */
export class SocketConn implements ImageConn {
  readonly kind = 'tcp';
  written = 0;
  private queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private readWaiter: (() => void) | undefined;

  constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.queue.push(d);
      this.queued += d.length;
      if (this.queued > HIGH_WATER) socket.pause();
      this.wake();
    });
    const done = () => {
      this.ended = true;
      this.wake();
    };
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', done);
  }

  async write(b: Buffer): Promise<void> {
    if (this.socket.destroyed || this.socket.writableEnded) throw new ConnClosedError();
    if (b.length === 0) return;
    this.written += b.length;
    if (!this.socket.write(b)) {
      await new Promise<void>((res) => {
        const fin = () => {
          this.socket.off('drain', fin);
          this.socket.off('close', fin);
          res();
        };
        this.socket.on('drain', fin);
        this.socket.on('close', fin);
      });
      if (this.socket.destroyed) throw new ConnClosedError();
    }
  }

  end(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  async read(): Promise<Buffer | null> {
    while (!this.queue.length && !this.ended) await new Promise<void>((res) => (this.readWaiter = res));
    const b = this.queue.shift();
    if (!b) return null;
    this.queued -= b.length;
    if (this.queued <= HIGH_WATER && this.socket.isPaused()) this.socket.resume();
    return b;
  }

  close(): void {
    this.socket.destroy();
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const w = this.readWaiter;
    this.readWaiter = undefined;
    w?.();
  }
}

/** Reads exactly n bytes (fewer only at end of stream), keeping the rest for the next call. */
export class ConnReader {
  private buf: Buffer = Buffer.alloc(0);
  private eof = false;
  constructor(private readonly conn: ImageConn) {}

  async take(n: number): Promise<Buffer> {
    while (this.buf.length < n && !this.eof) {
      const c = await this.conn.read();
      if (!c) this.eof = true;
      else this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(out.length);
    return out;
  }

  /** Discard everything up to end of stream. */
  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0);
    while (!this.eof) if (!(await this.conn.read())) this.eof = true;
  }
}
