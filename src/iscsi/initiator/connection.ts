/**
 * One TCP connection of an initiator session: socket, the shared PDU parser and writer, and a
 * swappable PDU handler (login exchange first, then the full-feature session).
 */
import net from 'node:net';
import { PduParser, type ParsedPdu, type FramingError } from '../pdu/parser.js';
import { PduWriter } from '../pdu/serializer.js';
import { ConnectionClosedError, TimeoutError } from './errors.js';

interface ConnectionHandlers {
  pdu(p: ParsedPdu): void;
  /** Optional zero-copy destination for a data segment (Data-In into the caller's buffer). */
  dataSink?(bhs: Buffer, length: number): Buffer | undefined;
  closed(err: Error): void;
}

export class Connection {
  readonly parser: PduParser;
  readonly writer: PduWriter;
  private handlers: ConnectionHandlers;
  private closedWith: Error | undefined;

  private constructor(readonly socket: net.Socket) {
    const noop: ConnectionHandlers = { pdu: () => undefined, closed: () => undefined };
    this.handlers = noop;
    this.parser = new PduParser({
      pdu: (p) => this.handlers.pdu(p),
      error: (e: FramingError) => this.fail(e),
      dataSink: (bhs, len) => this.handlers.dataSink?.(bhs, len),
    });
    this.writer = new PduWriter(socket);
    socket.on('data', (chunk: Buffer) => this.parser.push(chunk));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new ConnectionClosedError('connection closed by target')));
  }

  static open(host: string, port: number, timeoutMs: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new TimeoutError(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new Connection(socket));
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        // The socket error stays attached (its errno code) so callers can say what happened.
        reject(Object.assign(new ConnectionClosedError(`connect to ${host}:${port}: ${e.message}`), { cause: e }));
      });
    });
  }

  get isClosed(): boolean {
    return this.closedWith !== undefined;
  }

  setHandlers(h: ConnectionHandlers): void {
    this.handlers = h;
    if (this.closedWith) h.closed(this.closedWith);
  }

  /** Queue one PDU (corked; leaves with the rest of this event-loop turn's PDUs). */
  send(bhs: Buffer, data?: Buffer, ahs?: Buffer): void {
    if (this.closedWith) return;
    this.writer.send(bhs, data, ahs);
  }

  setDigests(header: boolean, data: boolean): void {
    this.parser.headerDigest = header;
    this.parser.dataDigest = data;
    this.writer.headerDigest = header;
    this.writer.dataDigest = data;
  }

  /** Drop the connection; outstanding work fails with `err`. */
  fail(err: Error): void {
    if (this.closedWith) return;
    this.closedWith = err;
    this.parser.stop();
    this.socket.destroy();
    this.handlers.closed(err);
  }

  /** Close after flushing what was queued. */
  end(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      const t = setTimeout(() => this.socket.destroy(), 2000);
      this.socket.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      this.closedWith ??= new ConnectionClosedError('connection closed by initiator');
      this.parser.stop();
      this.socket.end();
    });
  }
}
