/**
 * Tape functions without data: 10h WRITE FILEMARKS, 11h SPACE, 12h LOCATE. The destination must
 * be a stream CSCD (26/0C otherwise); residue is left alone.
 */
import { type LocateSegment, type SpaceSegment, type WriteFilemarksSegment } from '../../../src/scsi/xcopy.js';
import type { SegmentContext } from './common.js';

export async function writeFilemarks(c: SegmentContext<WriteFilemarksSegment>): Promise<void> {
  const dev = await c.run.resolver.device(c.seg.dst, 'stream', c.ptr);
  // WSMK goes to the tape as is: its own 5/24/00 comes back forwarded inside COPY ABORTED.
  await dev.writeFilemarks(c.seg.count, !!c.seg.immed, !!c.seg.wsmk);
}

export async function space(c: SegmentContext<SpaceSegment>): Promise<void> {
  const dev = await c.run.resolver.device(c.seg.dst, 'stream', c.ptr);
  await dev.space(c.seg.code, c.seg.count);
}

export async function locate(c: SegmentContext<LocateSegment>): Promise<void> {
  const dev = await c.run.resolver.device(c.seg.dst, 'stream', c.ptr);
  await dev.locate(c.seg.logicalObjectId);
}
