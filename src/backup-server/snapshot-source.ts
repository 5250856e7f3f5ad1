/**
 * The requestor side of snapshots (snapshot.md §5.1, §6): before a backup, ask the array for a
 * snapshot of the source LU mapped to the backup server and the data mover; back up from the
 * snapshot LU; delete it afterwards. A remote router is asked over its management API (the LU
 * found by the NAA discovery saw, as for change maps); an in-process lab directly.
 */
import type { LabRuntime } from '../../firmware-sim/lab/build.js';
import type { ChangeSource } from './backup.js';

export interface TakenSnapshot {
  id: string;
  setId: string;
  /** "array/lu@set" */
  name: string;
  naa: string;
  lun: number;
  instant: string;
}

export interface SnapshotProvider {
  /** Snapshot of the disk LU with this NAA, visible to `mapTo` (and the data movers). */
  take(originNaa: string): Promise<TakenSnapshot>;
  delete(id: string): Promise<void>;
  /** The origin's changes up to the snapshot's instant (a new change epoch begins there). */
  changes(id: string): ChangeSource;
}

export function runtimeSnapshots(runtime: LabRuntime, mapTo: string[]): SnapshotProvider {
  return {
    async take(naa) {
      const origin = runtime.lus().find((e) => e.kind === 'disk' && e.lu.identity.naa.toString('hex') === naa);
      if (!origin) throw new Error(`snapshot: no disk LU with NAA ${naa} in the lab`);
      const set = await runtime.snapshots.createSet({ lus: [origin.name], mapTo });
      const s = set.snapshots[0]!;
      return { id: s.id, setId: set.setId, name: s.name, naa: s.naa, lun: s.lun, instant: s.instant };
    },
    delete: (id) => runtime.snapshots.delete(id),
    changes: (id) => ({
      take: () => {
        const s = runtime.snapshots.get(id);
        if (!s) throw new Error(`snapshot ${id} is gone`);
        return runtime.snapshots.takeChanges(s.meta.origin, id);
      },
    }),
  };
}

/** `api`: http://HOST:PORT of the router's management API; `token`: its bearer token. */
export function apiSnapshots(api: string, token: string | undefined, mapTo: string[]): SnapshotProvider {
  const base = api.replace(/\/+$/, '');
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let r: Response;
    try {
      r = await fetch(`${base}${path}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (e) {
      throw new Error(`snapshot: management API ${base} unreachable (${(e as Error).message})`);
    }
    const answer = (await r.json().catch(() => undefined)) as (T & { message?: string }) | undefined;
    if (!r.ok || answer === undefined) throw new Error(`snapshot: ${method} ${path} answered ${r.status}${answer?.message ? `: ${answer.message}` : ''}`);
    return answer;
  };
  return {
    async take(naa) {
      const lus = await call<Array<{ name: string; naa?: string; kind: string }>>('GET', '/api/lus');
      const lu = Array.isArray(lus) ? lus.find((l) => l.naa === naa && l.kind === 'disk') : undefined;
      if (!lu) throw new Error(`snapshot: the management API at ${base} has no disk LU with NAA ${naa}`);
      const set = await call<{ setId: string; instant: string; snapshots: TakenSnapshot[] }>('POST', '/api/snapshot-sets', { lus: [lu.name], mapTo });
      const s = set.snapshots[0]!;
      return { id: s.id, setId: set.setId, name: s.name, naa: s.naa, lun: s.lun, instant: s.instant };
    },
    async delete(id) {
      await call('DELETE', `/api/snapshots/${encodeURIComponent(id)}`);
    },
    changes: (id) => ({
      take: async () => (await call<{ extents: Array<{ lba: number; count: number }> }>('POST', `/api/snapshots/${encodeURIComponent(id)}/changes/take`)).extents,
    }),
  };
}
