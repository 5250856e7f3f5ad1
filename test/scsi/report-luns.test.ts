import { describe, expect, it } from 'vitest';
import {
  checkReportLunsCdb,
  decodeLun,
  decodeReportLunsCdb,
  decodeReportLunsData,
  encodeLun,
  encodeReportLunsCdb,
  encodeReportLunsData,
  selectLuns,
} from '../../src/scsi/report-luns.js';
import { ScsiError } from '../../src/scsi/sense.js';
import { loadVectors } from './vectors.js';

const V = loadVectors<{ hex: string; lun?: number; luns?: number[]; selectReport?: number; allocationLength?: number }>('report-luns.json');

describe('SAM LUN field', () => {
  for (const name of ['lun-0-peripheral', 'lun-5-peripheral', 'lun-300-flat', 'lun-16383-flat', 'wlun-report-luns']) {
    it(`${name} both ways`, () => {
      const lun = V.get(name).lun!;
      expect(encodeLun(lun).toString('hex')).toBe(V.hex(name).toString('hex'));
      expect(decodeLun(V.hex(name))).toBe(lun);
    });
  }
  it('refuses forms dmsim does not address', () => {
    expect(decodeLun(Buffer.from('0105000000000000', 'hex'))).toBeUndefined(); // peripheral, bus 1
    expect(decodeLun(Buffer.from('0001000100000000', 'hex'))).toBeUndefined(); // second level
    expect(decodeLun(Buffer.from('8001000000000000', 'hex'))).toBeUndefined(); // logical unit addressing
    expect(() => encodeLun(0x4000)).toThrow(RangeError);
  });
});

describe('REPORT LUNS data and CDB', () => {
  it('encodes and decodes the LUN list', () => {
    const v = V.get('data-0-1-wlun');
    expect(encodeReportLunsData(v.luns!).toString('hex')).toBe(V.hex('data-0-1-wlun').toString('hex'));
    expect(decodeReportLunsData(V.hex('data-0-1-wlun'))).toEqual({ listLength: 24, luns: v.luns });
  });
  it('decodes a list truncated by the allocation length (LUN LIST LENGTH stays the full one)', () => {
    expect(decodeReportLunsData(V.hex('data-0-1-wlun').subarray(0, 16))).toEqual({ listLength: 24, luns: [0] });
  });
  it('CDB both ways', () => {
    const v = V.get('cdb-select-2-alloc-4096');
    expect(encodeReportLunsCdb({ selectReport: 2, allocationLength: 4096 }).equals(V.hex('cdb-select-2-alloc-4096'))).toBe(true);
    expect(decodeReportLunsCdb(V.hex('cdb-select-2-alloc-4096'))).toEqual({ selectReport: v.selectReport, allocationLength: v.allocationLength });
  });
  it('SELECT REPORT 00h/01h/02h', () => {
    expect(selectLuns([3, 0, 1], 0)).toEqual([0, 1, 3]);
    expect(selectLuns([3, 0, 1], 1)).toEqual([0xc101]);
    expect(selectLuns([3, 0, 1], 2)).toEqual([0, 1, 3, 0xc101]);
  });
  it('rejects bad SELECT REPORT and allocation length < 16 with field pointers', () => {
    const bad = (cdb: Buffer) => {
      try {
        checkReportLunsCdb(cdb);
      } catch (e) {
        return (e as ScsiError).sense;
      }
      throw new Error('accepted');
    };
    expect(bad(encodeReportLunsCdb({ selectReport: 3, allocationLength: 16 }))).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 2 } });
    expect(bad(encodeReportLunsCdb({ selectReport: 0, allocationLength: 15 }))).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 6 } });
    const c = encodeReportLunsCdb({ selectReport: 0, allocationLength: 16 });
    c[4] = 0x80;
    expect(bad(c)).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 4, bit: 7 } });
  });
});
