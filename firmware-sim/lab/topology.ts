/**
 * The lab resolved into fabric terms, independent of how the fabric is implemented: every port with
 * its WWPN, role and owner; every LU with the target ports it sits behind; zones as WWPN sets; and
 * the masking rule. build.ts hands these facts to the fabric; the API and tests read them.
 *
 * Masking rule (documented in README "Lab file"): a target device none of whose LUs is named in any
 * masking entry shows all of its LUs to every initiator zoned with it (routers usually work so);
 * once any masking entry names an LU of a device, that device shows each initiator exactly the LUs
 * listed for it, and nothing to initiators without an entry (arrays usually work so).
 */
import type { ChapConfig, LabConfig } from './config.js';
import { derivedWwpn } from './derived-wwpn.js';
import { normalizeWwn } from './schema.js';

export type PortRole = 'initiator' | 'target';
export type LuKind = 'disk' | 'tape' | 'data-mover' | 'changer';

export interface PortInfo {
  /** "node/port" */
  ref: string;
  node: string;
  name: string;
  wwpn: string;
  wwnn: string;
  role: PortRole;
  /** What owns the port: a host, an array, a router (target port), or a router's data mover. */
  owner: 'host' | 'array' | 'router' | 'data-mover' | 'iscsi-default';
  /** Target ports only. */
  iqn?: string;
}

export interface LuInfo {
  /** "device/lu" */
  name: string;
  device: string;
  lun: number;
  kind: LuKind;
  /** WWPNs of the device's target ports (the LU answers behind each). */
  targetPorts: string[];
}

export interface Topology {
  ports: PortInfo[];
  lus: LuInfo[];
  /** Zone name → member WWPNs. */
  zones: Map<string, Set<string>>;
  /** Devices with LUN masking on (see the rule above). */
  maskedDevices: Set<string>;
  /** Initiator WWPN → LU names it may see on masked devices. */
  masks: Map<string, Set<string>>;
}

const WWN_RE = /^([0-9A-Fa-f]{16}|[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){7})$/;

/** Name of the zone dmsim adds for iSCSI initiators the lab does not know (policy "default-zone"). */
export const ISCSI_DEFAULT_ZONE = 'iscsi-default';

export function resolveTopology(lab: LabConfig): Topology {
  const ports: PortInfo[] = [];
  const lus: LuInfo[] = [];
  for (const h of lab.hosts)
    for (const p of h.ports)
      ports.push({ ref: `${h.name}/${p.name}`, node: h.name, name: p.name, wwpn: p.wwpn, wwnn: h.wwnn, role: 'initiator', owner: 'host' });
  for (const a of lab.arrays) {
    for (const p of a.ports)
      ports.push({ ref: `${a.name}/${p.name}`, node: a.name, name: p.name, wwpn: p.wwpn, wwnn: a.wwnn, role: 'target', owner: 'array', iqn: p.iqn });
    const tps = a.ports.map((p) => p.wwpn);
    for (const l of a.lus) lus.push({ name: `${a.name}/${l.name}`, device: a.name, lun: l.lun, kind: 'disk', targetPorts: tps });
  }
  for (const r of lab.routers) {
    for (const p of r.ports)
      ports.push({ ref: `${r.name}/${p.name}`, node: r.name, name: p.name, wwpn: p.wwpn, wwnn: r.wwnn, role: 'target', owner: 'router', iqn: p.iqn });
    const dm = r.dataMover;
    ports.push({ ref: `${r.name}/${dm.initiator.name}`, node: r.name, name: dm.initiator.name, wwpn: dm.initiator.wwpn, wwnn: r.wwnn, role: 'initiator', owner: 'data-mover' });
    const tps = r.ports.map((p) => p.wwpn);
    lus.push({ name: `${r.name}/${dm.name}`, device: r.name, lun: dm.lun, kind: 'data-mover', targetPorts: tps });
    for (const b of r.buses) for (const d of b.drives) lus.push({ name: `${r.name}/${d.name}`, device: r.name, lun: d.lun, kind: 'tape', targetPorts: tps });
    for (const l of r.libraries) lus.push({ name: `${r.name}/${l.name}`, device: r.name, lun: l.lun, kind: 'changer', targetPorts: tps });
  }
  const byRef = new Map(ports.map((p) => [p.ref, p.wwpn]));
  // Remote targets are not ports of this fabric's nodes but zones name them ("<name>/target").
  for (const t of lab.remoteTargets) byRef.set(`${t.name}/target`, t.wwpn);
  const wwpnOf = (m: string) => byRef.get(m) ?? (WWN_RE.test(m) ? normalizeWwn(m) : m);
  const zones = new Map<string, Set<string>>();
  for (const z of lab.zones) zones.set(z.name, new Set(z.members.map(wwpnOf)));
  const luDevice = new Map(lus.map((l) => [l.name, l.device]));
  const maskedDevices = new Set<string>();
  const masks = new Map<string, Set<string>>();
  for (const m of lab.masking) {
    const w = wwpnOf(m.initiator);
    const set = masks.get(w) ?? new Set<string>();
    for (const l of m.lus) {
      set.add(l);
      maskedDevices.add(luDevice.get(l)!);
    }
    masks.set(w, set);
  }
  return { ports, lus, zones, maskedDevices, masks };
}

/** True when the two ports share a zone (or no zone holds either and the fabric's default zone is all-access). */
export function zoned(topo: Topology, lab: LabConfig, a: string, b: string): boolean {
  let inAny = false;
  for (const members of topo.zones.values()) {
    const hasA = members.has(a);
    const hasB = members.has(b);
    if (hasA && hasB) return true;
    if (hasA || hasB) inAny = true;
  }
  return !inAny && lab.fabric.defaultZone === 'all-access';
}

/** May this initiator see this LU, by masking alone (zoning is checked separately)? */
export function maskAllows(topo: Topology, initiator: string, lu: LuInfo): boolean {
  if (!topo.maskedDevices.has(lu.device)) return true;
  return topo.masks.get(initiator)?.has(lu.name) ?? false;
}

/** LUN → LU an initiator reaches through a target port: zoning and masking applied. */
export function visibleLus(topo: Topology, lab: LabConfig, initiator: string, targetPort: string): Map<number, LuInfo> {
  const out = new Map<number, LuInfo>();
  if (!zoned(topo, lab, initiator, targetPort)) return out;
  for (const lu of topo.lus) if (lu.targetPorts.includes(targetPort) && maskAllows(topo, initiator, lu)) out.set(lu.lun, lu);
  return out;
}

/**
 * WWPN for an iSCSI initiator the lab does not name: NAA 3 (locally assigned, FC-FS) with 60 bits
 * of SHA-256 of the name, so the same initiator gets the same port (and keeps its reservations and
 * PR registrations) across sessions and restarts.
 */
export const generatedWwpn = derivedWwpn;

/** The lab's CHAP secrets for an initiator name, when its port has them. */
export function chapFor(lab: LabConfig, initiatorName: string): ChapConfig | undefined {
  for (const h of lab.hosts) for (const p of h.ports) if (p.iscsiNames.includes(initiatorName)) return p.chap;
  return undefined;
}

/** The WWPN the lab maps an iSCSI initiator name to, or undefined when the lab does not name it. */
export function mappedWwpn(lab: LabConfig, initiatorName: string): string | undefined {
  for (const h of lab.hosts) for (const p of h.ports) if (p.iscsiNames.includes(initiatorName)) return p.wwpn;
  return undefined;
}

/**
 * LUs an iSCSI initiator the lab does not name sees under "default-zone": exactly `iscsi.defaultLus`,
 * or every LU when the lab lists none (so libiscsi's tools work on a lab without setup). Masking
 * entries of other initiators do not narrow this set: the default zone is its own, explicit view.
 */
export function defaultZoneLus(lab: LabConfig, topo: Topology): LuInfo[] {
  const wanted = lab.iscsi.defaultLus;
  return wanted ? topo.lus.filter((l) => wanted.includes(l.name)) : [...topo.lus];
}
