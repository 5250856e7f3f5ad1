import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore, MemoryStore, openBlockStore, type BlockStore } from '../../../firmware-sim/devices/backing/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dmsim-backing-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const pattern = (n: number, seed: number) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
};

function readViaOtherFd(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(length);
    readSync(fd, b, 0, length, offset);
    return b;
  } finally {
    closeSync(fd);
  }
}

const both: Array<[string, () => Promise<BlockStore>]> = [
  ['file', () => FileStore.open(join(dir, 'sub', 'd.img'), { size: 8 << 20 })],
  ['file (thread pool I/O)', () => FileStore.open(join(dir, 'sub', 'd.img'), { size: 8 << 20, syncIoMax: 0 })],
  ['memory', async () => new MemoryStore(8 << 20)],
];

describe.each(both)('%s store', (_name, make) => {
  it('reads zeros when fresh, then what was written, across chunk boundaries', async () => {
    const s = await make();
    expect(s.fresh).toBe(true);
    expect(s.size).toBe(8 << 20);
    expect((await s.read(0, 4096)).equals(Buffer.alloc(4096))).toBe(true);
    const data = pattern(3 << 20, 3);
    await s.write((1 << 20) - 512, data);
    expect((await s.read((1 << 20) - 512, data.length)).equals(data)).toBe(true);
    const into = Buffer.alloc(1024);
    await s.readInto(into, (1 << 20) - 1024);
    expect(into.subarray(0, 512).equals(Buffer.alloc(512))).toBe(true);
    expect(into.subarray(512).equals(data.subarray(0, 512))).toBe(true);
    await s.close();
  });

  it('discard makes the range read as zeros and leaves the neighbours', async () => {
    const s = await make();
    await s.write(0, pattern(3 << 20, 1));
    await s.discard(4096, (2 << 20) + 4096);
    const all = await s.read(0, 3 << 20);
    expect(all.subarray(0, 4096).equals(pattern(3 << 20, 1).subarray(0, 4096))).toBe(true);
    expect(all.subarray(4096, (2 << 20) + 8192).equals(Buffer.alloc((2 << 20) + 4096))).toBe(true);
    expect(all.subarray((2 << 20) + 8192).equals(pattern(3 << 20, 1).subarray((2 << 20) + 8192))).toBe(true);
    await s.close();
  });

  it('refuses ranges outside the store', async () => {
    const s = await make();
    await expect(s.read((8 << 20) - 511, 512)).rejects.toThrow(RangeError);
    await expect(s.write(-1, Buffer.alloc(1))).rejects.toThrow(RangeError);
    await expect(s.discard(0, (8 << 20) + 1)).rejects.toThrow(RangeError);
    await s.close();
  });
});

describe('file store', () => {
  it('creates a sparse image of the configured size and puts written bytes at their offset', async () => {
    const path = join(dir, 'a.img');
    const s = await FileStore.open(path, { size: 64 << 20 });
    expect(statSync(path).size).toBe(64 << 20);
    expect(statSync(path).blocks * 512).toBeLessThan(1 << 20);
    const data = pattern(8192, 9);
    await s.write(10 << 20, data);
    await s.flush();
    expect(readViaOtherFd(path, 10 << 20, 8192).equals(data)).toBe(true);
    await s.close();
    const again = await FileStore.open(path, { size: 64 << 20 });
    expect(again.fresh).toBe(false);
    expect((await again.read(10 << 20, 8192)).equals(data)).toBe(true);
    await again.close();
  });

  it('extends a short existing image sparsely and reads the tail as zeros', async () => {
    const path = join(dir, 'short.img');
    const s0 = await FileStore.open(path, { size: 4096 });
    await s0.write(0, pattern(4096, 2));
    await s0.close();
    const s = await FileStore.open(path, { size: 1 << 20 });
    expect(statSync(path).size).toBe(1 << 20);
    expect((await s.read(4096, 4096)).equals(Buffer.alloc(4096))).toBe(true);
    expect(readFileSync(path).subarray(0, 4096).equals(pattern(4096, 2))).toBe(true);
    await s.close();
  });

  it('discarding a large range punches a hole: the file gives the space back and reads zeros', async () => {
    const path = join(dir, 'punch.img');
    const s = await FileStore.open(path, { size: 16 << 20 });
    await s.write(0, pattern(8 << 20, 4));
    await s.flush();
    const before = statSync(path).blocks;
    await s.discard(1 << 20, 4 << 20);
    // Where the file system cannot punch holes the store falls back to zeros; the bytes are the same.
    if (s.punchedBytes) {
      expect(s.punchedBytes).toBe(4 << 20);
      expect(statSync(path).blocks).toBeLessThan(before - 7000);
    }
    expect(readViaOtherFd(path, 1 << 20, 4 << 20).equals(Buffer.alloc(4 << 20))).toBe(true);
    expect(readViaOtherFd(path, 0, 1 << 20).equals(pattern(8 << 20, 4).subarray(0, 1 << 20))).toBe(true);
    expect(readViaOtherFd(path, 5 << 20, 1 << 20).equals(pattern(8 << 20, 4).subarray(5 << 20, 6 << 20))).toBe(true);
    await s.close();
  });

  it('opens through openBlockStore by spec', async () => {
    const f = await openBlockStore({ kind: 'file', path: join(dir, 'x.img'), size: 1 << 20 });
    const m = await openBlockStore({ kind: 'memory', size: 1 << 20 });
    expect([f.kind, m.kind]).toEqual(['file', 'memory']);
    await f.close();
  });
});

describe('memory store', () => {
  it('allocates only chunks that were written and frees wholly discarded ones', async () => {
    const s = new MemoryStore(16 << 20);
    expect(s.allocatedBytes).toBe(0);
    await s.write(5 << 20, Buffer.alloc(10, 1));
    expect(s.allocatedBytes).toBe(1 << 20);
    await s.discard(5 << 20, 1 << 20);
    expect(s.allocatedBytes).toBe(0);
  });
});
