/**
 * SPDTL (the bytes a command moves when it runs normally) for the SBC read/write family, so the
 * transport can report residual overflow/underflow against EDTL (RFC 7143 §11.4.5) even though
 * the router's ScsiResult carries no transfer length. The block size comes from READ CAPACITY
 * answers that pass through the target (every initiator reads it before I/O).
 */

export interface Transfer {
  dir: 'in' | 'out';
  bytes: number;
}

/** SPDTL of an SBC CDB for a given logical block size, or undefined for other commands. */
export function sbcTransfer(cdb: Buffer, blockSize: number): Transfer | undefined {
  if (cdb.length < 10) return undefined;
  const op = cdb[0]!;
  const n10 = (): number => cdb.readUInt16BE(7);
  const n12 = (): number => (cdb.length >= 12 ? cdb.readUInt32BE(6) : 0);
  const n16 = (): number => (cdb.length >= 16 ? cdb.readUInt32BE(10) : 0);
  const verify = (blocks: number): Transfer | undefined => {
    const bytchk = (cdb[1]! >> 1) & 3;
    if (bytchk === 0) return { dir: 'out', bytes: 0 };
    if (bytchk === 1) return { dir: 'out', bytes: blocks * blockSize };
    if (bytchk === 3) return { dir: 'out', bytes: blockSize };
    return undefined;
  };
  switch (op) {
    case 0x28:
      return { dir: 'in', bytes: n10() * blockSize };
    case 0xa8:
      return { dir: 'in', bytes: n12() * blockSize };
    case 0x88:
      return { dir: 'in', bytes: n16() * blockSize };
    case 0x2a:
    case 0x2e:
      return { dir: 'out', bytes: n10() * blockSize };
    case 0xaa:
    case 0xae:
      return { dir: 'out', bytes: n12() * blockSize };
    case 0x8a:
    case 0x8e:
      return { dir: 'out', bytes: n16() * blockSize };
    case 0x2f:
      return verify(n10());
    case 0xaf:
      return verify(n12());
    case 0x8f:
      return verify(n16());
    default:
      return undefined;
  }
}

/** Logical block size from a READ CAPACITY(10)/(16) answer, or undefined. */
export function blockSizeFromCapacity(cdb: Buffer, dataIn: Buffer | undefined): number | undefined {
  if (!dataIn) return undefined;
  if (cdb[0] === 0x25 && dataIn.length >= 8) return dataIn.readUInt32BE(4) || undefined;
  if (cdb[0] === 0x9e && (cdb[1]! & 0x1f) === 0x10 && dataIn.length >= 12) return dataIn.readUInt32BE(8) || undefined;
  return undefined;
}

/**
 * A copy of a WRITE / WRITE AND VERIFY CDB asking for `blocks` blocks, used when EDTL is below
 * SPDTL: the device then writes only what the initiator actually sent (whole blocks), as a SAM
 * device server transfers at most EDTL bytes. Undefined for CDBs without a plain transfer length.
 */
export function withTransferBlocks(cdb: Buffer, blocks: number): Buffer | undefined {
  const c = Buffer.from(cdb);
  switch (c[0]) {
    case 0x2a:
    case 0x2e:
      c.writeUInt16BE(blocks, 7);
      return c;
    case 0xaa:
    case 0xae:
      c.writeUInt32BE(blocks, 6);
      return c;
    case 0x8a:
    case 0x8e:
      c.writeUInt32BE(blocks, 10);
      return c;
    default:
      return undefined;
  }
}
