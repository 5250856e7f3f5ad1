/**
 * Per-LU list-identifier table (extended-copy.md §3.2, §8): keyed by (LU, I_T nexus, list ID), so
 * RECEIVE COPY RESULTS finds only the requester's own copies. Completed entries live until what
 * they hold has been reported (status, held data, failure details), a new copy reuses the ID, the
 * nexus is lost, the LU is reset, or a TTL passes.
 */
import { ListIdUsage } from '../../src/scsi/xcopy.js';
import type { CopyRun } from './engine.js';

export interface CopyEntry {
  lu: string;
  nexusKey: string;
  listId: number;
  usage: number;
  state: 'running' | 'done' | 'failed';
  run: CopyRun;
  abort: AbortController;
  /** Epoch ms: when the copy began (dashboards show a finished copy's average rate). */
  startedAt?: number;
  finishedAt?: number;
  statusReported: boolean;
  held?: Buffer;
  heldDiscarded: boolean;
  failure?: { status: number; sense: Buffer };
}

const keyOf = (lu: string, nexusKey: string, listId: number) => `${lu}\u0000${nexusKey}\u0000${listId}`;

export class ListTable {
  private readonly entries = new Map<string, CopyEntry>();
  /** Copies running with LIST ID USAGE 11b: counted for TOTAL CONCURRENT COPIES, never looked up. */
  private readonly anonymous = new Set<CopyEntry>();

  /** Told of every copy as it ends (done or failed), before anything can be discarded: dashboards keep a history. */
  readonly onFinish = new Set<(e: CopyEntry) => void>();

  constructor(private readonly ttlMs = 60_000) {}

  get(lu: string, nexusKey: string, listId: number): CopyEntry | undefined {
    this.expire();
    return this.entries.get(keyOf(lu, nexusKey, listId));
  }

  running(lu?: string): CopyEntry[] {
    return [...this.entries.values(), ...this.anonymous].filter((e) => e.state === 'running' && (lu === undefined || e.lu === lu));
  }

  all(): CopyEntry[] {
    return [...this.entries.values(), ...this.anonymous];
  }

  add(e: CopyEntry): void {
    if (e.usage === ListIdUsage.NONE) this.anonymous.add(e);
    else this.entries.set(keyOf(e.lu, e.nexusKey, e.listId), e);
  }

  finish(e: CopyEntry): void {
    e.finishedAt = Date.now();
    for (const l of this.onFinish) l(e);
    if (e.usage === ListIdUsage.NONE) this.anonymous.delete(e);
    if (e.usage === ListIdUsage.DISCARD) e.held = undefined;
    this.dropIfSpent(e);
  }

  remove(e: CopyEntry): void {
    this.anonymous.delete(e);
    const k = keyOf(e.lu, e.nexusKey, e.listId);
    if (this.entries.get(k) === e) this.entries.delete(k);
  }

  /** Forget a completed entry once nothing in it is left to report. */
  dropIfSpent(e: CopyEntry): void {
    if (e.state !== 'running' && e.statusReported && !e.held?.length && !e.failure) this.remove(e);
  }

  /** Entries of a nexus (loss) or of an LU (reset), running or not. */
  matching(pred: (e: CopyEntry) => boolean): CopyEntry[] {
    return this.all().filter(pred);
  }

  private expire(): void {
    const limit = Date.now() - this.ttlMs;
    for (const e of this.entries.values()) if (e.state !== 'running' && (e.finishedAt ?? Infinity) < limit) this.remove(e);
  }
}
