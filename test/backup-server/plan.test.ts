import { describe, expect, it } from 'vitest';
import { BufferBlockReader } from '../../src/fs/fat/block-reader.js';
import { FatVolume } from '../../src/fs/fat/volume.js';
import { parseArchive, TAR_RECORD } from '../../src/fs/tar.js';
import { compile, type CopyLimits, type StreamPiece } from '../../src/backup-server/plan/compile.js';
import { planTar } from '../../src/backup-server/plan/tar-plan.js';
import { remainingOps } from '../../src/backup-server/resume.js';
import { bitmapRuns, runPieces, sparseRuns } from '../../src/backup-server/plan/image-plan.js';
import { decodeParameterList } from '../../src/scsi/xcopy.js';
import { PROFILES } from '../../firmware-sim/copy-manager/profile.js';
import { buildDefaultFatImage } from '../../fixtures/make-fat.js';

const full = PROFILES.full;
const limits: CopyLimits = { ...full, supported: full.supported };
const disk = { naa: Buffer.from('600123456789abc00000000000000001', 'hex'), blockSize: 512 };
const tape = { naa: Buffer.from('600123456789abc00000000000000002', 'hex'), blockSize: 0 };

function streamOf(image: Buffer, pieces: StreamPiece[]): Buffer {
  return Buffer.concat(pieces.map((p) => (p.kind === 'inline' ? p.data : p.kind === 'disk' ? image.subarray(p.offset, p.offset + p.length) : Buffer.alloc(0))));
}

describe('planners', async () => {
  const image = buildDefaultFatImage();
  const vol = await FatVolume.open(new BufferBlockReader(image));
  const walk = await vol.walk();

  it('tar plan: the pieces concatenated are a valid archive with every file body', async () => {
    const plan = planTar(walk);
    const archive = streamOf(image, plan.pieces);
    expect(archive.length).toBe(plan.archiveBytes);
    const members = parseArchive(archive);
    expect(members.length).toBe(walk.length);
    for (const m of plan.members) {
      const pm = members.find((x) => x.path === m.entry.path)!;
      expect(pm.dataOffset).toBe(m.dataOffset);
      if (!m.entry.isDirectory) expect(archive.subarray(pm.dataOffset, pm.dataOffset + pm.size).equals(await vol.readFile(m.entry))).toBe(true);
    }
  });

  it('compiled commands stay within the data mover limits and end on record boundaries', () => {
    const plan = planTar(walk);
    const cmds = compile({ direction: 'backup', disk, tape, limits, ops: [{ op: 'record', data: Buffer.alloc(512, 1) }, { op: 'filemarks', count: 1 }, { op: 'stream', recordSize: TAR_RECORD, pieces: plan.pieces }, { op: 'filemarks', count: 1 }] });
    expect(cmds.length).toBeGreaterThan(1);
    let streamed = 0;
    let segTotal = 0;
    for (const [i, c] of cmds.entries()) {
      const pl = decodeParameterList(c.parameterList, full);
      expect(pl.segments.length).toBeLessThanOrEqual(full.maxSegmentCount);
      expect(pl.inline.length).toBeLessThanOrEqual(full.maxInlineDataLength);
      expect(c.firstSegment).toBe(segTotal);
      segTotal += pl.segments.length;
      const bytes = pl.segments.filter((s) => [0x00, 0x04].includes(s.type) && s.streamTransferLength === TAR_RECORD).reduce((s, x) => s + (x.type === 0 ? x.blocks! * 512 : x.byteCount!), 0);
      streamed += bytes;
      if (i < cmds.length - 1) expect(streamed % TAR_RECORD).toBe(0);
    }
    expect(streamed).toBe(plan.archiveBytes);
    const last = decodeParameterList(cmds[cmds.length - 1]!.parameterList, full).segments;
    expect(last[last.length - 1]!.type).toBe(0x10);
    expect(last[last.length - 2]!.cat).toBe(false);
  });

  it('sparse runs skip free clusters; bitmap runs', () => {
    const runs = sparseRuns(vol.regions());
    const blocks = runs.reduce((s, r) => s + r[1], 0);
    expect(blocks).toBeLessThan(image.length / 512 / 2);
    expect(runPieces(runs, 512).length).toBe(runs.length);
    const bm = new Uint8Array(4);
    bm[0] = 0b00001110;
    bm[3] = 0x80;
    expect(bitmapRuns(bm, 32)).toEqual([[1, 3], [31, 1]]);
  });

  it('4096-byte LU blocks: unaligned extents use byte-offset segments (08h / 09h)', () => {
    const disk4k = { naa: disk.naa, blockSize: 4096 };
    const pieces: StreamPiece[] = [{ kind: 'inline', data: Buffer.alloc(512, 1) }, { kind: 'disk', offset: 4096 * 10 + 512, length: 30 * 512 }, { kind: 'inline', data: Buffer.alloc(1024) }];
    const [cmd] = compile({ direction: 'backup', disk: disk4k, tape, limits, ops: [{ op: 'stream', recordSize: TAR_RECORD, pieces }] });
    const segs = decodeParameterList(cmd!.parameterList, full).segments;
    // split at the record boundary for packing, joined again inside the one command
    expect(segs.map((x) => x.type)).toEqual([0x04, 0x08, 0x04]);
    expect(segs[1]).toMatchObject({ lba: 10, byteOffset: 512, byteCount: 30 * 512, cat: true });
    expect(segs[2]!.cat).toBe(false);
    const [r] = compile({ direction: 'restore', disk: disk4k, tape, limits, ops: [{ op: 'locate', objectId: 7 }, { op: 'stream', recordSize: TAR_RECORD, pieces: [{ kind: 'discard', length: 512 }, { kind: 'disk', offset: 4096 + 512, length: 4096 }] }] });
    expect(decodeParameterList(r!.parameterList, full).segments.map((x) => [x.type, x.lba, x.byteOffset])).toEqual([[0x12, undefined, undefined], [0x06, undefined, undefined], [0x09, 1, 512]]);
  });

  it('reproduces extended-copy.md §11.2 byte for byte (inline header, 2048-block body, end-of-archive)', () => {
    const naa = (n: number) => Buffer.from(`60012345678 90abc00000000000000 0${n}`.replace(/ /g, ''), 'hex');
    const header = Buffer.alloc(512, 0x55);
    const [cmd, ...more] = compile({
      direction: 'backup', listId: 2, limits,
      disk: { naa: naa(1), blockSize: 512 }, tape: { naa: naa(2), blockSize: 0 },
      ops: [{ op: 'stream', recordSize: TAR_RECORD, pieces: [{ kind: 'inline', data: header }, { kind: 'disk', offset: 0x1000 * 512, length: 2048 * 512 }, { kind: 'inline', data: Buffer.alloc(1024) }] }],
    });
    expect(more).toEqual([]);
    const expected = Buffer.from(
      ('02000040000000000000004000000600' + 'E400000001030010600123456789 0ABC00000000000000010000000000000200'.replace(/ /g, '') +
        'E401000001030010600123456789 0ABC00000000000000020000000004000000'.replace(/ /g, '') +
        '040100100000000100002800000000000000020000010014000000010000280000000800000000000000100004000010' + '000000010000280000000200000004 00'.replace(/ /g, '')),
      'hex',
    );
    expect(cmd!.parameterList.subarray(0, 0x90).toString('hex')).toBe(expected.toString('hex'));
    expect(cmd!.parameterList.subarray(0x90).equals(Buffer.concat([header, Buffer.alloc(1024)]))).toBe(true);
    expect(cmd!.objects).toBe(103);
  });

  it('resume cut: records and filemarks on tape are dropped, a stream keeps its later records byte for byte', () => {
    const image = buildDefaultFatImage();
    const rs = TAR_RECORD;
    const pieces: StreamPiece[] = [{ kind: 'inline', data: Buffer.alloc(700, 1) }, { kind: 'disk', offset: 1234, length: 50000 }, { kind: 'inline', data: Buffer.alloc(300, 2) }];
    const ops = [{ op: 'record' as const, data: Buffer.alloc(512, 9) }, { op: 'filemarks' as const, count: 2 }, { op: 'stream' as const, recordSize: rs, pieces }, { op: 'filemarks' as const, count: 1 }];
    const whole = streamOf(image, pieces);
    // 1 record + 2 FMs + 3 stream records on tape
    const rest = remainingOps(ops, 6);
    expect(rest.map((o) => o.op)).toEqual(['stream', 'filemarks']);
    const cut = rest[0]!;
    if (cut.op !== 'stream') throw new Error('stream expected');
    expect(streamOf(image, cut.pieces).equals(whole.subarray(3 * rs))).toBe(true);
    expect(remainingOps(ops, 2)).toEqual([{ op: 'filemarks', count: 1 }, ...ops.slice(2)]);
    expect(remainingOps(ops, 0)).toEqual(ops);
    expect(remainingOps(ops, 3 + Math.ceil(whole.length / rs) + 1)).toEqual([]);
    expect(() => remainingOps(ops, 3 + Math.ceil(whole.length / rs) + 2)).toThrow(/more than/);
  });
});
