import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import {
  decodeParameterList,
  decodeXcopyCdb,
  encodeParameterList,
  encodeXcopyCdb,
  encodeSegment,
  decodeSegment,
  encodeCscd,
  decodeCscd,
  SEGMENT_LAYOUTS,
  PERMISSIVE_POLICY,
  type CscdDescriptor,
  type SegmentDescriptor,
  type XcopyParameterList,
  type XcopyPolicy,
} from '../../src/scsi/xcopy.js';
import { ScsiError } from '../../src/scsi/sense.js';

interface Vector {
  cdb: string;
  list: string;
  decoded: Record<string, unknown> & { inline: string | { length: number; startsAt: number } };
}
const load = (n: string) => JSON.parse(readFileSync(new URL(`../../fixtures/vectors/xcopy/${n}.json`, import.meta.url), 'utf8')) as Vector;

/** Buffers as hex, undefined dropped: the JSON form the vectors use. */
const asJson = (x: unknown): unknown =>
  JSON.parse(JSON.stringify(x, (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' ? Buffer.from((v as { data: number[] }).data).toString('hex') : v)));

/** Turn the JSON form back into codec input. */
function fromJson(d: Vector['decoded'], list: Buffer): XcopyParameterList {
  const revive = (o: Record<string, unknown>): Record<string, unknown> => {
    const r: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      if (['value', 'lun', 'embedded', 'body', 'reservationKey', 'serviceActionKey', 'transportId'].includes(k) && typeof v === 'string') r[k] = Buffer.from(v, 'hex');
      else if (v && typeof v === 'object' && !Array.isArray(v)) r[k] = revive(v as Record<string, unknown>);
      else r[k] = v;
    }
    return r;
  };
  const inline = typeof d.inline === 'string' ? Buffer.from(d.inline, 'hex') : list.subarray(d.inline.startsAt, d.inline.startsAt + d.inline.length);
  return {
    header: d.header as XcopyParameterList['header'],
    cscds: (d.cscds as Record<string, unknown>[]).map((c) => revive(c) as unknown as CscdDescriptor),
    segments: (d.segments as Record<string, unknown>[]).map((s) => revive(s) as unknown as SegmentDescriptor),
    inline,
  };
}

const errorOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (e instanceof ScsiError) return e.sense;
    throw e;
  }
  throw new Error('no error');
};

describe('EXTENDED COPY golden vectors (extended-copy.md §11)', () => {
  for (const name of ['backup-block-to-stream', 'tar-inline-block-inline', 'restore-locate-stream-to-block']) {
    it(`${name}: decode and encode`, () => {
      const v = load(name);
      const list = Buffer.from(v.list, 'hex');
      const cdb = Buffer.from(v.cdb, 'hex');
      expect(decodeXcopyCdb(cdb)).toEqual({ serviceAction: 0, parameterListLength: list.length });
      expect(encodeXcopyCdb({ parameterListLength: list.length }).equals(cdb)).toBe(true);
      const dec = decodeParameterList(list);
      const j = asJson(dec) as Vector['decoded'];
      if (typeof v.decoded.inline !== 'string') {
        expect((j.inline as string).length / 2).toBe(v.decoded.inline.length);
        j.inline = v.decoded.inline;
      }
      expect(j).toEqual(v.decoded);
      expect(encodeParameterList(fromJson(v.decoded, list)).toString('hex')).toBe(v.list);
    });
  }

  it('11.1: the segment is 00h with STDL 65536, 2048 blocks at LBA 1000h', () => {
    const d = decodeParameterList(Buffer.from(load('backup-block-to-stream').list, 'hex'));
    expect(d.segments[0]).toMatchObject({ type: 0, src: 0, dst: 1, streamTransferLength: 65536, blocks: 2048, lba: 0x1000, offset: 0x50 });
    expect(d.cscds[1]!.params).toEqual({ kind: 'stream', pad: false, fixed: false, blockLength: 0 });
  });
});

const strictPolicy: XcopyPolicy = { ...PERMISSIVE_POLICY, maxCscdCount: 2, maxSegmentCount: 2, maxDescriptorListLength: 200, maxInlineDataLength: 64 };

describe('parameter list validation: sense and field pointers', () => {
  const good = Buffer.from(load('backup-block-to-stream').list, 'hex');
  const mutate = (f: (b: Buffer) => void, b = good) => {
    const c = Buffer.from(b);
    f(c);
    return c;
  };

  it('shorter than the header: 1A/00', () => {
    expect(errorOf(() => decodeParameterList(good.subarray(0, 15)))).toMatchObject({ key: 5, asc: 0x1a, ascq: 0 });
  });
  it('list cut inside the CSCD and inside the segment (libiscsi ParamHdr): 1A/00', () => {
    expect(errorOf(() => decodeParameterList(good.subarray(0, 47)))).toMatchObject({ asc: 0x1a });
    expect(errorOf(() => decodeParameterList(good.subarray(0, good.length - 1)))).toMatchObject({ asc: 0x1a });
  });
  it('LIST ID USAGE 01b: 26/00 at byte 1 bit 4', () => {
    expect(errorOf(() => decodeParameterList(mutate((b) => (b[1] = 0x08))))).toMatchObject({ asc: 0x26, ascq: 0, sks: { kind: 'field', cd: false, byte: 1, bit: 4 } });
  });
  it('LIST ID USAGE 11b with a non-zero list ID: 26/00 at byte 0', () => {
    expect(errorOf(() => decodeParameterList(mutate((b) => (b[1] = 0x18))))).toMatchObject({ asc: 0x26, sks: { byte: 0 } });
  });
  it('descriptor lists above MAXIMUM DESCRIPTOR LIST LENGTH: 1A/00 before the count checks', () => {
    const p = decodeParameterList(good);
    const big = encodeParameterList({ ...p, cscds: [...p.cscds, p.cscds[0]!, p.cscds[0]!, p.cscds[0]!, p.cscds[0]!, p.cscds[0]!] });
    expect(errorOf(() => decodeParameterList(big, strictPolicy))).toMatchObject({ asc: 0x1a });
  });
  it('too many CSCDs: 26/06 at the first excess descriptor', () => {
    const p = decodeParameterList(good);
    const l = encodeParameterList({ ...p, cscds: [...p.cscds, p.cscds[0]!] });
    expect(errorOf(() => decodeParameterList(l, strictPolicy))).toMatchObject({ asc: 0x26, ascq: 0x06, sks: { byte: 16 + 64 } });
  });
  it('too many segments: 26/08 at the first excess segment', () => {
    const p = decodeParameterList(good);
    const l = encodeParameterList({ ...p, segments: [p.segments[0]!, p.segments[0]!, p.segments[0]!] });
    expect(errorOf(() => decodeParameterList(l, strictPolicy))).toMatchObject({ asc: 0x26, ascq: 0x08, sks: { byte: 80 + 48 } });
  });
  it('inline data above the maximum: 26/0B at byte 12', () => {
    const p = decodeParameterList(good);
    const l = encodeParameterList({ ...p, inline: Buffer.alloc(68) });
    expect(errorOf(() => decodeParameterList(l, strictPolicy))).toMatchObject({ asc: 0x26, ascq: 0x0b, sks: { byte: 12 } });
  });
  it('CSCD list length not a multiple of 32: 26/00 at byte 2', () => {
    const l = Buffer.concat([good.subarray(0, 16), Buffer.alloc(8), good.subarray(16)]);
    l.writeUInt16BE(72, 2);
    expect(errorOf(() => decodeParameterList(l))).toMatchObject({ asc: 0x26, ascq: 0, sks: { byte: 2 } });
  });
  it('unsupported CSCD type: 26/07 at its byte 0', () => {
    expect(errorOf(() => decodeParameterList(mutate((b) => (b[48] = 0xe5))))).toMatchObject({ asc: 0x26, ascq: 0x07, sks: { byte: 48 } });
    const noE0 = { ...PERMISSIVE_POLICY, supported: new Set([0x02, 0xe4]) };
    expect(errorOf(() => decodeParameterList(mutate((b) => (b[16] = 0xe0)), noE0))).toMatchObject({ asc: 0x26, ascq: 0x07, sks: { byte: 16 } });
  });
  it('reserved PDT, LU ID TYPE on E0h, FIXED/length mismatch, designator > 20: 26/00 pointing at each', () => {
    expect(errorOf(() => decodeParameterList(mutate((b) => (b[49] = 0x02))))).toMatchObject({ asc: 0x26, sks: { byte: 49, bit: 4 } });
    expect(errorOf(() => decodeParameterList(mutate((b) => ((b[16] = 0xe0), (b[17] = 0x40)))))).toMatchObject({ asc: 0x26, sks: { byte: 17, bit: 7 } });
    expect(errorOf(() => decodeParameterList(mutate((b) => (b[76] = 0x01))))).toMatchObject({ asc: 0x26, sks: { byte: 76, bit: 0 } });
    expect(errorOf(() => decodeParameterList(mutate((b) => (b.writeUIntBE(512, 77, 3)))))).toMatchObject({ asc: 0x26, sks: { byte: 76 } });
    expect(errorOf(() => decodeParameterList(mutate((b) => (b[23] = 21))))).toMatchObject({ asc: 0x26, sks: { byte: 23 } });
  });
  it('E4h ignores LU ID TYPE (libiscsi ValidTgtDescr, SPC-4)', () => {
    expect(decodeParameterList(mutate((b) => (b[17] = 0x80))).cscds[0]!.luIdType).toBe(2);
  });
  it('unsupported segment type: 26/09 at its byte 0; wrong DESCRIPTOR LENGTH: 26/00 at byte 2', () => {
    expect(errorOf(() => decodeParameterList(mutate((b) => (b[80] = 0x17))))).toMatchObject({ asc: 0x26, ascq: 0x09, sks: { byte: 80 } });
    const only02 = { ...PERMISSIVE_POLICY, supported: new Set([0x02, 0xe4]) };
    expect(errorOf(() => decodeParameterList(good, only02))).toMatchObject({ asc: 0x26, ascq: 0x09, sks: { byte: 80 } });
    expect(errorOf(() => decodeParameterList(mutate((b) => (b[83] = 0x10))))).toMatchObject({ asc: 0x26, ascq: 0, sks: { byte: 82 } });
  });
  it('held-data segment without a held data limit, or with LIST ID USAGE 11b: 26/00 at the segment', () => {
    const p = decodeParameterList(good);
    const l = encodeParameterList({ ...p, segments: [{ ...p.segments[0]!, type: 0x0b }] });
    expect(errorOf(() => decodeParameterList(l, { ...PERMISSIVE_POLICY, heldDataLimit: 0 }))).toMatchObject({ asc: 0x26, sks: { byte: 80 } });
    const l2 = encodeParameterList({ ...p, header: { ...p.header, listId: 0, listIdUsage: 3 }, segments: [{ ...p.segments[0]!, type: 0x0f }] });
    expect(errorOf(() => decodeParameterList(l2))).toMatchObject({ asc: 0x26, sks: { byte: 80 } });
  });
  it('04h inline offset not a multiple of 4: 26/00 at descriptor byte 12', () => {
    const p = decodeParameterList(good);
    const l = encodeParameterList({ ...p, segments: [{ type: 4, dst: 1, streamTransferLength: 4, inlineOffset: 2, byteCount: 2 }], inline: Buffer.alloc(8) });
    expect(errorOf(() => decodeParameterList(l))).toMatchObject({ asc: 0x26, sks: { byte: 80 + 12 } });
  });
});

// ---------------------------------------------------------------- property: every segment type round-trips

const u = (bits: number) => fc.integer({ min: 0, max: 2 ** bits - 1 });
const segArb: fc.Arbitrary<SegmentDescriptor> = fc.constantFrom(...SEGMENT_LAYOUTS.keys()).chain((type) => {
  const l = SEGMENT_LAYOUTS.get(type)!;
  const rec: Record<string, fc.Arbitrary<unknown>> = { type: fc.constant(type) };
  for (const [name, , w] of l.nums) rec[name] = name === 'count' && type === 0x11 ? fc.integer({ min: -0x800000, max: 0x7fffff }) : name === 'code' ? u(3) : u(Math.min(8 * w, 48));
  for (const [name] of l.flags) rec[name] = fc.boolean();
  for (const [name] of l.keys ?? []) rec[name] = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((a) => Buffer.from(a));
  if (type === 0x05) {
    delete rec.byteCount;
    rec.embedded = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
  }
  if (type === 0x15) rec.transportId = fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a.subarray(0, a.length & ~3)));
  return fc.record(rec) as fc.Arbitrary<SegmentDescriptor>;
});

describe('segment codec properties', () => {
  it('encode → decode → encode is the identity for every segment type', () => {
    fc.assert(
      fc.property(segArb, (s) => {
        const b = encodeSegment(s);
        const back = decodeSegment(b);
        expect(encodeSegment(back).equals(b)).toBe(true);
        for (const [k, v] of Object.entries(s)) {
          if (k === 'byteCount' && s.type === 0x05) continue;
          expect((back as unknown as Record<string, unknown>)[k]).toEqual(v);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('E0h/E1h/E2h/E3h/E4h CSCDs round-trip', () => {
    const cs: CscdDescriptor[] = [
      { type: 0xe0, luIdType: 0, nul: false, pdt: 1, relativeInitiatorPort: 0, lun: Buffer.from('0003000000000000', 'hex'), nPortName: '500104f000000001', params: { kind: 'stream', pad: true, fixed: true, blockLength: 512 } },
      { type: 0xe1, luIdType: 0, nul: false, pdt: 0, relativeInitiatorPort: 2, lun: Buffer.alloc(8), nPortId: 0x010203, params: { kind: 'block', pad: false, blockLength: 4096 } },
      { type: 0xe2, luIdType: 0, nul: true, pdt: 0, relativeInitiatorPort: 0, lun: Buffer.alloc(8), nPortName: '21000024ff000001', nPortId: 0xabcdef, params: { kind: 'block', pad: true, blockLength: 512 } },
      { type: 0xe3, luIdType: 0, nul: false, pdt: 3, relativeInitiatorPort: 0, lun: Buffer.alloc(8), targetId: 5, vendorSpecific: 9, params: { kind: 'processor', pad: true } },
      { type: 0xe4, luIdType: 0, nul: false, pdt: 0, relativeInitiatorPort: 0, designator: { codeSet: 2, association: 0, designatorType: 1, value: Buffer.from('DMSIM   disk0') }, params: { kind: 'block', pad: false, blockLength: 512 } },
      { type: 0xe4, luIdType: 0, nul: false, pdt: 0, relativeInitiatorPort: 0, designator: { codeSet: 1, association: 0, designatorType: 2, value: Buffer.from('0011223344556677', 'hex') }, params: { kind: 'block', pad: false, blockLength: 512 } },
    ];
    for (const c of cs) {
      const b = encodeCscd(c);
      expect(b.length).toBe(32);
      const back = decodeCscd(b);
      expect(back).toEqual({ ...c, offset: 0 });
    }
    expect(encodeCscd(cs[0]!).subarray(0, 20).toString('hex')).toBe('e0010000' + '0003000000000000' + '500104f000000001');
    expect(encodeCscd(cs[1]!).subarray(25, 28).toString('hex')).toBe('010203');
  });
});
