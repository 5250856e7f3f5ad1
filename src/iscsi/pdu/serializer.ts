/**
 * PDU serializer: a PDU goes out as a list of slices (header, AHS, header digest, data, pad, data
 * digest) that the socket gathers with writev. The data segment is never copied.
 */
import { BHS_LENGTH } from './constants.js';
import { crc32cUpdate, digestBytes } from '../crc32c.js';

const PADS = [Buffer.alloc(0), Buffer.alloc(1), Buffer.alloc(2), Buffer.alloc(3)] as const;

interface DigestOptions {
  headerDigest: boolean;
  dataDigest: boolean;
}

const NO_DIGESTS: DigestOptions = { headerDigest: false, dataDigest: false };

/** Write DataSegmentLength and TotalAHSLength into a BHS in place. */
function setLengths(bhs: Buffer, dataLength: number, ahsLength = 0): void {
  if (dataLength > 0xffffff) throw new RangeError(`data segment ${dataLength} > 16777215`);
  if (ahsLength & 3 || ahsLength > 255 * 4) throw new RangeError(`AHS length ${ahsLength}`);
  bhs[4] = ahsLength >> 2;
  bhs[5] = dataLength >> 16;
  bhs[6] = (dataLength >> 8) & 0xff;
  bhs[7] = dataLength & 0xff;
}

/**
 * Slices of one PDU in wire order. `bhs` gets its length fields set from `data`/`ahs`.
 * The slices reference `bhs` and `data` (no copies); keep them unchanged until written.
 */
export function serializePdu(bhs: Buffer, data?: Buffer, ahs?: Buffer, opts: DigestOptions = NO_DIGESTS): Buffer[] {
  if (bhs.length !== BHS_LENGTH) throw new RangeError('BHS must be 48 bytes');
  const dl = data ? data.length : 0;
  setLengths(bhs, dl, ahs ? ahs.length : 0);
  const out: Buffer[] = [bhs];
  if (ahs && ahs.length) out.push(ahs);
  if (opts.headerDigest) {
    let c = crc32cUpdate(0, bhs);
    if (ahs) c = crc32cUpdate(c, ahs);
    out.push(digestBytes(c));
  }
  if (dl) {
    out.push(data!);
    const pad = PADS[(4 - (dl & 3)) & 3]!;
    if (pad.length) out.push(pad);
    if (opts.dataDigest) out.push(digestBytes(crc32cUpdate(crc32cUpdate(0, data!), pad)));
  }
  return out;
}

/** One contiguous buffer (tests, golden vectors, login phase); the data path uses PduWriter. */
export function serializePduToBuffer(bhs: Buffer, data?: Buffer, ahs?: Buffer, opts: DigestOptions = NO_DIGESTS): Buffer {
  return Buffer.concat(serializePdu(bhs, data, ahs, opts));
}

interface WritableSink {
  cork(): void;
  uncork(): void;
  write(b: Buffer, cb?: (err?: Error | null) => void): boolean;
}

/**
 * Writes PDUs to a socket. All PDUs sent in one event-loop turn are corked together and leave in
 * one writev when the turn ends, like tgtd's TCP_CORK around header + data.
 */
export class PduWriter implements DigestOptions {
  headerDigest = false;
  dataDigest = false;
  private corked = false;
  private readonly flush = (): void => {
    this.corked = false;
    this.sink.uncork();
  };

  constructor(private readonly sink: WritableSink) {}

  /**
   * Queue one PDU; returns false when the socket buffer is above its high-water mark. `written`
   * runs once the sink is done with the PDU's bytes (the socket wrote them, or failed).
   */
  send(bhs: Buffer, data?: Buffer, ahs?: Buffer, written?: (err?: Error | null) => void): boolean {
    if (!this.corked) {
      this.corked = true;
      this.sink.cork();
      process.nextTick(this.flush);
    }
    let ok = true;
    if (!this.headerDigest && !this.dataDigest && !ahs) {
      // Fast path: no slice array.
      const dl = data ? data.length : 0;
      setLengths(bhs, dl, 0);
      const pad = dl ? (4 - (dl & 3)) & 3 : 0;
      ok = this.sink.write(bhs, dl ? undefined : written);
      if (dl) {
        ok = this.sink.write(data!, pad ? undefined : written);
        if (pad) ok = this.sink.write(PADS[pad]!, written);
      }
      return ok;
    }
    const slices = serializePdu(bhs, data, ahs, this);
    for (let i = 0; i < slices.length; i++) ok = this.sink.write(slices[i]!, i === slices.length - 1 ? written : undefined);
    return ok;
  }
}
