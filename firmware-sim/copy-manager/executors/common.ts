/**
 * What every segment executor gets, and the checks several of them share.
 */
import type { Segment } from '../../../src/scsi/xcopy.js';
import type { CscdDevice } from '../cscd-device.js';
import type { CopyRun } from '../engine.js';
import { Abort } from '../errors.js';

export interface SegmentContext<S extends Segment = Segment> {
  run: CopyRun;
  seg: S;
  index: number;
  last: boolean;
  /** Parameter-list offset of the segment descriptor. */
  ptr: number;
}

export type Executor<S extends Segment = Segment> = (c: SegmentContext<S>) => Promise<void>;

/** STREAM DEVICE TRANSFER LENGTH (descriptor byte `at`) must be > 0 when data moves, and within the advertised maximum. */
export function checkTransferLength(c: SegmentContext, dev: CscdDevice, transferLength: number, at: number, moves: boolean): void {
  if (transferLength === 0 && moves) throw Abort.invalidField(c.ptr + at);
  if (dev.transferBytes(transferLength) > c.run.opts.maxStreamTransferSize) throw Abort.invalidField(c.ptr + at);
}

/** Bytes a disk BYTE OFFSET field must stay below. */
export function checkByteOffset(c: SegmentContext, dev: CscdDevice, offset: number, at: number): void {
  if (offset >= dev.blockLength) throw Abort.invalidField(c.ptr + at);
}

/** The unit INFORMATION counts in for a destination: bytes for variable tape, else its blocks. */
export function residualUnit(dev: CscdDevice): number {
  if (dev.params.kind === 'stream') return dev.params.fixed ? dev.params.blockLength : 1;
  if (dev.params.kind === 'block') return dev.blockLength;
  return 1;
}

/** Destination bytes a segment writes from `dstIn` residual bytes plus `bytes` processed, in whole `unit`s. */
export const wholeUnits = (dstIn: number, bytes: number, unit: number): number => Math.floor((dstIn + bytes) / unit) * unit;

export const sameBlocks = (a: CscdDevice, aLba: number, aBlocks: number, b: CscdDevice, bLba: number, bBlocks: number): boolean =>
  a.target.identity.name === b.target.identity.name && aLba < bLba + bBlocks && bLba < aLba + aBlocks;
