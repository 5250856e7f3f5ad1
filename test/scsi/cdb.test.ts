import { describe, expect, it } from 'vitest';
import { allocationLengthOf, cdbLengthOf, decodeRwCdb, encodeRwCdb, rwFlags, transferBlocks, type RwCdb } from '../../src/scsi/cdb.js';
import { loadVectors } from './vectors.js';

const V = loadVectors<{ hex: string; v: RwCdb }>('cdb.json');

describe('READ/WRITE-style CDBs', () => {
  for (const name of ['read10-fua', 'read6-max-lba-len0', 'read12-group3', 'write16-above-4g']) {
    it(`${name} both ways`, () => {
      const { v } = V.get(name);
      expect(encodeRwCdb(v).toString('hex')).toBe(V.hex(name).toString('hex'));
      expect(decodeRwCdb(V.hex(name))).toEqual(v);
    });
  }
  it('6-byte transfer length 0 is 256 blocks; 10-byte 0 is 0', () => {
    expect(transferBlocks(decodeRwCdb(V.hex('read6-max-lba-len0')))).toBe(256);
    expect(transferBlocks({ ...V.get('read10-fua').v, transferLength: 0 })).toBe(0);
  });
  it('flag bits', () => {
    expect(rwFlags(0x08)).toEqual({ protect: 0, dpo: false, fua: true, fuaNv: false });
    expect(rwFlags(0x70 | 0x10)).toMatchObject({ protect: 3, dpo: true });
  });
  it('refuses values a form cannot carry', () => {
    expect(() => encodeRwCdb({ opcode: 0x08, lba: 0x200000, transferLength: 1 })).toThrow(RangeError);
    expect(() => encodeRwCdb({ opcode: 0x28, lba: 0, transferLength: 0x10000 })).toThrow(RangeError);
  });
});

describe('CDB forms', () => {
  it('length by opcode group', () => {
    expect([0x00, 0x28, 0x5a, 0x7f, 0x88, 0xa0, 0xc0].map(cdbLengthOf)).toEqual([6, 10, 10, undefined, 16, 12, undefined]);
  });
  it('allocation length by form (INQUIRY uses bytes 3..4)', () => {
    expect(allocationLengthOf(Buffer.from('1201830123 00'.replace(/ /g, ''), 'hex'))).toBe(0x0123);
    expect(allocationLengthOf(Buffer.from('030000001200', 'hex'))).toBe(0x12);
    expect(allocationLengthOf(Buffer.from('5a003f00000000100000', 'hex'))).toBe(0x1000);
    expect(allocationLengthOf(Buffer.from('a0000000000000010000 0000'.replace(/ /g, ''), 'hex'))).toBe(0x10000);
    expect(allocationLengthOf(Buffer.from('9e10000000000000000000000020 0000'.replace(/ /g, ''), 'hex'))).toBe(0x20);
    expect(allocationLengthOf(Buffer.from('12', 'hex'))).toBeUndefined();
  });
});
