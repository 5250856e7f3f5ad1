/**
 * Live state for server-sent events: samples copy progress and LU state on a timer, computes
 * copy rates over the last second of samples, and pushes only what changed to subscribers. Sampling
 * (not hooks in the data path) keeps the copy manager and devices free of API concerns.
 */
import type { LabActivity, LabRuntime } from '../../firmware-sim/lab/build.js';
import { copyView, copyViews, luView, type CopyView } from './state.js';

export interface LabEvent {
  type: 'copies' | 'lu' | 'lab' | 'activity';
  data: unknown;
}

/** One line of the timeline: robot and drive activity, copies starting and ending, API changes. */
export interface TimelineEntry {
  /** Epoch ms. */
  at: number;
  kind: LabActivity['kind'] | 'copy' | 'api';
  source: string;
  what: string;
}

type CopyBase = Omit<CopyView, 'rate' | 'job'>;
const copyKey = (c: CopyBase) => `${c.copyManager}|${c.lu}|${c.initiator}|${c.listId}`;

type Listener = (e: LabEvent) => void;

/**
 * A copy's rate is its bytes over at least this long: GET /api/copies, /metrics and the event
 * timer all sample, and the rate must not depend on how often (or how closely together) they do.
 */
const RATE_WINDOW_MS = 1000;

interface Sample {
  bytes: number;
  at: number;
}

export class LabEvents {
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | undefined;
  /** Per copy list: samples of the last two windows, oldest first. */
  private samples = new Map<string, Sample[]>();
  private lastLu = new Map<string, string>();
  private lastCopies = '';
  copies: CopyView[] = [];
  /** Copies that ended, newest last: the copy manager may discard a list once its results are read. */
  private readonly history: CopyBase[] = [];
  private readonly unhook: Array<() => void> = [];
  /** Newest last, at most `keepTimeline`. */
  readonly timeline: TimelineEntry[] = [];
  /** Backup jobs running now, by the initiator port their copies come from (newest claim wins). */
  private readonly claims: Array<{ initiatorPort: string; job: number }> = [];
  /** Copy → the job that ran it (undefined: none), decided when the copy is first seen. */
  private readonly owners = new Map<string, number | undefined>();
  /** The iSCSI sessions now (set by the API when it has a target): logins and logouts redraw the fabric. */
  sessionSource: (() => Array<{ tsih: number; initiatorName: string; initiatorPort?: string }>) | undefined;
  private lastSessions = '';

  constructor(
    private readonly runtime: LabRuntime,
    private readonly intervalMs = 250,
    private readonly keep = 20,
    private readonly keepTimeline = 200,
  ) {
    for (const [name, cm] of runtime.copyManagers) {
      const l = (e: Parameters<typeof copyView>[1]) => {
        const v = copyView(name, e);
        this.attribute(v);
        this.history.push(v);
        if (this.history.length > this.keep) this.history.shift();
        const how = v.state === 'done' ? 'done' : `failed${v.failure ? `: ${v.failure}` : ''}`;
        this.record({ at: v.finishedAt ?? Date.now(), kind: 'copy', source: v.lu, what: `copy list ${v.listId} ${how} (${(v.bytesWritten / 1048576).toFixed(1)} MiB)` });
      };
      cm.table.onFinish.add(l);
      this.unhook.push(() => cm.table.onFinish.delete(l));
    }
    const a = (x: LabActivity) => this.record({ ...x });
    runtime.activity.add(a);
    this.unhook.push(() => runtime.activity.delete(a));
  }

  /** A backup job runs from `initiatorPort` (a WWPN or iSCSI port name) until the returned release is called. */
  claim(initiatorPort: string, job: number): () => void {
    const c = { initiatorPort, job };
    this.claims.push(c);
    return () => {
      const i = this.claims.indexOf(c);
      if (i >= 0) this.claims.splice(i, 1);
    };
  }

  /** Whether a running backup job uses this initiator port (the in-process backup server is logged in there). */
  claimed(initiatorPort: string): boolean {
    const norm = (w: string) => w.replace(/:/g, '').toLowerCase();
    return this.claims.some((c) => norm(c.initiatorPort) === norm(initiatorPort));
  }

  /** The job a copy belongs to: the newest running claim of its initiator port when first seen. */
  private attribute(c: CopyBase): number | undefined {
    // The start time tells a list id used again (by the next backup) from the earlier copy.
    const k = `${copyKey(c)}|${c.startedAt ?? ''}`;
    if (!this.owners.has(k)) {
      const port = c.initiator.split('|')[0];
      const claim = [...this.claims].reverse().find((x) => x.initiatorPort === port);
      this.owners.set(k, claim?.job);
      if (this.owners.size > 1000) this.owners.delete(this.owners.keys().next().value!);
      if (c.state === 'running') this.record({ at: c.startedAt ?? Date.now(), kind: 'copy', source: c.lu, what: `copy list ${c.listId} started (${c.segments} segments)` });
    }
    return this.owners.get(k);
  }

  private record(e: TimelineEntry): void {
    this.timeline.push(e);
    if (this.timeline.length > this.keepTimeline) this.timeline.shift();
    this.emit({ type: 'activity', data: e });
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    this.ensureTimer();
    return () => {
      this.listeners.delete(l);
      if (!this.listeners.size && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  /** Announce a change made through the API (zones, cartridges...), so dashboards refresh at once. */
  changed(what: string): void {
    this.record({ at: Date.now(), kind: 'api', source: 'api', what });
    this.emit({ type: 'lab', data: { changed: what } });
    this.sample();
  }

  /** Current copies with rates (also used by GET /api/copies). */
  sampleCopies(): CopyView[] {
    const now = performance.now();
    const next = new Map<string, Sample[]>();
    const live = copyViews(this.runtime);
    const key = copyKey;
    const liveKeys = new Set(live.filter((c) => c.state === 'running').map(key));
    // Ended copies from the history unless the same list id is running again.
    const ended = new Map(this.history.filter((c) => !liveKeys.has(key(c))).map((c) => [key(c), c]));
    for (const c of live) if (c.state !== 'running') ended.delete(key(c));
    this.copies = [...ended.values(), ...live].map((c) => {
      const k = key(c);
      const kept = (this.samples.get(k) ?? []).filter((x) => now - x.at <= 2 * RATE_WINDOW_MS && x.bytes <= c.bytesWritten);
      // The newest sample at least a window old, else the oldest there is.
      let ref: Sample | undefined;
      for (const x of kept) if (now - x.at >= RATE_WINDOW_MS || !ref) ref = x;
      const dt = ref ? (now - ref.at) / 1000 : 0;
      const rate = ref && dt > 0 && c.state === 'running' ? (c.bytesWritten - ref.bytes) / dt : 0;
      const last = kept.at(-1);
      // One sample per 50 ms is plenty for a one-second window, however often callers ask.
      if (!last || now - last.at >= 50) kept.push({ bytes: c.bytesWritten, at: now });
      next.set(k, kept);
      const job = this.attribute(c);
      return { ...c, rate, ...(job !== undefined ? { job } : {}) };
    });
    this.samples = next;
    return this.copies;
  }

  private sample(): void {
    // An initiator logging in or out changes the fabric picture: tell dashboards as an API change would.
    const sessions = this.sessionSource?.();
    if (sessions) {
      const sig = sessions.map((x) => `${x.tsih}|${x.initiatorName}|${x.initiatorPort ?? ''}`).sort().join('\n');
      if (sig !== this.lastSessions) {
        this.lastSessions = sig;
        this.emit({ type: 'lab', data: { changed: 'sessions' } });
      }
    }
    const copies = this.sampleCopies();
    const sig = JSON.stringify(copies.map(({ rate: _r, ...c }) => c));
    if (sig !== this.lastCopies) {
      this.lastCopies = sig;
      this.emit({ type: 'copies', data: copies });
    }
    for (const e of this.runtime.lus()) {
      const v = luView(e);
      const s = JSON.stringify(v);
      if (this.lastLu.get(e.name) !== s) {
        this.lastLu.set(e.name, s);
        this.emit({ type: 'lu', data: v });
      }
    }
  }

  private emit(e: LabEvent): void {
    for (const l of this.listeners) l(e);
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  close(): void {
    for (const u of this.unhook) u();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }
}
