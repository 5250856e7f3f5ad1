/**
 * The iSNSP client transport: one persistent TCP connection to the server, requests pipelined and
 * matched to their responses by transaction ID, a call timeout per request (10 s, the reference's
 * decision). It knows messages, not what they mean: src/isns/registrar.ts builds them.
 */
import { connect, type Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { Flag, RESPONSE, statusText } from './constants.js';
import { decodeResponse, encodeMessage, encodeRequest, MessageReader, type RequestBody, type ResponseBody } from './pdu.js';

export class IsnsError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

interface Pending {
  functionId: number;
  resolve(r: ResponseBody): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

interface IsnsClientOptions {
  host: string;
  port: number;
  callTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** Emits 'close' when the connection ends (the registrar reconnects). */
export class IsnsClient extends EventEmitter {
  private socket: Socket | undefined;
  private readonly pending = new Map<number, Pending>();
  private lastXid = 0;

  private constructor(private readonly opts: IsnsClientOptions) {
    super();
  }

  static async connect(opts: IsnsClientOptions): Promise<IsnsClient> {
    const c = new IsnsClient(opts);
    await c.open();
    return c;
  }

  /** The local address of the connection: what a wildcard listener registers as its portal (as tgtd does). */
  get localAddress(): string | undefined {
    return this.socket?.localAddress?.replace(/^::ffff:/, '');
  }

  get connected(): boolean {
    return !!this.socket && !this.socket.destroyed;
  }

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.opts.host, port: this.opts.port });
      const reader = new MessageReader();
      const timer = setTimeout(() => s.destroy(new Error(`iSNS server ${this.opts.host}:${this.opts.port} did not accept the connection`)), this.opts.connectTimeoutMs ?? 5000);
      s.setNoDelay(true);
      s.once('connect', () => {
        clearTimeout(timer);
        this.socket = s;
        resolve();
      });
      s.on('data', (chunk: Buffer) => {
        try {
          for (const m of reader.push(chunk)) {
            const p = this.pending.get(m.xid);
            // An unsolicited message or one for a request that timed out: nothing waits for it.
            if (!p || m.functionId !== (p.functionId | RESPONSE)) continue;
            this.pending.delete(m.xid);
            clearTimeout(p.timer);
            try {
              p.resolve(decodeResponse(m.payload));
            } catch (e) {
              p.reject(e as Error);
            }
          }
        } catch (e) {
          s.destroy(e as Error);
        }
      });
      s.on('error', (e) => {
        clearTimeout(timer);
        if (!this.socket) reject(e);
      });
      s.on('close', () => {
        clearTimeout(timer);
        const was = this.socket === s;
        this.socket = undefined;
        for (const [xid, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new IsnsError('iSNS connection closed before the server answered'));
          this.pending.delete(xid);
        }
        if (was) this.emit('close');
      });
    });
  }

  private nextXid(): number {
    // 16 bits, 0 skipped on wrap, never one still outstanding.
    do this.lastXid = (this.lastXid % 0xffff) + 1;
    while (this.pending.has(this.lastXid));
    return this.lastXid;
  }

  /** Sends a request and resolves with the server's response, whatever its status. */
  request(functionId: number, body: RequestBody, opts: { replace?: boolean } = {}): Promise<ResponseBody> {
    const s = this.socket;
    if (!s || s.destroyed) return Promise.reject(new IsnsError('not connected to the iSNS server'));
    const xid = this.nextXid();
    const pdu = encodeMessage({ functionId, xid, flags: Flag.CLIENT | (opts.replace ? Flag.REPLACE : 0), payload: encodeRequest(body) });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(xid);
        reject(new IsnsError(`iSNS server did not answer function 0x${functionId.toString(16)} within ${this.opts.callTimeoutMs ?? 10_000} ms`));
      }, this.opts.callTimeoutMs ?? 10_000);
      this.pending.set(xid, { functionId, resolve, reject, timer });
      s.write(pdu);
    });
  }

  /** request(), and a non-zero status becomes an IsnsError naming it. */
  async call(functionId: number, body: RequestBody, opts: { replace?: boolean } = {}): Promise<ResponseBody> {
    const r = await this.request(functionId, body, opts);
    if (r.status !== 0) throw new IsnsError(`iSNS function 0x${functionId.toString(16)} failed: status ${statusText(r.status)}`, r.status);
    return r;
  }

  close(): void {
    this.socket?.end();
    this.socket?.destroy();
  }
}
