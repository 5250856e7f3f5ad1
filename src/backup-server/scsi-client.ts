/**
 * Typed SCSI commands on top of a ScsiTransport, built with the shared src/scsi codecs. A command
 * that does not end GOOD throws CommandFailed carrying the decoded sense, so callers report the
 * target's own words.
 */
import type { CdbRequest } from '../scsi/cdb.js';
import { decodeDeviceIdPage, decodeStandardInquiry, encodeInquiryCdb, type Designator, type StandardInquiry } from '../scsi/inquiry.js';
import { decodeReadCapacity16, encodeReadCapacity16Cdb } from '../scsi/read-capacity.js';
import { decodeCopyStatus, decodeFailedSegmentDetails, decodeOperatingParameters, encodeRcrCdb, RcrServiceAction, type CopyStatus, type FailedSegmentDetails, type OperatingParameters } from '../scsi/receive-copy-results.js';
import { decodeReportLunsData, encodeReportLunsCdb } from '../scsi/report-luns.js';
import { read16, write16 } from '../scsi/sbc.js';
import { decodeSense, describeSense, hexByte, SenseKey, type SenseInfo } from '../scsi/sense.js';
import { ScsiStatus, statusName } from '../scsi/status.js';
import { decodePositionLong, encodeLoadUnload, encodeLocate10, encodeReadPositionCdb, encodeRewind, encodeSpace6, ReadPositionForm, READ_POSITION_LONG_LENGTH, SpaceCode, readRecord6, type TapePosition } from '../scsi/tape.js';
import { decodeThirdPartyCopyVpd, TPC_VPD_PAGE, type ThirdPartyCopyVpd } from '../scsi/third-party-copy-vpd.js';
import { encodeXcopyCdb } from '../scsi/xcopy.js';
import { encodePrOutCdb, encodePrOutParams, encodeReserve10Cdb, encodeThirdPartyId, LU_SCOPE } from '../scsi/persistent-reservations.js';
import type { ScsiTransport, TransportResult } from './transport.js';

export class CommandFailed extends Error {
  override name = 'CommandFailed';
  readonly sense?: SenseInfo;
  constructor(
    readonly what: string,
    readonly result: TransportResult,
  ) {
    let sense: SenseInfo | undefined;
    try {
      sense = result.sense?.length ? decodeSense(result.sense) : undefined;
    } catch {
      sense = undefined;
    }
    super(`${what}: ${statusName(result.status)}${sense ? ` ${describeSense(sense)}` : ''}`);
    this.sense = sense;
  }
}

export class ScsiClient {
  constructor(readonly transport: ScsiTransport) {}

  /** Sends a command; a UNIT ATTENTION (reset, medium changed) is consumed and the command retried. */
  async exec(what: string, target: string, lun: number, cdb: Buffer, dataInLength = 0, dataOut?: Buffer): Promise<Buffer> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.transport.command(target, lun, cdb, { dataInLength, ...(dataOut ? { dataOut } : {}) });
      if (r.status === ScsiStatus.GOOD) return r.dataIn;
      const f = new CommandFailed(what, r);
      if (f.sense?.key === SenseKey.UNIT_ATTENTION && attempt < 4) continue;
      throw f;
    }
  }

  /** exec of a built CDB: the data-in length comes with it. */
  request(what: string, target: string, lun: number, r: CdbRequest, dataOut?: Buffer): Promise<Buffer> {
    return this.exec(what, target, lun, r.cdb, r.direction === 'in' ? r.length : 0, dataOut);
  }

  /** Like exec but returns the raw result (callers that expect CHECK CONDITION as an answer). */
  raw(target: string, lun: number, cdb: Buffer, dataInLength = 0, dataOut?: Buffer): Promise<TransportResult> {
    return this.transport.command(target, lun, cdb, { dataInLength, ...(dataOut ? { dataOut } : {}) });
  }

  async reportLuns(target: string): Promise<number[]> {
    const d = await this.exec('REPORT LUNS', target, 0, encodeReportLunsCdb({ selectReport: 0, allocationLength: 4096 }), 4096);
    return decodeReportLunsData(d).luns;
  }

  async inquiry(target: string, lun: number): Promise<StandardInquiry> {
    return decodeStandardInquiry(await this.exec('INQUIRY', target, lun, encodeInquiryCdb({ evpd: false, pageCode: 0, allocationLength: 96 }), 96));
  }

  async vpd(target: string, lun: number, page: number): Promise<Buffer> {
    return this.exec(`INQUIRY VPD ${hexByte(page, true)}h`, target, lun, encodeInquiryCdb({ evpd: true, pageCode: page, allocationLength: 4096 }), 4096);
  }

  async deviceIds(target: string, lun: number): Promise<Designator[]> {
    return decodeDeviceIdPage(await this.vpd(target, lun, 0x83));
  }

  async thirdPartyCopyVpd(target: string, lun: number): Promise<ThirdPartyCopyVpd> {
    return decodeThirdPartyCopyVpd(await this.vpd(target, lun, TPC_VPD_PAGE));
  }

  async readCapacity(target: string, lun: number): Promise<{ blocks: number; blockSize: number }> {
    const d = decodeReadCapacity16(await this.exec('READ CAPACITY(16)', target, lun, encodeReadCapacity16Cdb({ allocationLength: 32 }), 32));
    return { blocks: d.lastLba + 1, blockSize: d.blockLength };
  }

  async read(target: string, lun: number, lba: number, blocks: number, blockSize: number): Promise<Buffer> {
    return this.request('READ(16)', target, lun, read16(lba, blocks, blockSize));
  }

  async write(target: string, lun: number, lba: number, data: Buffer, blockSize: number): Promise<void> {
    await this.request('WRITE(16)', target, lun, write16(lba, data.length / blockSize, blockSize), data);
  }

  async testUnitReady(target: string, lun: number): Promise<TransportResult> {
    return this.raw(target, lun, Buffer.alloc(6));
  }

  // ---- tape ----
  async load(target: string, lun: number): Promise<void> {
    await this.exec('LOAD', target, lun, encodeLoadUnload({ load: true }));
  }

  async rewind(target: string, lun: number): Promise<void> {
    await this.exec('REWIND', target, lun, encodeRewind());
  }

  async locate(target: string, lun: number, objectId: number): Promise<void> {
    await this.exec('LOCATE(10)', target, lun, encodeLocate10({ logicalId: objectId }));
  }

  async spaceToEod(target: string, lun: number): Promise<void> {
    await this.exec('SPACE(6) EOD', target, lun, encodeSpace6({ code: SpaceCode.END_OF_DATA, count: 0 }));
  }

  async readPosition(target: string, lun: number): Promise<TapePosition> {
    const d = await this.exec('READ POSITION', target, lun, encodeReadPositionCdb({ serviceAction: ReadPositionForm.LONG, allocationLength: READ_POSITION_LONG_LENGTH }), READ_POSITION_LONG_LENGTH);
    return decodePositionLong(d);
  }

  /** READ(6) variable mode, SILI=1: one record up to `max` bytes. */
  async readRecord(target: string, lun: number, max: number): Promise<TransportResult> {
    const r = readRecord6(max, true);
    return this.raw(target, lun, r.cdb, r.length);
  }

  /**
   * RESERVE(10)/RELEASE(10) (SPC-2): third-party when `thirdPartyWwpn` is given — LONGID with the
   * 8-byte device ID of the port to reserve for (the data mover's initiator port name).
   */
  async reserve10(target: string, lun: number, thirdPartyWwpn?: string, release = false): Promise<void> {
    const what = `${release ? 'RELEASE' : 'RESERVE'}(10)${thirdPartyWwpn ? ' third-party' : ''}`;
    const id = thirdPartyWwpn ? encodeThirdPartyId(wwnBytes(thirdPartyWwpn).toString('hex')) : undefined;
    const cdb = encodeReserve10Cdb({ release, thirdParty: !!id, longId: !!id, thirdPartyId: 0, parameterListLength: id?.length ?? 0 });
    await this.exec(what, target, lun, cdb, 0, id);
  }

  async release10(target: string, lun: number, thirdPartyWwpn?: string): Promise<void> {
    await this.reserve10(target, lun, thirdPartyWwpn, true);
  }

  /** PERSISTENT RESERVE OUT with the basic parameter list. */
  async prOut(target: string, lun: number, serviceAction: number, type: number, reservationKey: bigint, serviceActionKey = 0n): Promise<void> {
    const params = encodePrOutParams({ reservationKey, serviceActionKey });
    await this.exec(`PERSISTENT RESERVE OUT (SA ${serviceAction})`, target, lun, encodePrOutCdb({ serviceAction, scope: LU_SCOPE, type, parameterListLength: params.length }), 0, params);
  }

  // ---- copy manager ----
  async extendedCopy(target: string, lun: number, parameterList: Buffer, signal?: AbortSignal): Promise<TransportResult> {
    return this.transport.command(target, lun, encodeXcopyCdb({ parameterListLength: parameterList.length }), { dataOut: parameterList, ...(signal ? { signal } : {}) });
  }

  async copyStatus(target: string, lun: number, listId: number): Promise<CopyStatus> {
    return decodeCopyStatus(await this.exec('RECEIVE COPY RESULTS (COPY STATUS)', target, lun, encodeRcrCdb({ serviceAction: RcrServiceAction.COPY_STATUS, listId, allocationLength: 12 }), 12));
  }

  async operatingParameters(target: string, lun: number): Promise<OperatingParameters> {
    return decodeOperatingParameters(await this.exec('RECEIVE COPY RESULTS (OPERATING PARAMETERS)', target, lun, encodeRcrCdb({ serviceAction: RcrServiceAction.OPERATING_PARAMETERS, allocationLength: 1024 }), 1024));
  }

  async failedSegmentDetails(target: string, lun: number, listId: number): Promise<FailedSegmentDetails | undefined> {
    return decodeFailedSegmentDetails(await this.exec('RECEIVE COPY RESULTS (FAILED SEGMENT DETAILS)', target, lun, encodeRcrCdb({ serviceAction: RcrServiceAction.FAILED_SEGMENT_DETAILS, listId, allocationLength: 1024 }), 1024));
  }
}

export function wwnBytes(wwn: string): Buffer {
  const hex = wwn.replace(/[^0-9a-fA-F]/g, '');
  if (hex.length !== 16) throw new RangeError(`not a WWN: ${wwn}`);
  return Buffer.from(hex, 'hex');
}
