/**
 * Block → block: 02h, 0Dh (held copy) with DC, and 0Ah (byte ranges on both sides). What VAAI,
 * sg_xcopy and libiscsi send to a disk LU's own copy manager.
 */
import { holdsData, type BlockBlockSegment, type OffsetOffsetSegment } from '../../../src/scsi/xcopy.js';
import { checkRange, checkRangeAs, diskRangeSink, diskReader, diskSink, pump, processed, settleResidue } from '../engine.js';
import { byteRange } from './block-stream.js';
import { checkByteOffset, residualUnit, sameBlocks, wholeUnits, type SegmentContext } from './common.js';

export async function blockToBlock(c: SegmentContext<BlockBlockSegment>): Promise<void> {
  const { run, seg, ptr } = c;
  const src = await run.resolver.device(seg.src, 'block', ptr);
  const dst = await run.resolver.device(seg.dst, 'block', ptr);
  const dc = !!seg.dc;
  const N = seg.blocks;
  let need: number;
  let expected: number;
  if (dc) {
    expected = N * dst.blockLength;
    need = Math.max(0, expected - run.dst.length);
  } else {
    need = N * src.blockLength;
    expected = wholeUnits(run.dst.length, need, dst.blockLength);
  }
  const srcBlocks = Math.ceil(Math.max(0, need - run.src.length) / src.blockLength);
  checkRange(src, seg.srcLba, srcBlocks);
  checkRangeAs('destination', dst, seg.dstLba, expected / dst.blockLength);
  run.segUnit = residualUnit(dst);
  run.segExpected = expected;
  const overlap = sameBlocks(src, seg.srcLba, srcBlocks, dst, seg.dstLba, expected / dst.blockLength);
  const sink = diskSink(dst, seg.dstLba);
  const reader = diskReader(run, src, seg.srcLba, overlap ? { readAhead: 0 } : {});
  await pump(run, sink, processed(run, need, reader), { hold: holdsData(seg.type), serial: overlap, ...(dc ? { exact: expected } : {}) });
  await settleResidue(run, { cat: !!seg.cat, srcPad: src.pad, sink, exactDst: dc, last: c.last, segPtr: ptr });
}

export async function blockOffsetToBlockOffset(c: SegmentContext<OffsetOffsetSegment>): Promise<void> {
  const { run, seg, ptr } = c;
  const src = await run.resolver.device(seg.src, 'block', ptr);
  const dst = await run.resolver.device(seg.dst, 'block', ptr);
  const n = seg.byteCount;
  checkByteOffset(c, src, seg.srcByteOffset, 28);
  checkByteOffset(c, dst, seg.dstByteOffset, 30);
  const srcBlocks = n ? Math.ceil((seg.srcByteOffset + n) / src.blockLength) : 0;
  const dstBlocks = n ? Math.ceil((seg.dstByteOffset + n) / dst.blockLength) : 0;
  checkRange(src, seg.srcLba, srcBlocks);
  checkRangeAs('destination', dst, seg.dstLba, dstBlocks);
  run.segUnit = 1;
  run.segExpected = n;
  const overlap = sameBlocks(src, seg.srcLba, srcBlocks, dst, seg.dstLba, dstBlocks);
  const sink = diskRangeSink(dst, seg.dstLba, seg.dstByteOffset);
  await pump(run, sink, byteRange(run, src, seg.srcLba, seg.srcByteOffset, n, overlap ? 0 : run.opts.readAhead), { exact: n, serial: overlap });
  await settleResidue(run, { cat: !!seg.cat, srcPad: src.pad, sink, exactDst: true, last: c.last, segPtr: ptr });
}
