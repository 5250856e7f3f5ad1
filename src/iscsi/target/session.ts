/**
 * An iSCSI session on the target: identity (initiator name + ISID, target node, TSIH), the
 * negotiated parameters, the CmdSN window with its reorder queue, and the tasks in flight keyed
 * by ITT. Connections (one per session: MaxConnections=1) hang off it.
 */
import type { ITNexus } from '../../../firmware-sim/router/task.js';
import type { Logger } from '../../log.js';
import type { OperationalParams } from '../keys.js';
import { snAdd, snLt } from '../pdu/fast.js';
import type { TargetNode } from './login.js';
import type { ScsiTaskState, TaskConnection } from './scsi-task.js';

export class Session {
  expCmdSN: number;
  private maxSN: number;
  readonly conns = new Set<TaskConnection>();
  readonly tasks = new Map<number, ScsiTaskState>();
  /** In-window commands that arrived ahead of ExpCmdSN, released in order. */
  private readonly held = new Map<number, readonly [(arg: never) => void, unknown]>();
  ended = false;
  /** Bytes of write data currently gathered for this session's tasks. */
  gatherBytes = 0;
  /** Child of the portal's logger with the session's ids; its connections log through children of it. */
  log: Logger | undefined;

  constructor(
    readonly tsih: number,
    readonly type: 'Normal' | 'Discovery',
    readonly initiatorName: string,
    readonly isid: Buffer,
    readonly node: TargetNode | undefined,
    readonly initiatorPort: string | undefined,
    readonly nexus: ITNexus | undefined,
    readonly params: OperationalParams,
    firstCmdSN: number,
    private readonly depth: number,
  ) {
    this.expCmdSN = firstCmdSN >>> 0;
    this.maxSN = snAdd(this.expCmdSN, depth - 1);
  }

  get isidHex(): string {
    return this.isid.toString('hex');
  }

  /** Current MaxCmdSN: the window shrinks while tasks are in flight and never moves back. */
  maxCmdSN(): number {
    const free = Math.max(0, this.depth - this.tasks.size);
    const cand = snAdd(this.expCmdSN, free - 1);
    if (snLt(this.maxSN, cand)) this.maxSN = cand;
    return this.maxSN;
  }

  /**
   * Order a non-immediate PDU by CmdSN: run it now (and anything it unblocks), hold it until
   * the gap before it fills, or report 'drop' (outside the window, or a duplicate).
   */
  order<T>(cmdSN: number, run: (arg: T) => void, arg: T): 'run' | 'held' | 'drop' {
    cmdSN >>>= 0;
    if (cmdSN === this.expCmdSN) {
      this.expCmdSN = snAdd(this.expCmdSN, 1);
      run(arg);
      this.drain();
      return 'run';
    }
    const max = this.maxCmdSN();
    if (snLt(this.expCmdSN, cmdSN) && !snLt(max, cmdSN) && !this.held.has(cmdSN)) {
      this.held.set(cmdSN, [run as (arg: never) => void, arg]);
      return 'held';
    }
    return 'drop';
  }

  /** Would this CmdSN be accepted (in window, not a duplicate)? */
  accepts(cmdSN: number): boolean {
    cmdSN >>>= 0;
    if (cmdSN === this.expCmdSN) return true;
    return snLt(this.expCmdSN, cmdSN) && !snLt(this.maxCmdSN(), cmdSN) && !this.held.has(cmdSN);
  }

  /** Treat a CmdSN as received without running anything (ABORT TASK for a command not yet arrived). */
  consume(cmdSN: number): void {
    cmdSN >>>= 0;
    if (cmdSN === this.expCmdSN) {
      this.expCmdSN = snAdd(this.expCmdSN, 1);
      this.drain();
    } else if (snLt(this.expCmdSN, cmdSN)) this.held.set(cmdSN, [() => {}, undefined]);
  }

  private drain(): void {
    for (let h = this.held.get(this.expCmdSN); h; h = this.held.get(this.expCmdSN)) {
      this.held.delete(this.expCmdSN);
      this.expCmdSN = snAdd(this.expCmdSN, 1);
      (h[0] as (arg: unknown) => void)(h[1]);
    }
  }

  clearHeld(): void {
    this.held.clear();
  }
}
