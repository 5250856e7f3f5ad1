import { describe, expect, it } from 'vitest';
import { TargetDevice } from '../../firmware-sim/router/target-device.js';
import { makeNexus, type ITNexus } from '../../firmware-sim/router/task.js';
import { decodeDeviceIdPage, decodeStandardInquiry, decodeSupportedPages, encodeInquiryCdb, decodeExtendedInquiry, labNameOf } from '../../src/scsi/inquiry.js';
import { decodeAllCommands, decodeOneCommand, encodeRsocCdb } from '../../src/scsi/rsoc.js';
import { ScsiStatus } from '../../src/scsi/status.js';
import { TestLu, cdb, decoded } from '../router/helpers.js';
import { newDrive } from './tape/helpers.js';

const TP = '2100001086000001';
const N = makeNexus('21000024ff000001', TP);

function setup() {
  const dev = new TargetDevice({ name: 'router1', wwnn: '2000001086000000', ports: [{ wwpn: TP }] });
  const disk = new TestLu('router1/dm', 1, { threePC: true });
  const tape = newDrive();
  dev.attach(0, disk);
  dev.attach(1, tape);
  return { dev, disk, tape };
}

const send = async (dev: TargetDevice, lun: number, c: Buffer, alloc = 4096, nexus: ITNexus = N) =>
  decoded(await dev.dispatch({ nexus, lun, cdb: c, dataInLength: alloc }));

describe('INQUIRY', () => {
  it('standard data: SPC-4, 3PC from the LU, RMB for tape, CmdQue, identity strings, even with a UA pending', async () => {
    const { dev } = setup();
    const d = await send(dev, 0, encodeInquiryCdb({ evpd: false, pageCode: 0, allocationLength: 96 }));
    expect(d.status).toBe(ScsiStatus.GOOD);
    expect(d.data.length).toBe(96);
    expect(d.data.subarray(0, 8).toString('hex')).toBe('000006125b080002');
    expect(decodeStandardInquiry(d.data)).toMatchObject({ vendor: 'DMSIM', product: 'TESTLU', revision: '0001', threePC: true, versionDescriptors: [0x00a0, 0x0460, 0x04c0, 0x0a40, 0x0960] });
    const t = await send(dev, 1, encodeInquiryCdb({ evpd: false, pageCode: 0, allocationLength: 36 }), 36);
    expect(t.data.length).toBe(36);
    expect(t.data.subarray(0, 2).toString('hex')).toBe('0180');
    // The power-on UA is still there for the next command.
    expect((await send(dev, 0, cdb('000000000000'))).sense).toMatchObject({ key: 6, asc: 0x29, ascq: 0 });
  });

  it('EVPD=0 with a page code: 5/24/00 pointing at byte 2; unknown page: same', async () => {
    const { dev } = setup();
    const a = await send(dev, 0, cdb('120083006000'));
    expect(a.status).toBe(ScsiStatus.CHECK_CONDITION);
    expect(a.sense).toMatchObject({ key: 5, asc: 0x24, ascq: 0, sks: { kind: 'field', cd: true, byte: 2 } });
    const b = await send(dev, 0, cdb('0 12 01 c7 0060 00'.replace(/ /g, '').slice(1)));
    expect(b.sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 2 } });
    const c = await send(dev, 0, cdb('120200006000'));
    expect(c.sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 1, bit: 1 } });
  });

  it('VPD 00h lists 00/80/83/86 plus the device pages; 80h serial; 83h designators; 86h', async () => {
    const { dev } = setup();
    const p0 = await send(dev, 1, encodeInquiryCdb({ evpd: true, pageCode: 0, allocationLength: 255 }));
    expect(p0.data.toString('hex')).toBe('0100000500808386b0');
    expect(decodeSupportedPages((await send(dev, 0, encodeInquiryCdb({ evpd: true, pageCode: 0, allocationLength: 255 }))).data)).toEqual([0, 0x80, 0x83, 0x86]);
    const p80 = await send(dev, 0, encodeInquiryCdb({ evpd: true, pageCode: 0x80, allocationLength: 255 }));
    expect(p80.data.toString('hex')).toBe('00800004' + Buffer.from('SER1').toString('hex'));
    const p83 = await send(dev, 0, encodeInquiryCdb({ evpd: true, pageCode: 0x83, allocationLength: 255 }));
    const ds = decodeDeviceIdPage(p83.data);
    // NAA, T10 vendor ID (product + serial), T10 vendor ID with the lab name, relative port, port NAA, device NAA.
    expect(ds.map((d) => [d.association, d.type])).toEqual([[0, 3], [0, 1], [0, 1], [1, 4], [1, 3], [2, 3]]);
    expect(ds[0]!.value.toString('hex')).toBe('60014050000000000000000000000001');
    expect(ds[1]!.value.toString('ascii')).toBe('DMSIM   TESTLU SER1');
    expect(labNameOf(ds)).toBe('router1/dm');
    expect(ds[4]!.value.toString('hex')).toBe(TP);
    const p86 = await send(dev, 0, encodeInquiryCdb({ evpd: true, pageCode: 0x86, allocationLength: 255 }));
    expect(decodeExtendedInquiry(p86.data)).toMatchObject({ simpsup: true, luiclr: true });
  });

  it('allocation length truncates data-in', async () => {
    const { dev } = setup();
    const d = await send(dev, 0, encodeInquiryCdb({ evpd: true, pageCode: 0x83, allocationLength: 8 }), 8);
    expect(d.data.length).toBe(8);
    expect(d.data.subarray(0, 4).toString('hex')).toBe('00830065');
  });
});

describe('REQUEST SENSE', () => {
  it('reports and clears the pending UA, then NO SENSE; DESC=1 gives descriptor format', async () => {
    const { dev } = setup();
    const a = await send(dev, 0, cdb('030000001200'), 18);
    expect(a.status).toBe(ScsiStatus.GOOD);
    expect(a.data.toString('hex')).toBe('700006000000000a000000002900000000 00'.replace(/ /g, ''));
    const b = await send(dev, 0, cdb('030100001200'), 18);
    expect(b.data.toString('hex')).toBe('7200000000000000');
    expect((await send(dev, 0, cdb('000000000000'))).status).toBe(ScsiStatus.GOOD);
  });
});

describe('REPORT SUPPORTED OPERATION CODES', () => {
  it('all_commands lists the LU table, common commands included, in opcode order', async () => {
    const { dev } = setup();
    await send(dev, 0, cdb('000000000000'));
    const r = await send(dev, 0, encodeRsocCdb({ rctd: false, reportingOptions: 0, opcode: 0, serviceAction: 0, allocationLength: 4096 }));
    expect(r.status).toBe(ScsiStatus.GOOD);
    const cmds = decodeAllCommands(r.data);
    const ops = cmds.map((c) => c.opcode);
    expect(ops).toEqual([...ops].sort((a, b) => a - b));
    expect(cmds).toContainEqual({ opcode: 0x12, cdbLength: 6 });
    expect(cmds).toContainEqual({ opcode: 0xa3, serviceAction: 0x0c, cdbLength: 12 });
    expect(cmds).toContainEqual({ opcode: 0xa0, cdbLength: 12 });
    const rctd = decodeAllCommands((await send(dev, 0, encodeRsocCdb({ rctd: true, reportingOptions: 0, opcode: 0, serviceAction: 0, allocationLength: 4096 }))).data);
    expect(rctd[0]!.timeouts).toEqual({ commandSpecific: 0, nominal: 0, recommended: 60 });
  });

  it('one_command: usage data with the SA in byte 1; unsupported opcode: SUPPORT 001b; wrong form: 5/24/00 byte 2', async () => {
    const { dev } = setup();
    await send(dev, 0, cdb('000000000000'));
    const inq = await send(dev, 0, encodeRsocCdb({ rctd: false, reportingOptions: 1, opcode: 0x12, serviceAction: 0, allocationLength: 64 }));
    expect(inq.data.toString('hex')).toBe('000300061201ffffff00');
    const self = decodeOneCommand((await send(dev, 0, encodeRsocCdb({ rctd: true, reportingOptions: 2, opcode: 0xa3, serviceAction: 0x0c, allocationLength: 64 }))).data);
    expect(self.support).toBe(3);
    expect(self.usage.subarray(0, 3).toString('hex')).toBe('a30c87');
    expect(self.timeouts).toEqual({ commandSpecific: 0, nominal: 0, recommended: 60 });
    const none = await send(dev, 0, encodeRsocCdb({ rctd: false, reportingOptions: 1, opcode: 0xe5, serviceAction: 0, allocationLength: 64 }));
    expect(none.data.toString('hex')).toBe('00010000');
    const wrong = await send(dev, 0, encodeRsocCdb({ rctd: false, reportingOptions: 1, opcode: 0xa3, serviceAction: 0x0c, allocationLength: 64 }));
    expect(wrong.sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 2 } });
    const wrong2 = await send(dev, 0, encodeRsocCdb({ rctd: false, reportingOptions: 2, opcode: 0x12, serviceAction: 0, allocationLength: 64 }));
    expect(wrong2.sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 2 } });
    const bad = await send(dev, 0, encodeRsocCdb({ rctd: false, reportingOptions: 4, opcode: 0x12, serviceAction: 0, allocationLength: 64 }));
    expect(bad.sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 2 } });
  });

  it('unknown service action of MAINTENANCE IN: 5/24/00 pointing at byte 1', async () => {
    const { dev } = setup();
    await send(dev, 0, cdb('000000000000'));
    const r = await send(dev, 0, cdb('a30a00000000000002000000'));
    expect(r.sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 1, bit: 4 } });
  });
});
