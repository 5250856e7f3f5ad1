/** Public shapes of the dmsim iSCSI initiator. */

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

export interface CommandRequest {
  lun: number;
  cdb: Buffer;
  /** Write data / parameter list (W bit). */
  dataOut?: Buffer;
  /** Bytes the initiator will accept (R bit when > 0). */
  dataInLength?: number;
  /** Receive Data-In straight into this buffer (at least dataInLength bytes) instead of a new one. */
  dataInBuffer?: Buffer;
  /** Task attribute (TaskAttr); default SIMPLE. */
  attr?: number;
  /** Abort the command with ABORT TASK. */
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface CommandResult {
  /** SCSI status (ScsiStatus). */
  status: number;
  /** Data-In actually received (possibly shorter than dataInLength). */
  dataIn: Buffer;
  /** Sense data from the SCSI Response (CHECK CONDITION), without the 2-byte SenseLength. */
  sense?: Buffer;
  /** Residual count when the target flagged underflow (U). */
  residualUnderflow?: number;
  /** Residual count when the target flagged overflow (O). */
  residualOverflow?: number;
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
