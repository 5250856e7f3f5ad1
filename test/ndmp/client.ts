/** A small NDMP DMA for tests: real TCP, the shared codecs, raw records for malformed input. */
import { connect, type Socket } from 'node:net';
import { frameRecord, RecordReader } from '../../src/ndmp/framing.js';
import { decodeHeader, encodeMessage, messageDef, type Header } from '../../src/ndmp/messages.js';
import { XdrReader, XdrWriter } from '../../src/ndmp/xdr.js';

export interface Received {
  header: Header;
  body: Buffer;
}

export class TestDma {
  private seq = 0;
  private readonly reader = new RecordReader();
  readonly received: Received[] = [];
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      for (const ev of this.reader.push(d)) {
        if (ev.kind !== 'record') continue;
        const r = new XdrReader(ev.record);
        const header = decodeHeader(r);
        this.received.push({ header, body: ev.record.subarray(24) });
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static open(host: string, port: number): Promise<TestDma> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port }, () => resolve(new TestDma(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  async waitFor(pred: (r: Received) => boolean, timeoutMs = 5000): Promise<Received> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const i = this.received.findIndex(pred);
      if (i >= 0) return this.received.splice(i, 1)[0]!;
      if (this.closed) throw new Error('connection closed');
      if (Date.now() > until) throw new Error('timeout waiting for a message');
      await new Promise<void>((res) => {
        this.waiters.push(res);
        setTimeout(res, 50);
      });
    }
  }

  /** Send raw bytes (already framed or not). */
  raw(b: Buffer): void {
    this.socket.write(b);
  }

  /** Send a request with a raw body; returns its sequence number. */
  sendRaw(message: number, body: Buffer, messageType = 0): number {
    const sequence = ++this.seq;
    this.raw(frameRecord(encodeMessage({ sequence, timeStamp: 0, messageType, message, replySequence: 0, error: 0 }, body)));
    return sequence;
  }

  async requestRaw(message: number, body: Buffer): Promise<Received> {
    const seq = this.sendRaw(message, body);
    return this.waitFor((r) => r.header.messageType === 1 && r.header.replySequence === seq);
  }

  /** Encode with the message's request codec, decode the reply with its reply codec. */
  async request<T = Record<string, unknown>>(message: number, req: unknown = {}): Promise<{ header: Header; reply: T | undefined }> {
    const def = messageDef(message)!;
    const w = new XdrWriter();
    (def.request as { enc(w: XdrWriter, v: unknown): void }).enc(w, req);
    const r = await this.requestRaw(message, w.bytes());
    if (r.header.error) return { header: r.header, reply: undefined };
    return { header: r.header, reply: (def.reply as { dec(r: XdrReader): unknown }).dec(new XdrReader(r.body)) as T };
  }

  posts(code: number): Received[] {
    return this.received.filter((r) => r.header.messageType === 0 && r.header.message === code);
  }

  close(): void {
    this.socket.destroy();
  }
}
