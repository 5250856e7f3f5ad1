/**
 * Model-based check of positioning: random sequences of WRITE / WRITE FILEMARKS / READ / SPACE /
 * LOCATE / REWIND run against the drive and against a naive object-by-object model of a tape; the
 * status, sense key, ASC/ASCQ, stream bits, INFORMATION, data and position must agree every step.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { decodePositionLong, encodeLocate10, encodeReadPositionCdb, encodeSpace16 } from '../../../src/scsi/tape.js';
import { Cartridge } from '../../../firmware-sim/devices/tape/cartridge.js';
import { pattern, read6, readyDrive, rewind, run, tmp, wfm, write6 } from './helpers.js';

/** Mode block length for the fixed-mode operations (variable ones ignore it: SILI is never set). */
const BL = 16;

type Obj = { fm: true } | { fm: false; len: number; seed: number };
type Op =
  | { op: 'write'; len: number; seed: number }
  | { op: 'wfm'; n: number }
  | { op: 'read'; n: number }
  | { op: 'wfix'; k: number; seed: number }
  | { op: 'rfix'; k: number }
  | { op: 'spaceB' | 'spaceF'; count: number }
  | { op: 'locate'; to: number }
  | { op: 'rewind' }
  | { op: 'eod' };

interface Outcome {
  status: number;
  key?: number;
  asc?: number;
  ascq?: number;
  fm?: boolean;
  eom?: boolean;
  ili?: boolean;
  info?: number;
  data?: Buffer;
}

class Model {
  objs: Obj[] = [];
  pos = 0;
  private ok(data?: Buffer): Outcome {
    return data ? { status: 0, data } : { status: 0 };
  }
  private cc(key: number, ascq: number, bits: Partial<Outcome>, info?: number, data?: Buffer): Outcome {
    return { status: 2, key, asc: 0, ascq, ...bits, ...(info !== undefined ? { info } : {}), ...(data ? { data } : {}) };
  }
  apply(o: Op): Outcome {
    switch (o.op) {
      case 'write':
        this.objs = [...this.objs.slice(0, this.pos), { fm: false, len: o.len, seed: o.seed }];
        this.pos++;
        return this.ok();
      case 'wfm':
        this.objs = [...this.objs.slice(0, this.pos), ...Array.from({ length: o.n }, () => ({ fm: true }) as const)];
        this.pos += o.n;
        return this.ok();
      case 'read': {
        if (this.pos >= this.objs.length) return this.cc(8, 5, {}, o.n);
        const ob = this.objs[this.pos++]!;
        if (ob.fm) return this.cc(0, 1, { fm: true }, o.n);
        const data = pattern(ob.len, ob.seed).subarray(0, Math.min(ob.len, o.n));
        if (ob.len === o.n) return this.ok(data);
        return this.cc(0, 0, { ili: true }, o.n - ob.len, data);
      }
      case 'wfix':
        this.objs = [...this.objs.slice(0, this.pos), ...Array.from({ length: o.k }, (_, j) => ({ fm: false as const, len: BL, seed: o.seed + j }))];
        this.pos += o.k;
        return this.ok();
      case 'rfix': {
        const got: Buffer[] = [];
        for (let j = 0; j < o.k; j++) {
          const data = got.length ? Buffer.concat(got) : undefined;
          if (this.pos >= this.objs.length) return this.cc(8, 5, {}, o.k - j, data);
          const ob = this.objs[this.pos++]!;
          if (ob.fm) return this.cc(0, 1, { fm: true }, o.k - j, data);
          if (ob.len !== BL) return this.cc(0, 0, { ili: true }, o.k - j, data);
          got.push(pattern(BL, ob.seed));
        }
        return this.ok(Buffer.concat(got));
      }
      case 'spaceB': {
        const n = Math.abs(o.count);
        for (let k = 0; k < n; k++) {
          if (o.count > 0) {
            if (this.pos >= this.objs.length) return this.cc(8, 5, {}, n - k);
            if (this.objs[this.pos++]!.fm) return this.cc(0, 1, { fm: true }, n - k);
          } else {
            if (this.pos === 0) return this.cc(0, 4, { eom: true }, n - k);
            if (this.objs[this.pos - 1]!.fm) {
              this.pos--;
              return this.cc(0, 1, { fm: true }, n - k);
            }
            this.pos--;
          }
        }
        return this.ok();
      }
      case 'spaceF': {
        const n = Math.abs(o.count);
        let seen = 0;
        while (seen < n) {
          if (o.count > 0) {
            if (this.pos >= this.objs.length) return this.cc(8, 5, {}, n - seen);
            if (this.objs[this.pos++]!.fm) seen++;
          } else {
            if (this.pos === 0) return this.cc(0, 4, { eom: true }, n - seen);
            if (this.objs[--this.pos]!.fm) seen++;
          }
        }
        return this.ok();
      }
      case 'locate':
        if (o.to > this.objs.length) {
          this.pos = this.objs.length;
          return this.cc(8, 5, {});
        }
        this.pos = o.to;
        return this.ok();
      case 'rewind':
        this.pos = 0;
        return this.ok();
      case 'eod':
        this.pos = this.objs.length;
        return this.ok();
    }
  }
  fileId(): number {
    return this.objs.slice(0, this.pos).filter((o) => o.fm).length;
  }
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('write' as const), len: fc.integer({ min: 1, max: 40 }), seed: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('wfm' as const), n: fc.integer({ min: 1, max: 2 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('read' as const), n: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constantFrom('spaceB' as const, 'spaceF' as const), count: fc.integer({ min: -5, max: 5 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('wfix' as const), k: fc.integer({ min: 1, max: 4 }), seed: fc.integer({ min: 0, max: 200 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('rfix' as const), k: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('locate' as const), to: fc.integer({ min: 0, max: 30 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('rewind' as const, 'eod' as const) }) },
);

function cdbOf(o: Op): { cdb: Buffer; dataOut?: Buffer } {
  switch (o.op) {
    case 'write':
      return { cdb: write6(o.len), dataOut: pattern(o.len, o.seed) };
    case 'wfm':
      return { cdb: wfm(o.n) };
    case 'read':
      return { cdb: read6(o.n) };
    case 'wfix':
      return { cdb: write6(o.k, true), dataOut: Buffer.concat(Array.from({ length: o.k }, (_, j) => pattern(BL, o.seed + j))) };
    case 'rfix':
      return { cdb: read6(o.k, { fixed: true }) };
    case 'spaceB':
      return { cdb: encodeSpace16({ code: 0, count: o.count }) };
    case 'spaceF':
      return { cdb: encodeSpace16({ code: 1, count: o.count }) };
    case 'locate':
      return { cdb: encodeLocate10({ logicalId: o.to }) };
    case 'rewind':
      return { cdb: rewind() };
    case 'eod':
      return { cdb: Buffer.from([0x11, 3, 0, 0, 0, 0]) };
  }
}

let t: ReturnType<typeof tmp>;
beforeAll(() => {
  t = tmp();
});
afterAll(() => t.done());

describe('tape positioning matches a naive model', () => {
  it('random command sequences', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const dir = `${t.dir}/${n++}`;
        (await import('node:fs')).mkdirSync(dir);
        const { drive, path } = await readyDrive(dir);
        drive.mode.blockLength = BL;
        const m = new Model();
        for (const o of ops) {
          const want = m.apply(o);
          const r = await run(drive, cdbOf(o).cdb, { dataOut: cdbOf(o).dataOut });
          const got: Outcome = { status: r.status };
          if (r.sense) {
            Object.assign(got, { key: r.sense.key, asc: r.sense.asc, ascq: r.sense.ascq });
            if (r.sense.filemark) got.fm = true;
            if (r.sense.eom) got.eom = true;
            if (r.sense.ili) got.ili = true;
            if (r.sense.information !== undefined) got.info = Number(r.sense.information);
          }
          if (r.data.length) got.data = r.data;
          expect({ op: o, ...got, data: got.data?.toString('hex') }).toEqual({ op: o, ...want, data: want.data?.toString('hex') });
          const p = decodePositionLong((await run(drive, encodeReadPositionCdb({ serviceAction: 6, allocationLength: 0 }))).data);
          expect([p.firstObject, p.fileId]).toEqual([m.pos, m.fileId()]);
        }
        // The image on disk, reopened, holds exactly the model's objects.
        await drive.eject();
        const c = await Cartridge.open(path);
        expect(c.count).toBe(m.objs.length);
        for (let i = 0; i < m.objs.length; i++) {
          const ob = m.objs[i]!;
          if (ob.fm) expect(c.isFilemark(i)).toBe(true);
          else expect((await c.readRecord(i, 1000)).equals(pattern(ob.len, ob.seed))).toBe(true);
        }
        await c.close();
        expect(readFileSync(path).length).toBe(c.length);
      }),
      { numRuns: 80 },
    );
  });
});
