/**
 * The NDMP MOVER of one session (ndmp.md §2.6, §3.4, §3.5): moves the image stream between the
 * data connection and the open tape, record by record. Backup (mode READ): collects full
 * records, zero-pads the last one, pauses EOW at the window end and EOM at early warning or
 * volume overflow. Recover (mode WRITE): reads records from the window, serves the wanted range
 * (LOCAL: everything from window_offset; TCP: what MOVER_READ asked for), pauses SEEK outside
 * the window, EOF at a filemark, EOM at end of data.
 */
import { createServer, connect, type Server } from 'node:net';
import { AddrType, Err, LENGTH_INFINITY, MoverHaltReason, MoverMode, MoverPauseReason, MoverState, DEFAULT_RECORD_SIZE, MAX_RECORD_SIZE, TapeOpenMode, Msg, LogType, DataState } from './constants.js';
import { ConnClosedError, LocalPipe, SocketConn, type ImageConn } from './image-conn.js';
import { LOCAL_ADDR, type Addr } from './messages.js';
import type { TapeService } from './tape.js';
import type { SessionContext } from './session-context.js';

const MASK64 = 0xffff_ffff_ffff_ffffn;

export function tcpAddrOf(host: string, port: number): Addr {
  const ip = host.split('.').map(Number);
  const n = ip.length === 4 && ip.every((x) => x >= 0 && x < 256) ? ((ip[0]! << 24) | (ip[1]! << 16) | (ip[2]! << 8) | ip[3]!) >>> 0 : 0x7f000001;
  return { addr_type: AddrType.TCP, tcp: [{ ip_addr: n, port, addr_env: [] }] };
}
export function hostOf(ip: number): string {
  return [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.');
}

/** Listen on the control connection's local address (ndmp.md §6); resolves with the bound port. */
export function listenTcp(host: string, onConn: (c: SocketConn) => void): Promise<{ server: Server; addr: Addr }> {
  return new Promise((resolve, reject) => {
    const server = createServer({ pauseOnConnect: false }, (s) => {
      // One peer per listen: later connections are refused.
      server.close();
      onConn(new SocketConn(s));
    });
    server.on('error', reject);
    server.listen(0, host, () => {
      const a = server.address();
      resolve({ server, addr: tcpAddrOf(host, typeof a === 'object' && a ? a.port : 0) });
    });
  });
}

export function connectTcp(a: Addr): Promise<SocketConn> {
  return new Promise((resolve, reject) => {
    if (a.addr_type !== AddrType.TCP || !a.tcp.length) return reject(new Error('not a TCP address'));
    const s = connect({ host: hostOf(a.tcp[0]!.ip_addr), port: a.tcp[0]!.port & 0xffff });
    const t = setTimeout(() => s.destroy(new Error('connect timeout')), 10000);
    s.once('connect', () => {
      clearTimeout(t);
      s.removeAllListeners('error');
      resolve(new SocketConn(s));
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

export class Mover {
  state: number = MoverState.IDLE;
  mode: number = MoverMode.NOACTION;
  pauseReason: number = MoverPauseReason.NA;
  haltReason: number = MoverHaltReason.NA;
  recordSize = DEFAULT_RECORD_SIZE;
  recordNum = 0;
  bytesMoved = 0n;
  seekPosition = 0n;
  bytesLeftToRead = 0n;
  windowOffset = 0n;
  windowLength = LENGTH_INFINITY;
  addr: Addr = LOCAL_ADDR;
  conn: ImageConn | undefined;
  private listener: Server | undefined;
  private resume: ((v: 'continue' | 'halt') => void) | undefined;
  private readWait: (() => void) | undefined;
  /** Records read or written since the window's base position. */
  private recInWindow = 0n;

  constructor(
    private readonly ctx: SessionContext,
    private readonly tape: TapeService,
  ) {}

  getState() {
    return {
      error: Err.NO_ERR,
      mode: this.mode,
      state: this.state,
      pause_reason: this.state === MoverState.PAUSED ? this.pauseReason : MoverPauseReason.NA,
      halt_reason: this.state === MoverState.HALTED ? this.haltReason : MoverHaltReason.NA,
      record_size: this.recordSize,
      record_num: this.recordNum >>> 0,
      bytes_moved: this.bytesMoved,
      seek_position: this.seekPosition,
      bytes_left_to_read: this.bytesLeftToRead,
      window_offset: this.windowOffset,
      window_length: this.windowLength,
      data_connection_addr: this.addr,
    };
  }

  private checkModeAddr(mode: number, addrType: number): number {
    if (mode !== MoverMode.READ && mode !== MoverMode.WRITE) return Err.ILLEGAL_ARGS_ERR;
    if (addrType !== AddrType.LOCAL && addrType !== AddrType.TCP) return Err.ILLEGAL_ARGS_ERR;
    return Err.NO_ERR;
  }
  private checkTape(mode: number): number {
    if (!this.tape.open) return Err.DEV_NOT_OPEN_ERR;
    if (mode === MoverMode.READ && this.tape.open.mode === TapeOpenMode.READ) return Err.PERMISSION_ERR;
    return Err.NO_ERR;
  }

  async listen(mode: number, addrType: number): Promise<{ error: number; connect_addr: Addr }> {
    const bad = (error: number) => ({ error, connect_addr: LOCAL_ADDR });
    let e = this.checkModeAddr(mode, addrType);
    if (e) return bad(e);
    if (this.state !== MoverState.IDLE || this.ctx.data.state !== DataState.IDLE) return bad(Err.ILLEGAL_STATE_ERR);
    e = this.checkTape(mode);
    if (e) return bad(e);
    this.mode = mode;
    if (addrType === AddrType.LOCAL) {
      this.addr = LOCAL_ADDR;
    } else {
      try {
        const l = await listenTcp(this.ctx.localHost, (c) => {
          if (this.state === MoverState.LISTEN) this.goActive(c);
          else c.close();
        });
        this.listener = l.server;
        this.addr = l.addr;
      } catch {
        this.mode = MoverMode.NOACTION;
        return bad(Err.CONNECT_ERR);
      }
    }
    this.state = MoverState.LISTEN;
    return { error: Err.NO_ERR, connect_addr: this.addr };
  }

  /** MOVER_CONNECT: LOCAL to this session's listening DATA, or TCP out to a remote DATA. */
  async connect(mode: number, a: Addr): Promise<number> {
    let e = this.checkModeAddr(mode, a.addr_type);
    if (e) return e;
    if (this.state !== MoverState.IDLE) return Err.ILLEGAL_STATE_ERR;
    const data = this.ctx.data;
    if (a.addr_type === AddrType.LOCAL ? !(data.state === DataState.LISTEN && data.addr.addr_type === AddrType.LOCAL) : data.state !== DataState.IDLE) return Err.ILLEGAL_STATE_ERR;
    e = this.checkTape(mode);
    if (e) return e;
    this.mode = mode;
    if (a.addr_type === AddrType.LOCAL) {
      const pipe = new LocalPipe();
      data.connected(pipe, LOCAL_ADDR);
      this.addr = LOCAL_ADDR;
      this.goActive(pipe);
      return Err.NO_ERR;
    }
    if (a.addr_type !== AddrType.TCP || !a.tcp.length) return Err.ILLEGAL_ARGS_ERR;
    try {
      const c = await connectTcp(a);
      this.addr = a;
      this.goActive(c);
      return Err.NO_ERR;
    } catch {
      this.mode = MoverMode.NOACTION;
      return Err.CONNECT_ERR;
    }
  }

  /** DATA_CONNECT LOCAL from the same session: the mover must be listening LOCAL. */
  acceptLocal(pipe: LocalPipe): boolean {
    if (this.state !== MoverState.LISTEN || this.addr.addr_type !== AddrType.LOCAL) return false;
    this.goActive(pipe);
    return true;
  }

  private goActive(conn: ImageConn): void {
    this.listener?.close();
    this.listener = undefined;
    this.conn = conn;
    this.state = MoverState.ACTIVE;
    this.ctx.log(LogType.DEBUG, 'mover going active');
    const run = this.mode === MoverMode.READ ? this.runBackup(conn) : this.runRecover(conn);
    run.catch((err: unknown) => {
      this.ctx.logger.warn({ err }, 'NDMP mover failed');
      this.halt(MoverHaltReason.INTERNAL_ERROR);
    });
  }

  halt(reason: number): void {
    if (this.state === MoverState.HALTED || this.state === MoverState.IDLE) return;
    this.state = MoverState.HALTED;
    this.haltReason = reason;
    this.pauseReason = MoverPauseReason.NA;
    this.listener?.close();
    this.listener = undefined;
    if (this.conn) {
      // A recover that ends normally is end of stream for DATA (queued bytes still arrive).
      if (reason === MoverHaltReason.CONNECT_CLOSED && this.mode === MoverMode.WRITE) this.conn.end();
      else this.conn.close();
    }
    this.ctx.post(Msg.NOTIFY_MOVER_HALTED, { reason });
    const r = this.resume;
    this.resume = undefined;
    r?.('halt');
    const w = this.readWait;
    this.readWait = undefined;
    w?.();
  }

  private pause(reason: number, seek: bigint): Promise<'continue' | 'halt'> {
    this.state = MoverState.PAUSED;
    this.pauseReason = reason;
    this.seekPosition = seek;
    this.ctx.post(Msg.NOTIFY_MOVER_PAUSED, { reason, seek_position: seek });
    return new Promise((res) => (this.resume = res));
  }

  continue_(): number {
    if (this.state !== MoverState.PAUSED) return Err.ILLEGAL_STATE_ERR;
    const e = this.checkTape(this.mode);
    if (e) return e;
    this.state = MoverState.ACTIVE;
    this.pauseReason = MoverPauseReason.NA;
    const r = this.resume;
    this.resume = undefined;
    r?.('continue');
    return Err.NO_ERR;
  }

  abort(): number {
    if (this.state !== MoverState.LISTEN && this.state !== MoverState.ACTIVE && this.state !== MoverState.PAUSED) return Err.ILLEGAL_STATE_ERR;
    this.halt(MoverHaltReason.ABORTED);
    return Err.NO_ERR;
  }

  stop(): number {
    if (this.state !== MoverState.HALTED) return Err.ILLEGAL_STATE_ERR;
    this.reset();
    return Err.NO_ERR;
  }

  close(): number {
    if (this.state === MoverState.IDLE) return Err.ILLEGAL_STATE_ERR;
    if (this.state !== MoverState.HALTED) this.halt(MoverHaltReason.CONNECT_CLOSED);
    return Err.NO_ERR;
  }

  private reset(): void {
    this.state = MoverState.IDLE;
    this.mode = MoverMode.NOACTION;
    this.pauseReason = MoverPauseReason.NA;
    this.haltReason = MoverHaltReason.NA;
    this.recordSize = DEFAULT_RECORD_SIZE;
    this.recordNum = 0;
    this.bytesMoved = 0n;
    this.seekPosition = 0n;
    this.bytesLeftToRead = 0n;
    this.windowOffset = 0n;
    this.windowLength = LENGTH_INFINITY;
    this.addr = LOCAL_ADDR;
    this.conn = undefined;
    this.recInWindow = 0n;
  }

  setWindow(offset: bigint, length: bigint): number {
    if (this.state !== MoverState.IDLE && this.state !== MoverState.PAUSED) return Err.ILLEGAL_STATE_ERR;
    const rs = BigInt(this.recordSize);
    if (offset % rs !== 0n) return Err.ILLEGAL_ARGS_ERR;
    const infinite = length === LENGTH_INFINITY || ((offset + length) & MASK64) === MASK64;
    if (!infinite && length % rs !== 0n) return Err.ILLEGAL_ARGS_ERR;
    this.windowOffset = offset;
    this.windowLength = length;
    this.recordNum = Number(offset / rs);
    this.recInWindow = 0n;
    return Err.NO_ERR;
  }

  setRecordSize(len: number): number {
    if (this.state !== MoverState.IDLE && this.state !== MoverState.PAUSED) return Err.ILLEGAL_STATE_ERR;
    if (len < 512 || len > MAX_RECORD_SIZE || len % 512 !== 0) return Err.ILLEGAL_ARGS_ERR;
    this.recordSize = len;
    return Err.NO_ERR;
  }

  read(offset: bigint, length: bigint): number {
    if (this.state !== MoverState.ACTIVE || this.mode !== MoverMode.WRITE || this.conn?.kind !== 'tcp' || this.bytesLeftToRead !== 0n) return Err.ILLEGAL_STATE_ERR;
    this.seekPosition = offset;
    this.bytesLeftToRead = length;
    const w = this.readWait;
    this.readWait = undefined;
    w?.();
    return Err.NO_ERR;
  }

  private windowEnd(): bigint {
    return this.windowLength === LENGTH_INFINITY ? MASK64 : this.windowOffset + this.windowLength;
  }

  // ------------------------------------------------------------------ backup: connection → tape

  private async runBackup(conn: ImageConn): Promise<void> {
    const rs = this.recordSize;
    let rec = Buffer.alloc(rs);
    let fill = 0;
    for (;;) {
      const chunk = await conn.read();
      if (this.state === MoverState.HALTED) return;
      if (!chunk) break;
      let off = 0;
      while (off < chunk.length) {
        const n = Math.min(rs - fill, chunk.length - off);
        chunk.copy(rec, fill, off, off + n);
        fill += n;
        off += n;
        if (fill === rs) {
          if (!(await this.putRecord(rec))) return;
          rec = Buffer.alloc(rs);
          fill = 0;
        }
      }
    }
    // The last record is zero-padded to record_size (Buffer.alloc zero-fills).
    if (fill > 0 && !(await this.putRecord(rec))) return;
    this.halt(MoverHaltReason.CONNECT_CLOSED);
  }

  private async putRecord(rec: Buffer): Promise<boolean> {
    const rs = BigInt(this.recordSize);
    for (;;) {
      if (this.state !== MoverState.ACTIVE) return false;
      const at = BigInt(this.recordNum) * rs;
      if (at >= this.windowEnd()) {
        if ((await this.pause(MoverPauseReason.EOW, at)) !== 'continue') return false;
        continue;
      }
      const r = await this.tape.writeRecord(rec);
      if (r.error === Err.NO_ERR || r.earlyWarning) {
        this.recordNum++;
        this.recInWindow++;
        this.bytesMoved += rs;
        if (r.earlyWarning && (await this.pause(MoverPauseReason.EOM, BigInt(this.recordNum) * rs)) !== 'continue') return false;
        return true;
      }
      if (r.error === Err.EOM_ERR) {
        // VOLUME OVERFLOW: nothing written; the record goes to the next tape after CONTINUE.
        if ((await this.pause(MoverPauseReason.EOM, at)) !== 'continue') return false;
        continue;
      }
      this.halt(MoverHaltReason.MEDIA_ERROR);
      return false;
    }
  }

  // ------------------------------------------------------------------ recover: tape → connection

  private async runRecover(conn: ImageConn): Promise<void> {
    const rs = BigInt(this.recordSize);
    if (conn.kind === 'local') {
      // LOCAL: DATA reads the stream sequentially from the window start.
      this.seekPosition = this.windowOffset;
      this.bytesLeftToRead = LENGTH_INFINITY;
    }
    for (;;) {
      if (this.state === MoverState.HALTED) return;
      if (this.state !== MoverState.ACTIVE) return;
      if (this.bytesLeftToRead === 0n) {
        await new Promise<void>((res) => (this.readWait = res));
        continue;
      }
      const want = this.seekPosition;
      if (want < this.windowOffset || want >= this.windowEnd()) {
        if ((await this.pause(MoverPauseReason.SEEK, want)) !== 'continue') return;
        continue;
      }
      const idx = (want - this.windowOffset) / rs;
      if (idx !== this.recInWindow) {
        const delta = Number(idx - this.recInWindow);
        const r = await this.tape.mtio(delta > 0 ? 2 : 3, Math.abs(delta));
        if (r.error || r.resid_count) {
          this.halt(MoverHaltReason.MEDIA_ERROR);
          return;
        }
        this.recInWindow = idx;
      }
      const r = await this.tape.readRecord(this.recordSize);
      if (r.error === Err.EOF_ERR || r.error === Err.EOM_ERR) {
        if ((await this.pause(r.error === Err.EOF_ERR ? MoverPauseReason.EOF : MoverPauseReason.EOM, want)) !== 'continue') return;
        continue;
      }
      if (r.error) {
        this.halt(MoverHaltReason.MEDIA_ERROR);
        return;
      }
      this.recInWindow++;
      this.recordNum = Number(this.windowOffset / rs + this.recInWindow);
      const recStart = this.windowOffset + idx * rs;
      let piece = r.data.subarray(Number(want - recStart));
      if (BigInt(piece.length) > this.bytesLeftToRead) piece = piece.subarray(0, Number(this.bytesLeftToRead));
      try {
        await conn.write(piece);
      } catch (e) {
        if (!(e instanceof ConnClosedError)) throw e;
        this.halt(MoverHaltReason.CONNECT_CLOSED);
        return;
      }
      this.seekPosition += BigInt(piece.length);
      this.bytesLeftToRead -= BigInt(piece.length);
      this.bytesMoved += BigInt(piece.length);
    }
  }

  /** Session end: drop everything. */
  dispose(): void {
    this.listener?.close();
    this.conn?.close();
    if (this.state !== MoverState.IDLE && this.state !== MoverState.HALTED) {
      this.state = MoverState.HALTED;
      this.resume?.('halt');
      this.readWait?.();
    }
  }
}
