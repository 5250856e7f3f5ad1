/**
 * Stream → discard: 06h drops NUMBER OF BYTES from the source data, 0Fh keeps them as held data
 * (how an application reads a tape label through the data mover). With a null LU (C001h) and 0
 * bytes it is SPC-4's idiom for throwing residue away.
 */
import { holdsData, type StreamDiscardSegment } from '../../../src/scsi/xcopy.js';
import { discardSink, processed, pump, settleResidue, streamReader } from '../engine.js';
import { checkTransferLength, type SegmentContext } from './common.js';

export async function streamToDiscard(c: SegmentContext<StreamDiscardSegment>): Promise<void> {
  const { run, seg, ptr } = c;
  const n = seg.byteCount;
  run.resolver.check(seg.src, 'stream', ptr);
  let reader;
  if (n > run.src.length) {
    const src = await run.resolver.device(seg.src, 'stream', ptr);
    checkTransferLength(c, src, seg.streamTransferLength, 9, true);
    reader = streamReader(src, seg.streamTransferLength);
  }
  run.segUnit = 1;
  run.segExpected = 0;
  await pump(run, discardSink, processed(run, n, reader), { hold: holdsData(seg.type) });
  // No destination: behaves as if the destination PAD were 0 (SPC-4 table 117).
  await settleResidue(run, { cat: !!seg.cat, srcPad: run.resolver.pad(seg.src), sink: discardSink, exactDst: false, last: c.last, segPtr: ptr });
}
