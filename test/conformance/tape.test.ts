/**
 * A tape LU (router1/tape0) through the dmsim target.
 *
 * iscsi-test-cu cannot run its tests against a sequential-access LU: its start-up (test-tool/
 * iscsi-test-cu.c main) sends READ CAPACITY(10) and exits unless it gets GOOD, and SSC devices do
 * not implement READ CAPACITY. The first test proves exactly that (the tape answers INVALID
 * COMMAND OPERATION CODE and iscsi-test-cu stops there); the libiscsi tests of the families that
 * apply to tapes (TestUnitReady, Inquiry, Reserve6, Prin*, Prout*) are listed as skipped with that
 * reason, and the same checks are made below with a raw initiator over real TCP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools } from '../helpers/require-tool.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { RawClient, TUR } from '../iscsi/raw-client.js';
import { INITIATOR_1, INITIATOR_2, listTests, run } from './libiscsi.js';
import { startLabTarget, type LabTarget } from './lab-target.js';

const ok = requireTools('tape conformance', 'iscsi-test-cu');
const TAPE = { device: 'router1', lun: 1 };
const NOT_RUNNABLE = 'iscsi-test-cu requires READ CAPACITY(10) GOOD at start-up; SSC tapes do not implement it (checked by the first test)';

let lab: LabTarget;

async function session(name: string, isid: number): Promise<RawClient> {
  const c = await RawClient.connect(lab.target.port);
  c.isid = Buffer.from([0x80, 0, 0, isid, 0, 0]);
  const r = await c.login(lab.iqn(TAPE.device), [], name);
  expect(r.bhs.statusClass).toBe(0);
  // Clear unit attentions left for a new I_T nexus.
  for (let i = 0; i < 5; i++) {
    const t = await c.result(c.command(TUR, { lun: TAPE.lun }));
    if (t.status === 0 || (t.sense && decodeSense(t.sense).key !== 6)) break;
  }
  return c;
}
const cdb = (hex: string): Buffer => Buffer.from(hex.replace(/\s/g, ''), 'hex');

describe.skipIf(!ok)('tape LU through the iSCSI target', () => {
  beforeAll(async () => {
    lab = await startLabTarget();
  }, 120_000);
  afterAll(async () => {
    await lab?.close();
  });

  it('iscsi-test-cu stops at start-up because the tape (correctly) has no READ CAPACITY(10)', async () => {
    const r = await run('iscsi-test-cu', ['--dataloss', `--initiator-name=${INITIATOR_1}`, `--initiator-name-2=${INITIATOR_2}`, '-t', 'SCSI.Inquiry.*', lab.url(TAPE.device, TAPE.lun)], 60_000);
    expect(r.stdout + r.stderr).toMatch(/READCAPACITY10/);
    const c = await session(INITIATOR_1, 1);
    try {
      const rc = await c.result(c.command(cdb('25 00 00000000 0000 00 00'), { read: 8, lun: TAPE.lun }));
      expect(rc.status).toBe(2);
      expect(decodeSense(rc.sense!)).toMatchObject({ key: 5, asc: 0x20, ascq: 0 });
    } finally {
      c.close();
    }
  });

  describe('libiscsi tests for sequential-access devices', () => {
    const names = ok ? listTests().filter((t) => /^SCSI\.(TestUnitReady|Inquiry|Reserve6|Prin[A-Za-z]*|Prout[A-Za-z]*)\./.test(t)) : [];
    for (const n of names) it.skip(`${n} — ${NOT_RUNNABLE}`, () => {});
  });

  it('TEST UNIT READY and INQUIRY (sequential-access, removable)', async () => {
    const c = await session(INITIATOR_1, 2);
    try {
      const tur = await c.result(c.command(TUR, { lun: TAPE.lun }));
      if (tur.status !== 0) expect(decodeSense(tur.sense!)).toMatchObject({ key: 2, asc: 0x3a });
      const inq = await c.result(c.command(cdb('12 00 00 0060 00'), { read: 96, lun: TAPE.lun }));
      expect(inq.status).toBe(0);
      expect(inq.data[0]).toBe(0x01);
      expect(inq.data[1]! & 0x80).toBe(0x80);
    } finally {
      c.close();
    }
  });

  it('RESERVE(6) from one initiator blocks the other until RELEASE(6) and after logout', async () => {
    const a = await session(INITIATOR_1, 3);
    const b = await session(INITIATOR_2, 4);
    try {
      expect((await a.result(a.command(cdb('16 00 00 00 00 00'), { lun: TAPE.lun }))).status).toBe(0);
      expect((await b.result(b.command(cdb('16 00 00 00 00 00'), { lun: TAPE.lun }))).status).toBe(0x18);
      expect((await a.result(a.command(cdb('17 00 00 00 00 00'), { lun: TAPE.lun }))).status).toBe(0);
      expect((await b.result(b.command(cdb('16 00 00 00 00 00'), { lun: TAPE.lun }))).status).toBe(0);
      // Nexus loss (logout) releases the SPC-2 reservation.
      b.send({ opcode: 0x06, immediate: true, final: true, reason: 0, itt: 0x99, cid: 0, cmdSN: b.cmdSN, expStatSN: b.expStatSN });
      await b.waitClose();
      let st = 0;
      for (let i = 0; i < 3; i++) {
        const r = await a.result(a.command(cdb('16 00 00 00 00 00'), { lun: TAPE.lun }));
        st = r.status;
        if (st !== 2) break;
      }
      expect(st).toBe(0);
      expect((await a.result(a.command(cdb('17 00 00 00 00 00'), { lun: TAPE.lun }))).status).toBe(0);
    } finally {
      a.close();
      b.close();
    }
  });

  it('PERSISTENT RESERVE OUT REGISTER / IN READ KEYS see the registration, CLEAR removes it', async () => {
    const a = await session(INITIATOR_1, 5);
    try {
      const key = Buffer.from('00000000000000000000000000000000000000000000000000000000000000000000000000000000', 'hex').subarray(0, 24);
      key.writeUInt32BE(0xabcd, 12); // SERVICE ACTION RESERVATION KEY
      const reg = await a.result(a.command(cdb('5f 00 00 0000 00000018 00'), { write: key, immediateData: key, lun: TAPE.lun }));
      expect(reg.status).toBe(0);
      const keys = await a.result(a.command(cdb('5e 00 0000000000 0100 00'), { read: 256, lun: TAPE.lun }));
      expect(keys.status).toBe(0);
      expect(keys.data.readUInt32BE(4)).toBe(8);
      expect(keys.data.readUInt32BE(12)).toBe(0xabcd);
      const clr = Buffer.alloc(24);
      clr.writeUInt32BE(0xabcd, 4);
      expect((await a.result(a.command(cdb('5f 03 00 0000 00000018 00'), { write: clr, immediateData: clr, lun: TAPE.lun }))).status).toBe(0);
      const after = await a.result(a.command(cdb('5e 00 0000000000 0100 00'), { read: 256, lun: TAPE.lun }));
      expect(after.data.readUInt32BE(4)).toBe(0);
    } finally {
      a.close();
    }
  });
});
