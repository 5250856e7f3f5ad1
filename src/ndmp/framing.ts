/**
 * ONC RPC record marking (RFC 1831 §10) as NDMP uses it: every message is one record made of
 * fragments, each preceded by a 4-byte mark (bit 31 = last fragment, bits 30..0 = length).
 * Peers such as ndmjob cut records into ~4 KB fragments, and a TCP read may hold part of a
 * fragment or several records, so the reader reassembles from any chunking.
 * dmsim sends every message as a single fragment.
 */

/** The largest record accepted: one 1 MiB TAPE_WRITE plus its header and length words. */
export const MAX_RECORD = 1024 * 1024 + 64;

const LAST = 0x8000_0000;

/** Wrap one message as a single-fragment record. */
export function frameRecord(body: Buffer): Buffer {
  const mark = Buffer.allocUnsafe(4);
  mark.writeUInt32BE((LAST | body.length) >>> 0, 0);
  return Buffer.concat([mark, body]);
}

export type RecordEvent = { kind: 'record'; record: Buffer } | { kind: 'dropped'; bytes: number };

/**
 * Reassembles records from a byte stream. A record that grows past `max` is skipped to its end
 * (its fragments are counted, not stored) and reported as 'dropped'.
 */
export class RecordReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes still belonging to the current fragment. */
  private fragLeft = 0;
  private fragLast = false;
  private inFragment = false;
  private dropping = false;
  private droppedBytes = 0;
  private carry: Buffer = Buffer.alloc(0);
  private fragParts: Buffer[] = [];

  constructor(private readonly max = MAX_RECORD) {}

  push(chunk: Buffer): RecordEvent[] {
    const out: RecordEvent[] = [];
    let buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = Buffer.alloc(0);
    let off = 0;
    while (off < buf.length) {
      if (!this.inFragment) {
        if (buf.length - off < 4) {
          this.carry = Buffer.from(buf.subarray(off));
          break;
        }
        const mark = buf.readUInt32BE(off);
        off += 4;
        this.fragLast = (mark & LAST) !== 0;
        this.fragLeft = mark & 0x7fff_ffff;
        this.inFragment = true;
        if (!this.dropping && this.pendingBytes + this.fragLeft > this.max) {
          this.dropping = true;
          this.droppedBytes = this.pendingBytes;
          this.pending = [];
          this.pendingBytes = 0;
        }
      }
      const take = Math.min(this.fragLeft, buf.length - off);
      if (take > 0) {
        if (this.dropping) this.droppedBytes += take;
        else this.fragParts.push(buf.subarray(off, off + take));
        off += take;
        this.fragLeft -= take;
      }
      if (this.fragLeft === 0) {
        this.inFragment = false;
        if (!this.dropping) {
          // Copy: the parts may point into a socket buffer the caller reuses.
          for (const p of this.fragParts) {
            this.pending.push(Buffer.from(p));
            this.pendingBytes += p.length;
          }
        }
        this.fragParts = [];
        if (this.fragLast) {
          if (this.dropping) out.push({ kind: 'dropped', bytes: this.droppedBytes });
          else out.push({ kind: 'record', record: this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes) });
          this.pending = [];
          this.pendingBytes = 0;
          this.dropping = false;
          this.droppedBytes = 0;
        }
      }
    }
    // Keep partial fragment data across pushes.
    if (this.inFragment && this.fragParts.length && !this.dropping) {
      for (const p of this.fragParts) {
        this.pending.push(Buffer.from(p));
        this.pendingBytes += p.length;
      }
      this.fragParts = [];
    }
    buf = Buffer.alloc(0);
    return out;
  }
}
