/**
 * The one interface every part of the router speaks: the iSCSI target, the in-process port and
 * the copy manager all turn their requests into ScsiTasks and hand them to Router.dispatch().
 */
import type { TaskAbort } from './task-abort.js';

/** An I_T nexus: who sent the command (initiator port) through which target port. */
export interface ITNexus {
  /** Initiator port WWPN, 16 lowercase hex digits (e.g. "21000024ff000001"). */
  readonly initiatorPort: string;
  /** Target port WWPN the command arrived on. */
  readonly targetPort: string;
  /** iSCSI initiator name (plus ",i,0x<ISID>") when the nexus came over iSCSI; used for PR TransportIDs. */
  readonly initiatorName?: string;
  /** Stable key for maps: initiatorPort + "|" + targetPort (+ iSCSI ISID when present). */
  readonly key: string;
}

export function makeNexus(initiatorPort: string, targetPort: string, initiatorName?: string): ITNexus {
  const key = `${initiatorPort}|${targetPort}${initiatorName ? `|${initiatorName}` : ''}`;
  return initiatorName ? { initiatorPort, targetPort, initiatorName, key } : { initiatorPort, targetPort, key };
}

export interface DataInAllocator {
  allocDataIn(bytes: number): Buffer;
}

export const TaskAttribute = { SIMPLE: 0, ORDERED: 1, HEAD_OF_QUEUE: 2, ACA: 3 } as const;

export interface ScsiTask {
  nexus: ITNexus;
  /** Flat LUN (0..16383, SAM peripheral/flat addressing already decoded); W-LUNs as 0xc1xx. */
  lun: number;
  cdb: Buffer;
  /** Parameter list or write data, already gathered by the transport. */
  dataOut?: Buffer;
  /**
   * Data-in bytes the initiator will accept (its expected data transfer length): the router cuts
   * data-in to it and says in ScsiResult.transferLength how much the command had.
   */
  dataInLength: number;
  /** Aborted by ABORT TASK, ABORT TASK SET, LU RESET, nexus loss. */
  signal?: AbortSignal;
  /**
   * The front end's abort state for this task (task-abort.ts), instead of `signal`: the router
   * aborts the task through it, and no AbortSignal exists unless the LU asks for one. Without it
   * the router makes its own (linked to `signal` when given).
   */
  aborter?: TaskAbort;
  /**
   * Where an LU may build large data-in (a transport's recycled buffers). A buffer taken from it
   * must be returned as the result's dataIn or dropped, never kept: the transport reuses it once
   * the data is sent.
   */
  dataInBuffers?: DataInAllocator;
  /** Transport's task tag, for logs and ABORT TASK. */
  tag?: number;
  attribute?: number;
  /**
   * Set by the router (TargetDevice) before the LU runs: the target port the task came through,
   * which VPD 83h reports and per-port state (ALL_TG_PT) keys on. Absent when a test calls an LU directly.
   */
  port?: TargetPortInfo;
  /**
   * Set by the router: the LU reports here the data-out length its CDB asks for (SPDTL), and the
   * router returns it as ScsiResult.transferLength.
   */
  reportTransferLength?(bytes: number): void;
}

/** The target port a task arrived on, as the LU needs to describe it. */
export interface TargetPortInfo {
  /** 16 lowercase hex digits. */
  wwpn: string;
  /** RELATIVE TARGET PORT IDENTIFIER (1-based, unique within the target device). */
  relativeId: number;
  /** Target device name (WWNN), 16 lowercase hex digits. */
  deviceName?: string;
}

export interface ScsiResult {
  status: number;
  dataIn?: Buffer;
  /** Encoded sense (src/scsi/sense), present with CHECK CONDITION. */
  sense?: Buffer;
  /**
   * The bytes the command transferred or would have transferred running to its end (SPDTL, RFC
   * 7143 §11.4.5.1), when that is not dataIn's length: data-in the router cut to dataInLength, or
   * the data-out length a command's CDB asked for. Transports compare it with the length the
   * initiator expected and report the difference as residual overflow or underflow.
   */
  transferLength?: number;
}

export interface LuIdentity {
  /** Peripheral device type (00h disk, 01h tape, 03h processor, 0Ch storage array controller). */
  deviceType: number;
  vendor: string;
  product: string;
  revision: string;
  serial: string;
  /** NAA IEEE Registered (6h) designator, 16 bytes, or NAA 5h, 8 bytes. */
  naa: Buffer;
  /** Lab name of the LU, e.g. "array1/disk0". */
  name: string;
}

/**
 * The resets an LU goes through (SAM-5 §6.3): LOGICAL UNIT RESET (UA 29h/03h), a hard reset by
 * TARGET WARM RESET (29h/00h), power on by TARGET COLD RESET (29h/01h).
 */
export type ResetKind = 'lu-reset' | 'hard-reset' | 'power-on';

/** Which nexuses a unit attention is for: every nexus the LU has seen, one of them, or all but one. */
export interface UnitAttentionScope {
  only?: string;
  except?: string;
}

/** What a target device offers an LU attached to it. */
export interface LuAttachment {
  /** Abort the LU's tasks from these nexuses (PREEMPT AND ABORT). */
  abortTasksOf(nexusKeys: string[], reason: string): void;
  /** Target port WWPN of a RELATIVE TARGET PORT IDENTIFIER (REGISTER AND MOVE). */
  targetPortOf(relativeId: number): string | undefined;
  /** Where the LU keeps state that persists through power loss (APTPL), next to its media. */
  aptplPath?: string;
}

/**
 * A logical unit as the target device drives it: commands, and its lifecycle. The lifecycle
 * methods are optional so a bare test LU is one `execute`; dmsim's LUs (lu/logical-unit.ts) have all.
 */
export interface LogicalUnit {
  readonly identity: LuIdentity;
  execute(task: ScsiTask): Promise<ScsiResult>;
  /** Attached at a LUN of a target device. */
  attached?(to: LuAttachment): void;
  /**
   * Reset (the target device has aborted the LU's tasks): the LU drops what the reset clears
   * (SPC-2 reservations, PREVENT, copies) and queues the reset's unit attention for every nexus.
   */
  reset?(kind: ResetKind): void;
  /** An I_T nexus ended: its per-nexus state goes (SPC-2 reservation, PREVENT, kept sense, copies). */
  nexusLost?(nexus: ITNexus): void;
  queueUnitAttention?(ua: readonly [number, number], scope?: UnitAttentionScope): void;
  /** Drop one pending unit attention of a nexus (REPORT LUNS clears 3Fh/0Eh). */
  clearUnitAttention?(nexusKey: string, ua: readonly [number, number]): void;
}
