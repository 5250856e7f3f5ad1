/**
 * One TCP connection of the iSCSI target: login phase (LoginNegotiator), then Full Feature Phase
 * — SCSI commands in CmdSN order, NOP both ways, Text (SendTargets), task management, Logout,
 * Reject for anything malformed. A command's phases live beside it: gathering its write data and
 * soliciting it with R2Ts (write-gather.ts), its data-in and status (data-in.ts), TMFs (tmf.ts),
 * Text answers (discovery.ts).
 *
 * The data path works on raw BHS bytes (OFF offsets from the layouts) and sends header + data
 * slices through a corked PduWriter; write data is gathered straight into one buffer per command.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../log.js';
import type { ScsiResult, ScsiTask } from '../../../firmware-sim/router/task.js';
import { TaskAbort } from '../../../firmware-sim/router/task-abort.js';
import { Sense, ScsiError, decodeSense, encodeSense } from '../../scsi/sense.js';
import { ScsiStatus } from '../../scsi/status.js';
import {
  BHS_LENGTH,
  decodeBhs,
  decodeSamLun,
  encodeBhs,
  LoginStatus,
  LogoutReason,
  LogoutResponseCode,
  OFF,
  Opcode,
  parseAhs,
  PduParser,
  PduWriter,
  RejectReason,
  RESERVED_TAG,
  snAdd,
  type LoginRequestBhs,
  type ParsedPdu,
  type TmfRequestBhs,
} from '../pdu/index.js';
import { decodeText, encodeText, TextError, type KeyValue } from '../text.js';
import { LoginNegotiator, type LoginStep } from './login.js';
import type { TargetHost } from './host.js';
import type { Session } from './session.js';
import { ScsiTaskState, TaskPhase, type TaskConnection } from './scsi-task.js';
import { answerText } from './discovery.js';
import { POOL_MIN } from './buffer-pool.js';
import { runTmf } from './tmf.js';
import { sendResult, sendStatus } from './data-in.js';
import { dataOutSink, immediateSink, issueR2ts, startGather, takeDataOut } from './write-gather.js';
import type { Wire } from './wire.js';

/** Largest text a multi-PDU Text Request may add up to (the same bound a login's text has). */
const MAX_TEXT_REQUEST = 65536;
/** Stop reading from a socket whose unsent output exceeds this. */
const OUTPUT_HIGH_WATER = 32 * 1024 * 1024;
/** Data-Outs for recently aborted tasks are dropped silently; remember this many ITTs. */
const ABORTED_MEMORY = 256;

const ATTR_MAP = [0, 0, 1, 2, 3] as const;

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

type State = 'login' | 'ffp' | 'logout' | 'closed';

export class Connection implements TaskConnection, Wire {
  state: State = 'login';
  /** Next StatSN to send. */
  statSN = 0;
  cid = 0;
  session: Session | undefined;
  readonly parser: PduParser;
  readonly writer: PduWriter;
  /** The portal's logger until login completes, then a child of the session's (its ids in every line). */
  log: Logger | undefined;
  /**
   * Per-task debug lines, decided once at login so that at info level the data path pays one
   * boolean test per command and nothing else (no record object, no clock read).
   */
  private debugTasks = false;
  lastRx = Date.now();
  pingTtt = 0;
  pingSentAt = 0;
  /** Tasks handed to the dispatcher and not yet answered. */
  running = 0;

  private login: LoginNegotiator | undefined;
  private loginResponses = 0;
  private nextTtt = 1;
  private textCont: { ttt: number; itt: number; rest: Buffer } | undefined;
  /** A Text Request arriving in several PDUs (C=1): the parts so far, and the TTT the next one echoes. */
  private textReq: { ttt: number; itt: number; parts: Buffer[]; bytes: number } | undefined;
  private logoutWaiter: (() => void) | undefined;
  private readonly abortedItts = new Set<number>();
  private paused = false;
  /** Gather buffer the parser just filled with a SCSI Command's immediate data (dataSink). */
  private pendingGather: Buffer | undefined;

  constructor(
    readonly portal: TargetHost,
    readonly socket: Socket,
    readonly id: number,
  ) {
    this.log = portal.log?.child({ conn: id, peer: this.peer() });
    this.parser = new PduParser({
      pdu: (p) => this.onPdu(p),
      error: (e) => {
        this.log?.warn({ err: e.message }, 'framing error, closing connection');
        this.close();
      },
      dataSink: (bhs, len) => this.dataSink(bhs, len),
    });
    this.writer = new PduWriter(socket);
    this.login = new LoginNegotiator(portal);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.lastRx = Date.now();
      this.parser.push(chunk);
      if (!this.paused && socket.writableLength > OUTPUT_HIGH_WATER) {
        this.paused = true;
        socket.pause();
        socket.once('drain', () => {
          this.paused = false;
          if (this.state !== 'closed') socket.resume();
        });
      }
    });
    socket.on('error', (e) => this.log?.debug({ err: e.message }, 'socket error'));
    socket.on('close', () => this.closed());
  }

  // ------------------------------------------------------------------------------------------
  // Plumbing

  private peer(): string {
    return `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }

  takeTtt(): number {
    const t = this.nextTtt;
    this.nextTtt = this.nextTtt >= 0x7fffffff ? 1 : this.nextTtt + 1;
    return t;
  }

  expCmdSN(): number {
    return this.session ? this.session.expCmdSN : 0;
  }

  maxCmdSN(): number {
    return this.session ? this.session.maxCmdSN() : 0;
  }

  /** Close the connection now (unsent output is flushed when possible). */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.parser.stop();
    this.socket.end();
    const s = this.socket;
    setTimeout(() => s.destroy(), 2000).unref();
  }

  private closed(): void {
    this.state = 'closed';
    this.parser.stop();
    this.portal.connectionClosed(this);
  }

  private onPdu(p: ParsedPdu): void {
    try {
      if (this.state === 'ffp') this.ffp(p);
      else if (this.state === 'login') this.loginPdu(p);
      // 'logout': the initiator must not send more; anything else is dropped.
    } catch (e) {
      // A bug must not take the process down: log it and drop the connection.
      this.log?.error({ err: e instanceof Error ? e.stack : String(e) }, 'internal error handling PDU');
      this.close();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Login phase

  private loginPdu(p: ParsedPdu): void {
    const op = p.bhs[0]! & 0x3f;
    if (op !== Opcode.LOGIN_REQUEST) {
      this.sendLoginFailure(p.bhs, LoginStatus.INVALID_DURING_LOGIN, 'non-login PDU during login');
      return;
    }
    if (p.oversize || p.ahs) {
      this.sendLoginFailure(p.bhs, LoginStatus.INITIATOR_ERROR, 'login PDU too long or with AHS');
      return;
    }
    const req = decodeBhs(p.bhs) as LoginRequestBhs;
    if (this.loginResponses === 0) this.statSN = req.expStatSN;
    const step = this.login!.step(req, p.data);
    if (step.status !== 0) {
      // The negotiator keeps the names only once they pass its checks; the reason names the culprit.
      this.log?.info({ status: step.status.toString(16), reason: step.reason, isid: req.isid.toString('hex'), initiator: this.login!.initiatorName || undefined, target: this.login!.node?.iqn }, 'login failed');
      this.sendLoginResponse(req, step, 0, req.cmdSN, req.cmdSN);
      this.close();
      return;
    }
    if (!step.fullFeature) {
      this.sendLoginResponse(req, step, req.tsih, req.cmdSN, snAdd(req.cmdSN, this.portal.depth - 1));
      return;
    }
    const lg = this.login!;
    const session = this.portal.establish(this, lg);
    if (!session) {
      this.sendLoginResponse(req, { ...step, status: LoginStatus.SESSION_DOES_NOT_EXIST, transit: false, text: [] }, 0, req.cmdSN, req.cmdSN);
      this.close();
      return;
    }
    this.session = session;
    this.cid = lg.cid;
    this.sendLoginResponse(req, step, session.tsih, session.expCmdSN, session.maxCmdSN());
    const prm = session.params;
    this.writer.headerDigest = this.parser.headerDigest = prm.headerDigest;
    this.writer.dataDigest = this.parser.dataDigest = prm.dataDigest;
    this.parser.maxDataSegmentLength = prm.targetMaxRecvDataSegmentLength;
    this.login = undefined;
    this.state = 'ffp';
    if (session.log) this.log = session.log.child({ conn: this.id, cid: this.cid, peer: this.peer() });
    this.debugTasks = this.log?.isLevelEnabled('debug') ?? false;
    this.log?.info({ type: session.type, headerDigest: prm.headerDigest, dataDigest: prm.dataDigest }, 'login complete');
  }

  private sendLoginResponse(req: LoginRequestBhs, step: LoginStep, tsih: number, expCmdSN: number, maxCmdSN: number): void {
    const data = step.text.length ? encodeText(step.text) : undefined;
    const bhs = encodeBhs({
      opcode: Opcode.LOGIN_RESPONSE,
      transit: step.transit,
      continue: false,
      csg: step.csg,
      nsg: step.transit ? step.nsg : 0,
      versionMax: 0,
      versionActive: 0,
      isid: req.isid,
      tsih,
      itt: req.itt,
      statSN: this.statSN,
      expCmdSN,
      maxCmdSN,
      statusClass: step.status >> 8,
      statusDetail: step.status & 0xff,
    });
    this.statSN = snAdd(this.statSN, 1);
    this.loginResponses++;
    this.writer.send(bhs, data);
  }

  private sendLoginFailure(reqBhs: Buffer, status: number, reason: string): void {
    this.log?.info({ status: status.toString(16), reason, initiator: this.login?.initiatorName || undefined }, 'login failed');
    const bhs = encodeBhs({
      opcode: Opcode.LOGIN_RESPONSE,
      isid: Buffer.from(reqBhs.subarray(8, 14)),
      itt: reqBhs.readUInt32BE(16),
      statSN: this.statSN,
      statusClass: status >> 8,
      statusDetail: status & 0xff,
    });
    this.writer.send(bhs);
    this.close();
  }

  // ------------------------------------------------------------------------------------------
  // Full Feature Phase

  private ffp(p: ParsedPdu): void {
    const b = p.bhs;
    const op = b[0]! & 0x3f;
    if (p.oversize) {
      this.rejectCmd(b, RejectReason.PROTOCOL_ERROR);
      if (op === Opcode.DATA_OUT) this.close();
      return;
    }
    if (p.dataDigestError) {
      this.rejectCmd(b, RejectReason.DATA_DIGEST_ERROR);
      // At ERL 0 the write can no longer complete correctly.
      if (op === Opcode.DATA_OUT) this.close();
      return;
    }
    switch (op) {
      case Opcode.SCSI_COMMAND:
        return this.scsiCommand(p);
      case Opcode.DATA_OUT:
        return this.dataOut(p);
      case Opcode.NOP_OUT:
        return this.nopOut(p);
      case Opcode.TASK_MGMT_REQUEST:
        return this.tmf(p);
      case Opcode.TEXT_REQUEST:
        return this.text(p);
      case Opcode.LOGOUT_REQUEST:
        return this.logout(p);
      case Opcode.SNACK_REQUEST:
      case Opcode.LOGIN_REQUEST:
        return this.reject(b, RejectReason.PROTOCOL_ERROR);
      default:
        return this.reject(b, RejectReason.COMMAND_NOT_SUPPORTED);
    }
  }

  /** Reject (RFC 7143 §11.17): carries the offending BHS back. */
  reject(bhs: Buffer, reason: number): void {
    this.log?.info({ reason: `0x${reason.toString(16)}`, opcode: `0x${(bhs[0]! & 0x3f).toString(16)}`, itt: bhs.readUInt32BE(16) }, 'PDU rejected');
    const hdr = encodeBhs({ opcode: Opcode.REJECT, final: true, reason, itt: RESERVED_TAG, statSN: this.statSN, expCmdSN: this.expCmdSN(), maxCmdSN: this.maxCmdSN() });
    this.statSN = snAdd(this.statSN, 1);
    this.writer.send(hdr, Buffer.from(bhs.subarray(0, BHS_LENGTH)));
  }

  /**
   * Reject a PDU that carries a CmdSN: a rejected non-immediate command still uses up its CmdSN
   * (the initiator has counted it), or the window would stall behind it.
   */
  rejectCmd(bhs: Buffer, reason: number): void {
    this.reject(bhs, reason);
    const op = bhs[0]! & 0x3f;
    const carriesCmdSN = op === Opcode.SCSI_COMMAND || op === Opcode.NOP_OUT || op === Opcode.TEXT_REQUEST || op === Opcode.TASK_MGMT_REQUEST || op === Opcode.LOGOUT_REQUEST;
    if (carriesCmdSN && !(bhs[0]! & 0x40) && this.session && this.session.accepts(bhs.readUInt32BE(24))) this.session.consume(bhs.readUInt32BE(24));
  }

  /** Run `fn(arg)` in CmdSN order (immediate PDUs at once); out-of-window PDUs are dropped silently. */
  private ordered<T>(bhs: Buffer, fn: (arg: T) => void, arg: T): void {
    if (bhs[0]! & 0x40) {
      fn(arg);
      return;
    }
    const cmdSN = bhs.readUInt32BE(24);
    if (this.session!.order(cmdSN, fn, arg) === 'drop') this.log?.debug({ cmdSN, exp: this.session!.expCmdSN }, 'PDU outside the CmdSN window dropped');
  }

  // --- SCSI Command -------------------------------------------------------------------------

  private scsiCommand(p: ParsedPdu): void {
    const s = this.session!;
    const b = p.bhs;
    if (s.type === 'Discovery') return this.rejectCmd(b, RejectReason.COMMAND_NOT_SUPPORTED);
    const flags = b[1]!;
    const immediate = (b[0]! & 0x40) !== 0;
    const final = (flags & 0x80) !== 0;
    const read = (flags & 0x40) !== 0;
    const write = (flags & 0x20) !== 0;
    const itt = b.readUInt32BE(OFF.itt);
    const edtl = b.readUInt32BE(OFF.cmd.edtl);
    const cmdSN = b.readUInt32BE(OFF.cmd.cmdSN);
    if (!immediate && !s.accepts(cmdSN)) {
      this.log?.debug({ cmdSN, exp: s.expCmdSN }, 'SCSI command outside the CmdSN window dropped');
      return;
    }
    if (itt === RESERVED_TAG || s.tasks.has(itt)) return this.rejectCmd(b, itt === RESERVED_TAG ? RejectReason.INVALID_PDU_FIELD : RejectReason.TASK_IN_PROGRESS);
    let cdb = b.subarray(OFF.cmd.cdb, OFF.cmd.cdb + 16);
    if (p.ahs) {
      const a = parseAhs(p.ahs);
      if (a.error || a.bidiReadLength !== undefined) return this.rejectCmd(b, RejectReason.PROTOCOL_ERROR);
      if (a.extendedCdb) cdb = Buffer.concat([cdb, a.extendedCdb]);
    }
    const prm = s.params;
    const dlen = p.data.length;
    let pooled = this.pendingGather;
    this.pendingGather = undefined;
    if (pooled && !(dlen && p.data.buffer === pooled.buffer && p.data.byteOffset === pooled.byteOffset)) pooled = undefined;
    // Immediate data only with W, only when negotiated, never more than EDTL or FirstBurstLength;
    // F=0 (unsolicited Data-Out follows) only with InitialR2T=No.
    if (dlen > 0 && (!write || !prm.immediateData || dlen > edtl || dlen > prm.firstBurstLength)) return this.rejectCmd(b, RejectReason.PROTOCOL_ERROR);
    if (!final && (!write || prm.initialR2T)) return this.rejectCmd(b, RejectReason.PROTOCOL_ERROR);
    const lunBytes = b.subarray(OFF.lun, OFF.lun + 8);
    const lun = decodeSamLun(lunBytes) ?? -1;
    const t = new ScsiTaskState(this, itt, cmdSN, immediate, lun, lunBytes, cdb, edtl, read, write, flags & 7);
    if (this.debugTasks) t.startedAt = performance.now();
    if (write && edtl > 0) pooled = startGather(t, s, this.portal.pool, p.data, final, pooled);
    if (pooled) this.portal.pool.give(pooled);
    s.tasks.set(itt, t);
    this.ordered(b, this.release, t);
  }

  private readonly release = (t: ScsiTaskState): void => {
    t.released = true;
    this.advance(t);
  };

  /** Move a task forward: solicit missing data, or dispatch once all of it is in. */
  private advance(t: ScsiTaskState): void {
    if (t.phase !== TaskPhase.COLLECT || !t.released || t.unsolOpen) return;
    if (t.write && t.edtl > 0) {
      if (t.refuse === 'too-large') {
        // Too large to gather: refuse without reading the data (nothing has been solicited).
        return this.finishEarly(t, Sense.invalidFieldInCdb(0));
      }
      if (t.refuse === 'busy') return this.finishEarly(t, undefined, ScsiStatus.TASK_SET_FULL);
      if (t.received < t.edtl) {
        if (t.r2ts.length === 0 && t.r2tNext < t.received) t.r2tNext = t.received;
        issueR2ts(this, t, this.session!.params);
        return;
      }
    }
    this.dispatch(t);
  }

  private dispatch(t: ScsiTaskState): void {
    const s = this.session!;
    t.phase = TaskPhase.RUNNING;
    if (t.lun < 0) return this.finishEarly(t, Sense.luNotSupported());
    this.running++;
    // The router aborts through the same TaskAbort; no AbortSignal exists unless the LU asks.
    const task: ScsiTask = {
      nexus: s.nexus!,
      lun: t.lun,
      cdb: t.cdb,
      dataInLength: t.read ? t.edtl : 0,
      aborter: (t.ab = new TaskAbort()),
      tag: t.itt,
      attribute: ATTR_MAP[t.attr] ?? 0,
    };
    if (t.write && t.buf) task.dataOut = t.buf;
    if (t.read && t.edtl >= POOL_MIN) task.dataInBuffers = t;
    this.portal.dispatcher.dispatch(task).then(
      (r) => this.complete(t, r),
      (e: unknown) => this.dispatchFailed(t, e),
    );
  }

  /** Answer a task without the dispatcher (bad LUN form, oversize write, no buffer space). */
  private finishEarly(t: ScsiTaskState, err: ScsiError | undefined, status: number = ScsiStatus.CHECK_CONDITION): void {
    t.phase = TaskPhase.RUNNING;
    this.running++;
    this.complete(t, err ? { status: err.status, sense: encodeSense(err.sense) } : { status });
  }

  /** Give a task's write buffer back to the session budget. */
  private releaseGather(t: ScsiTaskState): void {
    if (t.gathered && this.session) {
      this.session.gatherBytes -= t.gathered;
      t.gathered = 0;
    }
  }

  private dispatchFailed(t: ScsiTaskState, e: unknown): void {
    // The router's UnreachableError (matched by name): no zone joins the two ports.
    if (e instanceof Error && e.name === 'UnreachableError') {
      this.log?.warn({ err: e.message }, 'nexus unreachable, closing session');
      this.running--;
      this.portal.endSession(this.session!, 'unreachable');
      return;
    }
    this.log?.error({ err: e instanceof Error ? e.stack : String(e) }, 'dispatch failed');
    const err = Sense.internalTargetFailure();
    this.complete(t, { status: err.status, sense: encodeSense(err.sense) });
  }

  private complete(t: ScsiTaskState, r: ScsiResult): void {
    this.running--;
    this.releaseGather(t);
    const s = this.session!;
    if (t.phase === TaskPhase.ABORTED) {
      if (this.debugTasks) this.logTask(t, undefined);
      if (t.reportAborted && this.state === 'ffp') sendStatus(this, t, ScsiStatus.TASK_ABORTED, undefined, 0, 0, 0);
      this.checkLogout();
      return;
    }
    t.phase = TaskPhase.DONE;
    if (this.debugTasks) this.logTask(t, r);
    if (s.tasks.get(t.itt) === t) s.tasks.delete(t.itt);
    if (this.state === 'closed') return;
    sendResult(this, s, this.portal.pool, t, r);
    if (t.pooled && t.buf) {
      // The device copied the data into its store; the buffer can serve the next write.
      this.portal.pool.give(t.buf);
      t.buf = undefined;
    }
    this.checkLogout();
  }

  /** One debug line per finished task (only called when debug is on; `r` undefined: aborted). */
  private logTask(t: ScsiTaskState, r: ScsiResult | undefined): void {
    let sense: string | undefined;
    if (r?.sense?.length) {
      try {
        const d = decodeSense(r.sense);
        sense = `${d.key.toString(16)}/${hex2(d.asc)}/${hex2(d.ascq)}`;
      } catch {
        sense = r.sense.toString('hex');
      }
    }
    this.log!.debug(
      {
        itt: t.itt,
        cmdSN: t.cmdSN,
        lun: t.lun,
        opcode: `0x${hex2(t.cdb[0]!)}`,
        status: r ? `0x${hex2(r.status)}` : 'aborted',
        ...(sense ? { sense } : {}),
        edtl: t.edtl,
        ms: Math.round((performance.now() - t.startedAt) * 1000) / 1000,
      },
      'task',
    );
  }

  // --- Data-Out -----------------------------------------------------------------------------

  /** Where the parser should copy a Data-Out payload: straight into the task's gather buffer. */
  private dataSink(bhs: Buffer, len: number): Buffer | undefined {
    if (this.state !== 'ffp') return undefined;
    const op = bhs[0]! & 0x3f;
    if (op === Opcode.SCSI_COMMAND) {
      // Large immediate data of a disk write: straight into a recycled gather buffer of EDTL bytes.
      this.pendingGather = immediateSink(bhs, len, this.portal.pool);
      return this.pendingGather?.subarray(0, len);
    }
    if (op !== Opcode.DATA_OUT) return undefined;
    const t = this.session?.tasks.get(bhs.readUInt32BE(OFF.itt));
    if (!t || t.phase !== TaskPhase.COLLECT) return undefined;
    return dataOutSink(t, bhs, len);
  }

  private dataOut(p: ParsedPdu): void {
    const b = p.bhs;
    const s = this.session!;
    const itt = b.readUInt32BE(OFF.itt);
    const t = s.tasks.get(itt);
    if (!t || t.phase !== TaskPhase.COLLECT || !t.write) {
      if (this.abortedItts.has(itt) || (t && t.phase === TaskPhase.ABORTED)) return;
      return this.reject(b, RejectReason.INVALID_PDU_FIELD);
    }
    const out = takeDataOut(t, b, p.data);
    if (out === 'reject') return this.reject(b, RejectReason.INVALID_PDU_FIELD);
    if ('why' in out) return this.protocolBreak(t, b, out.why);
    if (out.solicit) issueR2ts(this, t, s.params);
    if (out.advance) this.advance(t);
  }

  /**
   * Sequence error in write data (DataSN, offset, length): the write cannot complete correctly.
   * Reject the Data-Out (the initiator fails the command by its ITT) and drop the task silently;
   * the connection stays usable, and later Data-Outs of that task are discarded.
   */
  private protocolBreak(t: ScsiTaskState, bhs: Buffer, why: string): void {
    this.log?.warn({ itt: t.itt, why }, 'Data-Out sequence error, task terminated');
    this.reject(bhs, RejectReason.PROTOCOL_ERROR);
    this.abortTask(t, false);
  }

  // --- NOP ----------------------------------------------------------------------------------

  private nopOut(p: ParsedPdu): void {
    const b = p.bhs;
    const itt = b.readUInt32BE(OFF.itt);
    if (itt === RESERVED_TAG) {
      const ttt = b.readUInt32BE(20);
      if (ttt !== RESERVED_TAG && ttt === this.pingTtt) this.pingTtt = 0;
      return;
    }
    this.ordered(b, this.nopReply, p);
  }

  private readonly nopReply = (p: ParsedPdu): void => {
    if (this.state !== 'ffp') return;
    const b = p.bhs;
    const max = this.session!.params.initiatorMaxRecvDataSegmentLength;
    const data = p.data.length > max ? p.data.subarray(0, max) : p.data;
    const hdr = encodeBhs({ opcode: Opcode.NOP_IN, final: true, lun: b.subarray(8, 16), itt: b.readUInt32BE(16), ttt: RESERVED_TAG, statSN: this.statSN, expCmdSN: this.expCmdSN(), maxCmdSN: this.maxCmdSN() });
    this.statSN = snAdd(this.statSN, 1);
    this.writer.send(hdr, data.length ? data : undefined);
  };

  /** Target-initiated ping (keep-alive); StatSN is not advanced. */
  ping(): void {
    this.pingTtt = this.takeTtt();
    this.pingSentAt = Date.now();
    const hdr = encodeBhs({ opcode: Opcode.NOP_IN, final: true, itt: RESERVED_TAG, ttt: this.pingTtt, statSN: this.statSN, expCmdSN: this.expCmdSN(), maxCmdSN: this.maxCmdSN() });
    this.writer.send(hdr);
  }

  // --- Text ---------------------------------------------------------------------------------

  private text(p: ParsedPdu): void {
    const b = p.bhs;
    // RFC 7143 §11.10.2: a Text Request with C=1 must have F=0.
    if (b[1]! & 0x40 && b[1]! & 0x80) return this.rejectCmd(b, RejectReason.PROTOCOL_ERROR);
    this.ordered(b, this.textRun, p);
  }

  private readonly textRun = (p: ParsedPdu): void => {
    if (this.state !== 'ffp') return;
    const b = p.bhs;
    const itt = b.readUInt32BE(16);
    const ttt = b.readUInt32BE(20);
    const more = (b[1]! & 0x40) !== 0;
    let data: Buffer;
    const req = this.textReq;
    if (ttt !== RESERVED_TAG && !(req && req.ttt === ttt && req.itt === itt)) {
      // An empty request fetching the next part of a long response.
      const c = this.textCont;
      if (!c || c.ttt !== ttt || c.itt !== itt) return this.reject(b, RejectReason.INVALID_PDU_FIELD);
      data = c.rest;
      this.textCont = undefined;
    } else {
      this.textCont = undefined;
      // A new exchange (TTT all ones) drops a request left half sent.
      const parts = ttt === RESERVED_TAG ? [] : req!.parts;
      const bytes = (ttt === RESERVED_TAG ? 0 : req!.bytes) + p.data.length;
      this.textReq = undefined;
      // The whole text is kept until its last part: bounded like a login's text.
      if (bytes > MAX_TEXT_REQUEST) return this.reject(b, RejectReason.PROTOCOL_ERROR);
      parts.push(p.data);
      if (more) {
        // RFC 7143 §11.11: each part is answered with an empty response whose TTT the next part echoes.
        const nextTtt = this.takeTtt();
        this.textReq = { ttt: nextTtt, itt, parts, bytes };
        const hdr = encodeBhs({ opcode: Opcode.TEXT_RESPONSE, final: false, continue: false, lun: b.subarray(8, 16), itt, ttt: nextTtt, statSN: this.statSN, expCmdSN: this.expCmdSN(), maxCmdSN: this.maxCmdSN() });
        this.statSN = snAdd(this.statSN, 1);
        this.writer.send(hdr);
        return;
      }
      let pairs: KeyValue[];
      try {
        pairs = decodeText(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
      } catch (e) {
        if (e instanceof TextError) return this.reject(b, RejectReason.PROTOCOL_ERROR);
        throw e;
      }
      data = encodeText(answerText(pairs, this));
    }
    const max = this.session!.params.initiatorMaxRecvDataSegmentLength;
    let part = data;
    let partial = false;
    let nextTtt = RESERVED_TAG;
    if (data.length > max) {
      // Split at a key boundary when possible.
      let cut = data.lastIndexOf(0, max - 1) + 1;
      if (cut <= 0) cut = max;
      part = data.subarray(0, cut);
      partial = true;
      nextTtt = this.takeTtt();
      this.textCont = { ttt: nextTtt, itt, rest: data.subarray(cut) };
    }
    const hdr = encodeBhs({ opcode: Opcode.TEXT_RESPONSE, final: !partial, continue: partial, lun: b.subarray(8, 16), itt, ttt: nextTtt, statSN: this.statSN, expCmdSN: this.expCmdSN(), maxCmdSN: this.maxCmdSN() });
    this.statSN = snAdd(this.statSN, 1);
    this.writer.send(hdr, part.length ? part : undefined);
  };

  // --- Task management ----------------------------------------------------------------------

  private tmf(p: ParsedPdu): void {
    if (this.session!.type === 'Discovery') return this.rejectCmd(p.bhs, RejectReason.COMMAND_NOT_SUPPORTED);
    const req = decodeBhs(p.bhs) as TmfRequestBhs;
    this.ordered(p.bhs, this.tmfRun, req);
  }

  private readonly tmfRun = (req: TmfRequestBhs): void => {
    runTmf(this, req).then(
      (response) => {
        this.log?.info({ function: req.function, lun: decodeSamLun(req.lun) ?? -1, referencedTaskTag: req.referencedTaskTag, response: response.code }, 'task management');
        this.sendTmfResponse(req.itt, response.code, response.after);
      },
      (e: unknown) => {
        this.log?.error({ function: req.function, err: e instanceof Error ? e.stack : String(e) }, 'task management failed');
        this.sendTmfResponse(req.itt, 0xff);
      },
    );
  };

  private sendTmfResponse(itt: number, code: number, after?: () => void): void {
    if (this.state === 'closed') return;
    const hdr = encodeBhs({ opcode: Opcode.TASK_MGMT_RESPONSE, final: true, response: code, itt, statSN: this.statSN, expCmdSN: this.expCmdSN(), maxCmdSN: this.maxCmdSN() });
    this.statSN = snAdd(this.statSN, 1);
    this.writer.send(hdr);
    after?.();
  }

  /** Terminate a task: no more PDUs for it on its own session; TASK ABORTED for third parties. */
  abortTask(t: ScsiTaskState, report: boolean): void {
    if (t.phase === TaskPhase.DONE || t.phase === TaskPhase.ABORTED) return;
    const wasCollecting = t.phase === TaskPhase.COLLECT;
    t.phase = TaskPhase.ABORTED;
    this.releaseGather(t);
    t.reportAborted = report;
    t.ab?.abort();
    const s = this.session;
    if (s && s.tasks.get(t.itt) === t) s.tasks.delete(t.itt);
    if (this.abortedItts.size >= ABORTED_MEMORY) this.abortedItts.clear();
    this.abortedItts.add(t.itt);
    if (wasCollecting && report && this.state === 'ffp') sendStatus(this, t, ScsiStatus.TASK_ABORTED, undefined, 0, 0, 0);
    if (wasCollecting) this.checkLogout();
  }

  // --- Logout -------------------------------------------------------------------------------

  private logout(p: ParsedPdu): void {
    this.ordered(p.bhs, this.logoutRun, p.bhs);
  }

  private readonly logoutRun = (b: Buffer): void => {
    if (this.state !== 'ffp') return;
    const reason = b[1]! & 0x7f;
    const itt = b.readUInt32BE(16);
    const cid = b.readUInt16BE(20);
    const s = this.session!;
    this.log?.info({ reason, cid }, 'logout requested');
    if (reason === LogoutReason.REMOVE_FOR_RECOVERY) return this.sendLogoutResponse(itt, LogoutResponseCode.RECOVERY_NOT_SUPPORTED, false);
    if (reason === LogoutReason.CLOSE_CONNECTION && cid !== this.cid) {
      const other = [...s.conns].find((c) => c.cid === cid && c !== this);
      if (!other) return this.sendLogoutResponse(itt, LogoutResponseCode.CID_NOT_FOUND, false);
      other.close();
      return this.sendLogoutResponse(itt, LogoutResponseCode.SUCCESS, false);
    }
    if (reason !== LogoutReason.CLOSE_SESSION && reason !== LogoutReason.CLOSE_CONNECTION) return this.reject(b, RejectReason.INVALID_PDU_FIELD);
    // Stop taking commands; tasks still gathering data are dropped, running ones finish first.
    this.state = 'logout';
    for (const t of [...s.tasks.values()]) if (t.conn === this && t.phase === TaskPhase.COLLECT) this.abortTask(t, false);
    const finish = (): void => {
      this.logoutWaiter = undefined;
      if (this.state === 'closed') return;
      for (const t of [...s.tasks.values()]) if (t.conn === this) this.abortTask(t, false);
      this.sendLogoutResponse(itt, LogoutResponseCode.SUCCESS, true);
      if (reason === LogoutReason.CLOSE_SESSION) this.portal.endSession(s, 'logout');
      else this.close();
    };
    if (this.running === 0) finish();
    else {
      this.logoutWaiter = finish;
      setTimeout(() => this.logoutWaiter?.(), 10_000).unref();
    }
  };

  private checkLogout(): void {
    if (this.logoutWaiter && this.running === 0) this.logoutWaiter();
  }

  private sendLogoutResponse(itt: number, code: number, _closing: boolean): void {
    const hdr = encodeBhs({ opcode: Opcode.LOGOUT_RESPONSE, final: true, response: code, itt, statSN: this.statSN, expCmdSN: this.expCmdSN(), maxCmdSN: this.maxCmdSN(), time2Wait: 0, time2Retain: 0 });
    this.statSN = snAdd(this.statSN, 1);
    this.writer.send(hdr);
  }
}
