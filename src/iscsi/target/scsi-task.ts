/** State of one SCSI command on the target, from its SCSI Command PDU to its status. */
import type { TaskAbort } from '../../../firmware-sim/router/task-abort.js';
import type { DataInAllocator } from '../../../firmware-sim/router/task.js';
import { POOL_MIN, type BufferPool } from './buffer-pool.js';

/** What a task and its session reach of the connection the task arrived on (connection.ts). */
export interface TaskConnection {
  readonly cid: number;
  readonly portal: { readonly pool: BufferPool };
  /** Terminate a task: no more PDUs for it on its own session; TASK ABORTED for third parties when `report`. */
  abortTask(t: ScsiTaskState, report: boolean): void;
  close(): void;
}

export interface R2tState {
  ttt: number;
  offset: number;
  length: number;
  got: number;
  dataSN: number;
}

export const enum TaskPhase {
  /** Gathering write data (immediate, unsolicited, R2T). */
  COLLECT,
  /** Handed to the dispatcher. */
  RUNNING,
  DONE,
  ABORTED,
}

export class ScsiTaskState implements DataInAllocator {
  phase = TaskPhase.COLLECT;
  /** CmdSN order reached (immediate commands: at once). */
  released = false;
  /** Set when the task is handed to the dispatcher; TMFs and connection loss abort through it. */
  ab: TaskAbort | undefined;
  /** Write gather buffer (EDTL bytes), or the immediate data itself when it is all of it. */
  buf: Buffer | undefined;
  /** Bytes of write data received so far (in order: DataPDUInOrder=Yes). */
  received = 0;
  /** Unsolicited Data-Out still expected (command had F=0). */
  unsolOpen = false;
  unsolLimit = 0;
  unsolDataSN = 0;
  /** Next offset to request with an R2T. */
  r2tNext = 0;
  r2tSN = 0;
  r2ts: R2tState[] = [];
  /** `buf` came from the portal's BufferPool and goes back after normal completion. */
  pooled = false;
  /** Write buffer bytes counted against the session's budget. */
  gathered = 0;
  /** Why the write was refused before its data was solicited. */
  refuse: 'too-large' | 'busy' | undefined;
  /** Another session's TMF terminated it: report TASK ABORTED instead of silence. */
  reportAborted = false;
  /** Data-in buffer the LU took from the portal's pool; back to the pool once the socket sent it. */
  readBuf: Buffer | undefined;
  /** performance.now() at arrival, only read when per-task debug logging is on. */
  startedAt = 0;

  constructor(
    readonly conn: TaskConnection,
    readonly itt: number,
    readonly cmdSN: number,
    readonly immediate: boolean,
    /** Flat LUN, or -1 when the LUN field is not an addressing form dmsim uses. */
    readonly lun: number,
    readonly lunBytes: Buffer,
    readonly cdb: Buffer,
    readonly edtl: number,
    readonly read: boolean,
    readonly write: boolean,
    readonly attr: number,
  ) {}

  /** The LU's data-in buffer: large ones recycled through the portal's pool (one per task). */
  allocDataIn(bytes: number): Buffer {
    if (bytes < POOL_MIN || this.readBuf) return Buffer.allocUnsafe(bytes);
    return (this.readBuf = this.conn.portal.pool.take(bytes));
  }
}
