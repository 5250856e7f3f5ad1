/**
 * Runs compiled EXTENDED COPY commands against the data mover one after another, polling
 * RECEIVE COPY RESULTS (COPY STATUS) from a second command stream for progress. A COPY ABORTED
 * ends the job with the failed command, the failed segment (job-wide index) and the copy
 * target's forwarded sense; the caller resumes from the failed segment (see resume.ts).
 */
import { CopyManagerStatus } from '../scsi/receive-copy-results.js';
import { decodeSense, describeSense, meansTapeFull, SenseKey, type SenseInfo } from '../scsi/sense.js';
import { ScsiStatus } from '../scsi/status.js';
import type { CompiledCommand } from './plan/compile.js';
import { ScsiClient } from './scsi-client.js';
import type { ProgressSink } from './progress.js';

export interface DataMoverRef {
  target: string;
  lun: number;
}

export interface JobFailure {
  commandIndex: number;
  /** List identifier of the failed EXTENDED COPY (for RECEIVE COPY RESULTS). */
  listId: number;
  /** Segment index within the whole job. */
  failedSegment: number;
  /** Segment index within the failed command. */
  segmentInCommand?: number;
  status: number;
  sense?: SenseInfo;
  message: string;
}

export interface JobResult {
  ok: boolean;
  commandsDone: number;
  bytesMoved: number;
  elapsedMs: number;
  failure?: JobFailure;
}

export interface RunOptions {
  progress?: ProgressSink;
  /** Called before each command (e.g. to record the tape position for resume). */
  beforeCommand?: (index: number) => Promise<void>;
  startAt?: number;
  pollMs?: number;
}

function unitsToBytes(units: number, count: number): number {
  if (units <= 0x06) return count * 1024 ** units;
  return count;
}

export function describeFailure(f: JobFailure): string {
  let full = f.sense ? meansTapeFull(f.sense) : false;
  const fwd = f.sense?.forwarded?.map((x) => {
    try {
      const s = decodeSense(x.sense);
      full ||= meansTapeFull(s);
      return `${x.source} ${describeSense(s)}`;
    } catch {
      return `${x.source} (undecodable sense)`;
    }
  });
  // A full cartridge is the one failure an operator fixes without reading sense codes.
  return `${full ? 'the tape is full (end of medium): ' : ''}${f.message}${fwd?.length ? `; copy target said: ${fwd.join('; ')}` : ''}`;
}

export async function runJob(client: ScsiClient, dm: DataMoverRef, commands: CompiledCommand[], opts: RunOptions = {}): Promise<JobResult> {
  const total = commands.reduce((s, c) => s + c.dataBytes, 0);
  const poller = client.transport.secondary ? new ScsiClient(await client.transport.secondary()) : client;
  const t0 = Date.now();
  let moved = commands.slice(0, opts.startAt ?? 0).reduce((s, c) => s + c.dataBytes, 0);
  for (let i = opts.startAt ?? 0; i < commands.length; i++) {
    const cmd = commands[i]!;
    await opts.beforeCommand?.(i);
    let finished = false;
    const running = client.extendedCopy(dm.target, dm.lun, cmd.parameterList).finally(() => {
      finished = true;
    });
    const poll = (async () => {
      while (!finished) {
        await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
        if (finished) break;
        try {
          const st = await poller.copyStatus(dm.target, dm.lun, cmd.listId);
          if (st.status === CopyManagerStatus.IN_PROGRESS) opts.progress?.update(moved + Math.min(cmd.dataBytes, unitsToBytes(st.units, st.transferCount)), total);
        } catch {
          /* status not available yet (list ID not registered): keep polling */
        }
      }
    })();
    const r = await running;
    await poll;
    if (r.status !== ScsiStatus.GOOD) {
      let sense: SenseInfo | undefined;
      try {
        sense = r.sense?.length ? decodeSense(r.sense) : undefined;
      } catch {
        sense = undefined;
      }
      const segInCmd = sense?.key === SenseKey.COPY_ABORTED && sense.commandSpecific !== undefined ? sense.commandSpecific & 0xffff : undefined;
      const failure: JobFailure = {
        commandIndex: i,
        listId: cmd.listId,
        failedSegment: cmd.firstSegment + (segInCmd ?? 0),
        ...(segInCmd !== undefined ? { segmentInCommand: segInCmd } : {}),
        status: r.status,
        ...(sense ? { sense } : {}),
        message: `EXTENDED COPY ${i + 1}/${commands.length} (list ${cmd.listId}) failed${segInCmd !== undefined ? ` at segment ${segInCmd}` : ''}: status ${r.status.toString(16)}h${sense ? ` ${describeSense(sense)}` : ''}`,
      };
      return { ok: false, commandsDone: i, bytesMoved: moved, elapsedMs: Date.now() - t0, failure };
    }
    moved += cmd.dataBytes;
    opts.progress?.update(moved, total);
  }
  return { ok: true, commandsDone: commands.length, bytesMoved: moved, elapsedMs: Date.now() - t0 };
}
