/**
 * Turns a validated lab into a running one: the fabric with its name server logins and zones,
 * one TargetDevice per array and router with LUs attached and LUN masking set, disk images opened
 * (created, and filled by their content generator, on first use), the data mover with its own
 * initiator port, tape drives with their cartridges loaded. The LabRuntime it returns is what the
 * CLI, the iSCSI target, the management API and the backup server's demo share.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { exists } from './exists.js';
import path from 'node:path';
import { CopyManager, type CopyProgress } from '../copy-manager/copy-manager.js';
import { RemoteTarget } from '../remote/remote-target.js';
import { RoutedPort, remoteScope } from '../remote/remote-scope.js';
import { fabricScope } from '../copy-manager/fabric-scope.js';
import { FileStore, MemoryStore, type BlockStore } from '../devices/backing/index.js';
import { DataMover } from '../devices/data-mover.js';
import { DiskLu } from '../devices/disk/disk-lu.js';
import { TapeDrive, type TapeDriveStatus } from '../devices/tape/drive.js';
import { ChangerLu, INSTANT_TIMING, REALISTIC_TIMING } from '../devices/changer/changer-lu.js';
import { Inventory, type Placement } from '../devices/changer/inventory.js';
import { ElementType } from '../../src/scsi/smc.js';
import { libraryInquiry, libraryMap } from './library-map.js';
import { Fabric } from '../fabric/fabric.js';
import { InProcessPort } from '../fabric/in-process-port.js';
import { normalizeWwn } from '../fabric/wwn.js';
import type { LogicalUnit } from '../router/task.js';
import { TargetDevice } from '../router/target-device.js';
import { buildDefaultFatImage } from '../../src/fs/fat/default-volume.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { dataMoverIqn, type ArrayConfig, type DiskLuConfig, type HostConfig, type LabConfig, type LibraryConfig, type RouterConfig } from './config.js';
import { LabDirectory } from './directory.js';
import { DMSIM_VENDOR, luIdentity } from './identity.js';
import { resolveInDataDir, validateLab } from './schema.js';
import { defaultZoneLus, generatedWwpn, ISCSI_DEFAULT_ZONE, mappedWwpn, maskAllows, resolveTopology, type LuInfo, type PortInfo, type Topology } from './topology.js';
import { Vault } from './vault.js';
import { CowOrigin } from '../devices/snapshot/cow-origin.js';
import { SnapshotError, Snapshots, type SnapshotEntry } from './snapshots.js';

export interface BuildOptions {
  /** Where disk and cartridge images live (default ./data); created when missing. */
  dataDir?: string;
  log?: Logger;
  /**
   * The arrays and routers this process serves (`dmsim router --serve`); default all. The others
   * are reached as remote targets at their lab `portal` (or the one iSNS reports), with the same
   * IQNs, WWPNs, LUNs and designators as when one process serves everything.
   */
  served?: readonly string[];
}

/** One LU of the lab with the object that implements it. */
export interface LuEntry extends LuInfo {
  lu: LogicalUnit;
  /** Set for kind 'disk'. */
  disk?: DiskLu;
  /** Set for kind 'tape'. */
  drive?: TapeDrive;
  /** Set for kind 'data-mover'. */
  dataMover?: DataMover;
  /** Set for kind 'changer'. */
  changer?: ChangerLu;
}

/** What an LU is doing now, as plain JSON for the management API and reports. */
export type LuState =
  | { kind: 'disk'; blockSize: number; blocks: number; backing: string; image?: string; mappedBlocks: number; changedBlocks: number; readOnly: boolean }
  | ({ kind: 'tape' } & TapeDriveStatus)
  | { kind: 'data-mover'; copies: CopyProgress[] }
  | { kind: 'changer'; doorOpen: boolean; ioStationOpen: boolean; locked: boolean; elements: Array<{ address: number; type: number; barcode?: string; source?: number }> };

export interface DriveEntry {
  /** "router/drive" */
  name: string;
  router: string;
  bus: string;
  lun: number;
  drive: TapeDrive;
}

export interface LabRuntime {
  readonly config: LabConfig;
  /** Arrays and routers this process serves (all unless `--serve` said otherwise). */
  readonly served: ReadonlySet<string>;
  /** The data movers' sessions to targets elsewhere (the lab's remoteTargets, nodes served by other processes). */
  readonly remoteTargets: readonly RemoteTarget[];
  readonly topology: Topology;
  /** Absolute data directory. */
  readonly dataDir: string;
  readonly log: Logger;
  /** The TaskDispatcher (and TaskManagement) every front end hands tasks to. */
  readonly fabric: Fabric;
  /** What the iSCSI target asks about target nodes, initiator names and CHAP. */
  readonly directory: LabDirectory;
  readonly vault: Vault;
  /** Copy managers (one per router's data mover, one per array hosting copy-capable disk LUs). */
  readonly copyManagers: ReadonlyMap<string, CopyManager>;
  /** The arrays' snapshot provider (snapshot LUs are listed by lus() too, named "array/lu@set"). */
  readonly snapshots: Snapshots;
  devices(): TargetDevice[];
  device(name: string): TargetDevice | undefined;
  lus(): LuEntry[];
  /** By "device/lu". */
  lu(name: string): LuEntry | undefined;
  /** Current state of an LU ("device/lu"), undefined when there is no such LU. */
  state(name: string): LuState | undefined;
  drives(): DriveEntry[];
  /** By "router/drive". */
  drive(name: string): DriveEntry | undefined;
  hosts(): HostConfig[];
  /** Every port on the fabric: the lab's, copy managers' internal ports, admitted iSCSI initiators. */
  ports(): PortInfo[];
  /**
   * An in-process initiator port for a host port ("host/port", or "host" for its first port): the
   * backup server's transport and tests send commands through it as that host.
   */
  port(ref: string): InProcessPort;
  /**
   * The NDMP server's own initiator port on a router (created on first use): zoned with the
   * router's target ports and every target port the router's data mover may reach, seeing all
   * the router's LUs and what the data mover sees elsewhere. Reservations key on it, so an NDMP
   * session holding a drive excludes other initiators.
   */
  ndmpPort(router: string): InProcessPort;
  /**
   * Add a disk LU to an array (the same fields as a `lus[]` entry of the lab file). The new lab is
   * validated as a whole first (LabError with paths on problems); initiators that gain the LU get
   * UA 3Fh/0Eh REPORTED LUNS DATA HAS CHANGED.
   */
  addDisk(array: string, lu: unknown): Promise<LuEntry>;
  /** Detach a disk LU ("array/lu") and close its image (kept in the data directory unless deleteImage). */
  removeDisk(name: string, opts?: { deleteImage?: boolean }): Promise<void>;
  /** Define or replace a zone; members are port references or WWPNs. */
  setZone(name: string, members: string[]): void;
  deleteZone(name: string): void;
  /** Set (or with undefined, remove) the masking entry of an initiator port; UAs 3Fh/0Eh as views change. */
  setMasking(initiator: string, lus: string[] | undefined): void;
  /** Flush and close every medium (call after the front ends stopped). Idempotent. */
  close(): Promise<void>;
}

/** A change the running lab cannot make: an API answers 404 (not-found) or 409 (conflict). */
export class LabChangeError extends Error {
  constructor(
    message: string,
    readonly kind: 'not-found' | 'conflict',
  ) {
    super(message);
    this.name = 'LabChangeError';
  }
}

/** Internal initiator port of an array's copy manager: zoned with the array's own ports only. */
export const arrayCopyPortWwpn = (array: string): string => generatedWwpn(`dmsim-array-copy-manager:${array}`);

export async function buildLab(config: LabConfig, opts: BuildOptions = {}): Promise<LabRuntime> {
  const log = opts.log ?? silentLogger();
  const dataDir = path.resolve(opts.dataDir ?? 'data');
  await mkdir(dataDir, { recursive: true });
  const lab = new Lab(config, dataDir, log, opts.served);
  try {
    await lab.start();
  } catch (e) {
    await lab.close().catch(() => undefined);
    throw e;
  }
  return lab;
}

class Lab implements LabRuntime {
  readonly fabric: Fabric;
  readonly vault: Vault;
  readonly directory: LabDirectory;
  readonly copyManagers = new Map<string, CopyManager>();
  readonly snapshots: Snapshots;
  /** Copy-on-write wrappers of the disk LUs' stores, by "array/lu". */
  private readonly origins = new Map<string, CowOrigin>();
  private current: LabConfig;
  private topo: Topology;
  private readonly devs = new Map<string, TargetDevice>();
  private readonly entries = new Map<string, LuEntry>();
  private readonly driveEntries = new Map<string, DriveEntry>();
  private readonly inProcess = new Map<string, InProcessPort>();
  /** Every router data mover's sessions to the lab's remote targets. */
  readonly remoteTargets: RemoteTarget[] = [];
  private readonly extraPorts: PortInfo[] = [];
  /** Initiators whose view is not the lab's masking: admitted iSCSI initiators, array copy managers. */
  private readonly explicitViews = new Map<string, (device: string) => number[]>();
  private closed: Promise<void> | undefined;

  /** Arrays and routers built in this process; the rest are remote targets. */
  readonly served: ReadonlySet<string>;

  constructor(
    config: LabConfig,
    readonly dataDir: string,
    readonly log: Logger,
    served?: readonly string[],
  ) {
    this.current = config;
    this.served = new Set(served ?? [...config.arrays.map((a) => a.name), ...config.routers.map((r) => r.name)]);
    this.topo = resolveTopology(config);
    this.fabric = new Fabric({ defaultZone: config.fabric.defaultZone });
    this.vault = new Vault(dataDir, log.child({ part: 'vault' }));
    this.directory = new LabDirectory(config, this.topo, (wwpn, name) => this.admit(wwpn, name), this.served);
    this.snapshots = new Snapshots({
      dataDir,
      log: log.child({ part: 'snapshots' }),
      origin: (name) => {
        const cow = this.origins.get(name);
        const e = this.entries.get(name);
        const a = this.current.arrays.find((x) => x.name === e?.device);
        if (!cow || !e?.disk || !a) return undefined;
        return { disk: e.disk, cow, device: this.devs.get(a.name)!, array: a.name, wwnn: a.wwnn };
      },
      defaultMapTo: (array) => [...this.current.routers.map((r) => r.dataMover.initiator.wwpn), ...(this.copyManagers.has(array) ? [arrayCopyPortWwpn(array)] : [])],
      resolveInitiator: (ref) => this.initiatorWwpns(ref),
      attached: (s) => this.attachSnapshot(s),
      detached: (s) => {
        this.devs.get(s.array)?.detach(s.meta.lun);
        this.entries.delete(s.name);
      },
    });
  }

  get config(): LabConfig {
    return this.current;
  }

  get topology(): Topology {
    return this.topo;
  }

  async start(): Promise<void> {
    const { config, fabric, topo } = this;
    for (const [name, members] of topo.zones) fabric.zoning.setZone(name, members);
    for (const a of config.arrays) {
      if (!this.served.has(a.name)) continue;
      const dev = targetDevice(a.name, a.wwnn, a.ports, topo, 'VIRTUAL ARRAY');
      this.devs.set(a.name, dev);
      fabric.addDevice(dev);
      const cm = a.lus.some((l) => l.copyProfile) ? this.arrayCopyManager(a) : undefined;
      for (const l of a.lus) await this.attachDisk(a, l, cm);
    }
    for (const r of config.routers) {
      if (!this.served.has(r.name)) {
        // A data mover served elsewhere logs in here over iSCSI as its own lab port (zoning and masking apply to it).
        const dm = r.dataMover.initiator;
        fabric.loginInitiator({ wwpn: dm.wwpn, wwnn: r.wwnn, owner: `${r.name}/${r.dataMover.name}` });
        continue;
      }
      const dev = targetDevice(r.name, r.wwnn, r.ports, topo, 'FC-SCSI ROUTER');
      this.devs.set(r.name, dev);
      fabric.addDevice(dev);
      this.buildRouter(r, dev);
    }
    // Host ports log in at start, as HBAs do when their hosts boot; addresses follow lab order.
    for (const p of topo.ports) if (p.owner === 'host') fabric.loginInitiator({ wwpn: p.wwpn, wwnn: p.wwnn, owner: p.node });
    // iSCSI initiators the lab does not name get a zone of their own (members join on admission).
    const defaults = this.defaultLus();
    // Remote targets no zone names belong to the default zone too, so unknown initiators reach them as they reach local LUs.
    const unzonedRemotes = config.iscsi.unknownInitiators === 'default-zone' ? config.remoteTargets.filter((t) => !fabric.zoning.isZoned(t.wwpn)).map((t) => t.wwpn) : [];
    if (defaults.length || unzonedRemotes.length) fabric.zoning.setZone(ISCSI_DEFAULT_ZONE, [...new Set([...defaults.flatMap((l) => l.targetPorts), ...unzonedRemotes])]);
    this.applyMasking();
    for (const r of config.routers) {
      if (!this.served.has(r.name)) continue;
      for (const c of r.vault) await this.vault.add(r.name, c);
      // Library cartridges go where the library's persisted inventory says, not where the lab file first put them.
      for (const c of r.vault) if (c.loadedIn && c.library === undefined) await this.vault.load(c.barcode, `${r.name}/${c.loadedIn}`);
      for (const l of r.libraries) await this.attachLibrary(r, l);
    }
    await this.snapshots.start();
    this.log.info(
      { lab: config.name, dataDir: this.dataDir, devices: this.devs.size, lus: this.entries.size, cartridges: this.vault.list().length, ports: fabric.nameServer.entries.length },
      'lab built',
    );
  }

  // ------------------------------------------------------------------ accessors

  devices(): TargetDevice[] {
    return [...this.devs.values()];
  }
  device(name: string): TargetDevice | undefined {
    return this.devs.get(name);
  }
  lus(): LuEntry[] {
    return [...this.entries.values()];
  }
  lu(name: string): LuEntry | undefined {
    return this.entries.get(name);
  }
  drives(): DriveEntry[] {
    return [...this.driveEntries.values()];
  }
  state(name: string): LuState | undefined {
    const e = this.entries.get(name);
    if (!e) return undefined;
    if (e.disk) {
      const cfg = this.current.arrays.find((a) => a.name === e.device)?.lus.find((l) => `${e.device}/${l.name}` === name);
      const d = e.disk;
      return {
        kind: 'disk',
        blockSize: d.blockSize,
        blocks: d.blocks,
        backing: d.store.kind,
        ...(cfg?.image ? { image: cfg.image } : {}),
        mappedBlocks: d.mapped.count(),
        changedBlocks: d.changedBlockCount,
        readOnly: d.readOnly,
      };
    }
    if (e.drive) return { kind: 'tape', ...e.drive.status() };
    if (e.changer) {
      const ch = e.changer;
      return {
        kind: 'changer',
        doorOpen: ch.doorOpen,
        ioStationOpen: ch.ioStationOpen,
        locked: ch.locked,
        elements: ch.inventory.elements().map((x) => ({ address: x.address, type: x.type, ...(x.content ? { barcode: x.content.barcode, ...(x.content.source !== undefined ? { source: x.content.source } : {}) } : {}) })),
      };
    }
    const cm = this.copyManagers.get(e.device);
    return { kind: 'data-mover', copies: cm ? cm.progress().filter((p) => p.lu === name) : [] };
  }
  drive(name: string): DriveEntry | undefined {
    return this.driveEntries.get(name);
  }
  hosts(): HostConfig[] {
    return this.current.hosts;
  }
  ports(): PortInfo[] {
    return [...this.topo.ports, ...this.extraPorts];
  }

  port(ref: string): InProcessPort {
    const [node, portName] = ref.split('/');
    const host = this.current.hosts.find((h) => h.name === node);
    const hp = host && (portName ? host.ports.find((p) => p.name === portName) : host.ports[0]);
    if (!host || !hp) throw new LabChangeError(`no host port "${ref}" in the lab`, 'not-found');
    let p = this.inProcess.get(hp.wwpn);
    if (!p) {
      p = new InProcessPort(this.fabric, { wwpn: hp.wwpn, wwnn: host.wwnn, owner: host.name });
      this.inProcess.set(hp.wwpn, p);
    }
    return p;
  }

  ndmpPort(router: string): InProcessPort {
    const r = this.current.routers.find((x) => x.name === router);
    if (!r) throw new LabChangeError(`no router "${router}" in the lab`, 'not-found');
    const wwpn = generatedWwpn(`dmsim-ndmp:${r.name}`);
    let p = this.inProcess.get(wwpn);
    if (p) return p;
    p = new InProcessPort(this.fabric, { wwpn, wwnn: r.wwnn, owner: `${r.name}/ndmp` });
    this.inProcess.set(wwpn, p);
    const dmWwpn = normalizeWwn(r.dataMover.initiator.wwpn);
    const peers = new Set(r.ports.map((x) => normalizeWwn(x.wwpn)));
    for (const members of this.topo.zones.values()) if (members.has(dmWwpn)) for (const m of members) if (m !== dmWwpn) peers.add(m);
    this.fabric.zoning.setZone(`${r.name}-ndmp`, [wwpn, ...peers]);
    this.explicitViews.set(wwpn, (device) => {
      const own = this.topo.lus.filter((l) => l.device === device);
      if (device === r.name || !this.topo.maskedDevices.has(device)) return own.map((l) => l.lun);
      const seen = this.topo.masks.get(dmWwpn);
      return own.filter((l) => seen?.has(l.name)).map((l) => l.lun);
    });
    this.extraPorts.push({ ref: `${r.name}/ndmp`, node: r.name, name: 'ndmp', wwpn, wwnn: r.wwnn, role: 'initiator', owner: 'data-mover' });
    this.applyMasking();
    return p;
  }

  // ------------------------------------------------------------------ changes

  async addDisk(array: string, lu: unknown): Promise<LuEntry> {
    const ai = this.current.arrays.findIndex((a) => a.name === array);
    if (ai < 0) throw new LabChangeError(`no array "${array}"`, 'not-found');
    const next = this.revise((c) => c.arrays[ai]!.lus.push(lu as DiskLuConfig));
    const a = next.arrays[ai]!;
    const l = a.lus.at(-1)!;
    const name = `${array}/${l.name}`;
    const file = l.image ? resolveInDataDir(this.dataDir, l.image) : undefined;
    if (file && this.vault.list().some((c) => c.image === file)) throw new LabChangeError(`image "${l.image}" belongs to a cartridge`, 'conflict');
    const cm = this.copyManagers.get(array) ?? (l.copyProfile ? this.arrayCopyManager(a) : undefined);
    this.adopt(next);
    try {
      await this.attachDisk(a, l, cm);
    } catch (e) {
      this.adopt(this.without(name));
      throw e;
    }
    this.applyMasking();
    this.log.info({ lu: name, lun: l.lun, size: l.size }, 'disk LU added');
    return this.entries.get(name)!;
  }

  async removeDisk(name: string, opts: { deleteImage?: boolean } = {}): Promise<void> {
    const e = this.entries.get(name);
    if (!e) throw new LabChangeError(`no LU "${name}"`, 'not-found');
    if (e.kind !== 'disk' || !e.disk) throw new LabChangeError(`"${name}" is not a disk LU`, 'conflict');
    if (this.snapshots.get(name)) throw new LabChangeError(`"${name}" is a snapshot: delete it through the snapshot API`, 'conflict');
    if (this.snapshots.list().some((s) => s.origin === name)) throw new LabChangeError(`"${name}" has snapshots: delete them first`, 'conflict');
    const cfg = this.current.arrays.find((a) => a.name === e.device)!.lus.find((l) => `${e.device}/${l.name}` === name)!;
    this.devs.get(e.device)!.detach(e.lun);
    this.entries.delete(name);
    this.origins.delete(name);
    await e.disk.close();
    this.adopt(this.without(name));
    this.applyMasking();
    if (opts.deleteImage && cfg.image) await rm(resolveInDataDir(this.dataDir, cfg.image), { force: true });
    this.log.info({ lu: name, imageDeleted: !!opts.deleteImage }, 'disk LU removed');
  }

  setZone(name: string, members: string[]): void {
    this.reservedZone(name);
    const next = this.revise((c) => {
      const z = c.zones.find((x) => x.name === name);
      if (z) z.members = members;
      else c.zones.push({ name, members });
    });
    this.adopt(next);
    this.fabric.zoning.setZone(name, this.topo.zones.get(name)!);
    this.log.info({ zone: name, members }, 'zone set');
  }

  deleteZone(name: string): void {
    this.reservedZone(name);
    if (!this.current.zones.some((z) => z.name === name)) throw new LabChangeError(`no zone "${name}"`, 'not-found');
    this.adopt(this.revise((c) => void (c.zones = c.zones.filter((z) => z.name !== name))));
    this.fabric.zoning.deleteZone(name);
    this.log.info({ zone: name }, 'zone deleted');
  }

  setMasking(initiator: string, lus: string[] | undefined): void {
    const wwpnOf = (ref: string) => this.topo.ports.find((p) => p.ref === ref)?.wwpn ?? ref.replace(/:/g, '').toLowerCase();
    const w = wwpnOf(initiator);
    const next = this.revise((c) => {
      c.masking = c.masking.filter((m) => wwpnOf(m.initiator) !== w);
      if (lus) c.masking.push({ initiator, lus });
    });
    this.adopt(next);
    this.applyMasking();
    this.log.info({ initiator, lus }, 'LUN masking set');
  }

  close(): Promise<void> {
    return (this.closed ??= (async () => {
      // Copies still running (an in-process client, a copy whose session outlived the portal) are
      // aborted first, so nothing writes to an image while it is being closed.
      let running = 0;
      for (const [device, cm] of this.copyManagers) {
        for (const e of this.entries.values()) {
          if (e.device !== device) continue;
          running += cm.table.running(e.name).length;
          cm.luReset(e.name);
        }
      }
      if (running) {
        this.log.warn({ copies: running }, 'copies aborted by shutdown');
        await new Promise((r) => setTimeout(r, 50));
      }
      await Promise.all(this.remoteTargets.map((t) => t.close()));
      await this.vault.close();
      for (const e of this.entries.values()) if (e.disk) await e.disk.close();
      await this.snapshots.close();
      this.log.info('lab media flushed');
    })());
  }

  // ------------------------------------------------------------------ internals

  /** A copy of the current lab with `change` applied, validated as a whole (throws LabError). */
  private revise(change: (c: LabConfig) => void): LabConfig {
    const draft = structuredClone(this.current);
    change(draft);
    return validateLab(draft, 'lab change');
  }

  private adopt(next: LabConfig): void {
    this.current = next;
    this.topo = resolveTopology(next);
  }

  /** The current lab without LU `name` (and without references to it). */
  private without(name: string): LabConfig {
    return this.revise((c) => {
      for (const a of c.arrays) a.lus = a.lus.filter((l) => `${a.name}/${l.name}` !== name);
      for (const m of c.masking) m.lus = m.lus.filter((l) => l !== name);
      if (c.iscsi.defaultLus) c.iscsi.defaultLus = c.iscsi.defaultLus.filter((l) => l !== name);
    });
  }

  private reservedZone(name: string): void {
    if (name === ISCSI_DEFAULT_ZONE || this.current.arrays.some((a) => name === `${a.name}-copy-manager`)) {
      throw new LabChangeError(`zone "${name}" is managed by dmsim itself`, 'conflict');
    }
  }

  private defaultLus(): LuInfo[] {
    return this.current.iscsi.unknownInitiators === 'default-zone' ? defaultZoneLus(this.current, this.topo) : [];
  }

  /**
   * Give every known initiator port the view the lab says (topology.ts has the rule). Devices built
   * unmasked default to 'all', masked ones to 'none'; explicit maps cover every change since, and
   * TargetDevice raises UA 3Fh/0Eh wherever a view changes.
   */
  private applyMasking(): void {
    const initiators = new Set([...this.fabric.nameServer.entries.filter((e) => e.role === 'initiator').map((e) => e.wwpn), ...this.topo.masks.keys()]);
    for (const [name, dev] of this.devs) {
      const own = this.topo.lus.filter((l) => l.device === name);
      const lunsOf = (names: Iterable<string>) => own.filter((l) => [...names].includes(l.name)).map((l) => l.lun);
      for (const i of initiators) {
        const explicit = this.explicitViews.get(i);
        if (explicit) dev.setLunMap(i, explicit(name));
        else if (this.topo.maskedDevices.has(name)) dev.setLunMap(i, lunsOf(this.topo.masks.get(i) ?? []));
        else
          dev.setLunMap(
            i,
            dev.defaultAccess === 'all' ? undefined : own.map((l) => l.lun),
          );
      }
    }
  }

  private admit(wwpn: string, initiatorName: string): void {
    const wwnn = generatedWwpn(`node:${initiatorName}`);
    this.fabric.loginInitiator({ wwpn, wwnn, owner: initiatorName });
    this.fabric.zoning.addMember(ISCSI_DEFAULT_ZONE, wwpn);
    this.explicitViews.set(wwpn, (device) =>
      this.defaultLus()
        .filter((l) => l.device === device)
        .map((l) => l.lun),
    );
    this.extraPorts.push({ ref: `iscsi/${initiatorName}`, node: initiatorName, name: initiatorName, wwpn, wwnn, role: 'initiator', owner: 'iscsi-default' });
    this.applyMasking();
    this.log.info({ initiatorName, wwpn }, 'unknown iSCSI initiator admitted to the default zone');
  }

  /** An array's own copy manager: an internal initiator port zoned with the array's ports, seeing all its LUs. */
  private arrayCopyManager(a: ArrayConfig): CopyManager {
    const wwpn = arrayCopyPortWwpn(a.name);
    const port = new InProcessPort(this.fabric, { wwpn, wwnn: a.wwnn, owner: `${a.name}/copy-manager` });
    this.inProcess.set(wwpn, port);
    this.fabric.zoning.setZone(`${a.name}-copy-manager`, [wwpn, ...a.ports.map((p) => p.wwpn)]);
    this.explicitViews.set(wwpn, (device) => (device === a.name ? this.topo.lus.filter((l) => l.device === a.name).map((l) => l.lun) : []));
    this.extraPorts.push({ ref: `${a.name}/copy-manager`, node: a.name, name: 'copy-manager', wwpn, wwnn: a.wwnn, role: 'initiator', owner: 'array' });
    const cm = new CopyManager({ port, scope: fabricScope(this.fabric, wwpn), log: this.log.child({ part: 'copy-manager', name: a.name }) });
    this.copyManagers.set(a.name, cm);
    if (this.devs.size) this.applyMasking();
    return cm;
  }

  /** A snapshot LU joins its array, seen only by the initiators it was mapped to. */
  private attachSnapshot(s: SnapshotEntry): void {
    const dev = this.devs.get(s.array)!;
    dev.attachRestricted(s.meta.lun, s.disk, s.meta.mapTo, { aptplPath: path.join(this.dataDir, 'snapshots', `${s.meta.id}.aptpl.json`) });
    this.entries.set(s.name, { name: s.name, device: s.array, lun: s.meta.lun, kind: 'disk', targetPorts: dev.ports.map((p) => p.wwpn), lu: s.disk, disk: s.disk });
  }

  /** Initiator WWPNs for a reference: "host/port", "host" (all its ports), a WWPN, an iSCSI name. */
  private initiatorWwpns(ref: string): string[] {
    const byRef = this.ports().filter((p) => p.role === 'initiator' && (p.ref === ref || p.node === ref));
    if (byRef.length) return byRef.map((p) => p.wwpn);
    const hex = ref.replace(/:/g, '').toLowerCase();
    if (/^[0-9a-f]{16}$/.test(hex)) return [hex];
    if (/^(iqn\.|eui\.|naa\.)/i.test(ref)) return [mappedWwpn(this.current, ref) ?? generatedWwpn(ref)];
    throw new SnapshotError(`mapTo: no initiator "${ref}" (write "host/port", "host", a WWPN or an iSCSI name)`, 'not-found');
  }

  private async attachDisk(a: ArrayConfig, l: DiskLuConfig, cm: CopyManager | undefined): Promise<void> {
    const name = `${a.name}/${l.name}`;
    const disk = await openDisk(a, l, this.dataDir, cm, this.log);
    if (disk.store instanceof CowOrigin) this.origins.set(name, disk.store);
    try {
      this.devs.get(a.name)!.attach(l.lun, disk, { aptplPath: aptplPath(this.dataDir, name) });
    } catch (e) {
      await disk.close();
      throw e;
    }
    this.entries.set(name, { ...this.topo.lus.find((x) => x.name === name)!, lu: disk, disk });
  }

  /** A library's changer LU: inventory from the data directory (or the lab file at first start), drives loaded as it says. */
  private async attachLibrary(r: RouterConfig, l: LibraryConfig): Promise<void> {
    const name = `${r.name}/${l.name}`;
    const map = libraryMap(l);
    const dtOf = (drive: string) => map.dataTransfer.first + l.drives.indexOf(drive);
    const mine = r.vault.filter((c) => c.library === l.name);
    const initial = new Map<number, Placement>();
    const used = new Set<number>();
    for (const c of mine) {
      const a = c.loadedIn ? dtOf(c.loadedIn) : c.slot !== undefined ? map.storage.first + c.slot - 1 : undefined;
      if (a !== undefined) {
        initial.set(a, { barcode: c.barcode, ...(c.loadedIn && c.slot !== undefined ? { source: map.storage.first + c.slot - 1 } : {}) });
        used.add(a);
      }
    }
    for (const c of mine.filter((x) => !x.loadedIn && x.slot === undefined)) {
      let a = map.storage.first;
      while (used.has(a) || [...initial.values()].some((p) => p.source === a)) a++;
      if (a >= map.storage.first + map.storage.count) break;
      initial.set(a, { barcode: c.barcode });
      used.add(a);
    }
    const inventory = await Inventory.open(path.join(this.dataDir, `${name.replace('/', '.')}.elements.json`), map, initial, new Set(mine.map((c) => c.barcode)));
    const dev = this.devs.get(r.name)!;
    const timing = l.timing === 'instant' ? INSTANT_TIMING : l.timing === 'realistic' ? REALISTIC_TIMING : { ...REALISTIC_TIMING, ...l.timing };
    const log = this.log.child({ part: 'library', name });
    const changer = new ChangerLu(luIdentity('changer', name, r.wwnn, libraryInquiry(l)), {
      inventory,
      drives: l.drives.map((d) => {
        const e = this.driveEntries.get(`${r.name}/${d}`)!;
        return { drive: e.drive, lun: e.lun };
      }),
      loadCartridge: (barcode, drive) => this.vault.load(barcode, drive.identity.name),
      timing,
      strictUnload: l.strictUnload,
      onChange: (what) => log.info({ library: name }, what),
    });
    for (const e of inventory.elements()) {
      if (e.type !== ElementType.DATA_TRANSFER || !e.content) continue;
      const drive = `${r.name}/${l.drives[e.index]}`;
      if (!this.vault.drive(drive)?.cartridge) await this.vault.load(e.content.barcode, drive);
    }
    dev.attach(l.lun, changer, { aptplPath: aptplPath(this.dataDir, name) });
    this.entries.set(name, { ...this.topo.lus.find((x) => x.name === name)!, lu: changer, changer });
  }

  /** Target ports of arrays and routers another process serves, as remote targets of router r's data mover. */
  private labNodesElsewhere(r: RouterConfig): RemoteTarget[] {
    const out: RemoteTarget[] = [];
    for (const n of [...this.config.arrays, ...this.config.routers]) {
      if (this.served.has(n.name)) continue;
      const portal = n.portal ? hostPortOf(n.portal) : undefined;
      for (const p of n.ports)
        out.push(
          new RemoteTarget({
            name: `${n.name}/${p.name}`,
            ...(portal ? { portal } : {}),
            iqn: p.iqn,
            wwpn: p.wwpn,
            initiatorName: dataMoverIqn(r.name),
            luName: (lun) => this.topo.lus.find((l) => l.device === n.name && l.lun === lun)?.name,
            log: this.log.child({ part: 'remote', router: r.name }),
          }),
        );
    }
    return out;
  }

  /**
   * LUN masking for an LU of a lab node another process serves, judged here as that process would
   * (it judges again when the data mover logs in, but by the data mover's port, not the requester's).
   */
  private remoteLuVisible(requester: string, t: RemoteTarget, lun: number): boolean {
    const node = t.name.split('/')[0]!;
    const lu = this.topo.lus.find((l) => l.device === node && l.lun === lun);
    if (!lu) return true; // a remote target outside the lab: its own masking applies
    if (this.topo.ports.some((p) => p.wwpn === requester)) return maskAllows(this.topo, requester, lu);
    // An initiator admitted through the default zone sees the default-zone LUs.
    return this.defaultLus().some((l) => l.name === lu.name);
  }

  private buildRouter(r: RouterConfig, dev: TargetDevice): void {
    const dm = r.dataMover;
    const dmPort = new InProcessPort(this.fabric, { wwpn: dm.initiator.wwpn, wwnn: r.wwnn, owner: `${r.name}/${dm.name}` });
    this.inProcess.set(dmPort.wwpn, dmPort);
    // The data mover logs in to the lab's remote targets with its own iSCSI name (one session each).
    const remotes = this.config.remoteTargets.map((t) => {
      return new RemoteTarget({
        name: t.name,
        portal: hostPortOf(t.portal),
        iqn: t.iqn,
        wwpn: t.wwpn,
        initiatorName: dataMoverIqn(r.name),
        ...(t.chap ? { chap: { user: t.chap.user, secret: t.chap.secret, ...(t.chap.targetUser ? { targetUser: t.chap.targetUser, targetSecret: t.chap.targetSecret! } : {}) } } : {}),
        log: this.log.child({ part: 'remote', router: r.name }),
      });
    });
    remotes.push(...this.labNodesElsewhere(r));
    this.remoteTargets.push(...remotes);
    const local = fabricScope(this.fabric, dmPort.wwpn);
    const cm = new CopyManager({
      port: remotes.length ? new RoutedPort(dmPort, remotes) : dmPort,
      scope: remotes.length ? remoteScope(local, remotes, this.fabric.zoning, (who, t, lun) => this.remoteLuVisible(who, t, lun)) : local,
      log: this.log.child({ part: 'copy-manager', name: r.name }),
    });
    this.copyManagers.set(r.name, cm);
    const info = (name: string) => this.topo.lus.find((x) => x.name === name)!;
    const dmName = `${r.name}/${dm.name}`;
    const mover = new DataMover(luIdentity('data-mover', dmName, r.wwnn), cm, dm.copyProfile);
    dev.attach(dm.lun, mover);
    this.entries.set(dmName, { ...info(dmName), lu: mover, dataMover: mover });
    for (const b of r.buses) {
      for (const d of b.drives) {
        const name = `${r.name}/${d.name}`;
        const identity = luIdentity('tape', name, r.wwnn, d);
        // A library drive's serial fits the 10 characters of the DVCID identifier and is the same in VPD 80h (smc.md §4.4).
        if (r.libraries.some((l) => l.drives.includes(d.name))) identity.serial = identity.serial.slice(0, 10);
        const drive = new TapeDrive(identity, { onEject: (c) => this.vault.returned(c.barcode) });
        this.vault.registerDrive(r.name, d.name, drive);
        dev.attach(d.lun, drive, { aptplPath: aptplPath(this.dataDir, name) });
        this.entries.set(name, { ...info(name), lu: drive, drive });
        this.driveEntries.set(name, { name, router: r.name, bus: b.name, lun: d.lun, drive });
      }
    }
  }
}

/**
 * Persistent reservations with APTPL=1 live in a JSON file in the data directory, one per LU
 * ("device.lu.aptpl.json"), so they survive a restart (SPC-4 5.13.5) like the media beside them.
 */
const aptplPath = (dataDir: string, lu: string): string => path.join(dataDir, `${lu.replace('/', '.')}.aptpl.json`);

function targetDevice(name: string, wwnn: string, ports: Array<{ wwpn: string }>, topo: Topology, product: string): TargetDevice {
  return new TargetDevice({
    name,
    wwnn,
    ports: ports.map((p) => ({ wwpn: p.wwpn })),
    defaultAccess: topo.maskedDevices.has(name) ? 'none' : 'all',
    vendor: DMSIM_VENDOR,
    product,
  });
}

async function openDisk(a: ArrayConfig, l: DiskLuConfig, dataDir: string, cm: CopyManager | undefined, log: Logger): Promise<DiskLu> {
  const name = `${a.name}/${l.name}`;
  let store: BlockStore;
  if (l.backing === 'memory') {
    store = new MemoryStore(l.size);
    if (l.content) await fill(store, l, log, name);
  } else {
    const file = resolveInDataDir(dataDir, l.image!);
    if (l.content && !(await exists(file))) {
      // Generate beside the image and rename: a start killed half-way leaves no half-filled disk.
      const tmp = `${file}.generating`;
      const fresh = await FileStore.open(tmp, { size: l.size });
      try {
        await fill(fresh, l, log, name);
        await fresh.flush();
      } finally {
        await fresh.close();
      }
      await rename(tmp, file);
    }
    store = await FileStore.open(file, { size: l.size });
  }
  // Copy-on-write for snapshots: with none taken a write is a plain call to the image's store.
  store = new CowOrigin(store);
  return new DiskLu({
    identity: luIdentity('disk', name, a.wwnn, l),
    store,
    blockSize: l.blockSize,
    removable: l.removable,
    physicalBlockExponent: l.physicalBlockExponent,
    ...(cm && l.copyProfile ? { copyManager: { manager: cm, profile: l.copyProfile } } : {}),
  });
}

const FILL_CHUNK = 64 * 1024;
const ZERO_CHUNK = Buffer.alloc(FILL_CHUNK);

/** Write a generated image into a new store, skipping all-zero chunks so files stay sparse. */
async function fill(store: BlockStore, l: DiskLuConfig, log: Logger, name: string): Promise<void> {
  const t0 = performance.now();
  const image = buildDefaultFatImage(l.size);
  let written = 0;
  for (let off = 0; off < image.length; off += FILL_CHUNK) {
    const chunk = image.subarray(off, Math.min(off + FILL_CHUNK, image.length));
    if (chunk.length === FILL_CHUNK && chunk.equals(ZERO_CHUNK)) continue;
    await store.write(off, chunk);
    written += chunk.length;
  }
  log.info({ lu: name, generator: `fat:${l.content!.fat}`, bytes: written, ms: Math.round(performance.now() - t0) }, 'disk image generated');
}

/** "host:port" / "[v6]:port" of a validated lab portal. */
function hostPortOf(portal: string): { host: string; port: number } {
  const [, host, port] = /^\[?(.*?)\]?:(\d+)$/.exec(portal)!;
  return { host: host!, port: Number(port) };
}
