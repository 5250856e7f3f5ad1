/**
 * REPORT LUNS (SPC-4 §6.33): the CDB, the parameter data (LUN list), and the 8-byte SAM-5 LUN
 * field. dmsim numbers LUs with a flat number: 0..255 use peripheral device addressing (bus 0),
 * 256..16383 flat space addressing, and well-known LUNs (extended address, C1h xx) are 0xc100 | xx
 * (the convention of firmware-sim/router/task.ts).
 */
import { Sense } from './sense.js';
import { struct, u8, u32, field } from './layout.js';
import { SpcOp } from './spc.js';
import type { CdbRequest } from './cdb.js';

/** The REPORT LUNS well-known logical unit (SPC-4 §8.2). */
export const REPORT_LUNS_WLUN = 0xc101;

export const SelectReport = {
  /** Every LU the initiator can address, well-known LUs excluded. */
  ALL_LUS: 0x00,
  /** Well-known LUs only. */
  WELL_KNOWN: 0x01,
  /** Both. */
  ALL: 0x02,
} as const;

const isWellKnownLun = (lun: number): boolean => (lun & 0xff00) === 0xc100;

/** Flat LUN number from the 8-byte SAM LUN field, or undefined for an addressing form dmsim does not use. */
export function decodeLun(b: Uint8Array, offset = 0): number | undefined {
  if (b.length - offset < 8) return undefined;
  for (let i = 2; i < 8; i++) if (b[offset + i] !== 0) return undefined;
  const b0 = b[offset]!;
  const b1 = b[offset + 1]!;
  switch (field(b0, 6, 2)) {
    case 0: // peripheral device addressing: only bus 0 addresses an LU of this device
      return b0 === 0 ? b1 : undefined;
    case 1: // flat space addressing
      return ((b0 & 0x3f) << 8) | b1;
    case 3: // extended addressing: only the well-known LUN form (length 00b, method 1h)
      return b0 === 0xc1 ? 0xc100 | b1 : undefined;
    default:
      return undefined;
  }
}

/** The 8-byte SAM LUN field for a flat LUN number. */
export function encodeLun(lun: number, out: Buffer = Buffer.alloc(8), offset = 0): Buffer {
  out.fill(0, offset, offset + 8);
  if (isWellKnownLun(lun)) {
    out[offset] = 0xc1;
    out[offset + 1] = lun & 0xff;
  } else if (lun >= 0 && lun < 256) {
    out[offset + 1] = lun;
  } else if (lun >= 256 && lun < 0x4000) {
    out[offset] = 0x40 | (lun >> 8);
    out[offset + 1] = lun & 0xff;
  } else throw new RangeError(`LUN ${lun} cannot be addressed`);
  return out;
}

export interface ReportLunsCdb {
  selectReport: number;
  allocationLength: number;
}

interface Raw { opcode: number; r1: number; select: number; r3: number; r4: number; r5: number; alloc: number; r10: number; control: number }
const cdb12 = struct<Raw>([u8('opcode'), u8('r1'), u8('select'), u8('r3'), u8('r4'), u8('r5'), u32('alloc'), u8('r10'), u8('control')]);

export function decodeReportLunsCdb(cdb: Buffer): ReportLunsCdb {
  const r = cdb12.decode(cdb);
  return { selectReport: r.select, allocationLength: r.alloc };
}

export function encodeReportLunsCdb(v: ReportLunsCdb): Buffer {
  return cdb12.encode({ opcode: SpcOp.REPORT_LUNS, r1: 0, select: v.selectReport, r3: 0, r4: 0, r5: 0, alloc: v.allocationLength, r10: 0, control: 0 });
}

export const reportLunsRequest = (v: ReportLunsCdb): CdbRequest => ({ cdb: encodeReportLunsCdb(v), direction: 'in', length: v.allocationLength });

/**
 * Validate a REPORT LUNS CDB the way SPC-4 asks: unknown SELECT REPORT values and allocation
 * lengths under 16 are INVALID FIELD IN CDB pointing at the field; reserved bytes must be zero.
 */
export function checkReportLunsCdb(cdb: Buffer): ReportLunsCdb {
  if (cdb.length < 12) throw Sense.invalidFieldInCdb(0);
  const v = decodeReportLunsCdb(cdb);
  for (const i of [1, 3, 4, 5, 10, 11]) if (cdb[i]) throw Sense.invalidFieldInCdb(i, 31 - Math.clz32(cdb[i]!));
  if (v.selectReport > SelectReport.ALL) throw Sense.invalidFieldInCdb(2);
  if (v.allocationLength < 16) throw Sense.invalidFieldInCdb(6);
  return v;
}

/** LUNs a REPORT LUNS with this SELECT REPORT returns, from all the LUNs the initiator can address. */
export function selectLuns(luns: Iterable<number>, selectReport: number): number[] {
  const all = [...new Set(luns)];
  const wl = all.includes(REPORT_LUNS_WLUN) ? all : [...all, REPORT_LUNS_WLUN];
  const pick =
    selectReport === SelectReport.ALL_LUS ? all.filter((l) => !isWellKnownLun(l))
    : selectReport === SelectReport.WELL_KNOWN ? wl.filter(isWellKnownLun)
    : wl;
  return pick.sort((a, b) => a - b);
}

/** Parameter data: LUN LIST LENGTH (bytes), 4 reserved, then 8 bytes per LUN. */
export function encodeReportLunsData(luns: readonly number[]): Buffer {
  const b = Buffer.alloc(8 + 8 * luns.length);
  b.writeUInt32BE(8 * luns.length, 0);
  luns.forEach((l, i) => encodeLun(l, b, 8 + 8 * i));
  return b;
}

/** LUNs in REPORT LUNS data (possibly truncated by the allocation length); undecodable forms are skipped. */
export function decodeReportLunsData(b: Buffer): { listLength: number; luns: number[] } {
  if (b.length < 8) throw new RangeError('REPORT LUNS data shorter than 8 bytes');
  const listLength = b.readUInt32BE(0);
  const luns: number[] = [];
  for (let p = 8; p + 8 <= Math.min(b.length, 8 + listLength); p += 8) {
    const l = decodeLun(b, p);
    if (l !== undefined) luns.push(l);
  }
  return { listLength, luns };
}
