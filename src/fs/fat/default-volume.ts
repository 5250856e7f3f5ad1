/**
 * The default lab's FAT disk: a partitioned FAT16 volume with a few hundred files (empty, odd
 * sizes, a few large, a few fragmented), nested directories and long names. Content comes from a
 * seeded PRNG and every timestamp is fixed, so the image is byte-identical on every run. The lab
 * builder fills `{"fat": "default"}` LUs with it; `fixtures/make-fat.ts` writes it to a file.
 */
import { buildFatImage, type BuildFile, type BuildSpec } from './build.js';

/** mulberry32: small, fast, and identical everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i + 4 <= n; i += 4) b.writeUInt32LE((rand() * 4294967296) >>> 0, i);
  for (let i = n - (n % 4); i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
}

const BASE_TIME = Date.UTC(2026, 10, 1, 9, 0, 0) / 1000;

const DIRS = [
  'DOCS', 'DOCS/Reports 2026', 'DOCS/Reports 2026/Quarterly Summaries', 'SRC', 'SRC/lib', 'SRC/lib/util',
  'DATA', 'DATA/images', 'DATA/logs', 'Home Directories', 'Home Directories/alice', 'Home Directories/bob',
  'ARCHIVE', 'ARCHIVE/old', 'EMPTY',
];

/** The file list of the default volume (exported so tests can compare a walk against it). */
export function defaultFatSpec(sizeBytes: number): BuildSpec {
  const rand = prng(0x0d5c0001);
  const files: BuildFile[] = [];
  const texty = (n: number) => {
    const words = ['tape', 'disk', 'copy', 'segment', 'block', 'stream', 'router', 'fabric', 'lun', 'mover'];
    let s = '';
    while (s.length < n) s += words[(rand() * words.length) | 0] + (rand() < 0.1 ? '\n' : ' ');
    return Buffer.from(s.slice(0, n), 'latin1');
  };
  const dirsWithFiles = DIRS.filter((d) => d !== 'EMPTY');
  let n = 0;
  const add = (dir: string, name: string, data: Buffer, extra: Partial<BuildFile> = {}) => {
    files.push({ path: dir ? `${dir}/${name}` : name, data, mtime: BASE_TIME + n * 3600 + ((rand() * 3000) | 0) * 2, ...extra });
    n++;
  };
  add('', 'README.TXT', texty(1500));
  add('', 'A_Long_File_Name.txt', texty(5));
  add('', 'empty.dat', Buffer.alloc(0));
  add('', 'HIDDEN.SYS', texty(700), { attributes: 0x22 });
  add('', 'readonly.cfg', texty(300), { attributes: 0x21 });
  for (let i = 0; i < 300; i++) {
    const dir = dirsWithFiles[i % dirsWithFiles.length]!;
    const r = rand();
    let size: number;
    if (i % 37 === 0) size = 0;
    else if (r < 0.5) size = 1 + ((rand() * 4000) | 0);
    else if (r < 0.85) size = 4096 + ((rand() * 60000) | 0);
    else size = 65536 + ((rand() * 200000) | 0);
    const long = i % 3 === 0;
    const name = long ? `file number ${i} with a long name.${['txt', 'bin', 'dat', 'log'][i % 4]}` : `F${String(i).padStart(5, '0')}.${['TXT', 'BIN', 'DAT'][i % 3]}`;
    add(dir, name, i % 2 ? randomBytes(rand, size) : texty(size), { fragmented: i % 41 === 5 });
  }
  // A few large files, two of them fragmented.
  add('DATA/images', 'disk-image-one.raw', randomBytes(rand, 3 * 1024 * 1024 + 123));
  add('DATA/images', 'disk-image-two.raw', randomBytes(rand, 2 * 1024 * 1024), { fragmented: true });
  add('ARCHIVE/old', 'backup-2025.tar', randomBytes(rand, 1536 * 1024 + 511), { fragmented: true });
  add('DOCS/Reports 2026/Quarterly Summaries', 'Q4 summary – draft (ü).txt', texty(9000));
  return {
    type: 16,
    sizeBytes,
    partitionStartLba: 2048,
    label: 'DMSIM',
    serial: 0x0d5c0001,
    mtime: BASE_TIME,
    directories: DIRS,
    files,
    fragmentRun: 3,
  };
}

export function buildDefaultFatImage(sizeBytes = 64 * 1024 * 1024): Buffer {
  return buildFatImage(defaultFatSpec(sizeBytes));
}
