/**
 * The virtual FC fabric: name server, zoning, and the target devices (arrays, routers) logged
 * into it. As a TaskDispatcher it routes a task to the device owning nexus.targetPort, but only
 * when zoning lets the initiator port reach that target port; otherwise dispatch rejects with
 * UnreachableError (an FC initiator outside the zone could not even PLOGI the port, so there is
 * no SCSI answer to give). LUN masking is the device's business (TargetDevice).
 *
 * Lookups for the copy manager are always scoped to one initiator port: what *that* port reaches
 * through zoning and masking, never the whole fabric, so a copy can only touch LUs its requester's
 * data mover port may touch (the CVE-2020-28374 class of bug: global designator lookup).
 */
import { UnreachableError, type TaskDispatcher, type TaskManagement } from '../router/dispatch.js';
import type { ITNexus, LogicalUnit, ScsiResult, ScsiTask } from '../router/task.js';
import type { TargetDevice } from '../router/target-device.js';
import { NameServer, type PortEntry } from './name-server.js';
import { NPortId } from './port-id.js';
import { Zoning, type DefaultZonePolicy } from './zoning.js';
import { normalizeWwn } from './wwn.js';

export interface ReachableLu {
  /** Target port WWPN the LU is reached through. */
  targetPort: string;
  portId: NPortId;
  device: TargetDevice;
  /** LUN as this initiator sees it through that port (masking applied). */
  lun: number;
  lu: LogicalUnit;
}

/** Observer of completed tasks: the task, its result and the time it took in nanoseconds. */
export type TaskTap = (task: ScsiTask, result: ScsiResult, ns: number) => void;

export interface FabricOptions {
  defaultZone?: DefaultZonePolicy;
  domain?: number;
}

export class Fabric implements TaskDispatcher, TaskManagement {
  readonly nameServer: NameServer;
  readonly zoning: Zoning;
  private readonly devices = new Map<string, TargetDevice>();
  private readonly taps = new Set<TaskTap>();
  private readonly downPorts = new Set<string>();

  constructor(opts: FabricOptions = {}) {
    this.nameServer = new NameServer(opts.domain);
    this.zoning = new Zoning(opts.defaultZone ?? 'no-access');
  }

  /** Log a target device's ports into the fabric. */
  addDevice(device: TargetDevice, owner = device.name): void {
    for (const p of device.ports) {
      this.nameServer.login({ wwpn: p.wwpn, wwnn: device.wwnn, role: 'target', owner });
      this.devices.set(p.wwpn, device);
    }
  }

  removeDevice(device: TargetDevice): void {
    for (const p of device.ports) {
      if (this.devices.get(p.wwpn) !== device) continue;
      this.devices.delete(p.wwpn);
      this.nameServer.logout(p.wwpn);
    }
  }

  /** Log an initiator port in (hosts, the data mover's port, in-process ports). */
  loginInitiator(p: { wwpn: string; wwnn: string; owner?: string }): PortEntry {
    return this.nameServer.login({ ...p, role: 'initiator' });
  }

  deviceAt(targetPort: string): TargetDevice | undefined {
    return this.devices.get(normalizeWwn(targetPort));
  }

  /** The target device a nexus leads to (its ports are already normalized: no parsing per command). */
  deviceOf(nexus: ITNexus): TargetDevice | undefined {
    return this.devices.get(nexus.targetPort);
  }

  get targetDevices(): TargetDevice[] {
    return [...new Set(this.devices.values())];
  }

  /** Can this initiator port open a nexus to this target port (port known + zoned)? */
  canReach(initiator: string, targetPort: string): boolean {
    return this.devices.has(normalizeWwn(targetPort)) && this.zoning.canTalk(initiator, targetPort);
  }

  /**
   * Watch every completed task (metrics, dashboards). Returns the unsubscribe function. With no
   * tap registered, dispatch does no timing work at all.
   */
  onTask(tap: TaskTap): () => void {
    this.taps.add(tap);
    return () => this.taps.delete(tap);
  }

  /** Emulate a link failure of a port (either role): nexuses through it become unreachable. */
  setLinkDown(wwpn: string, down: boolean): void {
    if (down) this.downPorts.add(normalizeWwn(wwpn));
    else this.downPorts.delete(normalizeWwn(wwpn));
  }

  get linksDown(): string[] {
    return [...this.downPorts];
  }

  private reach(nexus: ITNexus): TargetDevice {
    const dev = this.devices.get(nexus.targetPort);
    if (!dev) throw new UnreachableError(nexus.initiatorPort, nexus.targetPort, 'no such target port on the fabric');
    if (this.downPorts.size && (this.downPorts.has(nexus.targetPort) || this.downPorts.has(nexus.initiatorPort)))
      throw new UnreachableError(nexus.initiatorPort, nexus.targetPort, 'link down');
    if (!this.zoning.canTalk(nexus.initiatorPort, nexus.targetPort)) throw new UnreachableError(nexus.initiatorPort, nexus.targetPort);
    return dev;
  }

  // ------------------------------------------------------------------ TaskDispatcher

  dispatch(task: ScsiTask): Promise<ScsiResult> {
    let p: Promise<ScsiResult>;
    try {
      p = this.reach(task.nexus).dispatch(task);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!this.taps.size) return p;
    const started = process.hrtime.bigint();
    return p.then((r) => {
      const ns = Number(process.hrtime.bigint() - started);
      for (const t of this.taps) t(task, r, ns);
      return r;
    });
  }

  async lunReset(nexus: ITNexus, lun: number): Promise<void> {
    await this.reach(nexus).lunReset(nexus, lun);
  }

  async targetReset(nexus: ITNexus, cold: boolean): Promise<void> {
    await this.reach(nexus).targetReset(nexus, cold);
  }

  nexusLost(nexus: ITNexus): void {
    this.devices.get(nexus.targetPort)?.nexusLost(nexus);
  }

  async abortTask(nexus: ITNexus, lun: number, tag: number): Promise<boolean> {
    return this.reach(nexus).abortTask(nexus, lun, tag);
  }

  async abortTaskSet(nexus: ITNexus, lun: number): Promise<boolean> {
    return this.reach(nexus).abortTaskSet(nexus, lun);
  }

  async clearTaskSet(nexus: ITNexus, lun: number): Promise<boolean> {
    return this.reach(nexus).clearTaskSet(nexus, lun);
  }

  // ------------------------------------------------------------------ scoped lookups

  /** Target ports this initiator port can reach, in name server order. */
  reachableTargets(initiator: string): PortEntry[] {
    const i = normalizeWwn(initiator);
    return this.nameServer.entries.filter((e) => e.role === 'target' && this.canReach(i, e.wwpn));
  }

  /** Every (target port, LUN) this initiator port can address, zoning and masking applied. */
  reachableLus(initiator: string): ReachableLu[] {
    const i = normalizeWwn(initiator);
    const out: ReachableLu[] = [];
    for (const t of this.reachableTargets(i)) {
      const device = this.devices.get(t.wwpn)!;
      for (const [lun, lu] of device.visibleLus(i)) out.push({ targetPort: t.wwpn, portId: t.portId, device, lun, lu });
    }
    return out;
  }

  /** The LU at `lun` behind the target port with this port name, if this initiator reaches it. */
  byPortName(initiator: string, targetPort: string, lun: number): ReachableLu | undefined {
    const tp = normalizeWwn(targetPort);
    return this.reachableLus(initiator).find((r) => r.targetPort === tp && r.lun === lun);
  }

  /** The LU at `lun` behind the target port with this N_Port_ID, if this initiator reaches it. */
  byPortId(initiator: string, portId: NPortId | number, lun: number): ReachableLu | undefined {
    const id = typeof portId === 'number' ? portId : portId.value;
    return this.reachableLus(initiator).find((r) => r.portId.value === id && r.lun === lun);
  }

  /**
   * LUs whose LU designator (identity.naa, the VPD 83h NAA designator) equals `designator`, among
   * those this initiator reaches; one entry per path (target port) it reaches the LU through.
   */
  byDesignator(initiator: string, designator: Buffer): ReachableLu[] {
    return this.reachableLus(initiator).filter((r) => r.lu.identity.naa.equals(designator));
  }
}
