/**
 * What front ends (iSCSI target, in-process port, copy manager) need from the router, so they can
 * be built against this contract while the router grows behind it.
 */
import type { ITNexus, ScsiResult, ScsiTask } from './task.js';

export interface TaskDispatcher {
  /** Route a task to the LU the nexus sees at task.lun (LUN masking applies), or answer for the router. */
  dispatch(task: ScsiTask): Promise<ScsiResult>;
  /** LOGICAL UNIT RESET: abort the LU's tasks, clear SPC-2 reservations, queue UA 29h/03h. */
  lunReset(nexus: ITNexus, lun: number): Promise<void>;
  /** TARGET WARM/COLD RESET on the target port the nexus reaches. */
  targetReset(nexus: ITNexus, cold: boolean): Promise<void>;
  /** I_T nexus loss (iSCSI session gone): release RESERVE(6/10), queue UA 29h/07h, abort its copies. */
  nexusLost(nexus: ITNexus): void;
}

/** Lab facts an iSCSI front end needs; the lab module implements it. */
export interface FrontEndDirectory {
  /** One iSCSI target node per router/array target port. */
  targetNodes(): Array<{ iqn: string; alias?: string; targetPort: string }>;
  /** WWPN the lab gives this initiator name, or undefined when lab policy rejects it. */
  initiatorPort(initiatorName: string): string | undefined;
  /** CHAP secrets when the lab demands CHAP for this initiator/target; undefined means AuthMethod=None is fine. */
  chap?(initiatorName: string, targetIqn: string): ChapSecrets | undefined;
}

export interface ChapSecrets {
  /** Secret the initiator proves it knows (target authenticates initiator). */
  user: string;
  secret: string;
  /** Mutual CHAP: the target's own name and secret. */
  targetUser?: string;
  targetSecret?: string;
}
