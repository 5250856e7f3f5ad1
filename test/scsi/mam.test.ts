import { describe, expect, it } from 'vitest';
import * as M from '../../src/scsi/mam.js';
import * as T from '../../src/scsi/tape.js';

describe('MAM codec (READ/WRITE ATTRIBUTE)', () => {
  it('CDBs: field positions of smc.md §5.4', () => {
    expect(M.encodeReadAttributeCdb({ serviceAction: 1, volume: 2, partition: 3, firstAttribute: 0x0800, allocationLength: 0x1234, cache: true }).toString('hex')).toBe('8c01000000020003' + '0800' + '00001234' + '0100');
    expect(M.decodeReadAttributeCdb(Buffer.from('8c0100000002000308000000123401' + '00', 'hex'))).toEqual({ serviceAction: 1, volume: 2, partition: 3, firstAttribute: 0x0800, allocationLength: 0x1234, cache: true });
    expect(M.encodeWriteAttributeCdb({ wtc: true, parameterListLength: 0x40 }).toString('hex')).toBe('8d01000000000000' + '0000' + '00000040' + '0000');
  });

  it('attributes: 5-byte header (id, READ ONLY + FORMAT, length) then the value; list round trip with offsets', () => {
    const list = M.encodeWriteAttributeList([{ id: 0x0800, readOnly: false, format: 1, value: Buffer.from('DMSIM   ') }, { id: 0x0401, readOnly: true, format: 1, value: Buffer.from('S') }]);
    expect(list.toString('hex')).toBe('00000013' + '0800010008' + Buffer.from('DMSIM   ').toString('hex') + '0401810001' + '53');
    const back = M.decodeAttributes(list.subarray(4), 4);
    expect(back.map((a) => [a.id, a.readOnly, a.format, a.offset])).toEqual([[0x0800, false, 1, 4], [0x0401, true, 1, 17]]);
    expect(() => M.decodeAttributes(Buffer.from('0800010008414243', 'hex'), 4)).toThrow(M.AttributeListError);
  });

  it('SA 00h answer: AVAILABLE DATA counts all, whole attributes only up to the allocation length', () => {
    const attrs = [{ id: 1, readOnly: true, format: 0, value: Buffer.alloc(8) }, { id: 3, readOnly: true, format: 0, value: Buffer.alloc(8) }];
    const b = M.encodeAttributeValues(attrs, 4 + 13 + 5);
    expect(b.readUInt32BE(0)).toBe(26);
    expect(b.length).toBe(4 + 13);
    expect(M.decodeAttributeValues(M.encodeAttributeValues(attrs, 100)).attributes.map((a) => a.id)).toEqual([1, 3]);
  });

  it('values: ASCII space-padded, TEXT NUL-padded, binary big-endian at the catalogue length', () => {
    expect(M.attributeValue(M.attributeDef(0x0800)!, 'AB').toString('hex')).toBe('4142202020202020');
    expect(M.attributeValue(M.attributeDef(0x0808)!, 'p').subarray(0, 3).toString('hex')).toBe('700000');
    expect(M.attributeValue(M.attributeDef(0x0003)!, 258).toString('hex')).toBe('0000000000000102');
    expect(M.attributeDef(0x1500)).toMatchObject({ readOnly: false });
    expect(M.attributeDef(0x0900)).toBeUndefined();
  });
});

describe('16-byte tape CDBs, LOG SELECT, READ MEDIA SERIAL NUMBER', () => {
  it('READ(16)/WRITE(16)/WRITE FILEMARKS(16): flags, partition byte 3, LOI 4–11, length 12–14', () => {
    expect(T.encodeRead16({ sili: true, fixed: true, partition: 1, logicalId: 0x0102030405, transferLength: 0x0a0b0c }).toString('hex')).toBe('88030001' + '0000000102030405' + '0a0b0c' + '00');
    expect(T.decodeReadWrite16(T.encodeWrite16({ fcs: true, lcs: true, logicalId: 7, transferLength: 9 }))).toEqual({ fixed: false, sili: false, fcs: true, lcs: true, partition: 0, logicalId: 7, transferLength: 9 });
    expect(T.encodeWriteFilemarks16({ immed: true, logicalId: 2, count: 3 }).toString('hex')).toBe('80010000' + '0000000000000002' + '000003' + '00');
  });

  it('LOG SELECT PCR/SP/PC and list length; media serial response padded to a multiple of 4', () => {
    expect(T.encodeLogSelectCdb({ pcr: true, pc: 3 }).toString('hex')).toBe('4c02c000000000000000');
    expect(T.decodeLogSelectCdb(Buffer.from('4c014c0000000000080000'.slice(0, 20), 'hex'))).toMatchObject({ sp: true, pcr: false, pc: 1, pageCode: 0x0c, parameterListLength: 8 });
    expect(T.encodeMediaSerial('ABCDE').toString('hex')).toBe('00000008' + '4142434445202020');
    expect(T.decodeMediaSerial(T.encodeMediaSerial('ABCDE'))).toBe('ABCDE   ');
    expect(T.encodeReadMediaSerialCdb(0x20).toString('hex')).toBe('ab01000000000000002000' + '00');
  });
});
