/**
 * The disk LU behind the router's TargetDevice: what an initiator sees through dispatch (INQUIRY
 * flags and VPD pages from the disk, RSOC usage data from its table, data-in truncated to the
 * allocation length, LUN reset and nexus loss reaching PREVENT state).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TargetDevice } from '../../../firmware-sim/router/target-device.js';
import { DiskLu } from '../../../firmware-sim/devices/disk/disk-lu.js';
import { MemoryStore } from '../../../firmware-sim/devices/backing/memory-store.js';
import { makeNexus, type ScsiTask } from '../../../firmware-sim/router/task.js';
import { decodeSense } from '../../../src/scsi/sense.js';
import { SbcOp, encodeBlockCdb, encodePreventAllowCdb, encodeStartStopCdb, decodeBlockLimitsVpd } from '../../../src/scsi/sbc.js';
import type { CommandDef } from '../../../firmware-sim/lu/logical-unit.js';
import { identity } from './helpers.js';

const PORT = '50000000000000a1';
const A = makeNexus('21000024ff000001', PORT);
const B = makeNexus('21000024ff000002', PORT);
let dev: TargetDevice;
let lu: DiskLu;

function setup(opts: { removable?: boolean; extraCommands?: CommandDef[] } = {}) {
  dev = new TargetDevice({ name: 'array1', wwnn: '50000000000000a0', ports: [{ wwpn: PORT }] });
  lu = new DiskLu({ identity, store: new MemoryStore(1 << 20), blockSize: 512, ...(opts.removable ? { removable: true } : {}), ...(opts.extraCommands ? { extraCommands: opts.extraCommands as never } : {}) });
  dev.attach(0, lu);
}
const run = (cdb: Buffer | number[], nexus = A, dataInLength = 4096, dataOut?: Buffer) =>
  dev.dispatch({ nexus, lun: 0, cdb: Buffer.isBuffer(cdb) ? cdb : Buffer.from(cdb), dataInLength, ...(dataOut ? { dataOut } : {}) } as ScsiTask);
async function ready(nexus = A) {
  for (let i = 0; i < 5; i++) if ((await run([0, 0, 0, 0, 0, 0], nexus)).status === 0) return;
  throw new Error('unit attentions did not clear');
}

afterEach(async () => {
  await lu?.close();
});

describe('disk LU through router dispatch', () => {
  it('standard INQUIRY: direct-access, RMB from the disk, 3PC only with copy commands', async () => {
    setup({ removable: true });
    const r = await run([0x12, 0, 0, 0, 96, 0]);
    expect(r.status).toBe(0);
    expect(r.dataIn![0]).toBe(0x00);
    expect(r.dataIn![1]! & 0x80).toBe(0x80);
    expect(r.dataIn![5]! & 0x08).toBe(0);
    const xcopy: CommandDef = { opcode: 0x83, serviceAction: 0, name: 'EXTENDED COPY(LID1)', cdbLength: 16, rsv: 'write', handler: () => undefined };
    await lu.close();
    setup({ extraCommands: [xcopy] });
    const r2 = await run([0x12, 0, 0, 0, 96, 0]);
    expect(r2.dataIn![1]! & 0x80).toBe(0);
    expect(r2.dataIn![5]! & 0x08).toBe(0x08);
  });

  it('VPD 00h lists B0h B1h B2h; B0h through dispatch carries the block limits', async () => {
    setup();
    const sup = await run([0x12, 1, 0x00, 0, 255, 0]);
    const list = [...sup.dataIn!.subarray(4, 4 + sup.dataIn![3]!)];
    expect(list).toEqual(expect.arrayContaining([0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2]));
    const b0 = await run([0x12, 1, 0xb0, 0, 255, 0]);
    expect(b0.dataIn!.length).toBe(64);
    expect(decodeBlockLimitsVpd(b0.dataIn!)).toMatchObject({ maximumUnmapBlockDescriptorCount: 256, maximumWriteSameLength: 65536 });
    const b2 = await run([0x12, 1, 0xb2, 0, 255, 0]);
    expect(b2.dataIn!.toString('hex')).toBe('00b2000400e40200');
  });

  it('RSOC for READ(10) reports the disk table usage data (DPO/FUA)', async () => {
    setup();
    await ready();
    const cdb = Buffer.from([0xa3, 0x0c, 0x01, SbcOp.READ_10, 0, 0, 0, 0, 0x10, 0, 0, 0]);
    const r = await run(cdb);
    expect(r.status).toBe(0);
    expect(r.dataIn![1]! & 0x07).toBe(0x03);
    expect(r.dataIn!.readUInt16BE(2)).toBe(10);
    expect(r.dataIn!.subarray(4, 14).toString('hex')).toBe('2818ffffffff1fffff00');
  });

  it('data-in is cut to the allocation length by the router; errors carry sense', async () => {
    setup();
    await ready();
    await run(encodeBlockCdb({ opcode: SbcOp.WRITE_10, lba: 0, count: 1 }), A, 0, Buffer.alloc(512, 0x77));
    const r = await run(encodeBlockCdb({ opcode: SbcOp.READ_10, lba: 0, count: 1 }), A, 200);
    expect(r.dataIn!.length).toBe(200);
    expect(r.dataIn!.equals(Buffer.alloc(200, 0x77))).toBe(true);
    const oob = await run(encodeBlockCdb({ opcode: SbcOp.READ_16, lba: 2048, count: 1 }));
    expect(oob.status).toBe(2);
    expect(decodeSense(oob.sense!)).toMatchObject({ key: 5, asc: 0x21 });
  });

  it('LUN reset and I_T nexus loss release PREVENT MEDIUM REMOVAL', async () => {
    setup({ removable: true });
    await ready(A);
    await ready(B);
    expect((await run(encodePreventAllowCdb(1), A)).status).toBe(0);
    expect(decodeSense((await run(encodeStartStopCdb({ loej: true }), B)).sense!)).toMatchObject({ key: 5, asc: 0x53, ascq: 2 });
    await dev.lunReset(A, 0);
    await ready(A);
    await ready(B);
    expect((await run(encodeStartStopCdb({ loej: true }), B)).status).toBe(0);
    expect((await run(encodeStartStopCdb({ loej: true, start: true }), B)).status).toBe(0);
    expect((await run(encodePreventAllowCdb(1), A)).status).toBe(0);
    dev.nexusLost(A);
    expect((await run(encodeStartStopCdb({ loej: true }), B)).status).toBe(0);
  });
});
