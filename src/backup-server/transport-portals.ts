/**
 * ScsiTransport over several iSCSI portals: the backup server of a lab spread over processes (or a
 * lab with a tgtd array) sees the router holding the data mover at one portal and the arrays or
 * tape routers at others. Each portal is an IscsiTransport; SendTargets on each portal, plus the
 * targets an iSNS server named (already with their portals), say which portal a target is reached
 * at. A target offered at two portals is reached at the first (the --router portal comes first).
 */
import { IscsiTransport, type IscsiTransportOptions } from './transport-iscsi.js';
import type { CommandOptions, CommandResult } from '../scsi/command.js';
import type { PortStats, ScsiTransport, TransportTarget } from './transport.js';

export interface PortalAddress {
  host: string;
  port: number;
}

/** A target named by iSNS: reached at its portal without a SendTargets round. */
export interface NamedTarget {
  name: string;
  portal: PortalAddress;
}

export class PortalsTransport implements ScsiTransport {
  readonly initiatorId: string;
  private readonly byPortal = new Map<string, IscsiTransport>();
  private readonly route = new Map<string, IscsiTransport>();

  constructor(
    private readonly base: Omit<IscsiTransportOptions, 'host' | 'port'>,
    /** Portals to ask with SendTargets, in order of preference. */
    private readonly portals: readonly PortalAddress[],
    /** Targets (and their portals) an iSNS server returned; asked again on every listTargets(). */
    private readonly named: () => Promise<NamedTarget[]> = async () => [],
  ) {
    this.initiatorId = base.initiatorName;
  }

  /** Commands and bytes over every portal: the backup server's port is all of them together. */
  get stats(): PortStats {
    const s: PortStats = { commands: 0, bytesOut: 0, bytesIn: 0 };
    for (const t of this.byPortal.values()) {
      s.commands += t.stats.commands;
      s.bytesOut += t.stats.bytesOut;
      s.bytesIn += t.stats.bytesIn;
    }
    return s;
  }

  private at(p: PortalAddress): IscsiTransport {
    const key = `${p.host}:${p.port}`;
    let t = this.byPortal.get(key);
    if (!t) {
      t = new IscsiTransport({ ...this.base, host: p.host, port: p.port });
      this.byPortal.set(key, t);
    }
    return t;
  }

  async listTargets(): Promise<TransportTarget[]> {
    const out: TransportTarget[] = [];
    const seen = new Set<string>();
    const add = (t: TransportTarget, via: IscsiTransport) => {
      if (seen.has(t.id)) return;
      seen.add(t.id);
      this.route.set(t.id, via);
      out.push(t);
    };
    for (const p of this.portals) {
      const via = this.at(p);
      // A portal that does not answer is an error the user must see: it was named explicitly.
      for (const t of await via.listTargets()) add(t, via);
    }
    for (const n of await this.named()) add({ id: n.name, label: `${n.portal.host}:${n.portal.port}` }, this.at(n.portal));
    return out;
  }

  async command(target: string, lun: number, cdb: Buffer, opts?: CommandOptions): Promise<CommandResult> {
    const via = this.route.get(target);
    if (!via) throw new Error(`target ${target} was not found at any portal this backup server knows`);
    return via.command(target, lun, cdb, opts);
  }

  async secondary(): Promise<ScsiTransport> {
    return this;
  }

  async close(): Promise<void> {
    await Promise.all([...this.byPortal.values()].map((t) => t.close()));
  }
}
