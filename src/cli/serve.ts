/**
 * The network front ends of a built lab: the iSCSI portal and (when asked) the management API.
 * Shared by `dmsim router` and `dmsim demo --serve` so both open and close them the same way.
 */
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { LabRuntime } from '../../firmware-sim/lab/build.js';
import { dataMoverIqn } from '../../firmware-sim/lab/config.js';
import { labIsns } from '../../firmware-sim/lab/isns-entity.js';
import { followIsns } from '../../firmware-sim/remote/isns-follow.js';
import { resolveTopology } from '../../firmware-sim/lab/topology.js';
import { buildApi } from '../api/server.js';
import { IsnsRegistrar } from '../isns/registrar.js';
import { startIscsiTarget, type IscsiTarget } from '../iscsi/target/index.js';
import type { Logger } from '../log.js';
import { startNdmpServer, type NdmpServerOptions } from '../ndmp/server.js';

export interface FrontEndOptions {
  iscsi?: { host: string; port: number };
  /** `required: false` (the lab's default address): a port that cannot be bound only logs a warning. */
  api?: { host: string; port: number; required?: boolean };
  /** NDMP v4 server (port 0 = any free port). */
  ndmp?: { host: string; port: number; router?: string; auth?: NdmpServerOptions['auth'] };
  /** Register the lab with this iSNS server (reference isns.md §6); needs the iSCSI portal. */
  isns?: { host: string; port: number };
  log: Logger;
}

export interface FrontEnds {
  /** Bound addresses, "host:port" (the real port when 0 was asked for). */
  addresses: { iscsi?: string; api?: string; isns?: string; ndmp?: string };
  /** The running iSCSI target (its sessions, for the management API). */
  iscsi?: IscsiTarget;
  /** The iSNS registration, when --isns was given. */
  isns?: IsnsRegistrar;
  /** Stop accepting, end sessions, wait for in-flight commands. */
  close(): Promise<void>;
}

export async function startFrontEnds(runtime: LabRuntime, opts: FrontEndOptions): Promise<FrontEnds> {
  const closers: Array<() => Promise<void>> = [];
  const addresses: FrontEnds['addresses'] = {};
  let iscsi: IscsiTarget | undefined;
  let isns: IsnsRegistrar | undefined;
  try {
    if (opts.iscsi) {
      const target = await startIscsiTarget({
        dispatcher: runtime.fabric,
        directory: runtime.directory,
        host: opts.iscsi.host,
        port: opts.iscsi.port,
        log: opts.log.child({ part: 'iscsi' }),
      });
      closers.push(() => target.close());
      iscsi = target;
      addresses.iscsi = hostPort(target.host, target.port);
      opts.log.info({ portal: addresses.iscsi, targets: runtime.directory.targetNodes().map((t) => t.iqn) }, 'iSCSI portal open');
    }
    if (opts.ndmp) {
      const ndmp = await startNdmpServer({
        runtime,
        host: opts.ndmp.host,
        port: opts.ndmp.port,
        ...(opts.ndmp.router ? { router: opts.ndmp.router } : {}),
        ...(opts.ndmp.auth ? { auth: opts.ndmp.auth } : {}),
        log: opts.log.child({ part: 'ndmp' }),
      });
      closers.push(() => ndmp.close());
      addresses.ndmp = hostPort(ndmp.host, ndmp.port);
      opts.log.info({ ndmp: addresses.ndmp }, 'NDMP server listening');
    }
    if (opts.isns && iscsi) {
      const { entity, domains } = labIsns(runtime.config, resolveTopology(runtime.config), [{ host: iscsi.host, port: iscsi.port }], [...runtime.served]);
      isns = new IsnsRegistrar({ server: opts.isns, entity, domains, log: opts.log.child({ part: 'isns' }) });
      const reg = isns;
      reg.on('scn', (e) => opts.log.info({ part: 'isns', scn: e }, 'iSNS state change notification'));
      const movers = runtime.config.routers.filter((r) => runtime.served.has(r.name)).map((r) => dataMoverIqn(r.name));
      followIsns(reg, runtime.remoteTargets, movers, opts.log.child({ part: 'isns' }));
      // Never fails the start: an unreachable server is retried in the background.
      await reg.start(iscsi.host);
      closers.push(() => reg.stop());
      addresses.isns = hostPort(opts.isns.host, opts.isns.port);
    }
    if (opts.api) {
      const api = await buildApi(runtime, {
        log: opts.log,
        ...(iscsi ? { iscsi } : {}),
        // The backup commands keep their catalog in the data directory by default.
        catalogPath: path.join(runtime.dataDir, 'catalog.sqlite'),
      });
      try {
        await api.app.listen({ host: opts.api.host, port: opts.api.port });
      } catch (e) {
        await api.close().catch(() => undefined);
        if (opts.api.required !== false) throw e;
        opts.log.warn({ err: e, api: hostPort(opts.api.host, opts.api.port) }, 'management API not started (use --api HOST:PORT or --api off)');
      }
      if (api.app.server.listening) {
        closers.push(() => api.close());
        const a = api.app.server.address() as AddressInfo;
        addresses.api = hostPort(a.address, a.port);
        const generated = !runtime.config.api.token && !process.env.DMSIM_API_TOKEN;
        // A generated token is only known here: print it so the operator can use the write routes.
        opts.log.info({ api: `http://${addresses.api}/`, ...(generated ? { token: api.token } : {}) }, 'management API listening');
      }
    }
  } catch (e) {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    throw e;
  }
  return {
    addresses,
    ...(iscsi ? { iscsi } : {}),
    ...(isns ? { isns } : {}),
    async close() {
      for (const c of closers.reverse()) await c();
    },
  };
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
