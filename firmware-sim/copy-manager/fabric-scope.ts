/**
 * Wiring of the copy manager onto the virtual fabric: the data mover's InProcessPort and the scope
 * rule of extended-copy.md §12.4 — a CSCD may name only an LU that the application client's port
 * reaches (zoning + LUN masking) and the data mover's port reaches too, addressed as the data
 * mover sees it. Both sets come from the fabric's per-initiator lookups, never a global list.
 */
import type { Fabric } from '../fabric/fabric.js';
import { InProcessPort } from '../fabric/in-process-port.js';
import type { LogicalUnit } from '../router/task.js';
import { CopyManager, type CopyManagerOptions } from './copy-manager.js';
import type { CscdScope } from './environment.js';

export function fabricScope(fabric: Fabric, dataMoverWwpn: string): CscdScope {
  return {
    candidates(appClient) {
      const allowed = new Set<LogicalUnit>(fabric.reachableLus(appClient.initiatorPort).map((r) => r.lu));
      return fabric
        .reachableLus(dataMoverWwpn)
        .filter((r) => allowed.has(r.lu))
        .map((r) => ({ targetPort: r.targetPort, nportId: r.portId.value, lun: r.lun, identity: r.lu.identity }));
    },
  };
}

/** A copy manager whose data mover logs into `fabric` with its own initiator port. */
export function copyManagerOnFabric(
  fabric: Fabric,
  port: { wwpn: string; wwnn: string; owner?: string },
  opts: Omit<CopyManagerOptions, 'port' | 'scope'> = {},
): CopyManager {
  const p = new InProcessPort(fabric, port);
  return new CopyManager({ ...opts, port: p, scope: fabricScope(fabric, p.wwpn) });
}
