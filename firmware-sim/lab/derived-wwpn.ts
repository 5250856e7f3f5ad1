/**
 * WWPN for a port the lab knows only by an iSCSI name (an admitted initiator, a remote target):
 * NAA 3 (locally assigned, FC-FS) with 60 bits of SHA-256 of the name, so the same name gets the
 * same port (and keeps its reservations, PR registrations and zone membership) across restarts.
 */
import { createHash } from 'node:crypto';

export function derivedWwpn(iscsiName: string): string {
  return '3' + createHash('sha256').update(iscsiName).digest('hex').slice(0, 15);
}
