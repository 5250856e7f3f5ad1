import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BufferBlockReader } from '../../src/fs/fat/block-reader.js';
import { buildFatImage, type BuildSpec } from '../../src/fs/fat/build.js';
import { lfnChecksum } from '../../src/fs/fat/directory.js';
import { FatVolume } from '../../src/fs/fat/volume.js';
import { buildDefaultFatImage, defaultFatSpec, prng, randomBytes } from '../../fixtures/make-fat.js';
import { requireTools } from '../helpers/require-tool.js';

const T0 = Date.UTC(2024, 0, 2, 3, 4, 6) / 1000;
const mtoolsEnv = { ...process.env, MTOOLS_SKIP_CHECK: '1', TZ: 'UTC' };

function smallSpec(type: 12 | 16 | 32, sizeBytes: number, partitionStartLba?: number): BuildSpec {
  const rand = prng(type);
  return {
    type, sizeBytes, partitionStartLba, label: 'TEST', mtime: T0,
    directories: ['emptydir'],
    files: [
      { path: 'HELLO.TXT', data: Buffer.from('hello\n') },
      { path: 'A_Long_File_Name.txt', data: Buffer.from('world') },
      { path: 'sub/dir with spaces/nested file.bin', data: randomBytes(rand, 10_000), mtime: T0 + 3600 },
      { path: 'sub/frag.bin', data: randomBytes(rand, 9000), fragmented: true },
      { path: 'sub/after.bin', data: randomBytes(rand, 5000) },
      { path: 'zero.dat', data: Buffer.alloc(0) },
      ...Array.from({ length: 40 }, (_, i) => ({ path: `many/entry number ${i}.txt`, data: Buffer.from(`file ${i}\n`.repeat(i)) })),
    ],
  };
}

async function checkAgainstSpec(image: Buffer, spec: BuildSpec) {
  const vol = await FatVolume.open(new BufferBlockReader(image));
  expect(vol.geometry.type).toBe(spec.type);
  const walk = await vol.walk();
  const files = walk.filter((e) => !e.isDirectory);
  expect(files.map((f) => f.path).sort()).toEqual(spec.files.map((f) => f.path).sort());
  for (const f of spec.files) {
    const e = files.find((x) => x.path === f.path)!;
    expect(e.problem).toBeUndefined();
    expect(e.size).toBe(f.data.length);
    expect(e.mtime).toBe(f.mtime ?? spec.mtime);
    expect((await vol.readFile(e)).equals(f.data)).toBe(true);
  }
  return { vol, walk };
}

describe('FAT builder → reader round trip', () => {
  for (const [type, size, part] of [[12, 1440 * 1024, undefined], [16, 32 << 20, undefined], [16, 40 << 20, 2048], [32, 48 << 20, 2048]] as const) {
    it(`FAT${type} ${size >> 10} KiB ${part ? 'partitioned' : 'superfloppy'}`, async () => {
      const spec = smallSpec(type, size, part);
      const image = buildFatImage(spec);
      const { vol, walk } = await checkAgainstSpec(image, spec);
      expect(vol.volumeOffset).toBe((part ?? 0) * 512);
      const frag = walk.find((e) => e.path === 'sub/frag.bin')!;
      expect(frag.extents.length).toBeGreaterThan(1);
      // every file byte lies in a 'data' region
      const regions = vol.regions();
      const kindAt = (lba: number) => regions.find((r) => lba >= r.lba && lba < r.lba + r.blocks)!.kind;
      for (const e of walk) for (const x of e.extents) expect(kindAt(Math.floor(x.offset / 512))).toBe('data');
      expect(regions.reduce((s, r) => s + r.blocks, 0)).toBe(size / 512);
      expect(regions[0]!.kind).toBe('metadata');
      expect(regions.some((r) => r.kind === 'free')).toBe(true);
    });
  }

  it('builds the default lab volume byte-identically and it walks as specified', async () => {
    const a = buildDefaultFatImage();
    const b = buildDefaultFatImage();
    expect(a.equals(b)).toBe(true);
    const spec = defaultFatSpec(a.length);
    expect(spec.files.length).toBeGreaterThan(250);
    const { walk } = await checkAgainstSpec(a, spec);
    expect(walk.filter((e) => e.extents.length > 1).length).toBeGreaterThan(3);
    expect(walk.some((e) => e.size > 0 && e.size % 512 !== 0)).toBe(true);
  });

  it('LFN checksum matches the tested value (A_LONG~1TXT → 70h)', () => {
    expect(lfnChecksum(Buffer.from('A_LONG~1TXT', 'latin1'))).toBe(0x70);
  });

  it('reports corruption (loop, link to free cluster) instead of crashing', async () => {
    const spec = smallSpec(16, 32 << 20);
    const image = buildFatImage(spec);
    const vol = await FatVolume.open(new BufferBlockReader(image));
    const e = (await vol.walk()).find((x) => x.path === 'sub/dir with spaces/nested file.bin')!;
    const [c0, c1] = e.clusters;
    const fatOff = vol.geometry.reservedSectors * 512;
    const bad = Buffer.from(image);
    bad.writeUInt16LE(c0!, fatOff + c1! * 2); // c1 → c0: loop
    const v2 = await FatVolume.open(new BufferBlockReader(bad));
    expect((await v2.walk()).find((x) => x.path === e.path)!.problem).toMatch(/loop/);
    bad.writeUInt16LE(0, fatOff + c0! * 2);
    const v3 = await FatVolume.open(new BufferBlockReader(bad));
    expect((await v3.walk()).find((x) => x.path === e.path)!.problem).toMatch(/free/);
  });

  it('rejects garbage that is neither a BPB nor an MBR with a FAT partition', async () => {
    await expect(FatVolume.open(new BufferBlockReader(randomBytes(prng(1), 1 << 20)))).rejects.toThrow(/no FAT volume/);
  });
});

const haveDosTools = requireTools('fat vs dosfstools/mtools', 'mkfs.fat', 'fsck.fat', 'mcopy', 'mmd', 'mdir', 'mshowfat', 'mtype');

describe.skipIf(!haveDosTools)('FAT against dosfstools and mtools', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dmsim-fat-'));

  for (const type of [12, 16, 32] as const) {
    it(`our FAT${type} image passes fsck.fat -n and lists with mdir/mtype/mshowfat`, async () => {
      const spec = smallSpec(type, type === 12 ? 1440 * 1024 : type === 16 ? 32 << 20 : 48 << 20);
      const img = join(dir, `ours${type}.img`);
      const image = buildFatImage(spec);
      writeFileSync(img, image);
      execFileSync('fsck.fat', ['-n', img], { stdio: 'pipe' });
      const listing = execFileSync('mdir', ['-i', img, '-/', '-a', '::'], { env: mtoolsEnv }).toString();
      expect(listing).toContain('A_Long_File_Name.txt');
      expect(listing).toContain('nested file.bin');
      expect(execFileSync('mtype', ['-i', img, '::/HELLO.TXT'], { env: mtoolsEnv }).toString()).toBe('hello\n');
      const vol = await FatVolume.open(new BufferBlockReader(image));
      const frag = (await vol.walk()).find((e) => e.path === 'sub/frag.bin')!;
      const runs = execFileSync('mshowfat', ['-i', img, '::/sub/frag.bin'], { env: mtoolsEnv }).toString();
      const ours = frag.extents.map((x) => {
        const first = (x.offset / 512 - vol.geometry.firstDataSector) / vol.geometry.sectorsPerCluster + 2;
        return `<${first}-${first + x.allocated / vol.geometry.clusterBytes - 1}>`;
      });
      expect(runs.trim()).toBe(`::/sub/frag.bin ${ours.join(' ')}`);
    });
  }

  it('the default lab volume passes fsck.fat -n', () => {
    const img = join(dir, 'default.img');
    const vol = join(dir, 'default-vol.img');
    const image = buildDefaultFatImage();
    writeFileSync(img, image);
    writeFileSync(vol, image.subarray(2048 * 512));
    const out = execFileSync('fsck.fat', ['-n', '-v', vol]).toString();
    expect(out).toMatch(/3\d\d files/);
    expect(execFileSync('mtype', ['-i', `${img}@@1M`, '::/A_Long_File_Name.txt'], { env: mtoolsEnv }).toString().length).toBe(5);
  });

  for (const type of [12, 16, 32] as const) {
    it(`reads a FAT${type} image made by mkfs.fat + mmd/mcopy`, async () => {
      const img = join(dir, `mk${type}.img`);
      const blocks = type === 12 ? '1440' : type === 16 ? '32768' : '65536';
      execFileSync('mkfs.fat', ['-C', '-F', String(type), '-n', 'MK', '--invariant', img, blocks], { stdio: 'pipe' });
      const src = join(dir, `src${type}`);
      mkdirSync(join(src, 'Sub Dir'), { recursive: true });
      const rand = prng(100 + type);
      const contents: Record<string, Buffer> = {
        'short.txt': Buffer.from('lower case 8.3\n'),
        'A_Long_File_Name.txt': Buffer.from('world'),
        'big.bin': randomBytes(rand, 70_001),
      };
      for (const [n, d] of Object.entries(contents)) {
        writeFileSync(join(src, n), d);
        utimesSync(join(src, n), T0, T0);
      }
      execFileSync('mmd', ['-i', img, '::/Sub Dir'], { env: mtoolsEnv });
      for (const n of Object.keys(contents)) execFileSync('mcopy', ['-m', '-i', img, join(src, n), `::/Sub Dir/${n}`], { env: mtoolsEnv });
      execFileSync('mcopy', ['-m', '-i', img, join(src, 'short.txt'), '::/ROOT.TXT'], { env: mtoolsEnv });
      const image = readFileSync(img);
      const vol = await FatVolume.open(new BufferBlockReader(image));
      expect(vol.geometry.type).toBe(type);
      const walk = await vol.walk();
      expect(walk.map((e) => e.path)).toEqual(['Sub Dir', 'ROOT.TXT', 'Sub Dir/short.txt', 'Sub Dir/A_Long_File_Name.txt', 'Sub Dir/big.bin']);
      for (const [n, d] of Object.entries(contents)) {
        const e = walk.find((x) => x.path === `Sub Dir/${n}`)!;
        expect(await vol.readFile(e)).toEqual(d);
        expect(e.mtime).toBe(T0);
      }
      const u = vol.usage();
      expect(u.used).toBeGreaterThan(0);
      expect(u.used + u.free + u.bad).toBe(vol.geometry.clusterCount);
    });
  }
});
