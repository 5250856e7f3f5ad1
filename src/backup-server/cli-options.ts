/**
 * Options shared by the backup-server CLI commands (backup, restore, verify).
 *
 * The catalog: in process it is DIR/catalog.sqlite of the lab's data directory. With --router it
 * is the router's own (the one its dashboard and /api/backups show): the CLI asks the router's
 * management API for its path (GET /api/catalog) and opens that file, so it must run on the
 * router's machine or see its data directory; --catalog FILE overrides both.
 */
import { LibraryClient } from './library.js';
import { findChanger, mountFromLibrary } from './library-mount.js';
import { join } from 'node:path';
import { parseHostPort } from '../cli/command.js';
import { ISNS_PORT } from '../isns/constants.js';
import { Catalog } from './catalog.js';
import type { DiscoveredLu } from './discovery.js';
import { openSession, parseRouterUrl, type Session } from './session.js';

export const SESSION_OPTIONS = {
  lab: { type: 'string' },
  data: { type: 'string', default: 'data' },
  router: { type: 'string' },
  portal: { type: 'string', multiple: true },
  isns: { type: 'string' },
  host: { type: 'string' },
  catalog: { type: 'string' },
  'data-mover-port': { type: 'string' },
  'initiator-name': { type: 'string' },
  api: { type: 'string' },
  'changes-api': { type: 'string' },
  json: { type: 'boolean', default: false },
  'log-level': { type: 'string' },
  quiet: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const SESSION_USAGE = `  --lab FILE               lab file to run in process (default: the embedded default lab)
  --data DIR               data directory of the in-process lab (default: ./data)
  --router iscsi://HOST[:PORT]  drive a remote dmsim router over iSCSI instead
  --portal HOST:PORT       one more iSCSI portal whose targets the backup server uses beside the
                           router's (a second router process, a tgtd array); may be repeated
  --isns HOST[:PORT]       find targets through this iSNS server (default port 3205): the targets
                           in the discovery domains of --initiator-name, at the portals it names
  --host NAME              lab host whose port the backup server uses (default: the first host)
  --catalog FILE           catalog database (default: DIR/catalog.sqlite; with --router the
                           router's own, whose path its management API reports)
  --data-mover-port WWPN   data mover's initiator port for third-party reservations (iSCSI mode)
  --initiator-name IQN     iSCSI initiator name with --router (default: the default lab's backup1)
  --api http://HOST:PORT   the remote router's management API (default: http://ROUTERHOST:8080):
                           its catalog, and the change maps of incremental/differential
                           (bearer token from $DMSIM_API_TOKEN)
  --changes-api http://HOST:PORT  the management API of the process serving the disks, when it is
                           not the router's (a lab split with --serve): the change maps of
                           incremental/differential and the change epoch a full backup starts
  --json                   print the result as one JSON document on stdout
  --log-level debug        also print the stack trace of an error
  --quiet                  no progress output
  -h, --help               this text`;

export interface SessionValues {
  lab?: string;
  data?: string;
  router?: string;
  portal?: string[];
  isns?: string;
  host?: string;
  catalog?: string;
  'data-mover-port'?: string;
  'initiator-name'?: string;
  api?: string;
  'changes-api'?: string;
}

/** The router's management API: --api, else the lab's default API port on the router's host. */
export function apiUrlFor(v: SessionValues): string | undefined {
  if (v.api) return v.api.replace(/\/+$/, '');
  if (!v.router) return undefined;
  const { host } = parseRouterUrl(v.router);
  return `http://${host.includes(':') ? `[${host}]` : host}:8080`;
}

/** The router's catalog path, from its API; a sentence saying what to do when it cannot be asked. */
export async function routerCatalogPath(api: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(`${api}/api/catalog`, { signal: AbortSignal.timeout(5000) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    throw new CatalogLocationError(`with --router the catalog is the router's own, but its management API at ${api} did not answer (${cause}): give --api http://HOST:PORT (the router's --api address) or --catalog FILE`);
  }
  const body = res.ok ? ((await res.json()) as { path?: string | null }) : undefined;
  if (!body?.path) throw new CatalogLocationError(`the management API at ${api} did not report a catalog (HTTP ${res.status}): give --catalog FILE`);
  return body.path;
}

/** Where the catalog is could not be settled from the options: exit 2, like a bad flag. */
export class CatalogLocationError extends Error {
  override name = 'CatalogLocationError';
}

export async function openFromOptions(v: SessionValues): Promise<{ session: Session; catalog: Catalog }> {
  // Settle the catalog first: a wrong --api should fail before any iSCSI login.
  const api = apiUrlFor(v);
  const catalogPath = v.catalog ?? (v.router ? await routerCatalogPath(api!) : join(v.data ?? 'data', 'catalog.sqlite'));
  const portals = (v.portal ?? []).map((p) => parseHostPort(p, '--portal'));
  const isns = v.isns === undefined ? undefined : parseHostPort(/^(\[[^\]]*\]|[^:]+):\d+$/.test(v.isns) ? v.isns : `${v.isns}:${ISNS_PORT}`, '--isns');
  const session = await openSession({
    ...(portals.length ? { portals } : {}),
    ...(isns ? { isns } : {}),
    ...(v['changes-api'] ? { changesApi: v['changes-api'].replace(/\/+$/, '') } : {}),
    ...(v.lab ? { lab: v.lab } : {}),
    ...(v.data ? { dataDir: v.data } : {}),
    ...(v.router ? { router: v.router } : {}),
    ...(v.host ? { host: v.host } : {}),
    ...(v['data-mover-port'] ? { dataMoverPort: v['data-mover-port'] } : {}),
    ...(v['initiator-name'] ? { initiatorName: v['initiator-name'] } : {}),
    // The API that answered for the catalog also serves the change maps.
    ...(v.api ? { api: v.api } : v.router && !v.catalog && api ? { api } : {}),
  });
  let catalog: Catalog;
  try {
    catalog = new Catalog(catalogPath);
  } catch (e) {
    await session.close();
    throw e;
  }
  catalog.failOrphans();
  return { session, catalog };
}

/**
 * The drive for a restore or verify: --tape when given, else the drive that holds the backup's
 * cartridge now (the catalog names the cartridge; the lab or the router's API says where it is).
 */
export async function driveForBackup(session: Session, catalog: Catalog, backupId: number, tape: string | undefined): Promise<DiscoveredLu> {
  if (tape) return session.find(tape, 'tape');
  const b = catalog.backup(backupId);
  if (!b) throw new Error(`no backup ${backupId} in the catalog`);
  let holder: DiscoveredLu | undefined;
  let why = '';
  try {
    holder = await session.driveHolding(b.barcode);
  } catch (e) {
    why = ` (${(e as Error).message})`;
  }
  if (!holder) throw new Error(`backup ${backupId} is on cartridge ${b.barcode}, which no drive this backup server sees holds${why}: load it into a drive, or name the drive with --tape`);
  return holder;
}

/**
 * The drive for a restore or verify, with a library: when no --tape is named and the backup server
 * sees a media changer, the robot moves the catalog's cartridge from its slot into a free drive
 * (library-mount.ts); `release` unloads it and moves it home. A cartridge already in a drive, or
 * no changer at all, falls back to driveForBackup.
 */
export async function driveForJob(session: Session, catalog: Catalog, backupId: number, tape: string | undefined): Promise<{ drive: DiscoveredLu; release?: () => Promise<void> }> {
  const changer = tape ? undefined : findChanger(session);
  const b = catalog.backup(backupId);
  if (changer && b) {
    const view = await new LibraryClient(session.client, { target: changer.target, lun: changer.lun }).status();
    if (view.slots.some((s) => s.barcode === b.barcode)) {
      const m = await mountFromLibrary(session, changer, { barcode: b.barcode });
      return { drive: m.drive, release: m.release };
    }
  }
  return { drive: await driveForBackup(session, catalog, backupId, tape) };
}
