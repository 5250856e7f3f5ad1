/** Public shapes of the dmsim iSCSI initiator. */
import type { CommandOptions } from '../../scsi/command.js';

export type { CommandResult } from '../../scsi/command.js';

export interface ChapCredentials {
  /** Name and secret the initiator proves to the target (CHAP_N / secret). */
  user: string;
  secret: string;
  /** Mutual CHAP: the name the target must answer with, and the secret it must prove. */
  targetUser?: string;
  targetSecret?: string;
}

export interface ConnectOptions {
  host: string;
  port?: number;
  initiatorName: string;
  /** Required for a Normal session; ignored for discovery. */
  targetName?: string;
  /** 6-byte ISID; default: random format (0x80 + 3 random bytes + qualifier 0), like libiscsi. */
  isid?: Buffer;
  initiatorAlias?: string;
  chap?: ChapCredentials;
  headerDigest?: boolean;
  dataDigest?: boolean;
  /** SessionType=Discovery: only SendTargets, NOP and Logout are allowed. */
  discovery?: boolean;
  /** What this initiator receives per PDU (declared). Default 262144. */
  maxRecvDataSegmentLength?: number;
  /** Offered MaxBurstLength (default 1048576) and FirstBurstLength (default 262144). */
  maxBurstLength?: number;
  firstBurstLength?: number;
  /** Offered InitialR2T (default No: unsolicited data wanted) and ImmediateData (default Yes). */
  initialR2T?: boolean;
  immediateData?: boolean;
  /** Offered MaxOutstandingR2T (default 8). */
  maxOutstandingR2T?: number;
  /** TCP connect + login deadline (default 10 s). */
  loginTimeoutMs?: number;
  /** Per-command deadline; 0 = none (default). A timed-out command is aborted with ABORT TASK. */
  commandTimeoutMs?: number;
  /**
   * Keep-alive: after this many ms without any PDU from the target, send a NOP-Out ping; if it is
   * not answered within the same time, drop the connection (outstanding commands then fail).
   * 0 = off (default).
   */
  keepaliveMs?: number;
  /** Called for Asynchronous Message event 0 (SCSI async event, e.g. a unit attention) with its sense. */
  onAsyncEvent?: (event: { event: number; lun: number; sense?: Buffer }) => void;
}

/**
 * One SCSI command over the session: the shared CommandOptions (dataOut sets the W bit, a
 * dataInLength > 0 the R bit; data-in is received straight into a buffer from dataInBuffers when
 * given; signal aborts with ABORT TASK) plus what is iSCSI's own. The answer is the shared
 * CommandResult, sense without the 2-byte SenseLength.
 */
export interface CommandRequest extends CommandOptions {
  lun: number;
  cdb: Buffer;
  /** Task attribute (TaskAttr); default SIMPLE. */
  attr?: number;
  timeoutMs?: number;
}

export interface TargetPortal {
  host: string;
  port: number;
  tpgt: number;
}

export interface DiscoveredTarget {
  name: string;
  addresses: TargetPortal[];
}
