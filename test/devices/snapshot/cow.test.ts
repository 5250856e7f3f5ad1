/**
 * Copy-on-write at the byte level (snapshot.md §1.2, §1.3, §2): a snapshot view keeps the origin's
 * bytes as at the instant whatever is written, discarded or re-written on the origin afterwards;
 * the side store's file holds exactly the dm-style layout; a full store invalidates the snapshot
 * without failing the origin write; a store reopened after a clean close reads the same.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStore, MemoryStore } from '../../../firmware-sim/devices/backing/index.js';
import { COW_MAGIC, COW_VERSION, CowGeometry, InvalidReason, decodeHeader, decodeRecord, crc32c } from '../../../firmware-sim/devices/snapshot/cow-format.js';
import { CowOrigin, type CowTarget } from '../../../firmware-sim/devices/snapshot/cow-origin.js';
import { SideStore } from '../../../firmware-sim/devices/snapshot/side-store.js';
import { SnapshotView } from '../../../firmware-sim/devices/snapshot/snapshot-view.js';
import { ScsiError } from '../../../src/scsi/sense.js';

const MiB = 1 << 20;
let dir: string;
beforeEach(async () => void (dir = await mkdtemp(path.join(tmpdir(), 'cow-'))));
afterEach(async () => rm(dir, { recursive: true, force: true }));

function headerFor(size: number, chunkBytes = 4096, storeSize?: number) {
  const g = new CowGeometry(chunkBytes);
  return {
    chunkBytes,
    storeSize: storeSize ?? g.sizeFor(Math.ceil(size / chunkBytes)),
    capacityBlocks: size / 512,
    blockLength: 512,
    originNaa: Buffer.alloc(16, 0x61),
    snapshotNaa: Buffer.alloc(16, 0x62),
    snapshotId: randomUUID(),
    setId: randomUUID(),
    createdMs: Date.now(),
  };
}

async function snapshotOf(origin: CowOrigin, file: string, chunkBytes = 4096, storeSize?: number) {
  const store = await SideStore.create(file, headerFor(origin.size, chunkBytes, storeSize));
  const invalidated: InvalidReason[] = [];
  const t: CowTarget = { id: store.info.snapshotId, store, pending: new Map(), invalidated: (r) => invalidated.push(r) };
  await origin.closeGate();
  origin.addTarget(t);
  origin.releaseGate();
  return { store, view: new SnapshotView(origin.inner, store, origin.size), invalidated, target: t };
}

describe('copy-on-write snapshot', () => {
  it('origin writes, discards and rewrites after the snapshot leave the snapshot view byte-exact', async () => {
    const size = 2 * MiB;
    const image = randomBytes(size);
    const origin = new CowOrigin(new MemoryStore(size));
    await origin.write(0, image);
    const { store, view } = await snapshotOf(origin, path.join(dir, 'a.cow'));
    // Unaligned writes spanning chunks, a discard, a rewrite of an already preserved chunk, the last byte.
    const live = Buffer.from(image);
    const ops: Array<[number, number]> = [[100, 9000], [4096 * 7 + 5, 1], [0, 512], [size - 1, 1], [300_000, 70_000]];
    for (const [off, len] of ops) {
      const d = randomBytes(len);
      await origin.write(off, d);
      d.copy(live, off);
    }
    await origin.discard(65536, 131072);
    live.fill(0, 65536, 65536 + 131072);
    await origin.write(100, Buffer.alloc(10, 0xee));
    Buffer.alloc(10, 0xee).copy(live, 100);
    expect((await origin.read(0, size)).equals(live)).toBe(true);
    expect((await view.read(0, size)).equals(image)).toBe(true);
    // Unaligned reads across preserved and untouched chunks.
    expect((await view.read(4000, 10_000)).equals(image.subarray(4000, 14_000))).toBe(true);
    // Each chunk is preserved once: chunks 0..3 (write 100+9000), 7, 0 again (no), 511 (last), 73..90, 16..47 (discard).
    const expected = new Set<number>([0, 1, 2, 7, 511]);
    for (let c = Math.floor(300_000 / 4096); c <= Math.floor(369_999 / 4096); c++) expected.add(c);
    for (let c = 16; c < 48; c++) expected.add(c);
    expect(new Set(store.chunks())).toEqual(expected);
    await expect(view.write()).rejects.toMatchObject({ sense: { key: 7, asc: 0x27, ascq: 0 } });
    await store.close();
  });

  it('writes the dm layout with integrity: header, 32-byte records in area 0, data chunks from chunk 2', async () => {
    const size = MiB;
    const origin = new CowOrigin(new MemoryStore(size));
    const old5 = randomBytes(4096);
    await origin.write(5 * 4096, old5);
    const file = path.join(dir, 'b.cow');
    const { store } = await snapshotOf(origin, file);
    await origin.write(5 * 4096 + 10, Buffer.from('new'));
    await origin.write(200 * 4096, Buffer.from('zero chunk overwritten'));
    await store.close();
    const b = await readFile(file);
    const h = decodeHeader(b);
    if (typeof h === 'string') throw new Error(h);
    expect(b.readUInt32LE(0)).toBe(COW_MAGIC);
    expect(b.subarray(0, 4)).toEqual(Buffer.from('SnAp'));
    expect(b.readUInt32LE(8)).toBe(COW_VERSION);
    expect(b.readUInt32LE(12)).toBe(8); // 4 KiB in sectors
    expect(h).toMatchObject({ valid: true, committedSeq: 2, chunkBytes: 4096 });
    const r0 = decodeRecord(b, 4096);
    const r1 = decodeRecord(b, 4096 + 32);
    expect(r0).toEqual({ oldChunk: 5, newChunk: 2, seq: 1, flags: 0, dataCrc: crc32c(old5) });
    expect(r1).toEqual({ oldChunk: 200, newChunk: 3, seq: 2, flags: 1, dataCrc: 0 });
    expect(decodeRecord(b, 4096 + 64)).toBe('end');
    expect(b.subarray(2 * 4096, 3 * 4096).equals(old5)).toBe(true);
    // The all-zero chunk is recorded but its slot is never written: the file stays sparse.
    expect(b.length).toBeLessThanOrEqual(3 * 4096);
  });

  it('several snapshots of one origin each keep their own instant', async () => {
    const size = MiB;
    const origin = new CowOrigin(new MemoryStore(size));
    const s0 = randomBytes(size);
    await origin.write(0, s0);
    const a = await snapshotOf(origin, path.join(dir, 'a.cow'));
    await origin.write(8192, Buffer.alloc(8192, 1));
    const s1 = await origin.read(0, size);
    const b = await snapshotOf(origin, path.join(dir, 'b.cow'), 65536);
    await origin.write(4096, Buffer.alloc(20_000, 2));
    expect((await a.view.read(0, size)).equals(s0)).toBe(true);
    expect((await b.view.read(0, size)).equals(s1)).toBe(true);
    origin.removeTarget(a.target.id);
    await a.store.close();
    await origin.write(0, Buffer.alloc(size, 3));
    expect((await b.view.read(0, size)).equals(s1)).toBe(true);
    await b.store.close();
  });

  it('a full store invalidates its snapshot durably; the origin write still succeeds; reads get NOT READY 04/03', async () => {
    const size = MiB;
    const origin = new CowOrigin(new MemoryStore(size));
    await origin.write(0, randomBytes(size));
    const file = path.join(dir, 'full.cow');
    // 4 chunks: header, area 0, two data chunks.
    const { store, view, invalidated } = await snapshotOf(origin, file, 4096, 4 * 4096);
    await origin.write(0, Buffer.alloc(4096, 1));
    await origin.write(4096, Buffer.alloc(4096, 2));
    expect(store.valid).toBe(true);
    await origin.write(8192, Buffer.alloc(4096, 3));
    expect(await origin.read(8192, 4096)).toEqual(Buffer.alloc(4096, 3));
    expect(store.valid).toBe(false);
    expect(invalidated).toEqual([InvalidReason.STORE_FULL]);
    const err = await view.read(0, 512).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScsiError);
    expect((err as ScsiError).sense).toMatchObject({ key: 2, asc: 4, ascq: 3 });
    // Durable: the header on disk says invalid, store full, before the origin write went on.
    const h = decodeHeader(await readFile(file));
    expect(h).toMatchObject({ valid: false, reason: InvalidReason.STORE_FULL });
    await store.close();
    const again = await SideStore.open(file, headerFor(size, 4096, 4 * 4096));
    expect(again.valid).toBe(false);
    expect(again.reason).toBe(InvalidReason.STORE_FULL);
    await again.close();
  });

  it('a store reopened after a clean close (file-backed origin) gives the same snapshot', async () => {
    const size = MiB;
    const oFile = path.join(dir, 'origin.img');
    const inner = await FileStore.open(oFile, { size });
    const origin = new CowOrigin(inner);
    const image = randomBytes(size);
    await origin.write(0, image);
    const file = path.join(dir, 'c.cow');
    const hdr = headerFor(size);
    const store = await SideStore.create(file, hdr);
    await origin.closeGate();
    origin.addTarget({ id: 'c', store, pending: new Map(), invalidated: () => undefined });
    origin.releaseGate();
    await Promise.all([origin.write(1000, randomBytes(50_000)), origin.write(500_000, randomBytes(3)), origin.discard(0, 4096)]);
    await store.close();
    await inner.close();
    const inner2 = await FileStore.open(oFile, { size });
    const store2 = await SideStore.open(file, hdr);
    expect(store2.valid).toBe(true);
    expect((await new SnapshotView(inner2, store2, size).read(0, size)).equals(image)).toBe(true);
    await store2.close();
    await inner2.close();
  });

  it('the write gate holds writes (queued, not failed) and waits for those in flight', async () => {
    const origin = new CowOrigin(new MemoryStore(MiB));
    await origin.closeGate();
    let done = false;
    const w = origin.write(0, Buffer.alloc(512, 9)).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    expect(await origin.read(0, 1)).toEqual(Buffer.alloc(1));
    origin.releaseGate();
    await w;
    expect(await origin.read(0, 512)).toEqual(Buffer.alloc(512, 9));
  });
});
