/**
 * Segment type name → executor. Only types listed here can be advertised by a profile.
 */
import { blockOffsetToBlockOffset, blockToBlock } from './block-block.js';
import { blockOffsetToStream, blockToStream } from './block-stream.js';
import type { Executor } from './common.js';
import { SEGMENT_LAYOUTS, type SegmentOf, type SegmentTypeName } from '../../../src/scsi/xcopy.js';
import { inlineToStream } from './inline-stream.js';
import { registerAndMoveLater, registerKey } from './register-key.js';
import { streamToBlock, streamToBlockOffset } from './stream-block.js';
import { streamToDiscard } from './stream-discard.js';
import { streamToStream } from './stream-stream.js';
import { tapeImageCopy } from './tape-image.js';
import { locate, space, writeFilemarks } from './tape-ops.js';
import { verifyCscd } from './verify.js';

/** Executors by segment type name; a type without one cannot be advertised by a profile. */
export const EXECUTORS: { readonly [N in SegmentTypeName]?: Executor<SegmentOf<N>> } = {
  BLOCK_TO_STREAM: blockToStream,
  STREAM_TO_BLOCK: streamToBlock,
  BLOCK_TO_BLOCK: blockToBlock,
  STREAM_TO_STREAM: streamToStream,
  INLINE_TO_STREAM: inlineToStream,
  EMBEDDED_TO_STREAM: inlineToStream,
  STREAM_TO_DISCARD: streamToDiscard,
  VERIFY_CSCD: verifyCscd,
  BLOCK_OFFSET_TO_STREAM: blockOffsetToStream,
  STREAM_TO_BLOCK_OFFSET: streamToBlockOffset,
  BLOCK_OFFSET_TO_BLOCK_OFFSET: blockOffsetToBlockOffset,
  BLOCK_TO_STREAM_HOLD: blockToStream,
  STREAM_TO_BLOCK_HOLD: streamToBlock,
  BLOCK_TO_BLOCK_HOLD: blockToBlock,
  STREAM_TO_STREAM_HOLD: streamToStream,
  STREAM_TO_DISCARD_HOLD: streamToDiscard,
  WRITE_FILEMARKS: writeFilemarks,
  SPACE: space,
  LOCATE: locate,
  TAPE_IMAGE_COPY: tapeImageCopy,
  REGISTER_KEY: registerKey,
  THIRD_PARTY_PR_SOURCE: registerAndMoveLater,
};

/** The executor for a decoded segment's type, if there is one. */
export function executorFor(type: number): Executor | undefined {
  const name = SEGMENT_LAYOUTS.get(type)?.name;
  // EXECUTORS pairs each name with the executor of that name's shape; TS cannot follow the pairing
  // through a name only known at run time.
  return name ? (EXECUTORS[name] as Executor | undefined) : undefined;
}

export type { Executor, SegmentContext } from './common.js';
