import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  ALL_PAGES, ALL_SUBPAGES, decodeBlockDescriptor, decodeCachingPage, decodeControlPage, decodeInformationalExceptionsPage,
  decodeModeData, decodeModeSelect, decodeModeSense, decodeReadWriteErrorRecoveryPage, encodeBlockDescriptor, encodeCachingPage,
  encodeControlPage, encodeInformationalExceptionsPage, encodeModeData, encodeModeSelect, encodeModeSense,
  encodeReadWriteErrorRecoveryPage, modeSelect, modeSenseData, ModePage, ModePageSet, PageControl, splitPages, type ModePageDef,
} from '../../src/scsi/mode.js';
import { ScsiError, type SenseInfo } from '../../src/scsi/sense.js';

const vectors = JSON.parse(readFileSync(new URL('../../fixtures/vectors/mode.json', import.meta.url), 'utf8')) as Record<string, { hex: string }>;
const hex = (name: string) => Buffer.from(vectors[name]!.hex.replace(/\s+/g, ''), 'hex');

function senseOf(fn: () => unknown): SenseInfo {
  try {
    fn();
  } catch (e) {
    if (e instanceof ScsiError) return e.sense;
    throw e;
  }
  throw new Error('expected a ScsiError');
}

const controlDefault = () => encodeControlPage({ tas: true, busyTimeoutPeriod: 0xffff });
function diskPages(onControl?: (b: Buffer) => void): ModePageSet {
  const defs: ModePageDef[] = [
    { code: ModePage.READ_WRITE_ERROR_RECOVERY, defaults: encodeReadWriteErrorRecoveryPage({ awre: true, arre: true }), changeable: Buffer.alloc(12) },
    {
      code: ModePage.CACHING,
      defaults: encodeCachingPage({ wce: true, disablePrefetchTransferLength: 0xffff, maximumPrefetch: 0xffff, maximumPrefetchCeiling: 0xffff }),
      changeable: encodeCachingPage({ wce: true }),
    },
    {
      code: ModePage.CONTROL,
      defaults: controlDefault(),
      changeable: encodeControlPage({ dSense: true, swp: true }),
      ...(onControl ? { apply: onControl } : {}),
    },
    { code: ModePage.CONTROL, subpage: 1, defaults: Buffer.alloc(32), changeable: Buffer.alloc(32) },
    { code: ModePage.INFORMATIONAL_EXCEPTIONS, defaults: encodeInformationalExceptionsPage({ dexcpt: true }), changeable: Buffer.alloc(12) },
  ];
  return new ModePageSet(defs);
}

describe('mode CDBs', () => {
  it('MODE SENSE(6) both ways', () => {
    const c = { ten: false, dbd: false, pc: PageControl.CURRENT, pageCode: ModePage.CONTROL, subpage: 0, allocationLength: 255 };
    expect(encodeModeSense(c).equals(hex('mode-sense6-control-current'))).toBe(true);
    expect(decodeModeSense(hex('mode-sense6-control-current'))).toEqual({ ...c, llbaa: false });
  });
  it('MODE SENSE(10) with DBD, LLBAA, PC and subpage both ways', () => {
    const c = { ten: true, dbd: true, llbaa: true, pc: PageControl.CHANGEABLE, pageCode: ALL_PAGES, subpage: ALL_SUBPAGES, allocationLength: 4096 };
    expect(encodeModeSense(c).equals(hex('mode-sense10-all-changeable-llbaa-dbd'))).toBe(true);
    expect(decodeModeSense(hex('mode-sense10-all-changeable-llbaa-dbd'))).toEqual(c);
  });
  it('MODE SELECT(6/10) both ways', () => {
    const s6 = { ten: false, pf: true, sp: false, parameterListLength: 24 };
    const s10 = { ten: true, pf: true, sp: true, parameterListLength: 256 };
    expect(encodeModeSelect(s6).equals(hex('mode-select6-pf'))).toBe(true);
    expect(encodeModeSelect(s10).equals(hex('mode-select10-pf-sp'))).toBe(true);
    expect(decodeModeSelect(hex('mode-select6-pf'))).toEqual(s6);
    expect(decodeModeSelect(hex('mode-select10-pf-sp'))).toEqual(s10);
  });
});

describe('mode pages', () => {
  it('Control page both ways', () => {
    const b = encodeControlPage({ dSense: true, swp: true, tas: true, busyTimeoutPeriod: 0xffff });
    expect(b.equals(hex('control-page-dsense-swp-tas'))).toBe(true);
    const d = decodeControlPage(hex('control-page-dsense-swp-tas'));
    expect(d).toMatchObject({ dSense: true, swp: true, tas: true, busyTimeoutPeriod: 0xffff, qerr: 0, tst: 0 });
    expect(encodeControlPage(d).equals(b)).toBe(true);
  });
  it('Caching page both ways', () => {
    const v = { wce: true, disablePrefetchTransferLength: 0xffff, maximumPrefetch: 0xffff, maximumPrefetchCeiling: 0xffff };
    expect(encodeCachingPage(v).equals(hex('caching-page-wce'))).toBe(true);
    expect(decodeCachingPage(hex('caching-page-wce'))).toMatchObject({ ...v, rcd: false, minimumPrefetch: 0 });
  });
  it('Read-Write Error Recovery page both ways', () => {
    expect(encodeReadWriteErrorRecoveryPage({ awre: true, arre: true }).equals(hex('rwer-page-awre-arre'))).toBe(true);
    expect(decodeReadWriteErrorRecoveryPage(hex('rwer-page-awre-arre'))).toMatchObject({ awre: true, arre: true, dcr: false, readRetryCount: 0 });
  });
  it('Informational Exceptions page both ways', () => {
    expect(encodeInformationalExceptionsPage({ dexcpt: true }).equals(hex('iec-page-dexcpt'))).toBe(true);
    expect(decodeInformationalExceptionsPage(hex('iec-page-dexcpt'))).toMatchObject({ dexcpt: true, mrie: 0, perf: false });
  });
  it('SPC general short block descriptor (tape) both ways', () => {
    const d = { densityCode: 0x42, blocks: 0, blockLength: 65536 };
    expect(encodeBlockDescriptor(d, 'general').equals(hex('general-block-descriptor-tape'))).toBe(true);
    expect(decodeBlockDescriptor(hex('general-block-descriptor-tape'), 'general')).toEqual(d);
  });
  it('SBC short descriptor saturates the block count at FFFFFFFFh', () => {
    const b = encodeBlockDescriptor({ densityCode: 0, blocks: 2 ** 33, blockLength: 512 }, 'direct');
    expect(b.toString('hex')).toBe('ffffffff00000200');
  });
});

describe('mode parameter data', () => {
  it('MODE SENSE(6) disk data both ways', () => {
    const b = encodeModeData({
      ten: false, deviceSpecific: 0x10, descriptorForm: 'direct',
      descriptors: [{ densityCode: 0, blocks: 2048, blockLength: 512 }],
      pages: [hex('control-page-dsense-swp-tas')],
    });
    expect(b.equals(hex('mode-sense6-disk-data'))).toBe(true);
    const d = decodeModeData(b, false, 'direct');
    expect(d.header).toEqual({ modeDataLength: 0x17, mediumType: 0, deviceSpecific: 0x10, longLba: false, blockDescriptorLength: 8 });
    expect(d.descriptors).toEqual([{ densityCode: 0, blocks: 2048, blockLength: 512 }]);
    expect(d.pages).toHaveLength(1);
    expect(d.pages[0]).toMatchObject({ pageCode: 0x0a, subpage: 0, spf: false, ps: false, offset: 12, pageLength: 10 });
  });
  it('MODE SENSE(10) with a long LBA descriptor both ways', () => {
    const b = encodeModeData({ ten: true, deviceSpecific: 0x10, descriptorForm: 'long', descriptors: [{ densityCode: 0, blocks: 2 ** 32, blockLength: 4096 }], pages: [] });
    expect(b.equals(hex('mode-sense10-long-lba-data'))).toBe(true);
    const d = decodeModeData(b, true, 'direct');
    expect(d.header.longLba).toBe(true);
    expect(d.descriptors).toEqual([{ densityCode: 0, blocks: 2 ** 32, blockLength: 4096 }]);
  });
  it('rejects a block descriptor length that is not a multiple of the descriptor size', () => {
    const b = Buffer.from('0000000500000000000000', 'hex');
    expect(senseOf(() => decodeModeData(b, false, 'direct'))).toMatchObject({ key: 5, asc: 0x26, ascq: 0, sks: { kind: 'field', cd: false, byte: 3 } });
  });
  it('reports a page cut short by the list end as PARAMETER LIST LENGTH ERROR', () => {
    expect(senseOf(() => splitPages(Buffer.from('0a0a0000', 'hex'), 4))).toMatchObject({ key: 5, asc: 0x1a, ascq: 0 });
    expect(senseOf(() => decodeModeData(Buffer.from('00', 'hex'), false, 'direct'))).toMatchObject({ asc: 0x1a });
  });
  it('frames sub_page format pages with a 2-byte length', () => {
    const frames = splitPages(Buffer.from('4a01000400000000', 'hex'));
    expect(frames[0]).toMatchObject({ pageCode: 0x0a, subpage: 1, spf: true, pageLength: 4 });
  });
});

describe('ModePageSet', () => {
  it('returns page_0 pages for 3Fh/00h and every page for 3Fh/FFh, in page code order', () => {
    const ps = diskPages();
    expect(ps.sense(PageControl.CURRENT, ALL_PAGES, 0).map((b) => b[0]! & 0x3f)).toEqual([0x01, 0x08, 0x0a, 0x1c]);
    expect(ps.sense(PageControl.CURRENT, ALL_PAGES, ALL_SUBPAGES).map((b) => b.subarray(0, 2).toString('hex'))).toEqual([
      '010a', '0812', '0a0a', '4a01', '1c0a',
    ]);
    expect(ps.sense(PageControl.CURRENT, ModePage.CONTROL, ALL_SUBPAGES)).toHaveLength(2);
  });
  it('returns changeable and default values', () => {
    const ps = diskPages();
    expect(ps.sense(PageControl.CHANGEABLE, ModePage.CONTROL, 0)[0]!.toString('hex')).toBe('0a0a04000800000000000000');
    expect(ps.sense(PageControl.DEFAULT, ModePage.CONTROL, 0)[0]!.equals(controlDefault())).toBe(true);
  });
  it('answers unsupported pages and subpages with INVALID FIELD IN CDB pointing at them', () => {
    const ps = diskPages();
    expect(senseOf(() => ps.sense(PageControl.CURRENT, 0x19, 0))).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 2, bit: 5 } });
    expect(senseOf(() => ps.sense(PageControl.CURRENT, ModePage.CACHING, 5))).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 3 } });
    expect(senseOf(() => ps.sense(PageControl.CURRENT, ALL_PAGES, 7))).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 3 } });
  });
  it('answers PC=saved without saveable pages with SAVING PARAMETERS NOT SUPPORTED', () => {
    expect(senseOf(() => diskPages().sense(PageControl.SAVED, ALL_PAGES, 0))).toMatchObject({ key: 5, asc: 0x39, ascq: 0, sks: { byte: 2, bit: 7 } });
  });
  it('MODE SELECT changes a changeable bit, calls apply, and MODE SENSE shows it', () => {
    let seen: Buffer | undefined;
    const ps = diskPages((b) => (seen = Buffer.from(b)));
    const list = hex('mode-select6-list-control');
    const changed = modeSelect(decodeModeSelect(encodeModeSelect({ ten: false, pf: true, sp: false, parameterListLength: list.length })), list, { pages: ps, descriptorForm: 'direct' });
    expect(changed).toEqual([{ code: 0x0a, subpage: 0 }]);
    expect(decodeControlPage(seen!).swp).toBe(true);
    expect(ps.sense(PageControl.CURRENT, ModePage.CONTROL, 0)[0]!.equals(list.subarray(4))).toBe(true);
  });
  it('refuses a change to an unchangeable bit with 26/00 and a field pointer into the list', () => {
    const ps = diskPages();
    const list = Buffer.concat([Buffer.alloc(4), encodeControlPage({ tas: true, busyTimeoutPeriod: 0xffff, swp: true, qerr: 1 })]);
    const s = senseOf(() => modeSelect({ ten: false, pf: true, sp: false, parameterListLength: list.length }, list, { pages: ps, descriptorForm: 'direct' }));
    expect(s).toMatchObject({ key: 5, asc: 0x26, ascq: 0, sks: { kind: 'field', cd: false, byte: 4 + 3, bit: 1 } });
    expect(decodeControlPage(ps.current(ModePage.CONTROL)).swp).toBe(false);
  });
  it('refuses a wrong page length, an unknown page, PF=0 with pages, SP without saveable pages, a medium type', () => {
    const ps = diskPages();
    const dev = { pages: ps, descriptorForm: 'direct' as const };
    const run = (l: Buffer, pf = true, sp = false) => senseOf(() => modeSelect({ ten: false, pf, sp, parameterListLength: l.length }, l, dev));
    expect(run(Buffer.from('00000000 0a08 0000000000000000'.replace(/ /g, ''), 'hex'))).toMatchObject({ asc: 0x26, sks: { cd: false, byte: 5 } });
    expect(run(Buffer.from('00000000 1902 0000'.replace(/ /g, ''), 'hex'))).toMatchObject({ asc: 0x26, sks: { cd: false, byte: 4, bit: 5 } });
    expect(run(Buffer.concat([Buffer.alloc(4), controlDefault()]), false)).toMatchObject({ asc: 0x24, sks: { cd: true, byte: 1, bit: 4 } });
    // SP=1 without saveable pages: SPC-4 MODE SELECT says INVALID FIELD IN CDB at SP (39h/00h is for MODE SENSE PC=11b).
    expect(run(Buffer.concat([Buffer.alloc(4), controlDefault()]), true, true)).toMatchObject({ key: 5, asc: 0x24, ascq: 0, sks: { cd: true, byte: 1, bit: 0 } });
    expect(run(Buffer.alloc(0), true, true)).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 1, bit: 0 } });
    expect(run(Buffer.from('00050000', 'hex'))).toMatchObject({ asc: 0x26, sks: { cd: false, byte: 1 } });
    expect(run(Buffer.from('0000000800000010 00000200'.replace(/ /g, ''), 'hex'))).toMatchObject({ asc: 0x26, sks: { cd: false, byte: 3 } });
  });
  it('a list shorter than the CDB says is PARAMETER LIST LENGTH ERROR; length 0 is a no-op', () => {
    const dev = { pages: diskPages(), descriptorForm: 'direct' as const };
    expect(senseOf(() => modeSelect({ ten: true, pf: true, sp: false, parameterListLength: 20 }, Buffer.alloc(8), dev))).toMatchObject({ asc: 0x1a });
    expect(modeSelect({ ten: true, pf: true, sp: false, parameterListLength: 0 }, undefined, dev)).toEqual([]);
  });
  it('modeSenseData builds header, descriptor and pages from the device', () => {
    const pages = diskPages();
    const b = modeSenseData(decodeModeSense(hex('mode-sense6-control-current')), {
      pages, descriptorForm: 'direct', deviceSpecific: () => 0x10, descriptors: () => [{ densityCode: 0, blocks: 2048, blockLength: 512 }],
    });
    expect(b.toString('hex')).toBe('170010080000080000000200' + controlDefault().toString('hex'));
  });
});
