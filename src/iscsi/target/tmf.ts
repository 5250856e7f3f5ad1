/**
 * Task management (RFC 7143 §11.5.1, SAM-5 §7): ABORT TASK, ABORT TASK SET, CLEAR TASK SET,
 * LOGICAL UNIT RESET, TARGET WARM/COLD RESET; the rest answered as unsupported. Tasks are
 * terminated at the transport (AbortSignal, no further PDUs) and the router is told through the
 * TaskDispatcher (and its optional TaskManagement methods).
 */
import type { ITNexus } from '../../../firmware-sim/router/task.js';
import { decodeSamLun, snLt, TmfFunction, TmfResponse, type TmfRequestBhs } from '../pdu/index.js';
import type { TargetHost } from './host.js';
import type { ScsiTaskState } from './scsi-task.js';
import type { Session } from './session.js';

/** The connection a TMF request arrived on (connection.ts). */
interface TmfConnection {
  readonly session: Session | undefined;
  readonly portal: TargetHost;
  abortTask(t: ScsiTaskState, report: boolean): void;
}

interface TmfOutcome {
  code: number;
  /** Runs after the TMF Response is queued (cold reset closes every connection). */
  after?: () => void;
}

/** Optional task-management methods a dispatcher may offer (the router's TaskManagement). */
interface OptionalTaskManagement {
  abortTaskSet?(nexus: ITNexus, lun: number): Promise<boolean>;
  clearTaskSet?(nexus: ITNexus, lun: number): Promise<boolean>;
}

function taskManagement(d: object): OptionalTaskManagement {
  return d as OptionalTaskManagement;
}

/** The router throws NoSuchLunError (by name, so this module does not depend on its class). */
const isNoSuchLun = (e: unknown): boolean => e instanceof Error && e.name === 'NoSuchLunError';

/** Sessions that reach the same target node as `s` (LU reset and target reset affect them all). */
function peers(conn: TmfConnection, s: Session): Session[] {
  return conn.portal.allSessions().filter((x) => x.type === 'Normal' && x.node?.iqn === s.node?.iqn);
}

function abortWhere(conn: TmfConnection, s: Session, pred: (lun: number) => boolean, allSessions: boolean): void {
  for (const x of allSessions ? peers(conn, s) : [s]) {
    for (const t of [...x.tasks.values()]) if (pred(t.lun)) t.conn.abortTask(t, x !== s);
  }
}

export async function runTmf(conn: TmfConnection, req: TmfRequestBhs): Promise<TmfOutcome> {
  const s = conn.session!;
  const nexus = s.nexus!;
  const d = conn.portal.dispatcher;
  const tm = taskManagement(d);
  const lun = decodeSamLun(req.lun) ?? -1;
  switch (req.function) {
    case TmfFunction.ABORT_TASK: {
      const t = s.tasks.get(req.referencedTaskTag);
      if (t) {
        conn.abortTask(t, false);
        return { code: TmfResponse.FUNCTION_COMPLETE };
      }
      // Not arrived yet (in window, before the TMF): count it as received and aborted.
      if (s.accepts(req.refCmdSN) && snLt(req.refCmdSN, req.cmdSN)) {
        s.consume(req.refCmdSN);
        return { code: TmfResponse.FUNCTION_COMPLETE };
      }
      return { code: TmfResponse.TASK_DOES_NOT_EXIST };
    }
    case TmfFunction.ABORT_TASK_SET:
      abortWhere(conn, s, (l) => l === lun, false);
      if (tm.abortTaskSet) await tm.abortTaskSet(nexus, lun).catch(() => false);
      return { code: TmfResponse.FUNCTION_COMPLETE };
    case TmfFunction.CLEAR_TASK_SET:
      abortWhere(conn, s, (l) => l === lun, true);
      if (tm.clearTaskSet) await tm.clearTaskSet(nexus, lun).catch(() => false);
      return { code: TmfResponse.FUNCTION_COMPLETE };
    case TmfFunction.LOGICAL_UNIT_RESET:
      abortWhere(conn, s, (l) => l === lun, true);
      try {
        await d.lunReset(nexus, lun);
      } catch (e) {
        if (isNoSuchLun(e)) return { code: TmfResponse.LUN_DOES_NOT_EXIST };
        throw e;
      }
      return { code: TmfResponse.FUNCTION_COMPLETE };
    case TmfFunction.TARGET_WARM_RESET:
    case TmfFunction.TARGET_COLD_RESET: {
      const cold = req.function === TmfFunction.TARGET_COLD_RESET;
      abortWhere(conn, s, () => true, true);
      await d.targetReset(nexus, cold);
      if (!cold) return { code: TmfResponse.FUNCTION_COMPLETE };
      // Cold reset: answer, then drop every connection to this target node (RFC 7143 §11.5.1).
      const victims = peers(conn, s);
      return { code: TmfResponse.FUNCTION_COMPLETE, after: () => setImmediate(() => victims.forEach((v) => conn.portal.endSession(v, 'target cold reset'))) };
    }
    case TmfFunction.CLEAR_ACA:
      return { code: TmfResponse.NOT_SUPPORTED };
    case TmfFunction.TASK_REASSIGN:
      return { code: TmfResponse.REASSIGNMENT_NOT_SUPPORTED };
    case TmfFunction.QUERY_TASK:
    case TmfFunction.QUERY_TASK_SET:
    case TmfFunction.I_T_NEXUS_RESET:
    case TmfFunction.QUERY_ASYNC_EVENT:
      return { code: TmfResponse.NOT_SUPPORTED };
    default:
      return { code: TmfResponse.REJECTED };
  }
}
