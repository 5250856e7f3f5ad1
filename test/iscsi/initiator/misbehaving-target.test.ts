/**
 * The initiator against targets that misbehave in ways tgtd and dmsim never do: a scripted peer
 * on a real TCP socket (built on the shared codec) drops connections, stays silent, sends data
 * past the expected length, rejects PDUs, closes the command window and re-opens it with a
 * NOP-In, pings, and asks for logout. Every case must end in a clear error or correct recovery,
 * never a hang or a crash.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  connect,
  ConnectionClosedError,
  LoginError,
  ProtocolError,
  RejectError,
  type IscsiSession,
} from '../../../src/iscsi/initiator/index.js';
import { decodeBhs, encodeBhs, type LoginRequestBhs, type ScsiCommandBhs } from '../../../src/iscsi/pdu/bhs.js';
import { Opcode, RejectReason, RESERVED_TAG } from '../../../src/iscsi/pdu/constants.js';
import { PduParser, type ParsedPdu } from '../../../src/iscsi/pdu/parser.js';
import { serializePduToBuffer } from '../../../src/iscsi/pdu/serializer.js';
import { encodeText } from '../../../src/iscsi/text.js';

interface Peer {
  socket: net.Socket;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
  send(bhs: Buffer, data?: Buffer): void;
}

type Handler = (p: ParsedPdu, peer: Peer) => void;

interface Scripted {
  port: number;
  peers: Peer[];
  close(): Promise<void>;
}

const servers: Scripted[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/**
 * A target that completes any login in one step (window of `window` commands) and hands every
 * full-feature PDU to `ffp`. `login` may replace the login answer.
 */
async function scripted(ffp: Handler, opts: { window?: number; login?: Handler } = {}): Promise<Scripted> {
  const peers: Peer[] = [];
  const server = net.createServer((socket) => {
    const peer: Peer = {
      socket,
      statSN: 1000,
      expCmdSN: 0,
      maxCmdSN: 0,
      send: (bhs, data) => socket.write(serializePduToBuffer(bhs, data)),
    };
    peers.push(peer);
    let loggedIn = false;
    const parser = new PduParser({
      pdu: (p) => {
        if (!loggedIn && (p.bhs[0]! & 0x3f) === Opcode.LOGIN_REQUEST) {
          if (opts.login) return opts.login(p, peer);
          const req = decodeBhs(p.bhs) as LoginRequestBhs;
          peer.expCmdSN = req.cmdSN;
          peer.maxCmdSN = (req.cmdSN + (opts.window ?? 32) - 1) >>> 0;
          loggedIn = true;
          peer.send(
            encodeBhs({
              opcode: Opcode.LOGIN_RESPONSE, transit: true, csg: 1, nsg: 3, isid: req.isid, tsih: 7, itt: req.itt,
              statSN: peer.statSN++, expCmdSN: peer.expCmdSN, maxCmdSN: peer.maxCmdSN,
            }),
            encodeText([['InitialR2T', 'Yes'], ['ImmediateData', 'Yes'], ['MaxBurstLength', '262144'], ['FirstBurstLength', '65536']]),
          );
          return;
        }
        ffp(p, peer);
      },
      error: () => socket.destroy(),
    });
    parser.maxDataSegmentLength = 1 << 20;
    socket.on('data', (c: Buffer) => parser.push(c));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const s: Scripted = {
    port,
    peers,
    close: () =>
      new Promise<void>((r) => {
        for (const p of peers) p.socket.destroy();
        server.close(() => r());
      }),
  };
  servers.push(s);
  return s;
}

const NAME = 'iqn.2026-11.dev.dmsim:scripted-initiator';
const TARGET = 'iqn.2026-11.dev.dmsim:scripted';
const open = (port: number, extra: Partial<Parameters<typeof connect>[0]> = {}): Promise<IscsiSession> =>
  connect({ host: '127.0.0.1', port, initiatorName: NAME, targetName: TARGET, loginTimeoutMs: 1500, ...extra });
const tur = Buffer.alloc(6);

function goodResponse(p: ParsedPdu, peer: Peer): void {
  const cmd = decodeBhs(p.bhs) as ScsiCommandBhs;
  peer.expCmdSN = (cmd.cmdSN + 1) >>> 0;
  peer.maxCmdSN = (peer.maxCmdSN + 1) >>> 0;
  peer.send(encodeBhs({ opcode: Opcode.SCSI_RESPONSE, final: true, itt: cmd.itt, statSN: peer.statSN++, expCmdSN: peer.expCmdSN, maxCmdSN: peer.maxCmdSN }));
}

describe('initiator against a misbehaving target', () => {
  it('a target that closes during login gives a LoginError', async () => {
    const t = await scripted(() => undefined, { login: (_p, peer) => peer.socket.destroy() });
    await expect(open(t.port)).rejects.toBeInstanceOf(LoginError);
  });

  it('a silent target times the login out', async () => {
    const t = await scripted(() => undefined, { login: () => undefined });
    const e = await open(t.port, { loginTimeoutMs: 300 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LoginError);
    expect((e as Error).message).toMatch(/timed out/);
  });

  it('a redirect is reported with the new address', async () => {
    const t = await scripted(() => undefined, {
      login: (p, peer) => {
        const req = decodeBhs(p.bhs) as LoginRequestBhs;
        peer.send(encodeBhs({ opcode: Opcode.LOGIN_RESPONSE, isid: req.isid, itt: req.itt, statusClass: 1, statusDetail: 1 }), encodeText([['TargetAddress', '10.0.0.9:3260,1']]));
      },
    });
    const e = (await open(t.port).catch((x: unknown) => x)) as LoginError;
    expect(e).toBeInstanceOf(LoginError);
    expect(e.targetAddress).toBe('10.0.0.9:3260,1');
    expect(e.message).toMatch(/moved temporarily/);
  });

  it('a dropped connection fails every outstanding command and later ones', async () => {
    let seen = 0;
    const t = await scripted((p, peer) => {
      if ((p.bhs[0]! & 0x3f) === Opcode.SCSI_COMMAND && ++seen === 3) peer.socket.destroy();
    });
    const s = await open(t.port);
    const all = [1, 2, 3].map(() => s.command({ lun: 0, cdb: tur }));
    for (const r of all) await expect(r).rejects.toBeInstanceOf(ConnectionClosedError);
    await expect(s.command({ lun: 0, cdb: tur })).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('Data-In beyond the expected length is a protocol error, not a buffer overrun', async () => {
    const t = await scripted((p, peer) => {
      const cmd = decodeBhs(p.bhs) as ScsiCommandBhs;
      peer.send(
        encodeBhs({ opcode: Opcode.DATA_IN, final: true, statusPresent: true, itt: cmd.itt, ttt: RESERVED_TAG, statSN: peer.statSN++, expCmdSN: cmd.cmdSN + 1, maxCmdSN: cmd.cmdSN + 32 }),
        Buffer.alloc(1024, 1),
      );
    });
    const s = await open(t.port);
    const e = await s.command({ lun: 0, cdb: Buffer.from([0x12, 0, 0, 0, 36, 0]), dataInLength: 36 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProtocolError);
    expect(s.closed).toBe(true);
  });

  it('a Reject of a command fails that command only', async () => {
    let n = 0;
    const t = await scripted((p, peer) => {
      if ((p.bhs[0]! & 0x3f) !== Opcode.SCSI_COMMAND) return;
      if (n++ === 0) {
        peer.send(encodeBhs({ opcode: Opcode.REJECT, final: true, reason: RejectReason.INVALID_PDU_FIELD, itt: RESERVED_TAG, statSN: peer.statSN++, expCmdSN: peer.expCmdSN, maxCmdSN: peer.maxCmdSN }), Buffer.from(p.bhs));
      } else goodResponse(p, peer);
    });
    const s = await open(t.port);
    const e = (await s.command({ lun: 0, cdb: tur }).catch((x: unknown) => x)) as RejectError;
    expect(e).toBeInstanceOf(RejectError);
    expect(e.reason).toBe(RejectReason.INVALID_PDU_FIELD);
    expect((await s.command({ lun: 0, cdb: tur })).status).toBe(0);
    s.destroy();
  });

  it('holds commands while the window is closed and sends them when a NOP-In opens it', async () => {
    const arrived: number[] = [];
    const t = await scripted(
      (p, peer) => {
        if ((p.bhs[0]! & 0x3f) !== Opcode.SCSI_COMMAND) return;
        const cmd = decodeBhs(p.bhs) as ScsiCommandBhs;
        arrived.push(cmd.cmdSN);
        peer.expCmdSN = (cmd.cmdSN + 1) >>> 0;
        // Answer without opening the window (MaxCmdSN stays put).
        peer.send(encodeBhs({ opcode: Opcode.SCSI_RESPONSE, final: true, itt: cmd.itt, statSN: peer.statSN++, expCmdSN: peer.expCmdSN, maxCmdSN: peer.maxCmdSN }));
      },
      { window: 2 },
    );
    const s = await open(t.port);
    const done: number[] = [];
    const cmds = [0, 1, 2, 3].map((i) => s.command({ lun: 0, cdb: tur }).then(() => done.push(i)));
    await new Promise((r) => setTimeout(r, 150));
    expect(arrived.length).toBe(2);
    expect(done).toEqual([0, 1]);
    const peer = t.peers[0]!;
    peer.maxCmdSN = (peer.maxCmdSN + 2) >>> 0;
    peer.send(encodeBhs({ opcode: Opcode.NOP_IN, final: true, itt: RESERVED_TAG, ttt: RESERVED_TAG, statSN: peer.statSN, expCmdSN: peer.expCmdSN, maxCmdSN: peer.maxCmdSN }));
    await Promise.all(cmds);
    expect(done).toEqual([0, 1, 2, 3]);
    expect(arrived).toEqual([arrived[0]!, arrived[0]! + 1, arrived[0]! + 2, arrived[0]! + 3].map((x) => x >>> 0));
    s.destroy();
  });

  it('answers a target ping with the same TTT and LUN, immediate, ITT reserved', async () => {
    let answer: ParsedPdu | undefined;
    const t = await scripted((p) => {
      if ((p.bhs[0]! & 0x3f) === Opcode.NOP_OUT) answer = { ...p, bhs: Buffer.from(p.bhs) };
    });
    const s = await open(t.port);
    const peer = t.peers[0]!;
    const lun = Buffer.from([0, 3, 0, 0, 0, 0, 0, 0]);
    peer.send(encodeBhs({ opcode: Opcode.NOP_IN, final: true, lun, itt: RESERVED_TAG, ttt: 0x1234, statSN: peer.statSN, expCmdSN: peer.expCmdSN, maxCmdSN: peer.maxCmdSN }));
    for (let i = 0; i < 50 && !answer; i++) await new Promise((r) => setTimeout(r, 10));
    expect(answer).toBeDefined();
    const b = answer!.bhs;
    expect(b[0]).toBe(0x40 | Opcode.NOP_OUT);
    expect(b.readUInt32BE(16)).toBe(RESERVED_TAG);
    expect(b.readUInt32BE(20)).toBe(0x1234);
    expect(b.subarray(8, 16).equals(lun)).toBe(true);
    s.destroy();
  });

  it('logs out when the target asks for it (async event 1)', async () => {
    let logout = false;
    const t = await scripted((p, peer) => {
      if ((p.bhs[0]! & 0x3f) !== Opcode.LOGOUT_REQUEST) return;
      logout = true;
      peer.send(encodeBhs({ opcode: Opcode.LOGOUT_RESPONSE, final: true, itt: p.bhs.readUInt32BE(16), statSN: peer.statSN++, expCmdSN: peer.expCmdSN, maxCmdSN: peer.maxCmdSN }));
    });
    const s = await open(t.port);
    const peer = t.peers[0]!;
    peer.send(encodeBhs({ opcode: Opcode.ASYNC_MESSAGE, final: true, itt: RESERVED_TAG, statSN: peer.statSN++, expCmdSN: peer.expCmdSN, maxCmdSN: peer.maxCmdSN, asyncEvent: 1, parameter3: 5 }));
    await s.waitClosed();
    expect(logout).toBe(true);
  });

  it('a per-command timeout aborts the task with ABORT TASK', async () => {
    let tmf: number | undefined;
    const t = await scripted((p, peer) => {
      if ((p.bhs[0]! & 0x3f) !== Opcode.TASK_MGMT_REQUEST) return;
      tmf = p.bhs[1]! & 0x7f;
      peer.send(encodeBhs({ opcode: Opcode.TASK_MGMT_RESPONSE, final: true, response: 0, itt: p.bhs.readUInt32BE(16), statSN: peer.statSN++, expCmdSN: peer.expCmdSN, maxCmdSN: peer.maxCmdSN }));
    });
    const s = await open(t.port);
    await expect(s.command({ lun: 0, cdb: tur, timeoutMs: 100 })).rejects.toThrow(/timed out/);
    for (let i = 0; i < 50 && tmf === undefined; i++) await new Promise((r) => setTimeout(r, 10));
    expect(tmf).toBe(1);
    expect(s.outstanding).toBe(0);
    s.destroy();
  });

  it('refuses unaddressable requests without spending a CmdSN', async () => {
    const t = await scripted((p, peer) => {
      if ((p.bhs[0]! & 0x3f) === Opcode.SCSI_COMMAND) goodResponse(p, peer);
    });
    const s = await open(t.port);
    await expect(s.command({ lun: 70000, cdb: tur })).rejects.toThrow(/LUN 70000/);
    await expect(s.command({ lun: 0, cdb: Buffer.alloc(2) })).rejects.toThrow(/CDB length/);
    await expect(s.command({ lun: 0, cdb: tur, dataOut: Buffer.alloc(8), dataInLength: 8 })).rejects.toThrow(/bidirectional/);
    expect((await s.command({ lun: 0, cdb: tur })).status).toBe(0);
    s.destroy();
  });

  it('keep-alive pings an idle target and drops a target that stops answering', async () => {
    let answer = true;
    let pings = 0;
    const t = await scripted((p, peer) => {
      if ((p.bhs[0]! & 0x3f) !== Opcode.NOP_OUT || !answer) return;
      pings++;
      peer.send(encodeBhs({ opcode: Opcode.NOP_IN, final: true, itt: p.bhs.readUInt32BE(16), ttt: RESERVED_TAG, statSN: peer.statSN++, expCmdSN: peer.expCmdSN, maxCmdSN: peer.maxCmdSN }));
    });
    const s = await open(t.port, { keepaliveMs: 60 });
    await new Promise((r) => setTimeout(r, 400));
    expect(s.closed).toBe(false);
    expect(pings).toBeGreaterThan(1);
    answer = false;
    const why = await s.waitClosed();
    expect(why.message).toMatch(/keep-alive/);
  });
});
