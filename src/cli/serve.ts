/**
 * The network front ends of a built lab: the iSCSI portal and (when asked) the management API.
 * Shared by `dmsim router` and `dmsim demo --serve` so both open and close them the same way.
 */
import type { LabRuntime } from '../../firmware-sim/lab/build.js';
import type { Logger } from '../log.js';

export interface FrontEndOptions {
  iscsi?: { host: string; port: number };
  api?: { host: string; port: number };
  log: Logger;
}

export interface FrontEnds {
  /** Bound addresses, "host:port" (the real port when 0 was asked for). */
  addresses: { iscsi?: string; api?: string };
  /** Stop accepting, end sessions, wait for in-flight commands. */
  close(): Promise<void>;
}

export async function startFrontEnds(runtime: LabRuntime, opts: FrontEndOptions): Promise<FrontEnds> {
  const closers: Array<() => Promise<void>> = [];
  const addresses: FrontEnds['addresses'] = {};
  if (opts.iscsi) opts.log.warn({ runtime: runtime.config.name }, 'iSCSI front end not built yet: portal not opened');
  if (opts.api) opts.log.warn('management API not built yet: --api ignored');
  return {
    addresses,
    async close() {
      for (const c of closers.reverse()) await c();
    },
  };
}
