/** Additional Header Segments (RFC 7143 §11.2.2): Extended CDB and Bidirectional Read EDTL. */
import { AhsType } from './constants.js';

interface ParsedAhs {
  /** CDB bytes 16.. from an Extended CDB AHS. */
  extendedCdb?: Buffer;
  bidiReadLength?: number;
  /** An AHS type dmsim does not handle, or a malformed AHS. */
  error?: string;
}

export function parseAhs(ahs: Buffer): ParsedAhs {
  const out: ParsedAhs = {};
  let off = 0;
  while (off < ahs.length) {
    if (ahs.length - off < 4) return { error: 'truncated AHS' };
    const len = ahs.readUInt16BE(off);
    const type = ahs[off + 2]! & 0x3f;
    const total = (3 + len + 3) & ~3;
    if (len < 1 || off + total > ahs.length) return { error: 'AHS length beyond TotalAHSLength' };
    if (type === AhsType.EXTENDED_CDB) out.extendedCdb = ahs.subarray(off + 4, off + 3 + len);
    else if (type === AhsType.BIDI_READ_EDTL && len === 5) out.bidiReadLength = ahs.readUInt32BE(off + 4);
    else return { error: `unsupported AHS type ${type}` };
    off += total;
  }
  return out;
}

/** Extended CDB AHS for a CDB longer than 16 bytes. */
export function extendedCdbAhs(cdb: Buffer): Buffer {
  const rest = cdb.subarray(16);
  const len = rest.length + 1;
  const b = Buffer.alloc((3 + len + 3) & ~3);
  b.writeUInt16BE(len, 0);
  b[2] = AhsType.EXTENDED_CDB;
  rest.copy(b, 4);
  return b;
}

