/**
 * Inline → stream (04h) and embedded → stream (05h): bytes from the parameter list itself (tape
 * labels, tar headers) appended to the destination data. Residual source data is left alone.
 */
import { type EmbeddedStreamSegment, type InlineStreamSegment } from '../../../src/scsi/xcopy.js';
import { pump, settleResidue, streamSink } from '../engine.js';
import { Abort } from '../errors.js';
import { checkTransferLength, residualUnit, wholeUnits, type SegmentContext } from './common.js';

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  if (b.length) yield b;
}

export async function inlineToStream(c: SegmentContext<InlineStreamSegment | EmbeddedStreamSegment>): Promise<void> {
  const { run, seg, ptr } = c;
  let data: Buffer;
  if (seg.type === 0x04) {
    const off = seg.inlineOffset;
    if (off + seg.byteCount > run.list.inline.length) throw Abort.inlineExceeded(ptr + 12);
    data = run.list.inline.subarray(off, off + seg.byteCount);
  } else {
    data = seg.embedded;
  }
  const dst = await run.resolver.device(seg.dst, 'stream', ptr);
  checkTransferLength(c, dst, seg.streamTransferLength, 9, data.length + run.dst.length > 0);
  const sink = streamSink(dst, seg.streamTransferLength);
  run.segUnit = residualUnit(dst);
  run.segExpected = wholeUnits(run.dst.length, data.length, sink.unit);
  await pump(run, sink, once(data));
  // No source: behaves as if the source PAD were 0 (SPC-4 table 117).
  await settleResidue(run, { cat: !!seg.cat, srcPad: false, sink, exactDst: false, last: c.last, segPtr: ptr });
}
