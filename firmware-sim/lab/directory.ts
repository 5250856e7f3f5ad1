/**
 * The FrontEndDirectory the iSCSI target asks: which target nodes exist, which WWPN an initiator
 * name logs in as, which CHAP secrets apply. Unknown initiators follow the lab's policy: "reject",
 * or "default-zone" (a generated WWPN, logged into the fabric on first sight through `admit`).
 */
import type { ChapSecrets, FrontEndDirectory } from '../router/dispatch.js';
import { dataMoverIqn, type LabConfig } from './config.js';
import { chapFor, generatedWwpn, mappedWwpn, type Topology } from './topology.js';

export class LabDirectory implements FrontEndDirectory {
  private readonly admitted = new Map<string, string>();

  constructor(
    private readonly lab: LabConfig,
    private readonly topo: Topology,
    /** Called once per unknown initiator name under "default-zone", before its WWPN is handed out. */
    private readonly admit: (wwpn: string, initiatorName: string) => void,
    /** Nodes this process serves (`--serve`); target nodes of the others are not offered here. */
    private readonly served?: ReadonlySet<string>,
  ) {}

  targetNodes(): Array<{ iqn: string; alias?: string; targetPort: string }> {
    return this.topo.ports
      .filter((p) => p.role === 'target' && (!this.served || this.served.has(p.node)))
      .map((p) => ({ iqn: p.iqn!, alias: p.ref, targetPort: p.wwpn }));
  }

  initiatorPort(initiatorName: string): string | undefined {
    const known = mappedWwpn(this.lab, initiatorName);
    if (known) return known;
    // A router's data mover logging in from another process (`--serve`) is its own lab port.
    const mover = this.lab.routers.find((r) => dataMoverIqn(r.name) === initiatorName);
    if (mover) return mover.dataMover.initiator.wwpn;
    if (this.lab.iscsi.unknownInitiators === 'reject') return undefined;
    let w = this.admitted.get(initiatorName);
    if (!w) {
      w = generatedWwpn(initiatorName);
      this.admit(w, initiatorName);
      this.admitted.set(initiatorName, w);
    }
    return w;
  }

  chap(initiatorName: string, _targetIqn: string): ChapSecrets | undefined {
    const c = chapFor(this.lab, initiatorName);
    if (!c) return undefined;
    return c.targetUser ? { user: c.user, secret: c.secret, targetUser: c.targetUser, targetSecret: c.targetSecret! } : { user: c.user, secret: c.secret };
  }

  /** Initiator names admitted through the default zone so far, with their WWPNs. */
  admittedInitiators(): Array<{ initiatorName: string; wwpn: string }> {
    return [...this.admitted].map(([initiatorName, wwpn]) => ({ initiatorName, wwpn }));
  }
}
