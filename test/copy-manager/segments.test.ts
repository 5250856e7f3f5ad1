import { afterEach, describe, expect, it } from 'vitest';
import { tapeFileRecords } from '../../firmware-sim/devices/tape/inspect.js';
import { decodeCopyStatus, decodeReceiveData } from '../../src/scsi/receive-copy-results.js';
import { blockParams, e4, exec, fixedTape, list, makeLab, pattern, rcr, tapeRecords, variableTape, xcopy, type Lab } from './helpers.js';

let lab: Lab;
afterEach(async () => {
  await lab?.done();
});

const fill = (lab: Lab, disk = 0, seed = 1) => pattern(lab.disks[disk]!.data.length, seed).copy(lab.disks[disk]!.data);
const blocks = (lab: Lab, disk: number, lba: number, n: number, bl = 512) => lab.disks[disk]!.data.subarray(lba * bl, (lba + n) * bl);

async function fileRecords(path: string, file = 0): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const r of tapeFileRecords(path, file)) out.push(Buffer.from(r));
  return out;
}

describe('block → stream (00h) through the data mover', () => {
  it('11.1: 2048 blocks from LBA 1000h become 16 records of 64 KiB, on the tape and in the .tap file', async () => {
    lab = await makeLab({ disks: [{ blocks: 8192 }] });
    fill(lab);
    const [disk, tape] = [lab.disks[0]!, lab.tapes[0]!];
    const r = await xcopy(lab.dm, list([e4(disk, blockParams()), e4(tape.drive, variableTape())], [{ type: 0, src: 0, dst: 1, streamTransferLength: 65536, blocks: 2048, lba: 0x1000 }]));
    expect(r.status).toBe(0);
    const recs = await tapeRecords(tape.drive);
    expect(recs.length).toBe(16);
    expect(Buffer.concat(recs as Buffer[]).equals(blocks(lab, 0, 0x1000, 2048))).toBe(true);
    await tape.cart.sync();
    const file = await fileRecords(tape.path);
    expect(file.map((b) => b.length)).toEqual(Array(16).fill(65536));
    expect(Buffer.concat(file).equals(blocks(lab, 0, 0x1000, 2048))).toBe(true);
    const st = await rcr(lab.dm, 0, 1);
    expect(st.data.toString('hex')).toBe('000000080100010000100000');
  });

  it('fixed-block tape: each WRITE carries STDL blocks of the stream block length', async () => {
    lab = await makeLab({ disks: [{ blocks: 1024 }] });
    fill(lab);
    const [disk, tape] = [lab.disks[0]!, lab.tapes[0]!];
    // Mode-select the tape to 1024-byte fixed blocks first (the application's job).
    const ms = Buffer.alloc(12);
    ms[3] = 8;
    ms.writeUIntBE(1024, 9, 3);
    expect((await exec(tape.drive, Buffer.from([0x15, 0x10, 0, 0, 12, 0]), { dataOut: ms })).status).toBe(0);
    const r = await xcopy(lab.dm, list([e4(disk, blockParams()), e4(tape.drive, fixedTape(1024))], [{ type: 0, src: 0, dst: 1, streamTransferLength: 8, blocks: 64, lba: 10 }]));
    expect(r.status).toBe(0);
    await tape.cart.sync();
    const file = await fileRecords(tape.path);
    expect(file.length).toBe(32);
    expect(file.every((b) => b.length === 1024)).toBe(true);
    expect(Buffer.concat(file).equals(blocks(lab, 0, 10, 64))).toBe(true);
  });

  it('11.2: tar archive with inline header, body and end-of-archive is 103 records of 10240 bytes', async () => {
    lab = await makeLab({ disks: [{ blocks: 8192 }] });
    fill(lab);
    const [disk, tape] = [lab.disks[0]!, lab.tapes[0]!];
    const header = pattern(512, 9);
    const inline = Buffer.concat([header, Buffer.alloc(1024)]);
    const r = await xcopy(
      lab.dm,
      list(
        [e4(disk, blockParams()), e4(tape.drive, variableTape(true))],
        [
          { type: 4, cat: true, dst: 1, streamTransferLength: 10240, inlineOffset: 0, byteCount: 512 },
          { type: 0, cat: true, src: 0, dst: 1, streamTransferLength: 10240, blocks: 2048, lba: 0x1000 },
          { type: 4, cat: false, dst: 1, streamTransferLength: 10240, inlineOffset: 512, byteCount: 1024 },
          { type: 0x10, dst: 1, count: 1 },
        ],
        { listId: 2, inline },
      ),
    );
    expect(r.status).toBe(0);
    await tape.cart.sync();
    const file = await fileRecords(tape.path);
    expect(file.length).toBe(103);
    expect(file.every((b) => b.length === 10240)).toBe(true);
    const all = Buffer.concat(file);
    const want = Buffer.concat([header, blocks(lab, 0, 0x1000, 2048), Buffer.alloc(1024), Buffer.alloc(103 * 10240 - 512 - 2048 * 512 - 1024)]);
    expect(all.equals(want)).toBe(true);
    const recs = await tapeRecords(tape.drive);
    expect(recs.length).toBe(104);
    expect(recs[103]).toBe('FM');
  });

  it('08h: a byte range from the middle of a block to tape', async () => {
    lab = await makeLab({ disks: [{ blocks: 64 }] });
    fill(lab);
    const [disk, tape] = [lab.disks[0]!, lab.tapes[0]!];
    const r = await xcopy(lab.dm, list([e4(disk, blockParams()), e4(tape.drive, variableTape())], [{ type: 8, src: 0, dst: 1, streamTransferLength: 1000, byteCount: 3000, lba: 3, byteOffset: 100 }]));
    expect(r.status).toBe(0);
    const recs = (await tapeRecords(tape.drive)) as Buffer[];
    expect(recs.map((b) => b.length)).toEqual([1000, 1000, 1000]);
    expect(Buffer.concat(recs).equals(lab.disks[0]!.data.subarray(3 * 512 + 100, 3 * 512 + 3100))).toBe(true);
  });

  it('0Bh keeps a copy as held data for RECEIVE DATA', async () => {
    lab = await makeLab({ disks: [{ blocks: 64 }] });
    fill(lab);
    const [disk, tape] = [lab.disks[0]!, lab.tapes[0]!];
    const r = await xcopy(lab.dm, list([e4(disk, blockParams()), e4(tape.drive, variableTape())], [{ type: 0x0b, src: 0, dst: 1, streamTransferLength: 512, blocks: 4, lba: 1 }], { listId: 7 }));
    expect(r.status).toBe(0);
    const d = await rcr(lab.dm, 1, 7, { alloc: 4096 });
    expect(decodeReceiveData(d.data).equals(blocks(lab, 0, 1, 4))).toBe(true);
    expect((await rcr(lab.dm, 1, 7)).sense).toMatchObject({ key: 5, asc: 0x24 });
  });
});

describe('stream → block (01h, 09h) and stream → stream (03h)', () => {
  async function backup(lab: Lab, n: number, stdl: number) {
    const [disk, tape] = [lab.disks[0]!, lab.tapes[0]!];
    expect((await xcopy(lab.dm, list([e4(disk, blockParams()), e4(tape.drive, variableTape())], [{ type: 0, src: 0, dst: 1, streamTransferLength: stdl, blocks: n, lba: 0 }, { type: 0x10, dst: 1, count: 1 }]))).status).toBe(0);
  }

  it('11.3: locate, then 16 records restored into LBA 8000h byte for byte', async () => {
    lab = await makeLab({ disks: [{ blocks: 0x9000 }] });
    fill(lab);
    await backup(lab, 2048, 65536);
    const [disk, tape] = [lab.disks[0]!, lab.tapes[0]!];
    const r = await xcopy(lab.dm, list([e4(disk, blockParams()), e4(tape.drive, variableTape())], [{ type: 0x12, dst: 1, logicalObjectId: 0 }, { type: 1, src: 1, dst: 0, streamTransferLength: 65536, blocks: 2048, lba: 0x8000 }], { listId: 3 }));
    expect(r.status).toBe(0);
    expect(blocks(lab, 0, 0x8000, 2048).equals(blocks(lab, 0, 0, 2048))).toBe(true);
  });

  it('06h then 01h with CAT: skip a 512-byte header inside a 10240-byte record, restore the body, drop the tail', async () => {
    lab = await makeLab({ disks: [{ blocks: 4096 }] });
    fill(lab);
    const [disk, tape] = [lab.disks[0]!, lab.tapes[0]!];
    // Tape: header (512) + 2048 blocks + 1024 zeros, in 10240-byte records with PAD.
    const header = pattern(512, 3);
    await xcopy(
      lab.dm,
      list(
        [e4(disk, blockParams()), e4(tape.drive, variableTape(true))],
        [
          { type: 4, cat: true, dst: 1, streamTransferLength: 10240, inlineOffset: 0, byteCount: 512 },
          { type: 0, cat: true, src: 0, dst: 1, streamTransferLength: 10240, blocks: 2048, lba: 0 },
          { type: 4, dst: 1, streamTransferLength: 10240, inlineOffset: 512, byteCount: 1024 },
        ],
        { inline: Buffer.concat([header, Buffer.alloc(1024)]) },
      ),
    );
    const r = await xcopy(
      lab.dm,
      list(
        [e4(disk, blockParams()), e4(tape.drive, variableTape())],
        [
          { type: 0x12, dst: 1, logicalObjectId: 0 },
          { type: 0x0f, cat: true, src: 1, streamTransferLength: 10240, byteCount: 512 },
          { type: 1, cat: true, src: 1, dst: 0, streamTransferLength: 10240, blocks: 2048, lba: 2048 },
        ],
        { listId: 4 },
      ),
    );
    expect(r.status).toBe(0);
    expect(blocks(lab, 0, 2048, 2048).equals(blocks(lab, 0, 0, 2048))).toBe(true);
    expect(decodeReceiveData((await rcr(lab.dm, 1, 4)).data).equals(header)).toBe(true);
  });

  it('09h: tape bytes into a byte range, neighbours preserved (read-modify-write)', async () => {
    lab = await makeLab({ disks: [{ blocks: 64 }] });
    fill(lab);
    const [disk, tape] = [lab.disks[0]!, lab.tapes[0]!];
    await xcopy(lab.dm, list([e4(disk, blockParams()), e4(tape.drive, variableTape())], [{ type: 0, src: 0, dst: 1, streamTransferLength: 1024, blocks: 4, lba: 0 }]));
    const before = Buffer.from(lab.disks[0]!.data);
    const r = await xcopy(lab.dm, list([e4(disk, blockParams()), e4(tape.drive, variableTape())], [{ type: 0x12, dst: 1, logicalObjectId: 0 }, { type: 9, src: 1, dst: 0, streamTransferLength: 1024, byteCount: 2048, lba: 20, byteOffset: 300 }]));
    expect(r.status).toBe(0);
    const want = Buffer.from(before);
    before.copy(want, 20 * 512 + 300, 0, 2048);
    expect(lab.disks[0]!.data.equals(want)).toBe(true);
  });

  it('03h: tape to tape re-blocked from 4096-byte to 1000-byte records, with PAD on the last', async () => {
    lab = await makeLab({ disks: [{ blocks: 64 }], tapes: 2 });
    fill(lab);
    await backup(lab, 16, 4096);
    const [t0, t1] = [lab.tapes[0]!, lab.tapes[1]!];
    const r = await xcopy(lab.dm, list([e4(t0.drive, variableTape()), e4(t1.drive, variableTape(true))], [{ type: 0x12, dst: 0, logicalObjectId: 0 }, { type: 3, src: 0, dst: 1, srcTransferLength: 4096, dstTransferLength: 1000, byteCount: 8192 }]));
    expect(r.status).toBe(0);
    const recs = (await tapeRecords(t1.drive)) as Buffer[];
    expect(recs.map((b) => b.length)).toEqual(Array(9).fill(1000));
    expect(Buffer.concat(recs).equals(Buffer.concat([blocks(lab, 0, 0, 16), Buffer.alloc(1000 * 9 - 8192)]))).toBe(true);
  });
});

describe('block → block (02h, 0Ah) on a disk LU that is its own copy manager', () => {
  it('02h DC=0 across two disks and within one disk', async () => {
    lab = await makeLab();
    fill(lab, 0, 1);
    const [d0, d1] = lab.disks as [Lab['disks'][0], Lab['disks'][0]];
    let r = await xcopy(d0, list([e4(d0, blockParams()), e4(d1, blockParams())], [{ type: 2, src: 0, dst: 1, blocks: 300, srcLba: 5, dstLba: 1000 }]));
    expect(r.status).toBe(0);
    expect(blocks(lab, 1, 1000, 300).equals(blocks(lab, 0, 5, 300))).toBe(true);
    r = await xcopy(d0, list([e4(d0, blockParams())], [{ type: 2, src: 0, dst: 0, blocks: 2048, srcLba: 0, dstLba: 2048 }], { listId: 2, usage: 2 }));
    expect(r.status).toBe(0);
    expect(blocks(lab, 0, 2048, 2048).equals(blocks(lab, 0, 0, 2048))).toBe(true);
  });

  it('02h between 512- and 4096-byte disks: DC=0 and DC=1', async () => {
    lab = await makeLab({ disks: [{ blocks: 1024 }, { blocks: 256, blockLength: 4096 }] });
    fill(lab, 0, 2);
    const [d0, d1] = lab.disks as [Lab['disks'][0], Lab['disks'][0]];
    const cscds = [e4(d0, blockParams()), e4(d1, blockParams(4096))];
    expect((await xcopy(d0, list(cscds, [{ type: 2, src: 0, dst: 1, blocks: 16, srcLba: 0, dstLba: 0 }]))).status).toBe(0);
    expect((await xcopy(d0, list(cscds, [{ type: 2, dc: true, src: 0, dst: 1, blocks: 2, srcLba: 16, dstLba: 2 }], { listId: 2 }))).status).toBe(0);
    expect(d1.data.subarray(0, 4 * 4096).equals(d0.data.subarray(0, 32 * 512))).toBe(true);
  });

  it('0Ah: byte-granular copy with read-modify-write at both ends', async () => {
    lab = await makeLab();
    fill(lab, 0, 1);
    fill(lab, 1, 2);
    const [d0, d1] = lab.disks as [Lab['disks'][0], Lab['disks'][0]];
    const before = Buffer.from(d1.data);
    const r = await xcopy(d0, list([e4(d0, blockParams()), e4(d1, blockParams())], [{ type: 0x0a, src: 0, dst: 1, byteCount: 5000, srcLba: 1, dstLba: 7, srcByteOffset: 17, dstByteOffset: 499 }]));
    expect(r.status).toBe(0);
    d0.data.copy(before, 7 * 512 + 499, 512 + 17, 512 + 17 + 5000);
    expect(d1.data.equals(before)).toBe(true);
  });

  it('0Ah over many small read chunks into an offset inside a block: byte for byte', async () => {
    // Every write leaves a partial destination block pending while later reads reuse the copy's
    // read buffers (40 chunks through a pool of 6).
    lab = await makeLab({ cm: { chunkBytes: 2048, readBytes: 1024, readAhead: 2 } });
    fill(lab, 0, 3);
    fill(lab, 1, 4);
    const [d0, d1] = lab.disks as [Lab['disks'][0], Lab['disks'][0]];
    const before = Buffer.from(d1.data);
    const n = 40 * 2048 + 301;
    const r = await xcopy(d0, list([e4(d0, blockParams()), e4(d1, blockParams())], [{ type: 0x0a, src: 0, dst: 1, byteCount: n, srcLba: 3, dstLba: 900, srcByteOffset: 0, dstByteOffset: 211 }]));
    expect(r.status).toBe(0);
    d0.data.copy(before, 900 * 512 + 211, 3 * 512, 3 * 512 + n);
    expect(d1.data.equals(before)).toBe(true);
  });

  it('07h verify with TUR, then COPY STATUS reports segments and bytes', async () => {
    lab = await makeLab();
    const d0 = lab.disks[0]!;
    const r = await xcopy(d0, list([e4(d0, blockParams())], [{ type: 7, src: 0, tur: true }, { type: 2, src: 0, dst: 0, blocks: 8, srcLba: 0, dstLba: 100 }], { listId: 9 }));
    expect(r.status).toBe(0);
    expect(decodeCopyStatus((await rcr(d0, 0, 9)).data)).toEqual({ heldDataDiscarded: false, status: 1, segmentsProcessed: 2, units: 0, transferCount: 4096 });
  });
});

describe('embedded → stream (05h), discard (06h), SPACE (11h), filemarks (10h)', () => {
  it('writes embedded bytes, spaces back over a filemark and appends', async () => {
    lab = await makeLab({ disks: [{ blocks: 64 }] });
    const [disk, tape] = [lab.disks[0]!, lab.tapes[0]!];
    const r = await xcopy(
      lab.dm,
      list(
        [e4(disk, blockParams()), e4(tape.drive, variableTape())],
        [
          { type: 5, dst: 1, streamTransferLength: 6, embedded: Buffer.from('HELLO!') },
          { type: 0x10, dst: 1, count: 2 },
          { type: 0x11, dst: 1, code: 1, count: -1 },
          { type: 5, dst: 1, streamTransferLength: 3, embedded: Buffer.from('BYE') },
        ],
      ),
    );
    expect(r.status).toBe(0);
    const recs = await tapeRecords(lab.tapes[0]!.drive);
    expect(recs.map((x) => (x === 'FM' ? x : x.toString()))).toEqual(['HELLO!', 'FM', 'BYE']);
  });
});

describe('residue idioms, held-data limit, LIST ID USAGE 11b', () => {
  it('06h on null LU C001h with 0 bytes, CAT 0: throws residue away (SPC-4 idiom), nothing else touched', async () => {
    lab = await makeLab({ disks: [{ blocks: 64 }] });
    fill(lab);
    const [disk, tape] = [lab.disks[0]!, lab.tapes[0]!];
    const r = await xcopy(
      lab.dm,
      list([e4(disk, blockParams()), e4(tape.drive, variableTape())], [
        { type: 0, cat: true, src: 0, dst: 1, streamTransferLength: 1000, blocks: 4, lba: 0 },
        { type: 6, src: 0xc001, streamTransferLength: 0, byteCount: 0 },
        { type: 5, dst: 1, streamTransferLength: 2, embedded: Buffer.from('OK') },
      ]),
    );
    expect(r.status).toBe(0);
    const recs = (await tapeRecords(tape.drive)) as Buffer[];
    expect(recs.map((b) => b.length)).toEqual([1000, 1000, 2]);
    expect(recs[2]!.toString()).toBe('OK');
  });

  it('CAT 1 on the last segment: leftover residue is silently discarded', async () => {
    lab = await makeLab({ disks: [{ blocks: 64 }] });
    const [disk, tape] = [lab.disks[0]!, lab.tapes[0]!];
    const r = await xcopy(lab.dm, list([e4(disk, blockParams()), e4(tape.drive, variableTape())], [{ type: 0, cat: true, src: 0, dst: 1, streamTransferLength: 1000, blocks: 3, lba: 0 }]));
    expect(r.status).toBe(0);
    expect(((await tapeRecords(tape.drive)) as Buffer[]).map((b) => b.length)).toEqual([1000]);
  });

  it('held data beyond HELD DATA LIMIT keeps the newest 64 KiB and sets HDD', async () => {
    lab = await makeLab({ disks: [{ blocks: 512 }] });
    fill(lab);
    const [disk, tape] = [lab.disks[0]!, lab.tapes[0]!];
    expect((await xcopy(lab.dm, list([e4(disk, blockParams()), e4(tape.drive, variableTape())], [{ type: 0x0b, src: 0, dst: 1, streamTransferLength: 65536, blocks: 256, lba: 0 }], { listId: 5 }))).status).toBe(0);
    expect(decodeCopyStatus((await rcr(lab.dm, 0, 5)).data)).toMatchObject({ heldDataDiscarded: true, status: 1 });
    const held = decodeReceiveData((await rcr(lab.dm, 1, 5, { alloc: 70000 })).data);
    expect(held.equals(blocks(lab, 0, 128, 128))).toBe(true);
  });

  it('LIST ID USAGE 11b: runs, keeps nothing; 11b with held-data segments is refused up front', async () => {
    lab = await makeLab({ disks: [{ blocks: 64 }] });
    const [disk, tape] = [lab.disks[0]!, lab.tapes[0]!];
    const cscds = [e4(disk, blockParams()), e4(tape.drive, variableTape())];
    expect((await xcopy(lab.dm, list(cscds, [{ type: 0, src: 0, dst: 1, streamTransferLength: 512, blocks: 2, lba: 0 }], { listId: 0, usage: 3 }))).status).toBe(0);
    expect((await rcr(lab.dm, 0, 0)).sense).toMatchObject({ key: 5, asc: 0x24 });
    expect((await xcopy(lab.dm, list(cscds, [{ type: 0x0b, src: 0, dst: 1, streamTransferLength: 512, blocks: 2, lba: 0 }], { listId: 0, usage: 3 }))).sense).toMatchObject({ key: 5, asc: 0x26, sks: { byte: 80 } });
  });

  it('segment types the router does not implement (16h, BEh) answer 26/09', async () => {
    lab = await makeLab({ disks: [{ blocks: 64 }] });
    const [disk, tape] = [lab.disks[0]!, lab.tapes[0]!];
    for (const type of [0x16, 0xbe]) {
      const seg = type === 0xbe ? { type, body: Buffer.alloc(12) } : { type, src: 0, dst: 1 };
      expect((await xcopy(lab.dm, list([e4(disk, blockParams()), e4(tape.drive, variableTape())], [seg]))).sense).toMatchObject({ key: 5, asc: 0x26, ascq: 0x09, sks: { byte: 80 } });
    }
  });
});

describe('13h tape image copy', () => {
  async function source(lab: Lab) {
    const d = lab.tapes[0]!.drive;
    const w = (n: number, seed: number) => exec(d, Buffer.from([0x0a, 0, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, 0]), { dataOut: pattern(n, seed) });
    const fm = () => exec(d, Buffer.from([0x10, 0, 0, 0, 1, 0]));
    for (const step of [() => w(100, 1), () => w(5000, 2), fm, () => w(300, 3), fm, fm, () => w(7, 4)]) expect((await step()).status).toBe(0);
    expect((await exec(d, Buffer.from([0x01, 0, 0, 0, 0, 0]))).status).toBe(0);
  }
  const shape = (recs: Array<Buffer | 'FM'>) => recs.map((r) => (r === 'FM' ? 'FM' : `${r.length}:${r.subarray(0, 4).toString('hex')}`));

  it('COUNT 2 stops after two consecutive filemarks; COUNT 0 copies to end of data', async () => {
    lab = await makeLab({ disks: [{ blocks: 8 }], tapes: 3 });
    await source(lab);
    const [t0, t1, t2] = lab.tapes as [Lab['tapes'][0], Lab['tapes'][0], Lab['tapes'][0]];
    const cscds = [e4(t0.drive, variableTape()), e4(t1.drive, variableTape()), e4(t2.drive, variableTape())];
    expect((await xcopy(lab.dm, list(cscds, [{ type: 0x13, src: 0, dst: 1, count: 2 }]))).status).toBe(0);
    const want = shape(await tapeRecords(t0.drive));
    expect(shape(await tapeRecords(t1.drive))).toEqual(want.slice(0, 6));
    expect((await exec(t0.drive, Buffer.from([0x01, 0, 0, 0, 0, 0]))).status).toBe(0);
    expect((await xcopy(lab.dm, list(cscds, [{ type: 0x13, src: 0, dst: 2, count: 0 }], { listId: 2 }))).status).toBe(0);
    expect(shape(await tapeRecords(t2.drive))).toEqual(want);
    expect(want).toEqual(['100:' + pattern(4, 1).toString('hex'), '5000:' + pattern(4, 2).toString('hex'), 'FM', '300:' + pattern(4, 3).toString('hex'), 'FM', 'FM', '7:' + pattern(4, 4).toString('hex')]);
  });

  it('a disk CSCD in a 13h segment: 26/0C', async () => {
    lab = await makeLab({ disks: [{ blocks: 8 }] });
    const r = await xcopy(lab.dm, list([e4(lab.disks[0]!, blockParams()), e4(lab.tapes[0]!.drive, variableTape())], [{ type: 0x13, src: 0, dst: 1, count: 0 }]));
    expect(r.sense).toMatchObject({ key: 0xa, asc: 0x26, ascq: 0x0c });
  });
});
