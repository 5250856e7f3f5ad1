/**
 * One SCSI command as an initiator hands it to whatever carries it, and what comes back: the same
 * two shapes for the backup server's transports (in process and over iSCSI), the copy manager's
 * data mover port, the remote-target initiator, NDMP's pass-through and the iSCSI initiator. Each
 * carrier adds only what is its own (the iSCSI initiator: LUN, task attribute, timeout; the router:
 * the nexus), so a request passes down the layers as it is instead of being rebuilt field by field.
 * No I/O.
 */
import type { CdbRequest } from './cdb.js';
/** Where data-in may be built: a caller's own (recycled) buffer instead of a new one. */
export interface DataInAllocator {
  allocDataIn(bytes: number): Buffer;
}

/** The data transfer and abort of one command; the CDB and its address travel beside it. */
export interface CommandOptions {
  /** Parameter list or write data (the data-out). */
  dataOut?: Buffer;
  /** Data-in bytes the initiator will accept (its expected data transfer length); default 0. */
  dataInLength?: number;
  /**
   * Where the data-in may be received. A buffer taken from it is returned as the result's dataIn
   * or dropped, never kept: the caller reuses it once the result is consumed.
   */
  dataInBuffers?: DataInAllocator;
  /** Aborts the command (ABORT TASK over iSCSI, the task's abort in process). */
  signal?: AbortSignal;
}

/** What an initiator gets back for one command. */
export interface CommandResult {
  /** SCSI status (status.ts ScsiStatus). */
  status: number;
  /** Data-in received (empty when none; possibly shorter than dataInLength). */
  dataIn: Buffer;
  /** Sense data (CHECK CONDITION), as the target sent it. */
  sense?: Buffer;
  /** Residual count when the transport flagged underflow (iSCSI U bit). */
  residualUnderflow?: number;
  /** Residual count when the transport flagged overflow (iSCSI O bit). */
  residualOverflow?: number;
}

/** The command a built CDB makes (cdb.ts CdbRequest): its data-in length, or the data-out sent with it. */
export function asCommand(r: CdbRequest, dataOut?: Buffer): CommandOptions & { cdb: Buffer } {
  return r.direction === 'in' ? { cdb: r.cdb, dataInLength: r.length } : { cdb: r.cdb, dataOut };
}
