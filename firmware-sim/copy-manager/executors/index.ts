/**
 * Segment type → executor. Only types listed here can be advertised by a profile.
 */
import { blockOffsetToBlockOffset, blockToBlock } from './block-block.js';
import { blockOffsetToStream, blockToStream } from './block-stream.js';
import type { Executor } from './common.js';
import { inlineToStream } from './inline-stream.js';
import { registerAndMoveLater, registerKey } from './register-key.js';
import { streamToBlock, streamToBlockOffset } from './stream-block.js';
import { streamToDiscard } from './stream-discard.js';
import { streamToStream } from './stream-stream.js';
import { tapeImageCopy } from './tape-image.js';
import { locate, space, writeFilemarks } from './tape-ops.js';
import { verifyCscd } from './verify.js';

export const EXECUTORS: ReadonlyMap<number, Executor> = new Map<number, Executor>([
  [0x00, blockToStream],
  [0x01, streamToBlock],
  [0x02, blockToBlock],
  [0x03, streamToStream],
  [0x04, inlineToStream],
  [0x05, inlineToStream],
  [0x06, streamToDiscard],
  [0x07, verifyCscd],
  [0x08, blockOffsetToStream],
  [0x09, streamToBlockOffset],
  [0x0a, blockOffsetToBlockOffset],
  [0x0b, blockToStream],
  [0x0c, streamToBlock],
  [0x0d, blockToBlock],
  [0x0e, streamToStream],
  [0x0f, streamToDiscard],
  [0x10, writeFilemarks],
  [0x11, space],
  [0x12, locate],
  [0x13, tapeImageCopy],
  [0x14, registerKey],
  [0x15, registerAndMoveLater],
]);

export type { Executor, SegmentContext } from './common.js';
