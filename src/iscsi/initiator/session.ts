/**
 * A logged-in initiator session (one connection, ERL 0): SCSI commands with many outstanding
 * tasks inside the CmdSN window, immediate + unsolicited data within FirstBurstLength, R2T-driven
 * Data-Out, Data-In received straight into the task's buffer (phase collapse honoured), NOP-In
 * answers, task management, SendTargets and logout.
 */
import { randomBytes } from 'node:crypto';
import type { OperationalParams } from '../keys.js';
import { extendedCdbAhs } from '../pdu/ahs.js';
import { encodeBhs } from '../pdu/bhs.js';
import { LogoutReason, Opcode, RESERVED_TAG, TaskAttr, TmfFunction, TmfResponse } from '../pdu/constants.js';
import { decodeSamLun, encodeSamLun } from '../pdu/lun.js';
import type { ParsedPdu } from '../pdu/parser.js';
import { decodeText, encodeText } from '../text.js';
import type { Connection } from './connection.js';
import { ConnectionClosedError, IscsiError, ProtocolError, RejectError, TargetFailureError, TaskAbortedError, TimeoutError } from './errors.js';
import type { LoginResult } from './login.js';
import { serialGt, serialLe, serialLt } from './serial.js';
import { inquiry, readCapacity16, reportLuns } from './scsi.js';
import type { CommandRequest, CommandResult, ConnectOptions, DiscoveredTarget, TargetPortal } from './types.js';

interface Task {
  itt: number;
  lun: number;
  cmdSN: number;
  sent: boolean;
  req: CommandRequest;
  dataOut: Buffer | undefined;
  buf: Buffer | undefined;
  received: number;
  resolve(r: CommandResult): void;
  reject(e: Error): void;
  cleanup?: () => void;
}

interface Pending {
  resolve(p: ParsedPdu): void;
  reject(e: Error): void;
}

const EMPTY = Buffer.alloc(0);

/** Bytes 28..35 of every target PDU: ExpCmdSN, MaxCmdSN. Byte 24: StatSN. */
const OFF_STATSN = 24;
const OFF_EXPCMDSN = 28;
const OFF_MAXCMDSN = 32;

export class IscsiSession {
  readonly params: OperationalParams;
  readonly tsih: number;
  readonly isid: Buffer;
  readonly targetName: string | undefined;
  readonly targetAlias: string | undefined;
  readonly discovery: boolean;

  private cmdSN: number;
  private expCmdSN: number;
  private maxCmdSN: number;
  private expStatSN: number;
  private nextItt = randomBytes(4).readUInt32BE(0) & 0x7fffffff;
  private readonly tasks = new Map<number, Task>();
  private readonly queue: Task[] = [];
  private readonly pending = new Map<number, Pending>();
  private closedError: Error | undefined;
  private loggingOut = false;
  private lastRx = Date.now();
  private readonly closeWaiters: Array<(e: Error) => void> = [];

  constructor(
    private readonly conn: Connection,
    private readonly opts: ConnectOptions,
    l: LoginResult,
  ) {
    this.params = l.params;
    this.tsih = l.tsih;
    this.isid = l.isid;
    this.targetName = opts.targetName;
    this.targetAlias = l.targetAlias;
    this.discovery = !!opts.discovery;
    this.cmdSN = l.cmdSN;
    this.expCmdSN = l.expCmdSN;
    this.maxCmdSN = l.maxCmdSN;
    this.expStatSN = (l.statSN + 1) >>> 0;
    conn.parser.maxDataSegmentLength = this.params.initiatorMaxRecvDataSegmentLength;
    conn.setDigests(this.params.headerDigest, this.params.dataDigest);
    if (opts.keepaliveMs && opts.keepaliveMs > 0) this.startKeepalive(opts.keepaliveMs);
    conn.setHandlers({
      pdu: (p) => this.onPdu(p),
      dataSink: (bhs, len) => this.dataSink(bhs, len),
      closed: (e) => this.onClosed(e),
    });
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Commands queued locally because the CmdSN window is closed, plus those at the target. */
  get outstanding(): number {
    return this.tasks.size;
  }

  /** Resolves when the connection is gone, with the reason. */
  waitClosed(): Promise<Error> {
    if (this.closedError) return Promise.resolve(this.closedError);
    return new Promise((r) => this.closeWaiters.push(r));
  }

  // ------------------------------------------------------------------ SCSI commands

  /** Send a SCSI command; resolves with its status, Data-In, sense and residuals. */
  command(req: CommandRequest): Promise<CommandResult> {
    return this.startCommand(req).result;
  }

  /** Like command(), also returning the Initiator Task Tag (for abortTask). */
  startCommand(req: CommandRequest): { itt: number; result: Promise<CommandResult> } {
    const itt = this.allocItt();
    const result = new Promise<CommandResult>((resolve, reject) => {
      if (this.closedError) return reject(this.closedError);
      if (this.discovery) return reject(new IscsiError('SCSI commands are not allowed in a discovery session'));
      const dataIn = req.dataInLength ?? 0;
      if (req.dataOut?.length && dataIn > 0) return reject(new IscsiError('bidirectional commands are not supported'));
      if (req.cdb.length < 6 || req.cdb.length > 16 + 255 * 4 - 4) return reject(new IscsiError(`bad CDB length ${req.cdb.length}`));
      // Validate everything the BHS encoder would choke on before a CmdSN is spent on it.
      if (!validLun(req.lun)) return reject(new IscsiError(`LUN ${req.lun} cannot be addressed`));
      if (!(dataIn >= 0 && dataIn <= 0xffffffff) || (req.dataOut?.length ?? 0) > 0xffffffff) return reject(new IscsiError('transfer length out of range'));
      const into = dataIn > 0 ? req.dataInBuffers?.allocDataIn(dataIn) : undefined;
      if (into && into.length < dataIn) return reject(new IscsiError('the data-in buffer is smaller than dataInLength'));
      const t: Task = {
        itt,
        lun: req.lun,
        cmdSN: 0,
        sent: false,
        req,
        dataOut: req.dataOut?.length ? req.dataOut : undefined,
        buf: dataIn > 0 ? (into?.subarray(0, dataIn) ?? Buffer.allocUnsafe(dataIn)) : undefined,
        received: 0,
        resolve,
        reject,
      };
      this.armTask(t);
      this.tasks.set(itt, t);
      this.queue.push(t);
      this.pump();
    });
    return { itt, result };
  }

  private armTask(t: Task): void {
    const timeoutMs = t.req.timeoutMs ?? this.opts.commandTimeoutMs ?? 0;
    const signal = t.req.signal;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => void this.abortTask(t.itt).catch(() => undefined);
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        void this.abortTask(t.itt).catch(() => undefined);
        this.finish(t, new TimeoutError(`command 0x${t.req.cdb[0]!.toString(16)} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    }
    if (signal) {
      if (signal.aborted) queueMicrotask(onAbort);
      else signal.addEventListener('abort', onAbort, { once: true });
    }
    t.cleanup = () => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
  }

  private allocItt(): number {
    for (;;) {
      const itt = this.nextItt;
      this.nextItt = (this.nextItt + 1) >>> 0;
      if (itt !== RESERVED_TAG && !this.tasks.has(itt) && !this.pending.has(itt)) return itt;
    }
  }

  /** Send queued commands while the CmdSN window is open. */
  private pump(): void {
    while (this.queue.length && serialLe(this.cmdSN, this.maxCmdSN) && !this.closedError) {
      const t = this.queue.shift()!;
      this.sendCommand(t);
    }
  }

  private sendCommand(t: Task): void {
    const p = this.params;
    const out = t.dataOut;
    const edtl = out ? out.length : t.buf ? t.buf.length : 0;
    t.cmdSN = this.cmdSN;
    this.cmdSN = (this.cmdSN + 1) >>> 0;
    t.sent = true;
    const mrdslT = p.targetMaxRecvDataSegmentLength;
    const immLen = out && p.immediateData ? Math.min(p.firstBurstLength, mrdslT, edtl) : 0;
    const unsolEnd = out && !p.initialR2T ? Math.min(p.firstBurstLength, edtl) : immLen;
    const cdb = t.req.cdb;
    const cdb16 = Buffer.alloc(16);
    cdb.copy(cdb16, 0, 0, Math.min(16, cdb.length));
    const bhs = encodeBhs({
      opcode: Opcode.SCSI_COMMAND,
      final: unsolEnd <= immLen,
      read: !!t.buf,
      write: !!out,
      attr: t.req.attr ?? TaskAttr.SIMPLE,
      lun: encodeSamLun(t.lun),
      itt: t.itt,
      expectedDataTransferLength: edtl,
      cmdSN: t.cmdSN,
      expStatSN: this.expStatSN,
      cdb: cdb16,
    });
    this.conn.send(bhs, immLen ? out!.subarray(0, immLen) : undefined, cdb.length > 16 ? extendedCdbAhs(cdb) : undefined);
    if (unsolEnd > immLen) this.sendDataOut(t, RESERVED_TAG, encodeSamLun(0), immLen, unsolEnd);
  }

  /** One data sequence [start, end) as Data-Out PDUs of at most the target's MaxRecvDataSegmentLength. */
  private sendDataOut(t: Task, ttt: number, lun: Buffer, start: number, end: number): void {
    const max = this.params.targetMaxRecvDataSegmentLength;
    let dataSN = 0;
    for (let off = start; off < end; off += max) {
      const len = Math.min(max, end - off);
      const bhs = encodeBhs({
        opcode: Opcode.DATA_OUT,
        final: off + len >= end,
        lun,
        itt: t.itt,
        ttt,
        expStatSN: this.expStatSN,
        dataSN: dataSN++,
        bufferOffset: off,
      });
      this.conn.send(bhs, t.dataOut!.subarray(off, off + len));
    }
  }

  private finish(t: Task, r: CommandResult | Error): void {
    if (this.tasks.get(t.itt) !== t) return;
    this.tasks.delete(t.itt);
    const qi = this.queue.indexOf(t);
    if (qi >= 0) this.queue.splice(qi, 1);
    t.cleanup?.();
    if (r instanceof Error) t.reject(r);
    else t.resolve(r);
  }

  // ------------------------------------------------------------------ receive path

  private dataSink(bhs: Buffer, len: number): Buffer | undefined {
    if ((bhs[0]! & 0x3f) !== Opcode.DATA_IN) return undefined;
    const t = this.tasks.get(bhs.readUInt32BE(16));
    if (!t?.buf) return undefined;
    const off = bhs.readUInt32BE(40);
    if (off + len > t.buf.length) return undefined;
    return t.buf.subarray(off, off + len);
  }

  private startKeepalive(ms: number): void {
    let pinging = false;
    const timer = setInterval(() => {
      if (this.closedError || pinging || Date.now() - this.lastRx < ms) return;
      pinging = true;
      this.nop(EMPTY, ms).then(
        () => (pinging = false),
        (e: unknown) => {
          if (!this.closedError) this.conn.fail(new TimeoutError(`keep-alive: target did not answer a NOP-Out within ${ms} ms (${(e as Error).message})`));
        },
      );
    }, Math.max(10, Math.floor(ms / 2)));
    timer.unref();
    this.closeWaiters.push(() => clearInterval(timer));
  }

  private onPdu(p: ParsedPdu): void {
    this.lastRx = Date.now();
    const b = p.bhs;
    const op = b[0]! & 0x3f;
    if (op !== Opcode.LOGIN_RESPONSE) this.updateWindow(b.readUInt32BE(OFF_EXPCMDSN), b.readUInt32BE(OFF_MAXCMDSN));
    const itt = b.readUInt32BE(16);
    switch (op) {
      case Opcode.DATA_IN:
        this.onDataIn(p, itt);
        break;
      case Opcode.SCSI_RESPONSE:
        this.advanceStatSN(b);
        this.onScsiResponse(p, itt);
        break;
      case Opcode.R2T:
        this.onR2t(b, itt);
        break;
      case Opcode.NOP_IN:
        if (itt !== RESERVED_TAG) {
          this.advanceStatSN(b);
          this.settle(itt, p);
        } else if (b.readUInt32BE(20) !== RESERVED_TAG) this.answerPing(b);
        break;
      case Opcode.TASK_MGMT_RESPONSE:
      case Opcode.TEXT_RESPONSE:
      case Opcode.LOGOUT_RESPONSE:
        this.advanceStatSN(b);
        this.settle(itt, p);
        break;
      case Opcode.REJECT:
        this.advanceStatSN(b);
        this.onReject(p);
        break;
      case Opcode.ASYNC_MESSAGE:
        this.advanceStatSN(b);
        this.onAsync(p);
        break;
      default:
        this.conn.fail(new ProtocolError(`unexpected opcode 0x${op.toString(16)} from target in full feature phase`));
    }
  }

  private updateWindow(exp: number, max: number): void {
    // RFC 7143 §4.2.2.1: a MaxCmdSN below ExpCmdSN - 1 is ignored; neither number goes back.
    if (serialLt(max, (exp - 1) >>> 0)) return;
    if (serialGt(exp, this.expCmdSN)) this.expCmdSN = exp;
    if (serialGt(max, this.maxCmdSN)) {
      this.maxCmdSN = max;
      if (this.queue.length) this.pump();
    }
  }

  private advanceStatSN(b: Buffer): void {
    const next = (b.readUInt32BE(OFF_STATSN) + 1) >>> 0;
    if (serialGt(next, this.expStatSN)) this.expStatSN = next;
  }

  private onDataIn(p: ParsedPdu, itt: number): void {
    const b = p.bhs;
    const t = this.tasks.get(itt);
    if (!t) return; // aborted or timed out: its data is dropped
    if (!t.buf) return this.conn.fail(new ProtocolError(`Data-In for non-read task 0x${itt.toString(16)}`));
    const off = b.readUInt32BE(40);
    const len = p.data.length;
    if (p.oversize) return this.conn.fail(new ProtocolError('Data-In larger than our MaxRecvDataSegmentLength'));
    if (off !== t.received) return this.conn.fail(new ProtocolError(`Data-In out of order: offset ${off}, expected ${t.received}`));
    if (off + len > t.buf.length) return this.conn.fail(new ProtocolError(`Data-In beyond the expected transfer length (${off + len} > ${t.buf.length})`));
    if (p.dataDigestError) return this.conn.fail(new ProtocolError('Data-In data digest error'));
    if (len && (p.data.buffer !== t.buf.buffer || p.data.byteOffset !== t.buf.byteOffset + off)) p.data.copy(t.buf, off);
    t.received = off + len;
    const flags = b[1]!;
    if (flags & 0x01) {
      this.advanceStatSN(b);
      this.finish(t, this.result(t, b[3]!, flags, b.readUInt32BE(44), undefined));
    }
  }

  private onScsiResponse(p: ParsedPdu, itt: number): void {
    const b = p.bhs;
    const t = this.tasks.get(itt);
    if (!t) return;
    const response = b[2]!;
    if (response !== 0) return this.finish(t, new TargetFailureError(response));
    let sense: Buffer | undefined;
    if (p.data.length >= 2) {
      const n = p.data.readUInt16BE(0);
      if (n > 0) sense = Buffer.from(p.data.subarray(2, 2 + n));
    }
    this.finish(t, this.result(t, b[3]!, b[1]!, b.readUInt32BE(44), sense));
  }

  private result(t: Task, status: number, flags: number, residual: number, sense: Buffer | undefined): CommandResult {
    const r: CommandResult = { status, dataIn: t.buf ? t.buf.subarray(0, t.received) : EMPTY };
    if (sense) r.sense = sense;
    if (flags & 0x02) r.residualUnderflow = residual;
    if (flags & 0x04) r.residualOverflow = residual;
    return r;
  }

  private onR2t(b: Buffer, itt: number): void {
    const t = this.tasks.get(itt);
    if (!t) return; // aborted: nothing more to send
    const off = b.readUInt32BE(40);
    const len = b.readUInt32BE(44);
    if (!t.dataOut || len === 0 || off + len > t.dataOut.length) {
      return this.conn.fail(new ProtocolError(`R2T for [${off}, ${off + len}) outside the write data of task 0x${itt.toString(16)}`));
    }
    if (len > this.params.maxBurstLength) {
      return this.conn.fail(new ProtocolError(`R2T asks for ${len} bytes, more than MaxBurstLength ${this.params.maxBurstLength}`));
    }
    this.sendDataOut(t, b.readUInt32BE(20), Buffer.from(b.subarray(8, 16)), off, off + len);
  }

  private answerPing(b: Buffer): void {
    const bhs = encodeBhs({
      opcode: Opcode.NOP_OUT,
      immediate: true,
      final: true,
      lun: Buffer.from(b.subarray(8, 16)),
      itt: RESERVED_TAG,
      ttt: b.readUInt32BE(20),
      cmdSN: this.cmdSN,
      expStatSN: this.expStatSN,
    });
    this.conn.send(bhs);
  }

  private onReject(p: ParsedPdu): void {
    const reason = p.bhs[2]!;
    if (p.data.length < 48) return;
    const op = p.data[0]! & 0x3f;
    const itt = p.data.readUInt32BE(16);
    const err = new RejectError(reason, op);
    const t = this.tasks.get(itt);
    if (t) return this.finish(t, err);
    const w = this.pending.get(itt);
    if (w) {
      this.pending.delete(itt);
      w.reject(err);
    }
  }

  private onAsync(p: ParsedPdu): void {
    const event = p.bhs[36]!;
    if (event === 0) {
      const lun = decodeSamLun(p.bhs, 8) ?? 0;
      const n = p.data.length >= 2 ? p.data.readUInt16BE(0) : 0;
      this.opts.onAsyncEvent?.({ event, lun, ...(n ? { sense: Buffer.from(p.data.subarray(2, 2 + n)) } : {}) });
    } else if (event === 1) {
      // Target asks us to log out.
      void this.logout().catch(() => undefined);
    } else {
      this.opts.onAsyncEvent?.({ event, lun: 0 });
    }
  }

  private settle(itt: number, p: ParsedPdu): void {
    const w = this.pending.get(itt);
    if (!w) return;
    this.pending.delete(itt);
    w.resolve(p);
  }

  private onClosed(e: Error): void {
    if (this.closedError) return;
    this.closedError = e instanceof IscsiError ? e : new ConnectionClosedError(e.message);
    for (const t of [...this.tasks.values()]) this.finish(t, this.closedError);
    for (const w of this.pending.values()) w.reject(this.closedError);
    this.pending.clear();
    for (const w of this.closeWaiters.splice(0)) w(this.closedError);
  }

  /** REPORT LUNS to LUN 0 (full list). */
  reportLuns(selectReport?: number): Promise<number[]> {
    return reportLuns(this, selectReport);
  }

  inquiry(lun: number): ReturnType<typeof inquiry> {
    return inquiry(this, lun);
  }

  readCapacity16(lun: number): ReturnType<typeof readCapacity16> {
    return readCapacity16(this, lun);
  }

  // ------------------------------------------------------------------ immediate requests

  /** Send an immediate PDU and wait for the response with the same ITT. */
  private request(bhs: Buffer, data: Buffer | undefined, itt: number, timeoutMs: number, what: string): Promise<ParsedPdu> {
    return new Promise<ParsedPdu>((resolve, reject) => {
      if (this.closedError) return reject(this.closedError);
      const timer = setTimeout(() => {
        this.pending.delete(itt);
        reject(new TimeoutError(`${what}: no response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(itt, {
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.conn.send(bhs, data);
    });
  }

  /** NOP-Out ping; resolves with the echoed data. */
  async nop(data: Buffer = EMPTY, timeoutMs = 10_000): Promise<Buffer> {
    const itt = this.allocItt();
    const bhs = encodeBhs({
      opcode: Opcode.NOP_OUT,
      immediate: true,
      final: true,
      lun: encodeSamLun(0),
      itt,
      ttt: RESERVED_TAG,
      cmdSN: this.cmdSN,
      expStatSN: this.expStatSN,
    });
    const p = await this.request(bhs, data.length ? data : undefined, itt, timeoutMs, 'NOP-Out');
    return Buffer.from(p.data);
  }

  /** Task management request; resolves with the TMF response code (TmfResponse). */
  async taskManagement(fn: number, lun = 0, referencedTaskTag = RESERVED_TAG, refCmdSN = 0, timeoutMs = 30_000): Promise<number> {
    const itt = this.allocItt();
    const bhs = encodeBhs({
      opcode: Opcode.TASK_MGMT_REQUEST,
      immediate: true,
      final: true,
      function: fn,
      lun: encodeSamLun(lun),
      itt,
      referencedTaskTag,
      cmdSN: this.cmdSN,
      expStatSN: this.expStatSN,
      refCmdSN,
    });
    const p = await this.request(bhs, undefined, itt, timeoutMs, `task management function ${fn}`);
    return p.bhs[2]!;
  }

  /**
   * ABORT TASK for a command started with startCommand(). On "function complete" the command's
   * promise rejects with TaskAbortedError (the target sends no status for an aborted task).
   */
  async abortTask(itt: number): Promise<number> {
    const t = this.tasks.get(itt);
    if (!t) return TmfResponse.TASK_DOES_NOT_EXIST;
    if (!t.sent) {
      this.finish(t, new TaskAbortedError('aborted before it was sent'));
      return TmfResponse.FUNCTION_COMPLETE;
    }
    const r = await this.taskManagement(TmfFunction.ABORT_TASK, t.lun, itt, t.cmdSN);
    if (r === TmfResponse.FUNCTION_COMPLETE) this.finish(t, new TaskAbortedError(`task 0x${itt.toString(16)} aborted`));
    return r;
  }

  /** LOGICAL UNIT RESET; on success every outstanding command to that LUN rejects with TaskAbortedError. */
  async lunReset(lun: number): Promise<number> {
    const r = await this.taskManagement(TmfFunction.LOGICAL_UNIT_RESET, lun);
    if (r === TmfResponse.FUNCTION_COMPLETE) {
      for (const t of [...this.tasks.values()]) if (t.sent && t.lun === lun) this.finish(t, new TaskAbortedError(`LUN ${lun} reset`));
    }
    return r;
  }

  /** A Text exchange, following continuation (C=1 / F=0 with a TTT) until the final response. */
  async text(keys: ReadonlyArray<readonly [string, string]>, timeoutMs = 10_000): Promise<Array<readonly [string, string]>> {
    const itt = this.allocItt();
    const chunks: Buffer[] = [];
    let ttt = RESERVED_TAG;
    let data: Buffer | undefined = encodeText(keys);
    for (let i = 0; i < 1024; i++) {
      const bhs = encodeBhs({
        opcode: Opcode.TEXT_REQUEST,
        immediate: true,
        final: true,
        lun: encodeSamLun(0),
        itt,
        ttt,
        cmdSN: this.cmdSN,
        expStatSN: this.expStatSN,
      });
      const p = await this.request(bhs, data, itt, timeoutMs, 'Text Request');
      data = undefined;
      if (p.data.length) chunks.push(Buffer.from(p.data));
      const final = (p.bhs[1]! & 0x80) !== 0;
      if (final) return decodeText(Buffer.concat(chunks));
      ttt = p.bhs.readUInt32BE(20);
      if (ttt === RESERVED_TAG) throw new ProtocolError('Text Response continues without a Target Transfer Tag');
    }
    throw new ProtocolError('Text Response never ended');
  }

  /** SendTargets (`All` by default): the targets and portals the target reports. */
  async sendTargets(value = 'All'): Promise<DiscoveredTarget[]> {
    const kv = await this.text([['SendTargets', value]]);
    const out: DiscoveredTarget[] = [];
    for (const [k, v] of kv) {
      if (k === 'TargetName') out.push({ name: v, addresses: [] });
      else if (k === 'TargetAddress') {
        const a = parseTargetAddress(v);
        if (a && out.length) out[out.length - 1]!.addresses.push(a);
      } else if (k === 'SendTargets') {
        throw new IscsiError(`SendTargets=${value} answered ${v}`);
      }
    }
    return out;
  }

  /** Logout (close the session), wait for the response, close the connection. */
  async logout(timeoutMs = 5_000): Promise<void> {
    if (this.closedError || this.loggingOut) return;
    this.loggingOut = true;
    const itt = this.allocItt();
    const bhs = encodeBhs({
      opcode: Opcode.LOGOUT_REQUEST,
      immediate: true,
      final: true,
      reason: LogoutReason.CLOSE_SESSION,
      itt,
      cid: 0,
      cmdSN: this.cmdSN,
      expStatSN: this.expStatSN,
    });
    try {
      const p = await this.request(bhs, undefined, itt, timeoutMs, 'Logout');
      if (p.bhs[2] !== 0) throw new IscsiError(`logout refused: response ${p.bhs[2]}`);
    } finally {
      this.onClosed(new ConnectionClosedError('logged out'));
      await this.conn.end();
    }
  }

  /** Log out if possible, otherwise just drop the connection. Never throws. */
  async close(): Promise<void> {
    try {
      await this.logout();
    } catch {
      // The connection is going away either way.
    }
    this.destroy();
  }

  /** Drop the connection now (no logout). */
  destroy(): void {
    this.conn.fail(new ConnectionClosedError('connection closed by initiator'));
    this.onClosed(new ConnectionClosedError('connection closed by initiator'));
  }
}

function validLun(lun: number): boolean {
  return Number.isInteger(lun) && ((lun >= 0 && lun < 0x4000) || (lun & 0xff00) === 0xc100);
}

/** `host[:port][,tpgt]`, host possibly `[ipv6]`. */
export function parseTargetAddress(v: string): TargetPortal | undefined {
  const m = /^(\[[^\]]+\]|[^:,]+)(?::(\d+))?(?:,(\d+))?$/.exec(v);
  if (!m) return undefined;
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return { host, port: m[2] ? Number(m[2]) : 3260, tpgt: m[3] ? Number(m[3]) : 1 };
}
