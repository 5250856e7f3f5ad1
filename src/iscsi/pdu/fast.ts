/**
 * Allocation-light builders for the target's data-path PDUs (Data-In, SCSI Response, R2T) and
 * readers for SCSI Command / Data-Out fields. Offsets come from the layouts in bhs.ts (OFF);
 * golden vectors check these against encodeBhs/decodeBhs.
 */
import { OFF } from './bhs.js';
import { BHS_LENGTH, Opcode, RESERVED_TAG } from './constants.js';

const newBhs = (): Buffer => {
  const b = Buffer.allocUnsafe(BHS_LENGTH);
  b.fill(0);
  return b;
};

export const DataInFlags = { FINAL: 0x80, ACK: 0x40, OVERFLOW: 0x04, UNDERFLOW: 0x02, STATUS: 0x01 } as const;
export const ResponseFlags = { BIDI_OVERFLOW: 0x10, BIDI_UNDERFLOW: 0x08, OVERFLOW: 0x04, UNDERFLOW: 0x02 } as const;

/** Data-In header. `statSN` is only meaningful with the S flag. */
export function dataInHeader(flags: number, status: number, itt: number, statSN: number, expCmdSN: number, maxCmdSN: number, dataSN: number, bufferOffset: number, residual: number): Buffer {
  const b = newBhs();
  b[0] = Opcode.DATA_IN;
  b[1] = flags;
  b[OFF.dataIn.status] = flags & DataInFlags.STATUS ? status : 0;
  b.writeUInt32BE(itt >>> 0, OFF.itt);
  b.writeUInt32BE(RESERVED_TAG, OFF.dataIn.ttt);
  b.writeUInt32BE(statSN >>> 0, OFF.dataIn.statSN);
  b.writeUInt32BE(expCmdSN >>> 0, OFF.dataIn.expCmdSN);
  b.writeUInt32BE(maxCmdSN >>> 0, OFF.dataIn.maxCmdSN);
  b.writeUInt32BE(dataSN >>> 0, OFF.dataIn.dataSN);
  b.writeUInt32BE(bufferOffset >>> 0, OFF.dataIn.bufferOffset);
  b.writeUInt32BE(residual >>> 0, OFF.dataIn.residualCount);
  return b;
}

/** SCSI Response header (response 0 = completed at target, 1 = target failure). */
export function scsiResponseHeader(flags: number, response: number, status: number, itt: number, statSN: number, expCmdSN: number, maxCmdSN: number, expDataSN: number, residual: number): Buffer {
  const b = newBhs();
  b[0] = Opcode.SCSI_RESPONSE;
  b[1] = 0x80 | flags;
  b[OFF.response.response] = response;
  b[OFF.response.status] = status;
  b.writeUInt32BE(itt >>> 0, OFF.itt);
  b.writeUInt32BE(statSN >>> 0, OFF.response.statSN);
  b.writeUInt32BE(expCmdSN >>> 0, OFF.response.expCmdSN);
  b.writeUInt32BE(maxCmdSN >>> 0, OFF.response.maxCmdSN);
  b.writeUInt32BE(expDataSN >>> 0, OFF.response.expDataSN);
  b.writeUInt32BE(residual >>> 0, OFF.response.residualCount);
  return b;
}

export function r2tHeader(lun: Uint8Array, itt: number, ttt: number, statSN: number, expCmdSN: number, maxCmdSN: number, r2tSN: number, bufferOffset: number, length: number): Buffer {
  const b = newBhs();
  b[0] = Opcode.R2T;
  b[1] = 0x80;
  b.set(lun.subarray(0, 8), OFF.lun);
  b.writeUInt32BE(itt >>> 0, OFF.itt);
  b.writeUInt32BE(ttt >>> 0, OFF.r2t.ttt);
  b.writeUInt32BE(statSN >>> 0, OFF.r2t.statSN);
  b.writeUInt32BE(expCmdSN >>> 0, OFF.r2t.expCmdSN);
  b.writeUInt32BE(maxCmdSN >>> 0, OFF.r2t.maxCmdSN);
  b.writeUInt32BE(r2tSN >>> 0, OFF.r2t.r2tSN);
  b.writeUInt32BE(bufferOffset >>> 0, OFF.r2t.bufferOffset);
  b.writeUInt32BE(length >>> 0, OFF.r2t.desiredLength);
  return b;
}

/** Serial-number arithmetic (RFC 1982, 32 bits): a < b. */
export const snLt = (a: number, b: number): boolean => a !== b && ((b - a) >>> 0) < 0x80000000;
export const snAdd = (a: number, n: number): number => (a + n) >>> 0;
