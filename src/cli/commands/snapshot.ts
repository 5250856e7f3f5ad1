/**
 * `dmsim snapshot create|list|delete`: manage a running router's snapshot LUs through its
 * management API (snapshot.md §6), as the backup server's --snapshot does for one backup.
 */
import { helpShown, parseCommandArgs, UsageError } from '../command.js';

export const name = 'snapshot';
export const summary = 'create, list or delete snapshot LUs of a running router (management API)';

const USAGE = `usage: dmsim snapshot create --api http://HOST:PORT LU... [--name NAME] [--map-to INITIATOR]... [--chunk-size BYTES] [--store-size SIZE]
       dmsim snapshot list --api http://HOST:PORT [--json]
       dmsim snapshot delete --api http://HOST:PORT ID|NAME|--set SET
  LU                 origin disk LU ("array1/fat"); several LUs make one set taken at one instant
  --map-to I         initiator that sees the snapshot LUs besides the data movers ("host/port", "host", WWPN, IQN)
  --chunk-size B     copy-on-write chunk, a power of two from 4096 to 524288 (default 4096)
  --store-size S     side store limit ("16MiB"; default: the origin's size, so it cannot fill)
  --set SET          delete every snapshot of a set (its id or name)
  Write calls use the bearer token in $DMSIM_API_TOKEN.`;

interface SnapshotState {
  id: string;
  name: string;
  lun: number;
  naa: string;
  instant: string;
  state: string;
  reason?: string;
  storeUsedBytes: number;
  storeFillPercent: number;
  exceptions: number;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      api: { type: 'string' },
      name: { type: 'string' },
      'map-to': { type: 'string', multiple: true },
      'chunk-size': { type: 'string' },
      'store-size': { type: 'string' },
      set: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    USAGE,
    true,
  );
  if (helpShown(values, USAGE)) return 0;
  const [verb, ...args] = positionals;
  if (!verb || !['create', 'list', 'delete'].includes(verb)) throw new UsageError('expected create, list or delete', USAGE);
  if (!values.api) throw new UsageError('--api is required', USAGE);
  const base = values.api.replace(/\/+$/, '');
  const token = process.env.DMSIM_API_TOKEN;
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const answer = (await r.json().catch(() => undefined)) as (T & { message?: string }) | undefined;
    if (!r.ok || answer === undefined) throw new Error(`${method} ${path} answered ${r.status}${answer?.message ? `: ${answer.message}` : ''}`);
    return answer;
  };
  const line = (s: SnapshotState) =>
    `${s.id}  ${s.name}  LUN ${s.lun}  naa.${s.naa}  ${s.instant}  ${s.state}${s.reason ? ` (${s.reason})` : ''}  store ${s.storeUsedBytes} bytes (${s.storeFillPercent}%), ${s.exceptions} chunks\n`;
  if (verb === 'create') {
    if (!args.length) throw new UsageError('create: name at least one LU', USAGE);
    const body: Record<string, unknown> = { lus: args };
    if (values.name) body.name = values.name;
    if (values['map-to']) body.mapTo = values['map-to'];
    if (values['chunk-size']) body.chunkSize = Number(values['chunk-size']);
    if (values['store-size']) body.storeSize = /^\d+$/.test(values['store-size']) ? Number(values['store-size']) : values['store-size'];
    const set = await call<{ setId: string; instant: string; snapshots: SnapshotState[] }>('POST', '/api/snapshot-sets', body);
    if (values.json) process.stdout.write(JSON.stringify(set) + '\n');
    else {
      process.stdout.write(`snapshot set ${set.setId} at ${set.instant}\n`);
      for (const s of set.snapshots) process.stdout.write(line(s));
    }
    return 0;
  }
  if (verb === 'list') {
    const list = await call<SnapshotState[]>('GET', '/api/snapshots');
    if (values.json) process.stdout.write(JSON.stringify(list) + '\n');
    else for (const s of list) process.stdout.write(line(s));
    return 0;
  }
  if (values.set) {
    const r = await call<{ deleted: number }>('DELETE', `/api/snapshot-sets/${encodeURIComponent(values.set)}`);
    process.stdout.write(`deleted ${r.deleted} snapshot(s) of set ${values.set}\n`);
    return 0;
  }
  if (args.length !== 1) throw new UsageError('delete: name one snapshot (id or "array/lu@set") or --set', USAGE);
  await call('DELETE', `/api/snapshots/${encodeURIComponent(args[0]!)}`);
  process.stdout.write(`deleted snapshot ${args[0]}\n`);
  return 0;
}
