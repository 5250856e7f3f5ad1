/** Options shared by the backup-server CLI commands (backup, restore, verify). */
import { join } from 'node:path';
import { Catalog } from './catalog.js';
import { openSession, type Session } from './session.js';

export const SESSION_OPTIONS = {
  lab: { type: 'string' },
  data: { type: 'string', default: 'data' },
  router: { type: 'string' },
  host: { type: 'string' },
  catalog: { type: 'string' },
  'data-mover-port': { type: 'string' },
  'initiator-name': { type: 'string' },
  api: { type: 'string' },
  quiet: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const SESSION_USAGE = `  --lab FILE               lab file to run in process (default: the embedded default lab)
  --data DIR               data directory of the in-process lab (default: ./data)
  --router iscsi://HOST[:PORT]  drive a remote dmsim router over iSCSI instead
  --host NAME              lab host whose port the backup server uses (default: the first host)
  --catalog FILE           catalog database (default: DIR/catalog.sqlite)
  --data-mover-port WWPN   data mover's initiator port for third-party reservations (iSCSI mode)
  --initiator-name IQN     iSCSI initiator name with --router (default: the default lab's backup1)
  --api http://HOST:PORT   the remote router's management API, for incremental/differential
                           with --router (bearer token from $DMSIM_API_TOKEN)
  --quiet                  no progress output
  -h, --help               this text`;

export interface SessionValues {
  lab?: string;
  data?: string;
  router?: string;
  host?: string;
  catalog?: string;
  'data-mover-port'?: string;
  'initiator-name'?: string;
  api?: string;
}

export async function openFromOptions(v: SessionValues): Promise<{ session: Session; catalog: Catalog }> {
  const session = await openSession({
    ...(v.lab ? { lab: v.lab } : {}),
    ...(v.data ? { dataDir: v.data } : {}),
    ...(v.router ? { router: v.router } : {}),
    ...(v.host ? { host: v.host } : {}),
    ...(v['data-mover-port'] ? { dataMoverPort: v['data-mover-port'] } : {}),
    ...(v['initiator-name'] ? { initiatorName: v['initiator-name'] } : {}),
    ...(v.api ? { api: v.api } : {}),
  });
  const catalog = new Catalog(v.catalog ?? join(v.data ?? 'data', 'catalog.sqlite'));
  catalog.failOrphans();
  return { session, catalog };
}
