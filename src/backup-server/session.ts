/**
 * A backup-server session: a transport (in-process port on an embedded lab, or iSCSI to a remote
 * router), the SCSI client, discovery, and name lookup for LUs ("array1/fat" or just "fat").
 *
 * Change tracking (incremental/differential): the disk LU keeps a bitmap of blocks written since
 * its last snapshot. SCSI has no standard command that returns it, so in process the backup
 * server takes it through the lab API (DiskLu.takeChanges()); over iSCSI it asks the router's
 * management API (`api`), and without one those modes are refused with a clear message.
 */
import { buildLab, type LabRuntime } from '../../firmware-sim/lab/build.js';
import { loadDefaultLab, loadLabFile } from '../../firmware-sim/lab/load.js';
import { silentLogger } from '../log.js';
import type { ChangeSource } from './backup.js';
import { apiChangeSource } from './change-source-api.js';
import { routerApi } from './router-api.js';
import { discover, type DiscoveredLu, type DiscoveryReport } from './discovery.js';
import { ScsiClient } from './scsi-client.js';
import { InProcessTransport } from './transport-inprocess.js';
import { IscsiTransport } from './transport-iscsi.js';
import { isnsTargets } from './isns-targets.js';
import { PortalsTransport, type PortalAddress } from './transport-portals.js';
import type { ScsiTransport } from './transport.js';

export interface Session {
  runtime?: LabRuntime;
  transport: ScsiTransport;
  client: ScsiClient;
  discovery: DiscoveryReport;
  /** Lab name ("array1/fat") of a discovered LU: from the lab in process, or the router's VPD 83h. */
  nameOf(lu: DiscoveredLu): string | undefined;
  /** Throws LuNameError (listing the names that would work) when no LU of that kind has the name. */
  find(name: string, kind?: DiscoveredLu['kind']): DiscoveredLu;
  dataMover(): DiscoveredLu;
  /** The data mover's initiator port (for third-party reservations), when known. */
  dataMoverPort?: string;
  changes(lu: DiscoveredLu): ChangeSource | undefined;
  /** Barcode of the cartridge in a drive, when the lab is in process (the label is checked too). */
  barcodeIn(lu: DiscoveredLu): string | undefined;
  /**
   * The barcode of the cartridge in a drive as real backup software learns it: the lab in process,
   * else the router's management API. `{ problem }` says why it could not be learned.
   */
  cartridgeIn(lu: DiscoveredLu): Promise<{ barcode?: string; problem?: string }>;
  /** The tape drive that holds this cartridge now (from the lab or the router's API), if known. */
  driveHolding(barcode: string): Promise<DiscoveredLu | undefined>;
  /** Why dataMoverPort is unknown, when it is (for the error that refuses an unreserved job). */
  dataMoverPortProblem?: string;
  close(): Promise<void>;
}

export interface SessionOptions {
  lab?: string;
  dataDir?: string;
  /** Host port the backup server uses in the lab. */
  host?: string;
  /** iscsi://host[:port] — drive a remote router instead of an embedded lab. */
  router?: string;
  dataMoverPort?: string;
  /** iSCSI initiator name for `router` (default: the default lab's backup1). */
  initiatorName?: string;
  /** More iSCSI portals (a second router process, a tgtd array): their targets beside the router's. */
  portals?: PortalAddress[];
  /** An iSNS server to find targets at: those in the discovery domains of the initiator name. */
  isns?: PortalAddress;
  /** http://HOST:PORT of the remote router's management API: change tracking for `router`. */
  api?: string;
  /** The management API of the array that owns the disks, when it is not `api` (a lab split over processes). */
  changesApi?: string;
  /** Its bearer token (default: $DMSIM_API_TOKEN). */
  apiToken?: string;
  /** Use this running lab (e.g. the one `dmsim router` serves) instead of building one; close() leaves it running. */
  runtime?: LabRuntime;
}

/** An LU name that matches nothing discovered: the CLI prints it and exits 2, like a bad flag. */
export class LuNameError extends Error {
  override name = 'LuNameError';
  constructor(
    message: string,
    /** The names that would have worked. */
    readonly names: string[],
  ) {
    super(message);
  }
}

export const DEFAULT_INITIATOR_NAME = 'iqn.2026-11.dev.dmsim.hosts:backup1';

/** iscsi://HOST[:PORT] → transport options. */
export function parseRouterUrl(url: string): { host: string; port: number } {
  const m = /^iscsi:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::([0-9]{1,5}))?\/?$/.exec(url);
  const port = m?.[2] ? Number(m[2]) : 3260;
  if (!m || port < 1 || port > 65535) throw new Error(`--router: expected iscsi://HOST[:PORT], got "${url}"`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

export async function openSession(opts: SessionOptions = {}): Promise<Session> {
  let runtime: LabRuntime | undefined;
  let transport: ScsiTransport;
  const ownsRuntime = !opts.runtime;
  if (opts.runtime) {
    runtime = opts.runtime;
    transport = new InProcessTransport(runtime.port(opts.host ?? runtime.config.hosts[0]!.name));
  } else if (opts.router && !opts.portals?.length && !opts.isns) {
    transport = new IscsiTransport({ ...parseRouterUrl(opts.router), initiatorName: opts.initiatorName ?? DEFAULT_INITIATOR_NAME });
  } else if (opts.router || opts.portals?.length || opts.isns) {
    const initiatorName = opts.initiatorName ?? DEFAULT_INITIATOR_NAME;
    const isns = opts.isns;
    transport = new PortalsTransport(
      { initiatorName },
      [...(opts.router ? [parseRouterUrl(opts.router)] : []), ...(opts.portals ?? [])],
      isns ? () => isnsTargets(isns, initiatorName) : undefined,
    );
  } else {
    const config = opts.lab ? await loadLabFile(opts.lab) : await loadDefaultLab();
    runtime = await buildLab(config, { log: silentLogger(), ...(opts.dataDir ? { dataDir: opts.dataDir } : {}) });
    transport = new InProcessTransport(runtime.port(opts.host ?? config.hosts[0]!.name));
  }
  const client = new ScsiClient(transport);
  let discovery: DiscoveryReport;
  try {
    discovery = await discover(client);
  } catch (e) {
    await transport.close().catch(() => undefined);
    if (ownsRuntime) await runtime?.close();
    throw e;
  }
  const names = new Map<string, string>();
  for (const e of runtime?.lus() ?? []) names.set(e.lu.identity.naa.toString('hex'), e.name);
  const nameOf = (lu: DiscoveredLu) => (lu.naa ? names.get(lu.naa) : undefined) ?? lu.labName;
  const api = !runtime && opts.api ? routerApi(opts.api) : undefined;
  let dmPort = opts.dataMoverPort ?? (runtime ? runtime.config.routers[0]?.dataMover.initiator.wwpn : undefined);
  let dmPortProblem: string | undefined;
  const dmLu = discovery.lus.find((l) => l.kind === 'data-mover');
  if (!dmPort && dmLu) {
    // Over iSCSI the data mover's own initiator port is what the router's management API reports for it.
    if (!api) dmPortProblem = 'the data mover does not name its initiator port over SCSI and no management API (--api) was given to ask';
    else if (!dmLu.naa) dmPortProblem = 'the data mover reports no NAA designator to look it up by';
    else {
      try {
        dmPort = await api.dataMoverPort(dmLu.naa);
        if (!dmPort) dmPortProblem = `the management API at ${api.base} names no initiator port for the data mover naa.${dmLu.naa}`;
      } catch (e) {
        dmPortProblem = (e as Error).message;
      }
    }
  }
  const barcodeIn = (lu: DiscoveredLu) => {
    const name = nameOf(lu);
    return name ? runtime?.drive(name)?.drive.cartridge?.barcode : undefined;
  };
  return {
    ...(runtime ? { runtime } : {}),
    transport,
    client,
    discovery,
    nameOf,
    find(name, kind) {
      const cands = discovery.lus.filter((l) => !kind || l.kind === kind);
      const hit =
        cands.find((l) => nameOf(l) === name) ??
        cands.find((l) => nameOf(l)?.endsWith(`/${name}`)) ??
        cands.find((l) => {
          // Remote form: TARGET/LUN with the full target name or its last ":" part ("array1/0").
          const m = /^(.+)\/(\d+)$/.exec(name);
          return (m && l.lun === Number(m[2]) && (l.target === m[1] || l.target.endsWith(`:${m[1]}`))) || l.naa === name.replace(/^naa\./, '');
        });
      if (!hit) {
        const valid = cands.map((l) => nameOf(l) ?? `${l.target.replace(/^.*:/, '')}/${l.lun}`);
        throw new LuNameError(`no ${kind ?? 'LU'} named "${name}"; ${valid.length ? `the ${kind ?? 'LU'}s ${opts.router ? `${opts.router} offers` : 'in the lab'} are: ${valid.join(', ')}` : `discovery found no ${kind ?? 'LU'} at all`}`, valid);
      }
      return hit;
    },
    dataMover() {
      const dm = discovery.lus.find((l) => l.kind === 'data-mover');
      if (!dm) throw new Error('discovery found no data mover (a 3PC LU implementing block→stream, stream→block and inline→stream)');
      return dm;
    },
    ...(dmPort ? { dataMoverPort: dmPort } : {}),
    ...(dmPortProblem ? { dataMoverPortProblem: dmPortProblem } : {}),
    changes(lu) {
      const changesApi = opts.changesApi ?? opts.api;
      if (!runtime) return changesApi && lu.naa && lu.blockSize ? apiChangeSource(changesApi, opts.apiToken ?? process.env.DMSIM_API_TOKEN, lu.naa, lu.blockSize) : undefined;
      const name = nameOf(lu);
      const disk = name ? runtime.lu(name)?.disk : undefined;
      if (!disk) return undefined;
      const snaps = runtime.snapshots;
      return { take: () => (snaps.isOrigin(name!) ? snaps.takeChanges(name!) : disk.takeChanges()) };
    },
    barcodeIn,
    async cartridgeIn(lu) {
      if (runtime) {
        const barcode = barcodeIn(lu);
        return barcode ? { barcode } : { problem: 'the drive is empty' };
      }
      if (!api) return { problem: 'no media changer reports it and no management API (--api) was given to ask' };
      if (!lu.naa) return { problem: 'the drive reports no NAA designator to look it up by' };
      try {
        const barcode = await api.barcodeIn(lu.naa);
        return barcode ? { barcode } : { problem: `the management API at ${api.base} says the drive is empty` };
      } catch (e) {
        return { problem: (e as Error).message };
      }
    },
    async driveHolding(barcode) {
      const tapes = discovery.lus.filter((l) => l.kind === 'tape');
      if (runtime) return tapes.find((l) => barcodeIn(l) === barcode);
      if (!api) return undefined;
      const naa = await api.driveHolding(barcode);
      return naa ? tapes.find((l) => l.naa === naa) : undefined;
    },
    async close() {
      await transport.close().catch(() => undefined);
      if (ownsRuntime) await runtime?.close();
    },
  };
}
