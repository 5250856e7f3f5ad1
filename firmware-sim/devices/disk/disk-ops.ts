/**
 * What the disk's command handlers (commands.ts) use of the disk LU (disk-lu.ts), so the table
 * and the class that builds it need not import each other.
 */
import type { BlockDescriptor, ModePageSet, PageControl } from '../../../src/scsi/mode.js';
import type { BlockCdb } from '../../../src/scsi/sbc.js';
import type { CommandContext, ScsiLogicalUnit } from '../../lu/logical-unit.js';
import type { ITNexus } from '../../router/task.js';
import type { BlockStore } from '../backing/block-store.js';
import type { FaultPlan } from '../faults.js';
import type { BlockBitmap } from './block-bitmap.js';

export interface DiskOps extends ScsiLogicalUnit {
  readonly store: BlockStore;
  readonly blockSize: number;
  readonly blocks: number;
  readonly thin: boolean;
  readonly removable: boolean;
  readonly faults: FaultPlan;
  /** Blocks holding data (thin provisioning). */
  readonly mapped: BlockBitmap;
  readonly pages: ModePageSet;
  readonly maxWriteSameBlocks: number;
  stopped: boolean;
  mediumPresent: boolean;
  readonly writeProtected: boolean;
  readonly isRemovalPrevented: boolean;
  physicalExponent(): number;
  applyPreventAllow(cdb: Buffer, nexus: ITNexus): void;
  /** Medium access preconditions, in the order SBC reports them. */
  mediaReady(): void;
  checkRange(lba: number, count: number): void;
  checkTransferLength(c: BlockCdb): void;
  checkWritable(): void;
  /** Exactly `need` data-out bytes, or INVALID FIELD IN COMMAND IU when fewer arrived. */
  dataOut(ctx: CommandContext<DiskOps>, need: number): Buffer;
  /** The data-out as delivered, at most `need` bytes. */
  deliveredData(ctx: CommandContext<DiskOps>, need: number): Buffer;
  readBlocks(lba: number, count: number, signal?: AbortSignal, into?: Buffer): Promise<Buffer>;
  writeBlocks(lba: number, data: Buffer, fua: boolean, signal?: AbortSignal): Promise<void>;
  /** Run `fn` with every other write held back (COMPARE AND WRITE). */
  exclusively<T>(fn: () => Promise<T>): Promise<T>;
  /** A write inside `exclusively`. */
  writeNow(lba: number, data: Buffer, fua: boolean, signal?: AbortSignal): Promise<void>;
  unmapBlocks(lba: number, count: number, signal?: AbortSignal): Promise<void>;
  fillBlocks(lba: number, count: number, block: Buffer, signal?: AbortSignal): Promise<void>;
  descriptors(pc: PageControl): BlockDescriptor[];
}
