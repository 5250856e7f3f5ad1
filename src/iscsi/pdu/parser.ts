/**
 * Streaming PDU parser: feed it socket chunks, it calls back once per complete PDU.
 *
 * No Buffer.concat on the data path: a BHS that lies inside one chunk is a view into it; a data
 * segment inside one chunk is a view too; a data segment spread over chunks is copied once into
 * its final buffer (or straight into the caller's buffer via `dataSink`, e.g. a write task's
 * gather buffer). Data segments longer than `maxDataSegmentLength` are skipped without being
 * buffered and reported with `oversize`, so memory per connection stays bounded.
 */
import { BHS_LENGTH } from './constants.js';
import { crc32cUpdate, readDigest } from '../crc32c.js';

export interface ParsedPdu {
  /** 48-byte BHS (view; valid as long as the caller keeps it). */
  bhs: Buffer;
  /** Additional header segments (TotalAHSLength × 4 bytes), if any. */
  ahs: Buffer | undefined;
  /** Data segment without padding/digest; empty when DataSegmentLength is 0 or oversize. */
  data: Buffer;
  /** DataSegmentLength exceeded maxDataSegmentLength: data was skipped. */
  oversize: boolean;
  /** The data digest did not match (data is still delivered). */
  dataDigestError: boolean;
}

export class FramingError extends Error {
  constructor(
    message: string,
    readonly kind: 'header-digest' | 'too-long',
  ) {
    super(message);
  }
}

interface ParserHandlers {
  pdu(p: ParsedPdu): void;
  /** Unrecoverable framing error: the stream cannot be trusted any more; close the connection. */
  error(e: FramingError): void;
  /**
   * Optional destination for a data segment: return a buffer of exactly `length` bytes to copy
   * the payload into, or undefined to let the parser choose.
   */
  dataSink?(bhs: Buffer, length: number): Buffer | undefined;
}

const enum St {
  HEADER,
  DATA,
  PAD,
  DDIGEST,
  SKIP,
}

const EMPTY = Buffer.alloc(0);
/** Largest header: BHS + 255 AHS words + digest. */
const MAX_HEADER = BHS_LENGTH + 255 * 4 + 4;

export class PduParser {
  headerDigest = false;
  dataDigest = false;
  /** Data segments longer than this are skipped and reported as oversize. */
  maxDataSegmentLength = 8192;

  private st = St.HEADER;
  private readonly scratch = Buffer.allocUnsafe(MAX_HEADER);
  private have = 0;
  private need = BHS_LENGTH;
  private header: Buffer = EMPTY;
  private dsl = 0;
  private data: Buffer = EMPTY;
  private dataHave = 0;
  private pad = 0;
  private padBuf = Buffer.alloc(4);
  private crc = 0;
  private skipLeft = 0;
  private oversize = false;
  private stopped = false;

  constructor(private readonly h: ParserHandlers) {}

  /** Stop parsing (connection closing); later chunks are ignored. */
  stop(): void {
    this.stopped = true;
  }

  push(chunk: Buffer): void {
    let off = 0;
    const n = chunk.length;
    while (off < n && !this.stopped) {
      switch (this.st) {
        case St.HEADER: {
          if (this.have === 0 && n - off >= BHS_LENGTH) {
            const full = this.headerLength(chunk, off);
            if (n - off >= full) {
              const hdr = chunk.subarray(off, off + full);
              off += full;
              this.headerDone(hdr);
              break;
            }
          }
          const take = Math.min(this.need - this.have, n - off);
          chunk.copy(this.scratch, this.have, off, off + take);
          this.have += take;
          off += take;
          if (this.have === BHS_LENGTH && this.need === BHS_LENGTH) this.need = this.headerLength(this.scratch, 0);
          if (this.have === this.need) {
            const hdr = Buffer.from(this.scratch.subarray(0, this.need));
            this.have = 0;
            this.need = BHS_LENGTH;
            this.headerDone(hdr);
          }
          break;
        }
        case St.DATA: {
          const left = this.dsl - this.dataHave;
          if (this.dataHave === 0 && this.data === EMPTY && n - off >= left) {
            this.data = chunk.subarray(off, off + left);
            this.dataHave = left;
            off += left;
          } else {
            if (this.data === EMPTY) this.data = Buffer.allocUnsafe(this.dsl);
            const take = Math.min(left, n - off);
            chunk.copy(this.data, this.dataHave, off, off + take);
            this.dataHave += take;
            off += take;
          }
          if (this.dataHave === this.dsl) this.afterData();
          break;
        }
        case St.PAD: {
          while (this.pad > 0 && off < n) this.padBuf[4 - this.pad--] = chunk[off++]!;
          if (this.pad === 0) this.afterPad();
          break;
        }
        case St.DDIGEST: {
          const take = Math.min(4 - this.have, n - off);
          chunk.copy(this.scratch, this.have, off, off + take);
          this.have += take;
          off += take;
          if (this.have === 4) {
            this.have = 0;
            this.emit(readDigest(this.scratch, 0) !== this.crc);
          }
          break;
        }
        case St.SKIP: {
          const take = Math.min(this.skipLeft, n - off);
          this.skipLeft -= take;
          off += take;
          if (this.skipLeft === 0) this.emit(false);
          break;
        }
      }
    }
  }

  private headerLength(b: Buffer, off: number): number {
    return BHS_LENGTH + b[off + 4]! * 4 + (this.headerDigest ? 4 : 0);
  }

  private headerDone(hdr: Buffer): void {
    if (this.headerDigest) {
      const end = hdr.length - 4;
      if (crc32cUpdate(0, hdr, 0, end) !== readDigest(hdr, end)) {
        this.stopped = true;
        this.h.error(new FramingError('header digest mismatch', 'header-digest'));
        return;
      }
      hdr = hdr.subarray(0, end);
    }
    this.header = hdr;
    this.dsl = (hdr[5]! << 16) | (hdr[6]! << 8) | hdr[7]!;
    this.data = EMPTY;
    this.dataHave = 0;
    this.oversize = false;
    if (this.dsl === 0) {
      this.emit(false);
      return;
    }
    const padded = (this.dsl + 3) & ~3;
    if (this.dsl > this.maxDataSegmentLength) {
      this.oversize = true;
      this.skipLeft = padded + (this.dataDigest ? 4 : 0);
      this.st = St.SKIP;
      return;
    }
    const sink = this.h.dataSink?.(hdr.subarray(0, BHS_LENGTH), this.dsl);
    if (sink) this.data = sink;
    this.st = St.DATA;
  }

  private afterData(): void {
    this.pad = ((this.dsl + 3) & ~3) - this.dsl;
    if (this.pad) {
      this.padBuf.fill(0);
      this.st = St.PAD;
    } else this.afterPad();
  }

  private afterPad(): void {
    if (!this.dataDigest) {
      this.emit(false);
      return;
    }
    const padLen = ((this.dsl + 3) & ~3) - this.dsl;
    this.crc = crc32cUpdate(crc32cUpdate(0, this.data), this.padBuf, 0, padLen);
    this.have = 0;
    this.st = St.DDIGEST;
  }

  private emit(dataDigestError: boolean): void {
    const hdr = this.header;
    const pdu: ParsedPdu = {
      bhs: hdr.length === BHS_LENGTH ? hdr : hdr.subarray(0, BHS_LENGTH),
      ahs: hdr.length > BHS_LENGTH ? hdr.subarray(BHS_LENGTH) : undefined,
      data: this.data,
      oversize: this.oversize,
      dataDigestError,
    };
    this.st = St.HEADER;
    this.header = EMPTY;
    this.data = EMPTY;
    this.h.pdu(pdu);
  }
}
