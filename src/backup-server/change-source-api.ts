/**
 * Change tracking of a remote router's disk LU through its management API: SCSI has no standard
 * command that returns a changed-block map, so a backup server driving the router over iSCSI asks
 * the router's HTTP API for it, as backup software asks a storage array's REST API for snapshot
 * differences. The LU is found by its NAA designator, the same identity discovery saw over SCSI.
 */
import { NoChangeTracking, type ChangeSource } from './backup.js';

interface LuEntry {
  name: string;
  naa?: string;
  kind: string;
}

interface TakeAnswer {
  blockSize: number;
  extents: Array<{ lba: number; count: number }>;
}

/** `api`: http://HOST:PORT of the router's management API; `token`: its bearer token. */
export function apiChangeSource(api: string, token: string | undefined, naa: string, blockSize: number): ChangeSource {
  const base = api.replace(/\/+$/, '');
  const call = async <T>(method: string, path: string, auth: boolean): Promise<T> => {
    let r: Response;
    try {
      r = await fetch(`${base}${path}`, { method, headers: auth && token ? { authorization: `Bearer ${token}` } : {} });
    } catch (e) {
      throw new Error(`change tracking: management API ${base} unreachable (${(e as Error).message})`);
    }
    const body = (await r.json().catch(() => undefined)) as (T & { message?: string }) | undefined;
    if (!r.ok || body === undefined) throw new Error(`change tracking: ${method} ${path} answered ${r.status}${body?.message ? `: ${body.message}` : ''}`);
    return body;
  };
  return {
    async take() {
      const lus = await call<LuEntry[]>('GET', '/api/lus', false);
      const lu = Array.isArray(lus) ? lus.find((l) => l.naa === naa) : undefined;
      if (!lu) throw new NoChangeTracking(`change tracking: the management API at ${base} has no LU with NAA ${naa}`);
      const [device, name] = lu.name.split('/');
      const t = await call<TakeAnswer>('POST', `/api/lus/${encodeURIComponent(device!)}/${encodeURIComponent(name!)}/changes/take`, true);
      if (t.blockSize !== blockSize || !Array.isArray(t.extents)) throw new Error(`change tracking: ${lu.name} reports ${t.blockSize}-byte blocks, SCSI said ${blockSize}`);
      return t.extents;
    },
  };
}
