/**
 * The origin disk's BlockStore, wrapped for copy-on-write (snapshot.md §1.2, §2.2). Every write
 * and discard first makes sure each valid snapshot of the origin holds the old content of every
 * chunk the range touches: the origin chunk is read once, preserved in each store lacking it
 * (data, record, group-committed fdatasync), and only then does the change reach the origin. A
 * chunk being copied is claimed per snapshot, so a second write to it waits for the copy instead
 * of copying again or overtaking it. A store that is full or fails invalidates its snapshot
 * (durably) and the origin write goes on: origin writes never fail because of a snapshot.
 *
 * The write gate lets a snapshot set be taken at one instant: closing it waits for the writes in
 * flight, holds new ones (queued in arrival order, not failed) until it opens again.
 *
 * With no snapshot and the gate open a write is a plain call to the inner store.
 */
import { checkRange, type BlockStore } from '../backing/block-store.js';
import { BlockBitmap } from '../disk/block-bitmap.js';
import { InvalidReason } from './cow-format.js';
import type { SideStore } from './side-store.js';

/** Granularity of the origin's change tracking between snapshots (bytes). */
export const TRACK_BYTES = 4096;

/** A snapshot as the origin's write path sees it. */
export interface CowTarget {
  readonly id: string;
  readonly store: SideStore;
  /** Chunks being copied into this snapshot now. */
  readonly pending: Map<number, Promise<void>>;
  /** Called once when the store becomes invalid (after the header is durable). */
  invalidated(reason: InvalidReason, error?: unknown): void;
}

export class CowOrigin implements BlockStore {
  private targets: CowTarget[] = [];
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;
  private inflight = 0;
  private drained: (() => void) | undefined;
  /** Chunks (TRACK_BYTES) changed since the last snapshot of this origin; undefined = unknown (after a crash). */
  private changes: BlockBitmap | undefined;

  constructor(
    readonly inner: BlockStore,
    changesKnown = true,
  ) {
    if (changesKnown) this.changes = new BlockBitmap(Math.ceil(inner.size / TRACK_BYTES));
  }

  get size(): number {
    return this.inner.size;
  }
  get kind(): string {
    return this.inner.kind;
  }
  get fresh(): boolean {
    return this.inner.fresh;
  }

  get allocatedRanges(): BlockStore['allocatedRanges'] {
    return this.inner.allocatedRanges?.bind(this.inner);
  }
  get takeMeta(): BlockStore['takeMeta'] {
    return this.inner.takeMeta?.bind(this.inner);
  }
  get putMeta(): BlockStore['putMeta'] {
    return this.inner.putMeta?.bind(this.inner);
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.inner.read(offset, length);
  }
  readInto(target: Buffer, offset: number): Promise<void> {
    return this.inner.readInto(target, offset);
  }

  write(offset: number, data: Buffer): Promise<void> {
    if (!this.gate && this.targets.length === 0) {
      this.track(offset, data.length);
      // Counted even here: a gate closing now must wait for this write (a large one runs in the pool).
      this.inflight++;
      return this.inner.write(offset, data).finally(this.left);
    }
    return this.guarded(offset, data.length, () => this.inner.write(offset, data));
  }

  discard(offset: number, length: number): Promise<void> {
    if (!this.gate && this.targets.length === 0) {
      this.track(offset, length);
      this.inflight++;
      return this.inner.discard(offset, length).finally(this.left);
    }
    return this.guarded(offset, length, () => this.inner.discard(offset, length));
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  // ------------------------------------------------------------------ snapshots

  get snapshotCount(): number {
    return this.targets.length;
  }

  /** Start copy-on-write for a snapshot (call with the gate closed: no write is in flight). */
  addTarget(t: CowTarget): void {
    this.targets.push(t);
  }

  removeTarget(id: string): void {
    this.targets = this.targets.filter((t) => t.id !== id);
  }

  /**
   * The changes since the previous call (in TRACK_BYTES units), and a new epoch begins. Undefined
   * when they are unknown (the router was killed since the last snapshot of this origin).
   */
  takeChanges(): BlockBitmap | undefined {
    const c = this.changes;
    this.changes = new BlockBitmap(Math.ceil(this.inner.size / TRACK_BYTES));
    return c;
  }

  peekChanges(): BlockBitmap | undefined {
    return this.changes;
  }

  /** Restore the change map saved at a clean stop. */
  setChanges(b: BlockBitmap | undefined): void {
    this.changes = b;
  }

  /** Hold new writes and wait for those in flight. */
  async closeGate(): Promise<void> {
    if (this.gate) throw new Error('write gate already closed');
    this.gate = new Promise<void>((r) => (this.openGate = r));
    if (this.inflight > 0) await new Promise<void>((r) => (this.drained = r));
  }

  /** Release the held writes (in arrival order). */
  releaseGate(): void {
    const open = this.openGate;
    this.gate = undefined;
    this.openGate = undefined;
    open?.();
  }

  get gateClosed(): boolean {
    return this.gate !== undefined;
  }

  // ------------------------------------------------------------------ the write path

  private track(offset: number, length: number): void {
    if (!this.changes || length === 0) return;
    const first = Math.floor(offset / TRACK_BYTES);
    const last = Math.floor((offset + length - 1) / TRACK_BYTES);
    this.changes.set(first, last - first + 1);
  }

  private async guarded(offset: number, length: number, apply: () => Promise<void>): Promise<void> {
    checkRange(this, offset, length);
    while (this.gate) await this.gate;
    this.inflight++;
    try {
      if (length > 0) await this.preserveRange(offset, length);
      this.track(offset, length);
      await apply();
    } finally {
      this.left();
    }
  }

  /** A write or discard has ended. */
  private readonly left = (): void => {
    if (--this.inflight === 0 && this.drained) {
      const d = this.drained;
      this.drained = undefined;
      d();
    }
  };

  /** Make every valid snapshot hold every chunk of [offset, offset+length) (§1.2 steps 1–5). */
  private async preserveRange(offset: number, length: number): Promise<void> {
    for (;;) {
      const waits: Promise<void>[] = [];
      const jobs: Array<{ t: CowTarget; chunk: number; done: () => void }> = [];
      for (const t of this.targets) {
        if (!t.store.valid) continue;
        const cb = t.store.chunkBytes;
        const last = Math.floor((offset + length - 1) / cb);
        for (let c = Math.floor(offset / cb); c <= last; c++) {
          if (t.store.has(c)) continue;
          const p = t.pending.get(c);
          if (p) {
            waits.push(p);
            continue;
          }
          let done!: () => void;
          t.pending.set(
            c,
            new Promise<void>((r) => (done = r)),
          );
          jobs.push({ t, chunk: c, done });
        }
      }
      if (jobs.length) await this.copyOut(jobs);
      if (!waits.length) return;
      // Someone else was copying a chunk we need: wait for it and look again (it may have failed).
      await Promise.all(waits);
    }
  }

  private async copyOut(jobs: Array<{ t: CowTarget; chunk: number; done: () => void }>): Promise<void> {
    // One origin read per distinct byte range (snapshots with the same chunk size share it).
    const reads = new Map<string, Promise<Buffer>>();
    const oldData = (start: number, len: number) => {
      const k = `${start}:${len}`;
      let p = reads.get(k);
      if (!p) reads.set(k, (p = this.inner.read(start, len)));
      return p;
    };
    await Promise.all(
      jobs.map(async ({ t, chunk, done }) => {
        const cb = t.store.chunkBytes;
        const start = chunk * cb;
        try {
          if (!t.store.valid) return;
          const data = await oldData(start, Math.min(cb, this.inner.size - start));
          let kept: boolean;
          try {
            kept = await t.store.preserve(chunk, data);
          } catch (e) {
            await t.store.invalidate(InvalidReason.STORE_IO_ERROR);
            t.invalidated(InvalidReason.STORE_IO_ERROR, e);
            return;
          }
          if (!kept && t.store.valid) {
            await t.store.invalidate(InvalidReason.STORE_FULL);
            t.invalidated(InvalidReason.STORE_FULL);
          }
        } finally {
          t.pending.delete(chunk);
          done();
        }
      }),
    );
  }
}
