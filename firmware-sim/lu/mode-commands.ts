/**
 * The MODE SENSE(6/10) and MODE SELECT(6/10) command set every dmsim LU type with mode pages
 * answers: one set of table entries (CDB masks, allocation length, data direction) and one CDB
 * decode; each device supplies only what is its own (its pages, header byte, block descriptors and
 * what a MODE SELECT may change) through the two callbacks. The wire formats are in src/scsi/mode.ts.
 */
import { decodeModeSelect, decodeModeSense, modeUsage, type ModeSelectCdb, type ModeSenseCdb } from '../../src/scsi/mode.js';
import { SpcOp } from '../../src/scsi/spc.js';
import type { CommandContext, CommandDef, HandlerOutput, RsvClass, ScsiLogicalUnit } from './logical-unit.js';

export interface ModeCommandSet<L extends ScsiLogicalUnit> {
  /** Reservation class of MODE SENSE: 'read' on disk and tape, 'always' on a changer (smc.md). */
  senseRsv: RsvClass;
  sense(ctx: CommandContext<L>, cdb: ModeSenseCdb): HandlerOutput | Promise<HandlerOutput>;
  select(ctx: CommandContext<L>, cdb: ModeSelectCdb): HandlerOutput | Promise<HandlerOutput>;
}

export function modeCommands<L extends ScsiLogicalUnit>(set: ModeCommandSet<L>): CommandDef<L>[] {
  const sense = (ctx: CommandContext<L>) => set.sense(ctx, decodeModeSense(ctx.cdb));
  const select = (ctx: CommandContext<L>) => set.select(ctx, decodeModeSelect(ctx.cdb));
  const rsv = set.senseRsv;
  return [
    { opcode: SpcOp.MODE_SENSE_6, name: 'MODE SENSE(6)', cdbLength: 6, rsv, data: 'in', allocation: [4, 1], usage: [...modeUsage.sense6], handler: sense },
    { opcode: SpcOp.MODE_SENSE_10, name: 'MODE SENSE(10)', cdbLength: 10, rsv, data: 'in', allocation: [7, 2], usage: [...modeUsage.sense10], handler: sense },
    { opcode: SpcOp.MODE_SELECT_6, name: 'MODE SELECT(6)', cdbLength: 6, rsv: 'other', data: 'out', usage: [...modeUsage.select6], handler: select },
    { opcode: SpcOp.MODE_SELECT_10, name: 'MODE SELECT(10)', cdbLength: 10, rsv: 'other', data: 'out', usage: [...modeUsage.select10], handler: select },
  ];
}
