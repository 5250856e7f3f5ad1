import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeModeSelect, encodeModeSense, encodeModeData, decodeModeData } from '../../../src/scsi/mode.js';
import { decodeDeviceConfigurationPage, decodeDataCompressionPage, decodeMediumPartitionPage, decodeTapeDeviceSpecific } from '../../../src/scsi/tape.js';
import { I2, pattern, read6, readyDrive, rewind, run, tmp, write6 } from './helpers.js';

let t: ReturnType<typeof tmp>;
beforeEach(() => {
  t = tmp();
});
afterEach(() => t.done());

const sense6 = (pageCode: number, opts: { dbd?: boolean; pc?: 0 | 1 | 2 | 3; alloc?: number } = {}) =>
  encodeModeSense({ ten: false, dbd: !!opts.dbd, pc: opts.pc ?? 0, pageCode, subpage: 0, allocationLength: opts.alloc ?? 255 });
/** What Linux st sends for `mt setblk N` / `mt setdensity D`: header + one descriptor, no pages. */
const stSelect = (blockLength: number, density = 0) =>
  encodeModeData({ ten: false, deviceSpecific: 0x10, descriptorForm: 'general', descriptors: [{ densityCode: density, blocks: 0, blockLength }], pages: [] }, true);

describe('tape drive: MODE SENSE / MODE SELECT', () => {
  it('answers st\'s open-time MODE SENSE(6) page 0, alloc 12: header + block descriptor', async () => {
    const { drive } = await readyDrive(t.dir);
    const r = await run(drive, sense6(0, { alloc: 12 }), { alloc: 12 });
    expect(r.status).toBe(0);
    // len 11, medium 0, BUFFERED MODE 1, bdl 8 | density 46h, 0 blocks, block length 0 (variable)
    expect(r.data.toString('hex')).toBe('0b001008' + '46000000' + '00000000');
  });

  it('reports WP for a write-protected cartridge', async () => {
    const { drive, cart } = await readyDrive(t.dir);
    await cart.setWriteProtected(true);
    const r = await run(drive, sense6(0));
    expect(decodeTapeDeviceSpecific(r.data[2]!)).toEqual({ wp: true, bufferedMode: 1, speed: 0 });
  });

  it('st-style MODE SELECT(6) sets fixed block length (PF=0 and PF=1), other nexus gets 6/2A/01', async () => {
    const { drive } = await readyDrive(t.dir);
    await run(drive, [0, 0, 0, 0, 0, 0], { nexus: I2 });
    const list = stSelect(512);
    expect((await run(drive, encodeModeSelect({ ten: false, pf: false, sp: false, parameterListLength: list.length }), { dataOut: list })).status).toBe(0);
    expect((await run(drive, encodeModeSelect({ ten: false, pf: true, sp: false, parameterListLength: list.length }), { dataOut: list })).status).toBe(0);
    expect(drive.mode.blockLength).toBe(512);
    const r = await run(drive, sense6(0));
    expect(r.data.subarray(4, 12).toString('hex')).toBe('4600000000000200');
    expect((await run(drive, [0, 0, 0, 0, 0, 0], { nexus: I2 })).sense).toMatchObject({ key: 6, asc: 0x2a, ascq: 0x01 });
    expect((await run(drive, write6(2, true), { dataOut: pattern(1024, 1) })).status).toBe(0);
    await run(drive, rewind());
    expect((await run(drive, read6(2, { fixed: true }))).data.equals(pattern(1024, 1))).toBe(true);
  });

  it('rejects block length outside the limits and unsupported densities with 26/00 pointing into the list', async () => {
    // Configured below the LTO default FFFFFFh so 50000h is out of range.
    const { drive } = await readyDrive(t.dir, {}, { maxBlockLength: 0x40000 });
    let list = stSelect(0x50000);
    let r = await run(drive, encodeModeSelect({ ten: false, pf: true, sp: false, parameterListLength: 12 }), { dataOut: list });
    expect(r.sense).toMatchObject({ key: 5, asc: 0x26, ascq: 0, sks: { kind: 'field', cd: false, byte: 9 } });
    list = stSelect(512, 0x99);
    r = await run(drive, encodeModeSelect({ ten: false, pf: true, sp: false, parameterListLength: 12 }), { dataOut: list });
    expect(r.sense).toMatchObject({ key: 5, asc: 0x26, sks: { cd: false, byte: 4 } });
    expect(drive.mode.blockLength).toBe(0);
    list = stSelect(1024, 0x44);
    expect((await run(drive, encodeModeSelect({ ten: false, pf: true, sp: false, parameterListLength: 12 }), { dataOut: list })).status).toBe(0);
    expect((await run(drive, sense6(0))).data[4]).toBe(0x44);
    r = await run(drive, encodeModeSelect({ ten: false, pf: true, sp: true, parameterListLength: 12 }), { dataOut: list });
    expect(r.sense).toMatchObject({ key: 5, asc: 0x24, ascq: 0, sks: { cd: true, byte: 1, bit: 0 } });
    expect((await run(drive, sense6(0, { pc: 3 }))).sense).toMatchObject({ key: 5, asc: 0x39, ascq: 0 });
  });

  it('returns the tape pages; DBD drops the descriptor; all pages (3Fh)', async () => {
    const { drive } = await readyDrive(t.dir);
    let r = await run(drive, sense6(0x10, { dbd: true }));
    expect(r.data[3]).toBe(0);
    const cfg = decodeDeviceConfigurationPage(r.data.subarray(4));
    expect(r.data[4]).toBe(0x10);
    expect(r.data[5]).toBe(0x0e);
    expect(cfg).toMatchObject({ byte8: 0x40, byte10: 0x18, writeBufferFullRatio: 0x80 });
    r = await run(drive, sense6(0x0f, { dbd: true }));
    expect(decodeDataCompressionPage(r.data.subarray(4))).toMatchObject({ dce: false, dcc: true });
    r = await run(drive, sense6(0x11, { dbd: true }));
    expect(decodeMediumPartitionPage(r.data.subarray(4))).toMatchObject({ maxAdditionalPartitions: 0, partitionSizes: [0] });
    r = await run(drive, sense6(0x3f));
    const parsed = decodeModeData(r.data, false, 'general');
    expect(parsed.pages.map((p) => p.pageCode)).toEqual([0x0a, 0x0f, 0x10, 0x11, 0x1c]);
    expect(parsed.descriptors[0]).toMatchObject({ densityCode: 0x46, blockLength: 0 });
    expect((await run(drive, sense6(0x02))).sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 2 } });
  });

  it('REW in page 10h: READ and SPACE that cross EW report 0/00/02 EOM, once, with the data', async () => {
    const { drive } = await readyDrive(t.dir, { capacity: 10_000, earlyWarning: 5_000 });
    // EW at 5000: records of 1000 bytes (1008 on the image); the 5th ends at 5040.
    for (let k = 0; k < 7; k++) await run(drive, write6(1000), { dataOut: pattern(1000, k) });
    await run(drive, rewind());
    for (let k = 0; k < 4; k++) expect((await run(drive, read6(1000))).status).toBe(0);
    expect((await run(drive, read6(1000))).status).toBe(0);
    await run(drive, rewind());
    const cfg = Buffer.from((await run(drive, sense6(0x10, { dbd: true }))).data.subarray(4));
    cfg[0] = 0x10;
    cfg[8] = cfg[8]! | 0x01;
    const list = encodeModeData({ ten: false, deviceSpecific: 0x10, descriptorForm: 'general', descriptors: [], pages: [cfg] }, true);
    expect((await run(drive, encodeModeSelect({ ten: false, pf: true, sp: false, parameterListLength: list.length }), { dataOut: list })).status).toBe(0);
    for (let k = 0; k < 4; k++) expect((await run(drive, read6(1000))).status).toBe(0);
    const r = await run(drive, read6(1000));
    expect(r.sense).toMatchObject({ key: 0, asc: 0, ascq: 2, eom: true, information: 0 });
    expect(r.data.equals(pattern(1000, 4))).toBe(true);
    expect((await run(drive, read6(1000))).status).toBe(0);
    await run(drive, rewind());
    expect((await run(drive, Buffer.from([0x11, 0, 0, 0, 6, 0]))).sense).toMatchObject({ key: 0, ascq: 2, eom: true });
    expect((await run(drive, Buffer.from([0x11, 0, 0, 0, 1, 0]))).status).toBe(0);
  });

  it('SWP in page 10h write-protects; medium partition page is read-only; D_SENSE switches sense format', async () => {
    const { drive } = await readyDrive(t.dir);
    const cur = (await run(drive, sense6(0x10, { dbd: true }))).data.subarray(4);
    const swp = Buffer.from(cur);
    swp[0] = 0x10;
    swp[10] = swp[10]! | 0x04;
    const list = encodeModeData({ ten: false, deviceSpecific: 0x10, descriptorForm: 'general', descriptors: [], pages: [swp] }, true);
    expect((await run(drive, encodeModeSelect({ ten: false, pf: true, sp: false, parameterListLength: list.length }), { dataOut: list })).status).toBe(0);
    expect((await run(drive, write6(4), { dataOut: pattern(4, 1) })).sense).toMatchObject({ key: 7, asc: 0x27 });
    expect(decodeTapeDeviceSpecific((await run(drive, sense6(0))).data[2]!).wp).toBe(true);

    const part = Buffer.from((await run(drive, sense6(0x11, { dbd: true }))).data.subarray(4));
    part[3] = 1;
    const l2 = encodeModeData({ ten: false, deviceSpecific: 0x10, descriptorForm: 'general', descriptors: [], pages: [part] }, true);
    expect((await run(drive, encodeModeSelect({ ten: false, pf: true, sp: false, parameterListLength: l2.length }), { dataOut: l2 })).sense).toMatchObject({ key: 5, asc: 0x26, sks: { byte: 7 } });

    const ctl = Buffer.from((await run(drive, sense6(0x0a, { dbd: true }))).data.subarray(4));
    ctl[2] = ctl[2]! | 0x04;
    const l3 = encodeModeData({ ten: false, deviceSpecific: 0x10, descriptorForm: 'general', descriptors: [], pages: [ctl] }, true);
    expect((await run(drive, encodeModeSelect({ ten: false, pf: true, sp: false, parameterListLength: l3.length }), { dataOut: l3 })).status).toBe(0);
    expect((await run(drive, write6(4), { dataOut: pattern(4, 1) })).senseBytes![0]).toBe(0x72);
  });
});
