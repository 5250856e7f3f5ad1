/**
 * One NDMP control connection (ndmp.md §1, §3.1, §6): greeting, record reassembly, header
 * checks, authentication (NONE when the lab allows it, TEXT, MD5 challenge), then the table of
 * request handlers for CONFIG, SCSI, TAPE, DATA and MOVER. Requests run one at a time in arrival
 * order; posts (NOTIFY/LOG/FH) go out whenever a service changes state, also between a request
 * and its reply. Anything undecodable gets an NDMP error reply, never a crash.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import { md5Digest, newChallenge, sameSecret } from './auth.js';
import { AddrType, AuthType, ButypeAttr, ConnectionStatus, Err, MessageType, Msg } from './constants.js';
import { DataService, openFat } from './data.js';
import type { NdmpDevices } from './devices.js';
import { frameRecord, RecordReader } from './framing.js';
import { decodeHeader, encodeMessage, isPost, messageDef, type FsInfo, type Header, type MessageDef } from './messages.js';
import { Mover } from './mover.js';
import type { SessionContext } from './session-context.js';
import { TapeService, type CmdResult } from './tape.js';
import { XdrError, XdrReader, XdrWriter } from './xdr.js';

export interface NdmpAuthConfig {
  user: string;
  password: string;
  allowNoAuth: boolean;
}

export interface SessionOptions {
  devices: NdmpDevices;
  auth: NdmpAuthConfig;
  labName: string;
  version: string;
  logger: Logger;
}

type Handler = (s: Session, req: never) => Promise<unknown> | unknown;

const STATUS_UNS = 0x18; // TOTAL_INODES | USED_INODES

export class Session implements SessionContext {
  private readonly reader = new RecordReader();
  private seq = 0;
  private authed = false;
  private challenge: Buffer | undefined;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  readonly tape: TapeService;
  readonly mover: Mover;
  readonly data: DataService;
  readonly localHost: string;
  readonly logger: Logger;
  scsi: { name: string; lun: number } | undefined;

  constructor(
    readonly socket: Socket,
    readonly opts: SessionOptions,
  ) {
    this.logger = opts.logger;
    this.localHost = (socket.localAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
    this.tape = new TapeService(opts.devices, this);
    this.data = new DataService(this, opts.devices);
    this.mover = new Mover(this, this.tape);
    this.data.mover = this.mover;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => void this.dispose());
    this.post(Msg.NOTIFY_CONNECTION_STATUS, { reason: ConnectionStatus.CONNECTED, protocol_version: 4, text_reason: 'dmsim' });
  }

  private onData(chunk: Buffer): void {
    for (const ev of this.reader.push(chunk)) {
      if (ev.kind === 'dropped') {
        this.logger.warn({ bytes: ev.bytes }, 'NDMP record above the size limit dropped');
        // The header was not kept: answer with a bare XDR_DECODE_ERR header (reply_sequence unknown).
        this.send({ messageType: MessageType.REPLY, message: 0, replySequence: 0, error: Err.XDR_DECODE_ERR });
        continue;
      }
      const record = ev.record;
      this.queue = this.queue.then(() => this.handle(record)).catch((err: unknown) => this.logger.error({ err }, 'NDMP request failed'));
    }
  }

  private send(h: Omit<Header, 'sequence' | 'timeStamp'>, body?: Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    const full: Header = { sequence: ++this.seq >>> 0, timeStamp: Math.floor(Date.now() / 1000) >>> 0, ...h };
    this.socket.write(frameRecord(encodeMessage(full, body)));
  }

  post(code: number, body: unknown): void {
    const def = messageDef(code)!;
    const w = new XdrWriter();
    (def.request as { enc(w: XdrWriter, v: unknown): void }).enc(w, body);
    this.send({ messageType: MessageType.REQUEST, message: code, replySequence: 0, error: 0 }, w.bytes());
  }

  log(type: number, text: string): void {
    this.post(Msg.LOG_MESSAGE, { log_type: type, message_id: Math.floor(Date.now() / 1000) >>> 0, entry: text, associated_message_valid: 0, associated_message_sequence: 0 });
  }

  private async handle(record: Buffer): Promise<void> {
    if (this.closed) return;
    const r = new XdrReader(record);
    let h: Header;
    try {
      h = decodeHeader(r);
    } catch {
      // Too short for a header: nothing to answer to but the fact.
      this.send({ messageType: MessageType.REPLY, message: 0, replySequence: 0, error: Err.XDR_DECODE_ERR });
      return;
    }
    if (h.messageType !== MessageType.REQUEST) return; // a stray REPLY matches nothing: dropped
    if (isPost(h.message)) return; // posts from a DMA are ignored (ndmp.md §1.5)
    const headerError = (error: number) => this.send({ messageType: MessageType.REPLY, message: h.message, replySequence: h.sequence, error });
    const def = messageDef(h.message);
    const handler = HANDLERS[h.message];
    if (h.message === Msg.CONNECT_CLOSE) {
      this.socket.end();
      await this.dispose();
      return;
    }
    if (!def || !def.reply || !handler) return headerError(Err.NOT_SUPPORTED_ERR);
    const iface = h.message >> 8;
    if (!this.authed && iface !== 0x9 && iface !== 0x1) return headerError(Err.NOT_AUTHORIZED_ERR);
    let req: unknown;
    try {
      req = def.request.dec(r);
    } catch (e) {
      if (e instanceof XdrError) return headerError(Err.XDR_DECODE_ERR);
      throw e;
    }
    let rep: unknown;
    try {
      rep = await (handler as (s: Session, q: unknown) => unknown)(this, req);
    } catch (err) {
      this.logger.warn({ err, message: def.name }, 'NDMP handler failed');
      rep = errorReply(def, Err.UNDEFINED_ERR);
    }
    const w = new XdrWriter();
    try {
      (def.reply as { enc(w: XdrWriter, v: unknown): void }).enc(w, rep);
    } catch (err) {
      this.logger.error({ err, message: def.name }, 'NDMP reply did not encode');
      return headerError(Err.XDR_ENCODE_ERR);
    }
    this.send({ messageType: MessageType.REPLY, message: h.message, replySequence: h.sequence, error: 0 }, w.bytes());
  }

  // ------------------------------------------------------------------ CONNECT

  connectOpen(version: number): number {
    // v4 only; any other first request opens v4 implicitly, so there is no state to keep.
    if (version !== 4) return Err.ILLEGAL_ARGS_ERR;
    return Err.NO_ERR;
  }

  clientAuth(a: { auth_type: number; auth_id?: string; auth_password?: string; auth_digest?: Buffer }): number {
    const { auth } = this.opts;
    if (a.auth_type === AuthType.NONE) {
      if (!auth.allowNoAuth) return Err.ILLEGAL_ARGS_ERR;
      this.authed = true;
      return Err.NO_ERR;
    }
    if (a.auth_type === AuthType.TEXT) {
      const ok = a.auth_id === auth.user && sameSecret(Buffer.from(a.auth_password ?? ''), Buffer.from(auth.password));
      if (ok) this.authed = true;
      return ok ? Err.NO_ERR : Err.NOT_AUTHORIZED_ERR;
    }
    const ch = this.challenge;
    this.challenge = undefined;
    if (!ch) return Err.NOT_AUTHORIZED_ERR;
    const ok = a.auth_id === auth.user && sameSecret(a.auth_digest ?? Buffer.alloc(0), md5Digest(auth.password, ch));
    if (ok) this.authed = true;
    return ok ? Err.NO_ERR : Err.NOT_AUTHORIZED_ERR;
  }

  authTypes(): number[] {
    return [...(this.opts.auth.allowNoAuth ? [AuthType.NONE] : []), AuthType.TEXT, AuthType.MD5];
  }

  newChallenge(): Buffer {
    this.challenge = newChallenge();
    return this.challenge;
  }

  async fsInfo(): Promise<FsInfo[]> {
    const out: FsInfo[] = [];
    for (const d of this.opts.devices.disks()) {
      try {
        const v = await openFat(this.opts.devices, d);
        const g = v.geometry;
        const u = v.usage();
        const cb = BigInt(g.clusterBytes);
        out.push({
          unsupported: STATUS_UNS,
          fs_type: `FAT${g.type}`,
          fs_logical_device: `/fat/${d.name}`,
          fs_physical_device: `${d.ref}:lun${d.lun}`,
          total_size: BigInt(g.clusterCount) * cb,
          used_size: BigInt(u.used) * cb,
          avail_size: BigInt(u.free) * cb,
          total_inodes: 0n,
          used_inodes: 0n,
          fs_env: [
            { name: 'VOLUME_LABEL', value: g.volumeLabel.trim() },
            { name: 'VOLUME_SERIAL', value: g.volumeSerial.toString(16).padStart(8, '0').toUpperCase() },
          ],
          fs_status: 'online',
        });
      } catch {
        /* not a FAT volume: not a file system NDMP offers */
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ SCSI

  async scsiOpen(device: string): Promise<number> {
    if (this.scsi) return Err.DEVICE_OPENED_ERR;
    const dev = this.opts.devices.changers().find((c) => c.name === device) ?? this.opts.devices.tapes().find((t) => t.name === device);
    if (!dev) return Err.NO_DEVICE_ERR;
    if (!this.opts.devices.claim(`scsi:${device}`, this)) return Err.DEVICE_BUSY_ERR;
    this.scsi = { name: device, lun: dev.lun };
    return Err.NO_ERR;
  }

  scsiClose(): number {
    if (!this.scsi) return Err.DEV_NOT_OPEN_ERR;
    this.opts.devices.release(`scsi:${this.scsi.name}`, this);
    this.scsi = undefined;
    return Err.NO_ERR;
  }

  async scsiRun(cdb: Buffer, o: { dataOut?: Buffer; dataInLength?: number }): Promise<CmdResult> {
    const r = await this.opts.devices.exec(this.scsi!.lun, cdb, o);
    return { status: r.status, dataIn: r.dataIn ?? Buffer.alloc(0), ...(r.sense ? { senseBytes: r.sense } : {}) };
  }

  async dispose(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.data.dispose();
    this.mover.dispose();
    await this.tape.close().catch(() => undefined);
    if (this.scsi) this.scsiClose();
    this.socket.destroy();
  }
}

/** A reply carrying only `error` plus the empty forms of the rest of its body. */
function errorReply(def: MessageDef, error: number): unknown {
  // Decoding zeros gives every field its empty form (0, "", count 0, LOCAL, NONE).
  const body = def.reply!.dec(new XdrReader(Buffer.alloc(4096))) as Record<string, unknown>;
  return { ...body, error };
}

const ok = (error: number) => ({ error });
const notOpen = (s: Session) => (!s.tape.open ? Err.DEV_NOT_OPEN_ERR : s.mover.state === 2 ? Err.ILLEGAL_STATE_ERR : 0);
const cdbFail = (error: number) => ({ error, status: 0, dataout_len: 0, datain: Buffer.alloc(0), ext_sense: Buffer.alloc(0) });

const HANDLERS: Record<number, Handler> = {
  [Msg.CONNECT_OPEN]: (s, q: { protocol_version: number }) => ok(s.connectOpen(q.protocol_version)),
  [Msg.CONNECT_CLIENT_AUTH]: (s, q: { auth_data: Parameters<Session['clientAuth']>[0] }) => ok(s.clientAuth(q.auth_data)),

  [Msg.CONFIG_GET_HOST_INFO]: (s) => ({ error: 0, hostname: s.opts.labName, os_type: 'dmsim', os_vers: s.opts.version, hostid: hostId(s.opts.labName) }),
  [Msg.CONFIG_GET_SERVER_INFO]: (s) => ({ error: 0, vendor_name: 'dmsim', product_name: 'dmsim NDMP server', revision_number: s.opts.version, auth_type: s.authTypes() }),
  [Msg.CONFIG_GET_CONNECTION_TYPE]: () => ({ error: 0, addr_types: [AddrType.LOCAL, AddrType.TCP] }),
  [Msg.CONFIG_GET_AUTH_ATTR]: (s, q: { auth_type: number }) => {
    if (q.auth_type === AuthType.MD5) return { error: 0, server_attr: { auth_type: AuthType.MD5, challenge: s.newChallenge() } };
    if (q.auth_type === AuthType.TEXT || q.auth_type === AuthType.NONE) return { error: 0, server_attr: { auth_type: q.auth_type } };
    return { error: Err.ILLEGAL_ARGS_ERR, server_attr: { auth_type: AuthType.NONE } };
  },
  [Msg.CONFIG_GET_BUTYPE_INFO]: () => ({
    error: 0,
    butype_info: [
      {
        butype_name: 'tar',
        default_env: [
          { name: 'HIST', value: 'n' },
          { name: 'HIST_TYPE', value: 'f' },
          { name: 'DIRECT', value: 'n' },
        ],
        attrs: ButypeAttr.RECOVER_FILELIST | ButypeAttr.BACKUP_FH_FILE | ButypeAttr.RECOVER_FILEHIST | ButypeAttr.RECOVER_FH_FILE,
      },
    ],
  }),
  [Msg.CONFIG_GET_FS_INFO]: async (s) => ({ error: 0, fs_info: await s.fsInfo() }),
  [Msg.CONFIG_GET_TAPE_INFO]: (s) => ({ error: 0, tape_info: groupByModel(s.opts.devices.tapes().map((t) => ({ model: t.model, device: t.name, serial: t.drive.identity.serial })), true) }),
  [Msg.CONFIG_GET_SCSI_INFO]: (s) => ({ error: 0, scsi_info: groupByModel(s.opts.devices.changers().map((c) => ({ model: c.model, device: c.name, serial: '' })), false) }),
  [Msg.CONFIG_GET_EXT_LIST]: () => ({ error: 0, class_list: [] }),
  [Msg.CONFIG_SET_EXT_LIST]: (_s, q: { ndmp_selected_ext: unknown[] }) => ok(q.ndmp_selected_ext.length ? Err.CLASS_NOT_SUPPORTED : 0),

  [Msg.SCSI_OPEN]: async (s, q: { device: string }) => ok(await s.scsiOpen(q.device)),
  [Msg.SCSI_CLOSE]: (s) => ok(s.scsiClose()),
  [Msg.SCSI_GET_STATE]: (s) => (s.scsi ? { error: 0, target_controller: 0, target_id: 0, target_lun: s.scsi.lun } : { error: Err.DEV_NOT_OPEN_ERR, target_controller: -1, target_id: -1, target_lun: -1 }),
  [Msg.SCSI_RESET_DEVICE]: async (s) => {
    if (!s.scsi) return ok(Err.DEV_NOT_OPEN_ERR);
    await s.opts.devices.port.lunReset(s.opts.devices.routerPort, s.scsi.lun);
    return ok(0);
  },
  [Msg.SCSI_EXECUTE_CDB]: (s, q: { flags: number; timeout: number; datain_len: number; cdb: Buffer; dataout: Buffer }) =>
    s.scsi ? TapeService.execute((c, o) => s.scsiRun(c, o), q) : cdbFail(Err.DEV_NOT_OPEN_ERR),

  [Msg.TAPE_OPEN]: async (s, q: { device: string; mode: number }) => ok(await s.tape.openTape(q.device, q.mode)),
  [Msg.TAPE_CLOSE]: async (s) => ok(notOpen(s) || (await s.tape.close())),
  [Msg.TAPE_GET_STATE]: (s) => s.tape.state(),
  [Msg.TAPE_MTIO]: async (s, q: { tape_op: number; count: number }) => {
    const e = notOpen(s);
    return e ? { error: e, resid_count: q.count } : s.tape.mtio(q.tape_op, q.count);
  },
  [Msg.TAPE_WRITE]: async (s, q: { data_out: Buffer }) => {
    const e = notOpen(s);
    if (e) return { error: e, count: 0 };
    if (q.data_out.length > 262144) return { error: Err.ILLEGAL_ARGS_ERR, count: 0 };
    if (q.data_out.length === 0) return { error: s.tape.open!.mode === 0 ? Err.PERMISSION_ERR : 0, count: 0 };
    const r = await s.tape.writeRecord(q.data_out);
    return { error: r.error, count: r.count };
  },
  [Msg.TAPE_READ]: async (s, q: { count: number }) => {
    const e = notOpen(s);
    if (e) return { error: e, data_in: Buffer.alloc(0) };
    if (q.count > 262144) return { error: Err.ILLEGAL_ARGS_ERR, data_in: Buffer.alloc(0) };
    if (q.count === 0) return { error: 0, data_in: Buffer.alloc(0) };
    const r = await s.tape.readRecord(q.count);
    return { error: r.error, data_in: r.data };
  },
  [Msg.TAPE_EXECUTE_CDB]: (s, q: { flags: number; timeout: number; datain_len: number; cdb: Buffer; dataout: Buffer }) => {
    const e = notOpen(s);
    return e ? cdbFail(e) : TapeService.execute((c, o) => s.tape.rawCdb(c, o), q);
  },

  [Msg.DATA_GET_STATE]: (s) => s.data.getState(),
  [Msg.DATA_LISTEN]: (s, q: { addr_type: number }) => s.data.listen(q.addr_type),
  [Msg.DATA_CONNECT]: async (s, q: { addr: Parameters<DataService['connect']>[0] }) => ok(await s.data.connect(q.addr)),
  [Msg.DATA_START_BACKUP]: async (s, q: { butype_name: string; env: { name: string; value: string }[] }) => ok(await s.data.startBackup(q.butype_name, q.env)),
  [Msg.DATA_START_RECOVER_FILEHIST]: async (s, q: { butype_name: string; env: { name: string; value: string }[]; nlist: never[] }) =>
    ok(await s.data.startRecoverFilehist(q.butype_name, q.env, q.nlist)),
  [Msg.DATA_START_RECOVER]: async (s, q: { butype_name: string; env: { name: string; value: string }[]; nlist: Parameters<DataService['startRecover']>[2] }) =>
    ok(await s.data.startRecover(q.butype_name, q.env, q.nlist)),
  [Msg.DATA_ABORT]: (s) => ok(s.data.abort()),
  [Msg.DATA_STOP]: (s) => ok(s.data.stop()),
  [Msg.DATA_GET_ENV]: (s) => s.data.getEnv(),

  [Msg.MOVER_GET_STATE]: (s) => s.mover.getState(),
  [Msg.MOVER_LISTEN]: (s, q: { mode: number; addr_type: number }) => s.mover.listen(q.mode, q.addr_type),
  [Msg.MOVER_CONNECT]: async (s, q: { mode: number; addr: Parameters<Mover['connect']>[1] }) => ok(await s.mover.connect(q.mode, q.addr)),
  [Msg.MOVER_CONTINUE]: (s) => ok(s.mover.continue_()),
  [Msg.MOVER_ABORT]: (s) => ok(s.mover.abort()),
  [Msg.MOVER_STOP]: (s) => ok(s.mover.stop()),
  [Msg.MOVER_CLOSE]: (s) => ok(s.mover.close()),
  [Msg.MOVER_SET_WINDOW]: (s, q: { offset: bigint; length: bigint }) => ok(s.mover.setWindow(q.offset, q.length)),
  [Msg.MOVER_SET_RECORD_SIZE]: (s, q: { len: number }) => ok(s.mover.setRecordSize(q.len)),
  [Msg.MOVER_READ]: (s, q: { offset: bigint; length: bigint }) => ok(s.mover.read(q.offset, q.length)),
};

function groupByModel(devs: Array<{ model: string; device: string; serial: string }>, tape: boolean) {
  const models = new Map<string, Array<{ device: string; attr: number; capability: { name: string; value: string }[] }>>();
  for (const d of devs) {
    const list = models.get(d.model) ?? [];
    list.push({ device: d.device, attr: 0, capability: [...(d.serial ? [{ name: 'SERIAL_NUMBER', value: d.serial }] : []), ...(tape ? [{ name: 'EXECUTE_CDB', value: 't' }] : [])] });
    models.set(d.model, list);
  }
  return [...models].map(([model, caplist]) => ({ model, caplist }));
}

function hostId(name: string): string {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(name)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

