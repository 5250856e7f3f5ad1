/**
 * 07h verify CSCD: resolve it (reachable, right device type); TUR=1 also sends TEST UNIT READY.
 * Residue is kept as if CAT=1.
 */
import { type VerifySegment } from '../../../src/scsi/xcopy.js';
import type { SegmentContext } from './common.js';

export async function verifyCscd(c: SegmentContext<VerifySegment>): Promise<void> {
  const dev = await c.run.resolver.device(c.seg.src, 'any', c.ptr);
  if (c.seg.tur) await dev.testUnitReady('source');
}
