/**
 * The process's SCN and ESI port (RFC 4171 §5.6.5.8, §5.6.5.13): the iSNS server connects here to
 * tell of state changes and to probe that the entity is alive. Each is answered before it is acted
 * on: SCNRsp = status 0 + the destination attribute, ESIRsp = status 0 + the four attributes of
 * the ESI, same transaction ID. Anything else gets status 15 (message not supported); a PDU with an
 * authentication block gets 8, since dmsim holds no keys to check it with.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { Flag, Fn, RESPONSE, Status, Tag } from './constants.js';
import { decodeTlvs, readString, readU32, type Tlv } from './tlv.js';
import { encodeMessage, encodeResponse, MessageReader } from './pdu.js';

export interface ScnEvent {
  destination: string;
  /** Each affected node with the SCN bitmap that names what happened to it. */
  changes: Array<{ bitmap: number; node: string }>;
}

/** Emits 'scn' (ScnEvent) and 'esi' (after answering one). */
export class IsnsListener extends EventEmitter {
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {
    super();
  }

  static async listen(host: string, port = 0): Promise<IsnsListener> {
    const server = createServer();
    const l = new IsnsListener(server);
    server.on('connection', (s) => l.serve(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return l;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  private serve(s: Socket): void {
    this.sockets.add(s);
    const reader = new MessageReader();
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => undefined);
    s.on('data', (chunk: Buffer) => {
      try {
        for (const m of reader.push(chunk)) {
          const reply = (status: number, attrs: Tlv[] = []) =>
            s.write(encodeMessage({ functionId: m.functionId | RESPONSE, xid: m.xid, flags: Flag.CLIENT, payload: encodeResponse({ status, key: attrs, operating: [] }) }));
          if (m.flags & Flag.AUTH) {
            reply(Status.SourceUnauthorized);
            continue;
          }
          if (m.functionId === Fn.SCN) {
            const attrs = decodeTlvs(m.payload);
            const dest = attrs.find((t) => t.tag === Tag.IscsiName);
            reply(dest ? Status.Successful : Status.MessageFormatError, dest ? [dest] : []);
            if (dest) this.emit('scn', scnOf(readString(dest), attrs));
          } else if (m.functionId === Fn.ESI) {
            const attrs = decodeTlvs(m.payload);
            reply(Status.Successful, attrs);
            this.emit('esi');
          } else if (!(m.functionId & RESPONSE)) reply(Status.MessageNotSupported);
        }
      } catch {
        s.destroy();
      }
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Destination first, then (SCN bitmap, node name) pairs; timestamps and DD IDs are skipped. */
function scnOf(destination: string, attrs: Tlv[]): ScnEvent {
  const changes: ScnEvent['changes'] = [];
  let bitmap: number | undefined;
  for (const t of attrs.slice(attrs.findIndex((a) => a.tag === Tag.IscsiName) + 1)) {
    if (t.tag === Tag.IscsiScnBitmap) bitmap = readU32(t);
    else if (t.tag === Tag.IscsiName && bitmap !== undefined) changes.push({ bitmap, node: readString(t) });
  }
  return { destination, changes };
}
