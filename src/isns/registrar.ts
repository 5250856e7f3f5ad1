/**
 * One dmsim process as one iSNS Network Entity (reference isns.md §6): registers its portals and
 * storage nodes (replace on the first registration, so a killed run's stale nodes vanish at once),
 * its lab zones as discovery domains, SCN registrations for its initiator nodes; refreshes within
 * the period the server returns; reconnects with backoff when the server goes away (iSNS problems
 * never stop the process); deregisters on a clean stop. Also the discovery query the data mover and
 * the backup server use to find targets.
 */
import { EventEmitter } from 'node:events';
import { EntityProtocol, Fn, NodeType, ScnBit, Status, Tag } from './constants.js';
import { IsnsClient, IsnsError } from './client.js';
import { IsnsListener, type ScnEvent } from './listener.js';
import { decodeIp, empty, readPort, readString, readU32, tlvIp, tlvPort, tlvString, tlvU32, tlvU64, type Tlv } from './tlv.js';

export interface IsnsPortal {
  /** A wildcard address (0.0.0.0, ::) registers the local address of the iSNS connection instead. */
  address: string;
  port: number;
  symbolicName: string;
}

export interface IsnsNode {
  name: string;
  type: 'target' | 'initiator';
  alias?: string;
  /** WWNN Token: the WWPN of the lab FC port the node stands for. */
  wwnnToken?: string;
}

export interface IsnsEntity {
  eid: string;
  portals: IsnsPortal[];
  nodes: IsnsNode[];
}

export interface DiscoveryDomain {
  name: string;
  /** iSCSI names, registered here, elsewhere or not at all. */
  members: string[];
}

export interface DiscoveredTarget {
  name: string;
  portals: Array<{ address: string; port: number; tpgt: number }>;
}

interface RegistrarLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

interface RegistrarOptions {
  server: { host: string; port: number };
  entity: IsnsEntity;
  domains: DiscoveryDomain[];
  log: RegistrarLog;
  /** Test hook: the longest backoff between reconnection attempts (default 30 s). */
  maxBackoffMs?: number;
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);
const ESI_INTERVAL_S = 10;

/** Emits 'scn' (ScnEvent) and 'state' ('registered' | 'down'). */
export class IsnsRegistrar extends EventEmitter {
  private client: IsnsClient | undefined;
  private listener: IsnsListener | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = 1000;
  private stopped = false;
  private state: 'connecting' | 'registered' | 'down' = 'connecting';
  /** The registration period the server imposed (tag 6 of the DevAttrRegRsp). */
  period: number | undefined;

  constructor(private readonly opts: RegistrarOptions) {
    super();
  }

  /** The node every request speaks as: the entity's first target node, else its first initiator. */
  get source(): Tlv {
    const n = this.opts.entity.nodes.find((x) => x.type === 'target') ?? this.opts.entity.nodes[0];
    if (!n) throw new IsnsError('an iSNS entity needs at least one storage node');
    return tlvString(Tag.IscsiName, n.name);
  }

  /**
   * Opens the SCN/ESI listener and makes the first attempt. Never rejects because the server is
   * unreachable: the registrar keeps retrying in the background.
   */
  async start(listenHost = '127.0.0.1'): Promise<void> {
    this.listener = await IsnsListener.listen(listenHost);
    this.listener.on('scn', (e: ScnEvent) => this.emit('scn', e));
    this.listener.on('esi', () => undefined);
    await this.attempt();
  }

  get registered(): boolean {
    return this.state === 'registered';
  }

  private setState(s: 'registered' | 'down', detail: object = {}): void {
    if (this.state === s) return;
    this.state = s;
    // Each state change is logged once, not every retry.
    if (s === 'registered') this.opts.log.info({ isns: this.serverText, eid: this.opts.entity.eid, period: this.period, ...detail }, 'registered with iSNS server');
    else this.opts.log.warn({ isns: this.serverText, ...detail }, 'iSNS server unreachable; retrying');
    this.emit('state', s);
  }

  private get serverText(): string {
    return `${this.opts.server.host}:${this.opts.server.port}`;
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    try {
      const c = await IsnsClient.connect(this.opts.server);
      this.client = c;
      c.once('close', () => {
        if (this.client === c) this.client = undefined;
        this.lost(new Error('connection closed'));
      });
      await this.registerAll(c);
      this.backoffMs = 1000;
      this.setState('registered');
      this.scheduleRefresh();
    } catch (e) {
      this.client?.close();
      this.lost(e as Error);
    }
  }

  private lost(err: Error): void {
    clearTimeout(this.refreshTimer);
    if (this.stopped) return;
    this.setState('down', { reason: err.message });
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.attempt();
    }, this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs ?? 30_000);
  }

  private portalAddress(p: IsnsPortal, c: IsnsClient): string {
    return WILDCARD.has(p.address) ? (c.localAddress ?? '127.0.0.1') : p.address;
  }

  /** DevAttrReg (replace) of the whole entity, SCNReg for initiators, then the zones' DDs. */
  private async registerAll(c: IsnsClient): Promise<void> {
    const { entity } = this.opts;
    const portals = entity.portals.map((p) => ({ ...p, address: this.portalAddress(p, c) }));
    const op = registrationAttributes(entity, portals, this.listener!.port);
    const rsp = await c.call(Fn.DevAttrReg, { source: this.source, key: [tlvString(Tag.EntityIdentifier, entity.eid)], operating: op }, { replace: true });
    const period = rsp.operating.find((t) => t.tag === Tag.RegistrationPeriod);
    this.period = period ? readU32(period) : undefined;
    for (const n of entity.nodes.filter((x) => x.type === 'initiator'))
      await c.call(Fn.SCNReg, {
        source: this.source,
        key: [tlvString(Tag.IscsiName, n.name)],
        operating: [tlvU32(Tag.IscsiScnBitmap, ScnBit.ObjectUpdated | ScnBit.ObjectAdded | ScnBit.ObjectRemoved | ScnBit.TargetAndSelfOnly)],
      });
    for (const d of this.opts.domains) await this.registerDomain(c, d);
  }

  /**
   * Creates the DD with all its members; when another process created it first (status 3: the
   * name is taken), looks it up as one of its own member nodes and adds the missing members.
   */
  private async registerDomain(c: IsnsClient, d: DiscoveryDomain): Promise<void> {
    const members = d.members.map((m) => tlvString(Tag.DdMemberIscsiName, m));
    const created = await c.request(Fn.DDReg, { source: this.source, key: [], operating: [tlvString(Tag.DdSymbolicName, d.name), ...members] });
    if (created.status === Status.Successful) {
      // isnsd leaves out of a new DD every member already in another DD (observed with open-isns
      // 0.101); adding them to the DD by its DD_ID works, so add whatever the answer does not list.
      const attrs = [...created.key, ...created.operating];
      const id = attrs.find((t) => t.tag === Tag.DdId);
      const echoed = new Set(attrs.filter((t) => t.tag === Tag.DdMemberIscsiName).map(readString));
      const missing = d.members.filter((m) => !echoed.has(m));
      if (id && missing.length) await c.call(Fn.DDReg, { source: this.source, key: [id], operating: missing.map((m) => tlvString(Tag.DdMemberIscsiName, m)) });
      return;
    }
    if (created.status !== Status.InvalidRegistration) throw new IsnsError(`DDReg ${d.name}: status ${created.status}`, created.status);
    const own = this.opts.entity.nodes.find((n) => d.members.includes(n.name));
    if (!own) return;
    const q = await c.call(Fn.DevAttrQry, { source: tlvString(Tag.IscsiName, own.name), key: [tlvString(Tag.DdSymbolicName, d.name)], operating: [empty(Tag.DdId)] });
    const id = q.operating.find((t) => t.tag === Tag.DdId);
    if (!id) return;
    await c.call(Fn.DDReg, { source: tlvString(Tag.IscsiName, own.name), key: [id], operating: members });
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    const p = this.period ?? 600;
    const seconds = Math.max(1, Math.min(p / 2, p - 10));
    this.refreshTimer = setTimeout(() => void this.refresh(), seconds * 1000);
    this.refreshTimer.unref();
  }

  /** A query keyed by the EID refreshes the entity; 9 or 6 means the server dropped it: register again. */
  private async refresh(): Promise<void> {
    const c = this.client;
    if (!c || this.stopped) return;
    try {
      const r = await c.request(Fn.DevAttrQry, { source: this.source, key: [tlvString(Tag.EntityIdentifier, this.opts.entity.eid)], operating: [empty(Tag.RegistrationPeriod)] });
      if (r.status === Status.NoSuchEntry || r.status === Status.SourceUnknown || (r.status === 0 && !r.operating.length)) await this.registerAll(c);
      this.scheduleRefresh();
    } catch (e) {
      c.close();
      this.lost(e as Error);
    }
  }

  /**
   * The targets the given node may see (the open-iscsi discovery query: key Node Type = target):
   * names with their portals from portal groups, or TPGT 1 on the entity's portals when the peer
   * registered no portal group.
   */
  async discoverTargets(sourceName?: string): Promise<DiscoveredTarget[]> {
    const c = this.client;
    if (!c) throw new IsnsError('not connected to the iSNS server');
    const ask = [Tag.IscsiName, Tag.IscsiNodeType, Tag.PortalIpAddress, Tag.PortalPort, Tag.PgIscsiName, Tag.PgPortalIpAddr, Tag.PgPortalPort, Tag.PgTag].map((t) => empty(t));
    const r = await c.call(Fn.DevAttrQry, { source: sourceName ? tlvString(Tag.IscsiName, sourceName) : this.source, key: [tlvU32(Tag.IscsiNodeType, NodeType.Target)], operating: ask });
    return parseDiscovery(r.operating);
  }

  /** SCNDereg per initiator node, DevDereg of the entity, close: watchers get "object removed". */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.refreshTimer);
    clearTimeout(this.retryTimer);
    const c = this.client;
    if (c?.connected) {
      try {
        for (const n of this.opts.entity.nodes.filter((x) => x.type === 'initiator'))
          await c.request(Fn.SCNDereg, { source: this.source, key: [tlvString(Tag.IscsiName, n.name)], operating: [] });
        await c.request(Fn.DevDereg, { source: this.source, key: [], operating: [tlvString(Tag.EntityIdentifier, this.opts.entity.eid)] });
      } catch {
        // The server went away while we were leaving: it will expire us.
      }
      c.close();
    }
    await this.listener?.close();
  }
}

/**
 * Operating attributes of the entity's DevAttrReg (reference isns.md §6, capture (g)): the entity,
 * each portal with its ESI and SCN ports, each node with explicit portal groups for targets.
 * No Registration Period: the server chooses it and returns it.
 */
export function registrationAttributes(entity: IsnsEntity, portals: readonly IsnsPortal[], scnPort: number): Tlv[] {
  const op: Tlv[] = [tlvString(Tag.EntityIdentifier, entity.eid), tlvU32(Tag.EntityProtocol, EntityProtocol.Iscsi)];
  for (const p of portals)
    op.push(
      tlvIp(Tag.PortalIpAddress, p.address),
      tlvPort(Tag.PortalPort, p.port),
      tlvString(Tag.PortalSymbolicName, p.symbolicName),
      tlvU32(Tag.EsiInterval, ESI_INTERVAL_S),
      tlvPort(Tag.EsiPort, scnPort),
      tlvPort(Tag.ScnPort, scnPort),
    );
  for (const n of entity.nodes) {
    op.push(tlvString(Tag.IscsiName, n.name), tlvU32(Tag.IscsiNodeType, n.type === 'target' ? NodeType.Target : NodeType.Initiator));
    if (n.alias) op.push(tlvString(Tag.IscsiAlias, n.alias));
    if (n.wwnnToken) op.push(tlvU64(Tag.WwnnToken, BigInt(`0x${n.wwnnToken}`)));
    // Explicit portal groups for targets: PGT 1, the TPGT the iSCSI target answers at login.
    if (n.type === 'target') for (const p of portals) op.push(tlvU32(Tag.PgTag, 1), tlvIp(Tag.PgPortalIpAddr, p.address), tlvPort(Tag.PgPortalPort, p.port));
  }
  return op;
}

/** Groups a discovery answer's attribute run into targets (node attributes, then portals, then PGs). */
export function parseDiscovery(attrs: Tlv[]): DiscoveredTarget[] {
  const nodes = new Map<string, DiscoveredTarget>();
  const portals: Array<{ address: string; port: number }> = [];
  const groups: Array<{ name: string; address?: string; port?: number; tag?: number }> = [];
  let node: string | undefined;
  let type = 0;
  let pgName: string | undefined;
  let pending: { address?: string } = {};
  for (const t of attrs) {
    switch (t.tag) {
      case Tag.IscsiName:
        node = readString(t);
        type = 0;
        break;
      case Tag.IscsiNodeType:
        type = readU32(t);
        if (node && type & NodeType.Target && !nodes.has(node)) nodes.set(node, { name: node, portals: [] });
        break;
      case Tag.PortalIpAddress:
        pending = { address: decodeIp(t.value) };
        break;
      case Tag.PortalPort:
        if (pending.address) portals.push({ address: pending.address, port: readPort(t).port });
        pending = {};
        break;
      case Tag.PgIscsiName:
        pgName = readString(t);
        groups.push({ name: pgName });
        break;
      case Tag.PgPortalIpAddr:
        if (groups.length) groups[groups.length - 1]!.address = decodeIp(t.value);
        break;
      case Tag.PgPortalPort:
        if (groups.length) groups[groups.length - 1]!.port = readPort(t).port;
        break;
      case Tag.PgTag:
        // A zero-length PG Tag is NULL: no access through that portal.
        if (groups.length && t.value.length) groups[groups.length - 1]!.tag = readU32(t) & 0xffff;
        break;
    }
  }
  for (const g of groups) {
    const n = nodes.get(g.name);
    if (n && g.address && g.port !== undefined && g.tag !== undefined && !n.portals.some((p) => p.address === g.address && p.port === g.port))
      n.portals.push({ address: g.address, port: g.port, tpgt: g.tag });
  }
  for (const n of nodes.values()) if (!n.portals.length) n.portals.push(...portals.map((p) => ({ ...p, tpgt: 1 })));
  return [...nodes.values()];
}
