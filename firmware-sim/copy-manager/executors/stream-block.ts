/**
 * Stream → block: 01h, 0Ch (held copy), 09h (byte range of the disk). The restore path. The
 * destination count is exact: only as much is read from the tape as the stated blocks need.
 */
import { holdsData, type BlockStreamSegment, type OffsetStreamSegment } from '../../../src/scsi/xcopy.js';
import { checkRangeAs, diskRangeSink, diskSink, pump, processed, settleResidue, streamReader } from '../engine.js';
import { checkByteOffset, checkTransferLength, residualUnit, type SegmentContext } from './common.js';

export async function streamToBlock(c: SegmentContext<BlockStreamSegment>): Promise<void> {
  const { run, seg, ptr } = c;
  const src = await run.resolver.device(seg.src, 'stream', ptr);
  const dst = await run.resolver.device(seg.dst, 'block', ptr);
  const D = seg.blocks * dst.blockLength;
  const need = Math.max(0, D - run.dst.length);
  checkTransferLength(c, src, seg.streamTransferLength, 9, need > run.src.length);
  checkRangeAs('destination', dst, seg.lba, seg.blocks);
  run.segUnit = residualUnit(dst);
  run.segExpected = D;
  const sink = diskSink(dst, seg.lba);
  await pump(run, sink, processed(run, need, streamReader(src, seg.streamTransferLength)), { exact: D, hold: holdsData(seg.type) });
  await settleResidue(run, { cat: !!seg.cat, srcPad: src.pad, sink, exactDst: true, last: c.last, segPtr: ptr });
}

export async function streamToBlockOffset(c: SegmentContext<OffsetStreamSegment>): Promise<void> {
  const { run, seg, ptr } = c;
  const src = await run.resolver.device(seg.src, 'stream', ptr);
  const dst = await run.resolver.device(seg.dst, 'block', ptr);
  const n = seg.byteCount;
  checkByteOffset(c, dst, seg.byteOffset, 26);
  const need = Math.max(0, n - run.dst.length);
  checkTransferLength(c, src, seg.streamTransferLength, 9, need > run.src.length);
  if (n) checkRangeAs('destination', dst, seg.lba, Math.ceil((seg.byteOffset + n) / dst.blockLength));
  run.segUnit = 1;
  run.segExpected = n;
  const sink = diskRangeSink(dst, seg.lba, seg.byteOffset);
  await pump(run, sink, processed(run, need, streamReader(src, seg.streamTransferLength)), { exact: n });
  await settleResidue(run, { cat: !!seg.cat, srcPad: src.pad, sink, exactDst: true, last: c.last, segPtr: ptr });
}
