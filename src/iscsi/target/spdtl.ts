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
  // Transfer length field by CDB size: 10-byte bytes 7-8, 12-byte 6-9, 16-byte 10-13.
  let blocks: number;
  switch (op & 0xe0) {
    case 0x20:
      blocks = cdb.readUInt16BE(7);
      break;
    case 0xa0:
      if (cdb.length < 12) return undefined;
      blocks = cdb.readUInt32BE(6);
      break;
    case 0x80:
      if (cdb.length < 16) return undefined;
      blocks = cdb.readUInt32BE(10);
      break;
    default:
      return undefined;
  }
  switch (op) {
    case 0x28:
    case 0xa8:
    case 0x88:
      return { dir: 'in', bytes: blocks * blockSize };
    case 0x2a:
    case 0x2e:
    case 0xaa:
    case 0xae:
    case 0x8a:
    case 0x8e:
      return { dir: 'out', bytes: blocks * blockSize };
    case 0x2f:
    case 0xaf:
    case 0x8f: {
      // VERIFY: BYTCHK 00b no data, 01b the blocks, 11b one block.
      const bytchk = (cdb[1]! >> 1) & 3;
      if (bytchk === 0) return { dir: 'out', bytes: 0 };
      if (bytchk === 1) return { dir: 'out', bytes: blocks * blockSize };
      if (bytchk === 3) return { dir: 'out', bytes: blockSize };
      return undefined;
    }
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
