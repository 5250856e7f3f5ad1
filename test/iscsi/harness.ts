/**
 * Minimal SCSI back end for iSCSI target tests until/besides the real lab runtime: an in-memory
 * disk at LUN 0 (and optionally LUN 1) behind a tiny TaskDispatcher. It returns the full data a
 * command produces (SPDTL) and the transfer length of writes, so residual handling of the target
 * is exercised.
 */
import type { ChapSecrets, FrontEndDirectory, TaskDispatcher } from '../../firmware-sim/router/dispatch.js';
import type { ITNexus, ScsiResult, ScsiTask } from '../../firmware-sim/router/task.js';
import { encodeSense, Sense, SenseKey, type ScsiError } from '../../src/scsi/sense.js';
import { ScsiStatus } from '../../src/scsi/status.js';
import { startIscsiTarget, type IscsiTarget, type IscsiTargetOptions } from '../../src/iscsi/target/index.js';

export const TARGET_IQN = 'iqn.2026-11.dev.dmsim:test-target';
export const BLOCK = 512;

const cc = (e: ScsiError): ScsiResult => ({ status: ScsiStatus.CHECK_CONDITION, sense: encodeSense(e.sense) });

export class MemDisk {
  readonly data: Buffer;
  reservedBy: string | undefined;
  ua = new Map<string, [number, number]>();
  seen = new Set<string>();
  /** Delay every command by this many ms (abort tests). */
  delayMs = 0;
  constructor(readonly blocks: number) {
    this.data = Buffer.alloc(blocks * BLOCK);
  }

  async execute(t: ScsiTask): Promise<ScsiResult> {
    if (this.delayMs) {
      await new Promise<void>((resolve, reject) => {
        const tm = setTimeout(resolve, this.delayMs);
        t.signal?.addEventListener('abort', () => {
          clearTimeout(tm);
          reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
        });
      }).catch(() => undefined);
      if (t.signal?.aborted) return { status: ScsiStatus.TASK_ABORTED };
    }
    const c = t.cdb;
    const key = t.nexus.key;
    if (!this.seen.has(key)) {
      this.seen.add(key);
      this.ua.set(key, [0x29, 0x00]);
    }
    const op = c[0]!;
    if (op !== 0x12 && op !== 0xa0 && op !== 0x03 && this.ua.has(key)) {
      const [asc, ascq] = this.ua.get(key)!;
      this.ua.delete(key);
      return { status: ScsiStatus.CHECK_CONDITION, sense: encodeSense({ key: SenseKey.UNIT_ATTENTION, asc, ascq }) };
    }
    if (this.reservedBy && this.reservedBy !== key && ![0x12, 0xa0, 0x03, 0x25, 0x9e].includes(op)) return { status: ScsiStatus.RESERVATION_CONFLICT };
    switch (op) {
      case 0x00:
        return { status: 0 };
      case 0x03:
        return { status: 0, dataIn: encodeSense({ key: 0, asc: 0, ascq: 0 }).subarray(0, Math.min(18, c[4]!)) };
      case 0x12: {
        const alloc = c.readUInt16BE(3);
        let d: Buffer;
        if (c[1]! & 1) {
          if (c[2] === 0x00) d = Buffer.from([0, 0, 0, 3, 0x00, 0x80, 0x83]);
          else if (c[2] === 0x80) d = Buffer.concat([Buffer.from([0, 0x80, 0, 8]), Buffer.from('SN000001')]);
          else if (c[2] === 0x83) d = Buffer.from([0, 0x83, 0, 12, 0x01, 0x03, 0, 8, 0x60, 1, 2, 3, 4, 5, 6, 7]);
          else return cc(Sense.invalidFieldInCdb(2));
        } else {
          d = Buffer.alloc(96);
          d[2] = 6;
          d[3] = 2;
          d[4] = 91;
          d[7] = 0x02;
          d.write('DMSIM   TESTDISK        0001', 8, 'ascii');
        }
        return { status: 0, dataIn: d.subarray(0, Math.min(alloc, d.length)) };
      }
      case 0x25: {
        const d = Buffer.alloc(8);
        d.writeUInt32BE(this.blocks - 1, 0);
        d.writeUInt32BE(BLOCK, 4);
        return { status: 0, dataIn: d };
      }
      case 0x9e: {
        const d = Buffer.alloc(32);
        d.writeUInt32BE(0, 0);
        d.writeUInt32BE(this.blocks - 1, 4);
        d.writeUInt32BE(BLOCK, 8);
        return { status: 0, dataIn: d.subarray(0, Math.min(32, c.readUInt32BE(10))) };
      }
      case 0x1a: {
        const d = Buffer.from([3, 0, 0, 0]);
        return { status: 0, dataIn: d.subarray(0, Math.min(4, c[4]!)) };
      }
      case 0x16:
        this.reservedBy = key;
        return { status: 0 };
      case 0x17:
        if (this.reservedBy === key) this.reservedBy = undefined;
        return { status: 0 };
      case 0x28:
      case 0x88:
      case 0x2a:
      case 0x8a: {
        const lba = op === 0x28 || op === 0x2a ? c.readUInt32BE(2) : Number(c.readBigUInt64BE(2));
        const n = op === 0x28 || op === 0x2a ? c.readUInt16BE(7) : c.readUInt32BE(10);
        if (lba + n > this.blocks) return cc(Sense.lbaOutOfRange());
        const bytes = n * BLOCK;
        if (op === 0x28 || op === 0x88) {
          // Like the disk LU: large reads land in the transport's recycled buffer when it offers one.
          const into = t.dataInBuffers?.allocDataIn(bytes);
          if (!into) return { status: 0, dataIn: this.data.subarray(lba * BLOCK, lba * BLOCK + bytes) };
          this.data.copy(into, 0, lba * BLOCK, lba * BLOCK + bytes);
          return { status: 0, dataIn: into };
        }
        // Like the disk LU: the blocks that arrived are written, and the result says what the CDB asked for.
        const out = t.dataOut ?? Buffer.alloc(0);
        out.copy(this.data, lba * BLOCK, 0, Math.min(bytes, out.length));
        return { status: 0, transferLength: bytes };
      }
      default:
        return cc(Sense.invalidOpcode());
    }
  }
}

export class TestDispatcher implements TaskDispatcher {
  readonly luns = new Map<number, MemDisk>();
  readonly lost: string[] = [];
  readonly resets: string[] = [];
  readonly tasks: ScsiTask[] = [];

  async dispatch(t: ScsiTask): Promise<ScsiResult> {
    this.tasks.push(t);
    if (t.cdb[0] === 0xa0) {
      const luns = [...this.luns.keys()].sort((a, b) => a - b);
      const d = Buffer.alloc(8 + luns.length * 8);
      d.writeUInt32BE(luns.length * 8, 0);
      luns.forEach((l, i) => d.writeUInt16BE(l, 8 + i * 8));
      return { status: 0, dataIn: d.subarray(0, Math.min(d.length, t.cdb.readUInt32BE(6))) };
    }
    const lu = this.luns.get(t.lun);
    if (!lu) {
      if (t.cdb[0] === 0x12) {
        const d = Buffer.alloc(36);
        d[0] = 0x7f;
        return { status: 0, dataIn: d.subarray(0, Math.min(36, t.cdb.readUInt16BE(3))) };
      }
      return cc(Sense.luNotSupported());
    }
    return lu.execute(t);
  }
  async lunReset(n: ITNexus, lun: number): Promise<void> {
    this.resets.push(`lun:${lun}`);
    const lu = this.luns.get(lun);
    if (!lu) throw Object.assign(new Error('no such LUN'), { name: 'NoSuchLunError' });
    lu.reservedBy = undefined;
    for (const k of lu.seen) lu.ua.set(k, [0x29, 0x03]);
  }
  async targetReset(_n: ITNexus, cold: boolean): Promise<void> {
    this.resets.push(cold ? 'cold' : 'warm');
    for (const lu of this.luns.values()) {
      lu.reservedBy = undefined;
      for (const k of lu.seen) lu.ua.set(k, [0x29, cold ? 0x01 : 0x02]);
    }
  }
  nexusLost(n: ITNexus): void {
    this.lost.push(n.key);
    for (const lu of this.luns.values()) if (lu.reservedBy === n.key) lu.reservedBy = undefined;
  }
}

export class TestDirectory implements FrontEndDirectory {
  chapSecrets: ChapSecrets | undefined;
  rejectNames = new Set<string>();
  targetNodes() {
    return [
      { iqn: TARGET_IQN, alias: 'test', targetPort: '50000000000000a1' },
      { iqn: 'iqn.2026-11.dev.dmsim:second', targetPort: '50000000000000a2' },
    ];
  }
  initiatorPort(name: string): string | undefined {
    if (this.rejectNames.has(name)) return undefined;
    let h = 0;
    for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    return `21000000${h.toString(16).padStart(8, '0')}`;
  }
  chap(): ChapSecrets | undefined {
    return this.chapSecrets;
  }
}

export interface Harness {
  target: IscsiTarget;
  dispatcher: TestDispatcher;
  directory: TestDirectory;
  disk: MemDisk;
  url(lun?: number): string;
  close(): Promise<void>;
}

export async function startHarness(opts: Partial<IscsiTargetOptions> = {}, blocks = 2048): Promise<Harness> {
  const dispatcher = new TestDispatcher();
  const directory = new TestDirectory();
  const disk = new MemDisk(blocks);
  dispatcher.luns.set(0, disk);
  const target = await startIscsiTarget({ dispatcher, directory, host: '127.0.0.1', port: 0, ...opts });
  return {
    target,
    dispatcher,
    directory,
    disk,
    url: (lun = 0) => `iscsi://127.0.0.1:${target.port}/${TARGET_IQN}/${lun}`,
    close: () => target.close(),
  };
}
