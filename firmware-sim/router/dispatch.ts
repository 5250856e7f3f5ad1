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

/**
 * Task management functions beyond the TaskDispatcher basics (SAM-5 §7). The router's
 * TargetDevice and the Fabric implement them; front ends map their TMF requests onto these.
 * Each resolves to false when nothing matched (e.g. the tag is unknown: "task does not exist").
 */
export interface TaskManagement {
  /** ABORT TASK: abort the task with this tag from this nexus on this LUN. */
  abortTask(nexus: ITNexus, lun: number, tag: number): Promise<boolean>;
  /** ABORT TASK SET: abort every task this nexus has on this LUN. */
  abortTaskSet(nexus: ITNexus, lun: number): Promise<boolean>;
  /** CLEAR TASK SET: abort every task on the LU, from every nexus (others get UA 2Fh/00h). */
  clearTaskSet(nexus: ITNexus, lun: number): Promise<boolean>;
}

/**
 * Thrown (as a rejected dispatch) when the nexus cannot exist: the initiator and target port
 * share no zone, or the target port is unknown. In FC such an initiator could not even PLOGI the
 * port, so there is no SCSI status to return; transports refuse the login/session instead.
 */
export class UnreachableError extends Error {
  constructor(
    readonly initiatorPort: string,
    readonly targetPort: string,
    reason = 'no zone holds both ports',
  ) {
    super(`initiator ${initiatorPort} cannot reach target port ${targetPort}: ${reason}`);
    this.name = 'UnreachableError';
  }
}

/** Thrown by task management aimed at a LUN the nexus does not see (iSCSI: "LUN does not exist"). */
export class NoSuchLunError extends Error {
  constructor(readonly lun: number) {
    super(`no logical unit at LUN ${lun}`);
    this.name = 'NoSuchLunError';
  }
}
