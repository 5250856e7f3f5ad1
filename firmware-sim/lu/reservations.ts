/**
 * Reservations of one LU: SPC-2 RESERVE/RELEASE (including third-party reservations, held by the
 * third party's initiator port) and SPC-4 persistent reservations (registrations per I_T nexus or
 * per initiator port with ALL_TG_PT, the six reservation types, APTPL state in a JSON file).
 * `Reservations` is the LU's ReservationGate: it decides RESERVATION CONFLICT for every command by
 * the command's rsv class (logical-unit.ts) the way SPC-4's per-command tables do.
 *
 * SPC-2 reservations are keyed on the initiator port (not the I_T nexus): a third-party RESERVE
 * names the data mover by its port name, and the data mover may reach the LU through any target
 * port. Persistent reservations key on the I_T nexus as SPC-4 says (initiator port + iSCSI
 * initiator name/ISID + target port, or initiator port alone with ALL_TG_PT).
 */
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { Sense, ScsiError, SenseKey, UA } from '../../src/scsi/sense.js';
import {
  decodePrInCdb,
  decodePrOutCdb,
  decodePrOutParams,
  decodeRegisterAndMoveParams,
  decodeReserve10Cdb,
  decodeTransportId,
  encodeReadFullStatus,
  encodeReadKeys,
  encodeReadReservation,
  encodeReportCapabilities,
  encodeTransportId,
  isAllRegistrants,
  isRegistrantsOnly,
  LU_SCOPE,
  PR_IN,
  PR_OUT,
  PR_OUT_BASIC_LENGTH,
  PR_OUT_FLAGS_BYTE,
  PR_TYPES,
  PrIn,
  PrOut,
  PrType,
  REGISTER_AND_MOVE_HEADER,
  RELEASE_6,
  RELEASE_10,
  RESERVE_6,
  RESERVE_10,
  type PrOutParams,
  type RegisterAndMoveParams,
  type TransportId,
} from '../../src/scsi/persistent-reservations.js';
import type { CommandContext, CommandDef, ReservationGate, ScsiLogicalUnit } from './logical-unit.js';
import { makeNexus, type ITNexus, type LuAttachment } from '../router/task.js';

interface Registration {
  initiatorPort: string;
  initiatorName?: string;
  /** null: registered with ALL_TG_PT=1, valid through every target port. */
  targetPort: string | null;
  relativeId: number;
  key: bigint;
}

interface Persistent {
  type: number;
  scope: number;
  /** The holder; undefined for all-registrants types, where every registrant holds it. */
  holder?: Registration;
}

/**
 * An SPC-2 reservation belongs to the I_T nexus that sent the RESERVE (SAM: iSCSI initiator name
 * + ISID and target port, not the initiator's WWPN alone). A third-party RESERVE names the third
 * party by its initiator port only (LONGID: an 8-byte port name), so any nexus of that port holds it.
 */
interface Spc2 {
  /** Initiator port of the holder: the sender's, or the third party's. */
  port: string;
  /** The holding I_T nexus key; absent for a third-party reservation (held by `port`). */
  nexus?: string;
  /** I_T nexus key that sent the RESERVE (only it may release a third-party reservation by name). */
  by: string;
}

const holdsSpc2 = (s: Spc2, n: ITNexus): boolean => (s.nexus === undefined ? s.port === n.initiatorPort : s.nexus === n.key);

export interface ReservationOptions {
  /** Where APTPL state lives (a JSON file next to the LU's media); without it APTPL is not offered. */
  aptplPath?: string;
}

/** JSON stored for APTPL (keys as hex: JSON has no 64-bit integers). */
interface SavedState {
  version: 1;
  generation: number;
  registrations: Array<Omit<Registration, 'key'> & { key: string }>;
  reservation?: { type: number; scope: number; holder: number | null };
}

const conflict = () => Sense.reservationConflict();
const invalidRelease = () => new ScsiError({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x26, ascq: 0x04 });

export class Reservations implements ReservationGate {
  generation = 0;
  aptpl = false;
  private regs: Registration[] = [];
  private pr: Persistent | undefined;
  private spc2: Spc2 | undefined;
  private readonly seen = new Map<string, ITNexus>();
  /** Set by the router: abort the tasks of these nexuses (PREEMPT AND ABORT). */
  abortTasksOf: ((nexusKeys: string[]) => void) | undefined;
  /** Set by the router: target port WWPN of a RELATIVE TARGET PORT IDENTIFIER (REGISTER AND MOVE). */
  targetPortOf: ((relativeId: number) => string | undefined) | undefined;

  constructor(
    private readonly lu: ScsiLogicalUnit,
    private opts: ReservationOptions = {},
  ) {
    if (opts.aptplPath && existsSync(opts.aptplPath)) this.load(opts.aptplPath);
  }

  /** Attached to a target device: its task aborts and port names, and the APTPL file (loaded now). */
  attached(to: LuAttachment): void {
    this.abortTasksOf = (keys) => to.abortTasksOf(keys, 'PREEMPT AND ABORT');
    this.targetPortOf = (rel) => to.targetPortOf(rel);
    if (to.aptplPath && to.aptplPath !== this.opts.aptplPath) {
      this.opts = { aptplPath: to.aptplPath };
      if (existsSync(to.aptplPath)) this.load(to.aptplPath);
    }
  }

  // ------------------------------------------------------------------ views

  get spc2Holder(): string | undefined {
    return this.spc2?.port;
  }

  get registrations(): ReadonlyArray<Readonly<Registration>> {
    return this.regs;
  }

  get reservation(): Readonly<{ type: number; scope: number; key: bigint }> | undefined {
    const p = this.pr;
    return p && { type: p.type, scope: p.scope, key: p.holder?.key ?? 0n };
  }

  private matches(r: Registration, n: ITNexus): boolean {
    return r.initiatorPort === n.initiatorPort && (r.initiatorName ?? '') === (n.initiatorName ?? '') && (r.targetPort === null || r.targetPort === n.targetPort);
  }

  private registrationOf(n: ITNexus): Registration | undefined {
    return this.regs.find((r) => this.matches(r, n));
  }

  private isHolder(n: ITNexus): boolean {
    const p = this.pr;
    if (!p) return false;
    if (!p.holder) return !!this.registrationOf(n);
    return this.matches(p.holder, n);
  }

  /** Queue a UA for every nexus seen that one of these registrations covers, except `except`. */
  private notify(regs: Registration[], ua: readonly [number, number], except?: ITNexus): string[] {
    const keys: string[] = [];
    for (const n of this.seen.values()) {
      if (n.key === except?.key || !regs.some((r) => this.matches(r, n))) continue;
      this.lu.queueUnitAttention(ua, { only: n.key });
      keys.push(n.key);
    }
    return keys;
  }

  // ------------------------------------------------------------------ ReservationGate

  check(nexus: ITNexus, def: CommandDef): void {
    this.seen.set(nexus.key, nexus);
    const c = def.rsv;
    if (c === 'always') return;
    if (this.spc2) {
      // SPC-4 §5.9.1 (SPC-2 reservations): PR commands conflict from every nexus while a RESERVE holds;
      // RELEASE from a non-holder is a no-op that completes with GOOD.
      if (c === 'pr-in' || c === 'pr-out') throw conflict();
      if (c === 'release' || holdsSpc2(this.spc2, nexus)) return;
      throw conflict();
    }
    // CRH=0 (REPORT CAPABILITIES): as SPC-3 §5.6.3 has it, while any I_T nexus is registered every
    // RESERVE and RELEASE conflicts, whoever sends it.
    if ((c === 'reserve' || c === 'release') && (this.pr || this.regs.length)) throw conflict();
    const p = this.pr;
    if (!p) return;
    if (c === 'pr-in' || c === 'pr-out' || this.isHolder(nexus)) return;
    // TEST UNIT READY is allowed under every persistent reservation type (SPC-4 Table 66).
    if (def.opcode === 0x00) return;
    const registered = !!this.registrationOf(nexus);
    const writes = c !== 'read';
    switch (p.type) {
      case PrType.WRITE_EXCLUSIVE:
        if (writes) throw conflict();
        return;
      case PrType.EXCLUSIVE_ACCESS:
        throw conflict();
      case PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY:
      case PrType.WRITE_EXCLUSIVE_ALL_REGISTRANTS:
        if (writes && !registered) throw conflict();
        return;
      default:
        if (!registered) throw conflict();
    }
  }

  // ------------------------------------------------------------------ resets (router hooks)

  /** LU reset / target reset: SPC-2 reservations end; persistent ones survive. */
  onLuReset(): void {
    this.spc2 = undefined;
  }

  /** I_T nexus loss releases the SPC-2 reservation that nexus holds (a third party's: any nexus of its port). */
  onNexusLost(nexus: ITNexus): void {
    if (this.spc2 && holdsSpc2(this.spc2, nexus)) this.spc2 = undefined;
    this.seen.delete(nexus.key);
  }

  // ------------------------------------------------------------------ SPC-2

  reserve(nexus: ITNexus, thirdParty?: string): void {
    // check() has already refused a RESERVE while another port holds one or a PR is present.
    this.spc2 = thirdParty === undefined ? { port: nexus.initiatorPort, nexus: nexus.key, by: nexus.key } : { port: thirdParty, by: nexus.key };
  }

  release(nexus: ITNexus, thirdParty?: string): void {
    const s = this.spc2;
    if (!s) return;
    if (thirdParty === undefined ? holdsSpc2(s, nexus) : s.nexus === undefined && s.port === thirdParty && s.by === nexus.key) this.spc2 = undefined;
  }

  // ------------------------------------------------------------------ PERSISTENT RESERVE IN

  readKeys(): Buffer {
    return encodeReadKeys(this.generation, this.regs.map((r) => r.key));
  }

  readReservation(): Buffer {
    return encodeReadReservation(this.generation, this.reservation);
  }

  reportCapabilities(): Buffer {
    return encodeReportCapabilities({
      rlrC: false,
      crh: false,
      sipC: false,
      atpC: true,
      ptplC: !!this.opts.aptplPath,
      tmv: true,
      allowCommands: 0,
      ptplA: this.aptpl,
      types: [...PR_TYPES],
    });
  }

  readFullStatus(): Buffer {
    const p = this.pr;
    return encodeReadFullStatus(
      this.generation,
      this.regs.map((r) => {
        const holder = !!p && (p.holder ? p.holder === r : true);
        return {
          key: r.key,
          allTgPt: r.targetPort === null,
          holder,
          scope: p?.scope ?? 0,
          type: p?.type ?? 0,
          relativeTargetPort: r.relativeId,
          transportId: r.initiatorName
            ? encodeTransportId(iscsiTransportId(r.initiatorName))
            : encodeTransportId({ protocol: 'fc', wwpn: r.initiatorPort }),
        };
      }),
    );
  }

  // ------------------------------------------------------------------ PERSISTENT RESERVE OUT

  /** Run one PR OUT service action for `nexus`; throws ScsiError / RESERVATION CONFLICT. */
  prOut(nexus: ITNexus, sa: number, scope: number, type: number, p: PrOutParams, relativeId: number): void {
    const me = this.registrationOf(nexus);
    const keyMatches = () => {
      if (!me || me.key !== p.reservationKey) throw conflict();
      return me;
    };
    switch (sa) {
      case PrOut.REGISTER:
      case PrOut.REGISTER_AND_IGNORE: {
        if (p.aptpl && !this.opts.aptplPath) throw Sense.invalidFieldInParam(PR_OUT_FLAGS_BYTE, 0);
        if (!me) {
          if (sa === PrOut.REGISTER && p.reservationKey !== 0n) throw conflict();
          if (p.serviceActionKey === 0n) return;
          this.regs.push({
            initiatorPort: nexus.initiatorPort,
            ...(nexus.initiatorName !== undefined ? { initiatorName: nexus.initiatorName } : {}),
            targetPort: p.allTgPt ? null : nexus.targetPort,
            relativeId,
            key: p.serviceActionKey,
          });
        } else {
          if (sa === PrOut.REGISTER && me.key !== p.reservationKey) throw conflict();
          if (p.serviceActionKey === 0n) this.unregister(me, nexus);
          else me.key = p.serviceActionKey;
        }
        this.aptpl = p.aptpl;
        this.generation++;
        break;
      }
      case PrOut.RESERVE: {
        const reg = keyMatches();
        checkScopeType(scope, type);
        const cur = this.pr;
        if (cur) {
          if (!this.isHolder(nexus) || cur.type !== type || cur.scope !== scope) throw conflict();
          return;
        }
        this.pr = { type, scope, ...(isAllRegistrants(type) ? {} : { holder: reg }) };
        break;
      }
      case PrOut.RELEASE: {
        keyMatches();
        const cur = this.pr;
        if (!cur || !this.isHolder(nexus)) return;
        if (cur.type !== type || cur.scope !== scope) throw invalidRelease();
        this.pr = undefined;
        if (isRegistrantsOnly(cur.type) || isAllRegistrants(cur.type)) this.notify(this.regs, UA.RESERVATIONS_RELEASED, nexus);
        break;
      }
      case PrOut.CLEAR: {
        keyMatches();
        this.notify(this.regs, UA.RESERVATIONS_PREEMPTED, nexus);
        this.regs = [];
        this.pr = undefined;
        this.generation++;
        break;
      }
      case PrOut.PREEMPT:
      case PrOut.PREEMPT_AND_ABORT: {
        const reg = keyMatches();
        checkScopeType(scope, type);
        const victims = this.preempt(reg, p.serviceActionKey, scope, type);
        const keys = this.notify(victims, UA.REGISTRATIONS_PREEMPTED, nexus);
        if (sa === PrOut.PREEMPT_AND_ABORT && keys.length) this.abortTasksOf?.(keys);
        this.generation++;
        break;
      }
      default:
        throw Sense.invalidFieldInCdb(1, 4);
    }
    this.save();
  }

  /**
   * REGISTER AND MOVE (SPC-4 §5.12.9): the holder registers another I_T nexus (FC TransportID +
   * relative target port) with SARK if it is not registered yet, hands it the reservation, and
   * with UNREG drops its own registration. iSCSI TransportIDs are refused: the gate cannot map an
   * iSCSI name to the WWPN the lab gives it.
   */
  registerAndMove(nexus: ITNexus, p: RegisterAndMoveParams): void {
    const me = this.registrationOf(nexus);
    if (!me || me.key !== p.reservationKey) throw conflict();
    const cur = this.pr;
    if (!cur || !cur.holder || cur.holder !== me) throw conflict();
    if (p.aptpl && !this.opts.aptplPath) throw Sense.invalidFieldInParam(17, 0);
    if (p.serviceActionKey === 0n) throw Sense.invalidFieldInParam(8);
    let tid: TransportId;
    try {
      tid = decodeTransportId(p.transportId);
    } catch {
      throw Sense.invalidFieldInParam(REGISTER_AND_MOVE_HEADER);
    }
    if (tid.protocol !== 'fc') throw Sense.invalidFieldInParam(REGISTER_AND_MOVE_HEADER);
    const targetPort = this.targetPortOf?.(p.relativeTargetPort);
    if (!targetPort) throw Sense.invalidFieldInParam(18);
    const dest = makeNexus(tid.wwpn, targetPort);
    if (this.matches(me, dest)) throw Sense.invalidFieldInParam(REGISTER_AND_MOVE_HEADER);
    let reg = this.registrationOf(dest);
    if (!reg) {
      reg = { initiatorPort: tid.wwpn, targetPort, relativeId: p.relativeTargetPort, key: p.serviceActionKey };
      this.regs.push(reg);
    }
    this.pr = { type: cur.type, scope: cur.scope, holder: reg };
    if (p.unreg) this.regs = this.regs.filter((r) => r !== me);
    this.aptpl = p.aptpl;
    this.generation++;
    this.save();
  }

  /** SPC-4 §5.12.11.4: remove the registrations SARK names, taking the reservation over when SARK names its holder. */
  private preempt(me: Registration, sark: bigint, scope: number, type: number): Registration[] {
    const cur = this.pr;
    const take = (pick: (r: Registration) => boolean) => {
      const victims = this.regs.filter((r) => r !== me && pick(r));
      this.regs = this.regs.filter((r) => !victims.includes(r));
      return victims;
    };
    if (cur && !cur.holder) {
      if (sark === 0n) {
        const victims = take(() => true);
        this.pr = { type, scope, ...(isAllRegistrants(type) ? {} : { holder: me }) };
        return victims;
      }
    } else if (cur?.holder && cur.holder.key === sark) {
      const victims = take((r) => r.key === sark);
      this.pr = { type, scope, ...(isAllRegistrants(type) ? {} : { holder: me }) };
      return victims;
    }
    if (sark === 0n) throw Sense.invalidFieldInParam(8);
    const victims = take((r) => r.key === sark);
    if (!victims.length && !(me.key === sark)) throw conflict();
    return victims;
  }

  /** Drop a registration; a holder's reservation goes with it (all-registrants: with the last one). */
  private unregister(r: Registration, nexus: ITNexus): void {
    this.regs = this.regs.filter((x) => x !== r);
    const cur = this.pr;
    if (!cur) return;
    if (cur.holder === r) {
      this.pr = undefined;
      if (isRegistrantsOnly(cur.type)) this.notify(this.regs, UA.RESERVATIONS_RELEASED, nexus);
    } else if (!cur.holder && this.regs.length === 0) {
      this.pr = undefined;
    }
  }

  // ------------------------------------------------------------------ APTPL

  private save(): void {
    const path = this.opts.aptplPath;
    if (!path) return;
    if (!this.aptpl) {
      if (existsSync(path)) unlinkSync(path);
      return;
    }
    const state: SavedState = {
      version: 1,
      generation: this.generation,
      registrations: this.regs.map((r) => ({ ...r, key: r.key.toString(16).padStart(16, '0') })),
      ...(this.pr ? { reservation: { type: this.pr.type, scope: this.pr.scope, holder: this.pr.holder ? this.regs.indexOf(this.pr.holder) : null } } : {}),
    };
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, JSON.stringify(state, null, 2));
    renameSync(tmp, path);
  }

  private load(path: string): void {
    try {
      const s = JSON.parse(readFileSync(path, 'utf8')) as SavedState;
      if (s.version !== 1 || !Array.isArray(s.registrations)) throw new Error('unknown format');
      this.regs = s.registrations.map((r) => ({ ...r, key: BigInt(`0x${r.key}`) }));
      this.generation = s.generation >>> 0;
      this.aptpl = true;
      if (s.reservation) {
        const holder = s.reservation.holder === null ? undefined : this.regs[s.reservation.holder];
        this.pr = { type: s.reservation.type, scope: s.reservation.scope, ...(holder ? { holder } : {}) };
      }
    } catch (e) {
      process.emitWarning(`${this.lu.identity.name}: ignoring unreadable APTPL state ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

function checkScopeType(scope: number, type: number): void {
  if (scope !== LU_SCOPE) throw Sense.invalidFieldInCdb(2, 7);
  if (!PR_TYPES.includes(type)) throw Sense.invalidFieldInCdb(2, 3);
}

function iscsiTransportId(name: string): { protocol: 'iscsi'; name: string; isid?: string } {
  const m = /^(.*),i,0x([0-9a-fA-F]+)$/.exec(name);
  return m ? { protocol: 'iscsi', name: m[1]!, isid: m[2]! } : { protocol: 'iscsi', name };
}

/** The LU's Reservations, installed on first use when nobody (the router) installed one before. */
export function reservationsOf(lu: ScsiLogicalUnit, opts?: ReservationOptions): Reservations {
  if (lu.reservations instanceof Reservations) return lu.reservations;
  const r = new Reservations(lu, opts);
  lu.reservations = r;
  return r;
}

// ------------------------------------------------------------------ command table

const CTRL = 0x00;

function relativeIdOf(ctx: CommandContext): number {
  return ctx.task.port?.relativeId ?? 0;
}

function reserve10(ctx: CommandContext, release: boolean): void {
  const v = decodeReserve10Cdb(ctx.cdb);
  const gate = reservationsOf(ctx.lu);
  let third: string | undefined;
  if (v.thirdParty) {
    // Fibre Channel has no 8-bit device IDs: the third party is named by its 8-byte port name (LONGID=1).
    if (!v.longId) throw Sense.invalidFieldInCdb(1, 1);
    if (v.parameterListLength !== 8) throw Sense.paramListLengthError();
    const d = ctx.task.dataOut;
    if (!d || d.length < 8) throw Sense.paramListLengthError();
    third = d.subarray(0, 8).toString('hex');
  } else if (v.longId) {
    throw Sense.invalidFieldInCdb(1, 1);
  }
  if (release) gate.release(ctx.nexus, third);
  else gate.reserve(ctx.nexus, third);
}

function prOut(ctx: CommandContext): void {
  const v = decodePrOutCdb(ctx.cdb);
  const data = ctx.task.dataOut ?? Buffer.alloc(0);
  if (v.serviceAction === PrOut.REGISTER_AND_MOVE) {
    if (v.parameterListLength < REGISTER_AND_MOVE_HEADER || data.length < v.parameterListLength) throw Sense.paramListLengthError();
    const p = decodeRegisterAndMoveParams(data.subarray(0, v.parameterListLength));
    if (REGISTER_AND_MOVE_HEADER + p.transportId.length > v.parameterListLength || p.transportId.length < 24) throw Sense.paramListLengthError();
    reservationsOf(ctx.lu).registerAndMove(ctx.nexus, p);
    return;
  }
  if (v.parameterListLength < PR_OUT_BASIC_LENGTH || data.length < v.parameterListLength) throw Sense.paramListLengthError();
  const p = decodePrOutParams(data.subarray(0, v.parameterListLength));
  // SPEC_I_PT is not offered (REPORT CAPABILITIES SIP_C=0), so the list is always the basic 24 bytes.
  if (p.specIPt) throw Sense.invalidFieldInParam(PR_OUT_FLAGS_BYTE, 3);
  if (v.parameterListLength !== PR_OUT_BASIC_LENGTH) throw Sense.paramListLengthError();
  reservationsOf(ctx.lu).prOut(ctx.nexus, v.serviceAction, v.scope, v.type, p, relativeIdOf(ctx));
}

function prIn(ctx: CommandContext): Buffer {
  const v = decodePrInCdb(ctx.cdb);
  const g = reservationsOf(ctx.lu);
  switch (v.serviceAction) {
    case PrIn.READ_KEYS:
      return g.readKeys();
    case PrIn.READ_RESERVATION:
      return g.readReservation();
    case PrIn.REPORT_CAPABILITIES:
      return g.reportCapabilities();
    default:
      return g.readFullStatus();
  }
}

/** An LU answering reservation commands gets its reservation state (and gate) when its table is built. */
const install = (lu: ScsiLogicalUnit): void => {
  reservationsOf(lu);
};

/** RESERVE/RELEASE(6/10) and PERSISTENT RESERVE IN/OUT, one entry per service action (RSOC lists each). */
export function reservationCommands(): CommandDef[] {
  const r6 = [0xff, 0x00, 0x00, 0x00, 0x00, CTRL];
  const r10 = [0xff, 0x12, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, CTRL];
  const inUsage = [0xff, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, CTRL];
  const outUsage = [0xff, 0x1f, 0xff, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, CTRL];
  const inNames = ['READ KEYS', 'READ RESERVATION', 'REPORT CAPABILITIES', 'READ FULL STATUS'];
  const outNames = ['REGISTER', 'RESERVE', 'RELEASE', 'CLEAR', 'PREEMPT', 'PREEMPT AND ABORT', 'REGISTER AND IGNORE EXISTING KEY', 'REGISTER AND MOVE'];
  return [
    { opcode: RESERVE_6, name: 'RESERVE(6)', cdbLength: 6, rsv: 'reserve', setup: install, data: 'none', usage: r6, handler: (c) => reservationsOf(c.lu).reserve(c.nexus) },
    { opcode: RELEASE_6, name: 'RELEASE(6)', cdbLength: 6, rsv: 'release', setup: install, data: 'none', usage: r6, handler: (c) => reservationsOf(c.lu).release(c.nexus) },
    { opcode: RESERVE_10, name: 'RESERVE(10)', cdbLength: 10, rsv: 'reserve', setup: install, data: 'out', usage: r10, handler: (c) => reserve10(c, false) },
    { opcode: RELEASE_10, name: 'RELEASE(10)', cdbLength: 10, rsv: 'release', setup: install, data: 'out', usage: r10, handler: (c) => reserve10(c, true) },
    ...inNames.map((n, sa): CommandDef => ({ opcode: PR_IN, serviceAction: sa, name: `PERSISTENT RESERVE IN (${n})`, cdbLength: 10, rsv: 'pr-in', setup: install, data: 'in', allocation: [7, 2], usage: inUsage, handler: prIn })),
    ...outNames.map((n, sa): CommandDef => ({ opcode: PR_OUT, serviceAction: sa, name: `PERSISTENT RESERVE OUT (${n})`, cdbLength: 10, rsv: 'pr-out', setup: install, data: 'out', usage: outUsage, handler: prOut })),
  ];
}
