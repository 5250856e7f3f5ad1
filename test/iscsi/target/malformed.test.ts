/**
 * Malformed PDUs of every opcode, in login and in full feature phase: the target answers with a
 * Reject or a Login Response error, or closes the connection cleanly — and keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Opcode } from '../../../src/iscsi/pdu/index.js';
import { startHarness, TARGET_IQN, type Harness } from '../harness.js';
import { RawClient, TUR } from '../raw-client.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

/** Deterministic pseudo-random bytes. */
function noise(seed: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

async function stillServes(): Promise<void> {
  const c = await RawClient.connect(h.target.port);
  c.isid = Buffer.from('80ffff000000', 'hex');
  try {
    const r = await c.login(TARGET_IQN);
    expect((r.bhs as { statusClass: number }).statusClass).toBe(0);
    const itt = c.command(TUR);
    const res = await c.result(itt);
    expect([0, 2]).toContain(res.status);
  } finally {
    c.close();
  }
}

/** A PDU with the given opcode and noisy fields (DataSegmentLength kept honest so framing holds). */
function malformed(op: number, seed: number, dataLen: number, ahsWords = 0): Buffer {
  const bhs = noise(seed, 48);
  bhs[0] = (bhs[0]! & 0x40) | op;
  bhs[4] = ahsWords;
  bhs[5] = dataLen >> 16;
  bhs[6] = (dataLen >> 8) & 0xff;
  bhs[7] = dataLen & 0xff;
  const ahs = noise(seed + 1, ahsWords * 4);
  const data = noise(seed + 2, (dataLen + 3) & ~3);
  return Buffer.concat([bhs, ahs, data]);
}

type Outcome = 'reject' | 'answer' | 'closed' | 'silent';

async function fire(c: RawClient, pdu: Buffer): Promise<Outcome> {
  c.sendRaw(pdu);
  const p = await c.next(400);
  if (!p) return c.closed ? 'closed' : 'silent';
  if (p.bhs.opcode === Opcode.REJECT) {
    expect(p.data.length).toBeGreaterThanOrEqual(48);
    return 'reject';
  }
  return 'answer';
}

describe('malformed PDUs never crash the target', () => {
  it('in full feature phase, for every opcode 0x00..0x3f', async () => {
    const tally: Record<string, number> = {};
    for (let op = 0; op < 0x40; op++) {
      for (const [seed, len, ahs] of [[op, 0, 0], [op + 100, 13, 0], [op + 200, 300, 1], [op + 300, 70000, 0]] as const) {
        const c = await RawClient.connect(h.target.port);
        c.isid = Buffer.from([0x80, 1, op, seed & 0xff, 0, 0]);
        try {
          const r = await c.login(TARGET_IQN);
          expect((r.bhs as { statusClass: number }).statusClass).toBe(0);
          const o = await fire(c, malformed(op, seed, len, ahs));
          tally[o] = (tally[o] ?? 0) + 1;
          // Initiator-only opcodes with noise may be legal-looking (e.g. dropped by CmdSN); others must be answered.
          if (![Opcode.NOP_OUT, Opcode.SCSI_COMMAND, Opcode.TASK_MGMT_REQUEST, Opcode.TEXT_REQUEST, Opcode.LOGOUT_REQUEST, Opcode.DATA_OUT].includes(op as never)) expect(o, `opcode 0x${op.toString(16)}`).not.toBe('silent');
        } finally {
          c.close();
        }
      }
    }
    expect(tally.reject).toBeGreaterThan(100);
    await stillServes();
  }, 120_000);

  it('during login, for every opcode', async () => {
    for (let op = 0; op < 0x40; op++) {
      const c = await RawClient.connect(h.target.port);
      try {
        c.sendRaw(malformed(op, op + 7, 40));
        const p = await c.next(500);
        if (p) expect(p.bhs.opcode).toBe(Opcode.LOGIN_RESPONSE);
        expect(await c.waitClose(1500), `opcode 0x${op.toString(16)}`).toBe(true);
      } finally {
        c.close();
      }
    }
    await stillServes();
  }, 60_000);

  it('truncated streams and garbage bytes just close the connection', async () => {
    for (const junk of [noise(1, 10), noise(2, 47), noise(3, 5000), Buffer.alloc(48, 0xff)]) {
      const c = await RawClient.connect(h.target.port);
      c.sendRaw(junk);
      c.sock.end();
      await c.waitClose(1500);
      c.close();
    }
    await stillServes();
  });

  it('SCSI commands with bad fields in a session get Reject, the session continues', async () => {
    const c = await RawClient.connect(h.target.port);
    c.isid = Buffer.from('80eeee000000', 'hex');
    try {
      await c.login(TARGET_IQN);
      // Immediate data without W, reserved ITT, unsupported AHS type, F=0 without W.
      c.command(TUR, { immediateData: Buffer.alloc(4) });
      expect((await c.expect(Opcode.REJECT)).bhs.reason).toBe(0x04);
      c.send({ opcode: Opcode.SCSI_COMMAND, final: true, itt: 0xffffffff, cmdSN: c.cmdSN++, expStatSN: c.expStatSN, cdb: Buffer.alloc(16) });
      expect((await c.expect(Opcode.REJECT)).bhs.reason).toBe(0x09);
      const ahs = Buffer.from([0, 1, 0x3b, 0]);
      c.send({ opcode: Opcode.SCSI_COMMAND, final: true, itt: 5, cmdSN: c.cmdSN++, expStatSN: c.expStatSN, cdb: Buffer.alloc(16) }, undefined, ahs);
      expect((await c.expect(Opcode.REJECT)).bhs.reason).toBe(0x04);
      c.command(TUR, { final: false });
      expect((await c.expect(Opcode.REJECT)).bhs.reason).toBe(0x04);
      c.send({ opcode: Opcode.SNACK_REQUEST, final: true, itt: 0xffffffff });
      expect((await c.expect(Opcode.REJECT)).bhs.reason).toBe(0x04);
      expect((await c.result(c.command(TUR))).status).toBeTypeOf('number');
    } finally {
      c.close();
    }
  });
});
