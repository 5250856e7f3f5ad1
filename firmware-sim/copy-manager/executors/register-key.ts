/**
 * 14h register persistent reservation key: PERSISTENT RESERVE OUT / REGISTER from the data
 * mover's own I_T nexus, so a "registrants only" reservation admits it.
 * 15h third-party persistent reservations source I_T nexus: the REGISTER AND MOVE that hands the
 * reservation back to the application client is remembered here and sent after all other
 * segments, also after an error (extended-copy.md §5.15).
 */
import { type RegisterKeySegment, type ThirdPartyPrSegment } from '../../../src/scsi/xcopy.js';
import type { SegmentContext } from './common.js';

export async function registerKey(c: SegmentContext<RegisterKeySegment>): Promise<void> {
  const dev = await c.run.resolver.device(c.seg.dst, 'any', c.ptr);
  await dev.registerKey(c.seg.reservationKey, c.seg.serviceActionKey);
}

export async function registerAndMoveLater(c: SegmentContext<ThirdPartyPrSegment>): Promise<void> {
  const dev = await c.run.resolver.device(c.seg.dst, 'stream', c.ptr);
  const s = c.seg;
  c.run.finally.push({
    segment: c.index,
    run: () =>
      dev.registerAndMove({
        reservationKey: s.reservationKey.readBigUInt64BE(0),
        serviceActionKey: s.serviceActionKey.readBigUInt64BE(0),
        unreg: !!s.unreg,
        aptpl: !!s.aptpl,
        relativeTargetPort: s.relativeTargetPort,
        transportId: s.transportId,
      }),
  });
}
