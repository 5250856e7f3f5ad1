import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Opcode, RejectReason, TmfResponse } from '../../../src/iscsi/pdu/index.js';
import { decodeSense } from '../../../src/scsi/sense.js';
import { BLOCK, startHarness, TARGET_IQN, type Harness } from '../harness.js';
import { RawClient, read10, TUR, write10 } from '../raw-client.js';

let h: Harness;
const clients: RawClient[] = [];
async function session(extra: Array<[string, string]> = [], name?: string): Promise<RawClient> {
  const c = await RawClient.connect(h.target.port);
  clients.push(c);
  c.isid = Buffer.from([0x80, 0, 0, clients.length, 0, 0]);
  const r = await c.login(TARGET_IQN, extra, name);
  expect((r.bhs as { statusClass: number }).statusClass).toBe(0);
  // Clear the power-on unit attention.
  await c.result(c.command(TUR));
  return c;
}
const pattern = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));
const readCap = Buffer.from([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

beforeAll(async () => {
  h = await startHarness({ nopInIntervalMs: 0 });
});
afterAll(async () => {
  await h.close();
});
afterEach(() => {
  clients.splice(0).forEach((c) => c.close());
  h.disk.delayMs = 0;
});

describe('reads', () => {
  it('collapses GOOD status into the only Data-In (F+S), StatSN consumed once', async () => {
    const c = await session();
    h.disk.data.set(pattern(4096, 1), 0x100 * BLOCK);
    const itt = c.command(read10(0x100, 8), { read: 4096 });
    const r = await c.result(itt);
    expect(r.pdus).toHaveLength(1);
    expect(r.pdus[0]!.raw[1]).toBe(0x81);
    expect(r.data.equals(pattern(4096, 1))).toBe(true);
    expect(r.status).toBe(0);
  });

  it('splits Data-In at the initiator’s MaxRecvDataSegmentLength and MaxBurstLength', async () => {
    const c = await session([['MaxRecvDataSegmentLength', '4096'], ['MaxBurstLength', '8192']]);
    h.disk.data.set(pattern(20 * BLOCK, 3), 0);
    const r = await c.result(c.command(read10(0, 20), { read: 20 * BLOCK }));
    expect(r.data.equals(pattern(20 * BLOCK, 3))).toBe(true);
    const ins = r.pdus.map((p) => p.bhs as { dataSN: number; bufferOffset: number; final: boolean; statusPresent: boolean; dataSegmentLength: number });
    expect(ins.map((p) => p.dataSegmentLength)).toEqual([4096, 4096, 2048]);
    expect(ins.map((p) => p.dataSN)).toEqual([0, 1, 2]);
    expect(ins.map((p) => p.bufferOffset)).toEqual([0, 4096, 8192]);
    expect(ins.map((p) => p.final)).toEqual([false, true, true]);
    expect(ins.map((p) => p.statusPresent)).toEqual([false, false, true]);
  });

  it('reports residual underflow/overflow (Read10Invalid cases)', async () => {
    const c = await session();
    await c.result(c.command(readCap, { read: 8 }));
    let r = await c.result(c.command(read10(0, 1), { read: 10000 }));
    expect([r.status, r.data.length, r.flags.underflow, r.residual]).toEqual([0, BLOCK, true, 10000 - BLOCK]);
    r = await c.result(c.command(read10(0, 1), { read: 200 }));
    expect([r.status, r.data.length, r.flags.overflow, r.residual]).toEqual([0, 200, true, BLOCK - 200]);
    r = await c.result(c.command(read10(0, 2), { read: BLOCK }));
    expect([r.data.length, r.flags.overflow, r.residual]).toEqual([BLOCK, true, BLOCK]);
    r = await c.result(c.command(read10(0, 1), { read: 0 }));
    expect([r.status, r.data.length, r.flags.overflow, r.residual]).toEqual([0, 0, true, BLOCK]);
  });

  it('sends CHECK CONDITION with sense in a SCSI Response, never in Data-In', async () => {
    const c = await session();
    const r = await c.result(c.command(read10(0xffff0, 1), { read: BLOCK }));
    expect(r.status).toBe(2);
    expect(r.pdus).toHaveLength(1);
    expect(r.pdus[0]!.bhs.opcode).toBe(Opcode.SCSI_RESPONSE);
    expect(decodeSense(r.sense!)).toMatchObject({ key: 5, asc: 0x21, ascq: 0 });
    const bad = await c.result(c.command(TUR, { lun: 9 }));
    expect(decodeSense(bad.sense!)).toMatchObject({ key: 5, asc: 0x25 });
  });
});

describe('writes', () => {
  it('takes immediate data for a whole write (no R2T)', async () => {
    const c = await session();
    const d = pattern(2 * BLOCK, 5);
    const r = await c.result(c.command(write10(10, 2), { write: d, immediateData: d }));
    expect(r.status).toBe(0);
    expect(r.r2ts).toHaveLength(0);
    expect(h.disk.data.subarray(10 * BLOCK, 12 * BLOCK).equals(d)).toBe(true);
  });

  it('large writes reuse gather buffers without mixing up their data', async () => {
    const c = await session();
    const n = 128;
    const bufs = [pattern(n * BLOCK, 21), pattern(n * BLOCK, 77), pattern(n * BLOCK, 5)];
    for (let i = 0; i < 6; i++) {
      const d = bufs[i % 3]!;
      expect((await c.result(c.command(write10(1000 + i * n, n), { write: d, immediateData: d }))).status).toBe(0);
    }
    for (let i = 0; i < 6; i++) {
      const r = await c.result(c.command(read10(1000 + i * n, n), { read: n * BLOCK }));
      expect(r.data.equals(bufs[i % 3]!), `extent ${i}`).toBe(true);
    }
  });

  it('pipelined large reads through recycled data-in buffers each get their own data', async () => {
    const c = await session();
    const n = 128;
    const bufs = [pattern(n * BLOCK, 3), pattern(n * BLOCK, 11), pattern(n * BLOCK, 42), pattern(n * BLOCK, 99)];
    for (let i = 0; i < 4; i++) expect((await c.result(c.command(write10(i * n, n), { write: bufs[i]!, immediateData: bufs[i]! }))).status).toBe(0);
    for (let round = 0; round < 3; round++) {
      const itts = Array.from({ length: 12 }, (_, k) => c.command(read10((k % 4) * n, n), { read: n * BLOCK }));
      // All 12 are in flight before the first answer is read; answers come back in order.
      for (const [k, itt] of itts.entries()) expect((await c.result(itt)).data.equals(bufs[k % 4]!), `round ${round} read ${k}`).toBe(true);
    }
  });

  it('takes immediate + unsolicited Data-Out up to FirstBurstLength, then solicits the rest with R2Ts', async () => {
    const c = await session([['FirstBurstLength', '8192'], ['MaxBurstLength', '16384'], ['MaxRecvDataSegmentLength', '262144']]);
    const total = 64 * BLOCK; // 32 KiB
    const d = pattern(total, 9);
    const itt = c.command(write10(100, 64), { write: d, immediateData: d.subarray(0, 4096), final: false });
    c.dataOut(itt, 0xffffffff, 0, 4096, d.subarray(4096, 8192), true);
    // Remaining 24 KiB: R2T of 16 KiB, then 8 KiB (MaxOutstandingR2T=1).
    const r2t1 = await c.expect(Opcode.R2T);
    expect([r2t1.bhs.bufferOffset, r2t1.bhs.desiredDataTransferLength, r2t1.bhs.r2tSN]).toEqual([8192, 16384, 0]);
    c.dataOut(itt, r2t1.bhs.ttt, 0, 8192, d.subarray(8192, 16384), false);
    c.dataOut(itt, r2t1.bhs.ttt, 1, 16384, d.subarray(16384, 24576), true);
    const r2t2 = await c.expect(Opcode.R2T);
    expect([r2t2.bhs.bufferOffset, r2t2.bhs.desiredDataTransferLength, r2t2.bhs.r2tSN]).toEqual([24576, 8192, 1]);
    c.dataOut(itt, r2t2.bhs.ttt, 0, 24576, d.subarray(24576), true);
    const r = await c.result(itt);
    expect(r.status).toBe(0);
    expect(h.disk.data.subarray(100 * BLOCK, 164 * BLOCK).equals(d)).toBe(true);
  });

  it('with InitialR2T=Yes and ImmediateData=No every byte is solicited', async () => {
    const c = await session([['InitialR2T', 'Yes'], ['ImmediateData', 'No']]);
    const d = pattern(BLOCK, 11);
    const itt = c.command(write10(300, 1), { write: d });
    const r2t = await c.expect(Opcode.R2T);
    expect([r2t.bhs.bufferOffset, r2t.bhs.desiredDataTransferLength]).toEqual([0, BLOCK]);
    c.dataOut(itt, r2t.bhs.ttt, 0, 0, d, true);
    expect((await c.result(itt)).status).toBe(0);
    expect(h.disk.data.subarray(300 * BLOCK, 301 * BLOCK).equals(d)).toBe(true);
    // Immediate data is now a protocol error.
    c.command(write10(300, 1), { write: d, immediateData: d });
    expect((await c.expect(Opcode.REJECT)).bhs.reason).toBe(RejectReason.PROTOCOL_ERROR);
  });

  it('write residuals: EDTL above SPDTL writes SPDTL (U); below writes only whole blocks sent (O)', async () => {
    const c = await session();
    await c.result(c.command(readCap, { read: 8 }));
    h.disk.data.fill(0x61, 0, 2 * BLOCK);
    const b2 = Buffer.alloc(2 * BLOCK, 0x62);
    let r = await c.result(c.command(write10(0, 1), { write: b2, immediateData: b2 }));
    expect([r.status, r.flags.underflow, r.residual]).toEqual([0, true, BLOCK]);
    expect(h.disk.data[BLOCK]).toBe(0x61);
    h.disk.data.fill(0x61, 0, 2 * BLOCK);
    const b1 = Buffer.alloc(BLOCK, 0x62);
    r = await c.result(c.command(write10(0, 2), { write: b1, immediateData: b1 }));
    expect([r.status, r.flags.overflow, r.residual]).toEqual([0, true, BLOCK]);
    expect([h.disk.data[0], h.disk.data[BLOCK]]).toEqual([0x62, 0x61]);
  });

  it('refuses a write too large to gather without soliciting data, swallowing its unsolicited part', async () => {
    const c = await session();
    const huge = 65 * 1024 * 1024;
    const w16 = Buffer.alloc(16);
    w16[0] = 0x8a;
    w16.writeUInt32BE(huge / BLOCK, 10);
    let r = await c.result(c.command(w16, { write: Buffer.alloc(0), edtl: huge }));
    expect(r.r2ts).toHaveLength(0);
    expect(r.status).toBe(2);
    expect(decodeSense(r.sense!)).toMatchObject({ key: 5, asc: 0x24 });
    const itt = c.command(w16, { write: Buffer.alloc(0), edtl: huge, final: false });
    c.dataOut(itt, 0xffffffff, 0, 0, Buffer.alloc(1024), true);
    r = await c.result(itt);
    expect([r.status, r.r2ts.length]).toEqual([2, 0]);
    expect((await c.result(c.command(TUR))).status).toBe(0);
  });

  it('Data-Out with a wrong DataSN gets a Reject and kills only that task', async () => {
    const c = await session([['ImmediateData', 'No']]);
    const d = pattern(2 * BLOCK, 1);
    const itt = c.command(write10(50, 2), { write: d, final: false });
    c.dataOut(itt, 0xffffffff, 0, 0, d.subarray(0, BLOCK), false);
    c.dataOut(itt, 0xffffffff, 0, BLOCK, d.subarray(BLOCK), true);
    const rej = await c.expect(Opcode.REJECT);
    expect(rej.bhs.reason).toBe(RejectReason.PROTOCOL_ERROR);
    expect(rej.data.readUInt32BE(16)).toBe(itt);
    expect(await c.next(300)).toBeUndefined();
    expect((await c.result(c.command(TUR))).status).toBe(0);
    // Unknown ITT / TTT.
    c.dataOut(0x4242, 0xffffffff, 0, 0, d.subarray(0, 4), true);
    expect((await c.expect(Opcode.REJECT)).bhs.reason).toBe(RejectReason.INVALID_PDU_FIELD);
  });
});

describe('command numbering', () => {
  it('drops commands outside the window silently, holds gaps, keeps StatSN/ExpCmdSN/MaxCmdSN straight', async () => {
    const c = await session();
    const first = await c.result(c.command(TUR));
    const b = first.pdus[0]!.bhs as { expCmdSN: number; maxCmdSN: number; statSN: number };
    expect(b.expCmdSN).toBe(c.cmdSN);
    c.command(TUR, { cmdSN: (b.maxCmdSN + 1) >>> 0 });
    c.command(TUR, { cmdSN: (b.expCmdSN - 1) >>> 0 });
    expect(await c.next(400)).toBeUndefined();
    // A gap: CmdSN+1 arrives first and waits for CmdSN.
    const later = c.command(TUR, { cmdSN: (c.cmdSN + 1) >>> 0 });
    expect(await c.next(300)).toBeUndefined();
    const now = c.command(TUR);
    c.cmdSN = (c.cmdSN + 1) >>> 0;
    const r1 = await c.result(now);
    const r2 = await c.result(later);
    expect((r1.pdus[0]!.bhs as { statSN: number }).statSN).toBe((b.statSN + 1) >>> 0);
    expect((r2.pdus[0]!.bhs as { statSN: number; expCmdSN: number }).expCmdSN).toBe(c.cmdSN);
  });
});

describe('NOP', () => {
  it('echoes ping data and consumes CmdSN for a non-immediate NOP-Out', async () => {
    const c = await session();
    c.send({ opcode: Opcode.NOP_OUT, final: true, itt: 0x55, ttt: 0xffffffff, cmdSN: c.cmdSN, expStatSN: c.expStatSN }, Buffer.from('nopping\0'));
    c.cmdSN++;
    const r = await c.expect(Opcode.NOP_IN);
    expect(r.data.toString()).toBe('nopping\0');
    expect([r.bhs.itt, r.bhs.ttt, r.bhs.expCmdSN]).toEqual([0x55, 0xffffffff, c.cmdSN]);
    c.send({ opcode: Opcode.NOP_OUT, final: true, itt: 0x56, ttt: 0xffffffff, cmdSN: c.cmdSN, expStatSN: c.expStatSN });
    c.cmdSN++;
    expect((await c.expect(Opcode.NOP_IN)).data.length).toBe(0);
  });

  it('target pings an idle connection and drops it when the ping is not answered', async () => {
    const h2 = await startHarness({ nopInIntervalMs: 500, nopInTimeoutMs: 1500 });
    try {
      const c = await RawClient.connect(h2.target.port);
      clients.push(c);
      await c.login(TARGET_IQN);
      const ping = await c.expect(Opcode.NOP_IN, 3000);
      expect(ping.bhs.itt).toBe(0xffffffff);
      expect(ping.bhs.ttt).not.toBe(0xffffffff);
      c.send({ opcode: Opcode.NOP_OUT, immediate: true, final: true, lun: ping.bhs.lun, itt: 0xffffffff, ttt: ping.bhs.ttt, cmdSN: c.cmdSN, expStatSN: c.expStatSN });
      const ping2 = await c.expect(Opcode.NOP_IN, 3000);
      expect(ping2.bhs.ttt).not.toBe(ping.bhs.ttt);
      expect(await c.waitClose(4000)).toBe(true);
    } finally {
      await h2.close();
    }
  });
});

describe('task management and logout', () => {
  const tmf = (c: RawClient, fn: number, ref = 0xffffffff, refCmdSN = 0, lun = 0): number => {
    const itt = c.nextItt();
    const l = Buffer.alloc(8);
    l[1] = lun;
    c.send({ opcode: Opcode.TASK_MGMT_REQUEST, immediate: true, final: true, function: fn, lun: l, itt, referencedTaskTag: ref, cmdSN: c.cmdSN, expStatSN: c.expStatSN, refCmdSN });
    return itt;
  };

  it('ABORT TASK stops a running command without a response; unknown tags answer 1', async () => {
    const c = await session();
    h.disk.delayMs = 500;
    const cmdSN = c.cmdSN;
    const itt = c.command(read10(0, 1), { read: BLOCK });
    await new Promise((r) => setTimeout(r, 50));
    tmf(c, 1, itt, cmdSN);
    const r = await c.expect(Opcode.TASK_MGMT_RESPONSE);
    expect(r.bhs.response).toBe(TmfResponse.FUNCTION_COMPLETE);
    expect(await c.next(800)).toBeUndefined();
    h.disk.delayMs = 0;
    tmf(c, 1, 0x999, c.cmdSN - 5);
    expect((await c.expect(Opcode.TASK_MGMT_RESPONSE)).bhs.response).toBe(TmfResponse.TASK_DOES_NOT_EXIST);
  });

  it('LU RESET ends tasks of every session: silence for the issuer, TASK ABORTED for others; ABORT TASK SET only its own', async () => {
    const a = await session([], 'iqn.2026-11.dev.test:a');
    const b = await session([], 'iqn.2026-11.dev.test:b');
    h.disk.delayMs = 600;
    const mine = a.command(read10(0, 1), { read: BLOCK });
    const theirs = b.command(read10(0, 1), { read: BLOCK });
    await new Promise((r) => setTimeout(r, 50));
    tmf(a, 5);
    expect((await a.expect(Opcode.TASK_MGMT_RESPONSE)).bhs.response).toBe(0);
    const other = await b.result(theirs);
    expect(other.status).toBe(0x40);
    expect(await a.next(800)).toBeUndefined();
    expect(mine).toBeGreaterThan(0);
    const t1 = a.command(read10(0, 1), { read: BLOCK });
    const t2 = b.command(read10(0, 1), { read: BLOCK });
    await new Promise((r) => setTimeout(r, 50));
    tmf(a, 2);
    expect((await a.expect(Opcode.TASK_MGMT_RESPONSE)).bhs.response).toBe(0);
    h.disk.delayMs = 0;
    const bRes = await b.result(t2);
    expect(bRes.status).not.toBe(0x40);
    expect(await a.next(800)).toBeUndefined();
    expect(t1).toBeGreaterThan(0);
  });

  it('LU RESET reaches the dispatcher (unknown LUN → 2); reassign → 4; query → 5; cold reset closes the session', async () => {
    const c = await session();
    tmf(c, 5);
    expect((await c.expect(Opcode.TASK_MGMT_RESPONSE)).bhs.response).toBe(0);
    expect(h.dispatcher.resets).toContain('lun:0');
    tmf(c, 5, 0xffffffff, 0, 7);
    expect((await c.expect(Opcode.TASK_MGMT_RESPONSE)).bhs.response).toBe(TmfResponse.LUN_DOES_NOT_EXIST);
    tmf(c, 8, 1);
    expect((await c.expect(Opcode.TASK_MGMT_RESPONSE)).bhs.response).toBe(TmfResponse.REASSIGNMENT_NOT_SUPPORTED);
    tmf(c, 9, 1);
    expect((await c.expect(Opcode.TASK_MGMT_RESPONSE)).bhs.response).toBe(TmfResponse.NOT_SUPPORTED);
    tmf(c, 6);
    expect((await c.expect(Opcode.TASK_MGMT_RESPONSE)).bhs.response).toBe(0);
    tmf(c, 7);
    expect((await c.expect(Opcode.TASK_MGMT_RESPONSE)).bhs.response).toBe(0);
    expect(h.dispatcher.resets).toEqual(expect.arrayContaining(['warm', 'cold']));
    expect(await c.waitClose()).toBe(true);
  });

  it('Logout waits for running commands, answers, closes, and reports nexus loss', async () => {
    const c = await session([], 'iqn.2026-11.dev.test:logout');
    h.disk.delayMs = 200;
    const itt = c.command(read10(0, 1), { read: BLOCK });
    c.send({ opcode: Opcode.LOGOUT_REQUEST, immediate: true, final: true, reason: 0, itt: 0x777, cid: 0, cmdSN: c.cmdSN, expStatSN: c.expStatSN });
    const r = await c.result(itt);
    expect(r.status).toBe(0);
    const lo = await c.expect(Opcode.LOGOUT_RESPONSE);
    expect([lo.bhs.response, lo.bhs.itt]).toEqual([0, 0x777]);
    expect(await c.waitClose()).toBe(true);
    expect(h.dispatcher.lost.some((k) => k.includes('iqn.2026-11.dev.test:logout,i,0x'))).toBe(true);
  });

  it('Logout for recovery or an unknown CID is answered without closing', async () => {
    const c = await session();
    c.send({ opcode: Opcode.LOGOUT_REQUEST, immediate: true, final: true, reason: 2, itt: 1, cid: 0, cmdSN: c.cmdSN, expStatSN: c.expStatSN });
    expect((await c.expect(Opcode.LOGOUT_RESPONSE)).bhs.response).toBe(2);
    c.send({ opcode: Opcode.LOGOUT_REQUEST, immediate: true, final: true, reason: 1, itt: 2, cid: 9, cmdSN: c.cmdSN, expStatSN: c.expStatSN });
    expect((await c.expect(Opcode.LOGOUT_RESPONSE)).bhs.response).toBe(1);
    expect((await c.result(c.command(TUR))).status).toBe(0);
  });
});

describe('digests', () => {
  it('runs I/O with CRC32C header and data digests and rejects a corrupted data digest', async () => {
    const d = await RawClient.connect(h.target.port);
    clients.push(d);
    d.isid = Buffer.from('80aabbcc0000', 'hex');
    const lr = await d.login(TARGET_IQN, [['HeaderDigest', 'CRC32C,None'], ['DataDigest', 'CRC32C,None']]);
    expect(lr.text!.find(([k]) => k === 'HeaderDigest')![1]).toBe('CRC32C');
    d.headerDigest = d.parser.headerDigest = true;
    d.dataDigest = d.parser.dataDigest = true;
    await d.result(d.command(TUR));
    const data = pattern(3 * BLOCK + 0, 4);
    expect((await d.result(d.command(write10(500, 3), { write: data, immediateData: data }))).status).toBe(0);
    const r = await d.result(d.command(read10(500, 3), { read: 3 * BLOCK }));
    expect(r.data.equals(data)).toBe(true);
    // Corrupt the data digest of a NOP-Out ping.
    const { encodeBhs, serializePduToBuffer } = await import('../../../src/iscsi/pdu/index.js');
    const wire = serializePduToBuffer(encodeBhs({ opcode: Opcode.NOP_OUT, immediate: true, final: true, itt: 0x99, ttt: 0xffffffff, cmdSN: d.cmdSN, expStatSN: d.expStatSN }), Buffer.from('abcd'), undefined, { headerDigest: true, dataDigest: true });
    wire[wire.length - 1] ^= 0xff;
    d.sendRaw(wire);
    expect((await d.expect(Opcode.REJECT)).bhs.reason).toBe(RejectReason.DATA_DIGEST_ERROR);
    // A corrupted header digest closes the connection.
    const bad = serializePduToBuffer(encodeBhs({ opcode: Opcode.NOP_OUT, immediate: true, final: true, itt: 0x9a, ttt: 0xffffffff }), undefined, undefined, { headerDigest: true, dataDigest: true });
    bad[49] ^= 0xff;
    d.sendRaw(bad);
    expect(await d.waitClose()).toBe(true);
  });
});
