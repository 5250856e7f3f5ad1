/**
 * A small fabric for copy-manager tests: target ports with LUN maps, the data mover's initiator
 * port dispatching straight to the LUs (so the LUs see the data mover's own nexus), a scope that
 * can be narrowed per test, and a minimal SBC disk built on ScsiLogicalUnit (until the real disk
 * LU lands). Tapes are the real TapeDrive on real .tap cartridges.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sense, decodeSense, type SenseInfo } from '../../src/scsi/sense.js';
import { encodeParameterList, encodeXcopyCdb, type XcopyParameterList, type CscdDescriptor } from '../../src/scsi/xcopy.js';
import { encodeRcrCdb } from '../../src/scsi/receive-copy-results.js';
import { makeNexus, type ITNexus, type LogicalUnit, type LuIdentity, type ScsiResult } from '../../firmware-sim/router/task.js';
import { ScsiLogicalUnit, type CommandDef, type CommandContext } from '../../firmware-sim/lu/logical-unit.js';
import { TapeDrive } from '../../firmware-sim/devices/tape/drive.js';
import { Cartridge } from '../../firmware-sim/devices/tape/cartridge.js';
import { DataMover } from '../../firmware-sim/devices/data-mover.js';
import { CopyManager, type CopyManagerOptions } from '../../firmware-sim/copy-manager/copy-manager.js';
import { copyManagerCommands, vpd8F } from '../../firmware-sim/copy-manager/commands.js';
import type { CommandOptions, CscdCandidate, CscdScope, InitiatorPort } from '../../firmware-sim/copy-manager/environment.js';
import type { CopyProfileName } from '../../firmware-sim/copy-manager/profile.js';

export const DM_WWPN = '2100000000dm0001'.replace('dm', 'dd');
export const SERVER = makeNexus('21000024ff000001', '50000000000000a1');
export const OTHER = makeNexus('21000024ff000002', '50000000000000a1');
export const ARRAY_PORT = '5000000000000a01';
export const ROUTER_PORT = '5000000000000b01';

export function identity(name: string, deviceType: number, n: number): LuIdentity {
  const naa = Buffer.from('6002d5a0000000000000000000000000', 'hex');
  naa.writeUInt32BE(n, 12);
  return { deviceType, vendor: 'DMSIM', product: 'TEST', revision: '0001', serial: `S${n}`, naa, name };
}

export function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed * 7 + (i >> 9)) & 0xff;
  return b;
}

// ---------------------------------------------------------------- minimal SBC disk

type DiskCtx = CommandContext<TestDisk>;

const diskCommands: CommandDef<TestDisk>[] = [
  { opcode: 0x00, name: 'TEST UNIT READY', cdbLength: 6, rsv: 'other', handler: () => undefined },
  {
    opcode: 0x9e,
    serviceAction: 0x10,
    name: 'READ CAPACITY(16)',
    cdbLength: 16,
    rsv: 'always',
    handler: ({ lu }: DiskCtx) => {
      const b = Buffer.alloc(32);
      b.writeBigUInt64BE(BigInt(lu.blocks - 1), 0);
      b.writeUInt32BE(lu.blockLength, 8);
      return b;
    },
  },
  {
    opcode: 0x88,
    name: 'READ(16)',
    cdbLength: 16,
    rsv: 'read',
    handler: async ({ lu, cdb }: DiskCtx) => {
      const lba = Number(cdb.readBigUInt64BE(2));
      const n = cdb.readUInt32BE(10);
      if (lba + n > lu.blocks) throw Sense.lbaOutOfRange();
      await lu.gate;
      for (let i = lba; i < lba + n; i++) if (lu.badBlocks.has(i)) throw Sense.unrecoveredReadError(i);
      lu.reads++;
      return Buffer.from(lu.data.subarray(lba * lu.blockLength, (lba + n) * lu.blockLength));
    },
  },
  {
    opcode: 0x8a,
    name: 'WRITE(16)',
    cdbLength: 16,
    rsv: 'write',
    handler: ({ lu, cdb, task }: DiskCtx) => {
      const lba = Number(cdb.readBigUInt64BE(2));
      const n = cdb.readUInt32BE(10);
      if (lba + n > lu.blocks) throw Sense.lbaOutOfRange();
      for (let i = lba; i < lba + n; i++) if (lu.badBlocks.has(i)) throw Sense.writeError(i);
      task.dataOut!.copy(lu.data, lba * lu.blockLength, 0, n * lu.blockLength);
      lu.writes++;
      return undefined;
    },
  },
];

export class TestDisk extends ScsiLogicalUnit {
  readonly data: Buffer;
  readonly badBlocks = new Set<number>();
  /** READs wait for this (tests hold a copy mid-flight). */
  gate: Promise<void> = Promise.resolve();
  reads = 0;
  writes = 0;

  constructor(
    identity: LuIdentity,
    readonly blocks: number,
    readonly blockLength = 512,
    extra: CommandDef[] = [],
    private readonly vpd: Map<number, () => Buffer> = new Map(),
  ) {
    super(identity, [...diskCommands, ...extra] as CommandDef[] as never);
    this.data = Buffer.alloc(blocks * blockLength);
  }

  override inquiryFlags() {
    return { threePC: true };
  }

  override extraVpdPages(): Map<number, () => Buffer> {
    return this.vpd;
  }
}

// ---------------------------------------------------------------- fabric

interface Target {
  nportId: number;
  luns: Map<number, LogicalUnit>;
}

export class MiniFabric implements CscdScope {
  readonly targets = new Map<string, Target>();
  /** Which LUs the application client may access (default: all). */
  appMay: (nexus: ITNexus, lu: LogicalUnit) => boolean = () => true;
  /** Which (target port, LUN) the data mover's port may reach (default: all). */
  dmMay: (targetPort: string, lun: number) => boolean = () => true;
  /** Bytes that crossed each initiator port (data-out + data-in). */
  readonly bytesByInitiator = new Map<string, number>();
  readonly dmCommands: Buffer[] = [];

  addTarget(wwpn: string, nportId: number): void {
    this.targets.set(wwpn, { nportId, luns: new Map() });
  }

  map(wwpn: string, lun: number, lu: LogicalUnit): void {
    this.targets.get(wwpn)!.luns.set(lun, lu);
  }

  candidates(appClient: ITNexus): CscdCandidate[] {
    const out: CscdCandidate[] = [];
    for (const [targetPort, t] of this.targets)
      for (const [lun, lu] of t.luns) if (this.dmMay(targetPort, lun) && this.appMay(appClient, lu)) out.push({ targetPort, nportId: t.nportId, lun, identity: lu.identity });
    return out;
  }

  count(initiator: string, n: number): void {
    this.bytesByInitiator.set(initiator, (this.bytesByInitiator.get(initiator) ?? 0) + n);
  }

  /** An initiator port: dispatch to the LU behind (targetPort, lun) with this port's nexus. */
  port(wwpn: string): InitiatorPort {
    return {
      wwpn,
      command: async (targetWwpn: string, lun: number, cdb: Buffer, opts: CommandOptions = {}): Promise<ScsiResult> => {
        const lu = this.targets.get(targetWwpn)?.luns.get(lun);
        if (!lu || (wwpn === DM_WWPN && !this.dmMay(targetWwpn, lun))) throw new Error(`no LU ${targetWwpn}/${lun}`);
        if (wwpn === DM_WWPN) this.dmCommands.push(cdb);
        this.count(wwpn, opts.dataOut?.length ?? 0);
        const r = await lu.execute({ nexus: makeNexus(wwpn, targetWwpn), lun, cdb, dataOut: opts.dataOut, dataInLength: opts.dataInLength ?? 0, signal: opts.signal, dataInBuffers: opts.dataInBuffers });
        const dataIn = r.dataIn && opts.dataInLength !== undefined ? r.dataIn.subarray(0, opts.dataInLength) : r.dataIn;
        this.count(wwpn, dataIn?.length ?? 0);
        return { ...r, ...(dataIn ? { dataIn } : {}) };
      },
    };
  }
}

// ---------------------------------------------------------------- a lab: array with disks, router with data mover and tapes

export interface Lab {
  fabric: MiniFabric;
  cm: CopyManager;
  dm: DataMover;
  disks: TestDisk[];
  tapes: Array<{ drive: TapeDrive; cart: Cartridge; path: string }>;
  dir: string;
  done(): Promise<void>;
}

export async function makeLab(o: { disks?: Array<{ blocks: number; blockLength?: number; profile?: CopyProfileName }>; tapes?: number; tapeCapacity?: number; tapeEarlyWarning?: number; cm?: Partial<CopyManagerOptions> } = {}): Promise<Lab> {
  const dir = mkdtempSync(join(tmpdir(), 'dmsim-xcopy-'));
  const fabric = new MiniFabric();
  fabric.addTarget(ARRAY_PORT, 0x010100);
  fabric.addTarget(ROUTER_PORT, 0x010200);
  const cm = new CopyManager({ port: fabric.port(DM_WWPN), scope: fabric, chunkBytes: 64 * 1024, ...o.cm });
  const dm = new DataMover(identity('router1/dm', 0x0c, 100), cm);
  fabric.map(ROUTER_PORT, 0, dm);
  const disks = (o.disks ?? [{ blocks: 4096 }, { blocks: 4096 }]).map((d, i) => {
    const p = d.profile ?? 'disk';
    const disk = new TestDisk(identity(`array1/disk${i}`, 0, i + 1), d.blocks, d.blockLength ?? 512, copyManagerCommands(cm, p) as CommandDef[], new Map([[0x8f, vpd8F(p, 0)]]));
    fabric.map(ARRAY_PORT, i, disk);
    return disk;
  });
  const tapes: Lab['tapes'] = [];
  for (let i = 0; i < (o.tapes ?? 1); i++) {
    const drive = new TapeDrive(identity(`router1/tape${i}`, 1, 200 + i));
    const path = join(dir, `T${i}.tap`);
    const cart = await Cartridge.create(path, { capacity: o.tapeCapacity ?? 64 << 20, barcode: `T0000${i}L4`, ...(o.tapeEarlyWarning !== undefined ? { earlyWarning: o.tapeEarlyWarning } : {}) });
    await drive.loadCartridge(cart);
    fabric.map(ROUTER_PORT, 1 + i, drive);
    tapes.push({ drive, cart, path });
  }
  return {
    fabric,
    cm,
    dm,
    disks,
    tapes,
    dir,
    async done() {
      for (const t of tapes) await t.cart.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- issuing commands

export interface Outcome {
  status: number;
  data: Buffer;
  sense?: SenseInfo;
  senseBytes?: Buffer;
}

export async function exec(lu: LogicalUnit, cdb: Buffer, o: { nexus?: ITNexus; dataOut?: Buffer; alloc?: number; signal?: AbortSignal } = {}): Promise<Outcome> {
  const nexus = o.nexus ?? SERVER;
  let r: ScsiResult;
  // First contact with an LU reports power-on; consume it so tests see the command's own result.
  for (let i = 0; ; i++) {
    r = await lu.execute({ nexus, lun: 0, cdb, dataOut: o.dataOut, dataInLength: o.alloc ?? 0x10000, signal: o.signal });
    if (!(r.sense && decodeSense(r.sense).key === 6 && i < 4)) break;
  }
  return { status: r.status, data: r.dataIn ?? Buffer.alloc(0), ...(r.sense ? { sense: decodeSense(r.sense), senseBytes: r.sense } : {}) };
}

export function xcopy(lu: LogicalUnit, list: XcopyParameterList | Buffer, o: { nexus?: ITNexus; signal?: AbortSignal; pll?: number } = {}): Promise<Outcome> {
  const data = Buffer.isBuffer(list) ? list : encodeParameterList(list);
  return exec(lu, encodeXcopyCdb({ parameterListLength: o.pll ?? data.length }), { ...o, dataOut: data });
}

export function rcr(lu: LogicalUnit, serviceAction: number, listId = 0, o: { nexus?: ITNexus; alloc?: number } = {}): Promise<Outcome> {
  return exec(lu, encodeRcrCdb({ serviceAction, listId, allocationLength: o.alloc ?? 1024 }), o);
}

// ---------------------------------------------------------------- descriptors

export const e4 = (lu: LogicalUnit, params: CscdDescriptor['params']): CscdDescriptor => ({
  type: 0xe4,
  luIdType: 0,
  nul: false,
  pdt: lu.identity.deviceType,
  relativeInitiatorPort: 0,
  designator: { codeSet: 1, association: 0, designatorType: 3, value: lu.identity.naa },
  params,
});

export const blockParams = (blockLength = 512, pad = false): CscdDescriptor['params'] => ({ kind: 'block', pad, blockLength });
export const variableTape = (pad = false): CscdDescriptor['params'] => ({ kind: 'stream', pad, fixed: false, blockLength: 0 });
export const fixedTape = (blockLength: number, pad = false): CscdDescriptor['params'] => ({ kind: 'stream', pad, fixed: true, blockLength });

export function list(cscds: CscdDescriptor[], segments: XcopyParameterList['segments'], o: { listId?: number; usage?: number; inline?: Buffer } = {}): XcopyParameterList {
  return { header: { listId: o.listId ?? 1, str: false, listIdUsage: o.usage ?? 0, priority: 0 }, cscds, segments, inline: o.inline ?? Buffer.alloc(0) };
}

// ---------------------------------------------------------------- tape read-back through SSC commands

export async function tapeRecords(drive: TapeDrive, max = 0x40000): Promise<Array<Buffer | 'FM'>> {
  const out: Array<Buffer | 'FM'> = [];
  await exec(drive, Buffer.from([0x01, 0, 0, 0, 0, 0]), { nexus: OTHER });
  for (;;) {
    const r = await exec(drive, Buffer.from([0x08, 0x02, (max >> 16) & 0xff, (max >> 8) & 0xff, max & 0xff, 0]), { nexus: OTHER, alloc: max });
    if (r.status === 0) out.push(r.data);
    else if (r.sense?.filemark) out.push('FM');
    else if (r.sense?.ili) out.push(r.data);
    else break;
  }
  return out;
}
