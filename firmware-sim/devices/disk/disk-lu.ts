/**
 * Emulated direct-access block device (SBC-3) over a BlockStore. The command table is the truth
 * for what it supports (RSOC reads it); each handler checks, in SBC order, CDB fields (reserved
 * bits are refused by the base from the usage masks), medium state, LBA range, data-out length and
 * write protection, then moves data with at most one buffer per command (reads hand the store's
 * buffer straight out as data-in, writes hand the initiator's data-out straight to the store).
 *
 * Thin provisioning is on by default (LBPME=1, LBPRZ=1): a map of mapped blocks answers GET LBA
 * STATUS, UNMAP and WRITE SAME(UNMAP) deallocate. A second map records blocks changed since the
 * last `takeChanges()`, for incremental backup.
 */
import { Sense, ScsiError, SenseKey } from '../../../src/scsi/sense.js';
import {
  decodeCachingPage, decodeControlPage, encodeCachingPage, encodeControlPage, encodeInformationalExceptionsPage,
  encodeReadWriteErrorRecoveryPage, ModePage, ModePageSet, PageControl, type BlockDescriptor,
} from '../../../src/scsi/mode.js';
import {
  encodeBlockDeviceCharacteristicsVpd, encodeBlockLimitsVpd, encodeLogicalBlockProvisioningVpd, type BlockCdb, type BlockLimits,
} from '../../../src/scsi/sbc.js';
import { ScsiLogicalUnit, type CommandContext, type CommandTable } from '../../lu/logical-unit.js';
import { RemovalPrevention } from '../../lu/removal-prevention.js';
import { commonCommands } from '../../lu/common-commands.js';
import { FaultPlan } from '../faults.js';
import { ZEROES, type BlockStore } from '../backing/block-store.js';
import { BlockBitmap, type Extent } from './block-bitmap.js';
import { diskCommands } from './commands.js';
import type { DiskOps } from './disk-ops.js';
import { COPY_OPCODES, FILL_CHUNK, MAX_COMPARE_AND_WRITE, MAX_UNMAP_DESCRIPTORS, MAX_WRITE_SAME_BYTES, lengthField, shortDataOut } from './limits.js';
import { initialMap, loadMaps, saveMaps } from './maps.js';
import type { ITNexus, LuIdentity } from '../../router/task.js';
import { copyManagerCommands, vpd8F } from '../../copy-manager/commands.js';
import type { CopyManager } from '../../copy-manager/copy-manager.js';
import type { CopyProfileName } from '../../copy-manager/profile.js';

export interface DiskOptions {
  identity: LuIdentity;
  store: BlockStore;
  blockSize: 512 | 4096;
  /** Thin provisioning: UNMAP, WRITE SAME(UNMAP), GET LBA STATUS, LBPME/LBPRZ. Default true. */
  thin?: boolean;
  /** RMB=1: START STOP UNIT with LOEJ ejects/loads the medium, PREVENT ALLOW guards it. Default false. */
  removable?: boolean;
  /** Hardware write protect (e.g. a read-only image). */
  readOnly?: boolean;
  faults?: FaultPlan;
  /** More commands for this LU's table. */
  extraCommands?: CommandTable<never>;
  /**
   * The copy manager this LU hosts, with the profile it advertises: EXTENDED COPY / RECEIVE COPY
   * RESULTS join the table, INQUIRY says 3PC=1, VPD 8Fh is served, and LU reset / I_T nexus loss
   * discard the LU's copies and their results (SPC-4 table 109, extended-copy.md §7.5).
   */
  copyManager?: { manager: CopyManager; profile: CopyProfileName };
  /** MAXIMUM TRANSFER LENGTH in bytes (VPD B0h); default 64 MiB. */
  maxTransferBytes?: number;
  /**
   * LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (READ CAPACITY(16)) and so the optimal unmap
   * granularity. Default 0: libiscsi's GetLBAStatus.UnmapSingle assumes one logical block per
   * physical block (it expects an extent to start at the next physical block boundary, which SBC
   * does not allow); set 3 to emulate 512e drives and run its LBPPB>1 WRITE SAME tests.
   */
  physicalBlockExponent?: number;
}

type Ctx = CommandContext<DiskLu>;

export class DiskLu extends ScsiLogicalUnit implements DiskOps {
  readonly store: BlockStore;
  readonly blockSize: number;
  readonly blocks: number;
  readonly thin: boolean;
  readonly removable: boolean;
  readonly readOnly: boolean;
  readonly faults: FaultPlan;
  /** Blocks holding data (thin provisioning). */
  readonly mapped: BlockBitmap;
  /** Blocks written, unmapped or otherwise changed since the last takeChanges(). */
  private changed: BlockBitmap;
  readonly pages: ModePageSet;
  readonly maxTransferBlocks: number;
  readonly maxWriteSameBlocks: number;
  private readonly hasCopyManager: boolean;
  private readonly copyManager: DiskOptions['copyManager'];
  private readonly tpcVpd: (() => Buffer) | undefined;
  private readonly lbppbe: number;
  /** START STOP UNIT START=0: media access answers NOT READY 04/02 until START=1. */
  stopped = false;
  mediumPresent = true;
  /** I_T nexuses holding PREVENT MEDIUM REMOVAL. */
  private readonly prevention = new RemovalPrevention();
  private writeCache = true;
  private closed = false;
  /** Set while a COMPARE AND WRITE runs: writes wait for it, so compare and write are one atomic step. */
  private exclusive: Promise<void> | undefined;
  private swp = false;

  constructor(opts: DiskOptions) {
    const cm = opts.copyManager;
    const extra = [...((opts.extraCommands ?? []) as unknown as CommandTable), ...(cm ? (copyManagerCommands(cm.manager, cm.profile) as CommandTable) : [])];
    super(opts.identity, [...commonCommands(), ...diskCommands(opts.thin ?? true), ...extra] as CommandTable<never>);
    this.copyManager = cm;
    this.tpcVpd = cm && vpd8F(cm.profile, opts.identity.deviceType);
    if (opts.blockSize !== 512 && opts.blockSize !== 4096) throw new RangeError(`block size ${opts.blockSize}`);
    if (opts.store.size % opts.blockSize !== 0) throw new RangeError(`store size ${opts.store.size} is not a multiple of ${opts.blockSize}`);
    this.store = opts.store;
    this.blockSize = opts.blockSize;
    this.blocks = opts.store.size / opts.blockSize;
    this.thin = opts.thin ?? true;
    this.removable = opts.removable ?? false;
    this.readOnly = opts.readOnly ?? false;
    this.faults = opts.faults ?? new FaultPlan();
    const saved = loadMaps(opts.store, this.blockSize, this.blocks);
    this.mapped = saved?.mapped ?? initialMap(opts.store, this.blockSize, this.blocks);
    // Without a saved change map nobody knows what changed since the last backup: everything
    // that holds data counts as changed, so an incremental backup falls back to a full one.
    this.changed = saved?.changed ?? BlockBitmap.fromExtents(this.blocks, this.mapped.extents());
    this.hasCopyManager = extra.some((d) => COPY_OPCODES.has(d.opcode));
    this.maxTransferBlocks = Math.max(1, Math.floor((opts.maxTransferBytes ?? 64 << 20) / this.blockSize));
    this.lbppbe = opts.physicalBlockExponent ?? 0;
    if (!Number.isInteger(this.lbppbe) || this.lbppbe < 0 || this.lbppbe > 15) throw new RangeError(`physical block exponent ${this.lbppbe}`);
    this.maxWriteSameBlocks = Math.floor(MAX_WRITE_SAME_BYTES / this.blockSize);
    this.pages = this.makePages();
  }

  override inquiryFlags(): { rmb?: boolean; threePC?: boolean; protect?: boolean } {
    return { rmb: this.removable, threePC: this.hasCopyManager, protect: false };
  }

  override extraVpdPages(): Map<number, () => Buffer> {
    const m = new Map<number, () => Buffer>([
      [0xb0, () => encodeBlockLimitsVpd(this.blockLimits())],
      [0xb1, () => encodeBlockDeviceCharacteristicsVpd({ mediumRotationRate: 1, productType: 0, wabereq: 0, wacereq: 0, nominalFormFactor: 0, fuab: true, vbuls: false })],
    ]);
    if (this.thin) {
      m.set(0xb2, () =>
        encodeLogicalBlockProvisioningVpd({ thresholdExponent: 0, lbpu: true, lbpws: true, lbpws10: true, lbprz: true, ancSup: false, dp: false, provisioningType: 2 }),
      );
    }
    if (this.tpcVpd) m.set(0x8f, this.tpcVpd);
    return m;
  }

  blockLimits(): BlockLimits {
    return {
      wsnz: false,
      maximumCompareAndWriteLength: MAX_COMPARE_AND_WRITE,
      optimalTransferLengthGranularity: this.physicalExponent() ? 1 << this.physicalExponent() : 1,
      maximumTransferLength: this.maxTransferBlocks,
      optimalTransferLength: Math.floor((1 << 20) / this.blockSize),
      maximumPrefetchLength: 0,
      maximumUnmapLbaCount: this.thin ? 0xffffffff : 0,
      maximumUnmapBlockDescriptorCount: this.thin ? MAX_UNMAP_DESCRIPTORS : 0,
      optimalUnmapGranularity: this.thin ? 1 << this.physicalExponent() : 0,
      ugavalid: this.thin,
      unmapGranularityAlignment: 0,
      maximumWriteSameLength: this.maxWriteSameBlocks,
    };
  }

  /** LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT. */
  physicalExponent(): number {
    return this.lbppbe;
  }

  get writeProtected(): boolean {
    return this.readOnly || this.swp;
  }

  // ------------------------------------------------------------ change tracking (incremental backup)

  /** Extents changed since the last call, and start a new epoch. */
  takeChanges(): Extent[] {
    return [...this.changed.takeAndReset().extents()];
  }

  /** Put changes back into the map (a snapshot set that cut them and then failed). */
  markChanged(lba: number, count: number): void {
    this.changed.set(lba, count);
  }

  /** Extents changed since the last takeChanges(), without resetting. */
  peekChanges(): Extent[] {
    return [...this.changed.extents()];
  }

  get changedBlockCount(): number {
    return this.changed.count();
  }

  /** Mapped extents (what a sparse image backup needs to copy). */
  mappedExtents(): Extent[] {
    return [...this.mapped.extents()];
  }

  // ------------------------------------------------------------ resets, nexus loss (router hooks)

  /**
   * LOGICAL UNIT RESET / target reset / power on: PREVENT state cleared (SPC-4 §6.13); every copy
   * on this LU aborted and its saved results discarded (SPC-4 table 109).
   */
  protected override onReset(): void {
    this.prevention.clear();
    this.copyManager?.manager.luReset(this.identity.name);
  }

  override nexusLost(nexus: ITNexus): void {
    super.nexusLost(nexus);
    this.prevention.nexusLost(nexus);
    this.copyManager?.manager.nexusLost(nexus);
  }

  /** PREVENT ALLOW MEDIUM REMOVAL: a per-nexus hold; any holder blocks removal. */
  applyPreventAllow(cdb: Buffer, nexus: ITNexus): void {
    this.prevention.apply(cdb, nexus);
  }

  get isRemovalPrevented(): boolean {
    return this.prevention.held;
  }

  /** Load or eject the medium from the management side (removable disks only). */
  setMediumPresent(present: boolean): void {
    this.mediumPresent = present;
    if (present) this.stopped = false;
  }

  /** Flush, keep the provisioning and change maps beside the image, close. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.store.flush();
    if (this.store.putMeta) {
      // The maps only save work after a restart (without them everything counts as mapped and
      // changed), so failing to keep them must not fail the close.
      try {
        await this.store.putMeta(saveMaps(this.mapped, this.changed, this.blockSize, this.blocks));
      } catch (e) {
        this.onInternalError(e);
      }
    }
    await this.store.close();
  }

  // ------------------------------------------------------------ shared checks

  /** Medium access preconditions, in the order SBC reports them. */
  mediaReady(): void {
    if (!this.mediumPresent) throw Sense.mediumNotPresent();
    if (this.faults.armed) this.faults.checkReady();
    if (this.stopped) throw Sense.notReady(0x02);
  }

  checkRange(lba: number, count: number): void {
    if (lba > this.blocks || lba + count > this.blocks) throw Sense.lbaOutOfRange();
  }

  checkTransferLength(c: BlockCdb): void {
    if (c.count > this.maxTransferBlocks) throw Sense.invalidFieldInCdb(lengthField(c.opcode));
  }

  checkWritable(): void {
    if (this.readOnly) throw Sense.writeProtected();
    if (this.swp) throw new ScsiError({ key: SenseKey.DATA_PROTECT, asc: 0x27, ascq: 0x02 });
  }

  /** The data-out bytes a command needs: exactly `need` (a view), or INVALID FIELD IN COMMAND IU when short. */
  dataOut(ctx: Ctx, need: number): Buffer {
    const d = ctx.takeDataOut(need);
    if (d.length < need) throw shortDataOut();
    return d;
  }

  /**
   * Write data as delivered: when the transport carried less than the CDB's transfer length
   * (expected data transfer length below it), the command is processed normally except that data
   * beyond what arrived is not written (FCP-4 / iSCSI residual overflow; libiscsi's residual tests
   * require GOOD for WRITE AND VERIFY). `need` goes back to the transport (takeDataOut), which
   * reports the residual.
   */
  deliveredData(ctx: Ctx, need: number): Buffer {
    return ctx.takeDataOut(need);
  }

  markWritten(lba: number, count: number): void {
    if (count === 0) return;
    this.mapped.set(lba, count);
    this.changed.set(lba, count);
  }

  // ------------------------------------------------------------ data movement

  /** Read blocks into `into` (count * blockSize bytes, e.g. a transport's recycled buffer) or a new buffer. */
  async readBlocks(lba: number, count: number, signal?: AbortSignal, into?: Buffer): Promise<Buffer> {
    if (this.faults.armed) {
      const bad = this.faults.mediumErrorIn('read', lba, count);
      if (bad !== undefined) throw FaultPlan.mediumError('read', bad);
      await this.faults.pace(count * this.blockSize, signal);
    }
    if (!into) return this.store.read(lba * this.blockSize, count * this.blockSize);
    await this.store.readInto(into, lba * this.blockSize);
    return into;
  }

  /** Write at an LBA; `data` may end inside a block (a short data-out), which is then partly written. */
  async writeBlocks(lba: number, data: Buffer, fua: boolean, signal?: AbortSignal): Promise<void> {
    while (this.exclusive) await this.exclusive;
    return this.writeNow(lba, data, fua, signal);
  }

  /**
   * Run `fn` with every other write held back (COMPARE AND WRITE). Inline store I/O completes in
   * the call that starts it, so writes already past the gate are done when `fn` starts; only
   * thread-pool transfers above the store's inline limit could still be in flight.
   */
  async exclusively<T>(fn: () => Promise<T>): Promise<T> {
    while (this.exclusive) await this.exclusive;
    let release!: () => void;
    this.exclusive = new Promise<void>((r) => (release = r));
    try {
      return await fn();
    } finally {
      this.exclusive = undefined;
      release();
    }
  }

  /** writeBlocks without waiting for an exclusive section (used inside one). */
  async writeNow(lba: number, data: Buffer, fua: boolean, signal?: AbortSignal): Promise<void> {
    const count = Math.ceil(data.length / this.blockSize);
    if (this.faults.armed) {
      const bad = this.faults.mediumErrorIn('write', lba, count);
      if (bad !== undefined) {
        // Blocks before the bad one reach the medium, as on a real drive.
        const good = bad - lba;
        if (good > 0) {
          await this.store.write(lba * this.blockSize, data.subarray(0, Math.min(data.length, good * this.blockSize)));
          this.markWritten(lba, good);
        }
        throw FaultPlan.mediumError('write', bad);
      }
      await this.faults.pace(data.length, signal);
    }
    await this.store.write(lba * this.blockSize, data);
    this.markWritten(lba, count);
    if (fua || !this.writeCache) await this.store.flush();
  }

  /** Deallocate blocks: only mapped runs touch the store, so never-written areas stay sparse. */
  async unmapBlocks(lba: number, count: number, signal?: AbortSignal): Promise<void> {
    let i = lba;
    const end = lba + count;
    while (i < end) {
      signal?.throwIfAborted();
      const unmapped = this.mapped.runLength(i, end - i, false);
      i += unmapped;
      if (i >= end) break;
      const run = this.mapped.runLength(i, end - i, true);
      await this.store.discard(i * this.blockSize, run * this.blockSize);
      i += run;
    }
    this.mapped.clear(lba, count);
    this.changed.set(lba, count);
  }

  /** Write one block's pattern over a range, a megabyte of copies at a time. */
  async fillBlocks(lba: number, count: number, block: Buffer, signal?: AbortSignal): Promise<void> {
    const bs = this.blockSize;
    const zero = isZero(block);
    const perChunk = Math.max(1, Math.floor(FILL_CHUNK / bs));
    let chunk: Buffer;
    if (zero) chunk = ZEROES.subarray(0, Math.min(perChunk, count) * bs);
    else {
      chunk = Buffer.allocUnsafe(Math.min(perChunk, count) * bs);
      for (let p = 0; p < chunk.length; p += bs) block.copy(chunk, p);
    }
    let done = 0;
    while (done < count) {
      signal?.throwIfAborted();
      const n = Math.min(perChunk, count - done);
      await this.writeBlocks(lba + done, n * bs === chunk.length ? chunk : chunk.subarray(0, n * bs), false, signal);
      done += n;
    }
  }

  // ------------------------------------------------------------ mode pages

  private makePages(): ModePageSet {
    return new ModePageSet([
      { code: ModePage.READ_WRITE_ERROR_RECOVERY, defaults: encodeReadWriteErrorRecoveryPage({ awre: true, arre: true }), changeable: Buffer.alloc(12) },
      {
        code: ModePage.CACHING,
        defaults: encodeCachingPage({ wce: true, disablePrefetchTransferLength: 0xffff, maximumPrefetch: 0xffff, maximumPrefetchCeiling: 0xffff }),
        changeable: encodeCachingPage({ wce: true }),
        apply: (p) => {
          this.writeCache = decodeCachingPage(p).wce;
        },
      },
      {
        code: ModePage.CONTROL,
        defaults: encodeControlPage({ tas: true, busyTimeoutPeriod: 0xffff }),
        changeable: encodeControlPage({ dSense: true, swp: true }),
        apply: (p) => {
          const c = decodeControlPage(p);
          this.dSense = c.dSense;
          this.swp = c.swp;
        },
      },
      {
        code: ModePage.INFORMATIONAL_EXCEPTIONS,
        defaults: encodeInformationalExceptionsPage({ dexcpt: true }),
        changeable: Buffer.alloc(12),
      },
    ]);
  }

  descriptors(pc: PageControl): BlockDescriptor[] {
    if (pc === PageControl.CHANGEABLE) return [{ densityCode: 0, blocks: 0, blockLength: 0 }];
    return [{ densityCode: 0, blocks: this.blocks, blockLength: this.blockSize }];
  }
}

function isZero(b: Buffer): boolean {
  for (let p = 0; p < b.length; p += ZEROES.length) {
    const n = Math.min(ZEROES.length, b.length - p);
    if (!b.subarray(p, p + n).equals(ZEROES.subarray(0, n))) return false;
  }
  return true;
}
