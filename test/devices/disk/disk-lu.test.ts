import { afterEach, describe, expect, it } from 'vitest';
import { A, B, makeDisk, pattern, senseOf, type TestDisk } from './helpers.js';
import { SbcOp, encodeBlockCdb, encodeGetLbaStatusCdb, encodeUnmapCdb, encodeUnmapList, decodeLbaStatus, encodeStartStopCdb, encodePreventAllowCdb, decodeBlockLimitsVpd, decodeLogicalBlockProvisioningVpd, decodeBlockDeviceCharacteristicsVpd } from '../../../src/scsi/sbc.js';
import { encodeReadCapacity10Cdb, encodeReadCapacity16Cdb, decodeReadCapacity16 } from '../../../src/scsi/read-capacity.js';
import { ALL_PAGES, ModePage, PageControl, decodeControlPage, decodeModeData, encodeControlPage, encodeModeSelect, encodeModeSense } from '../../../src/scsi/mode.js';
import type { CommandDef } from '../../../firmware-sim/lu/logical-unit.js';

let d: TestDisk;
afterEach(async () => {
  await d?.cleanup();
});

const BS = 512;
const read10 = (lba: number, count: number, extra: Partial<Parameters<typeof encodeBlockCdb>[0]> = {}) => encodeBlockCdb({ opcode: SbcOp.READ_10, lba, count, ...extra });
const write10 = (lba: number, count: number, extra: Partial<Parameters<typeof encodeBlockCdb>[0]> = {}) => encodeBlockCdb({ opcode: SbcOp.WRITE_10, lba, count, ...extra });

describe('disk LU: readiness and capacity', () => {
  it('reports power-on UA first, then TEST UNIT READY is GOOD', async () => {
    d = await makeDisk();
    const fresh = await d.lu.execute({ nexus: { ...A, key: 'other' }, lun: 0, cdb: Buffer.alloc(6), dataInLength: 0 });
    expect(senseOf(fresh)).toMatchObject({ key: 6, asc: 0x29, ascq: 0x00 });
    expect(await d.exec([0, 0, 0, 0, 0, 0])).toEqual({ status: 0 });
  });

  it('READ CAPACITY(10) and (16) describe 2048 x 512-byte blocks, thin, 4 KiB physical (512e)', async () => {
    d = await makeDisk({ physicalBlockExponent: 3 });
    const r10 = await d.exec(encodeReadCapacity10Cdb());
    expect(r10.status).toBe(0);
    expect(r10.dataIn!.toString('hex')).toBe('000007ff00000200');
    const r16 = await d.exec(encodeReadCapacity16Cdb({ allocationLength: 32 }));
    expect(d.lu.extraVpdPages().get(0xb0)!().readUInt32BE(28)).toBe(8);
    expect(r16.dataIn!.toString('hex')).toBe('00000000000007ff00000200' + '00' + '03' + 'c000' + '00'.repeat(16));
    expect(decodeReadCapacity16(r16.dataIn!)).toMatchObject({ lastLba: 2047, blockLength: 512, lbpme: true, lbprz: true, lbppbe: 3, protEn: false });
  });

  it('READ CAPACITY with PMI=0 and an LBA is INVALID FIELD IN CDB at byte 2', async () => {
    d = await makeDisk();
    expect(senseOf(await d.exec(encodeReadCapacity10Cdb({ lba: 5 })))).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 2 } });
    expect(senseOf(await d.exec(encodeReadCapacity16Cdb({ lba: 5 })))).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 2 } });
    expect((await d.exec(encodeReadCapacity10Cdb({ lba: 5, pmi: true }))).status).toBe(0);
  });

  it('4096-byte blocks: capacity, LBPPBE 0, data at block*4096 in the file', async () => {
    d = await makeDisk({ blockSize: 4096, blocks: 256 });
    const r16 = await d.exec(encodeReadCapacity16Cdb());
    expect(decodeReadCapacity16(r16.dataIn!)).toMatchObject({ lastLba: 255, blockLength: 4096, lbppbe: 0 });
    const data = pattern(8192, 4);
    expect((await d.exec(write10(100, 2), data)).status).toBe(0);
    expect(d.fileBytes(100 * 4096, 8192).equals(data)).toBe(true);
    expect((await d.exec(read10(100, 2))).dataIn!.equals(data)).toBe(true);
  });
});

describe('disk LU: READ and WRITE', () => {
  it('WRITE(10) puts bytes at LBA*512 in the image; READ(10/12/16) read them back', async () => {
    d = await makeDisk();
    const data = pattern(8 * BS, 1);
    expect(await d.exec(write10(10, 8), data)).toEqual({ status: 0 });
    expect(d.fileBytes(10 * BS, 8 * BS).equals(data)).toBe(true);
    for (const opcode of [SbcOp.READ_10, SbcOp.READ_12, SbcOp.READ_16]) {
      const r = await d.exec(encodeBlockCdb({ opcode, lba: 10, count: 8 }));
      expect(r.status).toBe(0);
      expect(r.dataIn!.equals(data)).toBe(true);
    }
  });

  it('WRITE(12)/(16) with FUA and DPO reach the file', async () => {
    d = await makeDisk();
    const a = pattern(BS, 2);
    const b = pattern(2 * BS, 3);
    expect((await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_12, lba: 0, count: 1, fua: true, dpo: true }), a)).status).toBe(0);
    expect((await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_16, lba: 2046, count: 2, fua: true }), b)).status).toBe(0);
    expect(d.fileBytes(0, BS).equals(a)).toBe(true);
    expect(d.fileBytes(2046 * BS, 2 * BS).equals(b)).toBe(true);
  });

  it('READ(6)/WRITE(6): TRANSFER LENGTH 0 means 256 blocks', async () => {
    d = await makeDisk();
    const data = pattern(256 * BS, 5);
    expect((await d.exec([SbcOp.WRITE_6, 0, 0, 1, 0, 0], data)).status).toBe(0);
    expect(d.fileBytes(BS, 256 * BS).equals(data)).toBe(true);
    const r = await d.exec([SbcOp.READ_6, 0, 0, 1, 0, 0]);
    expect(r.dataIn!.length).toBe(256 * BS);
    expect(r.dataIn!.equals(data)).toBe(true);
  });

  it('reads zeros where nothing was written', async () => {
    d = await makeDisk();
    expect((await d.exec(read10(1000, 4))).dataIn!.equals(Buffer.alloc(4 * BS))).toBe(true);
  });

  it('checks every LBA range: last block fine, one past is LBA OUT OF RANGE, 0 blocks at capacity fine', async () => {
    d = await makeDisk();
    expect((await d.exec(read10(2047, 1))).status).toBe(0);
    expect(senseOf(await d.exec(read10(2047, 2)))).toMatchObject({ key: 5, asc: 0x21, ascq: 0 });
    expect(senseOf(await d.exec(read10(2048, 1)))).toMatchObject({ key: 5, asc: 0x21 });
    expect(senseOf(await d.exec(read10(2049, 0)))).toMatchObject({ key: 5, asc: 0x21 });
    expect(senseOf(await d.exec(read10(0xffffffff, 0)))).toMatchObject({ key: 5, asc: 0x21 });
    expect(await d.exec(read10(0, 0))).toMatchObject({ status: 0 });
    const r16 = Buffer.from('88' + '00' + 'ff'.repeat(8) + '00000001' + '0000', 'hex');
    expect(r16.length).toBe(16);
    expect(senseOf(await d.exec(r16))).toMatchObject({ key: 5, asc: 0x21 });
    expect(senseOf(await d.exec([SbcOp.READ_6, 0, 0x07, 0xff, 2, 0]))).toMatchObject({ key: 5, asc: 0x21 });
    expect(senseOf(await d.exec(write10(2040, 16), Buffer.alloc(16 * BS)))).toMatchObject({ key: 5, asc: 0x21 });
  });

  it('refuses RDPROTECT/WRPROTECT (no protection information), FUA_NV and a set control byte with field pointers', async () => {
    d = await makeDisk();
    for (let p = 1; p < 8; p++) {
      expect(senseOf(await d.exec(read10(0, 1, { protect: p })))).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 1 } });
      expect(senseOf(await d.exec(write10(0, 1, { protect: p }), Buffer.alloc(BS)))).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 1 } });
    }
    expect(senseOf(await d.exec(read10(0, 1, { protect: 4 })))).toMatchObject({ sks: { byte: 1, bit: 7 } });
    const fuaNv = read10(0, 1);
    fuaNv[1] = 0x02;
    expect(senseOf(await d.exec(fuaNv))).toMatchObject({ asc: 0x24, sks: { byte: 1, bit: 1 } });
    const ctl = read10(0, 1);
    ctl[9] = 0x04;
    expect(senseOf(await d.exec(ctl))).toMatchObject({ asc: 0x24, sks: { byte: 9, bit: 2 } });
  });

  it('accepts DPO and FUA on reads (DPOFUA=1 in the mode header)', async () => {
    d = await makeDisk();
    for (const f of [{ dpo: true }, { fua: true }, { dpo: true, fua: true }]) expect((await d.exec(read10(0, 1, f))).status).toBe(0);
  });

  it('data-out shorter than the transfer length: GOOD, only the delivered bytes are written (FCP-4 overflow rule)', async () => {
    d = await makeDisk();
    await d.exec(write10(0, 3), Buffer.alloc(3 * BS, 0x61));
    expect(await d.exec(write10(0, 2), Buffer.alloc(BS + 200, 0x62))).toEqual({ status: 0 });
    expect(d.fileBytes(0, BS + 200).equals(Buffer.alloc(BS + 200, 0x62))).toBe(true);
    expect(d.fileBytes(BS + 200, 2 * BS - 200).equals(Buffer.alloc(2 * BS - 200, 0x61))).toBe(true);
    expect(await d.exec(write10(0, 1))).toEqual({ status: 0 });
    expect(await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_AND_VERIFY_10, lba: 0, count: 2, bytchk: 1 }), Buffer.alloc(BS, 0x63))).toEqual({ status: 0 });
    expect(d.fileBytes(0, 2 * BS).equals(Buffer.concat([Buffer.alloc(BS, 0x63), Buffer.alloc(200, 0x62), Buffer.alloc(BS - 200, 0x61)]))).toBe(true);
    // VERIFY compares against the data-out: a short one cannot be compared.
    expect(senseOf(await d.exec(encodeBlockCdb({ opcode: SbcOp.VERIFY_10, lba: 0, count: 2, bytchk: 1 }), Buffer.alloc(BS)))).toMatchObject({ key: 5, asc: 0x0e, ascq: 3 });
  });

  it('data-out longer than needed: only the transfer length is written', async () => {
    d = await makeDisk();
    const data = Buffer.alloc(10000, 0x62);
    expect((await d.exec(write10(0, 1), data)).status).toBe(0);
    expect(d.fileBytes(0, BS).equals(Buffer.alloc(BS, 0x62))).toBe(true);
    expect(d.fileBytes(BS, BS).equals(Buffer.alloc(BS))).toBe(true);
  });

  it('a transfer above MAXIMUM TRANSFER LENGTH is INVALID FIELD IN CDB at the length field', async () => {
    d = await makeDisk({ blocks: 65536, maxTransferBytes: 1 << 20 });
    expect(senseOf(await d.exec(read10(0, 2049)))).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 7 } });
    expect(senseOf(await d.exec(encodeBlockCdb({ opcode: SbcOp.READ_16, lba: 0, count: 4096 })))).toMatchObject({ sks: { byte: 10 } });
  });
});

describe('disk LU: VERIFY and WRITE AND VERIFY', () => {
  it('VERIFY BYTCHK=0 checks the medium only; BYTCHK=1 compares; a miscompare gives 0E/1D/00 with the byte offset', async () => {
    d = await makeDisk();
    const data = pattern(4 * BS, 7);
    await d.exec(write10(20, 4), data);
    for (const opcode of [SbcOp.VERIFY_10, SbcOp.VERIFY_12, SbcOp.VERIFY_16]) {
      expect((await d.exec(encodeBlockCdb({ opcode, lba: 20, count: 4 }))).status).toBe(0);
      expect((await d.exec(encodeBlockCdb({ opcode, lba: 20, count: 4, bytchk: 1 }), data)).status).toBe(0);
      const bad = Buffer.from(data);
      bad[1234] = bad[1234]! ^ 0x58;
      const s = senseOf(await d.exec(encodeBlockCdb({ opcode, lba: 20, count: 4, bytchk: 1, dpo: true }), bad));
      expect(s).toMatchObject({ key: 0x0e, asc: 0x1d, ascq: 0, information: 1234 });
      expect((await d.exec(encodeBlockCdb({ opcode, lba: 20, count: 4, bytchk: 0 }), bad)).status).toBe(0);
    }
  });

  it('VERIFY BYTCHK=11b compares every block with one block; 10b is refused; VRPROTECT is refused', async () => {
    d = await makeDisk();
    const one = pattern(BS, 9);
    await d.exec(write10(0, 3), Buffer.concat([one, one, one]));
    expect((await d.exec(encodeBlockCdb({ opcode: SbcOp.VERIFY_10, lba: 0, count: 3, bytchk: 3 }), one)).status).toBe(0);
    expect(senseOf(await d.exec(encodeBlockCdb({ opcode: SbcOp.VERIFY_10, lba: 0, count: 4, bytchk: 3 }), one))).toMatchObject({ key: 0x0e, information: 3 * BS });
    expect(senseOf(await d.exec(encodeBlockCdb({ opcode: SbcOp.VERIFY_10, lba: 0, count: 1, bytchk: 2 }), one))).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 1, bit: 2 } });
    expect(senseOf(await d.exec(encodeBlockCdb({ opcode: SbcOp.VERIFY_10, lba: 0, count: 1, protect: 1 })))).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 1, bit: 5 } });
    expect(senseOf(await d.exec(encodeBlockCdb({ opcode: SbcOp.VERIFY_16, lba: 2048, count: 1 })))).toMatchObject({ key: 5, asc: 0x21 });
  });

  it('WRITE AND VERIFY(10/12/16) writes the data to the file', async () => {
    d = await makeDisk();
    let lba = 0;
    for (const opcode of [SbcOp.WRITE_AND_VERIFY_10, SbcOp.WRITE_AND_VERIFY_12, SbcOp.WRITE_AND_VERIFY_16]) {
      const data = pattern(2 * BS, opcode);
      expect((await d.exec(encodeBlockCdb({ opcode, lba, count: 2, bytchk: 1, dpo: true }), data)).status).toBe(0);
      expect(d.fileBytes(lba * BS, 2 * BS).equals(data)).toBe(true);
      lba += 2;
    }
    expect(senseOf(await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_AND_VERIFY_10, lba: 2047, count: 2 }), Buffer.alloc(2 * BS)))).toMatchObject({ asc: 0x21 });
  });
});

describe('disk LU: ORWRITE', () => {
  it('ORs the data-out into the medium; range, WRPROTECT and 0 blocks as for WRITE(16)', async () => {
    d = await makeDisk();
    await d.exec(write10(2046, 2), Buffer.alloc(2 * BS, 0xa5));
    const or = (lba: number, count: number, extra = {}) => encodeBlockCdb({ opcode: SbcOp.ORWRITE_16, lba, count, ...extra });
    expect(await d.exec(or(2046, 2, { fua: true }), Buffer.alloc(2 * BS, 0x5a))).toEqual({ status: 0 });
    expect(d.fileBytes(2046 * BS, 2 * BS).equals(Buffer.alloc(2 * BS, 0xff))).toBe(true);
    expect(await d.exec(or(0, 1), Buffer.alloc(BS, 0x0f))).toEqual({ status: 0 });
    expect(d.fileBytes(0, BS).equals(Buffer.alloc(BS, 0x0f))).toBe(true);
    expect(await d.exec(or(0, 0))).toEqual({ status: 0 });
    expect(senseOf(await d.exec(or(2047, 2), Buffer.alloc(2 * BS)))).toMatchObject({ key: 5, asc: 0x21 });
    expect(senseOf(await d.exec(or(0, 1, { protect: 2 }), Buffer.alloc(BS)))).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 1, bit: 6 } });
  });
});

describe('disk LU: COMPARE AND WRITE', () => {
  const caw = (lba: number, count: number, extra = {}) => encodeBlockCdb({ opcode: SbcOp.COMPARE_AND_WRITE, lba, count, ...extra });

  it('writes the second half when the first half matches the medium', async () => {
    d = await makeDisk();
    await d.exec(write10(2046, 2), Buffer.alloc(2 * BS, 0x41));
    const data = Buffer.concat([Buffer.alloc(2 * BS, 0x41), Buffer.alloc(2 * BS, 0x42)]);
    expect(await d.exec(caw(2046, 2, { fua: true }), data)).toEqual({ status: 0 });
    expect(d.fileBytes(2046 * BS, 2 * BS).equals(Buffer.alloc(2 * BS, 0x42))).toBe(true);
    expect(d.lu.peekChanges()).toEqual([{ lba: 2046, count: 2 }]);
  });

  it('a miscompare writes nothing and reports the data-out offset of the first difference', async () => {
    d = await makeDisk();
    await d.exec(write10(0, 3), Buffer.alloc(3 * BS, 0x41));
    const data = Buffer.concat([Buffer.alloc(3 * BS, 0x41), Buffer.alloc(3 * BS, 0x42)]);
    data[3 * BS - 27] = 0x43;
    expect(senseOf(await d.exec(caw(0, 3), data))).toMatchObject({ key: 0x0e, asc: 0x1d, ascq: 0, information: 3 * BS - 27 });
    expect(d.fileBytes(0, 3 * BS).equals(Buffer.alloc(3 * BS, 0x41))).toBe(true);
  });

  it('checks range, data-out size, reserved bytes, write protection; 0 blocks is a no-op', async () => {
    d = await makeDisk();
    expect(senseOf(await d.exec(caw(2047, 2), Buffer.alloc(4 * BS)))).toMatchObject({ key: 5, asc: 0x21 });
    expect(senseOf(await d.exec(caw(0, 1), Buffer.alloc(4 * BS)))).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 13 } });
    expect(senseOf(await d.exec(caw(0, 2), Buffer.alloc(2 * BS)))).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 13 } });
    expect(senseOf(await d.exec(caw(0, 0), Buffer.alloc(512 * BS)))).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 13 } });
    const reserved = caw(0, 1);
    reserved[12] = 1;
    expect(senseOf(await d.exec(reserved, Buffer.alloc(2 * BS)))).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 12, bit: 0 } });
    expect(senseOf(await d.exec(caw(0, 1, { protect: 1 }), Buffer.alloc(2 * BS)))).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 1, bit: 5 } });
    expect(await d.exec(caw(0, 0))).toEqual({ status: 0 });
    expect(d.lu.blockLimits().maximumCompareAndWriteLength).toBe(255);
  });

  it('holds other writes back while it runs: concurrent CAWs on one block succeed exactly once', async () => {
    d = await makeDisk({ memory: true });
    await d.exec(write10(7, 1), Buffer.alloc(BS, 0x30));
    const attempts = Array.from({ length: 8 }, (_, i) => d.exec(caw(7, 1), Buffer.concat([Buffer.alloc(BS, 0x30), Buffer.alloc(BS, 0x31 + i)])));
    const results = await Promise.all(attempts);
    expect(results.filter((r) => r.status === 0)).toHaveLength(1);
    expect(results.filter((r) => r.status === 2)).toHaveLength(7);
  });
});

describe('disk LU: WRITE SAME, UNMAP, GET LBA STATUS', () => {
  const status = async (lba: number, alloc = 1024) => decodeLbaStatus((await d.exec(encodeGetLbaStatusCdb({ lba, allocationLength: alloc }))).dataIn!);

  it('a fresh disk is deallocated; writes map blocks exactly', async () => {
    d = await makeDisk();
    expect(await status(0)).toEqual([{ lba: 0, count: 2048, status: 1 }]);
    await d.exec(write10(8, 3), Buffer.alloc(3 * BS, 1));
    expect(await status(0)).toEqual([
      { lba: 0, count: 8, status: 1 },
      { lba: 8, count: 3, status: 0 },
      { lba: 11, count: 2037, status: 1 },
    ]);
    expect(await status(9, 24)).toEqual([{ lba: 9, count: 2, status: 0 }]);
    expect(senseOf(await d.exec(encodeGetLbaStatusCdb({ lba: 2048, allocationLength: 24 })))).toMatchObject({ key: 5, asc: 0x21 });
    expect(senseOf(await d.exec(encodeGetLbaStatusCdb({ lba: 2 ** 63, allocationLength: 24 })))).toMatchObject({ key: 5, asc: 0x21 });
  });

  it('WRITE SAME(10/16) writes one block over a range, up to the last LBA', async () => {
    d = await makeDisk();
    const block = pattern(BS, 11);
    expect((await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_SAME_10, lba: 100, count: 5 }), block)).status).toBe(0);
    for (let i = 0; i < 5; i++) expect(d.fileBytes((100 + i) * BS, BS).equals(block)).toBe(true);
    expect((await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_SAME_16, lba: 2040, count: 8 }), block)).status).toBe(0);
    expect(d.fileBytes(2047 * BS, BS).equals(block)).toBe(true);
    expect(senseOf(await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_SAME_16, lba: 2041, count: 8 }), block))).toMatchObject({ asc: 0x21 });
  });

  it('WRITE SAME with 0 blocks runs to the end of the medium; beyond MAXIMUM WRITE SAME LENGTH is refused', async () => {
    d = await makeDisk({ blocks: 65536 + 16 });
    const max = d.lu.maxWriteSameBlocks;
    expect(max).toBe(65536);
    const block = Buffer.alloc(BS, 0x33);
    expect(senseOf(await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_SAME_10, lba: 0, count: 0 }), block))).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 7 } });
    expect((await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_SAME_10, lba: 16, count: 0 }), block)).status).toBe(0);
    expect(d.fileBytes((65536 + 15) * BS, BS).equals(block)).toBe(true);
    expect(d.fileBytes(15 * BS, BS).equals(Buffer.alloc(BS))).toBe(true);
    expect(senseOf(await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_SAME_16, lba: 65536 + 17, count: 0 }), block))).toMatchObject({ asc: 0x21 });
  });

  it('an aborted WRITE SAME stops between chunks and answers TASK ABORTED', async () => {
    d = await makeDisk({ blocks: 65536, memory: true });
    const ac = new AbortController();
    const p = d.lu.execute({ nexus: A, lun: 0, cdb: encodeBlockCdb({ opcode: SbcOp.WRITE_SAME_16, lba: 0, count: 65536 }), dataOut: Buffer.alloc(BS, 1), dataInLength: 0, signal: ac.signal });
    ac.abort();
    expect((await p).status).toBe(0x40);
    expect(d.lu.peekChanges().reduce((n, e) => n + e.count, 0)).toBeLessThan(65536);
  });

  it('WRITE SAME UNMAP with a zero block deallocates; reads return zeros; ANCHOR refused; wrong data-out size refused', async () => {
    d = await makeDisk();
    await d.exec(write10(0, 16), Buffer.alloc(16 * BS, 0xff));
    expect((await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_SAME_10, lba: 4, count: 8, unmap: true }), Buffer.alloc(BS))).status).toBe(0);
    expect(await status(0)).toEqual([
      { lba: 0, count: 4, status: 0 },
      { lba: 4, count: 8, status: 1 },
      { lba: 12, count: 4, status: 0 },
      { lba: 16, count: 2032, status: 1 },
    ]);
    expect((await d.exec(read10(4, 8))).dataIn!.equals(Buffer.alloc(8 * BS))).toBe(true);
    expect(d.fileBytes(4 * BS, 8 * BS).equals(Buffer.alloc(8 * BS))).toBe(true);
    expect(senseOf(await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_SAME_10, lba: 0, count: 1, anchor: true }), Buffer.alloc(BS)))).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 1, bit: 4 } });
    expect(senseOf(await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_SAME_10, lba: 0, count: 1, anchor: true, unmap: true }), Buffer.alloc(BS)))).toMatchObject({ asc: 0x24 });
    expect(senseOf(await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_SAME_10, lba: 0, count: 1, unmap: true }), Buffer.alloc(BS / 2)))).toMatchObject({ key: 5, asc: 0x0e, ascq: 3 });
    expect(senseOf(await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_SAME_10, lba: 0, count: 1, unmap: true }), Buffer.alloc(BS * 2)))).toMatchObject({ key: 5, asc: 0x0e, ascq: 3 });
  });

  it('WRITE SAME UNMAP deallocates whatever the block holds; NDOB writes zeros', async () => {
    d = await makeDisk();
    const block = Buffer.alloc(BS, 0xa6);
    await d.exec(write10(0, 2), Buffer.alloc(2 * BS, 0xff));
    expect((await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_SAME_16, lba: 0, count: 2, unmap: true }), block)).status).toBe(0);
    expect(d.fileBytes(0, 2 * BS).equals(Buffer.alloc(2 * BS))).toBe(true);
    await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_SAME_16, lba: 0, count: 2 }), block);
    expect(d.fileBytes(0, BS).equals(block)).toBe(true);
    expect((await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_SAME_16, lba: 0, count: 2, unmap: true, ndob: true }))).status).toBe(0);
    expect(d.fileBytes(0, 2 * BS).equals(Buffer.alloc(2 * BS))).toBe(true);
    expect((await status(0, 24))[0]).toEqual({ lba: 0, count: 2048, status: 1 });
  });

  it('UNMAP deallocates every descriptor, zeros the file range and keeps neighbours', async () => {
    d = await makeDisk();
    await d.exec(write10(0, 32), pattern(32 * BS, 1));
    const list = encodeUnmapList([{ lba: 2, count: 3 }, { lba: 20, count: 4 }, { lba: 30, count: 0 }]);
    expect((await d.exec(encodeUnmapCdb({ parameterListLength: list.length }), list)).status).toBe(0);
    expect(d.fileBytes(2 * BS, 3 * BS).equals(Buffer.alloc(3 * BS))).toBe(true);
    expect(d.fileBytes(20 * BS, 4 * BS).equals(Buffer.alloc(4 * BS))).toBe(true);
    expect(d.fileBytes(BS, BS).equals(pattern(32 * BS, 1).subarray(BS, 2 * BS))).toBe(true);
    expect((await status(0)).map((x) => [x.lba, x.count, x.status])).toEqual([
      [0, 2, 0], [2, 3, 1], [5, 15, 0], [20, 4, 1], [24, 8, 0], [32, 2016, 1],
    ]);
  });

  it('UNMAP answers bad parameter lists per SBC-3 and deallocates nothing then', async () => {
    d = await makeDisk();
    await d.exec(write10(0, 8), Buffer.alloc(8 * BS, 7));
    const run = (list: Buffer, len = list.length, anchor = false) => d.exec(encodeUnmapCdb({ parameterListLength: len, anchor }), list);
    expect((await run(Buffer.alloc(0), 0)).status).toBe(0);
    expect(senseOf(await run(Buffer.alloc(6), 6))).toMatchObject({ key: 5, asc: 0x1a, ascq: 0 });
    const oob = encodeUnmapList([{ lba: 0, count: 4 }, { lba: 2047, count: 2 }]);
    expect(senseOf(await run(oob))).toMatchObject({ key: 5, asc: 0x21, ascq: 0 });
    const lie = encodeUnmapList([{ lba: 0, count: 4 }]);
    lie.writeUInt16BE(32, 2);
    expect(senseOf(await run(lie))).toMatchObject({ key: 5, asc: 0x1a, sks: { cd: false, byte: 2 } });
    const lieData = encodeUnmapList([{ lba: 0, count: 4 }]);
    lieData.writeUInt16BE(100, 0);
    expect(senseOf(await run(lieData))).toMatchObject({ key: 5, asc: 0x1a, sks: { cd: false, byte: 0 } });
    const many = encodeUnmapList(Array.from({ length: 257 }, (_, i) => ({ lba: i, count: 1 })));
    expect(senseOf(await run(many))).toMatchObject({ key: 5, asc: 0x26, sks: { cd: false, byte: 2 } });
    expect(senseOf(await run(encodeUnmapList([{ lba: 0, count: 1 }]), 24, true))).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 1, bit: 0 } });
    expect(senseOf(await run(Buffer.alloc(8), 24))).toMatchObject({ key: 5, asc: 0x0e, ascq: 3 });
    expect((await d.exec(read10(0, 8))).dataIn!.equals(Buffer.alloc(8 * BS, 7))).toBe(true);
    // A partial trailing descriptor is ignored; an empty descriptor list is fine.
    const partial = Buffer.concat([encodeUnmapList([{ lba: 0, count: 1 }]), Buffer.alloc(8)]);
    partial.writeUInt16BE(partial.length - 2, 0);
    partial.writeUInt16BE(24, 2);
    expect((await run(partial)).status).toBe(0);
    expect((await run(encodeUnmapList([]))).status).toBe(0);
    expect((await status(0, 24))[0]).toEqual({ lba: 0, count: 1, status: 1 });
  });

  it('a memory store filled before the LU opens starts with those chunks mapped', async () => {
    const { MemoryStore } = await import('../../../firmware-sim/devices/backing/memory-store.js');
    const { DiskLu } = await import('../../../firmware-sim/devices/disk/disk-lu.js');
    const { identity } = await import('./helpers.js');
    const store = new MemoryStore(4 << 20);
    await store.write((2 << 20) + 5, Buffer.from('fat'));
    const lu = new DiskLu({ identity, store, blockSize: 512 });
    expect(lu.mappedExtents()).toEqual([{ lba: 4096, count: 2048 }]);
  });

  it('an existing image file starts fully mapped and changed unless its maps were saved at a clean close', async () => {
    const { rmSync, existsSync } = await import('node:fs');
    const first = await makeDisk();
    await first.exec(write10(5, 1), Buffer.alloc(BS, 1));
    await first.exec(write10(9, 2), Buffer.alloc(2 * BS, 2));
    first.lu.takeChanges();
    await first.exec(write10(10, 1), Buffer.alloc(BS, 3));
    await first.lu.close();
    expect(existsSync(`${first.path!}.dmsim-meta`)).toBe(true);
    // Clean close: both maps come back exactly, and the side file is gone while the LU is open.
    d = await makeDisk({ path: first.path! });
    expect(existsSync(`${first.path!}.dmsim-meta`)).toBe(false);
    expect(d.lu.mappedExtents()).toEqual([{ lba: 5, count: 1 }, { lba: 9, count: 2 }]);
    expect(d.lu.peekChanges()).toEqual([{ lba: 10, count: 1 }]);
    expect((await d.exec(read10(5, 1))).dataIn!.equals(Buffer.alloc(BS, 1))).toBe(true);
    // A crash (no clean close): nothing is known, everything counts as mapped and changed.
    const crashed = await makeDisk({ path: first.path! });
    expect(crashed.lu.mappedExtents()).toEqual([{ lba: 0, count: 2048 }]);
    expect(crashed.lu.peekChanges()).toEqual([{ lba: 0, count: 2048 }]);
    await crashed.lu.close();
    // A side file that does not fit the LU is ignored.
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${first.path!}.dmsim-meta`, JSON.stringify({ version: 1, blockSize: 512, blocks: 99, mapped: [], changed: [] }));
    const odd = await makeDisk({ path: first.path! });
    expect(odd.lu.mappedExtents()).toEqual([{ lba: 0, count: 2048 }]);
    await odd.lu.close();
    await d.lu.close();
    rmSync(first.dir!, { recursive: true, force: true });
  });

  it('a thick disk has no UNMAP or GET LBA STATUS and reports LBPME=0', async () => {
    d = await makeDisk({ thin: false });
    expect(senseOf(await d.exec(encodeUnmapCdb({ parameterListLength: 24 }), encodeUnmapList([{ lba: 0, count: 1 }])))).toMatchObject({ key: 5, asc: 0x20 });
    expect(senseOf(await d.exec(encodeGetLbaStatusCdb({ lba: 0, allocationLength: 24 })))).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 1, bit: 4 } });
    expect(decodeReadCapacity16((await d.exec(encodeReadCapacity16Cdb())).dataIn!)).toMatchObject({ lbpme: false, lbprz: false });
    expect(d.lu.extraVpdPages().has(0xb2)).toBe(false);
  });
});

describe('disk LU: SYNCHRONIZE CACHE, START STOP UNIT, PREVENT ALLOW', () => {
  it('SYNCHRONIZE CACHE(10/16) flushes; an out-of-range LBA is refused', async () => {
    d = await makeDisk();
    await d.exec(write10(0, 1), Buffer.alloc(BS, 9));
    expect((await d.exec(encodeBlockCdb({ opcode: SbcOp.SYNCHRONIZE_CACHE_10, lba: 0, count: 0 }))).status).toBe(0);
    expect((await d.exec(encodeBlockCdb({ opcode: SbcOp.SYNCHRONIZE_CACHE_16, lba: 0, count: 2048, immed: true }))).status).toBe(0);
    expect(d.fileBytes(0, BS).equals(Buffer.alloc(BS, 9))).toBe(true);
    expect(senseOf(await d.exec(encodeBlockCdb({ opcode: SbcOp.SYNCHRONIZE_CACHE_10, lba: 2048, count: 1 })))).toMatchObject({ asc: 0x21 });
  });

  it('PRE-FETCH(10/16) checks the range and completes with GOOD', async () => {
    d = await makeDisk();
    for (const opcode of [SbcOp.PRE_FETCH_10, SbcOp.PRE_FETCH_16]) {
      expect(await d.exec(encodeBlockCdb({ opcode, lba: 2040, count: 8, immed: true }))).toEqual({ status: 0 });
      expect(await d.exec(encodeBlockCdb({ opcode, lba: 0, count: 0 }))).toEqual({ status: 0 });
      expect(senseOf(await d.exec(encodeBlockCdb({ opcode, lba: 2047, count: 2 })))).toMatchObject({ key: 5, asc: 0x21 });
      expect(senseOf(await d.exec(encodeBlockCdb({ opcode, lba: 2049, count: 0 })))).toMatchObject({ key: 5, asc: 0x21 });
    }
  });

  it('a stopped unit answers media access with NOT READY 04/02 until started; TUR stays GOOD', async () => {
    d = await makeDisk();
    expect((await d.exec(encodeStartStopCdb({ start: false }))).status).toBe(0);
    expect(senseOf(await d.exec(read10(0, 1)))).toMatchObject({ key: 2, asc: 0x04, ascq: 0x02 });
    expect(senseOf(await d.exec(write10(0, 1), Buffer.alloc(BS)))).toMatchObject({ key: 2, asc: 0x04, ascq: 0x02 });
    expect((await d.exec([0, 0, 0, 0, 0, 0])).status).toBe(0);
    expect((await d.exec(encodeStartStopCdb({ start: true, immed: true }))).status).toBe(0);
    expect((await d.exec(read10(0, 1))).status).toBe(0);
    // Power conditions other than START_VALID ignore START and LOEJ.
    expect((await d.exec(encodeStartStopCdb({ powerCondition: 3, loej: true, start: false }))).status).toBe(0);
    expect((await d.exec(read10(0, 1))).status).toBe(0);
  });

  it('removable: LOEJ ejects (3A/00) and loads; PREVENT from any nexus blocks removal with 53/02', async () => {
    d = await makeDisk({ removable: true });
    expect(d.lu.inquiryFlags().rmb).toBe(true);
    expect((await d.exec(encodePreventAllowCdb(1), undefined, A)).status).toBe(0);
    expect(senseOf(await d.exec(encodeStartStopCdb({ loej: true, start: false }), undefined, B))).toMatchObject({ key: 5, asc: 0x53, ascq: 0x02 });
    expect(senseOf(await d.exec(encodeStartStopCdb({ loej: true, start: true }), undefined, B))).toMatchObject({ key: 5, asc: 0x53, ascq: 0x02 });
    expect((await d.exec([0, 0, 0, 0, 0, 0])).status).toBe(0);
    expect((await d.exec(encodePreventAllowCdb(0), undefined, A)).status).toBe(0);
    expect((await d.exec(encodeStartStopCdb({ loej: true, start: false }))).status).toBe(0);
    expect(senseOf(await d.exec([0, 0, 0, 0, 0, 0]))).toMatchObject({ key: 2, asc: 0x3a, ascq: 0 });
    expect(senseOf(await d.exec(read10(0, 1)))).toMatchObject({ key: 2, asc: 0x3a });
    expect((await d.exec(encodeStartStopCdb({ loej: true, start: true }))).status).toBe(0);
    expect((await d.exec([0, 0, 0, 0, 0, 0])).status).toBe(0);
  });

  it('PREVENT is released by nexus loss and by reset; obsolete PREVENT values are refused', async () => {
    d = await makeDisk({ removable: true });
    await d.exec(encodePreventAllowCdb(1), undefined, A);
    d.lu.nexusLost(A);
    expect((await d.exec(encodeStartStopCdb({ loej: true, start: false }))).status).toBe(0);
    await d.exec(encodeStartStopCdb({ loej: true, start: true }));
    await d.exec(encodePreventAllowCdb(1), undefined, B);
    d.lu.reset();
    expect(d.lu.isRemovalPrevented).toBe(false);
    await d.exec(encodePreventAllowCdb(1), undefined, B);
    d.lu.queueUnitAttention([0x29, 0x03]);
    expect(d.lu.isRemovalPrevented).toBe(false);
    expect(senseOf(await d.exec([0, 0, 0, 0, 0, 0]))).toMatchObject({ key: 6, asc: 0x29, ascq: 0x03 });
    expect(senseOf(await d.exec(encodePreventAllowCdb(2)))).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 4, bit: 1 } });
  });
});

describe('disk LU: MODE SENSE / MODE SELECT', () => {
  const sense6 = (pageCode: number, pc: number = PageControl.CURRENT, dbd = false) => encodeModeSense({ ten: false, dbd, pc: pc as 0, pageCode, subpage: 0, allocationLength: 255 });

  it('MODE SENSE(6) all pages: DPOFUA header, SBC block descriptor, pages 01h 08h 0Ah 1Ch', async () => {
    d = await makeDisk();
    const r = await d.exec(sense6(ALL_PAGES));
    expect(r.status).toBe(0);
    const b = r.dataIn!;
    expect(b.subarray(0, 12).toString('hex')).toBe((b.length - 1).toString(16).padStart(2, '0') + '0010080000080000000200');
    const m = decodeModeData(b, false, 'direct');
    expect(m.pages.map((p) => p.pageCode)).toEqual([0x01, 0x08, 0x0a, 0x1c]);
    expect(decodeControlPage(m.pages[2]!.bytes)).toMatchObject({ dSense: false, swp: false, tas: true });
  });

  it('MODE SENSE(10) with LLBAA on a small disk keeps the short descriptor; DBD drops it', async () => {
    d = await makeDisk();
    const r = await d.exec(encodeModeSense({ ten: true, dbd: false, llbaa: true, pc: 0, pageCode: ModePage.CACHING, subpage: 0, allocationLength: 512 }));
    const m = decodeModeData(r.dataIn!, true, 'direct');
    expect(m.header).toMatchObject({ longLba: false, blockDescriptorLength: 8, deviceSpecific: 0x10 });
    expect(m.descriptors).toEqual([{ densityCode: 0, blocks: 2048, blockLength: 512 }]);
    const r2 = await d.exec(sense6(ModePage.CONTROL, PageControl.CURRENT, true));
    expect(r2.dataIn!.toString('hex')).toBe('0f001000' + encodeControlPage({ tas: true, busyTimeoutPeriod: 0xffff }).toString('hex'));
  });

  it('unsupported page: INVALID FIELD IN CDB at byte 2; saved values: 39/00', async () => {
    d = await makeDisk();
    expect(senseOf(await d.exec(sense6(0x19)))).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 2, bit: 5 } });
    expect(senseOf(await d.exec(sense6(ALL_PAGES, PageControl.SAVED)))).toMatchObject({ key: 5, asc: 0x39 });
  });

  it('MODE SELECT sets SWP: writes get DATA PROTECT 27/02, reads work, WP shows in the header; others get UA 2A/01', async () => {
    d = await makeDisk();
    const changeable = decodeModeData((await d.exec(sense6(ModePage.CONTROL, PageControl.CHANGEABLE, true))).dataIn!, false, 'direct');
    expect(decodeControlPage(changeable.pages[0]!.bytes)).toMatchObject({ swp: true, dSense: true, tas: false });
    const page = encodeControlPage({ tas: true, busyTimeoutPeriod: 0xffff, swp: true });
    const list = Buffer.concat([Buffer.alloc(4), page]);
    expect((await d.exec(encodeModeSelect({ ten: false, pf: true, sp: false, parameterListLength: list.length }), list)).status).toBe(0);
    expect(senseOf(await d.exec(write10(0, 1), Buffer.alloc(BS)))).toMatchObject({ key: 7, asc: 0x27, ascq: 0x02 });
    expect((await d.exec(read10(0, 1))).status).toBe(0);
    expect((await d.exec(sense6(ModePage.CONTROL))).dataIn![2]).toBe(0x90);
    expect(senseOf(await d.exec(read10(0, 1), undefined, B))).toMatchObject({ key: 6, asc: 0x2a, ascq: 0x01 });
    const off = Buffer.concat([Buffer.alloc(4), encodeControlPage({ tas: true, busyTimeoutPeriod: 0xffff })]);
    expect((await d.exec(encodeModeSelect({ ten: false, pf: true, sp: false, parameterListLength: off.length }), off)).status).toBe(0);
    expect((await d.exec(write10(0, 1), Buffer.alloc(BS))).status).toBe(0);
  });

  it('D_SENSE switches the LU to descriptor-format sense', async () => {
    d = await makeDisk();
    const list = Buffer.concat([Buffer.alloc(8), encodeControlPage({ tas: true, busyTimeoutPeriod: 0xffff, dSense: true })]);
    expect((await d.exec(encodeModeSelect({ ten: true, pf: true, sp: false, parameterListLength: list.length }), list)).status).toBe(0);
    const r = await d.exec(encodeBlockCdb({ opcode: SbcOp.READ_16, lba: 5000, count: 1 }));
    expect(r.sense![0]).toBe(0x72);
    expect(senseOf(r)).toMatchObject({ key: 5, asc: 0x21 });
  });

  it('MODE SELECT refuses unchangeable bits, a different block length, and saving', async () => {
    d = await makeDisk();
    const qerr = Buffer.concat([Buffer.alloc(4), encodeControlPage({ tas: true, busyTimeoutPeriod: 0xffff, qerr: 1 })]);
    expect(senseOf(await d.exec(encodeModeSelect({ ten: false, pf: true, sp: false, parameterListLength: qerr.length }), qerr))).toMatchObject({ key: 5, asc: 0x26, sks: { cd: false, byte: 7, bit: 1 } });
    const bd = Buffer.from('000000080000000000001000', 'hex');
    expect(senseOf(await d.exec(encodeModeSelect({ ten: false, pf: true, sp: false, parameterListLength: bd.length }), bd))).toMatchObject({ key: 5, asc: 0x26, sks: { cd: false, byte: 9 } });
    const same = Buffer.from('000000080000080000000200', 'hex');
    expect((await d.exec(encodeModeSelect({ ten: false, pf: true, sp: false, parameterListLength: same.length }), same)).status).toBe(0);
    expect(senseOf(await d.exec(encodeModeSelect({ ten: false, pf: true, sp: true, parameterListLength: qerr.length }), qerr))).toMatchObject({ key: 5, asc: 0x24, ascq: 0, sks: { cd: true, byte: 1, bit: 0 } });
  });

  it('turning off WCE makes every write synchronous (still correct data)', async () => {
    d = await makeDisk();
    const page = (await d.exec(sense6(ModePage.CACHING, PageControl.CURRENT, true))).dataIn!.subarray(4);
    const off = Buffer.from(page);
    off[2] = off[2]! & ~0x04;
    const list = Buffer.concat([Buffer.alloc(4), off]);
    expect((await d.exec(encodeModeSelect({ ten: false, pf: true, sp: false, parameterListLength: list.length }), list)).status).toBe(0);
    expect((await d.exec(write10(3, 1), Buffer.alloc(BS, 5))).status).toBe(0);
    expect(d.fileBytes(3 * BS, BS).equals(Buffer.alloc(BS, 5))).toBe(true);
  });
});

describe('disk LU: VPD, table, identity', () => {
  it('VPD B0h block limits, B1h characteristics, B2h provisioning', async () => {
    d = await makeDisk();
    const pages = d.lu.extraVpdPages();
    const b0 = pages.get(0xb0)!();
    expect(b0.subarray(0, 4).toString('hex')).toBe('00b0003c');
    expect(decodeBlockLimitsVpd(b0)).toMatchObject({
      wsnz: false, maximumTransferLength: 131072, maximumUnmapLbaCount: 0xffffffff, maximumUnmapBlockDescriptorCount: 256,
      optimalUnmapGranularity: 1, ugavalid: true, maximumWriteSameLength: 65536,
    });
    const b1 = pages.get(0xb1)!();
    expect(decodeBlockDeviceCharacteristicsVpd(b1)).toMatchObject({ mediumRotationRate: 1, fuab: true });
    const b2 = pages.get(0xb2)!();
    expect(b2.toString('hex')).toBe('00b2000400e40200');
    expect(decodeLogicalBlockProvisioningVpd(b2)).toMatchObject({ lbpu: true, lbpws: true, lbpws10: true, lbprz: true, ancSup: false, provisioningType: 2 });
  });

  it('the command table carries the CDB usage data RSOC reports (DPO/FUA bits for READ(10))', async () => {
    d = await makeDisk();
    expect(d.lu.lookup(SbcOp.READ_10)!.usage!.slice(0, 2)).toEqual([0xff, 0x18]);
    expect(d.lu.lookup(0x9e, 0x10)!.name).toBe('READ CAPACITY(16)');
    expect(d.lu.lookup(0x9e, 0x12)!.rsv).toBe('read');
    expect(d.lu.lookup(SbcOp.WRITE_10)!.rsv).toBe('write');
    expect(d.lu.inquiryFlags().threePC).toBe(false);
  });

  it('extraCommands join the table and set 3PC', async () => {
    const xcopy: CommandDef = { opcode: 0x83, serviceAction: 0x00, name: 'EXTENDED COPY(LID1)', cdbLength: 16, rsv: 'write', handler: () => Buffer.from('ok') };
    d = await makeDisk({ extraCommands: [xcopy] as never });
    expect(d.lu.inquiryFlags().threePC).toBe(true);
    const cdb = Buffer.alloc(16);
    cdb[0] = 0x83;
    expect((await d.exec(cdb)).dataIn!.toString()).toBe('ok');
  });

  it('a read-only image answers writes with DATA PROTECT 27/00 and shows WP', async () => {
    d = await makeDisk({ readOnly: true });
    expect(senseOf(await d.exec(write10(0, 1), Buffer.alloc(BS)))).toMatchObject({ key: 7, asc: 0x27, ascq: 0 });
    expect(senseOf(await d.exec(encodeUnmapCdb({ parameterListLength: 24 }), encodeUnmapList([{ lba: 0, count: 1 }])))).toMatchObject({ key: 7, asc: 0x27 });
    expect((await d.exec(encodeModeSense({ ten: false, dbd: true, pc: 0, pageCode: ALL_PAGES, subpage: 0, allocationLength: 4 }))).dataIn![2]).toBe(0x90);
  });
});

describe('disk LU: change tracking and faults', () => {
  it('records written, write-same and unmapped blocks; takeChanges resets', async () => {
    d = await makeDisk({ memory: true });
    await d.exec(write10(10, 2), Buffer.alloc(2 * BS, 1));
    await d.exec(encodeBlockCdb({ opcode: SbcOp.WRITE_SAME_16, lba: 100, count: 50 }), Buffer.alloc(BS, 2));
    const l = encodeUnmapList([{ lba: 11, count: 3 }]);
    await d.exec(encodeUnmapCdb({ parameterListLength: l.length }), l);
    await d.exec(read10(500, 10));
    expect(d.lu.peekChanges()).toEqual([{ lba: 10, count: 4 }, { lba: 100, count: 50 }]);
    expect(d.lu.takeChanges()).toEqual([{ lba: 10, count: 4 }, { lba: 100, count: 50 }]);
    expect(d.lu.takeChanges()).toEqual([]);
    await d.exec(write10(2047, 1), Buffer.alloc(BS, 1));
    expect(d.lu.takeChanges()).toEqual([{ lba: 2047, count: 1 }]);
    expect(d.lu.mappedExtents()).toEqual([{ lba: 10, count: 1 }, { lba: 100, count: 50 }, { lba: 2047, count: 1 }]);
  });

  it('medium errors: read 03/11/00 and write 03/0C/00 with the LBA in INFORMATION; blocks before it are written', async () => {
    d = await makeDisk();
    d.lu.faults.addMediumError({ firstLba: 50, count: 2, on: 'both' });
    expect(senseOf(await d.exec(read10(45, 10)))).toMatchObject({ key: 3, asc: 0x11, ascq: 0, information: 50 });
    expect((await d.exec(read10(40, 10))).status).toBe(0);
    const data = Buffer.alloc(10 * BS, 0x44);
    expect(senseOf(await d.exec(write10(45, 10), data))).toMatchObject({ key: 3, asc: 0x0c, ascq: 0, information: 50 });
    expect(d.fileBytes(45 * BS, 5 * BS).equals(Buffer.alloc(5 * BS, 0x44))).toBe(true);
    expect(d.fileBytes(50 * BS, BS).equals(Buffer.alloc(BS))).toBe(true);
    expect(senseOf(await d.exec(encodeBlockCdb({ opcode: SbcOp.VERIFY_10, lba: 51, count: 1 })))).toMatchObject({ key: 3, asc: 0x11, information: 51 });
  });

  it('latency and the throughput cap slow the data path; clearing restores it', async () => {
    d = await makeDisk({ memory: true });
    d.lu.faults.setThroughput(1_000_000);
    let t0 = performance.now();
    await d.exec(read10(0, 100));
    await d.exec(write10(0, 100), Buffer.alloc(100 * BS));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
    d.lu.faults.clear();
    d.lu.faults.setLatency(30);
    t0 = performance.now();
    expect((await d.exec(read10(0, 1))).status).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(28);
    d.lu.faults.clear();
    expect(d.lu.faults.armed).toBe(false);
  });

  it('not-ready window: NOT READY 04/01 for TUR and media access', async () => {
    d = await makeDisk();
    d.lu.faults.notReadyFor(10_000);
    expect(senseOf(await d.exec([0, 0, 0, 0, 0, 0]))).toMatchObject({ key: 2, asc: 4, ascq: 1 });
    expect(senseOf(await d.exec(read10(0, 1)))).toMatchObject({ key: 2, asc: 4, ascq: 1 });
    d.lu.faults.clear();
    expect((await d.exec(read10(0, 1))).status).toBe(0);
  });
});
