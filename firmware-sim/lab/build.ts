/**
 * Turns a validated lab into a running one: the fabric with its name server logins and zones,
 * one TargetDevice per array and router with LUs attached and LUN masking set, disk images opened
 * (created, and filled by their content generator, on first use), the data mover with its own
 * initiator port, tape drives with their cartridges loaded. The LabRuntime it returns is what the
 * CLI, the iSCSI target, the management API and the backup server's demo share.
 */
import { access } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { CopyManager } from '../copy-manager/copy-manager.js';
import { copyManagerCommands } from '../copy-manager/commands.js';
import { fabricScope } from '../copy-manager/fabric-scope.js';
import { FileStore, MemoryStore, type BlockStore } from '../devices/backing/index.js';
import { DataMover } from '../devices/data-mover.js';
import { DiskLu } from '../devices/disk/disk-lu.js';
import { TapeDrive } from '../devices/tape/drive.js';
import { Fabric } from '../fabric/fabric.js';
import { InProcessPort } from '../fabric/in-process-port.js';
import type { LogicalUnit } from '../router/task.js';
import { TargetDevice } from '../router/target-device.js';
import { buildDefaultFatImage } from '../../fixtures/make-fat.js';
import { silentLogger, type Logger } from '../../src/log.js';
import type { ArrayConfig, DiskLuConfig, HostConfig, LabConfig, RouterConfig } from './config.js';
import { LabDirectory } from './directory.js';
import { DMSIM_VENDOR, luIdentity } from './identity.js';
import { resolveInDataDir } from './schema.js';
import { defaultZoneLus, generatedWwpn, ISCSI_DEFAULT_ZONE, resolveTopology, type LuInfo, type PortInfo, type Topology } from './topology.js';
import { Vault } from './vault.js';

export interface BuildOptions {
  /** Where disk and cartridge images live (default ./data); created when missing. */
  dataDir?: string;
  log?: Logger;
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
}

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
  devices(): TargetDevice[];
  device(name: string): TargetDevice | undefined;
  lus(): LuEntry[];
  /** By "device/lu". */
  lu(name: string): LuEntry | undefined;
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
  /** Flush and close every medium (call after the front ends stopped). Idempotent. */
  close(): Promise<void>;
}

/** Internal initiator port of an array's copy manager: zoned with the array's own ports only. */
export const arrayCopyPortWwpn = (array: string): string => generatedWwpn(`dmsim-array-copy-manager:${array}`);

export async function buildLab(config: LabConfig, opts: BuildOptions = {}): Promise<LabRuntime> {
  const log = opts.log ?? silentLogger();
  const dataDir = path.resolve(opts.dataDir ?? 'data');
  await mkdir(dataDir, { recursive: true });
  const topology = resolveTopology(config);
  const fabric = new Fabric({ defaultZone: config.fabric.defaultZone });
  const vault = new Vault(dataDir, log.child({ part: 'vault' }));
  const devices = new Map<string, TargetDevice>();
  const entries = new Map<string, LuEntry>();
  const drives = new Map<string, DriveEntry>();
  const copyManagers = new Map<string, CopyManager>();
  const inProcess = new Map<string, InProcessPort>();
  const extraPorts: PortInfo[] = [];
  const disks: DiskLu[] = [];
  const luInfo = new Map(topology.lus.map((l) => [l.name, l]));
  let closed: Promise<void> | undefined;

  const close = () =>
    (closed ??= (async () => {
      await vault.close();
      for (const d of disks) await d.close();
      log.info('lab media flushed');
    })());

  try {
    for (const [name, members] of topology.zones) fabric.zoning.setZone(name, members);

    for (const a of config.arrays) {
      const dev = targetDevice(a.name, a.wwnn, a.ports, topology, 'VIRTUAL ARRAY');
      devices.set(a.name, dev);
      fabric.addDevice(dev);
      const needsCm = a.lus.some((l) => l.copyProfile);
      const cm = needsCm ? arrayCopyManager(a, fabric, dev, inProcess, extraPorts) : undefined;
      if (cm) copyManagers.set(a.name, cm);
      for (const l of a.lus) {
        const name = `${a.name}/${l.name}`;
        const disk = await openDisk(a, l, dataDir, cm, log);
        disks.push(disk);
        dev.attach(l.lun, disk);
        entries.set(name, { ...luInfo.get(name)!, lu: disk, disk });
      }
    }

    for (const r of config.routers) {
      const dev = targetDevice(r.name, r.wwnn, r.ports, topology, 'FC-SCSI ROUTER');
      devices.set(r.name, dev);
      fabric.addDevice(dev);
      buildRouter(r, dev);
    }

    // Host ports log in at start, as HBAs do when their hosts boot; addresses follow lab order.
    for (const p of topology.ports) if (p.owner === 'host') fabric.loginInitiator({ wwpn: p.wwpn, wwnn: p.wwnn, owner: p.node });

    // LUN masking (see topology.ts for the rule): masked devices start closed, then open per entry.
    for (const [initiator, lus] of topology.masks) {
      for (const [name, dev] of devices) {
        if (!topology.maskedDevices.has(name)) continue;
        const luns = [...lus].map((l) => luInfo.get(l)!).filter((l) => l.device === name).map((l) => l.lun);
        dev.setLunMap(initiator, luns);
      }
    }

    for (const r of config.routers) {
      for (const c of r.vault) await vault.add(r.name, c);
      for (const c of r.vault) if (c.loadedIn) await vault.load(c.barcode, `${r.name}/${c.loadedIn}`);
    }
  } catch (e) {
    await close().catch(() => undefined);
    throw e;
  }

  // iSCSI initiators the lab does not name: a zone of their own that sees exactly the default LUs.
  const defaults = config.iscsi.unknownInitiators === 'default-zone' ? defaultZoneLus(config, topology) : [];
  if (defaults.length) {
    fabric.zoning.setZone(ISCSI_DEFAULT_ZONE, [...new Set(defaults.flatMap((l) => l.targetPorts))]);
  }
  const directory = new LabDirectory(config, topology, (wwpn, initiatorName) => {
    fabric.loginInitiator({ wwpn, wwnn: generatedWwpn(`node:${initiatorName}`), owner: initiatorName });
    fabric.zoning.addMember(ISCSI_DEFAULT_ZONE, wwpn);
    for (const [name, dev] of devices) {
      dev.setLunMap(
        wwpn,
        defaults.filter((l) => l.device === name).map((l) => l.lun),
      );
    }
    extraPorts.push({ ref: `iscsi/${initiatorName}`, node: initiatorName, name: initiatorName, wwpn, wwnn: generatedWwpn(`node:${initiatorName}`), role: 'initiator', owner: 'iscsi-default' });
    log.info({ initiatorName, wwpn }, 'unknown iSCSI initiator admitted to the default zone');
  });

  log.info(
    { lab: config.name, dataDir, devices: devices.size, lus: entries.size, cartridges: vault.list().length, ports: fabric.nameServer.entries.length },
    'lab built',
  );

  return {
    config,
    topology,
    dataDir,
    log,
    fabric,
    directory,
    vault,
    copyManagers,
    devices: () => [...devices.values()],
    device: (name) => devices.get(name),
    lus: () => [...entries.values()],
    lu: (name) => entries.get(name),
    drives: () => [...drives.values()],
    drive: (name) => drives.get(name),
    hosts: () => config.hosts,
    ports: () => [...topology.ports, ...extraPorts],
    port(ref: string): InProcessPort {
      const [node, portName] = ref.split('/');
      const host = config.hosts.find((h) => h.name === node);
      const hp = host && (portName ? host.ports.find((p) => p.name === portName) : host.ports[0]);
      if (!host || !hp) throw new Error(`no host port "${ref}" in the lab`);
      let p = inProcess.get(hp.wwpn);
      if (!p) {
        p = new InProcessPort(fabric, { wwpn: hp.wwpn, wwnn: host.wwnn, owner: host.name });
        inProcess.set(hp.wwpn, p);
      }
      return p;
    },
    close,
  };

  function buildRouter(r: RouterConfig, dev: TargetDevice): void {
    const dm = r.dataMover;
    const dmPort = new InProcessPort(fabric, { wwpn: dm.initiator.wwpn, wwnn: r.wwnn, owner: `${r.name}/${dm.name}` });
    inProcess.set(dmPort.wwpn, dmPort);
    const cm = new CopyManager({ port: dmPort, scope: fabricScope(fabric, dmPort.wwpn) });
    copyManagers.set(r.name, cm);
    const dmName = `${r.name}/${dm.name}`;
    const mover = new DataMover(luIdentity('data-mover', dmName, r.wwnn), cm, dm.copyProfile);
    dev.attach(dm.lun, mover);
    entries.set(dmName, { ...luInfo.get(dmName)!, lu: mover, dataMover: mover });
    for (const b of r.buses) {
      for (const d of b.drives) {
        const name = `${r.name}/${d.name}`;
        const drive = new TapeDrive(luIdentity('tape', name, r.wwnn, d), { onEject: (c) => vault.returned(c.barcode) });
        vault.registerDrive(r.name, d.name, drive);
        dev.attach(d.lun, drive);
        entries.set(name, { ...luInfo.get(name)!, lu: drive, drive });
        drives.set(name, { name, router: r.name, bus: b.name, lun: d.lun, drive });
      }
    }
  }
}

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

/** An array's own copy manager: an internal initiator port zoned with the array's ports, seeing all its LUs. */
function arrayCopyManager(a: ArrayConfig, fabric: Fabric, dev: TargetDevice, inProcess: Map<string, InProcessPort>, extraPorts: PortInfo[]): CopyManager {
  const wwpn = arrayCopyPortWwpn(a.name);
  const port = new InProcessPort(fabric, { wwpn, wwnn: a.wwnn, owner: `${a.name}/copy-manager` });
  inProcess.set(wwpn, port);
  fabric.zoning.setZone(`${a.name}-copy-manager`, [wwpn, ...a.ports.map((p) => p.wwpn)]);
  dev.setLunMap(
    wwpn,
    a.lus.map((l) => l.lun),
  );
  extraPorts.push({ ref: `${a.name}/copy-manager`, node: a.name, name: 'copy-manager', wwpn, wwnn: a.wwnn, role: 'initiator', owner: 'array' });
  return new CopyManager({ port, scope: fabricScope(fabric, wwpn) });
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
      const fresh = await FileStore.open(file, { size: l.size });
      try {
        await fill(fresh, l, log, name);
        await fresh.flush();
      } finally {
        await fresh.close();
      }
    }
    store = await FileStore.open(file, { size: l.size });
  }
  return new DiskLu({
    identity: luIdentity('disk', name, a.wwnn, l),
    store,
    blockSize: l.blockSize,
    ...(cm && l.copyProfile ? { extraCommands: copyManagerCommands(cm, l.copyProfile) as never } : {}),
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

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}
