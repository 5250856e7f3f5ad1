/**
 * The copy manager: runs EXTENDED COPY (LID1) parameter lists and answers RECEIVE COPY RESULTS.
 * One instance serves every LU that hosts a copy manager (the data mover LU and, with their own
 * profiles, the disk LUs); list state is kept per LU and per I_T nexus.
 *
 * Order of work (extended-copy.md §12.1): CDB, list length, static validation of the whole list
 * (codec), list-ID checks, concurrency, then segments in list order — each resolves its CSCDs
 * lazily through the data mover's own initiator port, scoped to what the requester may access.
 */
import { setMaxListeners } from 'node:events';
import PQueue from 'p-queue';
import type { Logger } from '../../src/log.js';
import { decodeSense, hexByte, ScsiError, Sense, SenseKey, senseCode, type SenseInfo } from '../../src/scsi/sense.js';
import { ScsiStatus } from '../../src/scsi/status.js';
import { decodeParameterList, decodeXcopyCdb, ListIdUsage, segmentOf } from '../../src/scsi/xcopy.js';
import {
  CopyManagerStatus,
  decodeRcrCdb,
  encodeCopyStatus,
  encodeFailedSegmentDetails,
  encodeOperatingParameters,
  encodeReceiveData,
  RcrServiceAction,
  transferCountOf,
} from '../../src/scsi/receive-copy-results.js';
import type { CommandContext, HandlerOutput } from '../lu/logical-unit.js';
import type { ITNexus } from '../router/task.js';
import { clearResidue, CopyRun, HeldData, type EngineOptions } from './engine.js';
import type { CscdScope, InitiatorPort } from './environment.js';
import { CopyAbort } from './errors.js';
import { executorFor } from './executors/index.js';
import { ListTable, type CopyEntry } from './list-table.js';
import { operatingParameters, type CopyProfile } from './profile.js';
import { CscdResolver } from './resolve.js';

export interface CopyManagerOptions {
  /** The data mover's initiator port on the fabric. */
  port: InitiatorPort;
  /** Scoped LU lookup (zoning + LUN masking for both the requester and the data mover). */
  scope: CscdScope;
  /** Bytes per disk chunk the data mover reads ahead and hands on (default 1 MiB). */
  chunkBytes?: number;
  /**
   * Largest disk READ the data mover sends; a chunk is read as several when it is smaller (default
   * 1 MiB, one READ a chunk: above the disk's inline limit, so the reads run in the thread pool
   * while the tape write of the chunk before runs on the event loop).
   */
  readBytes?: number;
  /** Disk chunks read ahead per copy (default 4). */
  readAhead?: number;
  /** Disk reads in flight across all copies: the worker pool (default 8). */
  poolConcurrency?: number;
  /** Completed-list retention (default 60 s, as FreeBSD). */
  completedTtlMs?: number;
  /** Each copy logs through a child of it ({copyJob, nexus, listId}): start, failure, end. */
  log?: Logger;
}

/** A running or finished copy, for the management API and logs. */
export interface CopyProgress {
  lu: string;
  initiator: string;
  listId: number;
  state: CopyEntry['state'];
  segmentsProcessed: number;
  segments: number;
  bytesWritten: number;
}

/** Where one copy stands: what the lab summary and the management API's copy views show. */
export function copyProgress(e: CopyEntry): CopyProgress {
  return {
    lu: e.lu,
    initiator: e.nexusKey,
    listId: e.listId,
    state: e.state,
    segmentsProcessed: e.run.segmentsProcessed,
    segments: e.run.list.segments.length,
    bytesWritten: e.run.bytesWritten,
  };
}

const abortError = () => new DOMException('EXTENDED COPY aborted', 'AbortError');


/** Sense key/ASC/ASCQ of the failure and of each forwarded sense, for the copy's failure line. */
function failureFields(sense: SenseInfo): Record<string, unknown> {
  return {
    sense: senseCode(sense),
    ...(sense.information !== undefined ? { residual: String(sense.information) } : {}),
    forwarded: (sense.forwarded ?? []).map((f) => {
      let text: string;
      try {
        text = senseCode(decodeSense(f.sense));
      } catch {
        text = f.sense.toString('hex');
      }
      return { source: f.source, status: `0x${hexByte(f.status)}`, sense: text };
    }),
  };
}

export class CopyManager {
  readonly table: ListTable;
  private readonly pool: PQueue;
  private readonly engine: Omit<EngineOptions, 'maxStreamTransferSize'>;

  constructor(readonly opts: CopyManagerOptions) {
    this.table = new ListTable(opts.completedTtlMs);
    this.pool = new PQueue({ concurrency: opts.poolConcurrency ?? 8 });
    this.engine = { chunkBytes: opts.chunkBytes ?? 1 << 20, readBytes: opts.readBytes ?? 1 << 20, readAhead: opts.readAhead ?? 4, pool: this.pool };
  }

  get port(): InitiatorPort {
    return this.opts.port;
  }

  progress(): CopyProgress[] {
    return this.table.all().map(copyProgress);
  }

  // ---------------------------------------------------------------- EXTENDED COPY

  async extendedCopy(ctx: CommandContext, profile: CopyProfile): Promise<HandlerOutput> {
    const { parameterListLength } = decodeXcopyCdb(ctx.cdb);
    if (parameterListLength === 0) return undefined;
    const data = (ctx.task.dataOut ?? Buffer.alloc(0)).subarray(0, parameterListLength);
    const list = decodeParameterList(data, profile);
    const lu = ctx.lu.identity.name;
    const { listId, listIdUsage } = list.header;
    if (listIdUsage !== ListIdUsage.NONE) {
      const old = this.table.get(lu, ctx.nexus.key, listId);
      if (old?.state === 'running') throw new ScsiError({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x00, ascq: 0x16 });
      if (old) this.table.remove(old);
    }
    const running = this.table.running(lu);
    if (running.length >= profile.totalConcurrentCopies || (listIdUsage !== ListIdUsage.NONE && running.filter((e) => e.usage !== ListIdUsage.NONE).length >= profile.maxConcurrentCopies)) {
      throw Sense.busy();
    }

    const abort = new AbortController();
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, abort.signal]) : abort.signal;
    // Every in-flight CSCD command and pooled read listens on it; the count is bounded by the pool.
    setMaxListeners(256, signal);
    const resolver = new CscdResolver(this.opts.port, this.opts.scope, ctx.nexus, list.cscds, ctx.lu.identity, signal);
    const held = profile.heldDataLimit > 0 && listIdUsage === ListIdUsage.HOLD ? new HeldData(profile.heldDataLimit) : undefined;
    const run = new CopyRun(list, resolver, { ...this.engine, maxStreamTransferSize: profile.maxStreamTransferSize }, signal, held);
    const entry: CopyEntry = { lu, nexusKey: ctx.nexus.key, listId, usage: listIdUsage, state: 'running', run, abort, statusReported: false, heldDiscarded: false };
    this.table.add(entry);
    const log = this.opts.log?.child({ copyJob: `${lu}/${listId}`, nexus: ctx.nexus.key, listId });
    const started = performance.now();
    log?.info({ segments: list.segments.length, cscds: list.cscds.length, listIdUsage }, 'copy started');

    let index = 0;
    try {
      for (; index < list.segments.length; index++) {
        signal.throwIfAborted();
        const seg = list.segments[index]!;
        run.segmentsProcessed = index + 1;
        run.segExpected = 0;
        run.segWritten = 0;
        run.segUnit = 1;
        const exec = executorFor(seg.type);
        // Profiles only list executable types, so the codec has already refused anything else.
        if (!exec) throw new CopyAbort(0x26, 0x09, seg.offset);
        await exec({ run, seg: segmentOf(seg), index, last: index === list.segments.length - 1, ptr: seg.offset ?? 0 });
      }
      for (const f of run.finally.splice(0)) {
        index = f.segment;
        await f.run();
      }
      entry.state = 'done';
      return undefined;
    } catch (e) {
      // A copy that failed still hands the reservation back; its own error is what gets reported.
      for (const f of run.finally.splice(0)) await f.run().catch(() => {});
      entry.state = 'failed';
      if (signal.aborted) {
        log?.warn({ segment: index }, 'copy aborted');
        throw abortError();
      }
      if (e instanceof CopyAbort) {
        const sense = e.toSense(index, run.residual());
        log?.warn({ segment: index, ...failureFields(sense) }, 'copy failed');
        entry.failure = { status: ScsiStatus.CHECK_CONDITION, sense: ctx.lu.encodeSense(sense) };
        throw new ScsiError(sense);
      }
      if (e instanceof ScsiError) log?.warn({ segment: index, ...failureFields(e.sense) }, 'copy failed');
      else log?.error({ segment: index, err: e instanceof Error ? e.stack : String(e) }, 'copy failed');
      throw e;
    } finally {
      clearResidue(run);
      if (log) {
        const ms = performance.now() - started;
        const bytes = run.bytesWritten;
        log.info({ state: entry.state, segmentsProcessed: run.segmentsProcessed, bytes, ms: Math.round(ms * 10) / 10, mibPerSec: ms > 0 ? Math.round((bytes / 1048576 / (ms / 1000)) * 10) / 10 : 0 }, 'copy ended');
      }
      if (held) {
        entry.held = held.bytes;
        entry.heldDiscarded = held.discarded;
      }
      this.table.finish(entry);
    }
  }

  // ---------------------------------------------------------------- RECEIVE COPY RESULTS

  receiveCopyResults(ctx: CommandContext, profile: CopyProfile): HandlerOutput {
    const { serviceAction, listId, allocationLength } = decodeRcrCdb(ctx.cdb);
    const fit = (b: Buffer) => b.subarray(0, allocationLength);
    if (serviceAction === RcrServiceAction.OPERATING_PARAMETERS) return fit(encodeOperatingParameters(operatingParameters(profile)));

    const e = this.table.get(ctx.lu.identity.name, ctx.nexus.key, listId);
    const unknown = () => Sense.invalidFieldInCdb(2);
    switch (serviceAction) {
      case RcrServiceAction.COPY_STATUS: {
        if (!e || e.statusReported) throw unknown();
        const status = e.state === 'running' ? CopyManagerStatus.IN_PROGRESS : e.state === 'done' ? CopyManagerStatus.COMPLETED_GOOD : CopyManagerStatus.COMPLETED_ERROR;
        const out = encodeCopyStatus({ heldDataDiscarded: e.heldDiscarded, status, segmentsProcessed: e.run.segmentsProcessed, ...transferCountOf(e.run.bytesWritten) });
        // The completed state counts as reported once the initiator took the whole status.
        if (e.state !== 'running' && allocationLength >= out.length) {
          e.statusReported = true;
          this.table.dropIfSpent(e);
        }
        return fit(out);
      }
      case RcrServiceAction.RECEIVE_DATA: {
        if (!e || e.state === 'running' || e.held === undefined) throw unknown();
        const out = encodeReceiveData(e.held);
        if (allocationLength === 0 || allocationLength >= out.length) {
          e.held = undefined;
          this.table.dropIfSpent(e);
        }
        return fit(out);
      }
      case RcrServiceAction.FAILED_SEGMENT_DETAILS: {
        if (!e || e.state === 'running') throw unknown();
        const out = encodeFailedSegmentDetails(e.failure && { commandStatus: e.failure.status, sense: e.failure.sense });
        if (allocationLength === 0 || allocationLength >= out.length) {
          e.failure = undefined;
          e.statusReported = true;
          this.table.dropIfSpent(e);
        }
        return fit(out);
      }
      default:
        throw Sense.invalidFieldInCdb(1, 4);
    }
  }

  // ---------------------------------------------------------------- task management

  /**
   * Abort one copy from outside SCSI (the management API). Only a running copy is aborted; the
   * answer is the state the copy was in, undefined when there is no such copy.
   */
  abort(lu: string, nexusKey: string, listId: number, why: string): CopyEntry['state'] | undefined {
    const e = this.table.get(lu, nexusKey, listId);
    const state = e?.state;
    if (state === 'running') e!.abort.abort(new DOMException(why, 'AbortError'));
    return state;
  }

  /** I_T nexus loss: abort that nexus's copies and discard their results (extended-copy.md §7.5). */
  nexusLost(nexus: ITNexus): void {
    for (const e of this.table.matching((x) => x.nexusKey === nexus.key)) this.drop(e);
  }

  /** LU reset / power on: abort every copy on the LU and discard all results. */
  luReset(luName: string): void {
    for (const e of this.table.matching((x) => x.lu === luName)) this.drop(e);
  }

  private drop(e: CopyEntry): void {
    e.abort.abort(abortError());
    this.table.remove(e);
  }
}
