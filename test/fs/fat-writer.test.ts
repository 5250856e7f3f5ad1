/** FatWriter (NDMP recover's FAT side) against mkfs.fat images, checked with fsck.fat and mtools. */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BufferBlockReader } from '../../src/fs/fat/block-reader.js';
import { FatVolume } from '../../src/fs/fat/volume.js';
import { FatWriter, type BlockDevice } from '../../src/fs/fat/writer.js';
import { requireTools } from '../helpers/require-tool.js';

const ok = requireTools('FatWriter vs dosfstools/mtools', 'mkfs.fat', 'fsck.fat', 'mtype', 'mdir');
const mtoolsEnv = { ...process.env, MTOOLS_SKIP_CHECK: '1' };

function bufferDevice(image: Buffer): BlockDevice {
  const r = new BufferBlockReader(image);
  return {
    blockSize: 512,
    blockCount: r.blockCount,
    readBlocks: (lba, n) => r.readBlocks(lba, n),
    async writeBlocks(lba, data) {
      data.copy(image, lba * 512);
    },
  };
}

describe.skipIf(!ok)('FatWriter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dmsim-fatw-'));
  for (const [type, mib] of [[12, 2], [16, 20], [32, 40]] as const) {
    it(`FAT${type}: new files (long names, nested dirs, a full directory cluster), a replaced file; fsck clean, mtools reads them back`, async () => {
      const img = join(dir, `w${type}.img`);
      writeFileSync(img, Buffer.alloc(mib << 20));
      execFileSync('mkfs.fat', ['-F', String(type), '-s', '1', img], { stdio: 'pipe' });
      const image = readFileSync(img);
      const w = await FatWriter.open(bufferDevice(image));
      const big = randomBytes(70_000);
      await w.writeFile('/HELLO.TXT', Buffer.from('hello\n'), { mtime: 1_800_000_000 });
      await w.writeFile('/Restore Dir/sub/a rather long file name.bin', big, { mtime: 1_800_000_000 });
      for (let i = 0; i < 40; i++) await w.writeFile(`/many/file number ${i}.txt`, Buffer.from(`n${i}`), { mtime: 1_800_000_000 });
      await w.writeFile('/HELLO.TXT', Buffer.from('replaced\n'), { mtime: 1_800_000_000, readOnly: true });
      await w.writeFile('/empty.dat', Buffer.alloc(0), { mtime: 1_800_000_000 });
      writeFileSync(img, image);
      execFileSync('fsck.fat', ['-n', img], { stdio: 'pipe' });
      expect(execFileSync('mtype', ['-i', img, '::/HELLO.TXT'], { env: mtoolsEnv }).toString()).toBe('replaced\n');
      expect(execFileSync('mtype', ['-i', img, '::/Restore Dir/sub/a rather long file name.bin'], { env: mtoolsEnv }).equals(big)).toBe(true);
      expect(execFileSync('mtype', ['-i', img, '::/many/file number 39.txt'], { env: mtoolsEnv }).toString()).toBe('n39');
      const entries = await (await FatVolume.open(new BufferBlockReader(image))).walk();
      expect(entries.filter((e) => e.path.startsWith('many/')).length).toBe(40);
      expect(entries.find((e) => e.path === 'empty.dat')?.size).toBe(0);
    });
  }
});
