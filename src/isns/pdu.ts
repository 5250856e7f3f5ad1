/**
 * iSNSP PDUs and messages (RFC 4171 §5.1, §5.2, §5.6, §5.7). A PDU is a 12-byte header and a
 * payload of up to 65532 bytes; a message is one or more PDUs with the same function and
 * transaction ID. Request payload: source, message key, delimiter, operating attributes; response
 * payload: a 4-byte status, then the same. Server-originated SCN and ESI carry bare attributes.
 * Pure codec: the client and the SCN/ESI listener share it.
 */
import { Flag, ISNS_VERSION, MAX_PDU_PAYLOAD, Tag } from './constants.js';
import { decodeTlvs, encodeTlvs, TlvError, type Tlv } from './tlv.js';

export const HEADER_BYTES = 12;

interface PduHeader {
  version: number;
  functionId: number;
  length: number;
  flags: number;
  xid: number;
  sequence: number;
}

export function encodeHeader(h: PduHeader, out = Buffer.alloc(HEADER_BYTES)): Buffer {
  out.writeUInt16BE(h.version, 0);
  out.writeUInt16BE(h.functionId, 2);
  out.writeUInt16BE(h.length, 4);
  out.writeUInt16BE(h.flags, 6);
  out.writeUInt16BE(h.xid, 8);
  out.writeUInt16BE(h.sequence, 10);
  return out;
}

export function decodeHeader(b: Buffer, offset = 0): PduHeader {
  return {
    version: b.readUInt16BE(offset),
    functionId: b.readUInt16BE(offset + 2),
    length: b.readUInt16BE(offset + 4),
    flags: b.readUInt16BE(offset + 6),
    xid: b.readUInt16BE(offset + 8),
    sequence: b.readUInt16BE(offset + 10),
  };
}

/** A whole message, reassembled from its PDUs. */
export interface Message {
  functionId: number;
  xid: number;
  /** Flags of the first PDU (REPLACE, AUTH; client/server bits are not to be trusted). */
  flags: number;
  payload: Buffer;
}

/**
 * One message as a single PDU, FIRST|LAST set. dmsim never segments what it sends (its messages
 * are far below the limit), so a payload over it is refused here rather than cut.
 */
export function encodeMessage(m: { functionId: number; xid: number; flags?: number; payload: Buffer }): Buffer {
  if (m.payload.length > MAX_PDU_PAYLOAD) throw new TlvError(`iSNS message of ${m.payload.length} bytes does not fit one PDU`);
  if (m.payload.length % 4) throw new TlvError('iSNS payload is not a multiple of 4 bytes');
  const out = Buffer.alloc(HEADER_BYTES + m.payload.length);
  encodeHeader(
    { version: ISNS_VERSION, functionId: m.functionId, length: m.payload.length, flags: (m.flags ?? Flag.CLIENT) | Flag.FIRST | Flag.LAST, xid: m.xid, sequence: 0 },
    out,
  );
  m.payload.copy(out, HEADER_BYTES);
  return out;
}

// --- payload shapes ------------------------------------------------------------------------

const DELIMITER: Tlv = { tag: Tag.Delimiter, value: Buffer.alloc(0) };

export interface RequestBody {
  source?: Tlv;
  key: Tlv[];
  operating: Tlv[];
}

/** Source, key, delimiter, operating attributes (RFC §5.6.1). */
export function encodeRequest(r: RequestBody): Buffer {
  return encodeTlvs([...(r.source ? [r.source] : []), ...r.key, DELIMITER, ...r.operating]);
}

export function decodeRequest(payload: Buffer): RequestBody {
  const all = decodeTlvs(payload);
  const d = all.findIndex((t) => t.tag === Tag.Delimiter);
  const head = d < 0 ? all : all.slice(0, d);
  const [source, ...key] = head;
  return { ...(source ? { source } : {}), key, operating: d < 0 ? [] : all.slice(d + 1) };
}

export interface ResponseBody {
  status: number;
  key: Tlv[];
  operating: Tlv[];
}

export function encodeResponse(r: ResponseBody): Buffer {
  const status = Buffer.alloc(4);
  status.writeUInt32BE(r.status);
  const rest = r.key.length || r.operating.length ? encodeTlvs([...r.key, ...(r.operating.length ? [DELIMITER, ...r.operating] : [])]) : Buffer.alloc(0);
  return Buffer.concat([status, rest]);
}

/** Status, then key and operating attributes split at the delimiter (a reply may have no delimiter). */
export function decodeResponse(payload: Buffer): ResponseBody {
  if (payload.length < 4) throw new TlvError(`iSNS response of ${payload.length} bytes has no status`);
  const all = decodeTlvs(payload, 4);
  const d = all.findIndex((t) => t.tag === Tag.Delimiter);
  return { status: payload.readUInt32BE(0), key: d < 0 ? all : all.slice(0, d), operating: d < 0 ? [] : all.slice(d + 1) };
}

// --- stream reassembly -----------------------------------------------------------------------

/**
 * Turns a TCP byte stream into messages: collects PDUs, joins the payloads of one message (same
 * function and xid, sequence 0, 1, ..., FIRST on the first, LAST on the last). A PDU that breaks
 * those rules is a framing error; the caller drops the connection.
 */
export class MessageReader {
  private buf: Buffer = Buffer.alloc(0);
  private pending: { functionId: number; xid: number; flags: number; next: number; parts: Buffer[] } | undefined;

  push(chunk: Buffer): Message[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Message[] = [];
    while (this.buf.length >= HEADER_BYTES) {
      const h = decodeHeader(this.buf);
      if (h.length % 4) throw new TlvError(`iSNS PDU length ${h.length} is not a multiple of 4`);
      if (this.buf.length < HEADER_BYTES + h.length) break;
      const payload = this.buf.subarray(HEADER_BYTES, HEADER_BYTES + h.length);
      this.buf = this.buf.subarray(HEADER_BYTES + h.length);
      const m = this.accept(h, payload);
      if (m) out.push(m);
    }
    return out;
  }

  private accept(h: PduHeader, payload: Buffer): Message | undefined {
    if (h.flags & Flag.FIRST) {
      if (this.pending) throw new TlvError(`iSNS PDU starts a new message inside xid ${this.pending.xid}`);
      if (h.sequence !== 0) throw new TlvError(`first iSNS PDU with sequence ${h.sequence}`);
      this.pending = { functionId: h.functionId, xid: h.xid, flags: h.flags, next: 1, parts: [Buffer.from(payload)] };
    } else {
      const p = this.pending;
      if (!p || p.functionId !== h.functionId || p.xid !== h.xid || p.next !== h.sequence) throw new TlvError(`iSNS PDU out of sequence (function ${h.functionId}, xid ${h.xid}, sequence ${h.sequence})`);
      p.parts.push(Buffer.from(payload));
      p.next++;
    }
    if (!(h.flags & Flag.LAST)) return undefined;
    const p = this.pending!;
    this.pending = undefined;
    return { functionId: p.functionId, xid: p.xid, flags: p.flags, payload: p.parts.length === 1 ? p.parts[0]! : Buffer.concat(p.parts) };
  }
}
