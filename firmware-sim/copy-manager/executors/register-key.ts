/**
 * 14h register persistent reservation key: PERSISTENT RESERVE OUT / REGISTER from the data
 * mover's own I_T nexus, so a "registrants only" reservation admits it.
 */
import type { SegmentContext } from './common.js';

export async function registerKey(c: SegmentContext): Promise<void> {
  const dev = await c.run.resolver.device(c.seg.dst!, 'any', c.ptr);
  await dev.registerKey(c.seg.reservationKey!, c.seg.serviceActionKey!);
}
