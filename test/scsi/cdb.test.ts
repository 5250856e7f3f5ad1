import { describe, expect, it } from 'vitest';
import type { CdbRequest } from '../../src/scsi/cdb.js';
import { inquiryRequest } from '../../src/scsi/inquiry.js';
import { modeSenseRequest, PageControl } from '../../src/scsi/mode.js';
import { readCapacity16Request } from '../../src/scsi/read-capacity.js';
import { rcrRequest, RcrServiceAction } from '../../src/scsi/receive-copy-results.js';
import { reportLunsRequest } from '../../src/scsi/report-luns.js';
import { decodeBlockCdb, encodeBlockCdb, read16, write16 } from '../../src/scsi/sbc.js';
import { readElementStatusRequest } from '../../src/scsi/smc.js';
import { readBlockLimitsRequest, readPositionRequest, ReadPositionForm } from '../../src/scsi/tape.js';
import { loadVectors } from './vectors.js';

/** The READ/WRITE-style vectors in their wire form: opcode, LBA, TRANSFER LENGTH as written, byte 1, GROUP. */
interface RwVector {
  hex: string;
  v: { opcode: number; lba: number; transferLength: number; flags: number; group: number };
}

const V = loadVectors<RwVector>('cdb.json');

/** The LBA-range codec's view of a vector: a 6-byte TRANSFER LENGTH of 0 is 256 blocks (SBC-3 §5.13). */
const asBlock = ({ v }: RwVector) => ({
  opcode: v.opcode,
  lba: v.lba,
  count: v.opcode >> 5 === 0 && v.transferLength === 0 ? 256 : v.transferLength,
  fua: (v.flags & 0x08) !== 0,
  group: v.group,
});

describe('READ/WRITE-style CDBs (one codec: sbc.ts on cdb.ts layouts)', () => {
  for (const name of ['read10-fua', 'read6-max-lba-len0', 'read12-group3', 'write16-above-4g']) {
    it(`${name} both ways`, () => {
      const b = asBlock(V.get(name));
      expect(encodeBlockCdb(b).toString('hex')).toBe(V.hex(name).toString('hex'));
      expect(decodeBlockCdb(V.hex(name))).toMatchObject(b);
    });
  }
  it('6-byte transfer length 0 is 256 blocks; 10-byte 0 is 0', () => {
    expect(decodeBlockCdb(V.hex('read6-max-lba-len0')).count).toBe(256);
    expect(decodeBlockCdb(Buffer.from('28000000000000000000', 'hex')).count).toBe(0);
  });
  it('flag bits', () => {
    expect(decodeBlockCdb(Buffer.from('28080000000000000100', 'hex'))).toMatchObject({ protect: 0, dpo: false, fua: true });
    expect(decodeBlockCdb(Buffer.from('28700000000000000100', 'hex'))).toMatchObject({ protect: 3, dpo: true });
  });
  it('refuses values a form cannot carry', () => {
    expect(() => encodeBlockCdb({ opcode: 0x08, lba: 0x200000, count: 1 })).toThrow(RangeError);
    expect(() => encodeBlockCdb({ opcode: 0x28, lba: 0, count: 0x10000 })).toThrow(RangeError);
  });
});

describe('CDB forms and requests', () => {
  it('CDB length by opcode group; groups without an LBA-range form are refused', () => {
    expect([0x08, 0x28, 0xa8, 0x88].map((opcode) => encodeBlockCdb({ opcode, lba: 1, count: 1 }).length)).toEqual([6, 10, 12, 16]);
    expect(() => decodeBlockCdb(Buffer.alloc(16, 0x7f))).toThrow(RangeError);
    expect(() => decodeBlockCdb(Buffer.alloc(16, 0xc0))).toThrow(RangeError);
  });
  it("a built request's length is the ALLOCATION LENGTH its CDB carries, or the data-out it moves", () => {
    const field = (r: CdbRequest, at: number, width: number) => r.cdb.readUIntBE(at, width);
    const inq = inquiryRequest({ evpd: true, pageCode: 0x83, allocationLength: 0x0123 });
    expect([inq.direction, inq.length, field(inq, 3, 2)]).toEqual(['in', 0x0123, 0x0123]);
    const ms6 = modeSenseRequest({ ten: false, dbd: false, pc: PageControl.CURRENT, pageCode: 0x3f, subpage: 0, allocationLength: 255 });
    expect([ms6.length, field(ms6, 4, 1)]).toEqual([255, 255]);
    const ms10 = modeSenseRequest({ ten: true, dbd: true, pc: PageControl.CURRENT, pageCode: 0x3f, subpage: 0, allocationLength: 0x1000 });
    expect([ms10.length, field(ms10, 7, 2)]).toEqual([0x1000, 0x1000]);
    const rl = reportLunsRequest({ selectReport: 0, allocationLength: 0x10000 });
    expect([rl.length, field(rl, 6, 4)]).toEqual([0x10000, 0x10000]);
    const rc = readCapacity16Request();
    expect([rc.length, field(rc, 10, 4)]).toEqual([32, 32]);
    const rcr = rcrRequest({ serviceAction: RcrServiceAction.COPY_STATUS, listId: 7, allocationLength: 12 });
    expect([rcr.length, field(rcr, 10, 4)]).toEqual([12, 12]);
    const pos = readPositionRequest({ serviceAction: ReadPositionForm.LONG, allocationLength: 32 });
    expect([pos.length, field(pos, 7, 2)]).toEqual([32, 32]);
    const res = readElementStatusRequest({ elementType: 2, voltag: true, allocationLength: 65535 });
    expect([res.length, field(res, 7, 3)]).toEqual([65535, 65535]);
    expect(readBlockLimitsRequest()).toMatchObject({ direction: 'in', length: 6 });
    expect(read16(10, 4, 512)).toMatchObject({ direction: 'in', length: 2048 });
    expect(write16(10, 4, 4096)).toMatchObject({ direction: 'out', length: 16384 });
  });
});
