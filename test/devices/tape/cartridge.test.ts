import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, readFileSync, truncateSync, writeFileSync, statSync, existsSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { Cartridge, CartridgeFormatError } from '../../../firmware-sim/devices/tape/cartridge.js';
import { inspectTape, formatInspect, tapeFileRecords } from '../../../firmware-sim/devices/tape/inspect.js';
import { requireTools } from '../../helpers/require-tool.js';
import { pattern, read6, readyDrive, rewind, run, tmp, wfm, write6 } from './helpers.js';

let t: ReturnType<typeof tmp>;
beforeEach(() => {
  t = tmp();
});
afterEach(() => t.done());

const rec = (data: Buffer) => {
  const w = Buffer.alloc(4);
  w.writeUInt32LE(data.length);
  return Buffer.concat([w, data, data.length & 1 ? Buffer.alloc(1) : Buffer.alloc(0), w]);
};
const MARK = Buffer.alloc(4);

describe('cartridge image', () => {
  it('writes the padded SIMH layout and keeps metadata in a sidecar, not in the image', async () => {
    const p = `${t.dir}/c.tap`;
    const c = await Cartridge.create(p, { capacity: 1 << 20, barcode: 'ABC123L4' });
    await c.writeRecords(0, Buffer.from('ABC'), 3, 1);
    await c.writeFilemarks(1, 1);
    await c.writeRecords(2, Buffer.from('wxyz'), 4, 1);
    await c.close();
    expect(readFileSync(p).equals(Buffer.concat([rec(Buffer.from('ABC')), MARK, rec(Buffer.from('wxyz'))]))).toBe(true);
    const meta = JSON.parse(readFileSync(`${p}.json`, 'utf8'));
    expect(meta).toMatchObject({ barcode: 'ABC123L4', capacity: 1 << 20, syncedLength: 28, writeProtected: false, density: 0x46 });
  });

  it('builds a positional index on open (offsets, file identifiers, filemark lookups)', async () => {
    const p = `${t.dir}/i.tap`;
    const parts = [rec(pattern(10, 1)), rec(pattern(11, 2)), MARK, rec(pattern(12, 3)), MARK, MARK];
    writeFileSync(p, Buffer.concat(parts));
    const c = await Cartridge.open(p);
    expect(c.count).toBe(6);
    expect([0, 1, 2, 3, 4, 5, 6].map((i) => c.offsetOf(i))).toEqual([0, 18, 38, 42, 62, 66, 70]);
    expect([0, 2, 3, 5, 6].map((i) => c.fileIdAt(i))).toEqual([0, 0, 1, 2, 3]);
    expect(c.nextFilemark(3)).toBe(4);
    expect(c.prevFilemark(4)).toBe(2);
    expect(c.filemark(2)).toBe(5);
    expect(c.object(1)).toEqual({ kind: 'record', offset: 18, length: 11, bad: false });
    expect((await c.readRecord(3, 100)).equals(pattern(12, 3))).toBe(true);
    await c.close();
  });

  it('torn tail: a record cut mid-data is removed on load, the rest survives, and the drive reads what is left', async () => {
    const { drive, path } = await readyDrive(t.dir);
    for (let k = 0; k < 3; k++) await run(drive, write6(1000), { dataOut: pattern(1000, k) });
    await run(drive, wfm(1));
    await run(drive, write6(1000), { dataOut: pattern(1000, 9) });
    await drive.eject();
    const full = statSync(path).size;
    truncateSync(path, full - 500);
    const c = await Cartridge.open(path);
    expect(c.count).toBe(4);
    expect(c.length).toBe(3 * 1008 + 4);
    expect(statSync(path).size).toBe(3 * 1008 + 4);
    expect(c.meta.events.at(-1)).toMatchObject({ what: expect.stringContaining('torn record'), offset: 3028, bytes: 1008 - 500 });
    await drive.loadCartridge(c);
    await run(drive, [0, 0, 0, 0, 0, 0]);
    for (let k = 0; k < 3; k++) expect((await run(drive, read6(1000))).data.equals(pattern(1000, k))).toBe(true);
    expect((await run(drive, read6(1000))).sense).toMatchObject({ key: 0, filemark: true });
    expect((await run(drive, read6(1000))).sense).toMatchObject({ key: 8, asc: 0, ascq: 5 });
  });

  it('torn tail: mismatched trailer past the synced length is cut; a torn header too', async () => {
    const p = `${t.dir}/m.tap`;
    const good = Buffer.concat([rec(pattern(8, 1)), MARK]);
    const bad = rec(pattern(16, 2));
    bad.writeUInt32LE(0, bad.length - 4);
    writeFileSync(p, Buffer.concat([good, bad]));
    writeFileSync(`${p}.json`, JSON.stringify({ barcode: 'M', capacity: 1 << 20, syncedLength: good.length }));
    let c = await Cartridge.open(p);
    expect(c.count).toBe(2);
    expect(statSync(p).size).toBe(good.length);
    await c.close();
    appendFileSync(p, Buffer.from([0x10, 0x00]));
    c = await Cartridge.open(p);
    expect(c.length).toBe(good.length);
    await c.close();
  });

  it('a protected cartridge is never modified on open; the torn tail goes when protection is lifted', async () => {
    const p = `${t.dir}/wp.tap`;
    const good = rec(pattern(8, 1));
    writeFileSync(p, Buffer.concat([good, Buffer.from([0x40, 0, 0, 0, 1, 2, 3])]));
    writeFileSync(`${p}.json`, JSON.stringify({ barcode: 'WP', capacity: 1 << 20, syncedLength: good.length, writeProtected: true }));
    const c = await Cartridge.open(p);
    expect(c.count).toBe(1);
    expect(statSync(p).size).toBe(good.length + 7);
    await c.setWriteProtected(false);
    expect(statSync(p).size).toBe(good.length);
    await c.writeRecords(1, pattern(4, 2), 4, 1);
    await c.close();
    expect(readFileSync(p).equals(Buffer.concat([good, rec(pattern(4, 2))]))).toBe(true);
  });

  it('zero-filled tail past the synced length (power loss) is not taken for tape marks', async () => {
    const p = `${t.dir}/z.tap`;
    const good = Buffer.concat([rec(pattern(8, 1)), MARK]);
    writeFileSync(p, Buffer.concat([good, Buffer.alloc(4096)]));
    writeFileSync(`${p}.json`, JSON.stringify({ barcode: 'Z', capacity: 1 << 20, syncedLength: good.length }));
    const c = await Cartridge.open(p);
    expect(c.count).toBe(2);
    expect(c.filemarkCount).toBe(1);
    expect(statSync(p).size).toBe(good.length);
    await c.close();
  });

  it('corruption inside synced data refuses the cartridge (3/31/00) and leaves the file alone; a foreign file is 3/30/01', async () => {
    const p = `${t.dir}/x.tap`;
    const bad = rec(pattern(16, 2));
    bad.writeUInt32LE(7, bad.length - 4);
    const img = Buffer.concat([bad, rec(pattern(4, 4))]);
    writeFileSync(p, img);
    writeFileSync(`${p}.json`, JSON.stringify({ barcode: 'X', capacity: 1 << 20, syncedLength: img.length }));
    await expect(Cartridge.open(p)).rejects.toMatchObject({ asc: 0x31, ascq: 0 });
    expect(readFileSync(p).equals(img)).toBe(true);
    rmSync(`${p}.json`);
    writeFileSync(p, Buffer.from('\x7f\x45\x4c\x46 not a tape'));
    const e = await Cartridge.open(p).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CartridgeFormatError);
    expect(e).toMatchObject({ asc: 0x30, ascq: 1 });
  });

  it('writing before EOD truncates the image first', async () => {
    const p = `${t.dir}/w.tap`;
    const c = await Cartridge.create(p, { capacity: 1 << 20 });
    await c.writeRecords(0, pattern(100, 1), 100, 1);
    await c.writeRecords(1, pattern(100, 2), 100, 1);
    await c.writeFilemarks(2, 2);
    await c.writeRecords(1, pattern(3, 3), 3, 1);
    expect(c.count).toBe(2);
    expect(c.filemarkCount).toBe(0);
    await c.close();
    expect(readFileSync(p).equals(Buffer.concat([rec(pattern(100, 1)), rec(pattern(3, 3))]))).toBe(true);
  });

  it('fixed-size batches with many small blocks go out in one pass (more iovecs than IOV_MAX)', async () => {
    const p = `${t.dir}/f.tap`;
    const c = await Cartridge.create(p, { capacity: 1 << 24 });
    const data = pattern(512 * 2000, 5);
    await c.writeRecords(0, data, 512, 2000);
    expect(c.count).toBe(2000);
    await c.close();
    const c2 = await Cartridge.open(p);
    expect(c2.count).toBe(2000);
    expect((await c2.readRecord(1999, 512)).equals(data.subarray(1999 * 512))).toBe(true);
    await c2.close();
  });

  it('inspect lists records, filemarks and files, and names the problem in a torn image', async () => {
    const p = `${t.dir}/n.tap`;
    writeFileSync(p, Buffer.concat([rec(pattern(10, 1)), rec(pattern(20, 1)), MARK, rec(pattern(5, 1)), Buffer.from([9, 0, 0, 0, 1, 2])]));
    const r = await inspectTape(p);
    expect(r).toMatchObject({ records: 3, filemarks: 1, dataBytes: 35, end: 64 });
    expect(r.files).toEqual([
      { file: 0, records: 2, bytes: 30, minLength: 10, maxLength: 20, closed: true },
      { file: 1, records: 1, bytes: 5, minLength: 5, maxLength: 5, closed: false },
    ]);
    expect(r.problem).toMatch(/promises 9 bytes/);
    expect(formatInspect(r)).toContain('obj 2\tfile 0\t@46\tfilemark');
    expect(existsSync(p)).toBe(true);
    const file1: Buffer[] = [];
    for await (const b of tapeFileRecords(p, 0)) file1.push(b);
    expect(file1.map((b) => b.length)).toEqual([10, 20]);
    expect(file1[1]!.equals(pattern(20, 1))).toBe(true);
  });
});

const haveMtdump = requireTools('mtdump', 'mtdump');

describe.skipIf(!haveMtdump)('Debian mtdump reads dmsim images record for record', () => {
  it('lists every record and tape mark the drive wrote, with the same lengths and offsets', async () => {
    const { drive, path } = await readyDrive(t.dir);
    const lengths = [[65536, 65536, 1, 513], [4096, 777], [10240]];
    for (const [f, ls] of lengths.entries()) {
      for (const [k, n] of ls.entries()) expect((await run(drive, write6(n), { dataOut: pattern(n, f * 10 + k) })).status).toBe(0);
      expect((await run(drive, wfm(1))).status).toBe(0);
    }
    drive.mode.blockLength = 1024;
    expect((await run(drive, write6(3, true), { dataOut: pattern(3072, 77) })).status).toBe(0);
    drive.mode.blockLength = 0;
    expect((await run(drive, wfm(2))).status).toBe(0);
    await run(drive, rewind());
    expect((await run(drive, read6(65536))).data.equals(pattern(65536, 0))).toBe(true);
    await drive.eject();

    const out = spawnSync('mtdump', [path], { encoding: 'utf8' });
    expect(out.status).toBe(0);
    const recs = [...out.stdout.matchAll(/Obj (\d+), position (\d+), record (\d+), length = (\d+)/g)].map((m) => ({ pos: +m[2]!, len: +m[4]! }));
    const marks = [...out.stdout.matchAll(/Obj \d+, position (\d+), end of tape file (\d+)/g)].map((m) => +m[1]!);
    expect(out.stdout).toMatch(/end of logical tape/);
    const expected = [...lengths, [1024, 1024, 1024]];
    expect(recs.map((r) => r.len)).toEqual(expected.flat());
    const report = await inspectTape(path);
    expect(recs.map((r) => r.pos)).toEqual(report.entries.filter((e) => e.kind === 'record').map((e) => e.offset));
    expect(marks).toEqual(report.entries.filter((e) => e.kind === 'filemark').map((e) => e.offset).slice(0, 4));
    expect(report.problem).toBeUndefined();
  });
});
