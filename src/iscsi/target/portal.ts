/**
 * The network portal: a TCP server, the sessions it hosts (by TSIH), session and connection
 * reinstatement, I_T nexus loss on session end, and the keep-alive timer.
 */
import net from 'node:net';
import { makeNexus } from '../../../firmware-sim/router/task.js';
import type { FrontEndDirectory, TaskDispatcher } from '../../../firmware-sim/router/dispatch.js';
import type { Logger } from '../../log.js';
import { TARGET_LIMITS, type LocalLimits } from '../negotiation.js';
import { LoginStatus } from '../pdu/index.js';
import { normalizeName } from '../text.js';
import { Connection } from './connection.js';
import type { LoginContext, LoginNegotiator, TargetNode } from './login.js';
import { Session } from './session.js';
import { BufferPool } from './buffer-pool.js';
import type { IscsiTargetOptions, SessionInfo } from './types.js';

export class Portal implements LoginContext {
  readonly dispatcher: TaskDispatcher;
  readonly directory: FrontEndDirectory;
  readonly log: Logger | undefined;
  readonly limits: LocalLimits;
  readonly depth: number;
  readonly portalGroupTag: number;
  readonly host: string;
  port = 0;
  /** Recycled gather buffers for large disk writes. */
  readonly pool = new BufferPool();
  private readonly sessions = new Map<number, Session>();
  private readonly maxSessions: number;
  private readonly conns = new Set<Connection>();
  private nextTsih = 1;
  private nextConnId = 1;
  private readonly server: net.Server;
  private timer: NodeJS.Timeout | undefined;
  private readonly nopInterval: number;
  private readonly nopTimeout: number;

  constructor(opts: IscsiTargetOptions) {
    this.dispatcher = opts.dispatcher;
    this.directory = opts.directory;
    this.log = opts.log?.child({ component: 'iscsi-target' });
    this.limits = { ...TARGET_LIMITS, ...opts.limits };
    this.depth = Math.max(1, opts.queueDepth ?? 128);
    this.maxSessions = Math.max(1, opts.maxSessions ?? 256);
    this.portalGroupTag = opts.portalGroupTag ?? 1;
    this.host = opts.host ?? '127.0.0.1';
    this.nopInterval = opts.nopInIntervalMs ?? 0;
    this.nopTimeout = opts.nopInTimeoutMs ?? 15_000;
    this.server = net.createServer((sock) => this.accept(sock));
  }

  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.host, () => {
        this.server.off('error', reject);
        const a = this.server.address();
        this.port = typeof a === 'object' && a ? a.port : port;
        this.timer = setInterval(() => this.tick(), 1000);
        this.timer.unref();
        this.log?.info({ host: this.host, port: this.port }, 'iSCSI portal listening');
        resolve(this.port);
      });
    });
  }

  private accept(sock: net.Socket): void {
    const c = new Connection(this, sock, this.nextConnId++);
    this.conns.add(c);
  }

  targetNodes(): TargetNode[] {
    return this.directory.targetNodes().map((n) => ({ ...n, iqn: normalizeName(n.iqn) }));
  }

  node(iqn: string): TargetNode | undefined {
    return this.targetNodes().find((n) => n.iqn === iqn);
  }

  reachable(initiatorPort: string | undefined, targetPort: string): boolean {
    // The Fabric answers canReach (zoning, links); other dispatchers reach everything.
    const d = this.dispatcher as TaskDispatcher & { canReach?(initiator: string, targetPort: string): boolean };
    return !initiatorPort || typeof d.canReach !== 'function' || d.canReach(initiatorPort, targetPort);
  }

  allSessions(): Session[] {
    return [...this.sessions.values()];
  }

  /**
   * A leading login that would add a session: refused with OUT OF RESOURCES (03h/02h) when the
   * portal already hosts maxSessions, unless it reinstates one of them (same name, ISID, target).
   */
  checkLead(initiatorName: string, isid: Buffer, targetName: string | undefined): number {
    if (this.sessions.size < this.maxSessions) return 0;
    for (const s of this.sessions.values()) if (!s.ended && s.initiatorName === initiatorName && s.isid.equals(isid) && s.node?.iqn === targetName) return 0;
    return LoginStatus.OUT_OF_RESOURCES;
  }

  checkJoin(tsih: number, initiatorName: string, isid: Buffer, targetName: string | undefined, cid: number): number {
    const s = this.sessions.get(tsih);
    if (!s || s.ended || s.initiatorName !== initiatorName || !s.isid.equals(isid) || s.node?.iqn !== targetName) return LoginStatus.SESSION_DOES_NOT_EXIST;
    const reinstating = [...s.conns].some((c) => c.cid === cid);
    if (!reinstating && s.conns.size >= s.params.maxConnections) return LoginStatus.TOO_MANY_CONNECTIONS;
    return 0;
  }

  /** Create the session of a leading login (reinstating a matching old one), or join one by TSIH. */
  establish(conn: Connection, lg: LoginNegotiator): Session | undefined {
    if (lg.tsih !== 0) {
      const s = this.sessions.get(lg.tsih);
      if (!s || s.ended) return undefined;
      const old = [...s.conns].find((c) => c.cid === lg.cid);
      // Connection-scoped values come from this login (one connection per session at a time).
      s.params.headerDigest = lg.params.headerDigest;
      s.params.dataDigest = lg.params.dataDigest;
      s.params.initiatorMaxRecvDataSegmentLength = lg.params.initiatorMaxRecvDataSegmentLength;
      s.params.targetMaxRecvDataSegmentLength = lg.params.targetMaxRecvDataSegmentLength;
      s.conns.add(conn);
      if (old) {
        // Connection reinstatement: the old connection's tasks are lost (ERL 0).
        s.conns.delete(old);
        for (const t of [...s.tasks.values()]) if (t.conn === old) old.abortTask(t, false);
        old.close();
      }
      return s;
    }
    for (const old of this.sessions.values()) {
      if (old.initiatorName === lg.initiatorName && old.isid.equals(lg.isid) && old.node?.iqn === lg.node?.iqn && old.type === lg.sessionType) {
        old.log?.info('session reinstatement');
        this.endSession(old, 'reinstated');
      }
    }
    let tsih = this.nextTsih;
    while (tsih === 0 || this.sessions.has(tsih)) tsih = (tsih + 1) & 0xffff;
    this.nextTsih = (tsih + 1) & 0xffff || 1;
    const nexus =
      lg.sessionType === 'Normal' && lg.node && lg.initiatorPort ? makeNexus(lg.initiatorPort, lg.node.targetPort, `${lg.initiatorName},i,0x${lg.isid.toString('hex')}`) : undefined;
    const s = new Session(tsih, lg.sessionType, lg.initiatorName, lg.isid, lg.node, lg.initiatorPort, nexus, lg.params, lg.cmdSN, this.depth);
    s.log = this.log?.child({ tsih, initiator: lg.initiatorName, isid: s.isidHex, ...(lg.node ? { target: lg.node.iqn } : {}) });
    s.conns.add(conn);
    this.sessions.set(tsih, s);
    return s;
  }

  connectionClosed(c: Connection): void {
    this.conns.delete(c);
    const s = c.session;
    if (!s || !s.conns.has(c)) return;
    s.conns.delete(c);
    for (const t of [...s.tasks.values()]) if (t.conn === c) c.abortTask(t, false);
    if (s.conns.size === 0) this.endSession(s, 'connection closed');
  }

  /** Session over (logout, connection loss at ERL 0, reinstatement, cold reset): I_T nexus loss. */
  endSession(s: Session, why: string): void {
    if (s.ended) return;
    s.ended = true;
    if (this.sessions.get(s.tsih) === s) this.sessions.delete(s.tsih);
    for (const t of [...s.tasks.values()]) t.conn.abortTask(t, false);
    s.tasks.clear();
    s.clearHeld();
    for (const c of [...s.conns]) c.close();
    s.conns.clear();
    s.log?.info({ why }, 'session ended');
    if (s.nexus) {
      try {
        this.dispatcher.nexusLost(s.nexus);
      } catch (e) {
        s.log?.error({ err: e instanceof Error ? e.message : String(e) }, 'nexusLost failed');
      }
    }
  }

  private tick(): void {
    if (!this.nopInterval) return;
    const now = Date.now();
    for (const c of this.conns) {
      if (c.state !== 'ffp') continue;
      if (c.pingTtt) {
        if (now - c.pingSentAt > this.nopTimeout) {
          c.log?.warn('NOP-In ping not answered, closing connection');
          c.close();
        }
      } else if (now - c.lastRx >= this.nopInterval) c.ping();
    }
  }

  sessionInfo(): SessionInfo[] {
    return this.allSessions().map((s) => ({
      tsih: s.tsih,
      type: s.type,
      initiatorName: s.initiatorName,
      isid: s.isidHex,
      ...(s.node ? { targetName: s.node.iqn, targetPort: s.node.targetPort } : {}),
      ...(s.initiatorPort ? { initiatorPort: s.initiatorPort } : {}),
      connections: s.conns.size,
      tasks: s.tasks.size,
      params: { ...s.params },
    }));
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.allSessions()) this.endSession(s, 'portal closing');
    for (const c of [...this.conns]) {
      c.close();
      c.socket.destroy();
    }
    await closed;
  }
}
