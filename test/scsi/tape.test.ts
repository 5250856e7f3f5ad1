import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as T from '../../src/scsi/tape.js';
import { SUPPORTED_DENSITIES } from '../../firmware-sim/devices/tape/drive.js';

const vectors = JSON.parse(readFileSync(new URL('../../fixtures/vectors/tape.json', import.meta.url), 'utf8')) as Record<string, string>;
const hex = (name: string) => {
  const v = vectors[name];
  if (!v) throw new Error(`no vector ${name}`);
  return Buffer.from(v, 'hex');
};

/** Encoding gives the vector's bytes, and decoding the vector gives the value back. */
function both<V>(name: string, value: V, encode: (v: V) => Buffer, decode: (b: Buffer) => unknown, expected: unknown = value) {
  expect(encode(value).toString('hex')).toBe(hex(name).toString('hex'));
  expect(decode(hex(name))).toMatchObject(expected as object);
}

const pos = (p: Partial<T.TapePosition>): T.TapePosition => ({
  bop: false, eop: false, locationUnknown: false, bpew: false, partition: 0, firstObject: 0, lastObject: 0, fileId: 0, objectsInBuffer: 0, bytesInBuffer: 0, ...p,
});

describe('tape CDBs', () => {
  it('READ(6) / WRITE(6)', () => {
    both('read6-fixed-16-blocks', { fixed: true, sili: false, transferLength: 16 }, T.encodeRead6, T.decodeReadWrite6);
    both('read6-variable-sili-256k', { fixed: false, sili: true, transferLength: 0x40000 }, T.encodeRead6, T.decodeReadWrite6);
    both('write6-variable-64k', { fixed: false, transferLength: 65536 }, T.encodeWrite6, T.decodeReadWrite6, { fixed: false, sili: false, transferLength: 65536 });
  });

  it('WRITE FILEMARKS(6), SPACE(6)/(16) with signed counts', () => {
    both('write-filemarks6-immed-2', { immed: true, wsmk: false, count: 2 }, T.encodeWriteFilemarks6, T.decodeWriteFilemarks6);
    both('space6-filemarks-minus-1', { code: T.SpaceCode.FILEMARKS, count: -1 }, T.encodeSpace6, T.decodeSpace6);
    both('space16-blocks-minus-3', { code: T.SpaceCode.BLOCKS, count: -3 }, T.encodeSpace16, T.decodeSpace16);
    expect(() => T.encodeSpace6({ code: 0, count: 0x800000 })).toThrow(RangeError);
    expect(T.decodeSpace6(T.encodeSpace6({ code: 0, count: -0x800000 })).count).toBe(-0x800000);
  });

  it('LOCATE(10)/(16), READ POSITION, LOAD UNLOAD', () => {
    both('locate10-bt-cp-object-12345678', { bt: true, cp: true, logicalId: 0x12345678, partition: 0 }, T.encodeLocate10, T.decodeLocate10, {
      bt: true, cp: true, immed: false, logicalId: 0x12345678, partition: 0, destType: 0,
    });
    both('locate16-file-5', { destType: T.LocateDestType.FILE, logicalId: 5 }, T.encodeLocate16, T.decodeLocate16, { destType: 1, logicalId: 5, cp: false, bam: false });
    both('read-position-long-cdb', { serviceAction: 6, allocationLength: 0 }, T.encodeReadPositionCdb, T.decodeReadPositionCdb);
    both('load-unload-hold-unload', { hold: true }, T.encodeLoadUnload, T.decodeLoadUnload, { hold: true, load: false, eot: false, reten: false, immed: false });
  });
});

describe('tape responses', () => {
  it('READ POSITION short, long, extended', () => {
    both('position-short-bop', pos({ bop: true }), T.encodePositionShort, T.decodePositionShort, { bop: true, perr: false, firstObject: 0 });
    both('position-short-eop-0x100', pos({ eop: true, firstObject: 0x100, lastObject: 0x100 }), T.encodePositionShort, T.decodePositionShort, { eop: true, firstObject: 0x100 });
    both('position-long-obj7-file2', pos({ firstObject: 7, lastObject: 7, fileId: 2 }), T.encodePositionLong, T.decodePositionLong, { firstObject: 7, fileId: 2, locationUnknown: false });
    both('position-extended-obj9', pos({ firstObject: 9, lastObject: 9 }), T.encodePositionExtended, T.decodePositionExtended, { firstObject: 9, lastObject: 9 });
    // Identifiers past 32 bits set PERR in the short form.
    const big = T.decodePositionShort(T.encodePositionShort(pos({ firstObject: 2 ** 33, lastObject: 2 ** 33 })));
    expect(big).toMatchObject({ perr: true, firstObject: 0xffffffff });
  });

  it('READ BLOCK LIMITS and the MLOI form', () => {
    both('block-limits-256k', { granularity: 0, maxBlockLength: 0x40000, minBlockLength: 1 }, (v) => T.encodeBlockLimits(v), (b) => T.decodeBlockLimits(b));
    both('block-limits-mloi-0x40000', { granularity: 0, maxBlockLength: 0, minBlockLength: 0, maxLogicalObjectId: 0x40000 }, (v) => T.encodeBlockLimits(v, true), (b) => T.decodeBlockLimits(b, true));
  });

  it('REPORT DENSITY SUPPORT descriptor', () => {
    const lto4 = SUPPORTED_DENSITIES.find((d) => d.primaryCode === 0x46)!;
    both('density-report-lto4', [lto4], T.encodeDensityReport, T.decodeDensityReport, [lto4]);
    expect(T.decodeDensityReport(hex('density-report-lto4'))).toEqual([lto4]);
  });

  it('LOG SENSE CDB, a log page with one parameter, supported pages', () => {
    both('log-sense-cdb-0c-cumulative', { sp: false, pc: 1, pageCode: 0x0c, subpage: 0, parameterPointer: 0, allocationLength: 0xffff }, T.encodeLogSenseCdb, T.decodeLogSenseCdb);
    const value = Buffer.from('0000000000001000', 'hex');
    both('log-page-0c-one-counter', [{ code: 0, control: 0, value }], (ps) => T.encodeLogPage(0x0c, ps), T.decodeLogPage, { pageCode: 0x0c, subpage: 0, params: [{ code: 0, control: 0, value }] });
    both('log-page-00-supported', [0x00, 0x0c, 0x2e], T.encodeSupportedLogPages, T.decodeSupportedLogPages);
  });

  it('mode pages 0Fh, 10h, 11h and the device-specific byte', () => {
    const dc = { dce: true, dcc: true, dde: true, red: 0, compressionAlgorithm: 1, decompressionAlgorithm: 1 };
    both('page-0f-dce-dcc-dde', dc, (v) => T.encodeDataCompressionPage(v), T.decodeDataCompressionPage);
    const cfg = { activePartition: 0, writeBufferFullRatio: 0x80, readBufferEmptyRatio: 0x80, writeDelayTime: 0x64, byte8: 0x40, gapSize: 0, byte10: 0x18, bufferSizeAtEw: 0, selectCompression: 0, byte15: 0 };
    both('page-10-defaults', cfg, (v) => T.encodeDeviceConfigurationPage(v), T.decodeDeviceConfigurationPage);
    const mp = { maxAdditionalPartitions: 0, additionalPartitionsDefined: 0, flags: 0, mediumFormatRecognition: 3, partitionUnits: 0, partitionSizes: [0] };
    both('page-11-single-partition', mp, T.encodeMediumPartitionPage, T.decodeMediumPartitionPage);
    expect(T.encodeTapeDeviceSpecific({ wp: true, bufferedMode: 1, speed: 0 })).toBe(0x90);
    expect(T.decodeTapeDeviceSpecific(0x90)).toEqual({ wp: true, bufferedMode: 1, speed: 0 });
  });
});
