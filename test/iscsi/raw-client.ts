/**
 * A bare iSCSI initiator for target tests over real TCP: send any PDU (even malformed ones),
 * collect what the target answers. Uses the shared codec, not the project's initiator.
 */
import net from 'node:net';
import { decodeBhs, encodeBhs, Opcode, PduParser, serializePduToBuffer, type Bhs, type BhsInput, type LoginResponseBhs, type ParsedPdu } from '../../src/iscsi/pdu/index.js';
import { decodeText, encodeText, type KeyValue } from '../../src/iscsi/text.js';

export interface RxPdu {
  bhs: Bhs;
  raw: Buffer;
  data: Buffer;
  text?: KeyValue[];
}

export const LIBISCSI_KEYS: KeyValue[] = [
  ['HeaderDigest', 'None'],
  ['DataDigest', 'None'],
  ['InitialR2T', 'No'],
  ['ImmediateData', 'Yes'],
  ['MaxBurstLength', '262144'],
  ['FirstBurstLength', '262144'],
  ['DefaultTime2Wait', '2'],
  ['DefaultTime2Retain', '0'],
  ['MaxOutstandingR2T', '1'],
  ['ErrorRecoveryLevel', '0'],
  ['IFMarker', 'No'],
  ['OFMarker', 'No'],
  ['MaxConnections', '1'],
  ['MaxRecvDataSegmentLength', '262144'],
  ['DataPDUInOrder', 'Yes'],
  ['DataSequenceInOrder', 'Yes'],
];

export class RawClient {
  readonly sock: net.Socket;
  readonly parser: PduParser;
  private readonly queue: RxPdu[] = [];
  private waiter: (() => void) | undefined;
  closed = false;
  isid = Buffer.from([0x80, 0x12, 0x34, 0x56, 0x00, 0x00]);
  itt = 0x1000;
  cmdSN = 100;
  expStatSN = 0;
  tsih = 0;
  headerDigest = false;
  dataDigest = false;

  private constructor(sock: net.Socket) {
    this.sock = sock;
    this.parser = new PduParser({
      pdu: (p) => this.onPdu(p),
      error: () => this.sock.destroy(),
    });
    this.parser.maxDataSegmentLength = 16 * 1024 * 1024;
    sock.on('data', (c: Buffer) => this.parser.push(c));
    sock.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    sock.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private onPdu(p: ParsedPdu): void {
    const bhs = decodeBhs(p.bhs);
    const data = Buffer.from(p.data);
    const rx: RxPdu = { bhs, raw: Buffer.from(p.bhs), data };
    if ((bhs.opcode === Opcode.LOGIN_RESPONSE || bhs.opcode === Opcode.TEXT_RESPONSE) && data.length) rx.text = decodeText(data);
    if ('statSN' in bhs && bhs.opcode !== Opcode.R2T && !(bhs.opcode === Opcode.DATA_IN && !bhs.statusPresent)) this.expStatSN = (bhs.statSN + 1) >>> 0;
    this.queue.push(rx);
    this.waiter?.();
  }

  sendRaw(b: Buffer): void {
    this.sock.write(b);
  }

  send(pdu: BhsInput, data?: Buffer, ahs?: Buffer): void {
    this.sock.write(serializePduToBuffer(encodeBhs(pdu), data, ahs, { headerDigest: this.headerDigest, dataDigest: this.dataDigest }));
  }

  /** Next PDU, or undefined after `ms` / when the connection closed. */
  async next(ms = 2000): Promise<RxPdu | undefined> {
    const deadline = Date.now() + ms;
    while (!this.queue.length) {
      if (this.closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiter = () => {
          clearTimeout(t);
          r();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift();
  }

  async expect<T extends Bhs['opcode']>(opcode: T, ms = 2000): Promise<RxPdu & { bhs: Extract<Bhs, { opcode: T }> }> {
    const p = await this.next(ms);
    if (!p) throw new Error(`expected opcode 0x${opcode.toString(16)}, got ${this.closed ? 'connection close' : 'nothing'}`);
    if (p.bhs.opcode !== opcode) throw new Error(`expected opcode 0x${opcode.toString(16)}, got 0x${p.bhs.opcode.toString(16)} ${JSON.stringify(p.bhs)}`);
    return p as RxPdu & { bhs: Extract<Bhs, { opcode: T }> };
  }

  /** Wait until the target closes the connection (true) or `ms` pass (false). */
  async waitClose(ms = 2000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) {
      if (this.queue.length) this.queue.shift();
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.closed;
  }

  loginPdu(keys: KeyValue[], opts: { csg?: number; nsg?: number; transit?: boolean; cont?: boolean; versionMin?: number; tsih?: number; cid?: number } = {}): void {
    this.send(
      {
        opcode: Opcode.LOGIN_REQUEST,
        immediate: true,
        transit: opts.transit ?? true,
        continue: opts.cont ?? false,
        csg: opts.csg ?? 1,
        nsg: opts.nsg ?? 3,
        versionMin: opts.versionMin ?? 0,
        isid: this.isid,
        tsih: opts.tsih ?? this.tsih,
        itt: this.itt,
        cid: opts.cid ?? 0,
        cmdSN: this.cmdSN,
        expStatSN: this.expStatSN,
      },
      keys.length ? encodeText(keys) : undefined,
    );
  }

  /** libiscsi-style one-PDU login; returns the final Login Response. */
  async login(target: string | undefined, extra: KeyValue[] = [], initiator = 'iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test'): Promise<RxPdu & { bhs: LoginResponseBhs }> {
    const keys: KeyValue[] = [['InitiatorName', initiator]];
    if (target) keys.push(['TargetName', target], ['SessionType', 'Normal']);
    else keys.push(['SessionType', 'Discovery']);
    const names = new Set(extra.map(([k]) => k));
    keys.push(...LIBISCSI_KEYS.filter(([k]) => !names.has(k)), ...extra);
    this.loginPdu(keys);
    const r = await this.expect(Opcode.LOGIN_RESPONSE);
    if (r.bhs.statusClass === 0 && r.bhs.transit) this.tsih = r.bhs.tsih;
    return r;
  }

  nextItt(): number {
    return ++this.itt;
  }

  /** SCSI command; returns its ITT. */
  command(cdb: Buffer, opts: { read?: number; write?: Buffer; edtl?: number; immediateData?: Buffer; final?: boolean; lun?: number; immediate?: boolean; cmdSN?: number } = {}): number {
    const itt = this.nextItt();
    const c = Buffer.alloc(16);
    cdb.copy(c, 0, 0, Math.min(16, cdb.length));
    const lun = Buffer.alloc(8);
    lun[1] = opts.lun ?? 0;
    const cmdSN = opts.cmdSN ?? this.cmdSN;
    if (opts.cmdSN === undefined && !opts.immediate) this.cmdSN = (this.cmdSN + 1) >>> 0;
    this.send(
      {
        opcode: Opcode.SCSI_COMMAND,
        immediate: opts.immediate ?? false,
        final: opts.final ?? true,
        read: opts.read !== undefined,
        write: opts.write !== undefined,
        attr: 1,
        lun,
        itt,
        expectedDataTransferLength: opts.edtl ?? opts.read ?? opts.write?.length ?? 0,
        cmdSN,
        expStatSN: this.expStatSN,
        cdb: c,
      },
      opts.immediateData,
    );
    return itt;
  }

  /** Gather a command's answer: Data-In payloads and the final status PDU. */
  async result(itt: number, ms = 3000): Promise<{ data: Buffer; status: number; flags: { overflow: boolean; underflow: boolean }; residual: number; sense?: Buffer; pdus: RxPdu[]; r2ts: RxPdu[] }> {
    const parts: Buffer[] = [];
    const pdus: RxPdu[] = [];
    const r2ts: RxPdu[] = [];
    for (;;) {
      const p = await this.next(ms);
      if (!p) throw new Error(`no answer for ITT ${itt}${this.closed ? ' (closed)' : ''}`);
      pdus.push(p);
      const b = p.bhs;
      if (b.opcode === Opcode.R2T) {
        r2ts.push(p);
        continue;
      }
      if (b.opcode === Opcode.DATA_IN && b.itt === itt) {
        parts.push(p.data);
        if (b.statusPresent) return { data: Buffer.concat(parts), status: b.status, flags: { overflow: b.overflow, underflow: b.underflow }, residual: b.residualCount, pdus, r2ts };
        continue;
      }
      if (b.opcode === Opcode.SCSI_RESPONSE && b.itt === itt) {
        const sense = p.data.length >= 2 ? p.data.subarray(2, 2 + p.data.readUInt16BE(0)) : undefined;
        return { data: Buffer.concat(parts), status: b.status, flags: { overflow: b.overflow, underflow: b.underflow }, residual: b.residualCount, ...(sense ? { sense } : {}), pdus, r2ts };
      }
      throw new Error(`unexpected PDU ${JSON.stringify(b)}`);
    }
  }

  dataOut(itt: number, ttt: number, dataSN: number, offset: number, data: Buffer, final: boolean): void {
    this.send({ opcode: Opcode.DATA_OUT, final, itt, ttt, expStatSN: this.expStatSN, dataSN, bufferOffset: offset }, data);
  }

  close(): void {
    this.sock.destroy();
  }
}

export const read10 = (lba: number, blocks: number): Buffer => {
  const c = Buffer.alloc(10);
  c[0] = 0x28;
  c.writeUInt32BE(lba, 2);
  c.writeUInt16BE(blocks, 7);
  return c;
};
export const write10 = (lba: number, blocks: number): Buffer => {
  const c = read10(lba, blocks);
  c[0] = 0x2a;
  return c;
};
export const TUR = Buffer.alloc(6);
