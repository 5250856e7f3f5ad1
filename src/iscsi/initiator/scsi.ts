/**
 * Convenience SCSI commands over anything with an iSCSI-session-shaped `command()`. CDBs and
 * parameter data go through the shared codecs in src/scsi; a status other than GOOD becomes a
 * ScsiCommandError carrying the decoded sense.
 */
import { encodeInquiryCdb, decodeStandardInquiry, type StandardInquiry } from '../../scsi/inquiry.js';
import { decodeReadCapacity16, encodeReadCapacity16Cdb, READ_CAPACITY_16_LENGTH, type ReadCapacity16Data } from '../../scsi/read-capacity.js';
import { decodeReportLunsData, encodeReportLunsCdb, SelectReport } from '../../scsi/report-luns.js';
import { decodeSense, hexByte, senseCode, type SenseInfo } from '../../scsi/sense.js';
import { ScsiStatus } from '../../scsi/status.js';
import type { CommandRequest, CommandResult } from './types.js';

export interface CommandIssuer {
  command(req: CommandRequest): Promise<CommandResult>;
}

export class ScsiCommandError extends Error {
  constructor(
    readonly opcode: number,
    readonly result: CommandResult,
    readonly senseInfo: SenseInfo | undefined,
  ) {
    const s = senseInfo ? ` sense ${senseCode(senseInfo, { wide: true })}` : '';
    super(`SCSI command 0x${hexByte(opcode)} failed: status 0x${hexByte(result.status)}${s}`);
  }
}

/** Run a command and throw ScsiCommandError unless the status is GOOD or CONDITION MET. */
export async function checked(s: CommandIssuer, req: CommandRequest): Promise<CommandResult> {
  const r = await s.command(req);
  if (r.status !== ScsiStatus.GOOD && r.status !== ScsiStatus.CONDITION_MET) {
    let info: SenseInfo | undefined;
    try {
      info = r.sense ? decodeSense(r.sense) : undefined;
    } catch {
      info = undefined;
    }
    throw new ScsiCommandError(req.cdb[0]!, r, info);
  }
  return r;
}

/** REPORT LUNS to LUN 0, re-issued with the full length when the first answer was truncated. */
export async function reportLuns(s: CommandIssuer, selectReport: number = SelectReport.ALL_LUS): Promise<number[]> {
  let alloc = 8 + 8 * 64;
  for (let i = 0; i < 2; i++) {
    const r = await checked(s, { lun: 0, cdb: encodeReportLunsCdb({ selectReport, allocationLength: alloc }), dataInLength: alloc });
    const d = decodeReportLunsData(r.dataIn);
    if (8 + d.listLength <= alloc) return d.luns;
    alloc = 8 + d.listLength;
  }
  throw new Error('REPORT LUNS list kept growing');
}

export async function inquiry(s: CommandIssuer, lun: number): Promise<StandardInquiry> {
  const r = await checked(s, { lun, cdb: encodeInquiryCdb({ evpd: false, pageCode: 0, allocationLength: 96 }), dataInLength: 96 });
  return decodeStandardInquiry(r.dataIn);
}

/** A VPD page's raw bytes (header included). */
export async function inquiryVpd(s: CommandIssuer, lun: number, page: number, allocationLength = 1024): Promise<Buffer> {
  const r = await checked(s, { lun, cdb: encodeInquiryCdb({ evpd: true, pageCode: page, allocationLength }), dataInLength: allocationLength });
  return r.dataIn;
}

export async function readCapacity16(s: CommandIssuer, lun: number): Promise<ReadCapacity16Data> {
  const r = await checked(s, { lun, cdb: encodeReadCapacity16Cdb({ allocationLength: READ_CAPACITY_16_LENGTH }), dataInLength: READ_CAPACITY_16_LENGTH });
  return decodeReadCapacity16(r.dataIn);
}

export async function testUnitReady(s: CommandIssuer, lun: number): Promise<CommandResult> {
  return s.command({ lun, cdb: Buffer.alloc(6) });
}

/**
 * TEST UNIT READY until no UNIT ATTENTION is pending (a new I_T nexus usually starts with
 * 29h/xx), as libiscsi does after login. Returns the last result.
 */
export async function clearUnitAttentions(s: CommandIssuer, lun: number, tries = 10): Promise<CommandResult> {
  let r = await testUnitReady(s, lun);
  for (let i = 1; i < tries && r.status === ScsiStatus.CHECK_CONDITION && r.sense && (r.sense[2]! & 0x0f) === 6; i++) {
    r = await testUnitReady(s, lun);
  }
  return r;
}
