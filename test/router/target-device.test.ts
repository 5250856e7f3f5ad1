import { describe, expect, it } from 'vitest';
import { TargetDevice } from '../../firmware-sim/router/target-device.js';
import { makeNexus, type ITNexus } from '../../firmware-sim/router/task.js';
import { TaskAbort } from '../../firmware-sim/router/task-abort.js';
import { NoSuchLunError, UnreachableError } from '../../firmware-sim/router/dispatch.js';
import { decodeReportLunsData, encodeReportLunsCdb } from '../../src/scsi/report-luns.js';
import { decodeStandardInquiry, encodeInquiryCdb } from '../../src/scsi/inquiry.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { ScsiStatus } from '../../src/scsi/status.js';
import { TestLu, cdb, decoded } from './helpers.js';

const TP1 = '50000000000000a1';
const TP2 = '50000000000000a2';
const I1 = '21000024ff000001';
const I2 = '21000024ff000002';
const n1 = makeNexus(I1, TP1);
const n1b = makeNexus(I1, TP2);
const n2 = makeNexus(I2, TP1);

function device(defaultAccess: 'all' | 'none' = 'all') {
  const dev = new TargetDevice({ name: 'array1', wwnn: '20000000000000a0', ports: [{ wwpn: TP1 }, { wwpn: TP2 }], defaultAccess });
  const lu0 = new TestLu('array1/disk0', 1);
  const lu1 = new TestLu('array1/disk1', 2);
  dev.attach(0, lu0);
  dev.attach(1, lu1);
  return { dev, lu0, lu1 };
}

const send = async (dev: TargetDevice, nexus: ITNexus, lun: number, c: Buffer, alloc = 4096) =>
  decoded(await dev.dispatch({ nexus, lun, cdb: c, dataInLength: alloc }));

const TUR = cdb('000000000000');

/** Consume the power-on UA the LU reports to a new nexus. */
async function clearUa(dev: TargetDevice, nexus: ITNexus, lun: number) {
  const r = await send(dev, nexus, lun, TUR);
  expect(r.sense).toMatchObject({ key: 6, asc: 0x29, ascq: 0x00 });
  expect((await send(dev, nexus, lun, TUR)).status).toBe(ScsiStatus.GOOD);
}

describe('TargetDevice REPORT LUNS', () => {
  it('answers at LUN 0, at an unmapped LUN and at the well-known LUN, with the exact bytes', async () => {
    const { dev } = device();
    for (const lun of [0, 7, 0xc101]) {
      const r = await send(dev, n1, lun, encodeReportLunsCdb({ selectReport: 0, allocationLength: 4096 }));
      expect(r.status).toBe(ScsiStatus.GOOD);
      expect(r.data.toString('hex')).toBe('00000010' + '00000000' + '0000000000000000' + '0001000000000000');
    }
    const all = await send(dev, n1, 0, encodeReportLunsCdb({ selectReport: 2, allocationLength: 4096 }));
    expect(decodeReportLunsData(all.data).luns).toEqual([0, 1, 0xc101]);
    const wl = await send(dev, n1, 0, encodeReportLunsCdb({ selectReport: 1, allocationLength: 4096 }));
    expect(wl.data.toString('hex')).toBe('00000008' + '00000000' + 'c101000000000000');
  });

  it('truncates data-in to the allocation length but keeps the full LUN LIST LENGTH', async () => {
    const { dev } = device();
    const r = await send(dev, n1, 0, encodeReportLunsCdb({ selectReport: 0, allocationLength: 16 }), 16);
    expect(r.data.toString('hex')).toBe('00000010000000000000000000000000');
  });

  it('SELECT REPORT 03h and allocation length 15 are INVALID FIELD IN CDB with field pointers', async () => {
    const { dev } = device();
    const a = await send(dev, n1, 0, encodeReportLunsCdb({ selectReport: 3, allocationLength: 16 }));
    expect(a.status).toBe(ScsiStatus.CHECK_CONDITION);
    expect(a.sense).toMatchObject({ key: 5, asc: 0x24, ascq: 0, sks: { kind: 'field', cd: true, byte: 2 } });
    const b = await send(dev, n1, 0, encodeReportLunsCdb({ selectReport: 0, allocationLength: 15 }));
    expect(b.sense).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 6 } });
  });

  it('reports only the LUNs masking shows the initiator, remapped', async () => {
    const { dev } = device('none');
    dev.setLunMap(I1, [[5, 1]]);
    const r = await send(dev, n1, 0, encodeReportLunsCdb({ selectReport: 0, allocationLength: 64 }));
    expect(decodeReportLunsData(r.data).luns).toEqual([5]);
    const none = await send(dev, n2, 0, encodeReportLunsCdb({ selectReport: 0, allocationLength: 64 }));
    expect(none.data.toString('hex')).toBe('0000000000000000');
    const read = await send(dev, n1, 5, cdb('28000000000000000100'));
    expect(read.sense).toMatchObject({ key: 6, asc: 0x29, ascq: 0x00 });
    expect((await send(dev, n1, 5, cdb('28000000000000000100'))).data.subarray(0, 12).toString()).toBe('array1/disk1');
  });
});

describe('TargetDevice LUNs without an LU', () => {
  it('INQUIRY: peripheral qualifier 011b, type 1Fh', async () => {
    const { dev } = device();
    const r = await send(dev, n1, 9, encodeInquiryCdb({ evpd: false, pageCode: 0, allocationLength: 96 }));
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(r.data[0]).toBe(0x7f);
    expect(decodeStandardInquiry(r.data)).toMatchObject({ qualifier: 3, deviceType: 0x1f, version: 6 });
  });
  it('other commands: CHECK CONDITION ILLEGAL REQUEST 25/00', async () => {
    const { dev } = device();
    const r = await send(dev, n1, 9, TUR);
    expect(r.status).toBe(ScsiStatus.CHECK_CONDITION);
    expect(r.sense).toMatchObject({ key: 5, asc: 0x25, ascq: 0 });
  });
  it('REQUEST SENSE: GOOD with LOGICAL UNIT NOT SUPPORTED as its data', async () => {
    const { dev } = device();
    const r = await send(dev, n1, 9, cdb('030000001200'), 18);
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(r.data.toString('hex')).toBe('700005000000000a000000002500000000 00'.replace(/ /g, ''));
  });
  it('a masked-out LU is a LUN without an LU', async () => {
    const { dev } = device('none');
    expect((await send(dev, n1, 0, TUR)).sense).toMatchObject({ key: 5, asc: 0x25 });
  });
  it('the well-known LU answers INQUIRY as type 1Eh and TEST UNIT READY; other commands are invalid opcodes', async () => {
    const { dev } = device();
    const inq = await send(dev, n1, 0xc101, encodeInquiryCdb({ evpd: false, pageCode: 0, allocationLength: 36 }), 36);
    expect(inq.data.length).toBe(36);
    expect(inq.data[0]).toBe(0x1e);
    expect((await send(dev, n1, 0xc101, TUR)).status).toBe(ScsiStatus.GOOD);
    expect((await send(dev, n1, 0xc101, cdb('28000000000000000100'))).sense).toMatchObject({ key: 5, asc: 0x20 });
  });
});

describe('TargetDevice dispatch', () => {
  it('rejects a task for a port the device does not have', async () => {
    const { dev } = device();
    await expect(dev.dispatch({ nexus: makeNexus(I1, '5000000000000999'), lun: 0, cdb: TUR, dataInLength: 0 })).rejects.toBeInstanceOf(UnreachableError);
  });
  it('passes the target port (relative id, WWPN) to the LU: VPD 83h shows the port the command came through', async () => {
    const { dev } = device();
    for (const [n, rel, wwpn] of [[n1, 1, TP1], [n1b, 2, TP2]] as const) {
      const r = await send(dev, n, 0, encodeInquiryCdb({ evpd: true, pageCode: 0x83, allocationLength: 255 }), 255);
      const hex = r.data.toString('hex');
      expect(hex).toContain(`01940004${rel.toString(16).padStart(8, '0')}`);
      expect(hex).toContain(`01930008${wwpn}`);
      expect(hex).toContain('01a30008' + '20000000000000a0');
    }
  });
  it('UA 3Fh/0Eh when the initiator LUN map changes, only to that initiator, after the power-on UA', async () => {
    const { dev } = device();
    await clearUa(dev, n1, 0);
    await clearUa(dev, n2, 0);
    dev.setLunMap(I1, [0]);
    expect((await send(dev, n1, 0, TUR)).sense).toMatchObject({ key: 6, asc: 0x3f, ascq: 0x0e });
    expect((await send(dev, n1, 0, TUR)).status).toBe(ScsiStatus.GOOD);
    expect((await send(dev, n2, 0, TUR)).status).toBe(ScsiStatus.GOOD);
    dev.setLunMap(I1, [0]);
    expect((await send(dev, n1, 0, TUR)).status).toBe(ScsiStatus.GOOD);
  });
  it('REPORT LUNS clears a pending 3Fh/0Eh for its own I_T nexus only (SPC-4)', async () => {
    const { dev } = device();
    await clearUa(dev, n1, 0);
    await clearUa(dev, n1b, 0);
    dev.setLunMap(I1, [0]);
    const r = await send(dev, n1, 0, encodeReportLunsCdb({ selectReport: 0, allocationLength: 64 }));
    expect(decodeReportLunsData(r.data).luns).toEqual([0]);
    expect((await send(dev, n1, 0, TUR)).status).toBe(ScsiStatus.GOOD);
    // Same initiator port through the other target port is another nexus: still told.
    expect((await send(dev, n1b, 0, TUR)).sense).toMatchObject({ key: 6, asc: 0x3f, ascq: 0x0e });
  });
  it('pending UAs come out by SAM-5 precedence: resets, then I_T nexus loss, then the rest', async () => {
    const { dev } = device();
    await clearUa(dev, n1, 0);
    dev.setLunMap(I1, [0]);
    dev.nexusLost(n1);
    await dev.lunReset(n1, 0);
    const order = [];
    for (let i = 0; i < 3; i++) order.push((await send(dev, n1, 0, TUR)).sense);
    expect(order).toMatchObject([
      { key: 6, asc: 0x29, ascq: 0x03 },
      { key: 6, asc: 0x29, ascq: 0x07 },
      { key: 6, asc: 0x3f, ascq: 0x0e },
    ]);
    expect((await send(dev, n1, 0, TUR)).status).toBe(ScsiStatus.GOOD);
  });
  it('REQUEST SENSE reports the highest-precedence UA first too', async () => {
    const { dev } = device();
    await clearUa(dev, n1, 0);
    dev.setLunMap(I1, [0]);
    await dev.lunReset(n1, 0);
    const rs = await send(dev, n1, 0, cdb('030000001200'), 18);
    expect(decodeSense(rs.data)).toMatchObject({ key: 6, asc: 0x29, ascq: 0x03 });
  });
});

describe('TargetDevice task management', () => {
  async function held(dev: TargetDevice, lu: TestLu, nexus: ITNexus, tag: number) {
    const p = dev.dispatch({ nexus, lun: 0, cdb: cdb('c00000000000'), dataInLength: 0, tag });
    await new Promise((r) => setImmediate(r));
    expect(lu.held.length).toBeGreaterThan(0);
    return { p };
  }

  it('ABORT TASK by tag ends only that task with TASK ABORTED', async () => {
    const { dev, lu0 } = device();
    await clearUa(dev, n1, 0);
    const { p: a } = await held(dev, lu0, n1, 7);
    const { p: b } = await held(dev, lu0, n1, 8);
    expect(await dev.abortTask(n1, 0, 99)).toBe(false);
    expect(await dev.abortTask(n1, 0, 7)).toBe(true);
    expect((await a).status).toBe(ScsiStatus.TASK_ABORTED);
    lu0.held[1]!();
    expect((await b).status).toBe(ScsiStatus.GOOD);
  });

  it('an aborted outer signal aborts the task', async () => {
    const { dev, lu0 } = device();
    await clearUa(dev, n1, 0);
    const ac = new AbortController();
    const p = dev.dispatch({ nexus: n1, lun: 0, cdb: cdb('c00000000000'), dataInLength: 0, signal: ac.signal });
    await new Promise((r) => setImmediate(r));
    ac.abort();
    expect((await p).status).toBe(ScsiStatus.TASK_ABORTED);
    expect(lu0.held.length).toBe(1);
  });

  it('a front end that passes its own TaskAbort has it aborted by LU RESET (no AbortSignal built)', async () => {
    const { dev, lu0 } = device();
    await clearUa(dev, n1, 0);
    const ab = new TaskAbort();
    const p = dev.dispatch({ nexus: n1, lun: 0, cdb: cdb('c00000000000'), dataInLength: 0, tag: 3, aborter: ab });
    await new Promise((r) => setImmediate(r));
    expect(lu0.held.length).toBe(1);
    await dev.lunReset(n1, 0);
    expect(ab.aborted).toBe(true);
    expect((await p).status).toBe(ScsiStatus.TASK_ABORTED);
    // A signal asked for after the abort comes out aborted, with the router's reason.
    expect(ab.signal.aborted).toBe(true);
    expect((ab.signal.reason as DOMException).name).toBe('AbortError');
    const q = dev.dispatch({ nexus: n1, lun: 0, cdb: cdb('c00000000000'), dataInLength: 0, tag: 4, aborter: new TaskAbort() });
    expect(decoded(await q).sense).toMatchObject({ key: 6, asc: 0x29, ascq: 0x03 });
  });

  it('a TaskAbort aborted before dispatch ends the task at once; one aborted while running fires a signal the LU built', async () => {
    const { dev, lu0 } = device();
    await clearUa(dev, n1, 0);
    const early = new TaskAbort();
    early.abort();
    expect((await dev.dispatch({ nexus: n1, lun: 0, cdb: cdb('c00000000000'), dataInLength: 0, aborter: early })).status).toBe(ScsiStatus.TASK_ABORTED);
    expect(lu0.held.length).toBe(0);
    const ab = new TaskAbort();
    const sig = ab.signal;
    let fired = false;
    sig.addEventListener('abort', () => (fired = true));
    const p = dev.dispatch({ nexus: n1, lun: 0, cdb: cdb('c00000000000'), dataInLength: 0, tag: 5, aborter: ab });
    await new Promise((r) => setImmediate(r));
    expect(await dev.abortTask(n1, 0, 5)).toBe(true);
    expect(fired).toBe(true);
    expect((await p).status).toBe(ScsiStatus.TASK_ABORTED);
  });

  it('ABORT TASK SET aborts the nexus tasks only; CLEAR TASK SET aborts all and tells the others 2Fh/00h', async () => {
    const { dev, lu0 } = device();
    await clearUa(dev, n1, 0);
    await clearUa(dev, n2, 0);
    const { p: a } = await held(dev, lu0, n1, 1);
    const { p: b } = await held(dev, lu0, n2, 1);
    expect(await dev.abortTaskSet(n1, 0)).toBe(true);
    expect((await a).status).toBe(ScsiStatus.TASK_ABORTED);
    const { p: c } = await held(dev, lu0, n1, 2);
    expect(await dev.clearTaskSet(n1, 0)).toBe(true);
    expect((await b).status).toBe(ScsiStatus.TASK_ABORTED);
    expect((await c).status).toBe(ScsiStatus.TASK_ABORTED);
    expect((await send(dev, n2, 0, TUR)).sense).toMatchObject({ key: 6, asc: 0x2f, ascq: 0 });
    expect((await send(dev, n1, 0, TUR)).status).toBe(ScsiStatus.GOOD);
  });

  it('LU RESET aborts tasks and queues 29h/03h for every nexus; target resets 29h/00h (warm) and 29h/01h (cold)', async () => {
    const { dev, lu0 } = device();
    await clearUa(dev, n1, 0);
    await clearUa(dev, n2, 0);
    const { p: a } = await held(dev, lu0, n2, 1);
    await dev.lunReset(n1, 0);
    expect((await a).status).toBe(ScsiStatus.TASK_ABORTED);
    expect((await send(dev, n1, 0, TUR)).sense).toMatchObject({ key: 6, asc: 0x29, ascq: 0x03 });
    expect((await send(dev, n2, 0, TUR)).sense).toMatchObject({ key: 6, asc: 0x29, ascq: 0x03 });
    await dev.targetReset(n1, false);
    expect((await send(dev, n2, 0, TUR)).sense).toMatchObject({ key: 6, asc: 0x29, ascq: 0x00 });
    await dev.targetReset(n1, true);
    expect((await send(dev, n2, 0, TUR)).sense).toMatchObject({ key: 6, asc: 0x29, ascq: 0x01 });
    await expect(dev.lunReset(n1, 42)).rejects.toBeInstanceOf(NoSuchLunError);
  });

  it('I_T nexus loss aborts that nexus tasks and queues 29h/07h for it only', async () => {
    const { dev, lu0 } = device();
    await clearUa(dev, n1, 0);
    await clearUa(dev, n2, 0);
    const { p: a } = await held(dev, lu0, n1, 1);
    dev.nexusLost(n1);
    expect((await a).status).toBe(ScsiStatus.TASK_ABORTED);
    expect((await send(dev, n1, 0, TUR)).sense).toMatchObject({ key: 6, asc: 0x29, ascq: 0x07 });
    expect((await send(dev, n2, 0, TUR)).status).toBe(ScsiStatus.GOOD);
  });
});

describe('sense through the router', () => {
  it('unsupported opcode at a real LU: 5/20/00 with field pointer byte 0', async () => {
    const { dev } = device();
    await clearUa(dev, n1, 0);
    const r = await dev.dispatch({ nexus: n1, lun: 0, cdb: cdb('e50000000000'), dataInLength: 0 });
    expect(r.status).toBe(ScsiStatus.CHECK_CONDITION);
    expect(r.sense!.toString('hex')).toBe('700005000000000a00000000200000c00000');
    expect(decodeSense(r.sense!)).toMatchObject({ key: 5, asc: 0x20 });
  });
});

describe('malformed requests at the router', () => {
  it('short and empty CDBs get standard sense, never a rejected dispatch', async () => {
    const { dev } = device();
    for (const [lun, c] of [[9, cdb('1200')], [0xc101, cdb('1200')], [9, cdb('03')], [0, cdb('a000')], [9, Buffer.alloc(0)], [0xc101, Buffer.alloc(0)], [0, Buffer.alloc(0)]] as const) {
      const r = await send(dev, n1, lun, c);
      expect(r.status).toBe(ScsiStatus.CHECK_CONDITION);
      expect(r.sense?.key).toBe(5);
    }
  });
});
