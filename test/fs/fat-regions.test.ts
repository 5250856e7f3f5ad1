import { describe, expect, it } from 'vitest';
import { BufferBlockReader, type BlockReader } from '../../src/fs/fat/block-reader.js';
import { FatVolume, type Region, type RegionKind } from '../../src/fs/fat/volume.js';
import { buildDefaultFatImage } from '../../fixtures/make-fat.js';

/** The per-block definition of regions(): every block gets a kind, data/metadata beat free/bad. */
function perBlock(vol: FatVolume, L: number, total: number, clusterStart: number, cb: number, kinds: RegionKind[]): Region[] {
  const k = new Array<RegionKind>(total).fill('metadata');
  const mark = (s: number, e: number, kind: RegionKind) => {
    for (let b = Math.floor(s / L); b < Math.ceil(e / L) && b < total; b++) {
      const whole = b * L >= s && (b + 1) * L <= e;
      if (kind === 'data') k[b] = 'data';
      else if (whole && k[b] !== 'data') k[b] = kind;
    }
  };
  for (const pass of ['other', 'data'])
    kinds.forEach((kind, i) => {
      if ((kind === 'data') === (pass === 'data')) mark(clusterStart + i * cb, clusterStart + (i + 1) * cb, kind);
    });
  void vol;
  const out: Region[] = [];
  for (let b = 0; b < total; ) {
    let e = b + 1;
    while (e < total && k[e] === k[b]) e++;
    out.push({ lba: b, blocks: e - b, kind: k[b]! });
    b = e;
  }
  return out;
}

/** The image, then zeros up to `bytes`: a huge sparse LU holding a small FAT volume. */
const zeroTail = (image: Buffer, blockSize: number, bytes: number): BlockReader => ({
  blockSize,
  blockCount: Math.floor(bytes / blockSize),
  async readBlocks(lba, count) {
    const out = Buffer.alloc(count * blockSize);
    image.copy(out, 0, Math.min(image.length, lba * blockSize), Math.min(image.length, (lba + count) * blockSize));
    return out;
  },
});

describe('FAT regions', async () => {
  const image = buildDefaultFatImage();

  for (const L of [512]) {
    it(`match the per-block definition with ${L}-byte LU blocks`, async () => {
      const total = Math.ceil(image.length / L);
      const vol = await FatVolume.open(zeroTail(image, L, total * L));
      const regions = vol.regions();
      const g = vol.geometry;
      const max = vol.maxCluster;
      const kinds: RegionKind[] = [];
      for (let c = 2; c <= max; c++) {
        const v = vol.entry(c);
        kinds.push(v === 0 ? 'free' : vol.isBad(v) ? 'bad' : 'data');
      }
      expect(regions).toEqual(perBlock(vol, L, total, vol.clusterOffset(2), g.clusterBytes, kinds));
      expect(regions.some((r) => r.kind === 'data') && regions.some((r) => r.kind === 'free')).toBe(true);
    });
  }

  it('a 1 TiB LU holding a small volume: same runs, then one metadata run to the last block', async () => {
    const small = (await FatVolume.open(new BufferBlockReader(image))).regions();
    const huge = (await FatVolume.open(zeroTail(image, 512, 2 ** 40))).regions();
    const last = huge[huge.length - 1]!;
    expect(last).toMatchObject({ kind: 'metadata' });
    expect(last.lba + last.blocks).toBe(2 ** 31);
    // Up to the end of the image the regions are identical; the tail only lengthens the last run.
    const smallLast = small[small.length - 1]!;
    expect(huge.slice(0, small.length - 1)).toEqual(small.slice(0, -1));
    if (smallLast.kind === 'metadata') expect(last.lba).toBe(smallLast.lba);
    else expect(last.lba).toBe(smallLast.lba + smallLast.blocks);
  });
});
