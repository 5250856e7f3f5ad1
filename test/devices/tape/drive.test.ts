import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Cartridge } from '../../../firmware-sim/devices/tape/cartridge.js';
import {
  decodePositionLong,
  decodePositionShort,
  encodeLocate10,
  encodeLocate16,
  encodeReadPositionCdb,
  encodeSpace16,
  decodePositionExtended,
  decodeBlockLimits,
  decodeDensityReport,
  encodeReportDensityCdb,
  encodeLoadUnload,
  encodeErase6,
  decodeMediumTypeReport,
  encodeLogSenseCdb,
  decodeLogPage,
} from '../../../src/scsi/tape.js';
import { I1, I2, newDrive, pattern, read6, readyDrive, rewind, run, space6, tmp, wfm, write6 } from './helpers.js';

let t: ReturnType<typeof tmp>;
beforeEach(() => {
  t = tmp();
});
afterEach(() => t.done());

const TUR = [0, 0, 0, 0, 0, 0];
const pos = async (d: Parameters<typeof run>[0]) => decodePositionLong((await run(d, encodeReadPositionCdb({ serviceAction: 6, allocationLength: 0 }))).data);

/** Lay down: 3 records (100, 200, 300 bytes), FM, 2 records (512 each), FM, then EOD. Objects 0..6, EOD at 7. */
async function layout(d: Parameters<typeof run>[0]) {
  for (const [n, s] of [[100, 1], [200, 2], [300, 3]] as const) expect((await run(d, write6(n), { dataOut: pattern(n, s) })).status).toBe(0);
  expect((await run(d, wfm(1))).status).toBe(0);
  for (const s of [4, 5]) expect((await run(d, write6(512), { dataOut: pattern(512, s) })).status).toBe(0);
  expect((await run(d, wfm(1))).status).toBe(0);
  expect((await run(d, rewind())).status).toBe(0);
}

describe('tape drive: readiness and cartridges', () => {
  it('answers 2/3A/00 without a cartridge, then 6/28/00 once per nexus after a load, then GOOD', async () => {
    const d = newDrive();
    let r = await run(d, TUR);
    expect(r.sense).toMatchObject({ key: 6, asc: 0x29, ascq: 0x00 });
    r = await run(d, TUR);
    expect(r.status).toBe(2);
    expect(r.senseBytes!.toString('hex')).toBe('70000200000000' + '0a' + '00000000' + '3a00' + '00000000');
    await run(d, TUR, { nexus: I2 });
    await d.loadCartridge(await Cartridge.create(`${t.dir}/a.tap`, { capacity: 1 << 20 }));
    r = await run(d, TUR);
    expect(r.sense).toMatchObject({ key: 6, asc: 0x28, ascq: 0x00 });
    expect((await run(d, TUR)).status).toBe(0);
    expect((await run(d, TUR, { nexus: I2 })).sense).toMatchObject({ key: 6, asc: 0x28 });
    expect((await run(d, TUR, { nexus: I2 })).status).toBe(0);
  });

  it('reports 2/04/01 while becoming ready', async () => {
    const d = newDrive();
    await run(d, TUR);
    await d.loadCartridge(await Cartridge.create(`${t.dir}/a.tap`, { capacity: 1 << 20 }), { delayMs: 60_000 });
    await run(d, TUR);
    expect((await run(d, TUR)).sense).toMatchObject({ key: 2, asc: 0x04, ascq: 0x01 });
  });

  it('fault window: not ready 2/04/01 until the time passes', async () => {
    const { drive } = await readyDrive(t.dir);
    drive.faults.notReadyFor(60_000);
    expect((await run(drive, TUR)).sense).toMatchObject({ key: 2, asc: 0x04, ascq: 0x01 });
    drive.faults.notReadyFor(0);
    expect((await run(drive, TUR)).status).toBe(0);
  });

  it('LOAD UNLOAD: HOLD keeps it in the drive (2/04/02), LOAD threads it, UNLOAD ejects (2/3A/00), EOT is 5/24/00', async () => {
    const ejected: string[] = [];
    const { drive } = await readyDrive(t.dir, {}, { onEject: (c) => ejected.push(c.barcode) });
    const r = await run(drive, encodeLoadUnload({ eot: true, load: true }));
    expect(r.sense).toMatchObject({ key: 5, asc: 0x24, sks: { kind: 'field', cd: true, byte: 4, bit: 2 } });
    expect((await run(drive, encodeLoadUnload({ hold: true }))).status).toBe(0);
    expect((await run(drive, TUR)).sense).toMatchObject({ key: 2, asc: 0x04, ascq: 0x02 });
    expect((await run(drive, encodeLoadUnload({ load: true }))).status).toBe(0);
    expect((await run(drive, TUR)).status).toBe(0);
    expect((await run(drive, encodeLoadUnload({ reten: true, load: true }))).status).toBe(0);
    expect((await run(drive, encodeLoadUnload({ immed: true }))).status).toBe(0);
    expect(ejected).toEqual(['T00001L4']);
    expect((await run(drive, TUR)).sense).toMatchObject({ key: 2, asc: 0x3a });
    expect((await run(drive, encodeLoadUnload({ load: true }))).sense).toMatchObject({ key: 2, asc: 0x3a });
  });

  it('PREVENT: unload answers 5/53/02, allow lets it go; eject() refuses too unless forced', async () => {
    const { drive } = await readyDrive(t.dir);
    expect((await run(drive, [0x1e, 0, 0, 0, 1, 0])).status).toBe(0);
    const r = await run(drive, encodeLoadUnload({}));
    expect(r.sense).toMatchObject({ key: 5, asc: 0x53, ascq: 0x02 });
    await expect(drive.eject()).rejects.toThrow();
    expect((await run(drive, [0x1e, 0, 0, 0, 2, 0])).sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 4 } });
    expect((await run(drive, [0x1e, 0, 0, 0, 0, 0])).status).toBe(0);
    expect((await run(drive, encodeLoadUnload({}))).status).toBe(0);
  });

  it('an unreadable image leaves the drive answering 3/30/01', async () => {
    const path = `${t.dir}/junk.tap`;
    (await import('node:fs')).writeFileSync(path, Buffer.from('this is not a tape image at all'));
    const d = newDrive();
    await run(d, TUR);
    await d.loadCartridge(path);
    await run(d, TUR);
    expect((await run(d, TUR)).sense).toMatchObject({ key: 3, asc: 0x30, ascq: 0x01 });
    await expect(d.loadCartridge(await Cartridge.create(`${t.dir}/b.tap`, { capacity: 1 << 20 }))).rejects.toThrow(/unreadable/);
    expect(await d.eject()).toBeUndefined();
    expect((await run(d, TUR)).sense).toMatchObject({ key: 2, asc: 0x3a });
  });

  it('loadCartridge/unload/eject API by path and barcode', async () => {
    const p = `${t.dir}/B1.tap`;
    const c = await Cartridge.create(p, { capacity: 1 << 20, barcode: 'B00001L4' });
    await c.close();
    const d = newDrive();
    await d.loadCartridge(p);
    expect(d.cartridge?.barcode).toBe('B00001L4');
    await expect(d.loadCartridge(p)).rejects.toThrow(/already/);
    await d.unload();
    await run(d, TUR);
    expect((await run(d, TUR)).sense).toMatchObject({ key: 2, asc: 0x04, ascq: 0x02 });
    expect(d.status()).toMatchObject({ state: 'held', barcode: 'B00001L4', position: 0, objects: 0, removalPrevented: false });
    const out = await d.eject();
    expect(d.status()).toEqual({ state: 'empty', blockLength: 0, removalPrevented: false });
    expect(out?.barcode).toBe('B00001L4');
    expect(out?.isOpen).toBe(false);
  });
});

describe('tape drive: READ / WRITE', () => {
  it('writes variable records and puts exactly the SIMH bytes on the medium', async () => {
    const { drive, path } = await readyDrive(t.dir);
    expect((await run(drive, write6(3), { dataOut: Buffer.from('ABC') })).status).toBe(0);
    expect((await run(drive, wfm(1))).status).toBe(0);
    expect(readFileSync(path).toString('hex')).toBe('03000000414243000300000000000000');
  });

  it('reads back a record; READ right after WRITE is 8/00/05 BLANK CHECK at EOD', async () => {
    const { drive } = await readyDrive(t.dir);
    await run(drive, write6(100), { dataOut: pattern(100, 1) });
    let r = await run(drive, read6(100));
    expect(r.status).toBe(2);
    expect(r.senseBytes!.toString('hex')).toBe('f0000800000064' + '0a' + '00000000' + '0005' + '00000000');
    await run(drive, rewind());
    r = await run(drive, read6(100));
    expect(r.status).toBe(0);
    expect(r.data.equals(pattern(100, 1))).toBe(true);
  });

  it('variable READ: FILEMARK 0/00/01 with INFORMATION = transfer length, position past the mark', async () => {
    const { drive } = await readyDrive(t.dir);
    await layout(drive);
    await run(drive, space6(0, 3));
    const r = await run(drive, read6(4096));
    expect(r.status).toBe(2);
    expect(r.data.length).toBe(0);
    expect(r.senseBytes!.toString('hex')).toBe('f0008000001000' + '0a' + '00000000' + '0001' + '00000000');
    expect((await pos(drive)).firstObject).toBe(4);
    expect((await pos(drive)).fileId).toBe(1);
  });

  it('variable READ: short block → ILI, positive residue, data transferred; SILI=1 → GOOD', async () => {
    const { drive } = await readyDrive(t.dir);
    await layout(drive);
    let r = await run(drive, read6(150));
    expect(r.sense).toMatchObject({ key: 0, asc: 0, ascq: 0, ili: true, information: 50 });
    expect(r.data.equals(pattern(100, 1))).toBe(true);
    r = await run(drive, read6(250, { sili: true }));
    expect(r.status).toBe(0);
    expect(r.data.equals(pattern(200, 2))).toBe(true);
  });

  it('variable READ: long block → ILI with negative residue, only the requested bytes; SILI with block length 0 → GOOD truncated', async () => {
    const { drive } = await readyDrive(t.dir);
    await layout(drive);
    let r = await run(drive, read6(60));
    expect(r.senseBytes!.subarray(0, 7).toString('hex')).toBe('f00020ffffffd8');
    expect(r.sense).toMatchObject({ ili: true, information: -40 });
    expect(r.data.equals(pattern(100, 1).subarray(0, 60))).toBe(true);
    r = await run(drive, read6(10, { sili: true }));
    expect(r.status).toBe(0);
    expect(r.data.equals(pattern(200, 2).subarray(0, 10))).toBe(true);
    expect((await pos(drive)).firstObject).toBe(2);
    // Mode block length non-zero: SILI no longer hides an overlength block in a variable READ.
    drive.mode.blockLength = 512;
    r = await run(drive, read6(10, { sili: true }));
    expect(r.sense).toMatchObject({ key: 0, ili: true, information: 10 - 300 });
    expect(r.data.equals(pattern(300, 3).subarray(0, 10))).toBe(true);
  });

  it('FIXED=1 with mode block length 0, FIXED+SILI, and over-long variable lengths are 5/24/00 with field pointers; nothing moves', async () => {
    // A drive configured below the LTO default of FFFFFFh, so a length can exceed it.
    const { drive } = await readyDrive(t.dir, {}, { maxBlockLength: 0x40000 });
    expect((await run(drive, write6(1, true), { dataOut: Buffer.alloc(512) })).sense).toMatchObject({ key: 5, asc: 0x24, sks: { kind: 'field', cd: true, byte: 1, bit: 0 } });
    expect((await run(drive, read6(1, { fixed: true }))).sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 1, bit: 0 } });
    drive.mode.blockLength = 512;
    expect((await run(drive, read6(1, { fixed: true, sili: true }))).sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 1, bit: 1 } });
    drive.mode.blockLength = 0;
    expect((await run(drive, write6(0x40001), { dataOut: Buffer.alloc(0x40001) })).sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 2 } });
    expect((await run(drive, [0x0a, 0x02, 0, 0, 1, 0], { dataOut: Buffer.alloc(1) })).sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 1, bit: 1 } });
    expect((await pos(drive)).firstObject).toBe(0);
  });

  it('TRANSFER LENGTH 0 is a no-op', async () => {
    const { drive, cart } = await readyDrive(t.dir);
    expect((await run(drive, write6(0))).status).toBe(0);
    expect((await run(drive, read6(0))).status).toBe(0);
    expect(cart.count).toBe(0);
  });

  it('fixed mode: blocks become records; READ meeting a filemark after k blocks, wrong-length block after k', async () => {
    const { drive, cart } = await readyDrive(t.dir);
    drive.mode.blockLength = 512;
    const data = pattern(512 * 3, 9);
    expect((await run(drive, write6(3, true), { dataOut: data })).status).toBe(0);
    expect(cart.count).toBe(3);
    await run(drive, wfm(1));
    drive.mode.blockLength = 0;
    await run(drive, write6(100), { dataOut: pattern(100, 3) });
    drive.mode.blockLength = 512;
    await run(drive, rewind());
    let r = await run(drive, read6(5, { fixed: true }));
    expect(r.sense).toMatchObject({ key: 0, asc: 0, ascq: 1, filemark: true, information: 2 });
    expect(r.data.equals(data)).toBe(true);
    r = await run(drive, read6(2, { fixed: true }));
    expect(r.sense).toMatchObject({ key: 0, ili: true, information: 2 });
    expect((await pos(drive)).firstObject).toBe(5);
    r = await run(drive, read6(2, { fixed: true }));
    expect(r.sense).toMatchObject({ key: 8, asc: 0, ascq: 5, information: 2 });
  });

  it('fixed mode: hundreds of small blocks read back in one command; a once-fault stops it after k blocks', async () => {
    const { drive } = await readyDrive(t.dir);
    drive.mode.blockLength = 512;
    const data = pattern(512 * 300, 4);
    for (let k = 0; k < 3; k++) expect((await run(drive, write6(100, true), { dataOut: data.subarray(k * 51200, (k + 1) * 51200) })).status).toBe(0);
    await run(drive, rewind());
    expect((await run(drive, read6(300, { fixed: true }))).data.equals(data)).toBe(true);
    await run(drive, rewind());
    drive.faults.addMediumError({ firstLba: 150, count: 1, on: 'read', once: true });
    const r = await run(drive, read6(300, { fixed: true }));
    expect(r.sense).toMatchObject({ key: 3, asc: 0x11, information: 150 });
    expect(r.data.equals(data.subarray(0, 150 * 512))).toBe(true);
    expect((await pos(drive)).firstObject).toBe(151);
    expect((await run(drive, read6(149, { fixed: true }))).data.equals(data.subarray(151 * 512))).toBe(true);
  });

  it('write in the middle discards everything after it', async () => {
    const { drive, cart, path } = await readyDrive(t.dir);
    await layout(drive);
    await run(drive, space6(0, 2));
    await run(drive, write6(4), { dataOut: Buffer.from('WXYZ') });
    expect(cart.count).toBe(3);
    await run(drive, wfm(1));
    expect(readFileSync(path).length).toBe(8 + 100 + 8 + 200 + 8 + 4 + 4);
    await run(drive, rewind());
    await run(drive, space6(1, 1));
    expect((await run(drive, read6(10))).sense).toMatchObject({ key: 8, asc: 0, ascq: 5 });
  });

  it('write-protected cartridge: 7/27/00 for WRITE, WRITE FILEMARKS, ERASE; READ works', async () => {
    const { drive, cart } = await readyDrive(t.dir);
    await layout(drive);
    await cart.setWriteProtected(true);
    expect((await run(drive, write6(3), { dataOut: Buffer.from('abc') })).senseBytes!.toString('hex')).toBe('700007000000000a000000002700000000' + '00');
    expect((await run(drive, wfm(1))).sense).toMatchObject({ key: 7, asc: 0x27 });
    expect((await run(drive, encodeErase6({ long: true }))).sense).toMatchObject({ key: 7, asc: 0x27 });
    expect((await run(drive, wfm(0))).status).toBe(0);
    expect((await run(drive, read6(100))).status).toBe(0);
  });

  it('medium error fault at a record: 3/11/00 with the residue, position after the record', async () => {
    const { drive } = await readyDrive(t.dir);
    await layout(drive);
    drive.faults.addMediumError({ firstLba: 1, count: 1, on: 'read' });
    await run(drive, space6(0, 1));
    const r = await run(drive, read6(200));
    expect(r.sense).toMatchObject({ key: 3, asc: 0x11, ascq: 0, information: 200 });
    expect((await pos(drive)).firstObject).toBe(2);
  });

  it('injected write fault at an object: blocks before it recorded, 3/0C/00 with the residue in blocks; throughput cap paces writes', async () => {
    const { drive, cart } = await readyDrive(t.dir);
    drive.mode.blockLength = 512;
    drive.faults.addMediumError({ firstLba: 2, count: 1, on: 'write', once: true });
    const r = await run(drive, write6(4, true), { dataOut: pattern(2048, 1) });
    expect(r.sense).toMatchObject({ key: 3, asc: 0x0c, ascq: 0, information: 2 });
    expect(cart.count).toBe(2);
    expect((await run(drive, write6(2, true), { dataOut: pattern(1024, 2) })).status).toBe(0);
    drive.faults.setThroughput(1 << 20);
    const t0 = performance.now();
    for (let k = 0; k < 4; k++) await run(drive, write6(64, true), { dataOut: pattern(64 * 512, k) });
    expect(performance.now() - t0).toBeGreaterThan(100);
  });

  it('commands run one at a time; a task aborted while queued answers TASK ABORTED and writes nothing', async () => {
    const { drive, cart } = await readyDrive(t.dir);
    drive.faults.setThroughput(1 << 20);
    const first = run(drive, write6(200_000), { dataOut: pattern(200_000, 1) });
    const ac = new AbortController();
    const second = drive.execute({ nexus: I1, lun: 0, cdb: write6(10), dataOut: pattern(10, 2), dataInLength: 0, signal: ac.signal });
    const third = run(drive, write6(20), { dataOut: pattern(20, 3) });
    ac.abort();
    expect((await first).status).toBe(0);
    expect((await second).status).toBe(0x40);
    expect((await third).status).toBe(0);
    expect([0, 1].map((i) => cart.recordLength(i))).toEqual([200_000, 20]);
  });

  it('a record flagged bad in the image reads as 3/11/00', async () => {
    const { drive, cart } = await readyDrive(t.dir);
    await layout(drive);
    await cart.markBad(0);
    expect((await run(drive, read6(100))).sense).toMatchObject({ key: 3, asc: 0x11 });
  });

  it('lost position: 3/3B/00 on READ/SPACE, READ POSITION LOLU, cleared by REWIND', async () => {
    const { drive } = await readyDrive(t.dir);
    await layout(drive);
    drive.tapeFaults.losePosition = true;
    expect((await run(drive, read6(100))).sense).toMatchObject({ key: 3, asc: 0x3b, ascq: 0 });
    expect((await run(drive, space6(0, 1))).sense).toMatchObject({ key: 3, asc: 0x3b });
    const p = decodePositionShort((await run(drive, encodeReadPositionCdb({ serviceAction: 0, allocationLength: 0 }))).data);
    expect(p.locationUnknown).toBe(true);
    await run(drive, rewind());
    expect((await run(drive, read6(100))).status).toBe(0);
  });
});

describe('tape drive: capacity', () => {
  it('early warning: the write completes, then 0/00/02 EOM INFORMATION 0; VOLUME OVERFLOW D/00/02 when nothing fits', async () => {
    // capacity 10000, EW zone 2000: EW at 8000.
    const { drive, cart } = await readyDrive(t.dir, { capacity: 10_000, earlyWarning: 2_000 });
    for (let k = 0; k < 7; k++) expect((await run(drive, write6(1000), { dataOut: pattern(1000, k) })).status).toBe(0);
    // 7 * 1008 = 7056; next ends at 8064 ≥ 8000.
    let r = await run(drive, write6(1000), { dataOut: pattern(1000, 7) });
    expect(r.senseBytes!.toString('hex')).toBe('f00040000000000a000000000002000000' + '00');
    expect(cart.count).toBe(8);
    r = await run(drive, wfm(1));
    expect(r.sense).toMatchObject({ key: 0, asc: 0, ascq: 2, eom: true, information: 0 });
    // 8068 + 1008 = 9076 fits; then 10084 does not.
    expect((await run(drive, write6(1000), { dataOut: pattern(1000, 8) })).sense).toMatchObject({ key: 0, ascq: 2, eom: true });
    r = await run(drive, write6(1000), { dataOut: pattern(1000, 9) });
    expect(r.sense).toMatchObject({ key: 0x0d, asc: 0, ascq: 2, eom: true, information: 1000 });
    expect(cart.count).toBe(10);
    const p = await pos(drive);
    expect(p.eop).toBe(true);
    expect(p.firstObject).toBe(10);
    // Filemarks still fit.
    expect((await run(drive, wfm(2))).sense).toMatchObject({ key: 0, ascq: 2 });
  });

  it('fixed-mode write across PEOP writes the blocks that fit and reports the rest in blocks', async () => {
    const { drive, cart } = await readyDrive(t.dir, { capacity: 4_000, earlyWarning: 1_000 });
    drive.mode.blockLength = 512;
    const r = await run(drive, write6(10, true), { dataOut: pattern(5120, 1) });
    // 520 bytes per block: 7 fit in 4000.
    expect(r.sense).toMatchObject({ key: 0x0d, asc: 0, ascq: 2, eom: true, information: 3 });
    expect(cart.count).toBe(7);
    const r2 = await run(drive, wfm(1000));
    expect(r2.sense).toMatchObject({ key: 0x0d, ascq: 2, information: 1000 - 90 });
  });

  it('fault hooks move EW and PEOP; BLANK CHECK past EW carries EOM', async () => {
    const { drive } = await readyDrive(t.dir);
    drive.tapeFaults.earlyWarningAt = 100;
    expect((await run(drive, write6(200), { dataOut: pattern(200, 1) })).sense).toMatchObject({ key: 0, ascq: 2, eom: true });
    expect((await run(drive, read6(10))).sense).toMatchObject({ key: 8, ascq: 5, eom: true });
    drive.tapeFaults.endOfMediumAt = 300;
    expect((await run(drive, write6(200), { dataOut: pattern(200, 1) })).sense).toMatchObject({ key: 0xd, ascq: 2 });
  });

  it('READ / SPACE running into PEOP (fault moved it below EOD): 3/00/02 EOM with the residue', async () => {
    const { drive } = await readyDrive(t.dir);
    for (let k = 0; k < 5; k++) await run(drive, write6(1000), { dataOut: pattern(1000, k) });
    await run(drive, rewind());
    drive.tapeFaults.endOfMediumAt = 2500;
    for (let k = 0; k < 3; k++) expect((await run(drive, read6(1000))).status).toBe(0);
    let r = await run(drive, read6(1000));
    expect(r.senseBytes!.toString('hex')).toBe('f00043000003e8' + '0a' + '00000000' + '0002' + '00000000');
    await run(drive, rewind());
    r = await run(drive, space6(0, 5));
    expect(r.sense).toMatchObject({ key: 3, asc: 0, ascq: 2, eom: true, information: 2 });
    expect((await pos(drive)).firstObject).toBe(3);
    await run(drive, rewind());
    r = await run(drive, space6(1, 1));
    expect(r.sense).toMatchObject({ key: 3, ascq: 2, information: 1 });
  });

  it('programmable early warning: 0/00/07 with EOM, READ POSITION BPEW', async () => {
    const { drive } = await readyDrive(t.dir, { capacity: 10_000, earlyWarning: 2_000, programmableEarlyWarning: 3_000 });
    // PEW at 5000.
    for (let k = 0; k < 4; k++) await run(drive, write6(1000), { dataOut: pattern(1000, k) });
    const r = await run(drive, write6(1000), { dataOut: pattern(1000, 5) });
    expect(r.sense).toMatchObject({ key: 0, asc: 0, ascq: 7, eom: true, information: 0 });
    const p = decodePositionShort((await run(drive, encodeReadPositionCdb({ serviceAction: 0, allocationLength: 0 }))).data);
    expect(p.bpew).toBe(true);
    expect(p.eop).toBe(false);
  });
});

describe('tape drive: positioning', () => {
  it('SPACE blocks forward/backward over filemarks, BOP and EOD, with positive residues', async () => {
    const { drive } = await readyDrive(t.dir);
    await layout(drive);
    // forward 5 from 0: filemark at 3 → 3 blocks spaced, residue 2, position 4.
    let r = await run(drive, space6(0, 5));
    expect(r.senseBytes!.toString('hex')).toBe('f0008000000002' + '0a' + '00000000' + '0001' + '00000000');
    expect((await pos(drive)).firstObject).toBe(4);
    // forward 5 from 4: filemark at 6 → 2 spaced, residue 3, pos 7
    r = await run(drive, space6(0, 5));
    expect(r.sense).toMatchObject({ filemark: true, information: 3 });
    // forward 2 from 7: EOD at 7 → BLANK CHECK residue 2
    r = await run(drive, space6(0, 2));
    expect(r.sense).toMatchObject({ key: 8, asc: 0, ascq: 5, information: 2 });
    expect((await pos(drive)).firstObject).toBe(7);
    // backward 1 from 7: filemark at 6 → stop on its BOP side (6), residue 1
    r = await run(drive, space6(0, -1 & 0xffffff));
    expect(r.sense).toMatchObject({ key: 0, ascq: 1, filemark: true, information: 1 });
    expect((await pos(drive)).firstObject).toBe(6);
    // backward 1 from 6: block 5 → GOOD
    expect((await run(drive, space6(0, -1 & 0xffffff))).status).toBe(0);
    // backward 3 from 5: block 4, then filemark at 3 → pos 3, residue 2
    r = await run(drive, space6(0, -3 & 0xffffff));
    expect(r.sense).toMatchObject({ filemark: true, information: 2 });
    expect((await pos(drive)).firstObject).toBe(3);
    // backward 5 from 3: 3 blocks then BOP → 0/00/04 EOM residue 2
    r = await run(drive, space6(0, -5 & 0xffffff));
    expect(r.senseBytes!.toString('hex')).toBe('f0004000000002' + '0a' + '00000000' + '0004' + '00000000');
    expect((await pos(drive)).bop).toBe(true);
  });

  it('SPACE filemarks forward and backward, EOD, and BOP', async () => {
    const { drive } = await readyDrive(t.dir);
    await layout(drive);
    expect((await run(drive, space6(1, 1))).status).toBe(0);
    expect((await pos(drive)).firstObject).toBe(4);
    let r = await run(drive, space6(1, 3));
    expect(r.sense).toMatchObject({ key: 8, ascq: 5, information: 2 });
    expect((await pos(drive)).firstObject).toBe(7);
    expect((await run(drive, space6(1, -1 & 0xffffff))).status).toBe(0);
    expect((await pos(drive)).firstObject).toBe(6);
    expect((await run(drive, space6(1, -1 & 0xffffff))).status).toBe(0);
    expect((await pos(drive)).firstObject).toBe(3);
    r = await run(drive, space6(1, -2 & 0xffffff));
    expect(r.sense).toMatchObject({ key: 0, ascq: 4, eom: true, information: 2 });
    expect((await pos(drive)).firstObject).toBe(0);
    // mt eod without fast EOM: huge FSF → 8/00/05, then code 3
    r = await run(drive, space6(1, 0x7fffff));
    expect(r.sense).toMatchObject({ key: 8, ascq: 5, information: 0x7fffff - 2 });
    await run(drive, rewind());
    expect((await run(drive, space6(3, 0))).status).toBe(0);
    expect((await pos(drive)).firstObject).toBe(7);
    expect((await run(drive, space6(0, 0))).status).toBe(0);
  });

  it('SPACE unsupported codes (sequential filemarks, setmarks) are 5/24/00 pointing at byte 1', async () => {
    const { drive } = await readyDrive(t.dir);
    for (const code of [2, 4, 5, 9]) expect((await run(drive, space6(code, 1))).sense).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 1, bit: 3 } });
  });

  it('SPACE(16) with a 64-bit signed count', async () => {
    const { drive } = await readyDrive(t.dir);
    await layout(drive);
    expect((await run(drive, encodeSpace16({ code: 1, count: 2 }))).status).toBe(0);
    expect((await pos(drive)).firstObject).toBe(7);
    const r = await run(drive, encodeSpace16({ code: 0, count: -3 }));
    expect(r.sense).toMatchObject({ filemark: true, information: 3 });
  });

  it('LOCATE(10) by object, BT treated like logical, past EOD → 8/00/05 at EOD; partition 1 → 5/24/00', async () => {
    const { drive } = await readyDrive(t.dir);
    await layout(drive);
    expect((await run(drive, encodeLocate10({ logicalId: 5, bt: true }))).status).toBe(0);
    expect((await run(drive, read6(512))).data.equals(pattern(512, 5))).toBe(true);
    const r = await run(drive, encodeLocate10({ logicalId: 50 }));
    expect(r.sense).toMatchObject({ key: 8, asc: 0, ascq: 5 });
    expect(r.sense?.information).toBeUndefined();
    expect((await pos(drive)).firstObject).toBe(7);
    expect((await run(drive, encodeLocate10({ logicalId: 0, cp: true, partition: 1 }))).sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 8 } });
  });

  it('LOCATE(16) by object, by file identifier, to EOD; bad DEST_TYPE rejected', async () => {
    const { drive } = await readyDrive(t.dir);
    await layout(drive);
    expect((await run(drive, encodeLocate16({ destType: 1, logicalId: 1 }))).status).toBe(0);
    let p = await pos(drive);
    expect([p.firstObject, p.fileId]).toEqual([4, 1]);
    expect((await run(drive, encodeLocate16({ destType: 1, logicalId: 0 }))).status).toBe(0);
    expect((await pos(drive)).bop).toBe(true);
    expect((await run(drive, encodeLocate16({ destType: 3, logicalId: 0 }))).status).toBe(0);
    p = await pos(drive);
    expect([p.firstObject, p.fileId]).toEqual([7, 2]);
    expect((await run(drive, encodeLocate16({ destType: 1, logicalId: 3 }))).sense).toMatchObject({ key: 8, ascq: 5 });
    expect((await run(drive, encodeLocate16({ logicalId: 2 }))).status).toBe(0);
    expect((await pos(drive)).firstObject).toBe(2);
    expect((await run(drive, encodeLocate16({ destType: 2, logicalId: 0 }))).sense).toMatchObject({ key: 5, asc: 0x24 });
  });

  it('READ POSITION short/long/extended bytes; other service actions 5/24/00', async () => {
    const { drive } = await readyDrive(t.dir);
    let r = await run(drive, encodeReadPositionCdb({ serviceAction: 0, allocationLength: 0 }));
    expect(r.data.toString('hex')).toBe('80000000' + '00000000' + '00000000' + '00000000' + '00000000');
    await layout(drive);
    await run(drive, space6(1, 1));
    r = await run(drive, encodeReadPositionCdb({ serviceAction: 0, allocationLength: 0 }));
    expect(r.data.toString('hex')).toBe('00000000' + '00000004' + '00000004' + '00000000' + '00000000');
    r = await run(drive, encodeReadPositionCdb({ serviceAction: 6, allocationLength: 0 }));
    expect(r.data.toString('hex')).toBe('00000000' + '00000000' + '0000000000000004' + '0000000000000001' + '0000000000000000');
    r = await run(drive, encodeReadPositionCdb({ serviceAction: 8, allocationLength: 32 }));
    expect(r.data.toString('hex')).toBe('0000001c' + '00000000' + '0000000000000004' + '0000000000000004' + '0000000000000000');
    expect(decodePositionExtended(r.data).firstObject).toBe(4);
    expect((await run(drive, encodeReadPositionCdb({ serviceAction: 2, allocationLength: 0 }))).sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 1 } });
  });

  it('ERASE at a position establishes EOD there', async () => {
    const { drive, cart } = await readyDrive(t.dir);
    await layout(drive);
    await run(drive, space6(1, 1));
    expect((await run(drive, encodeErase6({ long: true }))).status).toBe(0);
    expect(cart.count).toBe(4);
    await run(drive, rewind());
    expect((await run(drive, encodeErase6({}))).status).toBe(0);
    expect(cart.count).toBe(0);
  });
});

describe('tape drive: limits, densities, CDB checks', () => {
  it('READ BLOCK LIMITS: G=0, max FFFFFFh (LTO default, smc.md §6) or the configured cap, min 1; MLOI form', async () => {
    const capped = newDrive({ maxBlockLength: 0x40000 });
    expect((await run(capped, [0x05, 0, 0, 0, 0, 0])).sense).toMatchObject({ key: 6, asc: 0x29 });
    expect((await run(capped, [0x05, 0, 0, 0, 0, 0])).data.toString('hex')).toBe('000400000001');
    const { drive } = await readyDrive(t.dir, { capacity: 1 << 20 });
    let r = await run(drive, [0x05, 0, 0, 0, 0, 0]);
    expect(r.data.toString('hex')).toBe('00ffffff0001');
    r = await run(drive, [0x05, 1, 0, 0, 0, 0]);
    expect(r.data.length).toBe(20);
    expect(decodeBlockLimits(r.data, true).maxLogicalObjectId).toBe((1 << 20) / 4);
  });

  it('REPORT DENSITY SUPPORT: drive densities, the medium\'s, medium types; MEDIA=1 without a cartridge → 2/3A/00', async () => {
    const { drive } = await readyDrive(t.dir);
    let r = await run(drive, encodeReportDensityCdb({}));
    const all = decodeDensityReport(r.data);
    expect(all.map((d) => d.primaryCode)).toEqual([0x42, 0x44, 0x46]);
    expect(r.data.readUInt16BE(0)).toBe(2 + 3 * 52);
    expect(all[2]).toMatchObject({ deflt: true, wrtok: true, name: 'U-416', organization: 'LTO-CVE' });
    r = await run(drive, encodeReportDensityCdb({ media: true }));
    expect(decodeDensityReport(r.data).map((d) => d.primaryCode)).toEqual([0x46]);
    r = await run(drive, encodeReportDensityCdb({ mediumType: true }));
    expect(decodeMediumTypeReport(r.data)[0]!.densityCodes).toEqual([0x42, 0x44, 0x46]);
    await drive.eject();
    await run(drive, TUR);
    expect((await run(drive, encodeReportDensityCdb({ media: true }))).sense).toMatchObject({ key: 2, asc: 0x3a });
  });

  it('LOG SENSE: supported pages, sequential-access byte counters, TapeAlert flags; bad fields 5/24/00', async () => {
    const { drive } = await readyDrive(t.dir);
    await layout(drive);
    await run(drive, read6(100));
    expect((await run(drive, encodeLogSenseCdb({ pageCode: 0 }))).data.toString('hex')).toBe('00000008' + '0002030c12172e31');
    const seq = decodeLogPage((await run(drive, encodeLogSenseCdb({ pageCode: 0x0c }))).data);
    expect(seq.params.slice(0, 4).map((p) => [p.code, Number(p.value.readBigUInt64BE(0))])).toEqual([[0, 1624], [1, 1624], [2, 100], [3, 100]]);
    expect(decodeLogPage((await run(drive, encodeLogSenseCdb({ pageCode: 0x0c, pc: 3 }))).data).params.every((p) => p.value.every((b) => b === 0))).toBe(true);
    expect(decodeLogPage((await run(drive, encodeLogSenseCdb({ pageCode: 0x0c, parameterPointer: 2 }))).data).params.map((p) => p.code)).toEqual([2, 3, 4, 5, 6, 7, 8, 0x100]);
    const ta = await run(drive, encodeLogSenseCdb({ pageCode: 0x2e }));
    expect(ta.data.readUInt16BE(2)).toBe(64 * 5);
    expect(decodeLogPage(ta.data).params.every((p, i) => p.code === i + 1 && p.value.length === 1 && p.value[0] === 0)).toBe(true);
    expect((await run(drive, encodeLogSenseCdb({ pageCode: 0x0c, parameterPointer: 0x101 }))).sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 5 } });
    expect((await run(drive, encodeLogSenseCdb({ pageCode: 0x0c, sp: true }))).sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 1, bit: 0 } });
    expect((await run(drive, encodeLogSenseCdb({ pageCode: 0x33 }))).sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 2 } });
  });

  it('reserved bits → 5/24/00 with the bit pointer; WRITE FILEMARKS setmarks rejected', async () => {
    const { drive } = await readyDrive(t.dir);
    expect((await run(drive, [0x01, 0x02, 0, 0, 0, 0])).sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 1, bit: 1 } });
    expect((await run(drive, [0x10, 0x02, 0, 0, 1, 0])).sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 1, bit: 1 } });
    expect((await run(drive, [0x00, 0, 0, 0, 0, 0x04])).sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 5, bit: 2 } });
    expect((await run(drive, [0xa8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])).sense).toMatchObject({ key: 5, asc: 0x20 });
  });

  it('WRITE FILEMARKS 0 is a flush; IMMED accepted', async () => {
    const { drive, cart } = await readyDrive(t.dir);
    await run(drive, write6(10), { dataOut: pattern(10, 1) });
    expect(cart.meta.syncedLength).toBe(0);
    expect((await run(drive, wfm(0, true))).status).toBe(0);
    expect(cart.meta.syncedLength).toBe(18);
    expect(JSON.parse(readFileSync(`${cart.path}.json`, 'utf8')).syncedLength).toBe(18);
  });

  it('descriptor-format sense carries the stream bits in descriptor 04h', async () => {
    const { drive } = await readyDrive(t.dir);
    await layout(drive);
    drive.dSense = true;
    const r = await run(drive, read6(60));
    expect(r.senseBytes![0]).toBe(0x72);
    expect(r.senseBytes!.toString('hex')).toContain('04020020');
    expect(r.sense).toMatchObject({ ili: true, information: -40 });
  });
});
