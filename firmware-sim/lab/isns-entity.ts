/**
 * A lab in iSNS terms (reference isns.md §6): the process's Network Entity, its storage nodes and
 * the lab zones as discovery domains. Pure: the registrar (src/isns) sends what this returns.
 *
 * - EID `<served nodes joined by '-'>.<lab>.dmsim`, lower case, the same on every start;
 * - each iSCSI target node of a served array or router is a target node named by its lab IQN,
 *   Alias = the lab port reference, WWNN Token = the WWPN of the FC port it stands for;
 * - each served router's data mover is an initiator node `iqn.2026-11.dev.dmsim:<router>.dm`;
 * - each zone is a DD `<lab>:<zone>` whose members are the target IQNs of its target ports, the
 *   iSCSI names of its host ports and the data mover node of a router whose data mover port is in it.
 */
import type { DiscoveryDomain, IsnsEntity, IsnsNode, IsnsPortal } from '../../src/isns/registrar.js';
import { dataMoverIqn, type LabConfig } from './config.js';
import type { Topology } from './topology.js';


/** Arrays and routers of the lab: the nodes a process can serve. */
export function servableNodes(lab: LabConfig): string[] {
  return [...lab.arrays.map((a) => a.name), ...lab.routers.map((r) => r.name)];
}

export function entityId(lab: LabConfig, served: readonly string[]): string {
  return `${served.join('-')}.${lab.name}.dmsim`.toLowerCase();
}

export interface LabIsns {
  entity: IsnsEntity;
  domains: DiscoveryDomain[];
}

/**
 * @param served the arrays and routers this process serves (default: all of them)
 * @param portals the process's iSCSI listen addresses
 */
export function labIsns(lab: LabConfig, topo: Topology, portals: readonly { host: string; port: number }[], served: readonly string[] = servableNodes(lab)): LabIsns {
  const mine = new Set(served);
  const nodes: IsnsNode[] = [];
  for (const p of topo.ports)
    if (p.role === 'target' && p.iqn && mine.has(p.node)) nodes.push({ name: p.iqn, type: 'target', alias: p.ref, wwnnToken: p.wwpn });
  for (const r of lab.routers) if (mine.has(r.name)) nodes.push({ name: dataMoverIqn(r.name), type: 'initiator', alias: `${r.name} data mover` });
  const isnsPortals: IsnsPortal[] = portals.map((p, i) => ({ address: p.host, port: p.port, symbolicName: `${served.join('-')} portal ${i}` }));

  const byWwpn = new Map(topo.ports.map((p) => [p.wwpn, p]));
  const hostNames = new Map<string, string[]>();
  for (const h of lab.hosts) for (const hp of h.ports) hostNames.set(hp.wwpn, hp.iscsiNames);
  const domains: DiscoveryDomain[] = [];
  for (const [zone, members] of topo.zones) {
    const names = new Set<string>();
    for (const w of members) {
      const p = byWwpn.get(w);
      if (!p) continue;
      if (p.role === 'target' && p.iqn) names.add(p.iqn);
      else if (p.owner === 'host') for (const n of hostNames.get(w) ?? []) names.add(n);
      else if (p.owner === 'data-mover') names.add(dataMoverIqn(p.node));
    }
    if (names.size) domains.push({ name: `${lab.name}:${zone}`, members: [...names] });
  }
  return { entity: { eid: entityId(lab, served), portals: isnsPortals, nodes }, domains };
}
