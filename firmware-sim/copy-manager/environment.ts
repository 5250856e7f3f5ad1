/**
 * What the copy manager needs from the router: its own initiator port (so zoning, LUN masking and
 * reservations judge the data mover, not the backup server) and a scoped view of the LUs it may
 * name as copy sources/destinations. There is deliberately no global LU lookup here: a CSCD can only
 * resolve to an LU in `CscdScope.candidates(appClient)` (extended-copy.md §12.4, CVE-2020-28374).
 */
import type { CommandOptions, CommandResult } from '../../src/scsi/command.js';
import type { ITNexus, LuIdentity } from '../router/task.js';

/** An initiator port on the fabric (the router's InProcessPort satisfies this). */
export interface InitiatorPort {
  /** This port's WWPN, 16 hex digits: what the CSCD LUs see as the initiator. */
  readonly wwpn: string;
  command(targetWwpn: string, lun: number, cdb: Buffer, opts?: CommandOptions): Promise<CommandResult>;
}

/** One LU the data mover may use, addressed as the data mover's port sees it. */
export interface CscdCandidate {
  /** Target port WWPN through which the data mover reaches the LU. */
  targetPort: string;
  /** That target port's N_Port_ID (E1h/E2h); undefined when the fabric assigns none. */
  nportId?: number;
  /** LUN of the LU behind `targetPort` in the data mover's view (LUN map for the data mover's port). */
  lun: number;
  identity: LuIdentity;
}

export interface CscdScope {
  /**
   * LUs that (1) the application client's nexus may access under LUN masking and (2) the data
   * mover's initiator port can reach (zoning + masking for the data mover). Nothing else.
   */
  candidates(appClient: ITNexus): CscdCandidate[] | Promise<CscdCandidate[]>;
}
