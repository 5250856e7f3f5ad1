/**
 * The array's snapshot provider (snapshot.md §6): snapshot sets of disk LUs taken all-or-none at
 * one instant under the origins' write gates, each snapshot a read-only disk LU of the same array
 * (its own LUN counting down from 255, its own NAA, masked to chosen initiators) over a
 * copy-on-write side store `<data>/snapshots/<id>.cow`. The catalog `<data>/snapshots/catalog.json`
 * is the commit point of a set: written (temp file, fdatasync, rename, directory sync) while the
 * gates are closed, so a set exists after a crash exactly when its catalog entry does; stores
 * without an entry are removed at the next start, entries without a store dropped.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../src/log.js';
import { DiskLu } from '../devices/disk/disk-lu.js';
import { CowGeometry, InvalidReason, REASON_TEXT } from '../devices/snapshot/cow-format.js';
import type { CowOrigin } from '../devices/snapshot/cow-origin.js';
import { SideStore } from '../devices/snapshot/side-store.js';
import { SnapshotFaults } from '../devices/snapshot/snapshot-faults.js';
import { SnapshotView } from '../devices/snapshot/snapshot-view.js';
import type { TargetDevice } from '../router/target-device.js';
import { naaFor } from './identity.js';
import { parseSize } from './schema.js';

export const MAX_PER_ORIGIN = 8;
export const MAX_PER_ARRAY = 64;
export const DEFAULT_CHUNK = 4096;
/** How long a set may hold its origins' writes (VSS's 10 s). */
export const DEFAULT_COMMIT_WINDOW_MS = 10_000;

/** What the provider needs from the running lab. */
export interface SnapshotHost {
  readonly dataDir: string;
  readonly log: Logger;
  /** A disk LU ("array/lu") that can have snapshots. */
  origin(name: string): { disk: DiskLu; cow: CowOrigin; device: TargetDevice; array: string; wwnn: string } | undefined;
  /** Initiator WWPNs a snapshot of `array` is always mapped to (data movers, the array's copy manager). */
  defaultMapTo(array: string): string[];
  /** "host/port", "host", a WWPN or an iSCSI name → WWPNs; throws SnapshotError on an unknown reference. */
  resolveInitiator(ref: string): string[];
  attached(snapshot: SnapshotEntry): void;
  detached(snapshot: SnapshotEntry): void;
}

export class SnapshotError extends Error {
  constructor(
    message: string,
    readonly kind: 'not-found' | 'conflict' | 'invalid' | 'timeout',
  ) {
    super(message);
    this.name = 'SnapshotError';
  }
}

export interface SnapshotRequest {
  /** Origins: "array/lu". */
  lus: string[];
  /** Initiators (besides the default ones) that see the snapshot LUs. */
  mapTo?: string[];
  /** Set name; a snapshot LU is named "<origin>@<name>". Default: the instant as yyyymmddThhmmssZ. */
  name?: string;
  chunkSize?: number;
  storeSize?: number | string;
  commitWindowMs?: number;
}

interface CatalogEntry {
  id: string;
  setId: string;
  setName: string;
  origin: string;
  lun: number;
  serial: number;
  chunkBytes: number;
  storeSize: number;
  capacityBlocks: number;
  blockLength: number;
  createdMs: number;
  mapTo: string[];
}

/**
 * The origin's changes up to one snapshot instant (snapshot.md §5.2, §6 change tracking): at each
 * commit the disk's change map is cut under the write gate and saved here, in the same durable
 * catalog rename that makes the snapshot exist; the disk's live map then holds only later writes.
 * An era outlives its snapshot (deleting a snapshot must not lose changes) and is consumed by the
 * next take of changes of its origin that reaches its instant.
 */
interface Era {
  origin: string;
  /** The serial of the snapshot whose instant ends it. */
  serial: number;
  /** [lba, count] runs changed since the previous cut (or take). */
  runs: Array<[number, number]>;
}

interface Catalog {
  nextSerial: number;
  snapshots: CatalogEntry[];
  eras?: Era[];
  /**
   * Per origin: snapshots with a serial below this are older than the origin's last change take,
   * whose changes that take already consumed (see takeChanges).
   */
  takenBefore?: Record<string, number>;
}

export interface SnapshotEntry {
  readonly meta: CatalogEntry;
  /** "array/lu@set" */
  readonly name: string;
  readonly array: string;
  readonly store: SideStore;
  readonly view: SnapshotView;
  readonly disk: DiskLu;
  readonly faults: SnapshotFaults;
  readonly cow: CowOrigin;
}

export interface SnapshotState {
  id: string;
  setId: string;
  setName: string;
  name: string;
  origin: string;
  array: string;
  lun: number;
  naa: string;
  serial: string;
  capacityBlocks: number;
  blockLength: number;
  chunkSize: number;
  instant: string;
  state: 'valid' | 'invalid';
  reason?: string;
  exceptions: number;
  storeUsedBytes: number;
  storeSize: number;
  storeFillPercent: number;
  mapTo: string[];
}

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export class Snapshots {
  private readonly dir: string;
  private readonly catalogFile: string;
  private catalog: Catalog = { nextSerial: 1, snapshots: [] };
  private readonly live = new Map<string, SnapshotEntry>();
  private creating = new Set<string>();

  constructor(private readonly host: SnapshotHost) {
    this.dir = path.join(host.dataDir, 'snapshots');
    this.catalogFile = path.join(this.dir, 'catalog.json');
  }

  /** Reopen the snapshots the catalog lists (recovering their stores); remove orphans. */
  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    try {
      this.catalog = JSON.parse(await readFile(this.catalogFile, 'utf8')) as Catalog;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const keep: CatalogEntry[] = [];
    for (const m of this.catalog.snapshots) {
      const o = this.host.origin(m.origin);
      if (!o) {
        this.host.log.warn({ snapshot: m.id, origin: m.origin }, 'snapshot dropped: its origin is no longer in the lab');
        continue;
      }
      let store: SideStore;
      try {
        store = await SideStore.open(this.storePath(m.id), this.headerOf(m, o));
      } catch (e) {
        this.host.log.warn({ snapshot: m.id, err: String(e) }, 'snapshot dropped: its side store cannot be opened');
        continue;
      }
      keep.push(m);
      this.activate(m, store, o);
      if (!store.valid) this.host.log.warn({ snapshot: this.nameOf(m), reason: REASON_TEXT[store.reason] }, 'snapshot is invalid');
    }
    const known = new Set(keep.map((m) => `${m.id}.cow`));
    for (const f of await readdir(this.dir)) {
      if ((f.endsWith('.cow') && !known.has(f)) || f.endsWith('.tmp')) await rm(path.join(this.dir, f), { force: true });
    }
    if (keep.length !== this.catalog.snapshots.length) {
      this.catalog.snapshots = keep;
      await this.saveCatalog();
    }
    if (keep.length) this.host.log.info({ snapshots: keep.length }, 'snapshots reopened');
  }

  list(): SnapshotState[] {
    return [...this.live.values()].map((e) => this.stateOf(e));
  }

  get(idOrName: string): SnapshotEntry | undefined {
    return this.live.get(idOrName) ?? [...this.live.values()].find((e) => e.name === idOrName);
  }

  stateOf(e: SnapshotEntry): SnapshotState {
    const m = e.meta;
    const s = e.store.stats();
    return {
      id: m.id,
      setId: m.setId,
      setName: m.setName,
      name: e.name,
      origin: m.origin,
      array: e.array,
      lun: m.lun,
      naa: e.disk.identity.naa.toString('hex'),
      serial: e.disk.identity.serial,
      capacityBlocks: m.capacityBlocks,
      blockLength: m.blockLength,
      chunkSize: m.chunkBytes,
      instant: new Date(m.createdMs).toISOString(),
      state: e.store.valid ? 'valid' : 'invalid',
      ...(e.store.valid ? {} : { reason: REASON_TEXT[e.store.reason] }),
      exceptions: s.exceptions,
      storeUsedBytes: s.usedBytes,
      storeSize: s.storeSize,
      storeFillPercent: Math.round((s.usedBytes / s.storeSize) * 1000) / 10,
      mapTo: m.mapTo,
    };
  }

  /**
   * Take a snapshot set: every origin gets its snapshot at one instant, or none does (the reason
   * is thrown). Writes to the origins are held (not failed) while the set commits.
   */
  async createSet(req: SnapshotRequest): Promise<{ setId: string; instant: string; snapshots: SnapshotState[] }> {
    if (!Array.isArray(req.lus) || req.lus.length === 0) throw new SnapshotError('a snapshot set needs at least one LU', 'invalid');
    const origins = req.lus.map((name) => {
      const o = this.host.origin(name);
      if (!o) throw new SnapshotError(`no disk LU "${name}" that can have snapshots`, 'not-found');
      return { name, ...o };
    });
    if (new Set(req.lus).size !== req.lus.length) throw new SnapshotError('an LU appears twice in the set', 'invalid');
    const chunkBytes = req.chunkSize ?? DEFAULT_CHUNK;
    if (!Number.isInteger(chunkBytes) || chunkBytes < 4096 || chunkBytes > 512 << 10 || (chunkBytes & (chunkBytes - 1)) !== 0) {
      throw new SnapshotError(`chunkSize ${chunkBytes}: expected a power of two from 4096 to 524288`, 'invalid');
    }
    let setName = req.name ?? new Date().toISOString().replace(/[-:]|\.\d+/g, '').toLowerCase();
    // The default name has one-second resolution: a second set within that second gets "-2", "-3"...
    if (req.name === undefined) for (let k = 2, base = setName; origins.some((o) => this.get(`${o.name}@${setName}`)); k++) setName = `${base}-${k}`;
    if (!NAME.test(setName)) throw new SnapshotError(`set name "${setName}": lowercase letters, digits and "-"`, 'invalid');
    const arrays = [...new Set(origins.map((o) => o.array))];
    if (arrays.some((a) => this.creating.has(a))) throw new SnapshotError('another snapshot set of this array is being created', 'conflict');
    for (const o of origins) {
      if (o.disk.blockSize > chunkBytes) throw new SnapshotError(`chunkSize ${chunkBytes} is smaller than ${o.name}'s block size`, 'invalid');
      if (o.cow.snapshotCount >= MAX_PER_ORIGIN) throw new SnapshotError(`${o.name} already has ${MAX_PER_ORIGIN} snapshots`, 'conflict');
      if (this.get(`${o.name}@${setName}`)) throw new SnapshotError(`a snapshot "${o.name}@${setName}" exists`, 'conflict');
    }
    for (const a of arrays) {
      const n = [...this.live.values()].filter((e) => e.array === a).length + origins.filter((o) => o.array === a).length;
      if (n > MAX_PER_ARRAY) throw new SnapshotError(`array ${a} would have more than ${MAX_PER_ARRAY} snapshots`, 'conflict');
    }
    const extra = (req.mapTo ?? []).flatMap((r) => this.host.resolveInitiator(r));
    const commitWindowMs = req.commitWindowMs ?? DEFAULT_COMMIT_WINDOW_MS;
    const setId = randomUUID();
    for (const a of arrays) this.creating.add(a);
    const made: Array<{ meta: CatalogEntry; store: SideStore; o: (typeof origins)[number] }> = [];
    const closed: CowOrigin[] = [];
    const cut: Array<{ disk: DiskLu; era: Era }> = [];
    try {
      // Prepare (stores created, nothing visible yet).
      const taken = new Map<string, Set<number>>();
      for (const o of origins) {
        const g = new CowGeometry(chunkBytes);
        const size = o.disk.blocks * o.disk.blockSize;
        const storeSize = req.storeSize !== undefined ? parseStoreSize(req.storeSize) : g.sizeFor(Math.ceil(size / chunkBytes));
        if (storeSize < 3 * chunkBytes) throw new SnapshotError(`storeSize ${storeSize}: at least 3 chunks (${3 * chunkBytes} bytes)`, 'invalid');
        const used = taken.get(o.array) ?? new Set(o.device.logicalUnits.keys());
        taken.set(o.array, used);
        let lun = 255;
        while (lun >= 0 && used.has(lun)) lun--;
        if (lun < 0) throw new SnapshotError(`array ${o.array} has no free LUN for a snapshot`, 'conflict');
        used.add(lun);
        const meta: CatalogEntry = {
          id: randomUUID(),
          setId,
          setName,
          origin: o.name,
          lun,
          serial: this.catalog.nextSerial + made.length,
          chunkBytes,
          storeSize,
          capacityBlocks: o.disk.blocks,
          blockLength: o.disk.blockSize,
          createdMs: Date.now(),
          mapTo: [...new Set([...this.host.defaultMapTo(o.array), ...extra])],
        };
        const store = await SideStore.create(this.storePath(meta.id), this.headerOf(meta, o));
        made.push({ meta, store, o });
      }
      // Freeze: hold new writes, wait for those in flight (bounded by the commit window).
      let timer: NodeJS.Timeout | undefined;
      const window = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SnapshotError(`commit window of ${commitWindowMs} ms expired`, 'timeout')), commitWindowMs);
      });
      try {
        // A gate is closed from the call on (released in `finally` even if draining never ends).
        const drains = origins.map((o) => {
          const d = o.cow.closeGate();
          closed.push(o.cow);
          return d;
        });
        await Promise.race([Promise.all(drains), window]);
        const instant = Date.now();
        for (const m of made) m.meta.createdMs = instant;
        // No write is in flight and new ones are held: every write in the snapshot has marked the
        // disk's change map (it marks after its store write, which the drain waited for), and no
        // held write has (it has not reached the store). Cut the map here: a held write lands in
        // the live map after the cut, so the next era has it.
        for (const m of made) cut.push({ disk: m.o.disk, era: { origin: m.o.name, serial: m.meta.serial, runs: m.o.disk.takeChanges().map((x) => [x.lba, x.count]) } });
        this.catalog = {
          ...this.catalog,
          nextSerial: this.catalog.nextSerial + made.length,
          snapshots: [...this.catalog.snapshots, ...made.map((m) => m.meta)],
          eras: [...(this.catalog.eras ?? []), ...cut.map((c) => c.era)],
        };
        await Promise.race([this.saveCatalog(), window]);
      } finally {
        clearTimeout(timer);
      }
      // Committed: copy-on-write starts before any held write runs.
      for (const m of made) this.activate(m.meta, m.store, m.o);
    } catch (e) {
      const serials = new Set(made.map((m) => m.meta.serial));
      this.catalog = { ...this.catalog, snapshots: this.catalog.snapshots.filter((m) => m.setId !== setId), eras: (this.catalog.eras ?? []).filter((x) => !serials.has(x.serial)) };
      // The set never existed: its cut changes go back into the live maps.
      for (const c of cut) for (const [lba, count] of c.era.runs) c.disk.markChanged(lba, count);
      for (const m of made) {
        await m.store.close().catch(() => undefined);
        await rm(this.storePath(m.meta.id), { force: true });
      }
      this.host.log.warn({ setId, lus: req.lus, reason: e instanceof Error ? e.message : String(e) }, 'snapshot set failed');
      throw e;
    } finally {
      for (const c of closed) c.releaseGate();
      for (const a of arrays) this.creating.delete(a);
    }
    const snapshots = made.map((m) => this.stateOf(this.live.get(m.meta.id)!));
    this.host.log.info({ setId, setName, snapshots: snapshots.map((s) => ({ name: s.name, lun: s.lun, naa: s.naa })) }, 'snapshot set created');
    return { setId, instant: snapshots[0]!.instant, snapshots };
  }

  /** Delete one snapshot: its LU vanishes (UA 3Fh/0Eh), its side store is released. */
  async delete(idOrName: string): Promise<void> {
    const e = this.get(idOrName);
    if (!e) throw new SnapshotError(`no snapshot "${idOrName}"`, 'not-found');
    this.live.delete(e.meta.id);
    e.view.deleted = true;
    this.host.detached(e);
    e.cow.removeTarget(e.meta.id);
    this.catalog = { ...this.catalog, snapshots: this.catalog.snapshots.filter((m) => m.id !== e.meta.id) };
    await this.saveCatalog();
    await e.store.close().catch(() => undefined);
    await rm(this.storePath(e.meta.id), { force: true });
    this.host.log.info({ snapshot: e.name, id: e.meta.id }, 'snapshot deleted');
  }

  async deleteSet(setId: string): Promise<number> {
    const members = [...this.live.values()].filter((e) => e.meta.setId === setId || e.meta.setName === setId);
    if (!members.length) throw new SnapshotError(`no snapshot set "${setId}"`, 'not-found');
    for (const e of members) await this.delete(e.meta.id);
    return members.length;
  }

  /** Whether `name` is a disk LU that can have snapshots (its change takes go through takeChanges). */
  isOrigin(name: string): boolean {
    return this.host.origin(name) !== undefined;
  }

  /**
   * Blocks of a disk LU changed since the last take, and a new change epoch: with `at`, up to that
   * snapshot's instant (the eras cut at it and before; later writes stay for the next take), so a
   * backup read from the snapshot gets exactly the changes it holds; without, up to now.
   */
  async takeChanges(origin: string, at?: string): Promise<Array<{ lba: number; count: number }>> {
    let upto = Infinity;
    if (at !== undefined) {
      const s = this.get(at);
      if (!s) throw new SnapshotError(`no snapshot "${at}"`, 'not-found');
      if (s.meta.origin !== origin) throw new SnapshotError(`snapshot "${at}" is not of ${origin}`, 'invalid');
      upto = s.meta.serial;
    }
    const o = this.host.origin(origin);
    if (!o) throw new SnapshotError(`no disk LU "${origin}" that can have snapshots`, 'not-found');
    // A take reaches a point in time; a later take at an older snapshot would find its changes
    // already consumed and report too few. The backup it feeds would restore to the newer point
    // while labelled with the snapshot's instant, so refuse it (a full backup from it is fine).
    const before = this.catalog.takenBefore?.[origin] ?? 0;
    if (upto < before) {
      throw new SnapshotError(`the changes of ${origin} up to snapshot "${at}" were already taken by a later change take (a backup after the snapshot's instant); take a full backup from this snapshot`, 'conflict');
    }
    const eras = this.catalog.eras ?? [];
    const taken = eras.filter((x) => x.origin === origin && x.serial <= upto);
    const runs = taken.flatMap((x) => x.runs.map(([lba, count]) => ({ lba, count })));
    if (at === undefined) runs.push(...o.disk.takeChanges());
    const nextBefore = Math.max(before, at === undefined ? this.catalog.nextSerial : upto);
    if (taken.length || nextBefore !== before) {
      this.catalog = { ...this.catalog, eras: eras.filter((x) => !taken.includes(x)), takenBefore: { ...this.catalog.takenBefore, [origin]: nextBefore } };
      await this.saveCatalog();
    }
    return mergeExtents(runs);
  }

  /** Close the stores (after the origins stopped writing). */
  async close(): Promise<void> {
    for (const e of this.live.values()) await e.store.close().catch(() => undefined);
    this.live.clear();
  }

  // ------------------------------------------------------------------ internals

  private storePath(id: string): string {
    return path.join(this.dir, `${id}.cow`);
  }

  private nameOf(m: CatalogEntry): string {
    return `${m.origin}@${m.setName}`;
  }

  private headerOf(m: CatalogEntry, o: { disk: DiskLu; wwnn: string }) {
    return {
      chunkBytes: m.chunkBytes,
      storeSize: m.storeSize,
      capacityBlocks: m.capacityBlocks,
      blockLength: m.blockLength,
      originNaa: o.disk.identity.naa,
      snapshotNaa: naaFor(o.wwnn, `snapshot:${m.id}`),
      snapshotId: m.id,
      setId: m.setId,
      createdMs: m.createdMs,
    };
  }

  private activate(m: CatalogEntry, store: SideStore, o: { disk: DiskLu; cow: CowOrigin; array: string; wwnn: string }): void {
    const name = this.nameOf(m);
    const faults = new SnapshotFaults();
    if (!store.valid) faults.markInvalid();
    const view = new SnapshotView(o.cow.inner, store, m.capacityBlocks * m.blockLength);
    const id = o.disk.identity;
    const disk = new DiskLu({
      identity: { ...id, name, naa: naaFor(o.wwnn, `snapshot:${m.id}`), serial: `SNAP${m.serial.toString(16).toUpperCase().padStart(8, '0')}` },
      store: view,
      blockSize: o.disk.blockSize as 512 | 4096,
      readOnly: true,
      thin: false,
      faults,
    });
    const entry: SnapshotEntry = { meta: m, name, array: o.array, store, view, disk, faults, cow: o.cow };
    if (store.valid) {
      o.cow.addTarget({
        id: m.id,
        store,
        pending: new Map(),
        invalidated: (reason: InvalidReason, error?: unknown) => {
          faults.markInvalid();
          this.host.log.error({ snapshot: name, reason: REASON_TEXT[reason], ...(error ? { err: String(error) } : {}) }, 'snapshot invalidated');
        },
      });
    }
    this.live.set(m.id, entry);
    this.host.attached(entry);
  }

  private async saveCatalog(): Promise<void> {
    const tmp = `${this.catalogFile}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(this.catalog, null, 1));
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.catalogFile);
    const d = await open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }
}

/** Sorted, overlapping or touching runs joined. */
function mergeExtents(runs: Array<{ lba: number; count: number }>): Array<{ lba: number; count: number }> {
  const out: Array<{ lba: number; count: number }> = [];
  for (const r of [...runs].sort((a, b) => a.lba - b.lba)) {
    const last = out[out.length - 1];
    if (last && r.lba <= last.lba + last.count) last.count = Math.max(last.count, r.lba + r.count - last.lba);
    else out.push({ ...r });
  }
  return out;
}

function parseStoreSize(v: number | string): number {
  try {
    return parseSize(v);
  } catch (e) {
    throw new SnapshotError(`storeSize: ${e instanceof Error ? e.message : String(e)}`, 'invalid');
  }
}
