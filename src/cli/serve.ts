/**
 * The network front ends of a built lab: the iSCSI portal and (when asked) the management API.
 * Shared by `dmsim router` and `dmsim demo --serve` so both open and close them the same way.
 */
import type { LabRuntime } from '../../firmware-sim/lab/build.js';
import { startIscsiTarget, type IscsiTarget } from '../iscsi/target/index.js';
import type { Logger } from '../log.js';

export interface FrontEndOptions {
  iscsi?: { host: string; port: number };
  api?: { host: string; port: number };
  log: Logger;
}

export interface FrontEnds {
  /** Bound addresses, "host:port" (the real port when 0 was asked for). */
  addresses: { iscsi?: string; api?: string };
  /** The running iSCSI target (its sessions, for the management API). */
  iscsi?: IscsiTarget;
  /** Stop accepting, end sessions, wait for in-flight commands. */
  close(): Promise<void>;
}

export async function startFrontEnds(runtime: LabRuntime, opts: FrontEndOptions): Promise<FrontEnds> {
  const closers: Array<() => Promise<void>> = [];
  const addresses: FrontEnds['addresses'] = {};
  let iscsi: IscsiTarget | undefined;
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
    if (opts.api) opts.log.warn('management API not built yet: --api ignored');
  } catch (e) {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    throw e;
  }
  return {
    addresses,
    ...(iscsi ? { iscsi } : {}),
    async close() {
      for (const c of closers.reverse()) await c();
    },
  };
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
