/** The FAT reader sees images it did not make: corrupt metadata must give a report or FatFormatError, never a crash or a hang. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BufferBlockReader } from '../../src/fs/fat/block-reader.js';
import { FatFormatError } from '../../src/fs/fat/boot-sector.js';
import { buildFatImage } from '../../src/fs/fat/build.js';
import { FatVolume } from '../../src/fs/fat/volume.js';

const base = buildFatImage({
  type: 12, sizeBytes: 1440 * 1024, mtime: 1_700_000_000, label: 'FUZZ',
  files: Array.from({ length: 30 }, (_, i) => ({ path: `d${i % 3}/long file name ${i}.txt`, data: Buffer.alloc(i * 700, i), fragmented: i % 4 === 0 })),
});
// boot sector, FATs, root directory and the first directory clusters
const METADATA = 64 * 512;

describe('FAT reader on corrupted images', () => {
  it('answers every mutation with a walk (maybe with problems) or FatFormatError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(METADATA - 1), fc.nat(255)), { minLength: 1, maxLength: 40 }), async (muts) => {
        const img = Buffer.from(base);
        for (const [off, v] of muts) img[off] = v;
        try {
          const vol = await FatVolume.open(new BufferBlockReader(img));
          const walk = await vol.walk();
          for (const e of walk) if (!e.problem) await vol.readFile(e);
          vol.regions();
        } catch (e) {
          if (!(e instanceof FatFormatError)) throw e;
        }
      }),
      { numRuns: 300, seed: 42 },
    );
    expect(true).toBe(true);
  });
});
