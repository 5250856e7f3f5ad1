import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeBhs, encodeBhs, Opcode, PduParser, serializePduToBuffer, decodeSamLun, encodeSamLun, parseAhs, extendedCdbAhs, type Bhs, type BhsInput, type ParsedPdu } from '../../../src/iscsi/pdu/index.js';
import { decodeText, encodeText } from '../../../src/iscsi/text.js';

interface Vector {
  name: string;
  hex: string;
  bhs: Record<string, unknown>;
  text?: Array<[string, string]>;
  data?: string;
}
const vectors = JSON.parse(readFileSync(new URL('../../../fixtures/vectors/iscsi/pdus.json', import.meta.url), 'utf8')) as Vector[];

const fromJson = (o: Record<string, unknown>): BhsInput<Bhs> =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, ['lun', 'isid', 'cdb'].includes(k) ? Buffer.from(v as string, 'hex') : v])) as unknown as BhsInput<Bhs>;
const toJson = (o: object) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('hex') : v]));

describe('golden PDU vectors', () => {
  for (const v of vectors) {
    it(`${v.name}: decode`, () => {
      const b = Buffer.from(v.hex, 'hex');
      expect(toJson(decodeBhs(b.subarray(0, 48)))).toEqual(v.bhs);
      const dsl = v.bhs.dataSegmentLength as number;
      const data = b.subarray(48, 48 + dsl);
      if (v.text) expect(decodeText(data)).toEqual(v.text);
      if (v.data) expect(data.toString('hex')).toBe(v.data);
    });
    it(`${v.name}: encode`, () => {
      const data = v.text ? encodeText(v.text) : v.data ? Buffer.from(v.data, 'hex') : undefined;
      const bhs = encodeBhs(fromJson(v.bhs));
      // Header-only vectors (data not reproduced) keep their DataSegmentLength.
      if (v.hex.length === 96 && (v.bhs.dataSegmentLength as number) > 0) expect(bhs.toString('hex')).toBe(v.hex);
      else expect(serializePduToBuffer(bhs, data).toString('hex')).toBe(v.hex);
    });
  }
});

describe('PduParser', () => {
  // Only complete PDUs (header-only vectors would break framing).
  const pdus = vectors.map((v) => Buffer.from(v.hex, 'hex')).filter((b) => b.length >= 48 + ((b.readUIntBE(5, 3) + 3) & ~3));
  const stream = Buffer.concat(pdus);

  function parseAll(chunks: Buffer[], setup?: (p: PduParser) => void): ParsedPdu[] {
    const got: ParsedPdu[] = [];
    const p = new PduParser({ pdu: (x) => got.push({ ...x, bhs: Buffer.from(x.bhs), data: Buffer.from(x.data) }), error: (e) => { throw e; } });
    p.maxDataSegmentLength = 1 << 20;
    setup?.(p);
    for (const c of chunks) p.push(c);
    return got;
  }

  it('splits a stream delivered in one chunk', () => {
    const got = parseAll([stream]);
    expect(got).toHaveLength(pdus.length);
    got.forEach((g, i) => expect(Buffer.concat([g.bhs, g.data]).toString('hex')).toBe(pdus[i]!.subarray(0, 48 + g.data.length).toString('hex')));
  });

  it('gives the same result for every chunk size', () => {
    const whole = parseAll([stream]).map((g) => g.bhs.toString('hex') + g.data.toString('hex'));
    for (const size of [1, 3, 7, 47, 48, 49, 100, 333]) {
      const chunks: Buffer[] = [];
      for (let o = 0; o < stream.length; o += size) chunks.push(stream.subarray(o, o + size));
      expect(parseAll(chunks).map((g) => g.bhs.toString('hex') + g.data.toString('hex'))).toEqual(whole);
    }
  });

  it('returns views, not copies, when a PDU lies within one chunk', () => {
    const p = new PduParser({ pdu: (x) => { expect(x.bhs.buffer).toBe(stream.buffer); if (x.data.length) expect(x.data.buffer).toBe(stream.buffer); }, error: () => {} });
    p.maxDataSegmentLength = 1 << 20;
    p.push(stream);
  });

  it('copies a data segment straight into the dataSink buffer', () => {
    const target = Buffer.alloc(8);
    const p = new PduParser({ pdu: () => {}, error: () => {}, dataSink: (bhs, len) => (bhs[0] === 0 ? target.subarray(0, len) : undefined) });
    const nop = Buffer.from(vectors.find((v) => v.name === 'nop-out-ping')!.hex, 'hex');
    for (const b of nop) p.push(Buffer.from([b]));
    expect(target.toString()).toBe('nopping\0');
  });

  it('checks header and data digests and skips over-long segments', () => {
    const bhs = encodeBhs({ opcode: Opcode.NOP_OUT, final: true, itt: 1, ttt: 0xffffffff });
    const data = Buffer.from('hello');
    const wire = serializePduToBuffer(bhs, data, undefined, { headerDigest: true, dataDigest: true });
    expect(wire.length).toBe(48 + 4 + 8 + 4);
    let got = parseAll([wire], (p) => { p.headerDigest = true; p.dataDigest = true; });
    expect(got[0]!.data.toString()).toBe('hello');
    expect(got[0]!.dataDigestError).toBe(false);
    const badData = Buffer.from(wire);
    badData[48 + 4] ^= 1;
    got = parseAll([badData], (p) => { p.headerDigest = true; p.dataDigest = true; });
    expect(got[0]!.dataDigestError).toBe(true);
    const badHead = Buffer.from(wire);
    badHead[20] ^= 1;
    const errors: string[] = [];
    const p = new PduParser({ pdu: () => errors.push('pdu'), error: (e) => errors.push(e.kind) });
    p.headerDigest = true;
    p.push(badHead);
    expect(errors).toEqual(['header-digest']);
    const big = serializePduToBuffer(encodeBhs({ opcode: Opcode.NOP_OUT, itt: 2 }), Buffer.alloc(10000, 1));
    got = parseAll([big, wire.subarray(0, 0)], (q) => { q.maxDataSegmentLength = 8192; });
    expect(got[0]!.oversize).toBe(true);
    expect(got[0]!.data.length).toBe(0);
  });

  it('delivers AHS separately from the BHS', () => {
    const cdb = Buffer.alloc(32, 0x11);
    cdb[0] = 0x7f;
    const ahs = extendedCdbAhs(cdb);
    const bhs = encodeBhs({ opcode: Opcode.SCSI_COMMAND, final: true, read: true, itt: 9, cdb: cdb.subarray(0, 16) });
    const got = parseAll([serializePduToBuffer(bhs, undefined, ahs)]);
    expect(got[0]!.bhs[4]).toBe(ahs.length / 4);
    const parsed = parseAhs(got[0]!.ahs!);
    expect(Buffer.concat([cdb.subarray(0, 16), parsed.extendedCdb!]).equals(cdb)).toBe(true);
  });
});

describe('SAM LUN', () => {
  it('round-trips peripheral, flat and well-known forms', () => {
    for (const [lun, hex] of [[0, '0000000000000000'], [5, '0005000000000000'], [255, '00ff000000000000'], [256, '4100000000000000'], [16383, '7fff000000000000'], [0xc101, 'c101000000000000']] as const) {
      expect(encodeSamLun(lun).toString('hex')).toBe(hex);
      expect(decodeSamLun(Buffer.from(hex, 'hex'))).toBe(lun);
    }
    expect(decodeSamLun(Buffer.from('0105000000000000', 'hex'))).toBeUndefined();
  });
});
