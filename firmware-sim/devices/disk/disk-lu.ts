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
import { Sense, ScsiError, SenseKey, UA } from '../../../src/scsi/sense.js';
import {
  decodeControlPage, decodeModeSelect, decodeModeSense, encodeCachingPage, encodeControlPage,
  encodeInformationalExceptionsPage, encodeReadWriteErrorRecoveryPage, modeSelect, modeSenseData, modeUsage, ModePage, ModePageSet,
  diskDeviceSpecific, decodeCachingPage, PageControl, type BlockDescriptor, type DescriptorForm,
} from '../../../src/scsi/mode.js';
import {
  decodeReadCapacity10Cdb, decodeReadCapacity16Cdb, encodeReadCapacity10, encodeReadCapacity16, readCapacity10Usage, readCapacity16Usage,
} from '../../../src/scsi/read-capacity.js';
import {
  SbcOp, SaIn16, decodeBlockCdb, decodeGetLbaStatusCdb, decodePreventAllowCdb, decodeStartStopCdb, decodeUnmapCdb, decodeUnmapList,
  encodeBlockDeviceCharacteristicsVpd, encodeBlockLimitsVpd, encodeLbaStatus, encodeLogicalBlockProvisioningVpd, sbcUsage,
  ProvisioningStatus, UNMAP_DESCRIPTOR_LENGTH, UNMAP_HEADER_LENGTH, type BlockCdb, type BlockLimits, type LbaStatusDescriptor,
} from '../../../src/scsi/sbc.js';
import { ScsiLogicalUnit, type CommandContext, type CommandDef, type CommandTable } from '../logical-unit.js';
import { commonCommands } from '../common-commands.js';
import { FaultPlan } from '../faults.js';
import { ZEROES, type BlockStore } from '../backing/block-store.js';
import { BlockBitmap, type Extent } from './block-bitmap.js';
import type { ITNexus, LuIdentity } from '../../router/task.js';

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
  /** More commands for this LU's table, e.g. the copy manager's EXTENDED COPY / RECEIVE COPY RESULTS. */
  extraCommands?: CommandTable<never>;
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

const EMPTY = Buffer.alloc(0);
/** Opcodes of EXTENDED COPY (LID1/LID4) and RECEIVE COPY RESULTS: their presence means 3PC=1. */
const COPY_OPCODES = new Set([0x83, 0x84]);
const MAX_UNMAP_DESCRIPTORS = 256;
/** MAXIMUM COMPARE AND WRITE LENGTH (VPD B0h): the CDB field's whole range. */
const MAX_COMPARE_AND_WRITE = 255;
const MAX_WRITE_SAME_BYTES = 32 << 20;
const FILL_CHUNK = 1 << 20;

/** INVALID FIELD IN COMMAND INFORMATION UNIT: the transport delivered less data-out than the CDB asks for. */
const shortDataOut = () => new ScsiError({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x0e, ascq: 0x03 });
/** Byte offset of the TRANSFER LENGTH field, for field pointers, by CDB size. */
const lengthField = (op: number): number => [4, 7, 7, 0, 10, 6][op >> 5] ?? 0;

export class DiskLu extends ScsiLogicalUnit {
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
  private readonly lbppbe: number;
  /** START STOP UNIT START=0: media access answers NOT READY 04/02 until START=1. */
  stopped = false;
  mediumPresent = true;
  /** I_T nexuses holding PREVENT MEDIUM REMOVAL. */
  private readonly preventers = new Set<string>();
  private writeCache = true;
  private closed = false;
  /** Set while a COMPARE AND WRITE runs: writes wait for it, so compare and write are one atomic step. */
  private exclusive: Promise<void> | undefined;
  private swp = false;

  constructor(opts: DiskOptions) {
    const extra = (opts.extraCommands ?? []) as unknown as CommandTable;
    super(opts.identity, [...commonCommands(), ...diskCommands(opts.thin ?? true), ...extra] as CommandTable<never>);
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

  /** LOGICAL UNIT RESET / target reset / power on: PREVENT state cleared (SPC-4 §6.13). */
  reset(): void {
    this.preventers.clear();
  }

  /**
   * The router signals LOGICAL UNIT RESET and target resets by establishing 29h/xxh unit attentions
   * for every nexus; the disk takes that as its reset (it has no separate reset hook).
   */
  override queueUnitAttention(ua: readonly [number, number], opts: { only?: string; except?: string } = {}): void {
    super.queueUnitAttention(ua, opts);
    if (ua[0] === 0x29 && !opts.only && !opts.except) this.reset();
  }

  override nexusLost(nexus: ITNexus): void {
    super.nexusLost(nexus);
    this.preventers.delete(nexus.key);
  }

  /** PREVENT ALLOW MEDIUM REMOVAL state is per I_T nexus; any holder blocks removal. */
  setPrevent(nexus: ITNexus, on: boolean): void {
    if (on) this.preventers.add(nexus.key);
    else this.preventers.delete(nexus.key);
  }

  get isRemovalPrevented(): boolean {
    return this.preventers.size > 0;
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
      const meta: SavedMaps = {
        version: 1,
        blockSize: this.blockSize,
        blocks: this.blocks,
        mapped: [...this.mapped.extents()].map((e) => [e.lba, e.count]),
        changed: [...this.changed.extents()].map((e) => [e.lba, e.count]),
      };
      await this.store.putMeta(Buffer.from(JSON.stringify(meta)));
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
    const d = ctx.task.dataOut;
    if (!d || d.length < need) throw shortDataOut();
    return d.length === need ? d : d.subarray(0, need);
  }

  /**
   * Write data as delivered: when the transport carried less than the CDB's transfer length
   * (expected data transfer length below it), the command is processed normally except that data
   * beyond what arrived is not written (FCP-4 / iSCSI residual overflow; libiscsi's residual tests
   * require GOOD for WRITE AND VERIFY). The transport reports the residual.
   */
  deliveredData(ctx: Ctx, need: number): Buffer {
    const d = ctx.task.dataOut;
    if (!d) return EMPTY;
    return d.length <= need ? d : d.subarray(0, need);
  }

  markWritten(lba: number, count: number): void {
    if (count === 0) return;
    this.mapped.set(lba, count);
    this.changed.set(lba, count);
  }

  // ------------------------------------------------------------ data movement

  async readBlocks(lba: number, count: number, signal?: AbortSignal): Promise<Buffer> {
    if (this.faults.armed) {
      const bad = this.faults.mediumErrorIn('read', lba, count);
      if (bad !== undefined) throw FaultPlan.mediumError('read', bad);
      await this.faults.pace(count * this.blockSize, signal);
    }
    return this.store.read(lba * this.blockSize, count * this.blockSize);
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

interface SavedMaps {
  version: 1;
  blockSize: number;
  blocks: number;
  mapped: Array<[number, number]>;
  changed: Array<[number, number]>;
}

/** The maps saved at the last clean close, if they exist and fit this LU; anything odd is ignored. */
function loadMaps(store: BlockStore, bs: number, blocks: number): { mapped: BlockBitmap; changed: BlockBitmap } | undefined {
  const raw = store.takeMeta?.();
  if (!raw) return undefined;
  try {
    const m = JSON.parse(raw.toString('utf8')) as Partial<SavedMaps>;
    if (m.version !== 1 || m.blockSize !== bs || m.blocks !== blocks || !Array.isArray(m.mapped) || !Array.isArray(m.changed)) return undefined;
    const build = (xs: unknown[]) => {
      const b = new BlockBitmap(blocks);
      for (const x of xs) {
        if (!Array.isArray(x) || !Number.isSafeInteger(x[0]) || !Number.isSafeInteger(x[1]) || x[0] < 0 || x[1] < 0 || x[0] + x[1] > blocks) throw new RangeError('bad extent');
        b.set(x[0] as number, x[1] as number);
      }
      return b;
    };
    return { mapped: build(m.mapped), changed: build(m.changed) };
  } catch {
    return undefined;
  }
}

/** What is mapped when the LU starts: what the store knows it holds, else all or nothing. */
function initialMap(store: BlockStore, bs: number, blocks: number): BlockBitmap {
  if (store.allocatedRanges) {
    const m = new BlockBitmap(blocks);
    for (const r of store.allocatedRanges()) m.set(Math.floor(r.offset / bs), Math.ceil((r.offset + r.length) / bs) - Math.floor(r.offset / bs));
    return m;
  }
  return store.fresh ? new BlockBitmap(blocks) : BlockBitmap.full(blocks);
}

function isZero(b: Buffer): boolean {
  for (let p = 0; p < b.length; p += ZEROES.length) {
    const n = Math.min(ZEROES.length, b.length - p);
    if (!b.subarray(p, p + n).equals(ZEROES.subarray(0, n))) return false;
  }
  return true;
}

// ================================================================== handlers

async function testUnitReady({ lu }: Ctx): Promise<undefined> {
  // A stopped (START=0) disk still reports ready: only media access needs START (libiscsi's
  // StartStopUnit NoLoej expects this, and SBC-3 lists TEST UNIT READY apart from media access).
  if (!lu.mediumPresent) throw Sense.mediumNotPresent();
  if (lu.faults.armed) lu.faults.checkReady();
  return undefined;
}

async function read({ lu, cdb, signal }: Ctx): Promise<Buffer> {
  const c = decodeBlockCdb(cdb);
  lu.mediaReady();
  lu.checkRange(c.lba, c.count);
  lu.checkTransferLength(c);
  if (c.count === 0) return EMPTY;
  return lu.readBlocks(c.lba, c.count, signal);
}

async function write(ctx: Ctx): Promise<undefined> {
  const { lu, cdb, signal } = ctx;
  const c = decodeBlockCdb(cdb);
  lu.mediaReady();
  lu.checkRange(c.lba, c.count);
  lu.checkTransferLength(c);
  lu.checkWritable();
  const data = lu.deliveredData(ctx, c.count * lu.blockSize);
  if (data.length === 0) return undefined;
  await lu.writeBlocks(c.lba, data, c.fua, signal);
  return undefined;
}

async function writeAndVerify(ctx: Ctx): Promise<undefined> {
  const { lu, cdb, signal } = ctx;
  const c = decodeBlockCdb(cdb);
  lu.mediaReady();
  lu.checkRange(c.lba, c.count);
  lu.checkTransferLength(c);
  lu.checkWritable();
  const data = lu.deliveredData(ctx, c.count * lu.blockSize);
  if (data.length === 0) return undefined;
  // Verification reads the medium back, so the data must be on it first.
  await lu.writeBlocks(c.lba, data, true, signal);
  if (c.bytchk) {
    const back = await lu.store.read(c.lba * lu.blockSize, data.length);
    const at = firstDifference(back, data);
    if (at >= 0) throw Sense.miscompare(at);
  }
  return undefined;
}

async function verify(ctx: Ctx): Promise<undefined> {
  const { lu, cdb, signal } = ctx;
  const c = decodeBlockCdb(cdb);
  if (c.bytchk === 2) throw Sense.invalidFieldInCdb(1, 2);
  lu.mediaReady();
  lu.checkRange(c.lba, c.count);
  lu.checkTransferLength(c);
  if (c.count === 0) return undefined;
  const bs = lu.blockSize;
  const expected = c.bytchk === 0 ? undefined : lu.dataOut(ctx, c.bytchk === 3 ? bs : c.count * bs);
  const medium = await lu.readBlocks(c.lba, c.count, signal);
  if (!expected) return undefined;
  if (c.bytchk === 1) {
    const at = firstDifference(medium, expected);
    if (at >= 0) throw Sense.miscompare(at);
  } else {
    for (let b = 0; b < c.count; b++) {
      const at = firstDifference(medium.subarray(b * bs, (b + 1) * bs), expected);
      if (at >= 0) throw Sense.miscompare(b * bs + at);
    }
  }
  return undefined;
}

/**
 * COMPARE AND WRITE (SBC-3 §5.2): the data-out holds N blocks to compare with the medium and N
 * blocks to write; on a difference nothing is written and MISCOMPARE gives the offset of the first
 * differing byte in the data-out. Compare and write run with other writes held back.
 */
async function compareAndWrite(ctx: Ctx): Promise<undefined> {
  const { lu, cdb, signal } = ctx;
  const c = decodeBlockCdb(cdb);
  if (c.count > MAX_COMPARE_AND_WRITE) throw Sense.invalidFieldInCdb(13);
  lu.mediaReady();
  lu.checkRange(c.lba, c.count);
  lu.checkWritable();
  const half = c.count * lu.blockSize;
  const d = ctx.task.dataOut ?? EMPTY;
  // The data-out must be exactly both halves; any other size contradicts NUMBER OF LOGICAL BLOCKS
  // (e.g. 256 blocks of data behind an NLB byte that wrapped to 0).
  if (d.length !== 2 * half) throw Sense.invalidFieldInCdb(13);
  if (c.count === 0) return undefined;
  await lu.exclusively(async () => {
    const medium = await lu.readBlocks(c.lba, c.count, signal);
    const at = firstDifference(medium, d.subarray(0, half));
    if (at >= 0) throw Sense.miscompare(at);
    await lu.writeNow(c.lba, d.subarray(half), c.fua, signal);
  });
  return undefined;
}

function firstDifference(a: Buffer, b: Buffer): number {
  if (a.equals(b)) return -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

async function synchronizeCache({ lu, cdb }: Ctx): Promise<undefined> {
  const c = decodeBlockCdb(cdb);
  lu.mediaReady();
  lu.checkRange(c.lba, c.count);
  await lu.store.flush();
  return undefined;
}

async function writeSame(ctx: Ctx): Promise<undefined> {
  const { lu, cdb } = ctx;
  const c = decodeBlockCdb(cdb);
  // ANC_SUP=0 in VPD B2h: an anchored state is not offered (SBC-3 §5.43/5.44).
  if (c.anchor) throw Sense.invalidFieldInCdb(1, 4);
  lu.mediaReady();
  if (c.lba > lu.blocks) throw Sense.lbaOutOfRange();
  // NUMBER OF LOGICAL BLOCKS 0 (WSNZ=0): from LBA to the last LBA.
  const count = c.count === 0 ? lu.blocks - c.lba : c.count;
  lu.checkRange(c.lba, count);
  if (count > lu.maxWriteSameBlocks) throw Sense.invalidFieldInCdb(c.opcode === SbcOp.WRITE_SAME_10 ? 7 : 10);
  lu.checkWritable();
  let block: Buffer;
  if (c.ndob) block = ZEROES.subarray(0, lu.blockSize);
  else {
    const d = ctx.task.dataOut;
    // Exactly one logical block of data-out; anything else is a malformed request.
    if (!d || d.length !== lu.blockSize) throw shortDataOut();
    block = d;
  }
  if (count === 0) return undefined;
  // UNMAP=1 deallocates whatever the block holds (LBPRZ=1: the range then reads as zeros), as
  // SBC-3 §5.44 lets the device server do and libiscsi's WriteSame*.UnmapUntilEnd expects.
  if (c.unmap && lu.thin) await lu.unmapBlocks(c.lba, count, ctx.signal);
  else await lu.fillBlocks(c.lba, count, block, ctx.signal);
  return undefined;
}

async function unmap(ctx: Ctx): Promise<undefined> {
  const { lu, cdb } = ctx;
  const c = decodeUnmapCdb(cdb);
  if (c.anchor) throw Sense.invalidFieldInCdb(1, 0);
  lu.mediaReady();
  if (c.parameterListLength === 0) return undefined;
  if (c.parameterListLength < UNMAP_HEADER_LENGTH) throw Sense.paramListLengthError();
  const list = lu.dataOut(ctx, c.parameterListLength);
  const l = decodeUnmapList(list);
  if (l.dataLength > list.length - 2) throw Sense.paramListLengthError(0);
  if (l.blockDescriptorDataLength > list.length - UNMAP_HEADER_LENGTH) throw Sense.paramListLengthError(2);
  if (l.descriptors.length > MAX_UNMAP_DESCRIPTORS) throw Sense.invalidFieldInParam(2);
  lu.checkWritable();
  // Validate every descriptor before deallocating anything.
  l.descriptors.forEach((d, i) => {
    if (d.lba > lu.blocks || d.lba + d.count > lu.blocks) {
      const e = Sense.lbaOutOfRange();
      e.sense.sks = { kind: 'field', cd: false, byte: UNMAP_HEADER_LENGTH + i * UNMAP_DESCRIPTOR_LENGTH };
      throw e;
    }
  });
  for (const d of l.descriptors) if (d.count) await lu.unmapBlocks(d.lba, d.count, ctx.signal);
  return undefined;
}

async function getLbaStatus({ lu, cdb }: Ctx): Promise<Buffer> {
  const c = decodeGetLbaStatusCdb(cdb);
  lu.mediaReady();
  if (c.lba >= lu.blocks) throw Sense.lbaOutOfRange();
  const room = Math.max(1, Math.min(64, Math.floor((c.allocationLength - 8) / 16)));
  const ds: LbaStatusDescriptor[] = [];
  let lba = c.lba;
  while (ds.length < room && lba < lu.blocks) {
    const isMapped = lu.mapped.get(lba);
    const n = lu.mapped.runLength(lba, Math.min(0xffffffff, lu.blocks - lba), isMapped);
    ds.push({ lba, count: n, status: isMapped ? ProvisioningStatus.MAPPED : ProvisioningStatus.DEALLOCATED });
    lba += n;
  }
  return encodeLbaStatus(ds);
}

async function readCapacity10({ lu, cdb }: Ctx): Promise<Buffer> {
  const c = decodeReadCapacity10Cdb(cdb);
  if (!c.pmi && c.lba !== 0) throw Sense.invalidFieldInCdb(2);
  if (!lu.mediumPresent) throw Sense.mediumNotPresent();
  return encodeReadCapacity10({ lastLba: lu.blocks - 1, blockLength: lu.blockSize });
}

async function readCapacity16({ lu, cdb }: Ctx): Promise<Buffer> {
  const c = decodeReadCapacity16Cdb(cdb);
  if (!c.pmi && c.lba !== 0) throw Sense.invalidFieldInCdb(2);
  if (!lu.mediumPresent) throw Sense.mediumNotPresent();
  return encodeReadCapacity16({
    lastLba: lu.blocks - 1,
    blockLength: lu.blockSize,
    lbppbe: lu.physicalExponent(),
    lbpme: lu.thin,
    lbprz: lu.thin,
  });
}

async function startStopUnit({ lu, cdb }: Ctx): Promise<undefined> {
  const c = decodeStartStopCdb(cdb);
  // A POWER CONDITION other than START_VALID moves between power states only; START and LOEJ are
  // ignored (SBC-3 §5.25). dmsim has no power states to leave, so these complete at once.
  if (c.powerCondition !== 0) return undefined;
  if (c.loej && lu.removable) {
    // While removal is prevented the medium may be neither ejected nor loaded (libiscsi
    // PreventAllow.Eject expects 53/02 for both).
    if (lu.isRemovalPrevented) throw Sense.mediumRemovalPrevented();
    if (c.start) {
      lu.mediumPresent = true;
      lu.stopped = false;
      return undefined;
    }
    if (!c.noFlush) await lu.store.flush();
    lu.mediumPresent = false;
    return undefined;
  }
  if (c.start) lu.stopped = false;
  else {
    if (!c.noFlush) await lu.store.flush();
    lu.stopped = true;
  }
  return undefined;
}

async function preventAllow({ lu, cdb, nexus }: Ctx): Promise<undefined> {
  const { prevent } = decodePreventAllowCdb(cdb);
  // 10b and 11b are obsolete for direct-access devices.
  if (prevent > 1) throw Sense.invalidFieldInCdb(4, 1);
  lu.setPrevent(nexus, prevent === 1);
  return undefined;
}

async function modeSense({ lu, cdb }: Ctx): Promise<Buffer> {
  const c = decodeModeSense(cdb);
  return modeSenseData(c, {
    pages: lu.pages,
    descriptorForm: 'direct',
    deviceSpecific: () => diskDeviceSpecific({ wp: lu.writeProtected, dpofua: true }),
    descriptors: (pc) => lu.descriptors(pc),
    preferLong: () => lu.blocks > 0xffffffff,
  });
}

async function modeSelectHandler(ctx: Ctx): Promise<undefined> {
  const { lu, cdb, nexus } = ctx;
  const c = decodeModeSelect(cdb);
  const changed = modeSelect(c, ctx.task.dataOut, {
    pages: lu.pages,
    descriptorForm: 'direct',
    checkDescriptor: (d: BlockDescriptor, offset: number, form: DescriptorForm) => {
      // The capacity and block length are fixed by the lab: accept only "no change".
      const lenAt = form === 'long' ? offset + 12 : offset + 5;
      if (d.blocks !== 0 && d.blocks !== Math.min(lu.blocks, form === 'long' ? lu.blocks : 0xffffffff)) throw Sense.invalidFieldInParam(offset);
      if (d.blockLength !== lu.blockSize) throw Sense.invalidFieldInParam(lenAt);
    },
  });
  if (changed.length) lu.queueUnitAttention(UA.MODE_PARAMETERS_CHANGED, { except: nexus.key });
  return undefined;
}

// ================================================================== the table

function diskCommands(thin: boolean): CommandDef<DiskLu>[] {
  const rw = (opcode: number, name: string, cdbLength: number, rsv: 'read' | 'write', usage: readonly number[], handler: (c: Ctx) => Promise<unknown>): CommandDef<DiskLu> => ({
    opcode, name, cdbLength, rsv, usage: [...usage], handler: handler as CommandDef<DiskLu>['handler'],
  });
  const table: CommandDef<DiskLu>[] = [
    { opcode: SbcOp.TEST_UNIT_READY, name: 'TEST UNIT READY', cdbLength: 6, rsv: 'other', usage: [...sbcUsage.testUnitReady], handler: testUnitReady },
    rw(SbcOp.READ_6, 'READ(6)', 6, 'read', sbcUsage.rw6, read),
    rw(SbcOp.WRITE_6, 'WRITE(6)', 6, 'write', sbcUsage.rw6, write),
    { opcode: 0x15, name: 'MODE SELECT(6)', cdbLength: 6, rsv: 'other', usage: [...modeUsage.select6], handler: modeSelectHandler },
    { opcode: 0x1a, name: 'MODE SENSE(6)', cdbLength: 6, rsv: 'read', usage: [...modeUsage.sense6], handler: modeSense },
    { opcode: SbcOp.START_STOP_UNIT, name: 'START STOP UNIT', cdbLength: 6, rsv: 'other', usage: [...sbcUsage.startStopUnit], handler: startStopUnit },
    { opcode: SbcOp.PREVENT_ALLOW, name: 'PREVENT ALLOW MEDIUM REMOVAL', cdbLength: 6, rsv: 'other', usage: [...sbcUsage.preventAllow], handler: preventAllow },
    { opcode: SbcOp.READ_CAPACITY_10, name: 'READ CAPACITY(10)', cdbLength: 10, rsv: 'always', usage: [...readCapacity10Usage], handler: readCapacity10 },
    rw(SbcOp.READ_10, 'READ(10)', 10, 'read', sbcUsage.rw10, read),
    rw(SbcOp.WRITE_10, 'WRITE(10)', 10, 'write', sbcUsage.rw10, write),
    rw(SbcOp.WRITE_AND_VERIFY_10, 'WRITE AND VERIFY(10)', 10, 'write', sbcUsage.writeAndVerify10, writeAndVerify),
    rw(SbcOp.VERIFY_10, 'VERIFY(10)', 10, 'read', sbcUsage.verify10, verify),
    rw(SbcOp.SYNCHRONIZE_CACHE_10, 'SYNCHRONIZE CACHE(10)', 10, 'write', sbcUsage.synchronizeCache10, synchronizeCache),
    rw(SbcOp.WRITE_SAME_10, 'WRITE SAME(10)', 10, 'write', sbcUsage.writeSame10, writeSame),
    { opcode: 0x55, name: 'MODE SELECT(10)', cdbLength: 10, rsv: 'other', usage: [...modeUsage.select10], handler: modeSelectHandler },
    { opcode: 0x5a, name: 'MODE SENSE(10)', cdbLength: 10, rsv: 'read', usage: [...modeUsage.sense10], handler: modeSense },
    rw(SbcOp.READ_16, 'READ(16)', 16, 'read', sbcUsage.rw16, read),
    rw(SbcOp.COMPARE_AND_WRITE, 'COMPARE AND WRITE', 16, 'write', sbcUsage.compareAndWrite, compareAndWrite),
    rw(SbcOp.WRITE_16, 'WRITE(16)', 16, 'write', sbcUsage.rw16, write),
    rw(SbcOp.WRITE_AND_VERIFY_16, 'WRITE AND VERIFY(16)', 16, 'write', sbcUsage.writeAndVerify16, writeAndVerify),
    rw(SbcOp.VERIFY_16, 'VERIFY(16)', 16, 'read', sbcUsage.verify16, verify),
    rw(SbcOp.SYNCHRONIZE_CACHE_16, 'SYNCHRONIZE CACHE(16)', 16, 'write', sbcUsage.synchronizeCache16, synchronizeCache),
    rw(SbcOp.WRITE_SAME_16, 'WRITE SAME(16)', 16, 'write', sbcUsage.writeSame16, writeSame),
    {
      opcode: SbcOp.SERVICE_ACTION_IN_16, serviceAction: SaIn16.READ_CAPACITY_16, name: 'READ CAPACITY(16)', cdbLength: 16, rsv: 'always',
      usage: [...readCapacity16Usage], handler: readCapacity16,
    },
    rw(SbcOp.READ_12, 'READ(12)', 12, 'read', sbcUsage.rw12, read),
    rw(SbcOp.WRITE_12, 'WRITE(12)', 12, 'write', sbcUsage.rw12, write),
    rw(SbcOp.WRITE_AND_VERIFY_12, 'WRITE AND VERIFY(12)', 12, 'write', sbcUsage.writeAndVerify12, writeAndVerify),
    rw(SbcOp.VERIFY_12, 'VERIFY(12)', 12, 'read', sbcUsage.verify12, verify),
  ];
  if (thin) {
    table.push(
      { opcode: SbcOp.UNMAP, name: 'UNMAP', cdbLength: 10, rsv: 'write', usage: [...sbcUsage.unmap], handler: unmap },
      {
        opcode: SbcOp.SERVICE_ACTION_IN_16, serviceAction: SaIn16.GET_LBA_STATUS, name: 'GET LBA STATUS', cdbLength: 16, rsv: 'read',
        usage: [...sbcUsage.getLbaStatus], handler: getLbaStatus,
      },
    );
  }
  return table;
}
