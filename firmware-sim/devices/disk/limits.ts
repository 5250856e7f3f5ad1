/** Limits the disk advertises (VPD B0h) and small shared answers of the disk's handlers. */
import { ScsiError, SenseKey } from '../../../src/scsi/sense.js';
import { SpcOp } from '../../../src/scsi/spc.js';

export const EMPTY = Buffer.alloc(0);
/** Opcodes of EXTENDED COPY (LID1/LID4) and RECEIVE COPY RESULTS: their presence means 3PC=1. */
export const COPY_OPCODES: ReadonlySet<number> = new Set([SpcOp.EXTENDED_COPY, SpcOp.RECEIVE_COPY_RESULTS]);
export const MAX_UNMAP_DESCRIPTORS = 256;
/** MAXIMUM COMPARE AND WRITE LENGTH (VPD B0h): the CDB field's whole range. */
export const MAX_COMPARE_AND_WRITE = 255;
export const MAX_WRITE_SAME_BYTES = 32 << 20;
/** WRITE SAME writes its pattern this many bytes at a time. */
export const FILL_CHUNK = 1 << 20;

/** INVALID FIELD IN COMMAND INFORMATION UNIT: the data-out does not match what the CDB asks for. */
export const shortDataOut = (): ScsiError => new ScsiError({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x0e, ascq: 0x03 });
/** Byte offset of the TRANSFER LENGTH field, for field pointers, by CDB size. */
export const lengthField = (op: number): number => [4, 7, 7, 0, 10, 6][op >> 5] ?? 0;
