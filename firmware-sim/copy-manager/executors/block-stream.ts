/**
 * Block → stream: 00h, 0Bh (held copy), 08h (byte range of the disk). The backup path.
 */
import { holdsData, type BlockStreamSegment, type OffsetStreamSegment } from '../../../src/scsi/xcopy.js';
import { checkRange, diskBlocks, diskReader, pump, processed, settleResidue, streamSink } from '../engine.js';
import { checkByteOffset, checkTransferLength, residualUnit, wholeUnits, type SegmentContext } from './common.js';

export async function blockToStream(c: SegmentContext<BlockStreamSegment>): Promise<void> {
  const { run, seg, ptr } = c;
  const src = await run.resolver.device(seg.src, 'block', ptr);
  const dst = await run.resolver.device(seg.dst, 'stream', ptr);
  const P = seg.blocks * src.blockLength;
  checkTransferLength(c, dst, seg.streamTransferLength, 9, P + run.dst.length > 0);
  const sink = streamSink(dst, seg.streamTransferLength);
  checkRange(src, seg.lba, Math.ceil(Math.max(0, P - run.src.length) / src.blockLength));
  run.segUnit = residualUnit(dst);
  run.segExpected = wholeUnits(run.dst.length, P, sink.unit);
  await pump(run, sink, processed(run, P, diskReader(run, src, seg.lba)), { hold: holdsData(seg.type) });
  await settleResidue(run, { cat: !!seg.cat, srcPad: src.pad, sink, exactDst: false, last: c.last, segPtr: ptr });
}

export async function blockOffsetToStream(c: SegmentContext<OffsetStreamSegment>): Promise<void> {
  const { run, seg, ptr } = c;
  const src = await run.resolver.device(seg.src, 'block', ptr);
  const dst = await run.resolver.device(seg.dst, 'stream', ptr);
  const n = seg.byteCount;
  checkByteOffset(c, src, seg.byteOffset, 26);
  checkTransferLength(c, dst, seg.streamTransferLength, 9, n + run.dst.length > 0);
  const sink = streamSink(dst, seg.streamTransferLength);
  const blocks = Math.ceil((seg.byteOffset + n) / src.blockLength);
  checkRange(src, seg.lba, n ? blocks : 0);
  run.segUnit = residualUnit(dst);
  run.segExpected = wholeUnits(run.dst.length, n, sink.unit);
  await pump(run, sink, byteRange(run, src, seg.lba, seg.byteOffset, n));
  await settleResidue(run, { cat: !!seg.cat, srcPad: src.pad, sink, exactDst: false, last: c.last, segPtr: ptr });
}

/** Exactly `n` bytes starting `offset` bytes into block `lba` (08h, 0Ah sources). */
export async function* byteRange(
  run: SegmentContext['run'],
  src: Parameters<typeof diskBlocks>[1],
  lba: number,
  offset: number,
  n: number,
  depth = run.opts.readAhead,
): AsyncGenerator<Buffer> {
  if (n === 0) return;
  let skip = offset;
  let left = n;
  for await (let b of diskBlocks(run, src, lba, Math.ceil((offset + n) / src.blockLength), depth)) {
    if (skip) {
      const k = Math.min(skip, b.length);
      b = b.subarray(k);
      skip -= k;
    }
    if (b.length > left) b = b.subarray(0, left);
    left -= b.length;
    if (b.length) yield b;
    if (!left) return;
  }
}
