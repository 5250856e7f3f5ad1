/**
 * The SMC-3 media changer LU (peripheral device type 08h) of a tape library: a robot (one medium
 * transport), storage slots, an import/export station and the router's tape drives as data transfer
 * elements. Element contents live in the Inventory (crash-safe file); the drives are the existing
 * TapeDrive LUs, which the robot loads (MOVE into a drive threads the cartridge: the drive posts
 * 6/28/00 to its initiators) and unloads (auto-unload, refused while the drive LU holds PREVENT).
 *
 * Motion commands (MOVE, EXCHANGE, POSITION, INITIALIZE ELEMENT STATUS) run FIFO on one robot queue;
 * READ ELEMENT STATUS, INQUIRY, TUR and REQUEST SENSE answer at once and show a cartridge in flight
 * in the transport element. Behaviour and sense per smc.md §2–§4 and its "dmsim:" decisions.
 */
import { Sense, ScsiError, SenseKey } from '../../../src/scsi/sense.js';
import {
  decodeModeSelect,
  decodeModeSense,
  encodeControlPage,
  encodeInformationalExceptionsPage,
  ModePage,
  ModePageSet,
  modeSelect,
  modeSenseData,
  modeUsage,
} from '../../../src/scsi/mode.js';
import {
  ChangerSense,
  ChangerUA,
  capabilityRow,
  decodeExchangeMedium,
  decodeInitializeElementStatusWithRange,
  decodeMoveMedium,
  decodeOpenCloseImportExport,
  decodePositionToElement,
  decodeReadElementStatus,
  encodeDeviceCapabilitiesPage,
  encodeElementAddressPage,
  encodeElementStatus,
  encodeTransportGeometryPage,
  ElementType,
  ImportExportAction,
  MediumType,
  SmcModePage,
  SmcOp,
  type DeviceCapabilities,
  type ElementDescriptor,
  type ElementStatusPage,
} from '../../../src/scsi/smc.js';
import { asciiField } from '../../../src/scsi/layout.js';
import type { ITNexus, LuIdentity, ResetKind } from '../../router/task.js';
import { commonCommands } from '../../lu/common-commands.js';
import { ScsiLogicalUnit, type CommandContext, type CommandDef, type HandlerOutput } from '../../lu/logical-unit.js';
import { RemovalPrevention } from '../../lu/removal-prevention.js';
import type { TapeDrive } from '../tape/drive.js';
import type { ElementInfo, Inventory, Placement } from './inventory.js';
import { logCommands, tapeAlertParams, TapeAlerts, type LogPageDef } from '../tape/log-pages.js';
import { SpcOp } from '../../../src/scsi/spc.js';

/** Robot and drive timings in milliseconds (smc.md §6 "move time model"). */
export interface ChangerTiming {
  positionMs: number;
  /** Pick + place of one cartridge. */
  moveMs: number;
  driveLoadMs: number;
  driveUnloadMs: number;
  initializePerElementMs: number;
}

/** 0 everywhere: unit tests. */
export const INSTANT_TIMING: ChangerTiming = { positionMs: 0, moveMs: 0, driveLoadMs: 0, driveUnloadMs: 0, initializePerElementMs: 0 };
/** A mid-range library: POSITION 1 s, pick+place 4 s, thread 12 s, unload 10 s, 0.1 s per element scanned. */
export const REALISTIC_TIMING: ChangerTiming = { positionMs: 1000, moveMs: 4000, driveLoadMs: 12_000, driveUnloadMs: 10_000, initializePerElementMs: 100 };

export interface ChangerDrive {
  drive: TapeDrive;
  /** LUN of the drive on the changer's target (DT descriptor byte 6 when < 8). */
  lun?: number;
}

export interface ChangerOptions {
  inventory: Inventory;
  /** Data transfer element k (0-based) → its drive; undefined = configured but not installed (83/04). */
  drives: ReadonlyArray<ChangerDrive | undefined>;
  /** Open the cartridge image of `barcode` and thread it in `drive` (after the drive load time). */
  loadCartridge(barcode: string, drive: TapeDrive, delayMs: number): Promise<void>;
  timing?: Partial<ChangerTiming>;
  /** Refuse a MOVE from a drive that still has the tape threaded (5/3B/90) instead of auto-unloading. */
  strictUnload?: boolean;
  /** Called after every committed change of the inventory (API timeline, logs). */
  onChange?: (what: string) => void;
  /**
   * How the robot waits out a step (default: a timer). Tests pass a recorder to check the time
   * model without timing anything; every wait goes through here with the step it stands for.
   */
  sleep?: (ms: number, step: keyof ChangerTiming) => Promise<void>;
}

/** 29h/00h power on or reset, 29h/01h power on, 29h/03h LU reset: what clears prevents and alerts. */

/** Library TapeAlert flags dmsim can raise by fault injection (smc.md §2.13; numbering unconfirmed there). */
export const LibraryAlert = { DOOR: 0x10, MAILSLOT: 0x11 } as const;

type Ctx = CommandContext<ChangerLu>;
const CTRL = 0x00;
const timerSleep = (ms: number) => (ms > 0 ? new Promise<void>((r) => setTimeout(r, ms)) : Promise.resolve());
const SID = { storage: true, importExport: true, dataTransfer: true };

/** MEDIUM TYPE from the barcode: CLN… cleaning, LTO WORM media IDs, else data (smc.md §1.5). */
export function mediumTypeOf(barcode: string): number {
  if (/^CLN/i.test(barcode)) return MediumType.CLEANING;
  if (/L[V-Z]$/i.test(barcode)) return MediumType.WORM;
  return MediumType.DATA;
}

export class ChangerLu extends ScsiLogicalUnit {
  readonly inventory: Inventory;
  readonly timing: ChangerTiming;
  readonly pages: ModePageSet;
  private readonly drives: ReadonlyArray<ChangerDrive | undefined>;
  private robot: Promise<unknown> = Promise.resolve();
  /** The cartridge in the picker while the robot moves it (memory only). */
  private inFlight: { barcode: string; from: number } | undefined;
  private ieOpen = false;
  private doorOpenNow = false;
  private readonly prevention = new RemovalPrevention();
  /** The nexus whose INITIALIZE ELEMENT STATUS is scanning; other nexuses get 2/04/01 meanwhile. */
  private scanningFor: string | undefined;
  /** Fault injection (smc.md §1.7): drives taken offline (3B/1A), inventory lost (83/00 until re-scanned). */
  readonly faults = { offlineDrives: new Set<number>(), inventoryLost: false };
  /** Library TapeAlert flags (LOG SENSE 2Eh). */
  readonly alerts = new TapeAlerts();

  constructor(
    identity: LuIdentity,
    private readonly opts: ChangerOptions,
  ) {
    super(identity, [...commonCommands(), ...changerCommands()] as CommandDef[] as never);
    this.inventory = opts.inventory;
    this.drives = opts.drives;
    this.timing = { ...INSTANT_TIMING, ...opts.timing };
    const map = this.inventory.map;
    const control = encodeControlPage({});
    const iec = encodeInformationalExceptionsPage({});
    const eaa = encodeElementAddressPage(map);
    const geometry = encodeTransportGeometryPage(Array.from({ length: map.transport.count }, (_, k) => ({ rotate: false, member: k })));
    const caps = encodeDeviceCapabilitiesPage(CAPABILITIES);
    const fixed = (b: Buffer) => Buffer.alloc(b.length);
    this.pages = new ModePageSet([
      { code: ModePage.CONTROL, defaults: control, changeable: maskOf(control.length, { 2: 0x04 }), apply: (cur) => (this.dSense = (cur[2]! & 0x04) !== 0) },
      { code: ModePage.INFORMATIONAL_EXCEPTIONS, defaults: iec, changeable: fixed(iec) },
      // Page 1Dh is read-only (smc.md §6): MODE SELECT with other values → 5/26/00 at the first differing byte.
      { code: SmcModePage.ELEMENT_ADDRESS_ASSIGNMENT, defaults: eaa, changeable: fixed(eaa) },
      { code: SmcModePage.TRANSPORT_GEOMETRY, defaults: geometry, changeable: fixed(geometry) },
      { code: SmcModePage.DEVICE_CAPABILITIES, defaults: caps, changeable: fixed(caps) },
    ]);
  }

  override inquiryFlags(): { rmb?: boolean } {
    return { rmb: true };
  }

  // ------------------------------------------------------------ operator side (API, lab)

  get ioStationOpen(): boolean {
    return this.ieOpen;
  }

  get doorOpen(): boolean {
    return this.doorOpenNow;
  }

  /** Any nexus holds PREVENT: the operator may not open the door or the I/E station. */
  get locked(): boolean {
    return this.prevention.held;
  }

  /** The operator puts a shelf cartridge into an empty I/E element (the first one unless named); 6/28/01 follows. */
  async importCartridge(barcode: string, address?: number): Promise<number> {
    if (this.locked) throw new ScsiError({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x53, ascq: 0x02 });
    const ie = this.inventory.runOf(ElementType.IMPORT_EXPORT);
    const target = address ?? [...range(ie.first, ie.count)].find((a) => !this.inventory.content(a));
    if (target === undefined || this.inventory.typeOf(target) !== ElementType.IMPORT_EXPORT) throw new Error(address === undefined ? 'no empty import/export element' : `element ${address} is not an import/export element`);
    await this.inventory.insert(target, { barcode, impexp: true });
    this.queueUnitAttention(ChangerUA.IMPORT_EXPORT_ACCESSED);
    this.opts.onChange?.(`imported ${barcode} into ${target}`);
    return target;
  }

  /** The operator takes the cartridge out of an I/E element (to the shelf); 6/28/01 follows. */
  async exportCartridge(address: number): Promise<Placement> {
    if (this.locked) throw new ScsiError({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x53, ascq: 0x02 });
    if (this.inventory.typeOf(address) !== ElementType.IMPORT_EXPORT) throw new Error(`element ${address} is not an import/export element`);
    const p = await this.inventory.remove(address);
    this.queueUnitAttention(ChangerUA.IMPORT_EXPORT_ACCESSED);
    this.opts.onChange?.(`exported ${p.barcode} from ${address}`);
    return p;
  }

  /**
   * The operator moves a cartridge with the robot (management API): queued behind the initiators'
   * motion commands and checked exactly as MOVE MEDIUM is, so it fails with the same sense.
   */
  operatorMove(from: number, to: number): Promise<void> {
    this.typeAt(from, 4);
    this.typeAt(to, 6);
    return this.onRobot(async () => {
      this.ready();
      this.checkStep(from, to, (a) => !!this.inventory.content(a), 6);
      if (from !== to) await this.carry(from, to);
    });
  }

  /** Open or close the main door; closing re-inventories and posts 6/28/00 to every nexus. */
  setDoor(open: boolean): void {
    if (open && this.locked) throw new ScsiError({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x53, ascq: 0x02 });
    const was = this.doorOpenNow;
    this.doorOpenNow = open;
    if (was && !open) this.queueUnitAttention(ChangerUA.MEDIUM_MAY_HAVE_CHANGED);
  }

  override nexusLost(nexus: ITNexus): void {
    super.nexusLost(nexus);
    this.prevention.nexusLost(nexus);
  }

  /**
   * LU reset, target reset and power on (the router calls reset(kind)):
   * prevents and TapeAlert flags end there (smc.md §6 "Power cycle", §2.13).
   */
  protected override onReset(kind: ResetKind): void {
    super.onReset(kind);
    this.prevention.clear();
    this.alerts.clear();
  }

  private sleep(step: keyof ChangerTiming, ms = this.timing[step]): Promise<void> {
    return this.opts.sleep ? this.opts.sleep(ms, step) : timerSleep(ms);
  }

  /** Fault injection: a drive LU goes offline (DT element EXCEPT 3B/1A, ACCESS=0) or comes back. */
  setDriveOffline(index: number, offline: boolean): void {
    if (offline) this.faults.offlineDrives.add(index);
    else this.faults.offlineDrives.delete(index);
  }

  /** Fault injection: the library forgets what its slots hold; 83/00 on ST/IE elements until INITIALIZE ELEMENT STATUS. */
  loseInventory(): void {
    this.faults.inventoryLost = true;
  }

  // ------------------------------------------------------------ element status

  private driveAt(address: number): ChangerDrive | undefined {
    return this.drives[address - this.inventory.map.dataTransfer.first];
  }

  descriptor(e: ElementInfo, voltag: boolean): ElementDescriptor {
    let content = e.content;
    if (this.inFlight?.from === e.address) content = undefined;
    if (e.type === ElementType.TRANSPORT && this.inFlight && e.index === 0) content = { barcode: this.inFlight.barcode };
    const d: ElementDescriptor = { address: e.address, full: !!content };
    if (content) {
      d.mediumType = mediumTypeOf(content.barcode);
      if (content.source !== undefined) Object.assign(d, { svalid: true, source: content.source });
      if (voltag) d.volumeTag = content.barcode;
    }
    const unscanned = this.faults.inventoryLost && (e.type === ElementType.STORAGE || e.type === ElementType.IMPORT_EXPORT);
    switch (e.type) {
      case ElementType.STORAGE:
        d.access = true;
        break;
      case ElementType.IMPORT_EXPORT:
        Object.assign(d, { access: !this.ieOpen, inenab: true, exenab: true, impexp: !!content?.impexp, oir: false });
        break;
      case ElementType.DATA_TRANSFER: {
        const cd = this.driveAt(e.address);
        if (!cd) {
          Object.assign(d, { access: false, except: true, asc: 0x83, ascq: 0x04 });
          break;
        }
        d.access = !(cd.drive.removalPrevented && cd.drive.cartridge);
        if (this.faults.offlineDrives.has(e.index)) Object.assign(d, { access: false, except: true, asc: 0x3b, ascq: 0x1a });
        if (cd.lun !== undefined && cd.lun < 8) Object.assign(d, { luValid: true, lun: cd.lun });
        const id = cd.drive.identity;
        d.deviceId = {
          codeSet: 2,
          identifierType: 1,
          identifier: Buffer.concat([asciiField(id.vendor, 8), asciiField(id.product, 16), asciiField(id.serial, 10)]),
        };
        break;
      }
    }
    if (unscanned) Object.assign(d, { except: true, asc: 0x83, ascq: 0x00 });
    return d;
  }

  readElementStatus(ctx: Ctx): HandlerOutput {
    const c = decodeReadElementStatus(ctx.cdb);
    this.notScanning(ctx.nexus);
    if (c.elementType > ElementType.DATA_TRANSFER) throw Sense.invalidFieldInCdb(1, 3);
    if (c.mixed) throw Sense.invalidFieldInCdb(6, 2);
    let els = this.inventory.elements().filter((e) => e.address >= c.start && (c.elementType === 0 || e.type === c.elementType));
    if (!els.length) throw ChangerSense.invalidElementAddress(2);
    if (c.count > 0) els = els.slice(0, c.count);
    const pages: ElementStatusPage[] = [];
    for (const e of els) {
      let p = pages.at(-1);
      if (!p || p.type !== e.type) {
        p = { type: e.type, pvoltag: c.voltag, ...(c.dvcid && e.type === ElementType.DATA_TRANSFER ? { identifierLength: 34 } : {}), descriptors: [] };
        pages.push(p);
      }
      const d = this.descriptor(e, c.voltag);
      if (!c.dvcid) delete d.deviceId;
      p.descriptors.push(d);
    }
    // Built in full, cut at the allocation length; header counts stay those of the whole report.
    return encodeElementStatus(pages).subarray(0, c.allocationLength);
  }

  // ------------------------------------------------------------ robot

  /** Motion commands one at a time, in arrival order across all nexuses. */
  private onRobot<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.robot.then(fn, fn);
    this.robot = run.catch(() => undefined);
    return run;
  }

  private ready(nexus?: ITNexus): void {
    if (this.doorOpenNow) throw ChangerSense.doorOpen();
    this.notScanning(nexus);
  }

  /** While INITIALIZE ELEMENT STATUS scans, the library is becoming ready to every other nexus (smc.md §2.8). */
  private notScanning(nexus?: ITNexus): void {
    if (this.scanningFor !== undefined && this.scanningFor !== nexus?.key) throw Sense.becomingReady();
  }

  private checkTransport(transport: number): void {
    if (transport !== 0 && this.inventory.typeOf(transport) !== ElementType.TRANSPORT) throw ChangerSense.invalidElementAddress(2);
  }

  private typeAt(address: number, byte: number): ElementType {
    const t = this.inventory.typeOf(address);
    if (t === undefined) throw ChangerSense.invalidElementAddress(byte);
    return t;
  }

  /** Page 1Fh says whether MOVE MEDIUM from type a to type b is allowed. */
  private static movable(a: ElementType, b: ElementType): boolean {
    return !!CAPABILITIES.move[capabilityRow(a)][capabilityRow(b)];
  }

  /** The checks of one move step before any motion (smc.md §2.4 order, after addresses and INVERT). */
  private checkStep(from: number, to: number, occupied: (a: number) => boolean, destByte: number): void {
    const ft = this.inventory.typeOf(from)!;
    const tt = this.inventory.typeOf(to)!;
    if (!ChangerLu.movable(ft, tt)) throw Sense.invalidFieldInCdb(destByte);
    if (this.ieOpen && (ft === ElementType.IMPORT_EXPORT || tt === ElementType.IMPORT_EXPORT)) throw ChangerSense.magazineNotAccessible();
    if (!occupied(from)) throw ChangerSense.sourceEmpty();
    if (from !== to && occupied(to)) throw ChangerSense.destinationFull();
    if (ft === ElementType.DATA_TRANSFER) {
      const cd = this.driveAt(from);
      if (!cd) throw ChangerSense.sourceEmpty();
      const threaded = !!cd.drive.cartridge;
      if (threaded && cd.drive.removalPrevented) throw ChangerSense.removalPreventedByDrive();
      if (threaded && this.opts.strictUnload && cd.drive.status().state !== 'held') throw ChangerSense.loadedInDrive();
    }
    if (tt === ElementType.DATA_TRANSFER && !this.driveAt(to)) throw ChangerSense.invalidElementAddress(destByte);
    // dmsim choice: the robot cannot reach a drive that is offline (its descriptor says 3B/1A, ACCESS=0).
    for (const a of [from, to]) {
      const k = a - this.inventory.map.dataTransfer.first;
      if (this.inventory.typeOf(a) === ElementType.DATA_TRANSFER && this.faults.offlineDrives.has(k)) throw new ScsiError({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x3b, ascq: 0x1a });
    }
  }

  /** Take the cartridge out of a drive (auto-unload: rewind, unthread, eject into the throat). */
  private async unloadDrive(address: number): Promise<void> {
    const cd = this.driveAt(address);
    if (!cd?.drive.cartridge) return;
    await this.sleep('driveUnloadMs');
    try {
      await cd.drive.eject();
    } catch (e) {
      if (e instanceof ScsiError && e.sense.asc === 0x53) throw ChangerSense.removalPreventedByDrive();
      throw ChangerSense.unloadFailed();
    }
  }

  /** One pick-and-place, committed to the inventory, then the drive loaded when the destination is one. */
  private async carry(from: number, to: number): Promise<void> {
    if (this.inventory.typeOf(from) === ElementType.DATA_TRANSFER) await this.unloadDrive(from);
    const p = this.inventory.content(from)!;
    this.inFlight = { barcode: p.barcode, from };
    try {
      await this.sleep('moveMs');
      await this.inventory.move(from, to);
    } finally {
      this.inFlight = undefined;
    }
    this.opts.onChange?.(`moved ${p.barcode} from ${from} to ${to}`);
    if (this.inventory.typeOf(to) === ElementType.DATA_TRANSFER) {
      const cd = this.driveAt(to)!;
      try {
        await this.opts.loadCartridge(p.barcode, cd.drive, this.timing.driveLoadMs);
        // GOOD only once the drive has threaded the tape (smc.md §6).
        await this.sleep('driveLoadMs');
      } catch {
        // A failed load puts the cartridge back where it came from.
        await this.inventory.move(to, from);
        this.opts.onChange?.(`load of ${p.barcode} failed; returned to ${from}`);
        throw ChangerSense.loadFailed();
      }
    }
  }

  async moveMedium(ctx: Ctx): Promise<HandlerOutput> {
    const c = decodeMoveMedium(ctx.cdb);
    this.checkTransport(c.transport);
    this.typeAt(c.source, 4);
    this.typeAt(c.destination, 6);
    if (c.invert) throw Sense.invalidFieldInCdb(10, 0);
    return this.onRobot(async () => {
      this.ready(ctx.nexus);
      this.checkStep(c.source, c.destination, (a) => !!this.inventory.content(a), 6);
      if (c.source === c.destination) return undefined;
      await this.carry(c.source, c.destination);
      return undefined;
    });
  }

  async exchangeMedium(ctx: Ctx): Promise<HandlerOutput> {
    const c = decodeExchangeMedium(ctx.cdb);
    this.checkTransport(c.transport);
    this.typeAt(c.source, 4);
    this.typeAt(c.firstDestination, 6);
    this.typeAt(c.secondDestination, 8);
    if (c.inv1) throw Sense.invalidFieldInCdb(10, 0);
    if (c.inv2) throw Sense.invalidFieldInCdb(10, 1);
    return this.onRobot(async () => {
      this.ready(ctx.nexus);
      // Both steps are checked against the state between them before anything moves.
      const has = (a: number) => !!this.inventory.content(a);
      this.checkStep(c.source, c.firstDestination, (a) => (a === c.firstDestination ? false : has(a)), 6);
      if (!has(c.firstDestination)) throw ChangerSense.sourceEmpty();
      this.checkStep(c.firstDestination, c.secondDestination, (a) => (a === c.firstDestination ? true : a === c.source ? false : has(a)), 8);
      for (const a of [c.source, c.firstDestination]) if (this.inventory.typeOf(a) === ElementType.DATA_TRANSFER) await this.unloadDrive(a);
      const first = this.inventory.content(c.source)!;
      const second = this.inventory.content(c.firstDestination)!;
      this.inFlight = { barcode: first.barcode, from: c.source };
      try {
        await this.sleep('moveMs', 2 * this.timing.moveMs);
        await this.inventory.exchange(c.source, c.firstDestination, c.secondDestination);
      } finally {
        this.inFlight = undefined;
      }
      this.opts.onChange?.(`exchanged ${first.barcode} and ${second.barcode}`);
      for (const [addr, p] of [
        [c.firstDestination, first],
        [c.secondDestination, second],
      ] as const) {
        if (this.inventory.typeOf(addr) !== ElementType.DATA_TRANSFER) continue;
        try {
          await this.opts.loadCartridge(p.barcode, this.driveAt(addr)!.drive, this.timing.driveLoadMs);
          await this.sleep('driveLoadMs');
        } catch {
          throw ChangerSense.loadFailed();
        }
      }
      return undefined;
    });
  }

  async positionToElement(ctx: Ctx): Promise<HandlerOutput> {
    const c = decodePositionToElement(ctx.cdb);
    this.checkTransport(c.transport);
    this.typeAt(c.destination, 4);
    if (c.invert) throw Sense.invalidFieldInCdb(8, 0);
    return this.onRobot(async () => {
      this.ready(ctx.nexus);
      await this.sleep('positionMs');
      return undefined;
    });
  }

  async initializeElementStatus(ctx: Ctx): Promise<HandlerOutput> {
    let n = this.inventory.elements().length;
    if (ctx.cdb[0] !== SmcOp.INITIALIZE_ELEMENT_STATUS) {
      const c = decodeInitializeElementStatusWithRange(ctx.cdb);
      if (c.range) {
        const els = this.inventory.elements().filter((e) => e.address >= c.start);
        if (this.inventory.typeOf(c.start) === undefined && !els.length) throw ChangerSense.invalidElementAddress(2);
        n = c.count ? Math.min(c.count, els.length) : els.length;
      }
    }
    return this.onRobot(async () => {
      this.ready(ctx.nexus);
      this.scanningFor = ctx.nexus.key;
      try {
        await this.sleep('initializePerElementMs', this.timing.initializePerElementMs * n);
      } finally {
        this.scanningFor = undefined;
      }
      // The scan re-learns what every slot holds; nothing changed, so no unit attention (smc.md §2.8).
      this.faults.inventoryLost = false;
      return undefined;
    });
  }

  openCloseImportExport(ctx: Ctx): HandlerOutput {
    const c = decodeOpenCloseImportExport(ctx.cdb);
    if (this.inventory.typeOf(c.address) !== ElementType.IMPORT_EXPORT) throw ChangerSense.invalidElementAddress(2);
    if (c.action === ImportExportAction.OPEN) {
      if (this.locked) throw Sense.mediumRemovalPrevented();
      this.ieOpen = true;
    } else if (c.action === ImportExportAction.CLOSE) {
      if (this.ieOpen) {
        this.ieOpen = false;
        this.queueUnitAttention(ChangerUA.IMPORT_EXPORT_ACCESSED);
      }
    } else throw Sense.invalidFieldInCdb(4, 4);
    return undefined;
  }

  preventAllow(ctx: Ctx): HandlerOutput {
    this.prevention.apply(ctx.cdb, ctx.nexus);
    return undefined;
  }

  testUnitReady(ctx: Ctx): HandlerOutput {
    this.ready(ctx.nexus);
    return undefined;
  }

  modeSense(ctx: Ctx): HandlerOutput {
    // A changer has no block descriptors, even with DBD=0 (smc.md §2.3).
    return modeSenseData(decodeModeSense(ctx.cdb), { pages: this.pages, descriptorForm: 'general', deviceSpecific: () => 0, descriptors: () => [] });
  }

  modeSelect(ctx: Ctx): HandlerOutput {
    const c = decodeModeSelect(ctx.cdb);
    if (c.sp) throw Sense.invalidFieldInCdb(1, 0);
    modeSelect(c, ctx.task.dataOut, { pages: this.pages, descriptorForm: 'general' });
    return undefined;
  }
}

/** Page 1Fh: ST/IE/DT hold media; moves and exchanges between every ST/IE/DT pair; S2C + VTRP. */
const CAPABILITIES: DeviceCapabilities = {
  stor: SID,
  s2c: true,
  vtrp: true,
  ace: false,
  move: { transport: SID, storage: SID, importExport: SID, dataTransfer: SID },
  exchange: { transport: {}, storage: SID, importExport: SID, dataTransfer: SID },
};

function maskOf(len: number, bits: Record<number, number>): Buffer {
  const b = Buffer.alloc(len);
  for (const [i, v] of Object.entries(bits)) b[Number(i)] = v;
  return b;
}

function* range(first: number, count: number): Generator<number> {
  for (let a = first; a < first + count; a++) yield a;
}

/** Changer LOG pages: 00h and 2Eh with the library flags (smc.md §2.13); 2Eh clears when read whole. */
const LOG_PAGES: ReadonlyArray<LogPageDef<ChangerLu>> = [{ code: 0x00 }, { code: 0x2e, build: (lu, zero, consume) => tapeAlertParams(zero ? new Set() : lu.alerts.readPending(consume)) }];

function changerCommands(): CommandDef<ChangerLu>[] {
  return [
    ...logCommands<ChangerLu>(LOG_PAGES, () => undefined),
    { opcode: SpcOp.TEST_UNIT_READY, name: 'TEST UNIT READY', cdbLength: 6, rsv: 'other', data: 'none', usage: [0xff, 0, 0, 0, 0, CTRL], handler: (c) => c.lu.testUnitReady(c) },
    { opcode: SmcOp.INITIALIZE_ELEMENT_STATUS, name: 'INITIALIZE ELEMENT STATUS', cdbLength: 6, rsv: 'other', data: 'none', usage: [0xff, 0, 0, 0, 0, CTRL], handler: (c) => c.lu.initializeElementStatus(c) },
    { opcode: SpcOp.MODE_SENSE_6, name: 'MODE SENSE(6)', cdbLength: 6, rsv: 'always', data: 'in', allocation: [4, 1], usage: [...modeUsage.sense6], handler: (c) => c.lu.modeSense(c) },
    { opcode: SpcOp.MODE_SENSE_10, name: 'MODE SENSE(10)', cdbLength: 10, rsv: 'always', data: 'in', allocation: [7, 2], usage: [...modeUsage.sense10], handler: (c) => c.lu.modeSense(c) },
    { opcode: SpcOp.MODE_SELECT_6, name: 'MODE SELECT(6)', cdbLength: 6, rsv: 'other', data: 'out', usage: [...modeUsage.select6], handler: (c) => c.lu.modeSelect(c) },
    { opcode: SpcOp.MODE_SELECT_10, name: 'MODE SELECT(10)', cdbLength: 10, rsv: 'other', data: 'out', usage: [...modeUsage.select10], handler: (c) => c.lu.modeSelect(c) },
    { opcode: SmcOp.OPEN_CLOSE_IMPORT_EXPORT, name: 'OPEN/CLOSE IMPORT/EXPORT ELEMENT', cdbLength: 6, rsv: 'other', data: 'none', usage: [0xff, 0, 0xff, 0xff, 0x1f, CTRL], handler: (c) => c.lu.openCloseImportExport(c) },
    { opcode: SmcOp.PREVENT_ALLOW, name: 'PREVENT ALLOW MEDIUM REMOVAL', cdbLength: 6, rsv: 'other', data: 'none', usage: [0xff, 0, 0, 0, 0x03, CTRL], handler: (c) => c.lu.preventAllow(c) },
    { opcode: SmcOp.POSITION_TO_ELEMENT, name: 'POSITION TO ELEMENT', cdbLength: 10, rsv: 'other', data: 'none', usage: [0xff, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x01, CTRL], handler: (c) => c.lu.positionToElement(c) },
    {
      opcode: SmcOp.INITIALIZE_ELEMENT_STATUS_WITH_RANGE,
      name: 'INITIALIZE ELEMENT STATUS WITH RANGE',
      cdbLength: 10,
      rsv: 'other',
      data: 'none',
      usage: [0xff, 0x03, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, CTRL],
      handler: (c) => c.lu.initializeElementStatus(c),
    },
    { opcode: SmcOp.MOVE_MEDIUM, name: 'MOVE MEDIUM', cdbLength: 12, rsv: 'other', data: 'none', usage: [0xff, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x01, CTRL], handler: (c) => c.lu.moveMedium(c) },
    { opcode: SmcOp.EXCHANGE_MEDIUM, name: 'EXCHANGE MEDIUM', cdbLength: 12, rsv: 'other', data: 'none', usage: [0xff, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x03, CTRL], handler: (c) => c.lu.exchangeMedium(c) },
    // Byte 1 bits 7–5 are the old LUN field Linux `ch` still fills: looked at (ignored), not rejected.
    { opcode: SmcOp.READ_ELEMENT_STATUS, name: 'READ ELEMENT STATUS', cdbLength: 12, rsv: 'read', data: 'in', allocation: [7, 3], usage: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x07, 0xff, 0xff, 0xff, 0, CTRL], handler: (c) => c.lu.readElementStatus(c) },
    {
      opcode: SmcOp.INITIALIZE_ELEMENT_STATUS_WITH_RANGE_VENDOR,
      name: 'INITIALIZE ELEMENT STATUS WITH RANGE (E7h)',
      cdbLength: 12,
      rsv: 'other',
      data: 'none',
      usage: [0xff, 0x03, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0, 0, CTRL],
      handler: (c) => c.lu.initializeElementStatus(c),
    },
  ];
}
