/** Public types of the iSCSI target. */
import type { Logger } from '../../log.js';
import type { FrontEndDirectory, TaskDispatcher } from '../../../firmware-sim/router/dispatch.js';
import type { LocalLimits } from '../negotiation.js';

export interface IscsiTargetOptions {
  dispatcher: TaskDispatcher;
  directory: FrontEndDirectory;
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Listen port; 0 picks a free one (default 3260). */
  port?: number;
  log?: Logger;
  /** Override the negotiation limits (tests, benchmarks). */
  limits?: Partial<LocalLimits>;
  /** Command window per session (MaxCmdSN − ExpCmdSN + 1); default 128. */
  queueDepth?: number;
  /** Sessions the portal hosts at most; a new leading login beyond it gets OUT OF RESOURCES (default 256). */
  maxSessions?: number;
  /** Send a NOP-In ping after this many ms without traffic (0 = never, the default). */
  nopInIntervalMs?: number;
  /** Close the connection when a NOP-In ping is not answered within this many ms (default 15000). */
  nopInTimeoutMs?: number;
  /** Target Portal Group Tag reported in logins and SendTargets (default 1). */
  portalGroupTag?: number;
}

export interface SessionInfo {
  tsih: number;
  type: 'Normal' | 'Discovery';
  initiatorName: string;
  /** ISID as 12 hex digits. */
  isid: string;
  targetName?: string;
  /** Initiator port WWPN (normal sessions). */
  initiatorPort?: string;
  targetPort?: string;
  connections: number;
  /** Tasks in flight. */
  tasks: number;
  /** Negotiated values. */
  params: Record<string, string | number | boolean>;
}

export interface IscsiTarget {
  readonly port: number;
  readonly host: string;
  sessions(): SessionInfo[];
  close(): Promise<void>;
}
