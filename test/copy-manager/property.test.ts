/**
 * Property tests: random valid parameter lists copy exactly what a byte-level reference model of
 * extended-copy.md §6 says (tape records, disk image, COPY ABORTED 26/0A where the model predicts
 * residue), and random corruptions of valid lists that the codec rejects are answered ILLEGAL
 * REQUEST without the data mover sending a single command.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeParameterList, encodeParameterList, type SegmentDescriptor } from '../../src/scsi/xcopy.js';
import { PROFILES } from '../../firmware-sim/copy-manager/profile.js';
import { blockParams, e4, exec, list, OTHER, makeLab, pattern, tapeRecords, variableTape, xcopy, type Lab } from './helpers.js';

const BL = 512;
const DISK_BLOCKS = 256;

// ---------------------------------------------------------------- reference model

interface ModelResult {
  records: Array<Buffer | 'FM'>;
  disk1: Buffer;
  error?: { asc: number; ascq: number; segment: number };
}

function model(disk0: Buffer, disk1In: Buffer, segs: SegmentDescriptor[], inline: Buffer, tapePad: boolean, disk1Pad: boolean): ModelResult {
  const records: Array<Buffer | 'FM'> = [];
  const disk1 = Buffer.from(disk1In);
  let src: Buffer = Buffer.alloc(0);
  let dst: Buffer = Buffer.alloc(0);
  const take = (n: number) => {
    const r = src.subarray(0, n);
    src = src.subarray(n);
    return r;
  };
  for (let k = 0; k < segs.length; k++) {
    const s = segs[k]!;
    const last = k === segs.length - 1;
    let processed: Buffer = Buffer.alloc(0);
    let unit = 1;
    let toTape = false;
    let diskAt = 0;
    let exact: number | undefined;
    // The disk source's PAD is 0 in these lists; 04h has no source (PAD 0 by SPC-4 table 117).
    const srcPad = false;
    if (s.type === 0x10) {
      records.push(...Array<'FM'>(s.count!).fill('FM'));
      continue;
    }
    if (s.type === 0x00) {
      const P = s.blocks! * BL;
      const r = take(Math.min(src.length, P));
      const nb = Math.ceil((P - r.length) / BL);
      const read = disk0.subarray(s.lba! * BL, (s.lba! + nb) * BL);
      processed = Buffer.concat([r, read.subarray(0, P - r.length)]);
      src = Buffer.concat([src, read.subarray(P - r.length)]);
      unit = s.streamTransferLength!;
      toTape = true;
    } else if (s.type === 0x04) {
      processed = inline.subarray(s.inlineOffset!, s.inlineOffset! + s.byteCount!);
      unit = s.streamTransferLength!;
      toTape = true;
    } else if (s.type === 0x08) {
      const o = s.lba! * BL + s.byteOffset!;
      processed = disk0.subarray(o, o + s.byteCount!);
      unit = s.streamTransferLength!;
      toTape = true;
    } else if (s.type === 0x02) {
      let need: number;
      if (s.dc) {
        exact = s.blocks! * BL;
        need = Math.max(0, exact - dst.length);
      } else need = s.blocks! * BL;
      const r = take(Math.min(src.length, need));
      const nb = Math.ceil((need - r.length) / BL);
      const read = disk0.subarray(s.srcLba! * BL, (s.srcLba! + nb) * BL);
      processed = Buffer.concat([r, read.subarray(0, need - r.length)]);
      src = Buffer.concat([src, read.subarray(need - r.length)]);
      unit = BL;
      diskAt = s.dstLba! * BL;
    } else if (s.type === 0x0a) {
      const o = s.srcLba! * BL + s.srcByteOffset!;
      processed = disk0.subarray(o, o + s.byteCount!);
      exact = s.byteCount!;
      unit = 1;
      diskAt = s.dstLba! * BL + s.dstByteOffset!;
    }
    dst = Buffer.concat([dst, processed]);
    const write = (n: number) => {
      const out = dst.subarray(0, n);
      dst = dst.subarray(n);
      if (toTape) for (let i = 0; i < out.length; i += unit) records.push(Buffer.from(out.subarray(i, i + unit)));
      else {
        out.copy(disk1, diskAt);
        diskAt += out.length;
      }
    };
    let n = Math.floor(dst.length / unit) * unit;
    if (exact !== undefined) n = Math.min(n, exact);
    write(n);
    const dstPad = toTape ? tapePad : disk1Pad;
    if (s.cat) {
      if (last) src = dst = Buffer.alloc(0);
      continue;
    }
    const inexact = { asc: 0x26, ascq: 0x0a, segment: k };
    if (exact !== undefined && dst.length) return { records, disk1, error: inexact };
    if (!srcPad && !dstPad) {
      if (src.length || dst.length) return { records, disk1, error: inexact };
      continue;
    }
    if (dstPad && dst.length) {
      dst = Buffer.concat([dst, Buffer.alloc((unit - (dst.length % unit)) % unit)]);
      write(dst.length);
    } else dst = Buffer.alloc(0);
    if (last) src = dst = Buffer.alloc(0);
  }
  return { records, disk1 };
}

// ---------------------------------------------------------------- generators

const stdl = fc.constantFrom(100, 512, 700, 1024, 4096);
const lba = (n: number) => fc.integer({ min: 0, max: DISK_BLOCKS - n });
const segArb: fc.Arbitrary<SegmentDescriptor> = fc.oneof(
  fc.integer({ min: 0, max: 12 }).chain((blocks) => fc.record({ type: fc.constant(0), cat: fc.boolean(), src: fc.constant(0), dst: fc.constant(2), streamTransferLength: stdl, blocks: fc.constant(blocks), lba: lba(blocks + 16) })),
  fc.integer({ min: 0, max: 12 }).chain((blocks) =>
    fc.record({ type: fc.constant(2), cat: fc.boolean(), dc: fc.boolean(), src: fc.constant(0), dst: fc.constant(1), blocks: fc.constant(blocks), srcLba: lba(blocks + 16), dstLba: lba(blocks + 16) }),
  ),
  fc.record({ type: fc.constant(4), cat: fc.boolean(), dst: fc.constant(2), streamTransferLength: stdl, inlineOffset: fc.integer({ min: 0, max: 64 }).map((x) => x * 4), byteCount: fc.integer({ min: 0, max: 700 }) }),
  fc.integer({ min: 0, max: 3000 }).chain((byteCount) =>
    fc.record({ type: fc.constant(8), cat: fc.boolean(), src: fc.constant(0), dst: fc.constant(2), streamTransferLength: stdl, byteCount: fc.constant(byteCount), lba: lba(Math.ceil(byteCount / BL) + 2), byteOffset: fc.integer({ min: 0, max: BL - 1 }) }),
  ),
  fc.integer({ min: 0, max: 3000 }).chain((byteCount) =>
    fc.record({
      type: fc.constant(0x0a),
      cat: fc.boolean(),
      src: fc.constant(0),
      dst: fc.constant(1),
      byteCount: fc.constant(byteCount),
      srcLba: lba(Math.ceil(byteCount / BL) + 2),
      dstLba: lba(Math.ceil(byteCount / BL) + 2),
      srcByteOffset: fc.integer({ min: 0, max: BL - 1 }),
      dstByteOffset: fc.integer({ min: 0, max: BL - 1 }),
    }),
  ),
  fc.record({ type: fc.constant(0x10), dst: fc.constant(2), count: fc.integer({ min: 0, max: 2 }) }),
);

// ---------------------------------------------------------------- properties

let lab: Lab;
beforeAll(async () => {
  lab = await makeLab({ disks: [{ blocks: DISK_BLOCKS }, { blocks: DISK_BLOCKS }], tapeCapacity: 256 << 20, cm: { chunkBytes: 2048 } });
  pattern(DISK_BLOCKS * BL, 11).copy(lab.disks[0]!.data);
});
afterAll(async () => {
  await lab.done();
});

const INLINE = pattern(1024, 5);

describe('random valid lists against the reference model', () => {
  it('tape records, disk bytes and the outcome match the model', async () => {
    let listId = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(segArb, { minLength: 1, maxLength: 6 }), fc.boolean(), fc.boolean(), async (segs, tapePad, diskPad) => {
        const [d0, d1, tape] = [lab.disks[0]!, lab.disks[1]!, lab.tapes[0]!];
        // Fresh tape at BOP, destination disk zeroed: the model starts from the same state.
        expect((await exec(tape.drive, Buffer.from([0x01, 0, 0, 0, 0, 0]), { nexus: OTHER })).status).toBe(0);
        expect((await exec(tape.drive, Buffer.from([0x19, 0x01, 0, 0, 0, 0]), { nexus: OTHER })).status).toBe(0);
        d1.data.fill(0);
        const m = model(d0.data, d1.data, segs, INLINE, tapePad, diskPad);
        listId = (listId + 1) & 0xff;
        const r = await xcopy(lab.dm, list([e4(d0, blockParams()), e4(d1, blockParams(512, diskPad)), e4(tape.drive, variableTape(tapePad))], segs, { listId, usage: 2, inline: INLINE }));
        if (m.error) {
          expect(r.sense).toMatchObject({ key: 0xa, asc: m.error.asc, ascq: m.error.ascq });
          expect(r.senseBytes!.readUInt16BE(10)).toBe(m.error.segment);
        } else {
          expect(r.status, JSON.stringify(r.sense)).toBe(0);
        }
        expect(d1.data.equals(m.disk1)).toBe(true);
        const recs = await tapeRecords(tape.drive);
        // An empty tape reads as BLANK CHECK at BOP; written filemarks show up as 'FM'.
        expect(recs.map((x) => (x === 'FM' ? x : x.toString('hex')))).toEqual(m.records.map((x) => (x === 'FM' ? x : x.toString('hex'))));
      }),
      { numRuns: Number(process.env.DMSIM_PROPERTY_RUNS ?? 60) },
    );
  }, 120_000);
});

describe('random corrupt lists', () => {
  it('rejected by validation → ILLEGAL REQUEST and no command reached any device', async () => {
    const [d0, d1, tape] = [lab.disks[0]!, lab.disks[1]!, lab.tapes[0]!];
    const good = encodeParameterList(
      list([e4(d0, blockParams()), e4(d1, blockParams()), e4(tape.drive, variableTape())], [
        { type: 0, src: 0, dst: 2, streamTransferLength: 512, blocks: 4, lba: 0 },
        { type: 4, dst: 2, streamTransferLength: 4, inlineOffset: 0, byteCount: 8 },
        { type: 2, src: 0, dst: 1, blocks: 4, srcLba: 0, dstLba: 8 },
      ], { inline: Buffer.alloc(8) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(good.length), async (flips, cut) => {
        const bad = Buffer.from(good.subarray(0, Math.max(16, cut)));
        for (const [at, x] of flips) if (at < bad.length) bad[at]! ^= x;
        let rejected = false;
        try {
          decodeParameterList(bad, PROFILES.full);
        } catch {
          rejected = true;
        }
        fc.pre(rejected);
        const before = lab.fabric.dmCommands.length;
        const disk1 = Buffer.from(d1.data);
        const r = await xcopy(lab.dm, bad);
        expect(r.sense?.key).toBe(5);
        expect(lab.fabric.dmCommands.length).toBe(before);
        expect(d1.data.equals(disk1)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });
});

describe('random corrupt lists that pass validation', () => {
  it('end GOOD, COPY ABORTED or ILLEGAL REQUEST — never an internal error', async () => {
    const [d0, d1, tape] = [lab.disks[0]!, lab.disks[1]!, lab.tapes[0]!];
    const good = encodeParameterList(
      list([e4(d0, blockParams()), e4(d1, blockParams(512, true)), e4(tape.drive, variableTape(true))], [
        { type: 0, cat: true, src: 0, dst: 2, streamTransferLength: 700, blocks: 4, lba: 0 },
        { type: 4, dst: 2, streamTransferLength: 4, inlineOffset: 0, byteCount: 8 },
        { type: 2, dc: true, src: 0, dst: 1, blocks: 4, srcLba: 0, dstLba: 8 },
        { type: 0x0a, src: 0, dst: 1, byteCount: 900, srcLba: 3, dstLba: 20, srcByteOffset: 5, dstByteOffset: 7 },
        { type: 0x12, dst: 2, logicalObjectId: 0 },
        { type: 6, src: 2, streamTransferLength: 700, byteCount: 100 },
        { type: 7, src: 1, tur: true },
      ], { inline: Buffer.alloc(8) }),
    );
    let id = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 16, max: good.length - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }), async (flips) => {
        const bad = Buffer.from(good);
        for (const [at, x] of flips) bad[at]! ^= x;
        bad[0] = ++id & 0xff;
        bad[1] = 0x10; // LIST ID USAGE 10b
        const r = await xcopy(lab.dm, bad);
        if (r.status === 0) return;
        expect([0x02, 0x08]).toContain(r.status);
        if (r.status === 0x02) expect([0x05, 0x0a]).toContain(r.sense!.key);
      }),
      { numRuns: Number(process.env.DMSIM_PROPERTY_RUNS ?? 150) },
    );
  }, 120_000);
});
