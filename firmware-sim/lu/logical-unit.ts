/**
 * Base of every emulated logical unit: a command table keyed by opcode (and service action),
 * unit attention queues per I_T nexus, the reservation gate, and sense encoding in the format the
 * LU's D_SENSE bit selects. Device modules only write handlers; the order of checks (opcode, CDB,
 * unit attention, reservation, handler) lives here once, as SAM/SPC order it.
 */
import { ScsiStatus } from '../../src/scsi/status.js';
import { encodeSense, Sense, ScsiError, ScsiStatusError, SenseKey, UA, type SenseInfo } from '../../src/scsi/sense.js';
import type { ITNexus, LogicalUnit, LuAttachment, LuIdentity, ResetKind, ScsiResult, ScsiTask, UnitAttentionScope } from '../router/task.js';

/**
 * How a command is treated under reservations (SPC-2 RESERVE and SPC-4 persistent reservations).
 * - always:  never conflicts (INQUIRY, REPORT LUNS, REQUEST SENSE, REPORT SUPPORTED OPCODES...)
 * - read:    reads medium data; allowed for non-holders under Write Exclusive PR types
 * - write:   changes medium data
 * - other:   conflicts like a write (MODE SELECT, TUR under SPC-2 RESERVE, tape motion...)
 * - reserve / release / pr-in / pr-out: the reservation commands themselves, with their own rules
 */
export type RsvClass = 'always' | 'read' | 'write' | 'other' | 'reserve' | 'release' | 'pr-in' | 'pr-out';

export interface CommandContext<L extends ScsiLogicalUnit = ScsiLogicalUnit> {
  lu: L;
  task: ScsiTask;
  cdb: Buffer;
  nexus: ITNexus;
  signal?: AbortSignal;
  /**
   * A data-out command states how many bytes its CDB asks for (its SPDTL) and takes what arrived
   * of them: at most `bytes`, fewer when the initiator sent less. The length reaches the router
   * (ScsiTask.reportTransferLength), whose result carries it, so the transport can report a
   * residual against what the initiator expected.
   */
  takeDataOut(bytes: number): Buffer;
}

const NO_DATA = Buffer.alloc(0);

/** Where a command's data goes (CTL's CTL_FLAG_DATA_IN / _OUT / _NONE). */
export type DataDirection = 'none' | 'in' | 'out';

/** CommandContext whose `signal` is only built when a handler reads it (see router/task-abort.ts). */
class Context implements CommandContext {
  /** Bytes of data-out the command asked for, once the handler said (takeDataOut). */
  spdtl: number | undefined;

  constructor(
    readonly lu: ScsiLogicalUnit,
    readonly task: ScsiTask,
    readonly cdb: Buffer,
    readonly nexus: ITNexus,
  ) {}

  get signal(): AbortSignal | undefined {
    return this.task.signal;
  }

  takeDataOut(bytes: number): Buffer {
    this.spdtl = bytes;
    const d = this.task.dataOut;
    if (!d) return NO_DATA;
    return d.length <= bytes ? d : d.subarray(0, bytes);
  }
}

export type HandlerOutput = Buffer | undefined | void | ScsiResult;

export interface CommandDef<L extends ScsiLogicalUnit = ScsiLogicalUnit> {
  opcode: number;
  /** Service action in CDB byte 1 bits 4..0 (e.g. 9Eh/10h READ CAPACITY(16)). */
  serviceAction?: number;
  name: string;
  cdbLength: number;
  rsv: RsvClass;
  /**
   * Direction of the command's data. Every dmsim table states it; left out (LUs built by tests)
   * the command moves whatever its handler returns or takes.
   */
  data?: DataDirection;
  /**
   * A data-in command's ALLOCATION LENGTH field, [byte offset, size in bytes]: the base cuts the
   * handler's data to it, so the data-in's length is what the command transfers (its SPDTL).
   */
  allocation?: readonly [number, number];
  /** Commands that run even with a unit attention pending (SAM-5 / SPC-4 §5.8.7 list). */
  ignoresUnitAttention?: boolean;
  /**
   * CDB usage data for REPORT SUPPORTED OPERATION CODES: one mask byte per CDB byte, 1 bits = bits
   * the device looks at. Byte 0 is the opcode (FFh). Bits the device sets 0 in the mask are reserved:
   * the base rejects a CDB with any of them set with INVALID FIELD IN CDB pointing at it.
   */
  usage?: number[];
  /** Runs once when an LU's table is built: a command set installs its per-LU state (the reservation commands their gate). */
  setup?(lu: ScsiLogicalUnit): void;
  handler(ctx: CommandContext<L>): Promise<HandlerOutput> | HandlerOutput;
}

export type CommandTable<L extends ScsiLogicalUnit = ScsiLogicalUnit> = ReadonlyArray<CommandDef<L>>;

/** Commands carrying a service action in byte 1 (SPC-4 and SBC-3). */
export const SERVICE_ACTION_OPCODES: ReadonlySet<number> = new Set([0x5e, 0x5f, 0x83, 0x84, 0x9e, 0x9f, 0xa3, 0xa4, 0x7f]);

export interface ReservationGate {
  /** Throws ScsiStatusError(RESERVATION CONFLICT) when `def` may not run for `nexus` now. */
  check(nexus: ITNexus, def: CommandDef, cdb: Buffer): void;
  /** The LU was attached to a target device (APTPL state, PREEMPT AND ABORT, REGISTER AND MOVE). */
  attached?(to: LuAttachment): void;
  /** LU reset / target reset: SPC-2 reservations end, persistent ones survive. */
  onLuReset?(): void;
  /** I_T nexus loss: the SPC-2 reservation that nexus holds ends. */
  onNexusLost?(nexus: ITNexus): void;
}

/** The unit attention each reset establishes (SAM-5 §6.3), and back. */
const RESET_UA: Readonly<Record<ResetKind, readonly [number, number]>> = { 'lu-reset': UA.BUS_DEVICE_RESET, 'hard-reset': UA.RESET, 'power-on': UA.POWER_ON };
const resetKindOf = (ua: readonly [number, number]): ResetKind | undefined =>
  (Object.keys(RESET_UA) as ResetKind[]).find((k) => RESET_UA[k][0] === ua[0] && RESET_UA[k][1] === ua[1]);

const openGate: ReservationGate = { check() {} };

export abstract class ScsiLogicalUnit implements LogicalUnit {
  /** Descriptor-format sense (control mode page D_SENSE). */
  dSense = false;
  reservations: ReservationGate = openGate;
  private readonly byKey = new Map<number, CommandDef>();
  private readonly saOpcodes = new Set<number>();
  private readonly pendingUA = new Map<string, Array<readonly [number, number]>>();
  private readonly seenNexus = new Set<string>();
  private readonly lastSense = new Map<string, SenseInfo>();

  /** Standard INQUIRY flags the device type sets (RMB for removable tape, 3PC for copy managers). */
  inquiryFlags(): { rmb?: boolean; threePC?: boolean; protect?: boolean } {
    return {};
  }

  /** Device-specific VPD pages (B0h for disk, 8Fh from the copy manager...), beside 00h/80h/83h/86h. */
  extraVpdPages(): Map<number, () => Buffer> {
    return new Map();
  }

  /** Opcode table is built by the subclass; `extra` lets the lab add e.g. copy manager commands. */
  protected constructor(
    readonly identity: LuIdentity,
    table: CommandTable<never>,
  ) {
    for (const d of table as unknown as CommandTable) {
      const k = ScsiLogicalUnit.key(d.opcode, d.serviceAction);
      if (this.byKey.has(k)) throw new Error(`${identity.name}: duplicate command ${d.name}`);
      this.byKey.set(k, d);
      if (d.serviceAction !== undefined) this.saOpcodes.add(d.opcode);
    }
    for (const d of this.byKey.values()) d.setup?.(this);
  }

  private static key(op: number, sa?: number) {
    return (op << 8) | (sa ?? 0xff);
  }

  /** The command table, in opcode order: the truth for REPORT SUPPORTED OPERATION CODES. */
  get commands(): CommandDef[] {
    return [...this.byKey.values()].sort((a, b) => a.opcode - b.opcode || (a.serviceAction ?? 0) - (b.serviceAction ?? 0));
  }

  lookup(opcode: number, serviceAction?: number): CommandDef | undefined {
    return this.byKey.get(ScsiLogicalUnit.key(opcode, this.saOpcodes.has(opcode) ? serviceAction : undefined));
  }

  /**
   * Queue a unit attention for every nexus (optionally except one), or only for one. A reset's
   * unit attention for every nexus is that reset (the UA is how SAM-5 makes a reset visible).
   */
  queueUnitAttention(ua: readonly [number, number], opts: UnitAttentionScope = {}): void {
    const kind = opts.only || opts.except ? undefined : resetKindOf(ua);
    if (kind) this.reset(kind);
    else this.enqueueUnitAttention(ua, opts);
  }

  private enqueueUnitAttention(ua: readonly [number, number], opts: UnitAttentionScope): void {
    const targets = opts.only ? [opts.only] : [...this.seenNexus].filter((k) => k !== opts.except);
    for (const k of targets) {
      const q = this.pendingUA.get(k) ?? [];
      if (!q.some(([a, b]) => a === ua[0] && b === ua[1])) q.push(ua);
      this.pendingUA.set(k, q);
    }
  }

  /** Drop one pending unit attention of a nexus (REPORT LUNS clears 3Fh/0Eh, SPC-4 §6.33). */
  clearUnitAttention(nexusKey: string, ua: readonly [number, number]): void {
    const q = this.pendingUA.get(nexusKey);
    if (!q) return;
    const i = q.findIndex(([a, b]) => a === ua[0] && b === ua[1]);
    if (i >= 0) q.splice(i, 1);
  }

  /**
   * Take the unit attention to report now: SAM-5 §5.14 reports the one of highest precedence
   * first (power on / resets, then I_T nexus loss, then the rest), oldest first within a class.
   */
  private nextUnitAttention(nexusKey: string): readonly [number, number] | undefined {
    const q = this.pendingUA.get(nexusKey);
    if (!q || q.length === 0) return undefined;
    let best = 0;
    for (let i = 1; i < q.length; i++) if (uaPrecedence(q[i]!) < uaPrecedence(q[best]!)) best = i;
    return q.splice(best, 1)[0];
  }

  attached(to: LuAttachment): void {
    this.reservations.attached?.(to);
  }

  /**
   * LOGICAL UNIT RESET, hard reset or power on (the router has aborted the tasks): SPC-2
   * reservations end, the device drops its own volatile state (onReset), and every nexus gets
   * the reset's unit attention.
   */
  reset(kind: ResetKind = 'lu-reset'): void {
    this.reservations.onLuReset?.();
    this.onReset(kind);
    this.enqueueUnitAttention(RESET_UA[kind], {});
  }

  /** What a reset clears in the device itself (PREVENT, copies...); nothing in the base. */
  protected onReset(_kind: ResetKind): void {}

  /** Forget per-nexus state when an I_T nexus ends (transport logout / connection loss). */
  nexusLost(nexus: ITNexus): void {
    this.reservations.onNexusLost?.(nexus);
    this.lastSense.delete(nexus.key);
  }

  /** Sense kept for REQUEST SENSE (SPC-4: the sense of the last CHECK CONDITION is not kept, but a pending UA is reported). */
  takeSense(nexus: ITNexus): SenseInfo | undefined {
    const ua = this.nextUnitAttention(nexus.key);
    if (ua) return { key: SenseKey.UNIT_ATTENTION, asc: ua[0], ascq: ua[1] };
    const s = this.lastSense.get(nexus.key);
    this.lastSense.delete(nexus.key);
    return s;
  }

  encodeSense(s: SenseInfo): Buffer {
    return encodeSense(s, this.dSense);
  }

  checkCondition(s: SenseInfo): ScsiResult {
    return { status: ScsiStatus.CHECK_CONDITION, sense: this.encodeSense(s) };
  }

  async execute(task: ScsiTask): Promise<ScsiResult> {
    const { cdb, nexus } = task;
    if (!this.seenNexus.has(nexus.key)) {
      this.seenNexus.add(nexus.key);
      // First contact of an I_T nexus: SAM-5 lets the generic 29h/00h POWER ON, RESET, OR BUS
      // DEVICE RESET OCCURRED stand for the power-on condition, and that is the one initiators
      // retry on (libiscsi's iscsi-ls re-sends TEST UNIT READY only for 29h/00h, as tgt reports).
      if (!this.pendingUA.has(nexus.key)) this.pendingUA.set(nexus.key, [UA.RESET]);
    }
    let ctx: Context | undefined;
    try {
      if (cdb.length < 1) throw Sense.invalidOpcode();
      const opcode = cdb[0]!;
      const sa = this.saOpcodes.has(opcode) ? cdb[1]! & 0x1f : undefined;
      const def = this.lookup(opcode, sa);
      if (!def) {
        if (sa !== undefined) throw Sense.invalidFieldInCdb(1, 4);
        throw Sense.invalidOpcode();
      }
      if (cdb.length < def.cdbLength) throw Sense.invalidFieldInCdb(0);
      if (!def.ignoresUnitAttention) {
        const ua = this.nextUnitAttention(nexus.key);
        if (ua) throw new ScsiError({ key: SenseKey.UNIT_ATTENTION, asc: ua[0], ascq: ua[1] });
      }
      this.reservations.check(nexus, def, cdb);
      if (def.usage) checkReservedBits(cdb, def.usage, def.cdbLength);
      if (task.aborter) task.aborter.throwIfAborted();
      else task.signal?.throwIfAborted();
      ctx = new Context(this, task, cdb, nexus);
      const out = await def.handler(ctx);
      const r: ScsiResult = out === undefined ? { status: ScsiStatus.GOOD } : Buffer.isBuffer(out) ? { status: ScsiStatus.GOOD, dataIn: out } : out;
      if (def.allocation && r.dataIn) {
        const alloc = readField(cdb, def.allocation);
        if (r.dataIn.length > alloc) r.dataIn = r.dataIn.subarray(0, alloc);
      }
      if (ctx.spdtl !== undefined) task.reportTransferLength?.(ctx.spdtl);
      return r;
    } catch (e) {
      if (ctx?.spdtl !== undefined) task.reportTransferLength?.(ctx.spdtl);
      return this.resultOf(e, nexus);
    }
  }

  /** Map a thrown error to a result: sense errors become CHECK CONDITION, anything else HARDWARE ERROR. */
  resultOf(e: unknown, nexus?: ITNexus): ScsiResult {
    if (e instanceof ScsiError) {
      if (nexus) this.lastSense.set(nexus.key, e.sense);
      return { status: e.status, sense: this.encodeSense(e.sense) };
    }
    if (e instanceof ScsiStatusError) return { status: e.status };
    if (e instanceof Error && e.name === 'AbortError') return { status: ScsiStatus.TASK_ABORTED };
    this.onInternalError(e);
    return this.checkCondition({ key: SenseKey.HARDWARE_ERROR, asc: 0x44, ascq: 0x00 });
  }

  /** Hook for logging unexpected errors; the base only keeps the answer standard. */
  protected onInternalError(e: unknown): void {
    process.emitWarning(`${this.identity.name}: internal error: ${e instanceof Error ? e.stack : String(e)}`);
  }
}

/** SAM-5 §5.14 precedence classes: 0 power on and resets (29h except 07h), 1 I_T nexus loss, 2 the rest. */
function uaPrecedence([asc, ascq]: readonly [number, number]): number {
  if (asc !== 0x29) return 2;
  return ascq === 0x07 ? 1 : 0;
}

/** An unsigned big-endian CDB field, [offset, size] (ALLOCATION LENGTH: 1 to 4 bytes). */
function readField(cdb: Buffer, [off, size]: readonly [number, number]): number {
  let v = 0;
  for (let i = 0; i < size; i++) v = v * 256 + (cdb[off + i] ?? 0);
  return v;
}

/** Reject a CDB with a bit set outside its usage mask (control byte included), pointing at it. */
export function checkReservedBits(cdb: Buffer, usage: readonly number[], len: number): void {
  for (let i = 1; i < Math.min(len, usage.length); i++) {
    const bad = cdb[i]! & ~usage[i]! & 0xff;
    if (bad) throw Sense.invalidFieldInCdb(i, 31 - Math.clz32(bad));
  }
}
