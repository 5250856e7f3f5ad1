/**
 * Commands every LU type answers the same way (INQUIRY + VPD, REQUEST SENSE, REPORT LUNS,
 * REPORT SUPPORTED OPERATION CODES, RESERVE/RELEASE(6/10), PERSISTENT RESERVE IN/OUT). Device
 * tables spread `commonCommands()` into their own table, so RSOC lists these too.
 */
import { Sense, encodeSense, type SenseInfo } from '../../src/scsi/sense.js';
import {
  Association,
  VersionDescriptor,
  decodeInquiryCdb,
  designators,
  encodeDeviceIdPage,
  encodeExtendedInquiry,
  encodeStandardInquiry,
  encodeSupportedPages,
  encodeUnitSerial,
  labNameDesignator,
  ProtocolId,
  VpdPage,
  type Designator,
} from '../../src/scsi/inquiry.js';
import { checkReportLunsCdb, encodeReportLunsData, selectLuns } from '../../src/scsi/report-luns.js';
import {
  Support,
  ReportingOptions,
  decodeRsocCdb,
  encodeAllCommands,
  encodeOneCommand,
  MAINTENANCE_IN,
  RSOC_SERVICE_ACTION,
  type Timeouts,
} from '../../src/scsi/rsoc.js';
import type { CommandContext, CommandDef, CommandTable, ScsiLogicalUnit } from './logical-unit.js';
import { reservationCommands } from './reservations.js';

export interface CommonCommandOptions {
  /**
   * Include RESERVE/RELEASE(6/10) and PERSISTENT RESERVE IN/OUT (default true). Every dmsim LU
   * type supports reservations; the option exists for tests of LUs that must not.
   */
  reservations?: boolean;
}

const CTRL = 0x00;

/** Timeouts RSOC reports with RCTD: dmsim does not know better than "not specified" + a generous recommendation. */
const DEFAULT_TIMEOUTS: Timeouts = { commandSpecific: 0, nominal: 0, recommended: 60 };

export function commonCommands(opts: CommonCommandOptions = {}): CommandTable {
  const table: CommandDef[] = [
    {
      opcode: 0x12,
      name: 'INQUIRY',
      cdbLength: 6,
      rsv: 'always',
      data: 'in',
      allocation: [3, 2],
      ignoresUnitAttention: true,
      usage: [0xff, 0x01, 0xff, 0xff, 0xff, CTRL],
      handler: inquiry,
    },
    {
      opcode: 0x03,
      name: 'REQUEST SENSE',
      cdbLength: 6,
      rsv: 'always',
      data: 'in',
      allocation: [4, 1],
      ignoresUnitAttention: true,
      usage: [0xff, 0x01, 0x00, 0x00, 0xff, CTRL],
      handler: requestSense,
    },
    {
      opcode: 0xa0,
      name: 'REPORT LUNS',
      cdbLength: 12,
      rsv: 'always',
      data: 'in',
      allocation: [6, 4],
      ignoresUnitAttention: true,
      usage: [0xff, 0x00, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, CTRL],
      // The router answers REPORT LUNS from the initiator's LUN map before the LU sees it; this
      // runs only when an LU is driven directly (tests), where the LU knows just its own LUN.
      handler: (c) => {
        const v = checkReportLunsCdb(c.cdb);
        return encodeReportLunsData(selectLuns([c.task.lun], v.selectReport));
      },
    },
    {
      opcode: MAINTENANCE_IN,
      serviceAction: RSOC_SERVICE_ACTION,
      name: 'REPORT SUPPORTED OPERATION CODES',
      cdbLength: 12,
      rsv: 'always',
      data: 'in',
      allocation: [6, 4],
      usage: [0xff, 0x1f, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, CTRL],
      handler: rsoc,
    },
  ];
  if (opts.reservations ?? true) table.push(...reservationCommands());
  return table;
}

// ------------------------------------------------------------------ INQUIRY

function versionDescriptors(deviceType: number): number[] {
  const family = deviceType === 0x00 ? [VersionDescriptor.SBC3] : deviceType === 0x01 ? [VersionDescriptor.SSC3] : [];
  return [VersionDescriptor.SAM5, VersionDescriptor.SPC4, ...family, VersionDescriptor.FCP4, VersionDescriptor.ISCSI];
}

function wwnBytes(hex: string): Buffer {
  return Buffer.from(hex, 'hex');
}

function vpdPages(lu: ScsiLogicalUnit, ctx: CommandContext): Map<number, () => Buffer> {
  const id = lu.identity;
  const t = id.deviceType;
  const pages = new Map<number, () => Buffer>([
    [VpdPage.UNIT_SERIAL, () => encodeUnitSerial(t, id.serial)],
    [VpdPage.DEVICE_ID, () => encodeDeviceIdPage(t, deviceIdDesignators(lu, ctx))],
    [VpdPage.EXTENDED_INQUIRY, () => encodeExtendedInquiry(t, { simpsup: true, luiclr: true })],
  ]);
  for (const [code, page] of lu.extraVpdPages()) pages.set(code, page);
  pages.set(VpdPage.SUPPORTED, () => encodeSupportedPages(t, [VpdPage.SUPPORTED, ...pages.keys()]));
  return pages;
}

function deviceIdDesignators(lu: ScsiLogicalUnit, ctx: CommandContext): Designator[] {
  const id = lu.identity;
  const ds: Designator[] = [designators.luNaa(id.naa), designators.t10VendorId(id.vendor, `${id.product.trim()} ${id.serial}`)];
  // The lab's name for the LU, so initiators over iSCSI can use it (src/scsi/inquiry.ts labNameDesignator).
  if (id.name) ds.push(labNameDesignator(id.name));
  const port = ctx.task.port;
  if (port) {
    ds.push(designators.relativeTargetPort(port.relativeId, ProtocolId.FC));
    ds.push(designators.wwnNaa(wwnBytes(port.wwpn), Association.TARGET_PORT));
    if (port.deviceName) ds.push(designators.wwnNaa(wwnBytes(port.deviceName), Association.TARGET_DEVICE));
  }
  return ds;
}

function inquiry(ctx: CommandContext): Buffer {
  const { lu } = ctx;
  const v = decodeInquiryCdb(ctx.cdb);
  if (!v.evpd) {
    if (v.pageCode !== 0) throw Sense.invalidFieldInCdb(2);
    const f = lu.inquiryFlags();
    return encodeStandardInquiry({
      deviceType: lu.identity.deviceType,
      rmb: !!f.rmb,
      threePC: !!f.threePC,
      protect: !!f.protect,
      cmdque: true,
      hisup: true,
      vendor: lu.identity.vendor,
      product: lu.identity.product,
      revision: lu.identity.revision,
      versionDescriptors: versionDescriptors(lu.identity.deviceType),
    });
  }
  const page = vpdPages(lu, ctx).get(v.pageCode);
  if (!page) throw Sense.invalidFieldInCdb(2);
  return page();
}

// ------------------------------------------------------------------ REQUEST SENSE

function requestSense(ctx: CommandContext): Buffer {
  const desc = (ctx.cdb[1]! & 0x01) !== 0;
  const s: SenseInfo = ctx.lu.takeSense(ctx.nexus) ?? { key: 0, asc: 0, ascq: 0 };
  return encodeSense(s, desc);
}

// ------------------------------------------------------------------ REPORT SUPPORTED OPERATION CODES

/** CDB usage data of a command: its mask, with the service action value in byte 1 (SPC-4 §6.35.3). */
function usageOf(d: CommandDef): Buffer {
  const u = Buffer.from(d.usage ?? [0xff, ...new Array<number>(d.cdbLength - 1).fill(0xff)]).subarray(0, d.cdbLength);
  const out = Buffer.alloc(d.cdbLength);
  u.copy(out);
  out[0] = d.opcode;
  if (d.serviceAction !== undefined) out[1] = (out[1]! & 0xe0) | d.serviceAction;
  return out;
}

function rsoc(ctx: CommandContext): Buffer {
  const v = decodeRsocCdb(ctx.cdb);
  const cmds = ctx.lu.commands;
  const hasSa = (op: number) => cmds.some((c) => c.opcode === op && c.serviceAction !== undefined);
  const timeouts = v.rctd ? DEFAULT_TIMEOUTS : undefined;
  switch (v.reportingOptions) {
    case ReportingOptions.ALL:
      return encodeAllCommands(
        cmds.map((c) => ({ opcode: c.opcode, cdbLength: c.cdbLength, ...(c.serviceAction !== undefined ? { serviceAction: c.serviceAction } : {}), timeouts: DEFAULT_TIMEOUTS })),
        v.rctd,
      );
    case ReportingOptions.OPCODE:
    case ReportingOptions.OPCODE_SA:
    case ReportingOptions.OPCODE_SA_OPTIONAL: {
      const sa = hasSa(v.opcode);
      if (v.reportingOptions === ReportingOptions.OPCODE && sa) throw Sense.invalidFieldInCdb(2);
      if (v.reportingOptions === ReportingOptions.OPCODE_SA && !sa && cmds.some((c) => c.opcode === v.opcode)) throw Sense.invalidFieldInCdb(2);
      const d = cmds.find((c) => c.opcode === v.opcode && (sa ? c.serviceAction === v.serviceAction : true));
      if (!d) return encodeOneCommand({ support: Support.NOT_SUPPORTED, usage: Buffer.alloc(0), ...(timeouts ? { timeouts } : {}) });
      return encodeOneCommand({ support: Support.STANDARD, usage: usageOf(d), ...(timeouts ? { timeouts } : {}) });
    }
    default:
      throw Sense.invalidFieldInCdb(2, 2);
  }
}
