/**
 * dmsim's iSCSI initiator: the backup server's way to a router over the network, and a peer for
 * tgtd in tests. `connect()` opens a TCP connection, logs in (CHAP optional) and returns a
 * session; `IscsiInitiator` remembers the initiator name and CHAP for several logins.
 */
import { Connection } from './connection.js';
import { LoginError } from './errors.js';
import { login } from './login.js';
import { IscsiSession } from './session.js';
import type { ConnectOptions, DiscoveredTarget } from './types.js';

export * from './errors.js';
export * from './types.js';
export { IscsiSession, parseTargetAddress } from './session.js';
export { randomIsid } from './login.js';
export { ScsiCommandError, checked, clearUnitAttentions, inquiry, inquiryVpd, readCapacity16, reportLuns, testUnitReady, type CommandIssuer } from './scsi.js';

export const ISCSI_PORT = 3260;

export async function connect(opts: ConnectOptions): Promise<IscsiSession> {
  const timeoutMs = opts.loginTimeoutMs ?? 10_000;
  const conn = await Connection.open(opts.host, opts.port ?? ISCSI_PORT, timeoutMs);
  try {
    const result = await login(conn, opts, timeoutMs);
    return new IscsiSession(conn, opts, result);
  } catch (e) {
    conn.fail(e instanceof Error ? e : new LoginError(String(e)));
    throw e;
  }
}

/** Shared initiator identity for several sessions (one per target). */
export class IscsiInitiator {
  constructor(private readonly defaults: Omit<ConnectOptions, 'host' | 'targetName' | 'discovery'>) {}

  /** Discovery session: SendTargets=All, then logout. */
  async discover(host: string, port = ISCSI_PORT): Promise<DiscoveredTarget[]> {
    const s = await connect({ ...this.defaults, host, port, discovery: true });
    try {
      return await s.sendTargets('All');
    } finally {
      await s.close();
    }
  }

  login(host: string, port: number, targetName: string, extra: Partial<ConnectOptions> = {}): Promise<IscsiSession> {
    return connect({ ...this.defaults, ...extra, host, port, targetName });
  }
}
