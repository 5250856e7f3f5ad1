/**
 * The NDMP DATA service of one session (ndmp.md §2.5, §3.3, §5): the lab's FAT volumes are the
 * file systems (`/fat/<disk-lu-name>`); backup type `tar` streams the volume as ustar with file
 * history; RECOVER_FILEHIST re-reads an image and posts the same history. Data connections are
 * LOCAL (this session's mover) or TCP (listen or connect, possibly to another dmsim process).
 */
import type { Server } from 'node:net';
import { InProcessTransport } from '../backup-server/transport-inprocess.js';
import { ScsiClient } from '../backup-server/scsi-client.js';
import { TransportBlockReader } from '../backup-server/block-reader.js';
import { readBytes } from '../fs/fat/block-reader.js';
import { FatVolume } from '../fs/fat/volume.js';
import { FatWriter, type BlockDevice } from '../fs/fat/writer.js';
import { AddrType, DataHaltReason, DataOperation, DataState, DataStateUns, Err, LogType, MoverMode, MoverState, Msg, RecoveryStatus } from './constants.js';
import type { NdmpDevices, NdmpDisk } from './devices.js';
import { ConnReader, LocalPipe, type ImageConn } from './image-conn.js';
import { planImage, readTarStream, rootEntry, statOf, type HistoryEntry } from './image.js';
import { LOCAL_ADDR, type Addr, type Pval, type NameEntry } from './messages.js';
import { connectTcp, listenTcp, type Mover } from './mover.js';
import type { SessionContext } from './session-context.js';

const FH_BATCH = 1024;
const YES = new Set(['y', 'yes', 't', 'true', '1']);

export interface OpenedFs {
  disk: NdmpDisk;
  volume: FatVolume;
  sub: string;
}

/** A disk LU as a block device (READ/WRITE through the NDMP port) for the FAT writer. */
export async function scsiBlockDevice(devices: NdmpDevices, disk: NdmpDisk): Promise<BlockDevice> {
  const client = new ScsiClient(new InProcessTransport(devices.port));
  const { blocks, blockSize } = await client.readCapacity(disk.targetPort, disk.lun);
  const reader = new TransportBlockReader(client, disk.targetPort, disk.lun, blockSize, blocks);
  return { blockSize, blockCount: blocks, readBlocks: (l, n) => reader.readBlocks(l, n), writeBlocks: (l, d) => client.write(disk.targetPort, disk.lun, l, d, blockSize) };
}

/** Open the FAT volume of a disk LU through the NDMP port. */
export async function openFat(devices: NdmpDevices, disk: NdmpDisk): Promise<FatVolume> {
  const client = new ScsiClient(new InProcessTransport(devices.port));
  const { blocks, blockSize } = await client.readCapacity(disk.targetPort, disk.lun);
  return FatVolume.open(new TransportBlockReader(client, disk.targetPort, disk.lun, blockSize, blocks));
}

export class DataService {
  state: number = DataState.IDLE;
  operation: number = DataOperation.NOACTION;
  haltReason: number = DataHaltReason.NA;
  bytesProcessed = 0n;
  addr: Addr = LOCAL_ADDR;
  conn: ImageConn | undefined;
  readOffset = 0n;
  readLength = 0n;
  private env: Pval[] = [];
  private listener: Server | undefined;
  mover!: Mover;

  constructor(
    private readonly ctx: SessionContext,
    private readonly devices: NdmpDevices,
  ) {}

  getState() {
    return {
      unsupported: DataStateUns.EST_BYTES_REMAIN | DataStateUns.EST_TIME_REMAIN,
      error: Err.NO_ERR,
      operation: this.operation,
      state: this.state,
      halt_reason: this.state === DataState.HALTED ? this.haltReason : DataHaltReason.NA,
      bytes_processed: this.conn && this.state === DataState.ACTIVE && this.operation === DataOperation.BACKUP ? BigInt(this.conn.written) : this.bytesProcessed,
      est_bytes_remain: 0xffff_ffff_ffff_ffffn,
      est_time_remain: 0xffffffff,
      data_connection_addr: this.addr,
      read_offset: this.readOffset,
      read_length: this.readLength,
    };
  }

  /** The peer (LISTEN accepted, or MOVER_CONNECT LOCAL) connected. */
  connected(conn: ImageConn, a: Addr): void {
    this.listener?.close();
    this.listener = undefined;
    this.conn = conn;
    this.addr = a;
    this.state = DataState.CONNECTED;
  }

  async listen(addrType: number): Promise<{ error: number; connect_addr: Addr }> {
    if (addrType !== AddrType.LOCAL && addrType !== AddrType.TCP) return { error: Err.ILLEGAL_ARGS_ERR, connect_addr: LOCAL_ADDR };
    if (this.state !== DataState.IDLE || this.mover.state !== MoverState.IDLE) return { error: Err.ILLEGAL_STATE_ERR, connect_addr: LOCAL_ADDR };
    if (addrType === AddrType.LOCAL) {
      this.addr = LOCAL_ADDR;
    } else {
      try {
        const l = await listenTcp(this.ctx.localHost, (c) => {
          if (this.state === DataState.LISTEN) this.connected(c, this.addr);
          else c.close();
        });
        this.listener = l.server;
        this.addr = l.addr;
      } catch {
        return { error: Err.CONNECT_ERR, connect_addr: LOCAL_ADDR };
      }
    }
    this.state = DataState.LISTEN;
    return { error: Err.NO_ERR, connect_addr: this.addr };
  }

  async connect(a: Addr): Promise<number> {
    if (a.addr_type !== AddrType.LOCAL && a.addr_type !== AddrType.TCP) return Err.ILLEGAL_ARGS_ERR;
    if (a.addr_type === AddrType.TCP && !a.tcp.length) return Err.ILLEGAL_ARGS_ERR;
    if (this.state !== DataState.IDLE) return Err.ILLEGAL_STATE_ERR;
    if (a.addr_type === AddrType.LOCAL) {
      const pipe = new LocalPipe();
      if (this.mover.state !== MoverState.LISTEN || this.mover.addr.addr_type !== AddrType.LOCAL) return Err.ILLEGAL_STATE_ERR;
      this.connected(pipe, LOCAL_ADDR);
      this.mover.acceptLocal(pipe);
      return Err.NO_ERR;
    }
    try {
      const c = await connectTcp(a);
      if (this.state !== DataState.IDLE) {
        c.close();
        return Err.ILLEGAL_STATE_ERR;
      }
      this.connected(c, a);
      return Err.NO_ERR;
    } catch {
      return Err.CONNECT_ERR;
    }
  }

  abort(): number {
    if (this.state !== DataState.LISTEN && this.state !== DataState.CONNECTED && this.state !== DataState.ACTIVE) return Err.ILLEGAL_STATE_ERR;
    this.halt(DataHaltReason.ABORTED);
    return Err.NO_ERR;
  }

  stop(): number {
    if (this.state !== DataState.HALTED) return Err.ILLEGAL_STATE_ERR;
    this.state = DataState.IDLE;
    this.operation = DataOperation.NOACTION;
    this.haltReason = DataHaltReason.NA;
    this.bytesProcessed = 0n;
    this.addr = LOCAL_ADDR;
    this.conn = undefined;
    this.readOffset = this.readLength = 0n;
    this.env = [];
    return Err.NO_ERR;
  }

  getEnv(): { error: number; env: Pval[] } {
    if ((this.state !== DataState.ACTIVE && this.state !== DataState.HALTED) || this.operation !== DataOperation.BACKUP) return { error: Err.ILLEGAL_STATE_ERR, env: [] };
    return { error: Err.NO_ERR, env: this.env };
  }

  halt(reason: number): void {
    if (this.state === DataState.HALTED || this.state === DataState.IDLE) return;
    this.listener?.close();
    this.listener = undefined;
    if (this.conn) {
      if (reason === DataHaltReason.SUCCESSFUL) this.conn.end();
      else this.conn.close();
      if (this.operation === DataOperation.BACKUP) this.bytesProcessed = BigInt(this.conn.written);
    }
    this.state = DataState.HALTED;
    this.haltReason = reason;
    this.ctx.post(Msg.NOTIFY_DATA_HALTED, { reason });
  }

  /** Common checks of START_*: butype, state, and for LOCAL the mover in the matching mode. */
  private startCheck(butype: string, moverMode: number): number {
    if (butype !== 'tar') return Err.ILLEGAL_ARGS_ERR;
    if (this.state !== DataState.CONNECTED || !this.conn) return Err.ILLEGAL_STATE_ERR;
    if (this.conn.kind === 'local' && !(this.mover.state === MoverState.ACTIVE && this.mover.mode === moverMode)) return Err.ILLEGAL_STATE_ERR;
    return Err.NO_ERR;
  }

  /** FILESYSTEM = /fat/<lu>[/dir...]. */
  async resolveFs(fs: string | undefined): Promise<OpenedFs | string> {
    if (!fs) return 'FILESYSTEM is not set';
    const parts = fs.split('/').filter((p) => p && p !== '.');
    if (parts[0] !== 'fat' || parts.length < 2) return `FILESYSTEM ${fs} is not a /fat/<volume> device`;
    const disk = this.devices.disks().find((d) => d.name === parts[1]);
    if (!disk) return `no FAT volume ${parts[1]} (see CONFIG_GET_FS_INFO)`;
    let volume: FatVolume;
    try {
      volume = await openFat(this.devices, disk);
    } catch (e) {
      return `${disk.ref}: ${(e as Error).message}`;
    }
    return { disk, volume, sub: parts.slice(2).join('/') };
  }

  async startBackup(butype: string, env: Pval[]): Promise<number> {
    const e = this.startCheck(butype, MoverMode.READ);
    if (e) return e;
    const get = (n: string) => env.find((p) => p.name === n)?.value;
    const fs = await this.resolveFs(get('FILESYSTEM'));
    if (typeof fs === 'string') {
      this.ctx.log(LogType.ERROR, fs);
      return Err.ILLEGAL_ARGS_ERR;
    }
    const entries = await fs.volume.walk();
    if (fs.sub && !entries.some((x) => x.isDirectory && x.path.toLowerCase() === fs.sub.toLowerCase())) {
      this.ctx.log(LogType.ERROR, `FILESYSTEM ${get('FILESYSTEM')}: no such directory`);
      return Err.ILLEGAL_ARGS_ERR;
    }
    const sub = fs.sub ? entries.find((x) => x.isDirectory && x.path.toLowerCase() === fs.sub.toLowerCase())!.path : '';
    const plan = planImage(entries, sub);
    const hist = YES.has((get('HIST') ?? 'n').toLowerCase());
    this.operation = DataOperation.BACKUP;
    this.state = DataState.ACTIVE;
    this.env = [
      ...env,
      { name: 'NDMP_VERSION', value: '4' },
      { name: 'DMSIM_FS', value: `/fat/${fs.disk.name}${sub ? `/${sub}` : ''}` },
      { name: 'DMSIM_FILES', value: String(plan.files) },
      { name: 'DMSIM_BYTES', value: String(plan.bytes) },
    ];
    const conn = this.conn!;
    void (async () => {
      try {
        const fh = hist ? plan.history : [];
        for (const p of plan.pieces) {
          if (p.kind === 'inline') await conn.write(p.data);
          else if (p.kind === 'disk')
            for (let done = 0; done < p.length; ) {
            const n = Math.min(1 << 20, p.length - done);
            await conn.write(Buffer.from(await readBytes(fs.volume.reader, p.offset + done, n)));
            done += n;
          }
          if (this.state !== DataState.ACTIVE) return;
        }
        // File history goes out before NOTIFY_DATA_HALTED, in batches (ndmp.md §3.7).
        for (let fhAt = 0; fhAt < fh.length; fhAt += FH_BATCH) this.postFiles(fh.slice(fhAt, fhAt + FH_BATCH));
        this.halt(DataHaltReason.SUCCESSFUL);
      } catch (err) {
        if (this.state === DataState.ACTIVE) {
          this.ctx.logger.warn({ err }, 'NDMP backup failed');
          this.ctx.log(LogType.ERROR, `backup failed: ${(err as Error).message}`);
          this.halt(this.conn ? DataHaltReason.CONNECT_ERROR : DataHaltReason.INTERNAL_ERROR);
        }
      }
    })();
    return Err.NO_ERR;
  }

  private postFiles(batch: HistoryEntry[]): void {
    if (!batch.length) return;
    this.ctx.post(Msg.FH_ADD_FILE, {
      files: batch.map((h) => ({ names: [{ fs_type: 0, unix_name: h.name }], stats: [h.stat], node: h.node, fh_info: h.fhInfo })),
    });
  }

  /** START_RECOVER_FILEHIST: read the image, post the backup's history again, touch no volume. */
  async startRecoverFilehist(butype: string, env: Pval[], nlist: NameEntry[]): Promise<number> {
    void nlist;
    const e = this.startCheck(butype, MoverMode.WRITE);
    if (e) return e;
    const hist = YES.has((env.find((p) => p.name === 'HIST')?.value ?? 'y').toLowerCase());
    this.runOverImage(DataOperation.RECOVER_FILEHIST, 'reading the image failed', async (reader) => {
      const batch: HistoryEntry[] = [rootEntry()];
      let node = 2n;
      const r = await readTarStream(
        (n) => reader.take(n),
        async (m) => {
          batch.push({ name: `/${m.path}`, stat: statOf(m.isDir, m.mode, m.mtime, m.size), node: node++, fhInfo: BigInt(m.headerOffset) });
          if (hist && batch.length >= FH_BATCH) this.postFiles(batch.splice(0));
        },
      );
      this.bytesProcessed = BigInt(r.bytes);
      if (hist) this.postFiles(batch);
      await reader.drain();
    });
    return Err.NO_ERR;
  }

  /**
   * START_RECOVER: read the image sequentially and write every member an nlist entry names (the
   * entry itself, or everything below a directory entry) to its destination, which must lie on a
   * /fat/<volume> device; one LOG_FILE per nlist entry (ndmp.md §6).
   */
  async startRecover(butype: string, env: Pval[], nlist: NameEntry[]): Promise<number> {
    void env;
    const e = this.startCheck(butype, MoverMode.WRITE);
    if (e) return e;
    const clean = (p: string) => '/' + p.split('/').filter((x) => x && x !== '.').join('/');
    const targets: Array<{ orig: string; dest: string[]; vol: string; hits: number; failed?: number }> = [];
    for (const n of nlist) {
      const dest = clean(n.name ? `${n.destination_path}/${n.name}` : n.destination_path || n.original_path).split('/').filter(Boolean);
      if (dest[0] !== 'fat' || dest.length < 2) {
        this.ctx.log(LogType.ERROR, `destination ${n.destination_path} is not on a /fat/<volume> device`);
        return Err.ILLEGAL_ARGS_ERR;
      }
      targets.push({ orig: clean(n.original_path), dest: dest.slice(2), vol: dest[1]!, hits: 0 });
    }
    const writers = new Map<string, FatWriter>();
    for (const t of targets) {
      if (writers.has(t.vol)) continue;
      const disk = this.devices.disks().find((d) => d.name === t.vol);
      if (!disk) {
        this.ctx.log(LogType.ERROR, `no FAT volume ${t.vol}`);
        return Err.ILLEGAL_ARGS_ERR;
      }
      try {
        writers.set(t.vol, await FatWriter.open(await scsiBlockDevice(this.devices, disk)));
      } catch (err) {
        this.ctx.log(LogType.ERROR, `${disk.ref}: ${(err as Error).message}`);
        return Err.ILLEGAL_ARGS_ERR;
      }
    }
    this.runOverImage(DataOperation.RECOVER, 'restore failed', async (reader) => {
      const r = await readTarStream(
        (n) => reader.take(n),
        async (m, body) => {
          const name = `/${m.path}`;
          for (const t of targets) {
            const under = t.orig === '/' ? name.slice(1) : name === t.orig ? '' : name.startsWith(`${t.orig}/`) ? name.slice(t.orig.length + 1) : undefined;
            if (under === undefined) continue;
            t.hits++;
            const dest = [...t.dest, ...under.split('/').filter(Boolean)].join('/');
            try {
              const w = writers.get(t.vol)!;
              if (m.isDir) await w.mkdirp(dest, m.mtime);
              else await w.writeFile(dest, await body(m.size), { mtime: m.mtime, readOnly: (m.mode & 0o200) === 0 });
            } catch (err) {
              t.failed = RecoveryStatus.FAILED_IO_ERROR;
              this.ctx.log(LogType.ERROR, `restoring ${name} to /fat/${t.vol}/${dest}: ${(err as Error).message}`);
            }
          }
        },
      );
      this.bytesProcessed = BigInt(r.bytes);
      await reader.drain();
      for (const t of targets) this.ctx.post(Msg.LOG_FILE, { name: t.orig, recovery_status: t.failed ?? (t.hits ? RecoveryStatus.SUCCESSFUL : RecoveryStatus.FAILED_NOT_FOUND) });
    });
    return Err.NO_ERR;
  }

  /**
   * Makes `op` the ACTIVE operation and runs `work` over the image connection: a return halts the
   * data service SUCCESSFUL, a throw logs `what: message` and halts it INTERNAL_ERROR (unless an
   * abort or the connection's end already halted it).
   */
  private runOverImage(op: number, what: string, work: (reader: ConnReader) => Promise<void>): void {
    this.operation = op;
    this.state = DataState.ACTIVE;
    const conn = this.conn!;
    this.requestStream(conn);
    const reader = new ConnReader(conn);
    void (async () => {
      try {
        await work(reader);
        if (this.state === DataState.ACTIVE) this.halt(DataHaltReason.SUCCESSFUL);
      } catch (err) {
        if (this.state === DataState.ACTIVE) {
          this.ctx.log(LogType.ERROR, `${what}: ${(err as Error).message}`);
          this.halt(DataHaltReason.INTERNAL_ERROR);
        }
      }
    })();
  }

  /** Over TCP the DATA side asks the DMA for the stream (NOTIFY_DATA_READ → MOVER_READ). */
  private requestStream(conn: ImageConn): void {
    if (conn.kind !== 'tcp') return;
    this.readOffset = 0n;
    this.readLength = 1n << 40n;
    this.ctx.post(Msg.NOTIFY_DATA_READ, { offset: this.readOffset, length: this.readLength });
  }

  dispose(): void {
    this.listener?.close();
    this.conn?.close();
    if (this.state === DataState.ACTIVE) this.state = DataState.HALTED;
  }
}
