/**
 * The data mover's view beyond its own fabric: its in-process port for local LUs plus the remote
 * targets it logs in to over iSCSI, behind the one InitiatorPort / CscdScope the copy manager
 * knows. A remote target is addressed by its lab WWPN, so CSCD descriptors of every kind (E4h by
 * its VPD 83h designators, E0h by that port name) resolve to it as to a local target port.
 *
 * Reach rule (extended-copy.md §12.4 and LIO's CVE-2020-28374 carried over): a remote LU is a
 * candidate only when the *requesting* initiator's port shares a zone with the remote target's
 * port — never merely because the data mover itself can log in to it.
 */
import type { Zoning } from '../fabric/zoning.js';
import type { CommandOptions, CscdCandidate, CscdScope, InitiatorPort } from '../copy-manager/environment.js';
import type { ScsiResult } from '../router/task.js';
import type { RemoteTarget } from './remote-target.js';

export class RoutedPort implements InitiatorPort {
  private readonly byWwpn = new Map<string, RemoteTarget>();

  constructor(
    private readonly local: InitiatorPort,
    remotes: readonly RemoteTarget[],
  ) {
    for (const r of remotes) this.byWwpn.set(r.wwpn, r);
  }

  get wwpn(): string {
    return this.local.wwpn;
  }

  remote(wwpn: string): RemoteTarget | undefined {
    return this.byWwpn.get(wwpn);
  }

  command(targetWwpn: string, lun: number, cdb: Buffer, opts: CommandOptions = {}): Promise<ScsiResult> {
    const r = this.byWwpn.get(targetWwpn);
    return r ? r.command(lun, cdb, opts) : this.local.command(targetWwpn, lun, cdb, opts);
  }
}

/** May this requester use that remote LU? Beyond zoning: LUN masking, for lab nodes served elsewhere. */
export type RemoteLuFilter = (requesterWwpn: string, remote: RemoteTarget, lun: number) => boolean;

export function remoteScope(local: CscdScope, remotes: readonly RemoteTarget[], zoning: Zoning, allow: RemoteLuFilter = () => true): CscdScope {
  return {
    async candidates(appClient) {
      const own = await local.candidates(appClient);
      const who = appClient.initiatorPort;
      const reachable = remotes.filter((r) => zoning.canTalk(who, r.wwpn));
      const lists = await Promise.all(
        reachable.map(async (r) => (await r.luns()).filter((l) => allow(who, r, l.lun)).map((l): CscdCandidate => ({ targetPort: r.wwpn, lun: l.lun, identity: l.identity }))),
      );
      return [...own, ...lists.flat()];
    },
  };
}
