import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  SbcOp, decodeBlockCdb, encodeBlockCdb, decodeUnmapCdb, encodeUnmapCdb, decodeUnmapList, encodeUnmapList, decodeGetLbaStatusCdb,
  encodeGetLbaStatusCdb, decodeLbaStatus, encodeLbaStatus, decodeStartStopCdb, encodeStartStopCdb, decodeBlockLimitsVpd, encodeBlockLimitsVpd,
  decodeBlockDeviceCharacteristicsVpd, encodeBlockDeviceCharacteristicsVpd, decodeLogicalBlockProvisioningVpd, encodeLogicalBlockProvisioningVpd,
  type BlockCdbInput,
} from '../../src/scsi/sbc.js';
import {
  decodeReadCapacity10, encodeReadCapacity10, decodeReadCapacity16, encodeReadCapacity16, decodeReadCapacity16Cdb, encodeReadCapacity16Cdb,
} from '../../src/scsi/read-capacity.js';

const vectors = JSON.parse(readFileSync(new URL('../../fixtures/vectors/sbc.json', import.meta.url), 'utf8')) as Record<string, { hex: string }>;
const hex = (name: string) => Buffer.from(vectors[name]!.hex.replace(/\s+/g, ''), 'hex');

describe('SBC LBA-range CDBs', () => {
  const cases: Array<[string, BlockCdbInput]> = [
    ['read10-dpo-fua', { opcode: SbcOp.READ_10, lba: 0x12345678, count: 8, dpo: true, fua: true, group: 3 }],
    ['write16-fua', { opcode: SbcOp.WRITE_16, lba: 2 ** 32, count: 256, fua: true }],
    ['read6-256', { opcode: SbcOp.READ_6, lba: 0x1fffff, count: 256 }],
    ['read12', { opcode: SbcOp.READ_12, lba: 0x10, count: 0x20000 }],
    ['verify16-bytchk', { opcode: SbcOp.VERIFY_16, lba: 7, count: 2, dpo: true, bytchk: 1 }],
    ['writesame16-unmap-ndob', { opcode: SbcOp.WRITE_SAME_16, lba: 0x100, count: 8, unmap: true, ndob: true }],
    ['writesame10-anchor-unmap', { opcode: SbcOp.WRITE_SAME_10, lba: 0, count: 1, anchor: true, unmap: true }],
    ['synccache10-immed', { opcode: SbcOp.SYNCHRONIZE_CACHE_10, lba: 0, count: 0, immed: true }],
    ['compare-and-write', { opcode: SbcOp.COMPARE_AND_WRITE, lba: 7, count: 1, fua: true }],
  ];
  it.each(cases)('%s both ways', (name, v) => {
    expect(encodeBlockCdb(v).toString('hex')).toBe(hex(name).toString('hex'));
    expect(decodeBlockCdb(hex(name))).toMatchObject({ protect: 0, group: 0, ...v });
  });
  it('decodes a 16-byte LBA of all ones beyond 2^53 as a huge number', () => {
    const b = Buffer.from('88' + '00' + 'ff'.repeat(8) + '00000001' + '0000', 'hex');
    expect(decodeBlockCdb(b).lba).toBeGreaterThan(2 ** 63);
  });
});

describe('UNMAP and GET LBA STATUS', () => {
  it('UNMAP CDB and list both ways', () => {
    expect(encodeUnmapCdb({ parameterListLength: 24 }).equals(hex('unmap-cdb'))).toBe(true);
    expect(decodeUnmapCdb(hex('unmap-cdb'))).toEqual({ anchor: false, group: 0, parameterListLength: 24 });
    expect(encodeUnmapList([{ lba: 2, count: 3 }]).equals(hex('unmap-list-one'))).toBe(true);
    expect(decodeUnmapList(hex('unmap-list-one'))).toEqual({ dataLength: 22, blockDescriptorDataLength: 16, descriptors: [{ lba: 2, count: 3 }] });
  });
  it('GET LBA STATUS CDB and data both ways', () => {
    expect(encodeGetLbaStatusCdb({ lba: 9, allocationLength: 24 }).equals(hex('get-lba-status-cdb'))).toBe(true);
    expect(decodeGetLbaStatusCdb(hex('get-lba-status-cdb'))).toEqual({ lba: 9, allocationLength: 24 });
    const ds = [{ lba: 0, count: 8, status: 0 }, { lba: 8, count: 2040, status: 1 }];
    expect(encodeLbaStatus(ds).equals(hex('lba-status-two'))).toBe(true);
    expect(decodeLbaStatus(hex('lba-status-two'))).toEqual(ds);
  });
  it('START STOP UNIT both ways', () => {
    expect(encodeStartStopCdb({ immed: true, loej: true }).equals(hex('start-stop-eject'))).toBe(true);
    expect(decodeStartStopCdb(hex('start-stop-eject'))).toEqual({ immed: true, powerConditionModifier: 0, powerCondition: 0, noFlush: false, loej: true, start: false });
  });
});

describe('READ CAPACITY', () => {
  it('(10) data both ways', () => {
    expect(encodeReadCapacity10({ lastLba: 0x7ff, blockLength: 512 }).equals(hex('read-capacity10-data'))).toBe(true);
    expect(decodeReadCapacity10(hex('read-capacity10-data'))).toEqual({ lastLba: 0x7ff, blockLength: 512 });
    expect(encodeReadCapacity10({ lastLba: 2 ** 33, blockLength: 512 }).readUInt32BE(0)).toBe(0xffffffff);
  });
  it('(16) CDB and data both ways', () => {
    expect(encodeReadCapacity16Cdb({ allocationLength: 32 }).equals(hex('read-capacity16-cdb'))).toBe(true);
    expect(decodeReadCapacity16Cdb(hex('read-capacity16-cdb'))).toEqual({ lba: 0, allocationLength: 32, pmi: false });
    const v = { lastLba: 0x7ff, blockLength: 512, lbppbe: 3, lbpme: true, lbprz: true };
    expect(encodeReadCapacity16(v).equals(hex('read-capacity16-data'))).toBe(true);
    expect(decodeReadCapacity16(hex('read-capacity16-data'))).toEqual({ ...v, pType: 0, protEn: false, pIExponent: 0, lowestAlignedLba: 0 });
    expect(decodeReadCapacity16(hex('read-capacity16-data').subarray(0, 12))).toMatchObject({ lastLba: 0x7ff, blockLength: 512, lbpme: false });
  });
});

describe('block device VPD pages', () => {
  it('B0h both ways', () => {
    const v = {
      wsnz: false, maximumCompareAndWriteLength: 0, optimalTransferLengthGranularity: 8, maximumTransferLength: 32768, optimalTransferLength: 2048,
      maximumPrefetchLength: 0, maximumUnmapLbaCount: 0xffffffff, maximumUnmapBlockDescriptorCount: 256, optimalUnmapGranularity: 8, ugavalid: true,
      unmapGranularityAlignment: 0, maximumWriteSameLength: 65536,
    };
    expect(encodeBlockLimitsVpd(v).toString('hex')).toBe(hex('vpd-b0').toString('hex'));
    expect(decodeBlockLimitsVpd(hex('vpd-b0'))).toEqual(v);
  });
  it('B1h both ways', () => {
    const v = { mediumRotationRate: 1, productType: 0, wabereq: 0, wacereq: 0, nominalFormFactor: 0, fuab: true, vbuls: false };
    expect(encodeBlockDeviceCharacteristicsVpd(v).equals(hex('vpd-b1'))).toBe(true);
    expect(decodeBlockDeviceCharacteristicsVpd(hex('vpd-b1'))).toEqual(v);
  });
  it('B2h both ways', () => {
    const v = { thresholdExponent: 0, lbpu: true, lbpws: true, lbpws10: true, lbprz: true, ancSup: false, dp: false, provisioningType: 2 };
    expect(encodeLogicalBlockProvisioningVpd(v).equals(hex('vpd-b2'))).toBe(true);
    expect(decodeLogicalBlockProvisioningVpd(hex('vpd-b2'))).toEqual(v);
  });
});
