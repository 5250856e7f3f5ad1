/**
 * The emulated SSC-3 tape drive LU. Commands act on one single-partition cartridge image (see
 * cartridge.ts); every CHECK CONDITION outcome follows the table in tape-ssc.md §2.1.
 *
 * Medium-access commands run one at a time (a per-drive queue): a tape has one position, and the
 * copy manager, the backup server and `st` may all have commands outstanding on the same drive.
 */
import { Sense, ScsiError, SenseKey, UA, type SenseInfo } from '../../../src/scsi/sense.js';
import {
  decodeErase6,
  decodeLoadUnload,
  decodeLocate10,
  decodeLocate16,
  decodeReadPositionCdb,
  decodeReadWrite6,
  decodeReadWrite16,
  decodeWriteFilemarks16,
  decodeReportDensityCdb,
  decodeSpace16,
  decodeSpace6,
  decodeWriteFilemarks6,
  encodeBlockLimits,
  encodeDensityReport,
  encodeMediumTypeReport,
  encodePositionExtended,
  encodePositionLong,
  encodePositionShort,
  LocateDestType,
  ReadPositionForm,
  SpaceCode,
  TapeOp,
  tapeUsage,
  type DensityDescriptor,
  type LocateCdb,
  type ReadWrite6Cdb,
  type WriteFilemarksCdb,
  type MediumTypeDescriptor,
  type TapePosition,
} from '../../../src/scsi/tape.js';
import type { ITNexus, LuIdentity, ResetKind, ScsiResult } from '../../router/task.js';
import { commonCommands } from '../../lu/common-commands.js';
import { vpdPage } from '../../../src/scsi/inquiry.js';
import { ScsiLogicalUnit, type CommandContext, type CommandDef, type HandlerOutput } from '../../lu/logical-unit.js';
import { RemovalPrevention } from '../../lu/removal-prevention.js';
import { Cartridge, CartridgeFormatError } from './cartridge.js';
import type { TapeFaults } from './faults.js';
import { FaultPlan } from '../faults.js';
import { MARK_SPAN, MAX_RECORD_LENGTH, recordSpan } from './simh.js';
import { tapeModeCommands, TapeModeState, type TapeModeView } from './mode.js';
import { TapeAlerts, tapeLogCommands, type TapeCounters, type TapeLogView } from './log-pages.js';
import { mamCommands, type TapeMamView } from './mam.js';

export interface TapeDriveOptions {
  /** Largest block READ BLOCK LIMITS reports (default FFFFFFh as LTO drives report it, smc.md §6; hard cap 0xFFFFFF). */
  maxBlockLength?: number;
  /** Milliseconds a freshly inserted cartridge answers 2/04/01 before it is ready (default 0). */
  loadDelayMs?: number;
  /** Called when a cartridge leaves the drive (LOAD UNLOAD with HOLD=0, or eject()). */
  onEject?: (c: Cartridge) => void;
  /** Share a fault plan the lab/API already holds (as DiskLu does); a fresh one otherwise. */
  faults?: FaultPlan;
}

export interface TapeDriveStatus {
  state: 'empty' | 'held' | 'loading' | 'ready' | 'unreadable';
  barcode?: string;
  writeProtected?: boolean;
  /** Logical object number; null when the position is lost. */
  position?: number | null;
  fileId?: number | null;
  objects?: number;
  filemarks?: number;
  /** Image bytes = medium position of EOD. */
  bytesUsed?: number;
  capacity?: number;
  earlyWarningAt?: number;
  /** 0 = variable-block mode. */
  blockLength: number;
  removalPrevented: boolean;
}

/** Densities this drive reports (LTO-4-like: reads LTO-2, writes LTO-3 and LTO-4). */
export const SUPPORTED_DENSITIES: readonly DensityDescriptor[] = [
  { primaryCode: 0x42, secondaryCode: 0x42, wrtok: false, dup: false, deflt: false, bitsPerMm: 7398, mediaWidth: 127, tracks: 512, capacityMB: 200000, organization: 'LTO-CVE', name: 'U-216', description: 'Ultrium 2/8T' },
  { primaryCode: 0x44, secondaryCode: 0x44, wrtok: true, dup: false, deflt: false, bitsPerMm: 9638, mediaWidth: 127, tracks: 704, capacityMB: 400000, organization: 'LTO-CVE', name: 'U-316', description: 'Ultrium 3/16T' },
  { primaryCode: 0x46, secondaryCode: 0x46, wrtok: true, dup: false, deflt: true, bitsPerMm: 12725, mediaWidth: 127, tracks: 896, capacityMB: 800000, organization: 'LTO-CVE', name: 'U-416', description: 'Ultrium 4/16T' },
];

const MEDIUM_TYPES: readonly MediumTypeDescriptor[] = [
  { mediumType: 0x00, densityCodes: [0x42, 0x44, 0x46], mediaWidth: 127, mediumLength: 820, organization: 'LTO-CVE', name: 'U-416', description: 'Ultrium 4 data' },
];

type Ctx = CommandContext<TapeDrive>;

/** Largest data transfer of one READ/WRITE in fixed mode; beyond it the TRANSFER LENGTH is refused (5/24/00). */
export const MAX_TRANSFER = 64 * 1024 * 1024;

/** The (PARTITION, LOGICAL OBJECT IDENTIFIER) of an explicit-address command: READ(16), WRITE(16), WRITE FILEMARKS(16). */
export interface ExplicitAddress {
  partition: number;
  logicalId: number;
}

/** Something a queued command checks before it runs: an AbortSignal, or the router's TaskAbort. */
interface AbortCheck {
  throwIfAborted(): void;
}

/** The task's abort state without building an AbortSignal for it (router/task-abort.ts). */
const abortOf = (ctx: Ctx): AbortCheck | undefined => ctx.task.aborter ?? ctx.signal;

/** CHECK CONDITION that still carries data-in (READ that stopped early). */
function cc(lu: TapeDrive, s: SenseInfo, dataIn?: Buffer): ScsiResult {
  const r = lu.checkCondition(s);
  return dataIn && dataIn.length ? { ...r, dataIn } : r;
}

const noSense = (asc: number, ascq: number, extra: Partial<SenseInfo>): SenseInfo => ({ key: SenseKey.NO_SENSE, asc, ascq, ...extra });

export class TapeDrive extends ScsiLogicalUnit implements TapeModeView, TapeLogView, TapeMamView {
  /** Shared fault plan (management API): medium errors by object number, not-ready window, latency, throughput. */
  readonly faults: FaultPlan;
  /** Tape-only hooks: EW/PEOP positions, lost position. */
  readonly tapeFaults: TapeFaults = {};
  readonly mode: TapeModeState;
  readonly maxBlockLength: number;
  private cart: Cartridge | undefined;
  /** Cartridge present but not threaded (before LOAD, or after UNLOAD with HOLD). */
  private threaded = false;
  private becomingReadyUntil = 0;
  /** Why the cartridge in the drive cannot be used (3/30/01, 3/31/00). */
  private mediumFault: SenseInfo | undefined;
  private pos = 0;
  private positionLost = false;
  private dirty = false;
  private readonly prevention = new RemovalPrevention();
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * Counters since the cartridge was loaded (or LOG SELECT reset them): bytes for the
   * sequential-access page 0Ch, uncorrected errors for pages 02h/03h and 17h.
   */
  readonly counters: TapeCounters = { hostWritten: 0, mediaWritten: 0, mediaRead: 0, hostRead: 0, writeErrors: 0, readErrors: 0, blocksWritten: 0, blocksRead: 0 };
  /** TapeAlert flags (log pages 2Eh / 12h, MAM 0002h), raised from the sense this drive reports. */
  readonly alerts = new TapeAlerts();

  constructor(
    identity: LuIdentity,
    private readonly opts: TapeDriveOptions = {},
  ) {
    super(identity, [...commonCommands(), ...tapeCommands(), ...tapeModeCommands(), ...tapeLogCommands(), ...mamCommands()] as CommandDef[] as never);
    this.maxBlockLength = Math.min(opts.maxBlockLength ?? MAX_RECORD_LENGTH, MAX_RECORD_LENGTH);
    this.faults = opts.faults ?? new FaultPlan();
    this.mode = new TapeModeState((on) => (this.dSense = on));
  }

  override inquiryFlags(): { rmb?: boolean } {
    return { rmb: true };
  }

  /** VPD B0h Sequential-access device capabilities: page length 2, WORM (byte 4 bit 0) = 0. */
  override extraVpdPages(): Map<number, () => Buffer> {
    return new Map([[0xb0, () => vpdPage(this.identity.deviceType, 0xb0, Buffer.alloc(2))]]);
  }

  /** MODE SELECT may pick any density the drive reports (tape-ssc.md §3.4). */
  densitySupported(code: number): boolean {
    return SUPPORTED_DENSITIES.some((d) => d.primaryCode === code);
  }

  // ------------------------------------------------------------ cartridge API (lab, management API)

  get cartridge(): Cartridge | undefined {
    return this.cart;
  }

  /** Current logical object number (next object to be read or written). */
  get position(): number {
    return this.pos;
  }

  get isReady(): boolean {
    return !!this.cart && this.threaded && !this.mediumFault && Date.now() >= this.becomingReadyUntil;
  }

  /** Insert and thread a cartridge (an open Cartridge, or an image path to open). */
  async loadCartridge(c: Cartridge | string, opts: { delayMs?: number } = {}): Promise<void> {
    await this.serial(undefined, async () => {
      if (this.cart || this.mediumFault) throw new Error(`${this.identity.name}: drive already holds ${this.cart?.barcode ?? 'an unreadable cartridge'}`);
      this.mediumFault = undefined;
      if (typeof c === 'string') {
        try {
          c = await Cartridge.open(c);
        } catch (e) {
          if (!(e instanceof CartridgeFormatError)) throw e;
          // Keep the drive occupied by an unusable cartridge, as a real drive with a bad tape is.
          this.mediumFault = { key: SenseKey.MEDIUM_ERROR, asc: e.asc, ascq: e.ascq };
          this.threaded = true;
          this.queueUnitAttention(UA.MEDIUM_CHANGED);
          return;
        }
      }
      if (!c.isOpen) throw new Error(`${this.identity.name}: cartridge ${c.barcode} is closed; open it before loading`);
      this.cart = c;
      this.threaded = true;
      this.pos = 0;
      this.positionLost = false;
      this.dirty = false;
      this.mode.density = 0;
      this.resetCounters();
      this.alerts.loaded(c.barcode.startsWith('CLN'));
      this.recordLoad(c);
      this.becomingReadyUntil = Date.now() + (opts.delayMs ?? this.opts.loadDelayMs ?? 0);
      c.event(`loaded in ${this.identity.name}`);
      this.queueUnitAttention(UA.MEDIUM_CHANGED);
    });
  }

  /** LOG SELECT PCR=1 and every load start the per-load counters again. */
  resetCounters(): void {
    for (const k of Object.keys(this.counters) as Array<keyof TapeDrive['counters']>) this.counters[k] = 0;
  }

  /** MAM 0003h load count and 020Ah–020Dh load history: this drive becomes "device at last load". */
  private recordLoad(c: Cartridge): void {
    c.meta.loadCount++;
    const me = this.identity.vendor.padEnd(8).slice(0, 8) + this.identity.serial.padEnd(32).slice(0, 32);
    c.meta.loadHistory = [me, ...c.meta.loadHistory].slice(0, 4);
    c.touchMeta();
  }

  /**
   * Every CHECK CONDITION this drive reports passes here (not REQUEST SENSE, which repeats one); TapeAlert flags are raised from it (smc.md §5.3
   * table), so a fault injected anywhere sets its flag without each handler knowing about alerts.
   */
  override checkCondition(s: SenseInfo): ScsiResult {
    this.noteSense(s);
    return super.checkCondition(s);
  }

  override resultOf(e: unknown, nexus?: ITNexus): ScsiResult {
    if (e instanceof ScsiError) this.noteSense(e.sense);
    return super.resultOf(e, nexus);
  }

  private noteSense(s: SenseInfo): void {
    this.alerts.fromSense(s);
    if (s.key === SenseKey.MEDIUM_ERROR && s.asc === 0x11) this.counters.readErrors++;
    if (s.key === SenseKey.MEDIUM_ERROR && s.asc === 0x0c) this.counters.writeErrors++;
  }

  /**
   * LU reset, target reset and power on (the router calls reset(kind)):
   * SPC ends every PREVENT there, and TapeAlert flags clear (smc.md §6 "Power cycle").
   */
  protected override onReset(kind: ResetKind): void {
    super.onReset(kind);
    this.prevention.clear();
    this.alerts.clear();
  }

  /** Rewind and unthread; the cartridge stays in the drive (2/04/02 until LOAD). */
  async unload(opts: { force?: boolean } = {}): Promise<void> {
    await this.serial(undefined, () => this.doUnload(true, opts.force ?? false));
  }

  /** Unload and remove the cartridge; returns it (closed) for the vault. */
  async eject(opts: { force?: boolean } = {}): Promise<Cartridge | undefined> {
    return this.serial(undefined, async () => {
      const c = this.cart;
      await this.doUnload(false, opts.force ?? false);
      return c;
    });
  }

  /** A snapshot for the management API and dashboard. */
  status(): TapeDriveStatus {
    const c = this.cart;
    const state: TapeDriveStatus['state'] = this.mediumFault
      ? 'unreadable'
      : !c
        ? 'empty'
        : !this.threaded
          ? 'held'
          : Date.now() < this.becomingReadyUntil
            ? 'loading'
            : 'ready';
    return {
      state,
      ...(c
        ? {
            barcode: c.barcode,
            writeProtected: c.writeProtected,
            position: this.positionLost ? null : this.pos,
            fileId: this.positionLost ? null : c.fileIdAt(this.pos),
            objects: c.count,
            filemarks: c.filemarkCount,
            bytesUsed: c.length,
            capacity: this.points(c).peop,
            earlyWarningAt: this.points(c).ew,
          }
        : {}),
      blockLength: this.mode.blockLength,
      removalPrevented: this.prevention.held,
    };
  }

  get removalPrevented(): boolean {
    return this.prevention.held;
  }

  override nexusLost(nexus: ITNexus): void {
    super.nexusLost(nexus);
    // SPC: a prevent held by a nexus ends with the nexus.
    this.prevention.nexusLost(nexus);
  }

  private async doUnload(hold: boolean, force: boolean): Promise<void> {
    if (!this.cart && !this.mediumFault) return;
    if (this.prevention.held && !force) throw Sense.mediumRemovalPrevented();
    if (this.cart) await this.cart.sync();
    this.pos = 0;
    this.dirty = false;
    this.threaded = false;
    if (hold && !this.mediumFault) return;
    const c = this.cart;
    this.cart = undefined;
    this.mediumFault = undefined;
    this.alerts.unloaded();
    if (c) {
      c.event(`ejected from ${this.identity.name}`);
      await c.close();
      this.opts.onEject?.(c);
    }
  }

  // ------------------------------------------------------------ helpers used by the handlers

  /** Run medium commands one at a time; a task aborted while it waited its turn does nothing. */
  serial<T>(abort: AbortCheck | undefined, fn: () => Promise<T> | T): Promise<T> {
    const go = () => {
      abort?.throwIfAborted();
      return fn();
    };
    const run = this.queue.then(go, go);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The checks every medium-access command makes, in the order a drive makes them. */
  medium(): Cartridge {
    if (this.mediumFault && this.threaded) throw new ScsiError(this.mediumFault);
    if (!this.cart && !this.mediumFault) throw Sense.mediumNotPresent();
    if (!this.threaded) throw Sense.notReady(0x02);
    if (Date.now() < this.becomingReadyUntil) throw Sense.becomingReady();
    if (this.faults.armed) this.faults.checkReady();
    return this.cart!;
  }

  /** Medium access that needs a known position. */
  positioned(): Cartridge {
    const c = this.medium();
    if (this.tapeFaults.losePosition) {
      this.tapeFaults.losePosition = false;
      this.positionLost = true;
    }
    if (this.positionLost) throw new ScsiError({ key: SenseKey.MEDIUM_ERROR, asc: 0x3b, ascq: 0x00 });
    return c;
  }

  writable(): Cartridge {
    const c = this.positioned();
    if (c.writeProtected || this.mode.softwareWriteProtect) throw Sense.writeProtected();
    return c;
  }

  async flushIfDirty(c: Cartridge): Promise<void> {
    if (this.dirty) {
      await c.sync();
      this.dirty = false;
    }
  }

  /** Capacity points of the loaded cartridge, fault overrides applied. */
  points(c: Cartridge): { peop: number; ew: number; pew: number | undefined } {
    const peop = this.tapeFaults.endOfMediumAt ?? c.meta.capacity;
    const ew = this.tapeFaults.earlyWarningAt ?? peop - c.meta.earlyWarning;
    const pew = c.meta.programmableEarlyWarning > 0 ? ew - c.meta.programmableEarlyWarning : undefined;
    return { peop, ew, pew };
  }

  /** Warning to report after a write-type command that completed (0/00/02 at EW, 0/00/07 past PEW). */
  warningAfterWrite(c: Cartridge): SenseInfo | undefined {
    const { ew, pew } = this.points(c);
    const at = c.offsetOf(this.pos);
    if (at >= ew) return noSense(0x00, 0x02, { eom: true, information: 0 });
    if (pew !== undefined && at > pew) return noSense(0x00, 0x07, { eom: true, information: 0 });
    return undefined;
  }

  /**
   * Objects recorded beyond PEOP exist only when a fault moved PEOP below EOD; reading or spacing
   * into them is "READ runs into PEOP" (3/00/02 EOM). Returns the first object at/after PEOP.
   */
  peopObject(c: Cartridge): number {
    const peop = this.points(c).peop;
    return peop >= c.length ? c.count : c.objectAtOffset(peop);
  }

  private endOfPartition(residue: number): SenseInfo {
    return { key: SenseKey.MEDIUM_ERROR, asc: 0x00, ascq: 0x02, eom: true, information: residue };
  }

  eodPastEw(c: Cartridge): boolean {
    return c.length >= this.points(c).ew;
  }

  positionData(): TapePosition {
    const c = this.cart;
    const known = !!c && !this.positionLost;
    const at = known ? c.offsetOf(this.pos) : 0;
    const pts = c ? this.points(c) : undefined;
    return {
      bop: known && this.pos === 0,
      eop: known && !!pts && at >= pts.ew,
      locationUnknown: !known,
      markUnknown: !known,
      bpew: known && !!pts && pts.pew !== undefined && at > pts.pew,
      partition: 0,
      firstObject: known ? this.pos : 0,
      lastObject: known ? this.pos : 0,
      fileId: known ? c.fileIdAt(this.pos) : 0,
      objectsInBuffer: 0,
      bytesInBuffer: 0,
    };
  }

  // ------------------------------------------------------------ command bodies

  /**
   * The positioning half of READ(16)/WRITE(16)/WRITE FILEMARKS(16): exactly LOCATE(16) DEST_TYPE
   * 000b (smc.md §5.1, dmsim decision), run inside the command's queue slot. Returns the sense that
   * ends the command (object beyond EOD: 8/00/05, at EOD) or undefined when positioned.
   */
  private async explicitLocate(at: ExplicitAddress): Promise<SenseInfo | undefined> {
    const c = this.medium();
    await this.flushIfDirty(c);
    this.positionLost = false;
    this.tapeFaults.losePosition = false;
    if (at.logicalId > c.count) {
      this.pos = c.count;
      return { key: SenseKey.BLANK_CHECK, asc: 0x00, ascq: 0x05, ...(this.eodPastEw(c) ? { eom: true } : {}) };
    }
    this.pos = at.logicalId;
    return undefined;
  }

  /** Single partition: PARTITION (CDB byte 3 of the 16-byte forms) other than 0 → 5/24/00. */
  private checkPartition(at: ExplicitAddress | undefined): void {
    if (at && at.partition !== 0) throw Sense.invalidFieldInCdb(3);
  }

  async read(ctx: Ctx, cdb: ReadWrite6Cdb = decodeReadWrite6(ctx.cdb), at?: ExplicitAddress): Promise<HandlerOutput> {
    const { fixed, sili, transferLength: n } = cdb;
    const bl = this.mode.blockLength;
    if (fixed && sili) throw Sense.invalidFieldInCdb(1, 1);
    if (fixed && bl === 0) throw Sense.invalidFieldInCdb(1, 0);
    if (!fixed && n > this.maxBlockLength) throw Sense.invalidFieldInCdb(at ? 12 : 2);
    if (fixed && n * bl > MAX_TRANSFER) throw Sense.invalidFieldInCdb(at ? 12 : 2);
    this.checkPartition(at);
    if (n === 0 && !at) {
      this.medium();
      return undefined;
    }
    return this.serial(abortOf(ctx), async () => {
      if (at) {
        const stop = await this.explicitLocate(at);
        if (stop) return cc(this, stop);
        if (n === 0) return undefined;
      }
      const c = this.positioned();
      await this.flushIfDirty(c);
      const from = this.pos;
      const out = fixed ? await this.readFixed(c, n, bl, ctx.signal) : await this.readVariable(c, n, sili, bl, ctx.signal);
      return Buffer.isBuffer(out) ? this.reportEwCrossing(c, from, out) : out;
    });
  }

  /**
   * REW=1 (device configuration page): a READ or SPACE that completed and carried the position
   * forward across EW ends with 0/00/02 + EOM, INFORMATION 0, data still transferred.
   */
  private reportEwCrossing(c: Cartridge, from: number, data?: Buffer): HandlerOutput {
    if (this.mode.reportEarlyWarning) {
      const { ew } = this.points(c);
      if (c.offsetOf(from) < ew && c.offsetOf(this.pos) >= ew) return cc(this, noSense(0x00, 0x02, { eom: true, information: 0 }), data);
    }
    return data;
  }

  private readFault(i: number): boolean {
    return this.faults.armed && this.faults.mediumErrorIn('read', i, 1) !== undefined;
  }

  private blankCheck(c: Cartridge, residue: number): SenseInfo {
    return { key: SenseKey.BLANK_CHECK, asc: 0x00, ascq: 0x05, information: residue, ...(this.eodPastEw(c) ? { eom: true } : {}) };
  }

  private async readVariable(c: Cartridge, n: number, sili: boolean, modeBl: number, signal?: AbortSignal): Promise<HandlerOutput> {
    const i = this.pos;
    if (i >= c.count) return cc(this, this.blankCheck(c, n));
    if (i >= this.peopObject(c)) return cc(this, this.endOfPartition(n));
    if (c.isFilemark(i)) {
      this.pos++;
      return cc(this, noSense(0x00, 0x01, { filemark: true, information: n }));
    }
    const len = c.recordLength(i);
    this.pos++;
    if (c.isBad(i) || this.readFault(i)) {
      return cc(this, { key: SenseKey.MEDIUM_ERROR, asc: 0x11, ascq: 0x00, information: n });
    }
    const data = await c.readRecord(i, n);
    this.countRead(c, len, data.length, 1);
    if (this.faults.armed) await this.faults.pace(data.length, signal);
    if (len === n) return data;
    if (len < n) return sili ? data : cc(this, noSense(0x00, 0x00, { ili: true, information: n - len }), data);
    // Overlength block: SILI suppresses the report only in variable mode with mode block length 0.
    if (sili && modeBl === 0) return data;
    return cc(this, noSense(0x00, 0x00, { ili: true, information: n - len }), data);
  }

  private async readFixed(c: Cartridge, n: number, bl: number, signal?: AbortSignal): Promise<HandlerOutput> {
    const out = Buffer.allocUnsafe(n * bl);
    const peopAt = this.peopObject(c);
    // Find the run of good records first (index checks only), read it in one go, then answer for
    // whatever stopped it.
    const start = this.pos;
    let k = 0;
    let stop: SenseInfo | undefined;
    // Whether the object that stopped the read was passed over (filemark, bad or wrong-length record).
    let passed = true;
    for (; k < n; k++) {
      const i = start + k;
      if (i >= c.count || i >= peopAt) {
        stop = i >= c.count ? this.blankCheck(c, n - k) : this.endOfPartition(n - k);
        passed = false;
        break;
      }
      if (c.isFilemark(i)) {
        stop = noSense(0x00, 0x01, { filemark: true, information: n - k });
        break;
      }
      if (c.isBad(i) || this.readFault(i)) {
        stop = { key: SenseKey.MEDIUM_ERROR, asc: 0x11, ascq: 0x00, information: n - k };
        break;
      }
      if (c.recordLength(i) !== bl) {
        stop = noSense(0x00, 0x00, { ili: true, information: n - k });
        break;
      }
    }
    if (k > 0) await c.readRecords(start, k, bl, out);
    this.countRead(c, k * bl, k * bl, k);
    this.pos = start + k + (stop && passed ? 1 : 0);
    if (this.faults.armed) await this.faults.pace(k * bl, signal);
    return stop ? cc(this, stop, out.subarray(0, k * bl)) : out;
  }

  private countRead(c: Cartridge, media: number, host: number, blocks: number): void {
    this.counters.mediaRead += media;
    this.counters.hostRead += host;
    this.counters.blocksRead += blocks;
    c.meta.lifetimeRead += media;
  }

  async write(ctx: Ctx, cdb: Omit<ReadWrite6Cdb, 'sili'> = decodeReadWrite6(ctx.cdb), at?: ExplicitAddress): Promise<HandlerOutput> {
    const { fixed, transferLength: n } = cdb;
    const bl = this.mode.blockLength;
    if (fixed && bl === 0) throw Sense.invalidFieldInCdb(1, 0);
    if (!fixed && n > this.maxBlockLength) throw Sense.invalidFieldInCdb(at ? 12 : 2);
    if (fixed && n * bl > MAX_TRANSFER) throw Sense.invalidFieldInCdb(at ? 12 : 2);
    this.checkPartition(at);
    const recLen = fixed ? bl : n;
    const blocks = fixed ? n : 1;
    const bytes = recLen * blocks;
    if (n === 0 && !at) {
      this.medium();
      return undefined;
    }
    const data = ctx.task.dataOut;
    if (!data || data.length < bytes) {
      // The transport delivered less than the CDB describes: refuse rather than record a short block.
      throw new ScsiError({ key: SenseKey.ABORTED_COMMAND, asc: 0x4b, ascq: 0x00 });
    }
    return this.serial(abortOf(ctx), async () => {
      if (at) {
        const stop = await this.explicitLocate(at);
        if (stop) return cc(this, stop);
        if (n === 0) return undefined;
      }
      const c = this.writable();
      const { peop } = this.points(c);
      const span = recordSpan(recLen);
      const room = peop - c.offsetOf(this.pos);
      let fit = Math.max(0, Math.min(blocks, Math.floor(room / span)));
      // An injected write fault at object k: the blocks before it are recorded, then 3/0C/00.
      const bad = this.faults.armed ? this.faults.mediumErrorIn('write', this.pos, fit) : undefined;
      if (bad !== undefined) fit = bad - this.pos;
      if (fit > 0) {
        if (this.faults.armed) await this.faults.pace(fit * recLen, ctx.signal);
        await c.writeRecords(this.pos, data, recLen, fit);
        this.counters.hostWritten += fit * recLen;
        this.counters.mediaWritten += fit * recLen;
        this.counters.blocksWritten += fit;
        c.meta.lifetimeWritten += fit * recLen;
        c.meta.volumeChangeRef++;
        this.pos = c.count;
        this.dirty = true;
      }
      if (bad !== undefined) {
        await c.truncateAt(this.pos);
        return cc(this, { key: SenseKey.MEDIUM_ERROR, asc: 0x0c, ascq: 0x00, information: fixed ? blocks - fit : n });
      }
      if (fit < blocks) {
        // Nothing partial is ever recorded; the new EOD is after the last whole block.
        await c.truncateAt(this.pos);
        this.dirty = true;
        return cc(this, { key: SenseKey.VOLUME_OVERFLOW, asc: 0x00, ascq: 0x02, eom: true, information: fixed ? blocks - fit : n });
      }
      const warn = this.warningAfterWrite(c);
      return warn ? cc(this, warn) : undefined;
    });
  }

  async writeFilemarks(ctx: Ctx, cdb: WriteFilemarksCdb = decodeWriteFilemarks6(ctx.cdb), at?: ExplicitAddress): Promise<HandlerOutput> {
    const { wsmk, count, immed } = cdb;
    if (wsmk) throw Sense.invalidFieldInCdb(1, 1);
    // IMMED only makes sense with a buffer to return early from.
    if (immed && this.mode.bufferedMode === 0) throw Sense.invalidFieldInCdb(1, 0);
    this.checkPartition(at);
    return this.serial(abortOf(ctx), async () => {
      if (at) {
        const stop = await this.explicitLocate(at);
        if (stop) return cc(this, stop);
      }
      if (count === 0) {
        // Flush only: a sync point, legal on a protected cartridge.
        const c = this.positioned();
        await c.sync();
        this.dirty = false;
        return undefined;
      }
      const c = this.writable();
      const { peop } = this.points(c);
      const room = peop - c.offsetOf(this.pos);
      const fit = Math.max(0, Math.min(count, Math.floor(room / MARK_SPAN)));
      if (fit > 0) await c.writeFilemarks(this.pos, fit);
      else await c.truncateAt(this.pos);
      c.meta.volumeChangeRef++;
      this.pos = c.count;
      await c.sync();
      this.dirty = false;
      if (fit < count) return cc(this, { key: SenseKey.VOLUME_OVERFLOW, asc: 0x00, ascq: 0x02, eom: true, information: count - fit });
      const warn = this.warningAfterWrite(c);
      return warn ? cc(this, warn) : undefined;
    });
  }

  async space(ctx: Ctx, sixteen: boolean): Promise<HandlerOutput> {
    const { code, count } = sixteen ? decodeSpace16(ctx.cdb) : decodeSpace6(ctx.cdb);
    if (code !== SpaceCode.BLOCKS && code !== SpaceCode.FILEMARKS && code !== SpaceCode.END_OF_DATA) throw Sense.invalidFieldInCdb(1, 3);
    return this.serial(abortOf(ctx), async () => {
      const c = this.positioned();
      await this.flushIfDirty(c);
      if (code === SpaceCode.END_OF_DATA) {
        this.pos = c.count;
        return undefined;
      }
      if (count === 0) return undefined;
      const from = this.pos;
      const s = code === SpaceCode.BLOCKS ? this.spaceBlocks(c, count) : this.spaceFilemarks(c, count);
      return s ? cc(this, s) : this.reportEwCrossing(c, from);
    });
  }

  private spaceBlocks(c: Cartridge, count: number): SenseInfo | undefined {
    const p = this.pos;
    if (count > 0) {
      const fm = c.nextFilemark(p);
      if (fm !== undefined && fm < p + count) {
        this.pos = fm + 1;
        return noSense(0x00, 0x01, { filemark: true, information: count - (fm - p) });
      }
      const limit = this.peopObject(c);
      if (p + count > limit && limit < c.count) {
        this.pos = limit;
        return this.endOfPartition(count - (limit - p));
      }
      if (p + count > c.count) {
        this.pos = c.count;
        return this.blankCheck(c, count - (c.count - p));
      }
      this.pos = p + count;
      return undefined;
    }
    const m = -count;
    const fm = c.prevFilemark(p);
    const floor = fm === undefined ? 0 : fm + 1;
    if (p - m >= floor) {
      this.pos = p - m;
      return undefined;
    }
    const spaced = p - floor;
    if (fm !== undefined) {
      this.pos = fm;
      return noSense(0x00, 0x01, { filemark: true, information: m - spaced });
    }
    this.pos = 0;
    return noSense(0x00, 0x04, { eom: true, information: m - spaced });
  }

  private spaceFilemarks(c: Cartridge, count: number): SenseInfo | undefined {
    const before = c.fileIdAt(this.pos);
    if (count > 0) {
      const target = c.filemark(before + count - 1);
      const limit = this.peopObject(c);
      if (target !== undefined && target < limit) {
        this.pos = target + 1;
        return undefined;
      }
      if (limit < c.count) {
        this.pos = limit;
        return this.endOfPartition(count - (c.fileIdAt(limit) - before));
      }
      const spaced = c.filemarkCount - before;
      this.pos = c.count;
      return this.blankCheck(c, count - spaced);
    }
    const m = -count;
    if (m <= before) {
      this.pos = c.filemark(before - m)!;
      return undefined;
    }
    this.pos = 0;
    return noSense(0x00, 0x04, { eom: true, information: m - before });
  }

  async locate(ctx: Ctx, l: LocateCdb, partitionByte: number): Promise<HandlerOutput> {
    if (l.cp && l.partition !== 0) throw Sense.invalidFieldInCdb(partitionByte);
    if (l.destType !== LocateDestType.OBJECT && l.destType !== LocateDestType.FILE && l.destType !== LocateDestType.END_OF_DATA) {
      throw Sense.invalidFieldInCdb(1, 5);
    }
    return this.serial(abortOf(ctx), async () => {
      const c = this.medium();
      await this.flushIfDirty(c);
      this.positionLost = false;
      this.tapeFaults.losePosition = false;
      let target: number;
      if (l.destType === LocateDestType.END_OF_DATA) target = c.count;
      else if (l.destType === LocateDestType.FILE) {
        if (l.logicalId === 0) target = 0;
        else {
          const fm = c.filemark(l.logicalId - 1);
          target = fm === undefined ? c.count + 1 : fm + 1;
        }
      } else target = l.logicalId;
      if (target > c.count) {
        this.pos = c.count;
        return cc(this, { key: SenseKey.BLANK_CHECK, asc: 0x00, ascq: 0x05, ...(this.eodPastEw(c) ? { eom: true } : {}) });
      }
      this.pos = target;
      return undefined;
    });
  }

  async rewind(signal?: AbortSignal): Promise<HandlerOutput> {
    return this.serial(signal, async () => {
      const c = this.medium();
      await c.sync();
      this.dirty = false;
      this.pos = 0;
      this.positionLost = false;
      this.tapeFaults.losePosition = false;
      return undefined;
    });
  }

  async erase(ctx: Ctx): Promise<HandlerOutput> {
    decodeErase6(ctx.cdb);
    return this.serial(abortOf(ctx), async () => {
      const c = this.writable();
      // Short and long erase both establish EOD here (tape-ssc.md §3.10).
      await c.truncateAt(this.pos);
      await c.sync();
      this.dirty = false;
      return undefined;
    });
  }

  async loadUnload(ctx: Ctx): Promise<HandlerOutput> {
    const l = decodeLoadUnload(ctx.cdb);
    if (l.eot) throw Sense.invalidFieldInCdb(4, 2);
    return this.serial(abortOf(ctx), async () => {
      if (!this.cart && !this.mediumFault) throw Sense.mediumNotPresent();
      if (l.load) {
        if (l.hold) return undefined;
        if (this.mediumFault) throw new ScsiError(this.mediumFault);
        const wasThreaded = this.threaded;
        if (this.cart) await this.cart.sync();
        this.threaded = true;
        this.pos = 0;
        this.dirty = false;
        this.positionLost = false;
        if (!wasThreaded) this.queueUnitAttention(UA.MEDIUM_CHANGED, { except: ctx.nexus.key });
        return undefined;
      }
      await this.doUnload(l.hold, false);
      return undefined;
    });
  }

  preventAllow(ctx: Ctx): HandlerOutput {
    this.prevention.apply(ctx.cdb, ctx.nexus);
    return undefined;
  }

  readPosition(ctx: Ctx): HandlerOutput {
    const { serviceAction } = decodeReadPositionCdb(ctx.cdb);
    this.medium();
    const p = this.positionData();
    switch (serviceAction) {
      case ReadPositionForm.SHORT:
      case ReadPositionForm.SHORT_VENDOR:
        return encodePositionShort(p);
      case ReadPositionForm.LONG:
        return encodePositionLong(p);
      case ReadPositionForm.EXTENDED:
        return encodePositionExtended(p);
      default:
        throw Sense.invalidFieldInCdb(1, 4);
    }
  }

  readBlockLimits(ctx: Ctx): HandlerOutput {
    const mloi = (ctx.cdb[1]! & 1) === 1;
    if (mloi) {
      // Largest object number the loaded medium could hold: every object at least a filemark.
      const c = this.medium();
      return encodeBlockLimits({ granularity: 0, maxBlockLength: 0, minBlockLength: 0, maxLogicalObjectId: Math.floor(this.points(c).peop / MARK_SPAN) }, true);
    }
    return encodeBlockLimits({ granularity: 0, maxBlockLength: this.maxBlockLength, minBlockLength: 1 });
  }

  reportDensity(ctx: Ctx): HandlerOutput {
    const { media, mediumType } = decodeReportDensityCdb(ctx.cdb);
    if (mediumType) {
      if (media) this.medium();
      return encodeMediumTypeReport(MEDIUM_TYPES);
    }
    if (!media) return encodeDensityReport(SUPPORTED_DENSITIES);
    const c = this.medium();
    const d = SUPPORTED_DENSITIES.find((x) => x.primaryCode === c.meta.density);
    return encodeDensityReport(d ? [{ ...d, deflt: true }] : []);
  }

  testUnitReady(): HandlerOutput {
    this.medium();
    return undefined;
  }
}

/** The SSC command table; the usage masks (src/scsi/tape.ts tapeUsage) name every bit the drive looks at (others → 5/24/00). */
function tapeCommands(): CommandDef<TapeDrive>[] {
  return [
    { opcode: TapeOp.TEST_UNIT_READY, name: 'TEST UNIT READY', cdbLength: 6, rsv: 'other', data: 'none', usage: [...tapeUsage.testUnitReady], handler: (c) => c.lu.testUnitReady() },
    { opcode: TapeOp.REWIND, name: 'REWIND', cdbLength: 6, rsv: 'read', data: 'none', usage: [...tapeUsage.rewind], handler: (c) => c.lu.rewind(c.signal) },
    { opcode: TapeOp.READ_BLOCK_LIMITS, name: 'READ BLOCK LIMITS', cdbLength: 6, rsv: 'read', data: 'in', usage: [...tapeUsage.readBlockLimits], handler: (c) => c.lu.readBlockLimits(c) },
    { opcode: TapeOp.READ_6, name: 'READ(6)', cdbLength: 6, rsv: 'read', data: 'in', usage: [...tapeUsage.read6], handler: (c) => c.lu.read(c) },
    { opcode: TapeOp.WRITE_6, name: 'WRITE(6)', cdbLength: 6, rsv: 'write', data: 'out', usage: [...tapeUsage.write6], handler: (c) => c.lu.write(c) },
    { opcode: TapeOp.WRITE_FILEMARKS_6, name: 'WRITE FILEMARKS(6)', cdbLength: 6, rsv: 'write', data: 'none', usage: [...tapeUsage.writeFilemarks6], handler: (c) => c.lu.writeFilemarks(c) },
    { opcode: TapeOp.SPACE_6, name: 'SPACE(6)', cdbLength: 6, rsv: 'read', data: 'none', usage: [...tapeUsage.space6], handler: (c) => c.lu.space(c, false) },
    { opcode: TapeOp.ERASE_6, name: 'ERASE(6)', cdbLength: 6, rsv: 'write', data: 'none', usage: [...tapeUsage.erase6], handler: (c) => c.lu.erase(c) },
    { opcode: TapeOp.LOAD_UNLOAD, name: 'LOAD UNLOAD', cdbLength: 6, rsv: 'other', data: 'none', usage: [...tapeUsage.loadUnload], handler: (c) => c.lu.loadUnload(c) },
    { opcode: TapeOp.PREVENT_ALLOW, name: 'PREVENT ALLOW MEDIUM REMOVAL', cdbLength: 6, rsv: 'other', data: 'none', usage: [...tapeUsage.preventAllow], handler: (c) => c.lu.preventAllow(c) },
    { opcode: TapeOp.LOCATE_10, name: 'LOCATE(10)', cdbLength: 10, rsv: 'read', data: 'none', usage: [...tapeUsage.locate10], handler: (c) => c.lu.locate(c, decodeLocate10(c.cdb), 8) },
    { opcode: TapeOp.READ_POSITION, name: 'READ POSITION', cdbLength: 10, rsv: 'read', data: 'in', usage: [...tapeUsage.readPosition], handler: (c) => c.lu.readPosition(c) },
    { opcode: TapeOp.REPORT_DENSITY_SUPPORT, name: 'REPORT DENSITY SUPPORT', cdbLength: 10, rsv: 'read', data: 'in', allocation: [7, 2], usage: [...tapeUsage.reportDensitySupport], handler: (c) => c.lu.reportDensity(c) },
    {
      opcode: TapeOp.WRITE_FILEMARKS_16,
      name: 'WRITE FILEMARKS(16)',
      cdbLength: 16,
      rsv: 'write',
      data: 'none',
      usage: [...tapeUsage.writeFilemarks16],
      handler: (c) => {
        const v = decodeWriteFilemarks16(c.cdb);
        return c.lu.writeFilemarks(c, { immed: v.immed, wsmk: false, count: v.count }, v);
      },
    },
    {
      opcode: TapeOp.READ_16,
      name: 'READ(16)',
      cdbLength: 16,
      rsv: 'read',
      data: 'in',
      usage: [...tapeUsage.read16],
      handler: (c) => {
        const v = decodeReadWrite16(c.cdb);
        return c.lu.read(c, v, v);
      },
    },
    {
      opcode: TapeOp.WRITE_16,
      name: 'WRITE(16)',
      cdbLength: 16,
      rsv: 'write',
      data: 'out',
      usage: [...tapeUsage.write16],
      handler: (c) => {
        const v = decodeReadWrite16(c.cdb);
        return c.lu.write(c, v, v);
      },
    },
    {
      opcode: TapeOp.SPACE_16,
      name: 'SPACE(16)',
      cdbLength: 16,
      rsv: 'read',
      data: 'none',
      usage: [...tapeUsage.space16],
      handler: (c) => c.lu.space(c, true),
    },
    {
      opcode: TapeOp.LOCATE_16,
      name: 'LOCATE(16)',
      cdbLength: 16,
      rsv: 'read',
      data: 'none',
      usage: [...tapeUsage.locate16],
      handler: (c) => c.lu.locate(c, decodeLocate16(c.cdb), 3),
    },
  ];
}

