/**
 * A SCSI target device: the disk array and the FC-to-SCSI router are each one. It owns target
 * ports (WWPN + relative target port id), LUs attached at LUNs, and LUN masking per initiator
 * port; it answers for the device where SAM/SPC make the target (not an LU) responsible: REPORT
 * LUNS (also at the REPORT LUNS well-known LUN), INQUIRY/REQUEST SENSE at LUNs with nothing
 * behind them, task management (abort, clear, resets) and I_T nexus loss. Everything else goes to
 * the LU's own execute().
 */
import { ScsiStatus } from '../../src/scsi/status.js';
import { encodeSense, Sense, ScsiError, SenseKey, UA, type SenseInfo } from '../../src/scsi/sense.js';
import { decodeInquiryCdb, encodeStandardInquiry, encodeSupportedPages, vpdPage, SPC4_VERSION } from '../../src/scsi/inquiry.js';
import { checkReportLunsCdb, encodeReportLunsData, REPORT_LUNS, REPORT_LUNS_WLUN, selectLuns } from '../../src/scsi/report-luns.js';
import { NoSuchLunError, UnreachableError, type TaskDispatcher, type TaskManagement } from './dispatch.js';
import { TaskAbort } from './task-abort.js';
import type { DataInAllocator, ITNexus, LogicalUnit, ResetKind, ScsiResult, ScsiTask, TargetPortInfo } from './task.js';

export interface TargetDeviceOptions {
  name: string;
  /** Device name (WWNN), any form parseWwn accepts is normalized by the caller: 16 lowercase hex digits. */
  wwnn: string;
  ports: Array<{ wwpn: string; relativeId?: number }>;
  /**
   * What an initiator with no LUN map of its own sees: every attached LU at its own LUN ('all',
   * typical of routers) or nothing ('none', typical of masked arrays).
   */
  defaultAccess?: 'all' | 'none';
  /** INQUIRY identity reported at LUNs with no LU (peripheral qualifier 011b). */
  vendor?: string;
  product?: string;
  revision?: string;
}

interface Tracked {
  nexusKey: string;
  tag: number | undefined;
  ab: TaskAbort;
}

/**
 * The task as the LU sees it: the port filled in, and `signal` built only if the LU reads it
 * (most commands never do; see task-abort.ts).
 */
class LuTask implements ScsiTask {
  readonly nexus: ITNexus;
  readonly lun: number;
  readonly cdb: Buffer;
  readonly dataOut: Buffer | undefined;
  readonly dataInLength: number;
  readonly tag: number | undefined;
  readonly attribute: number | undefined;
  readonly dataInBuffers: DataInAllocator | undefined;
  /** The data-out length the LU said its CDB asks for. */
  transferLength: number | undefined;

  constructor(
    task: ScsiTask,
    readonly port: TargetPortInfo,
    readonly aborter: TaskAbort,
  ) {
    this.nexus = task.nexus;
    this.lun = task.lun;
    this.cdb = task.cdb;
    this.dataOut = task.dataOut;
    this.dataInLength = task.dataInLength;
    this.tag = task.tag;
    this.attribute = task.attribute;
    this.dataInBuffers = task.dataInBuffers;
  }

  get signal(): AbortSignal {
    return this.aborter.signal;
  }

  reportTransferLength(bytes: number): void {
    this.transferLength = bytes;
  }
}

const INQUIRY = 0x12;
const REQUEST_SENSE = 0x03;
const TEST_UNIT_READY = 0x00;
/** Peripheral device type of a well-known LU (SPC-4 §8.1). */
const WELL_KNOWN_LU_TYPE = 0x1e;

export class TargetDevice implements TaskDispatcher, TaskManagement {
  readonly name: string;
  readonly wwnn: string;
  readonly defaultAccess: 'all' | 'none';
  private readonly portsByWwpn = new Map<string, TargetPortInfo>();
  private readonly lus = new Map<number, LogicalUnit>();
  /**
   * LUNs only some initiators may see, whatever their LUN map or the default access says (a
   * snapshot LU mapped at creation to the data mover and chosen hosts): device LUN → initiator WWPNs.
   */
  private readonly restricted = new Map<number, ReadonlySet<string>>();
  /** Initiator WWPN → (LUN the initiator uses → device LUN). */
  private readonly maps = new Map<string, Map<number, number>>();
  /** visibleLus() answers, dropped whenever an LU is attached or detached or a LUN map changes. */
  private readonly views = new Map<string, ReadonlyMap<number, LogicalUnit>>();
  private readonly tasks = new Map<LogicalUnit, Set<Tracked>>();
  /** Nexuses that have sent a task to each LU: who gets a unit attention when something changes. */
  private readonly seen = new Map<LogicalUnit, Map<string, ITNexus>>();
  private readonly ident: { vendor: string; product: string; revision: string };

  constructor(opts: TargetDeviceOptions) {
    this.name = opts.name;
    this.wwnn = opts.wwnn;
    this.defaultAccess = opts.defaultAccess ?? 'all';
    this.ident = { vendor: opts.vendor ?? 'DMSIM', product: opts.product ?? 'TARGET DEVICE', revision: opts.revision ?? '0100' };
    let next = 1;
    for (const p of opts.ports) {
      const relativeId = p.relativeId ?? next;
      next = relativeId + 1;
      if ([...this.portsByWwpn.values()].some((q) => q.relativeId === relativeId)) throw new Error(`${opts.name}: duplicate relative target port id ${relativeId}`);
      if (this.portsByWwpn.has(p.wwpn)) throw new Error(`${opts.name}: duplicate target port ${p.wwpn}`);
      this.portsByWwpn.set(p.wwpn, { wwpn: p.wwpn, relativeId, deviceName: opts.wwnn });
    }
  }

  // ------------------------------------------------------------------ configuration

  get ports(): TargetPortInfo[] {
    return [...this.portsByWwpn.values()];
  }

  hasPort(wwpn: string): boolean {
    return this.portsByWwpn.has(wwpn);
  }

  port(wwpn: string): TargetPortInfo | undefined {
    return this.portsByWwpn.get(wwpn);
  }

  /**
   * Attach an LU at a device LUN. Initiators whose view gains it get UA 3Fh/0Eh. The LU learns
   * how to abort its tasks and name ports, and where its APTPL state lives (`aptplPath`, next to its media).
   */
  attach(lun: number, lu: LogicalUnit, opts: { aptplPath?: string } = {}): void {
    if (this.lus.has(lun)) throw new Error(`${this.name}: LUN ${lun} already holds ${this.lus.get(lun)!.identity.name}`);
    if (lun < 0 || lun > 0x3fff) throw new RangeError(`${this.name}: LUN ${lun} cannot be addressed`);
    lu.attached?.({
      abortTasksOf: (keys, reason) => this.abortWhere(lu, (t) => keys.includes(t.nexusKey), reason),
      targetPortOf: (rel) => this.ports.find((p) => p.relativeId === rel)?.wwpn,
      ...(opts.aptplPath ? { aptplPath: opts.aptplPath } : {}),
    });
    this.withLunChange(() => this.lus.set(lun, lu));
  }

  detach(lun: number): LogicalUnit | undefined {
    const lu = this.lus.get(lun);
    if (lu)
      this.withLunChange(() => {
        this.lus.delete(lun);
        this.restricted.delete(lun);
      });
    return lu;
  }

  /**
   * Attach an LU that only `initiators` (WWPNs) see, at the same LUN, added to whatever their LUN
   * maps give them; every other initiator never sees it, even under default access 'all'.
   */
  attachRestricted(lun: number, lu: LogicalUnit, initiators: Iterable<string>, opts: { aptplPath?: string } = {}): void {
    if (this.lus.has(lun)) throw new Error(`${this.name}: LUN ${lun} already holds ${this.lus.get(lun)!.identity.name}`);
    this.restricted.set(lun, new Set(initiators));
    try {
      this.attach(lun, lu, opts);
    } catch (e) {
      this.restricted.delete(lun);
      throw e;
    }
  }

  /** Device LUN → LU, every LU attached. */
  get logicalUnits(): ReadonlyMap<number, LogicalUnit> {
    return this.lus;
  }

  /**
   * Set what one initiator port sees: a list of device LUNs (seen at the same LUN), or
   * [initiator LUN, device LUN] pairs. `undefined` returns it to the default access. A change of
   * the visible set queues UA 3Fh/0Eh REPORTED LUNS DATA HAS CHANGED on that initiator's nexuses.
   */
  setLunMap(initiator: string, map: Iterable<number | readonly [number, number]> | undefined): void {
    this.withLunChange(() => {
      if (map === undefined) {
        this.maps.delete(initiator);
        return;
      }
      const m = new Map<number, number>();
      for (const e of map) {
        const [ilun, dlun] = typeof e === 'number' ? [e, e] : e;
        if (ilun < 0 || ilun > 0x3fff) throw new RangeError(`${this.name}: LUN ${ilun} cannot be addressed`);
        m.set(ilun, dlun);
      }
      this.maps.set(initiator, m);
    });
  }

  /**
   * Initiator LUN → LU, as this initiator port sees the device (masking applied). Every command
   * looks its LU up here, so views are kept per initiator until an LU or a LUN map changes.
   */
  visibleLus(initiator: string): ReadonlyMap<number, LogicalUnit> {
    let v = this.views.get(initiator);
    if (!v) {
      // Bounded: initiator names come from the lab, but a map keyed by input must not grow forever.
      if (this.views.size >= 1024) this.views.clear();
      this.views.set(initiator, (v = this.computeView(initiator)));
    }
    return v;
  }

  private computeView(initiator: string): Map<number, LogicalUnit> {
    const out = new Map<number, LogicalUnit>();
    const m = this.maps.get(initiator);
    if (m) {
      for (const [ilun, dlun] of m) {
        const lu = this.lus.get(dlun);
        if (lu && !this.restricted.has(dlun)) out.set(ilun, lu);
      }
    } else if (this.defaultAccess === 'all') {
      for (const [lun, lu] of this.lus) if (!this.restricted.has(lun)) out.set(lun, lu);
    }
    for (const [lun, who] of this.restricted) {
      const lu = this.lus.get(lun);
      if (lu && who.has(initiator) && !out.has(lun)) out.set(lun, lu);
    }
    return out;
  }

  /** Runs a change to LUs or maps and queues 3Fh/0Eh for every seen nexus whose view changed. */
  private withLunChange(change: () => void): void {
    const nexuses = this.allNexuses();
    const before = new Map([...nexuses.values()].map((n) => [n.initiatorPort, viewKey(this.visibleLus(n.initiatorPort))]));
    try {
      change();
    } finally {
      this.views.clear();
    }
    for (const n of nexuses.values()) {
      const now = this.visibleLus(n.initiatorPort);
      if (viewKey(now) === before.get(n.initiatorPort)) continue;
      for (const lu of now.values()) {
        if (this.seen.get(lu)?.has(n.key)) lu.queueUnitAttention?.(UA.REPORTED_LUNS_CHANGED, { only: n.key });
      }
    }
  }

  private allNexuses(): Map<string, ITNexus> {
    const all = new Map<string, ITNexus>();
    for (const m of this.seen.values()) for (const [k, n] of m) all.set(k, n);
    return all;
  }

  // ------------------------------------------------------------------ dispatch

  async dispatch(task: ScsiTask): Promise<ScsiResult> {
    const port = this.portsByWwpn.get(task.nexus.targetPort);
    if (!port) throw new UnreachableError(task.nexus.initiatorPort, task.nexus.targetPort, `not a port of ${this.name}`);
    const r = await this.route(task, port);
    // More data-in than the initiator takes: it gets what fits, and the result says how much there was.
    if (r.dataIn && r.dataIn.length > task.dataInLength) return { ...r, dataIn: r.dataIn.subarray(0, Math.max(0, task.dataInLength)), transferLength: r.transferLength ?? r.dataIn.length };
    return r;
  }

  private async route(task: ScsiTask, port: TargetPortInfo): Promise<ScsiResult> {
    const opcode = task.cdb[0];
    try {
      if (opcode === REPORT_LUNS) return this.reportLuns(task);
      if (task.lun === REPORT_LUNS_WLUN) return this.wellKnownLu(task);
      const lu = this.visibleLus(task.nexus.initiatorPort).get(task.lun);
      if (!lu) return this.noLu(task);
      return await this.run(lu, task, port);
    } catch (e) {
      if (e instanceof ScsiError) return { status: e.status, sense: encodeSense(e.sense) };
      // Never let a malformed request escape as a rejected dispatch: it is the device's fault, not the transport's.
      process.emitWarning(`${this.name}: internal error: ${e instanceof Error ? e.stack : String(e)}`);
      return { status: ScsiStatus.CHECK_CONDITION, sense: encodeSense({ key: SenseKey.HARDWARE_ERROR, asc: 0x44, ascq: 0x00 }) };
    }
  }

  /** The router's own commands are 6-byte (INQUIRY, REQUEST SENSE, TEST UNIT READY): shorter CDBs are invalid. */
  private static need6(task: ScsiTask): void {
    if (task.cdb.length < 6) throw Sense.invalidFieldInCdb(0);
  }

  private reportLuns(task: ScsiTask): ScsiResult {
    const v = checkReportLunsCdb(task.cdb);
    const visible = this.visibleLus(task.nexus.initiatorPort);
    const luns = selectLuns(visible.keys(), v.selectReport);
    const dataIn = encodeReportLunsData(luns).subarray(0, v.allocationLength);
    // SPC-4 §6.33: REPORT LUNS clears a pending REPORTED LUNS DATA HAS CHANGED for this nexus.
    for (const lu of visible.values()) lu.clearUnitAttention?.(task.nexus.key, UA.REPORTED_LUNS_CHANGED);
    return { status: ScsiStatus.GOOD, dataIn };
  }

  /** The REPORT LUNS well-known LU: INQUIRY, REQUEST SENSE, TEST UNIT READY and REPORT LUNS only. */
  private wellKnownLu(task: ScsiTask): ScsiResult {
    if (task.cdb.length < 1) throw Sense.invalidOpcode();
    switch (task.cdb[0]) {
      case INQUIRY: {
        TargetDevice.need6(task);
        const v = decodeInquiryCdb(task.cdb);
        if (!v.evpd) {
          if (v.pageCode) throw Sense.invalidFieldInCdb(2);
          return good(encodeStandardInquiry({ deviceType: WELL_KNOWN_LU_TYPE, ...this.ident, version: SPC4_VERSION }), v.allocationLength);
        }
        if (v.pageCode !== 0) throw Sense.invalidFieldInCdb(2);
        return good(encodeSupportedPages(WELL_KNOWN_LU_TYPE, [0]), v.allocationLength);
      }
      case REQUEST_SENSE:
        TargetDevice.need6(task);
        return good(encodeSense({ key: SenseKey.NO_SENSE, asc: 0, ascq: 0 }, (task.cdb[1]! & 1) !== 0), task.cdb[4]!);
      case TEST_UNIT_READY:
        return { status: ScsiStatus.GOOD };
      default:
        throw Sense.invalidOpcode();
    }
  }

  /**
   * A LUN with no LU behind it for this initiator (SPC-4 §6.6.2, §6.29): INQUIRY answers with
   * peripheral qualifier 011b / type 1Fh, REQUEST SENSE returns LOGICAL UNIT NOT SUPPORTED as its
   * parameter data with GOOD status, anything else is CHECK CONDITION 5/25/00.
   */
  private noLu(task: ScsiTask): ScsiResult {
    switch (task.cdb[0]) {
      case INQUIRY: {
        TargetDevice.need6(task);
        const v = decodeInquiryCdb(task.cdb);
        if (!v.evpd && v.pageCode) throw Sense.invalidFieldInCdb(2);
        const data = v.evpd
          ? vpdPage(0x1f, v.pageCode, Buffer.alloc(0), 3)
          : encodeStandardInquiry({ qualifier: 3, deviceType: 0x1f, ...this.ident, cmdque: false });
        return good(data, v.allocationLength);
      }
      case REQUEST_SENSE: {
        TargetDevice.need6(task);
        const s: SenseInfo = { key: SenseKey.ILLEGAL_REQUEST, asc: 0x25, ascq: 0x00 };
        return good(encodeSense(s, (task.cdb[1]! & 1) !== 0), task.cdb[4]!);
      }
      default:
        throw Sense.luNotSupported();
    }
  }

  private async run(lu: LogicalUnit, task: ScsiTask, port: TargetPortInfo): Promise<ScsiResult> {
    let seen = this.seen.get(lu);
    if (!seen) this.seen.set(lu, (seen = new Map()));
    seen.set(task.nexus.key, task.nexus);
    // The front end's TaskAbort when it has one (iSCSI); else our own, linked to its signal.
    const outer = task.aborter ? undefined : task.signal;
    if (task.aborter ? task.aborter.aborted : outer?.aborted) return { status: ScsiStatus.TASK_ABORTED };
    const ab = task.aborter ?? new TaskAbort();
    let set = this.tasks.get(lu);
    if (!set) this.tasks.set(lu, (set = new Set()));
    const tracked: Tracked = { nexusKey: task.nexus.key, tag: task.tag, ab };
    set.add(tracked);
    const onOuterAbort = outer ? () => ab.abort(outer.reason) : undefined;
    if (onOuterAbort) outer!.addEventListener('abort', onOuterAbort, { once: true });
    try {
      const lt = new LuTask(task, port, ab);
      const r = await lu.execute(lt);
      if (ab.aborted) return { status: ScsiStatus.TASK_ABORTED };
      return lt.transferLength === undefined ? r : { ...r, transferLength: lt.transferLength };
    } finally {
      if (onOuterAbort) outer!.removeEventListener('abort', onOuterAbort);
      set.delete(tracked);
    }
  }

  // ------------------------------------------------------------------ task management

  private luFor(nexus: ITNexus, lun: number): LogicalUnit {
    if (!this.portsByWwpn.has(nexus.targetPort)) throw new UnreachableError(nexus.initiatorPort, nexus.targetPort, `not a port of ${this.name}`);
    const lu = this.visibleLus(nexus.initiatorPort).get(lun);
    if (!lu) throw new NoSuchLunError(lun);
    return lu;
  }

  private abortWhere(lu: LogicalUnit, pick: (t: Tracked) => boolean, reason: string): Tracked[] {
    const hit = [...(this.tasks.get(lu) ?? [])].filter(pick);
    for (const t of hit) t.ab.abort(new DOMException(reason, 'AbortError'));
    return hit;
  }

  async abortTask(nexus: ITNexus, lun: number, tag: number): Promise<boolean> {
    const lu = this.luFor(nexus, lun);
    return this.abortWhere(lu, (t) => t.nexusKey === nexus.key && t.tag === tag, 'ABORT TASK').length > 0;
  }

  async abortTaskSet(nexus: ITNexus, lun: number): Promise<boolean> {
    const lu = this.luFor(nexus, lun);
    return this.abortWhere(lu, (t) => t.nexusKey === nexus.key, 'ABORT TASK SET').length > 0;
  }

  /** CLEAR TASK SET (TST=000b: one task set for all nexuses): other nexuses whose tasks died get UA 2Fh/00h. */
  async clearTaskSet(nexus: ITNexus, lun: number): Promise<boolean> {
    const lu = this.luFor(nexus, lun);
    const hit = this.abortWhere(lu, () => true, 'CLEAR TASK SET');
    for (const k of new Set(hit.map((t) => t.nexusKey))) if (k !== nexus.key) lu.queueUnitAttention?.(UA.COMMANDS_CLEARED_BY_ANOTHER_INITIATOR, { only: k });
    return hit.length > 0;
  }

  /** LOGICAL UNIT RESET (SAM-5 §7.7): abort every task, release SPC-2 reservations, UA 29h/03h to every nexus. */
  async lunReset(nexus: ITNexus, lun: number): Promise<void> {
    this.resetLu(this.luFor(nexus, lun), 'lu-reset');
  }

  private resetLu(lu: LogicalUnit, kind: ResetKind): void {
    this.abortWhere(lu, () => true, 'reset');
    lu.reset?.(kind);
  }

  /**
   * TARGET WARM RESET resets every LU the device has (SAM-5 hard reset: UA 29h/00h POWER ON,
   * RESET, OR BUS DEVICE RESET OCCURRED); TARGET COLD RESET is a power cycle (29h/01h). Persistent
   * reservations survive both, as SPC-4 keeps them across hard resets.
   */
  async targetReset(nexus: ITNexus, cold: boolean): Promise<void> {
    if (!this.portsByWwpn.has(nexus.targetPort)) throw new UnreachableError(nexus.initiatorPort, nexus.targetPort, `not a port of ${this.name}`);
    for (const lu of new Set(this.lus.values())) this.resetLu(lu, cold ? 'power-on' : 'hard-reset');
  }

  /** I_T nexus loss: abort the nexus's tasks, release its SPC-2 reservations, UA 29h/07h if it comes back. */
  nexusLost(nexus: ITNexus): void {
    for (const [lu, seen] of this.seen) {
      if (!seen.has(nexus.key)) continue;
      this.abortWhere(lu, (t) => t.nexusKey === nexus.key, 'I_T nexus loss');
      lu.nexusLost?.(nexus);
      lu.queueUnitAttention?.(UA.I_T_NEXUS_LOSS, { only: nexus.key });
    }
  }
}

/** GOOD with parameter data cut to the CDB's ALLOCATION LENGTH (what the command transfers). */
const good = (data: Buffer, allocationLength: number): ScsiResult => ({ status: ScsiStatus.GOOD, dataIn: data.length > allocationLength ? data.subarray(0, allocationLength) : data });

const viewKey = (m: ReadonlyMap<number, LogicalUnit>): string =>
  [...m].sort((a, b) => a[0] - b[0]).map(([l, lu]) => `${l}:${lu.identity.name}`).join(',');
