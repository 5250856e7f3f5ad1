/**
 * ScsiTransport over the dmsim iSCSI initiator: the backup server reaches a router (or any iSCSI
 * target, tgtd included) through one portal. Targets are iSCSI target names; a session per target
 * is logged in on first use and reused. Commands are multiplexed on that session (many in
 * flight), so the "secondary" stream for progress polling is the same transport.
 *
 * A lost connection is not hidden: the command fails, the session is dropped, and the next
 * command logs in again (a new I_T nexus, so the caller's reservations are gone, as they would be
 * after a real link loss). Commands are never retried here because most are not idempotent.
 */
import { connect, ConnectionClosedError, IscsiInitiator, type ChapCredentials, type IscsiSession } from '../iscsi/initiator/index.js';
import type { CommandOptions, CommandResult } from '../scsi/command.js';
import { countCommand, newStats, type PortStats, type ScsiTransport, type TransportTarget } from './transport.js';

export interface IscsiTransportOptions {
  host: string;
  port?: number;
  /** The backup server's iSCSI initiator name (the lab maps it to its host port / WWPN). */
  initiatorName: string;
  chap?: ChapCredentials;
  headerDigest?: boolean;
  dataDigest?: boolean;
  /** Per-command deadline in ms; 0 = none (EXTENDED COPY may run long; default 0). */
  commandTimeoutMs?: number;
  /** NOP-Out keep-alive after this many idle ms; a dead target then fails commands instead of hanging them. */
  keepaliveMs?: number;
}

export class IscsiTransport implements ScsiTransport {
  readonly stats: PortStats = newStats();
  readonly initiatorId: string;
  private readonly sessions = new Map<string, Promise<IscsiSession>>();
  private closed = false;

  constructor(private readonly opts: IscsiTransportOptions) {
    this.initiatorId = opts.initiatorName;
  }

  private get port(): number {
    return this.opts.port ?? 3260;
  }

  /** SendTargets=All in a discovery session. */
  async listTargets(): Promise<TransportTarget[]> {
    const ini = new IscsiInitiator({ initiatorName: this.opts.initiatorName, chap: this.opts.chap });
    const found = await ini.discover(this.opts.host, this.port);
    return found.map((t) => ({ id: t.name, label: t.addresses.map((a) => `${a.host}:${a.port}`).join(' ') || `${this.opts.host}:${this.port}` }));
  }

  /** The logged-in session for a target (logging in on first use). */
  session(target: string): Promise<IscsiSession> {
    if (this.closed) return Promise.reject(new ConnectionClosedError('transport closed'));
    let s = this.sessions.get(target);
    if (!s) {
      s = connect({
        host: this.opts.host,
        port: this.port,
        initiatorName: this.opts.initiatorName,
        targetName: target,
        chap: this.opts.chap,
        headerDigest: this.opts.headerDigest,
        dataDigest: this.opts.dataDigest,
        commandTimeoutMs: this.opts.commandTimeoutMs,
        keepaliveMs: this.opts.keepaliveMs,
      });
      this.sessions.set(target, s);
      const mine = s;
      // Forget failed logins and dead sessions so the next command starts afresh.
      s.then(
        (sess) => void sess.waitClosed().then(() => this.sessions.get(target) === mine && this.sessions.delete(target)),
        () => this.sessions.get(target) === mine && this.sessions.delete(target),
      );
    }
    return s;
  }

  async command(target: string, lun: number, cdb: Buffer, opts: CommandOptions = {}): Promise<CommandResult> {
    const s = await this.session(target);
    const r = await s.command({ ...opts, lun, cdb });
    countCommand(this.stats, cdb, opts, r);
    return r;
  }

  /** One iSCSI session carries many commands at once, so polling shares it. */
  async secondary(): Promise<ScsiTransport> {
    return this;
  }

  /** Log out of every target. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((p) => p.then((s) => s.close(), () => undefined)));
  }
}
