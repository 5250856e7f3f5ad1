/**
 * The target in front of the real default-lab runtime (fabric, router, array, disk LUs): zoning
 * and LUN masking by initiator name, data through the real disk, SPC-2 reservations keyed by
 * I_T nexus (name + ISID) and released on nexus loss.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Opcode } from '../../../src/iscsi/pdu/index.js';
import { decodeSense } from '../../../src/scsi/sense.js';
import { startLabTarget, type LabTarget } from '../../conformance/lab-target.js';
import { RawClient, read10, TUR, write10 } from '../raw-client.js';

const BACKUP = 'iqn.2026-11.dev.dmsim.hosts:backup1';
const APP = 'iqn.2026-11.dev.dmsim.hosts:app1';
let lab: LabTarget;
const open: RawClient[] = [];

async function session(name: string, isid: number, extra: Array<[string, string]> = []): Promise<RawClient> {
  const c = await RawClient.connect(lab.target.port);
  open.push(c);
  c.isid = Buffer.from([0x80, 0, 0, isid, 0, 0]);
  const r = await c.login(lab.iqn('array1'), extra, name);
  expect(r.bhs.statusClass).toBe(0);
  return c;
}
/** TEST UNIT READY until the new nexus's unit attentions are consumed. */
async function ready(c: RawClient, lun: number): Promise<void> {
  for (let i = 0; i < 6; i++) {
    const r = await c.result(c.command(TUR, { lun }));
    if (r.status === 0) return;
    expect(decodeSense(r.sense!).key).toBe(6);
  }
  throw new Error('unit attentions never cleared');
}
const reportLuns = (c: RawClient) => {
  const cdb = Buffer.alloc(12);
  cdb[0] = 0xa0;
  cdb.writeUInt32BE(256, 6);
  return c.result(c.command(cdb, { read: 256 }));
};

beforeAll(async () => {
  lab = await startLabTarget();
}, 120_000);
afterAll(async () => {
  open.forEach((c) => c.close());
  await lab?.close();
});

describe('iSCSI target on the default lab', () => {
  it('LUN masking follows the initiator name: backup1 sees three disks, app1 one', async () => {
    const b = await session(BACKUP, 1);
    const a = await session(APP, 2);
    const luns = (d: Buffer) => Array.from({ length: d.readUInt32BE(0) / 8 }, (_, i) => d.readUInt16BE(8 + i * 8));
    expect(luns((await reportLuns(b)).data)).toEqual([0, 1, 2]);
    expect(luns((await reportLuns(a)).data)).toEqual([0]);
    const hidden = await a.result(a.command(TUR, { lun: 2 }));
    expect(decodeSense(hidden.sense!)).toMatchObject({ key: 5, asc: 0x25 });
  });

  it('zoning decides what SendTargets lists and which logins succeed', async () => {
    const { encodeText } = await import('../../../src/iscsi/text.js');
    const d = await RawClient.connect(lab.target.port);
    open.push(d);
    expect((await d.login(undefined, [], APP)).bhs.statusClass).toBe(0);
    d.send({ opcode: Opcode.TEXT_REQUEST, immediate: true, final: true, itt: 5, ttt: 0xffffffff, cmdSN: d.cmdSN, expStatSN: d.expStatSN }, encodeText([['SendTargets', 'All']]));
    const names = (await d.expect(Opcode.TEXT_RESPONSE)).text!.filter(([k]) => k === 'TargetName').map(([, v]) => v);
    expect(names).toEqual([lab.iqn('array1')]);
    const r = await RawClient.connect(lab.target.port);
    open.push(r);
    const res = await r.login(lab.iqn('router1'), [], APP);
    expect([res.bhs.statusClass, res.bhs.statusDetail]).toEqual([2, 2]);
  });

  it('writes through R2T and reads back the same bytes from the real disk', async () => {
    const c = await session(BACKUP, 3, [['InitialR2T', 'Yes'], ['ImmediateData', 'No'], ['MaxBurstLength', '16384']]);
    await ready(c, 2);
    const data = Buffer.from(Array.from({ length: 64 * 512 }, (_, i) => (i * 13 + 1) & 0xff));
    const itt = c.command(write10(1000, 64), { write: data, lun: 2 });
    for (let off = 0; off < data.length; ) {
      const r2t = await c.expect(Opcode.R2T);
      const { bufferOffset, desiredDataTransferLength, ttt } = r2t.bhs;
      expect(bufferOffset).toBe(off);
      for (let o = 0, sn = 0; o < desiredDataTransferLength; o += 8192, sn++) {
        const n = Math.min(8192, desiredDataTransferLength - o);
        c.dataOut(itt, ttt, sn, bufferOffset + o, data.subarray(bufferOffset + o, bufferOffset + o + n), o + n === desiredDataTransferLength);
      }
      off += desiredDataTransferLength;
    }
    expect((await c.result(itt)).status).toBe(0);
    const back = await c.result(c.command(read10(1000, 64), { read: data.length, lun: 2 }));
    expect(back.status).toBe(0);
    expect(back.data.equals(data)).toBe(true);
  });

  it('RESERVE(6) held by one initiator conflicts for another and is released when its session logs out', async () => {
    const one = await session(BACKUP, 4);
    // An initiator the lab does not list: admitted through the default zone.
    const two = await session('iqn.2026-11.dev.test:other-host', 5);
    await ready(one, 1);
    await ready(two, 1);
    const reserve = Buffer.from([0x16, 0, 0, 0, 0, 0]);
    expect((await one.result(one.command(reserve, { lun: 1 }))).status).toBe(0);
    expect((await two.result(two.command(reserve, { lun: 1 }))).status).toBe(0x18);
    one.send({ opcode: Opcode.LOGOUT_REQUEST, immediate: true, final: true, reason: 0, itt: 0x42, cid: 0, cmdSN: one.cmdSN, expStatSN: one.expStatSN });
    expect((await one.expect(Opcode.LOGOUT_RESPONSE)).bhs.response).toBe(0);
    await one.waitClose();
    let st = -1;
    for (let i = 0; i < 4 && st !== 0; i++) st = (await two.result(two.command(reserve, { lun: 1 }))).status;
    expect(st).toBe(0);
    expect((await two.result(two.command(Buffer.from([0x17, 0, 0, 0, 0, 0]), { lun: 1 }))).status).toBe(0);
  });
});
