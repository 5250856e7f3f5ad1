/**
 * 13h tape image copy: records and filemarks from the source tape's position to the destination
 * tape's, so the result is a compatible image, until end of data / end of partition on the source
 * or until COUNT consecutive filemarks were copied (0: never stop on filemarks). Residue is neither
 * used nor changed; on an error no residual is reported (INFORMATION not valid).
 */
import { type TapeImageSegment } from '../../../src/scsi/xcopy.js';
import type { SegmentContext } from './common.js';

export async function tapeImageCopy(c: SegmentContext<TapeImageSegment>): Promise<void> {
  const { run, seg, ptr } = c;
  const src = await run.resolver.device(seg.src, 'stream', ptr);
  const dst = await run.resolver.device(seg.dst, 'stream', ptr);
  const stopAfter = seg.count;
  let marks = 0;
  for (;;) {
    run.signal.throwIfAborted();
    const o = await src.readObject();
    if (o.kind === 'end') return;
    if (o.kind === 'filemark') {
      await dst.writeFilemarks(1, false, false);
      if (stopAfter && ++marks >= stopAfter) return;
      continue;
    }
    marks = 0;
    await dst.writeStream(o.data);
    run.bytesWritten += o.data.length;
  }
}
