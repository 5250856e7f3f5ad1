/**
 * REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35, MAINTENANCE IN A3h / 0Ch): the CDB, the
 * all_commands parameter data (command descriptors), the one_command parameter data (support +
 * CDB usage data) and the command timeouts descriptor (RCTD).
 */
import { bit, field, pack, struct, u8, u16, u32 } from './layout.js';
import { SpcOp } from './spc.js';

export const RSOC_SERVICE_ACTION = 0x0c;

export const ReportingOptions = {
  ALL: 0,
  /** One command, by opcode; the opcode must not have service actions. */
  OPCODE: 1,
  /** One command, by opcode + service action; the opcode must have service actions. */
  OPCODE_SA: 2,
  /** One command, by opcode + service action when it has them (SPC-4 r37 and later). */
  OPCODE_SA_OPTIONAL: 3,
} as const;

/** SUPPORT field of the one_command format. */
export const Support = { NOT_AVAILABLE: 0, NOT_SUPPORTED: 1, STANDARD: 3, VENDOR: 5 } as const;

export interface RsocCdb {
  rctd: boolean;
  reportingOptions: number;
  opcode: number;
  serviceAction: number;
  allocationLength: number;
}

interface CdbRaw { opcode: number; sa: number; b2: number; reqOp: number; reqSa: number; alloc: number; r10: number; control: number }
const cdb12 = struct<CdbRaw>([u8('opcode'), u8('sa'), u8('b2'), u8('reqOp'), u16('reqSa'), u32('alloc'), u8('r10'), u8('control')]);

export function decodeRsocCdb(cdb: Buffer): RsocCdb {
  const r = cdb12.decode(cdb);
  return { rctd: bit(r.b2, 7), reportingOptions: field(r.b2, 0, 3), opcode: r.reqOp, serviceAction: r.reqSa, allocationLength: r.alloc };
}

export function encodeRsocCdb(v: RsocCdb): Buffer {
  return cdb12.encode({
    opcode: SpcOp.MAINTENANCE_IN,
    sa: RSOC_SERVICE_ACTION,
    b2: pack([v.rctd, 7], [v.reportingOptions, 0, 3]),
    reqOp: v.opcode,
    reqSa: v.serviceAction,
    alloc: v.allocationLength,
    r10: 0,
    control: 0,
  });
}

/** Command timeouts descriptor: nominal and recommended timeouts in seconds (0 = not specified). */
export interface Timeouts {
  commandSpecific: number;
  nominal: number;
  recommended: number;
}

interface TimeoutsRaw { length: number; r2: number; specific: number; nominal: number; recommended: number }
const timeouts = struct<TimeoutsRaw>([u16('length'), u8('r2'), u8('specific'), u32('nominal'), u32('recommended')]);

export const encodeTimeouts = (t: Timeouts): Buffer =>
  timeouts.encode({ length: 0x0a, r2: 0, specific: t.commandSpecific, nominal: t.nominal, recommended: t.recommended });

export function decodeTimeouts(b: Buffer, offset = 0): Timeouts {
  const r = timeouts.decode(b, offset);
  return { commandSpecific: r.specific, nominal: r.nominal, recommended: r.recommended };
}

export interface CommandDescriptor {
  opcode: number;
  serviceAction?: number;
  cdbLength: number;
  timeouts?: Timeouts;
}

interface DescRaw { opcode: number; r1: number; sa: number; r4: number; flags: number; cdbLength: number }
const desc = struct<DescRaw>([u8('opcode'), u8('r1'), u16('sa'), u8('r4'), u8('flags'), u16('cdbLength')]);

/** all_commands parameter data: COMMAND DATA LENGTH then one descriptor per command (+ timeouts with RCTD). */
export function encodeAllCommands(cmds: readonly CommandDescriptor[], rctd: boolean): Buffer {
  const parts = cmds.map((c) => {
    const d = desc.encode({
      opcode: c.opcode,
      r1: 0,
      sa: c.serviceAction ?? 0,
      r4: 0,
      flags: pack([rctd, 1], [c.serviceAction !== undefined, 0]),
      cdbLength: c.cdbLength,
    });
    return rctd ? Buffer.concat([d, encodeTimeouts(c.timeouts ?? { commandSpecific: 0, nominal: 0, recommended: 0 })]) : d;
  });
  const body = Buffer.concat(parts);
  const h = Buffer.alloc(4);
  h.writeUInt32BE(body.length, 0);
  return Buffer.concat([h, body]);
}

export function decodeAllCommands(b: Buffer): CommandDescriptor[] {
  if (b.length < 4) throw new RangeError('RSOC data shorter than 4 bytes');
  const end = Math.min(b.length, 4 + b.readUInt32BE(0));
  const out: CommandDescriptor[] = [];
  for (let p = 4; p + desc.span <= end; ) {
    const r = desc.decode(b, p);
    const c: CommandDescriptor = { opcode: r.opcode, cdbLength: r.cdbLength };
    if (bit(r.flags, 0)) c.serviceAction = r.sa;
    p += desc.span;
    if (bit(r.flags, 1)) {
      if (p + timeouts.span > end) break;
      c.timeouts = decodeTimeouts(b, p);
      p += timeouts.span;
    }
    out.push(c);
  }
  return out;
}

export interface OneCommand {
  support: number;
  /** CDB usage data: the CDB size is its length (0 when the command is not supported). */
  usage: Buffer;
  timeouts?: Timeouts;
}

export function encodeOneCommand(v: OneCommand): Buffer {
  const h = Buffer.alloc(4);
  h[1] = pack([v.timeouts !== undefined, 7], [v.support, 0, 3]);
  h.writeUInt16BE(v.usage.length, 2);
  return Buffer.concat([h, v.usage, ...(v.timeouts ? [encodeTimeouts(v.timeouts)] : [])]);
}

export function decodeOneCommand(b: Buffer): OneCommand {
  if (b.length < 4) throw new RangeError('RSOC one_command data shorter than 4 bytes');
  const size = b.readUInt16BE(2);
  const v: OneCommand = { support: field(b[1]!, 0, 3), usage: Buffer.from(b.subarray(4, 4 + size)) };
  if (bit(b[1]!, 7) && b.length >= 4 + size + timeouts.span) v.timeouts = decodeTimeouts(b, 4 + size);
  return v;
}
