/**
 * iSCSI target (RFC 7143) in front of the router: `startIscsiTarget({ dispatcher, directory,
 * host, port, log })` opens a portal; each router target port in the directory is a target node.
 * Initiator names map to WWPNs through the directory, so zoning, masking and reservations see the
 * initiator port the lab assigns; the I_T nexus carries "<name>,i,0x<ISID>" for PR TransportIDs.
 */
import { Portal } from './portal.js';
import type { IscsiTarget, IscsiTargetOptions } from './types.js';

export type { IscsiTarget, IscsiTargetOptions, SessionInfo } from './types.js';

export async function startIscsiTarget(opts: IscsiTargetOptions): Promise<IscsiTarget> {
  const portal = new Portal(opts);
  const port = await portal.listen(opts.port ?? 3260);
  return {
    port,
    host: portal.host,
    sessions: () => portal.sessionInfo(),
    close: () => portal.close(),
  };
}
