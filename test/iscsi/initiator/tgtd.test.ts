/**
 * The dmsim initiator against a real tgtd: discovery, login, REPORT LUNS, INQUIRY, writes that
 * need R2Ts (tgtd: InitialR2T=Yes, MaxRecvDataSegmentLength 8192, MaxBurstLength 256 KiB), reads
 * checked against tgtd's backing file, many commands in flight, residuals, sense, NOP, task
 * management, digests, CHAP one-way and mutual, and clean login failures.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clearUnitAttentions,
  connect,
  ConnectionClosedError,
  IscsiInitiator,
  LoginError,
  type ConnectOptions,
  type IscsiSession,
} from '../../../src/iscsi/initiator/index.js';
import { TmfResponse } from '../../../src/iscsi/pdu/constants.js';
import { decodeSense } from '../../../src/scsi/sense.js';
import { ScsiStatus } from '../../../src/scsi/status.js';
import { requireTools } from '../../helpers/require-tool.js';
import { startTgtd, type Tgtd } from '../../helpers/tgtd.js';

const ok = requireTools('iSCSI initiator against tgtd', 'tgtd', 'tgtadm');
const INITIATOR = 'iqn.2026-11.dev.dmsim:initiator-test';
const BLOCK = 512;
const SIZE = 16 * 1024 * 1024;

function rw10(op: 0x28 | 0x2a, lba: number, blocks: number): Buffer {
  const cdb = Buffer.alloc(10);
  cdb[0] = op;
  cdb.writeUInt32BE(lba, 2);
  cdb.writeUInt16BE(blocks, 7);
  return cdb;
}

function pattern(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + seed * 7 + (i >> 9)) & 0xff;
  return b;
}

describe.skipIf(!ok)('iSCSI initiator against tgtd', () => {
  let tgt: Tgtd;
  let s: IscsiSession;
  const opts = (): ConnectOptions => ({ host: tgt.host, port: tgt.port, initiatorName: INITIATOR, targetName: tgt.targetName });

  beforeAll(async () => {
    tgt = await startTgtd({ sizeBytes: SIZE, luns: 1 });
    s = await connect(opts());
    await clearUnitAttentions(s, 1);
  });
  afterAll(async () => {
    await s?.close();
    await tgt?.stop();
  });

  it('discovers the target with SendTargets in a discovery session', async () => {
    const found = await new IscsiInitiator({ initiatorName: INITIATOR }).discover(tgt.host, tgt.port);
    expect(found).toEqual([{ name: tgt.targetName, addresses: [{ host: '127.0.0.1', port: tgt.port, tpgt: 1 }] }]);
  });

  it('negotiates what tgtd offers: InitialR2T=Yes, 8 KiB target MRDSL, 256 KiB bursts', () => {
    expect(s.tsih).not.toBe(0);
    expect(s.params.initialR2T).toBe(true);
    expect(s.params.immediateData).toBe(true);
    expect(s.params.targetMaxRecvDataSegmentLength).toBe(8192);
    expect(s.params.maxBurstLength).toBe(262144);
    expect(s.params.firstBurstLength).toBe(65536);
    expect(s.params.maxOutstandingR2T).toBe(1);
  });

  it('REPORT LUNS lists the controller LU and the disk', async () => {
    expect(await s.reportLuns()).toEqual([0, 1]);
  });

  it('INQUIRY describes both LUs', async () => {
    const disk = await s.inquiry(1);
    expect(disk.deviceType).toBe(0);
    expect(disk.vendor).toBe('IET');
    const ctl = await s.inquiry(0);
    expect(ctl.deviceType).toBe(0x0c);
  });

  it('READ CAPACITY(16) matches the backing file', async () => {
    const cap = await s.readCapacity16(1);
    expect(cap.blockLength).toBe(BLOCK);
    expect((cap.lastLba + 1) * BLOCK).toBe(SIZE);
  });

  it('a 1 MiB WRITE (immediate data + R2Ts) lands in the backing file and reads back', async () => {
    const data = pattern(1024 * 1024, 1);
    const lba = 100;
    const w = await s.command({ lun: 1, cdb: rw10(0x2a, lba, data.length / BLOCK), dataOut: data });
    expect(w.status).toBe(ScsiStatus.GOOD);
    const file = await readFile(tgt.backingFiles[0]!);
    expect(file.subarray(lba * BLOCK, lba * BLOCK + data.length).equals(data)).toBe(true);
    const r = await s.command({ lun: 1, cdb: rw10(0x28, lba, data.length / BLOCK), dataInLength: data.length });
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(r.dataIn.equals(data)).toBe(true);
    expect(r.residualUnderflow).toBeUndefined();
  });

  it('keeps 64 commands in flight and every one lands where it should', async () => {
    const n = 64;
    const blocks = 8;
    const writes = Array.from({ length: n }, (_, i) => pattern(blocks * BLOCK, 100 + i));
    const ws = await Promise.all(writes.map((d, i) => s.command({ lun: 1, cdb: rw10(0x2a, 4096 + i * blocks, blocks), dataOut: d })));
    expect(ws.every((r) => r.status === ScsiStatus.GOOD)).toBe(true);
    const rs = await Promise.all(writes.map((_, i) => s.command({ lun: 1, cdb: rw10(0x28, 4096 + i * blocks, blocks), dataInLength: blocks * BLOCK })));
    rs.forEach((r, i) => expect(r.dataIn.equals(writes[i]!)).toBe(true));
    const file = await readFile(tgt.backingFiles[0]!);
    writes.forEach((d, i) => expect(file.subarray((4096 + i * blocks) * BLOCK, (4096 + i * blocks) * BLOCK + d.length).equals(d)).toBe(true));
  });

  it('reads into a caller-supplied buffer without a copy', async () => {
    const into = Buffer.alloc(64 * 1024);
    const r = await s.command({ lun: 1, cdb: rw10(0x28, 100, 128), dataInLength: into.length, dataInBuffers: { allocDataIn: () => into } });
    expect(r.dataIn.buffer).toBe(into.buffer);
    expect(into.equals(pattern(1024 * 1024, 1).subarray(0, into.length))).toBe(true);
  });

  it('reports underflow when the initiator expects more than the command moves', async () => {
    const r = await s.command({ lun: 1, cdb: rw10(0x28, 100, 1), dataInLength: 4096 });
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(r.dataIn.length).toBe(BLOCK);
    expect(r.residualUnderflow).toBe(4096 - BLOCK);
  });

  it('returns CHECK CONDITION with sense for a read past the end', async () => {
    const r = await s.command({ lun: 1, cdb: rw10(0x28, SIZE / BLOCK, 1), dataInLength: BLOCK });
    expect(r.status).toBe(ScsiStatus.CHECK_CONDITION);
    const sense = decodeSense(r.sense!);
    expect([sense.key, sense.asc, sense.ascq]).toEqual([5, 0x21, 0]);
  });

  it('NOP-Out ping gets its data echoed', async () => {
    expect((await s.nop(Buffer.from('nopping\0'))).toString()).toBe('nopping\0');
  });

  it('task management: ABORT TASK of a finished task, LUN RESET', async () => {
    const { itt, result } = s.startCommand({ lun: 1, cdb: rw10(0x28, 0, 1), dataInLength: BLOCK });
    await result;
    expect(await s.abortTask(itt)).toBe(TmfResponse.TASK_DOES_NOT_EXIST);
    expect(await s.lunReset(1)).toBe(TmfResponse.FUNCTION_COMPLETE);
    const ua = await clearUnitAttentions(s, 1);
    expect(ua.status).toBe(ScsiStatus.GOOD);
  });

  it('asking for digests from a tgtd configured without them fails the login cleanly', async () => {
    const e = await connect({ ...opts(), headerDigest: true }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LoginError);
    expect((e as Error).message).toMatch(/HeaderDigest=CRC32C/);
  });

  it('works with header and data digests (CRC32C)', async () => {
    const dt = await startTgtd({ sizeBytes: 1024 * 1024, params: { HeaderDigest: 'CRC32C,None', DataDigest: 'CRC32C,None' } });
    const d = await connect({ host: dt.host, port: dt.port, initiatorName: INITIATOR, targetName: dt.targetName, headerDigest: true, dataDigest: true });
    try {
      expect(d.params.headerDigest).toBe(true);
      expect(d.params.dataDigest).toBe(true);
      await clearUnitAttentions(d, 1);
      const data = pattern(300 * 1024 + 2 * BLOCK, 9);
      expect((await d.command({ lun: 1, cdb: rw10(0x2a, 900, data.length / BLOCK), dataOut: data })).status).toBe(ScsiStatus.GOOD);
      const r = await d.command({ lun: 1, cdb: rw10(0x28, 900, data.length / BLOCK), dataInLength: data.length });
      expect(r.dataIn.equals(data)).toBe(true);
      const file = await readFile(dt.backingFiles[0]!);
      expect(file.subarray(900 * BLOCK, 900 * BLOCK + data.length).equals(data)).toBe(true);
    } finally {
      await d.close();
      await dt.stop();
    }
  });

  it('a missing target name is refused with a decoded login status', async () => {
    const e = await connect({ ...opts(), targetName: 'iqn.2026-11.dev.dmsim:no-such-target' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LoginError);
    expect((e as LoginError).statusClass).toBe(2);
    expect((e as LoginError).message).toMatch(/not found|0x02/);
  });

  it('after logout the session refuses commands', async () => {
    const l = await connect(opts());
    await l.logout();
    expect(l.closed).toBe(true);
    await expect(l.command({ lun: 1, cdb: rw10(0x28, 0, 1), dataInLength: BLOCK })).rejects.toBeInstanceOf(ConnectionClosedError);
  });
});

describe.skipIf(!ok)('iSCSI initiator CHAP against tgtd', () => {
  let tgt: Tgtd;
  const user = { user: 'backup', secret: 'backup-secret-1' };
  const target = { user: 'tgtd-node', secret: 'target-secret-22' };
  const base = (): ConnectOptions => ({ host: tgt.host, port: tgt.port, initiatorName: INITIATOR, targetName: tgt.targetName });

  beforeAll(async () => {
    tgt = await startTgtd({ sizeBytes: 1024 * 1024, chap: user, mutualChap: target });
  });
  afterAll(async () => {
    await tgt?.stop();
  });

  it('logs in with one-way CHAP and runs a command', async () => {
    const s = await connect({ ...base(), chap: { user: user.user, secret: user.secret } });
    expect(await s.reportLuns()).toEqual([0, 1]);
    await s.close();
  });

  it('logs in with mutual CHAP and verifies the target', async () => {
    const s = await connect({ ...base(), chap: { ...user, targetUser: target.user, targetSecret: target.secret } });
    expect(s.tsih).not.toBe(0);
    await s.close();
  });

  it('a wrong secret fails the login with authentication failure (0x0201)', async () => {
    const e = await connect({ ...base(), chap: { user: user.user, secret: 'not-the-secret' } }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LoginError);
    expect((e as LoginError).isAuthenticationFailure).toBe(true);
    expect((e as LoginError).message).toMatch(/authentication failure/);
  });

  it('a wrong target secret in mutual CHAP is caught by the initiator', async () => {
    const e = await connect({ ...base(), chap: { ...user, targetUser: target.user, targetSecret: 'wrong-target-secret' } }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LoginError);
    expect((e as LoginError).message).toMatch(/mutual CHAP/);
  });

  it('no credentials where CHAP is required fails cleanly', async () => {
    const e = await connect(base()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LoginError);
    expect((e as LoginError).statusClass).toBe(2);
  });
});
