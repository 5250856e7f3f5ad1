/** The tape drive behind the router's TargetDevice: what an initiator on the fabric sees. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TargetDevice } from '../../../firmware-sim/router/target-device.js';
import { makeNexus, type ITNexus } from '../../../firmware-sim/router/task.js';
import { Cartridge } from '../../../firmware-sim/devices/tape/cartridge.js';
import { decodeStandardInquiry, decodeSupportedPages, encodeInquiryCdb } from '../../../src/scsi/inquiry.js';
import { decodeAllCommands, encodeRsocCdb, ReportingOptions } from '../../../src/scsi/rsoc.js';
import { decodeReportLunsData, encodeReportLunsCdb } from '../../../src/scsi/report-luns.js';
import { decodePositionLong, encodeReadPositionCdb } from '../../../src/scsi/tape.js';
import { decodeSense } from '../../../src/scsi/sense.js';
import { newDrive, pattern, read6, rewind, tmp, wfm, write6 } from './helpers.js';

const TP = '50000000000000b1';
const n1 = makeNexus('21000024ff000001', TP);
const n2 = makeNexus('21000024ff000002', TP);

let t: ReturnType<typeof tmp>;
beforeEach(() => {
  t = tmp();
});
afterEach(() => t.done());

async function router() {
  const dev = new TargetDevice({ name: 'router1', wwnn: '20000000000000b0', ports: [{ wwpn: TP }] });
  const drive = newDrive();
  dev.attach(3, drive);
  await drive.loadCartridge(await Cartridge.create(`${t.dir}/R1.tap`, { capacity: 1 << 24, barcode: 'R00001L4' }));
  const send = async (nexus: ITNexus, cdb: Buffer, dataOut?: Buffer, alloc = 0xffff) => {
    const r = await dev.dispatch({ nexus, lun: 3, cdb, dataOut, dataInLength: alloc });
    return { status: r.status, data: r.dataIn ?? Buffer.alloc(0), ...(r.sense ? { sense: decodeSense(r.sense), senseBytes: r.sense } : {}) };
  };
  return { dev, drive, send };
}

describe('tape drive through router dispatch', () => {
  it('INQUIRY: sequential-access, RMB, SSC-3 version descriptor; VPD 00h lists B0h', async () => {
    const { send } = await router();
    const r = await send(n1, encodeInquiryCdb({ evpd: false, pageCode: 0, allocationLength: 96 }), undefined, 96);
    expect(r.status).toBe(0);
    expect(r.data[0]).toBe(0x01);
    expect(r.data[1]).toBe(0x80);
    const inq = decodeStandardInquiry(r.data);
    expect(inq.versionDescriptors).toContain(0x0400);
    const vpd = await send(n1, encodeInquiryCdb({ evpd: true, pageCode: 0, allocationLength: 255 }), undefined, 255);
    expect(decodeSupportedPages(vpd.data)).toContain(0xb0);
    const b0 = await send(n1, encodeInquiryCdb({ evpd: true, pageCode: 0xb0, allocationLength: 255 }), undefined, 255);
    expect(b0.data.toString('hex')).toBe('01b000020000');
  });

  it('REPORT LUNS shows the drive; RSOC lists the SSC commands with their CDB lengths', async () => {
    const { send } = await router();
    const luns = await send(n1, encodeReportLunsCdb({ selectReport: 0, allocationLength: 4096 }));
    expect(decodeReportLunsData(luns.data).luns).toContain(3);
    const r = await send(n1, encodeRsocCdb({ rctd: false, reportingOptions: ReportingOptions.ALL, opcode: 0, serviceAction: 0, allocationLength: 8192 }), undefined, 8192);
    // The first command from a nexus carries the power-on unit attention unless RSOC ignores it.
    const data = r.status === 0 ? r.data : (await send(n1, encodeRsocCdb({ rctd: false, reportingOptions: 0, opcode: 0, serviceAction: 0, allocationLength: 8192 }), undefined, 8192)).data;
    const cmds = new Map(decodeAllCommands(data).map((c) => [c.opcode, c.cdbLength]));
    for (const [op, len] of [[0x00, 6], [0x01, 6], [0x05, 6], [0x08, 6], [0x0a, 6], [0x10, 6], [0x11, 6], [0x19, 6], [0x1a, 6], [0x1b, 6], [0x1e, 6], [0x2b, 10], [0x34, 10], [0x44, 10], [0x91, 16], [0x92, 16]] as const) {
      expect(cmds.get(op)).toBe(len);
    }
  });

  it('data path: UA, WRITE, WRITE FILEMARKS, REWIND, READ, READ POSITION, BLANK CHECK bytes', async () => {
    const { send } = await router();
    expect((await send(n1, Buffer.alloc(6))).sense).toMatchObject({ key: 6, asc: 0x29 });
    expect((await send(n1, Buffer.alloc(6))).status).toBe(0);
    expect((await send(n1, write6(4096), pattern(4096, 1))).status).toBe(0);
    expect((await send(n1, wfm(1))).status).toBe(0);
    expect((await send(n1, rewind())).status).toBe(0);
    const r = await send(n1, read6(4096));
    expect(r.data.equals(pattern(4096, 1))).toBe(true);
    const fm = await send(n1, read6(4096));
    expect(fm.senseBytes!.toString('hex')).toBe('f0008000001000' + '0a' + '00000000' + '0001' + '00000000');
    const eod = await send(n1, read6(4096));
    expect(eod.senseBytes!.toString('hex')).toBe('f0000800001000' + '0a' + '00000000' + '0005' + '00000000');
    const p = decodePositionLong((await send(n1, encodeReadPositionCdb({ serviceAction: 6, allocationLength: 0 }))).data);
    expect([p.firstObject, p.fileId]).toEqual([2, 1]);
  });

  it('a second initiator gets its own unit attention after a cartridge change', async () => {
    const { send, drive } = await router();
    for (const n of [n1, n2]) {
      await send(n, Buffer.alloc(6));
      expect((await send(n, Buffer.alloc(6))).status).toBe(0);
    }
    await drive.eject();
    await drive.loadCartridge(await Cartridge.create(`${t.dir}/R2.tap`, { capacity: 1 << 24 }));
    for (const n of [n1, n2]) {
      expect((await send(n, Buffer.alloc(6))).sense).toMatchObject({ key: 6, asc: 0x28, ascq: 0 });
      expect((await send(n, Buffer.alloc(6))).status).toBe(0);
    }
  });
});
