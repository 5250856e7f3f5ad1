/**
 * Stream → stream: 03h, 0Eh (held copy). Tape duplication with re-blocking.
 */
import { holdsData, type StreamStreamSegment } from '../../../src/scsi/xcopy.js';
import { processed, pump, settleResidue, streamReader, streamSink } from '../engine.js';
import { checkTransferLength, residualUnit, wholeUnits, type SegmentContext } from './common.js';

export async function streamToStream(c: SegmentContext<StreamStreamSegment>): Promise<void> {
  const { run, seg, ptr } = c;
  const src = await run.resolver.device(seg.src, 'stream', ptr);
  const dst = await run.resolver.device(seg.dst, 'stream', ptr);
  const P = seg.byteCount;
  checkTransferLength(c, src, seg.srcTransferLength, 9, P > run.src.length);
  checkTransferLength(c, dst, seg.dstTransferLength, 13, P + run.dst.length > 0);
  const sink = streamSink(dst, seg.dstTransferLength);
  run.segUnit = residualUnit(dst);
  run.segExpected = wholeUnits(run.dst.length, P, sink.unit);
  await pump(run, sink, processed(run, P, streamReader(src, seg.srcTransferLength)), { hold: holdsData(seg.type), serial: src.target.identity.name === dst.target.identity.name });
  await settleResidue(run, { cat: !!seg.cat, srcPad: src.pad, sink, exactDst: false, last: c.last, segPtr: ptr });
}
