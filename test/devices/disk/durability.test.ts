/**
 * FUA, SYNCHRONIZE CACHE and WCE=0 reach the image file's fdatasync: the real FileStore is wrapped
 * only to count flushes; the bytes are read back through a separate descriptor.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskLu } from '../../../firmware-sim/devices/disk/disk-lu.js';
import { FileStore } from '../../../firmware-sim/devices/backing/file-store.js';
import type { BlockStore } from '../../../firmware-sim/devices/backing/block-store.js';
import { SbcOp, encodeBlockCdb } from '../../../src/scsi/sbc.js';
import { encodeModeSelect, encodeCachingPage } from '../../../src/scsi/mode.js';
import { A, identity } from './helpers.js';

class CountingStore implements BlockStore {
  flushes = 0;
  constructor(private readonly inner: FileStore) {}
  get size() { return this.inner.size; }
  get kind() { return this.inner.kind; }
  get fresh() { return this.inner.fresh; }
  read(o: number, l: number) { return this.inner.read(o, l); }
  readInto(t: Buffer, o: number) { return this.inner.readInto(t, o); }
  write(o: number, d: Buffer) { return this.inner.write(o, d); }
  discard(o: number, l: number) { return this.inner.discard(o, l); }
  close() { return this.inner.close(); }
  async flush() {
    this.flushes++;
    await this.inner.flush();
  }
}

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function setup() {
  dir = mkdtempSync(join(tmpdir(), 'dmsim-durable-'));
  const path = join(dir, 'd.img');
  const store = new CountingStore(await FileStore.open(path, { size: 1 << 20 }));
  const lu = new DiskLu({ identity, store, blockSize: 512 });
  const exec = (cdb: Buffer, dataOut?: Buffer) => lu.execute({ nexus: A, lun: 0, cdb, dataInLength: 0, dataOut });
  await exec(Buffer.alloc(6));
  return { path, store, lu, exec };
}

describe('disk durability', () => {
  it('a plain WRITE does not sync; FUA and SYNCHRONIZE CACHE do, and the bytes are in the file', async () => {
    const { path, store, lu, exec } = await setup();
    expect((await exec(encodeBlockCdb({ opcode: SbcOp.WRITE_10, lba: 1, count: 1 }), Buffer.alloc(512, 1))).status).toBe(0);
    expect(store.flushes).toBe(0);
    expect((await exec(encodeBlockCdb({ opcode: SbcOp.WRITE_16, lba: 2, count: 1, fua: true }), Buffer.alloc(512, 2))).status).toBe(0);
    expect(store.flushes).toBe(1);
    expect((await exec(encodeBlockCdb({ opcode: SbcOp.SYNCHRONIZE_CACHE_16, lba: 0, count: 0 }))).status).toBe(0);
    expect(store.flushes).toBe(2);
    const file = readFileSync(path);
    expect(file.subarray(512, 1024).equals(Buffer.alloc(512, 1))).toBe(true);
    expect(file.subarray(1024, 1536).equals(Buffer.alloc(512, 2))).toBe(true);
    await lu.close();
    expect(store.flushes).toBe(3);
  });

  it('with the write cache disabled (WCE=0) every write syncs', async () => {
    const { store, lu, exec } = await setup();
    const page = encodeCachingPage({ wce: false, disablePrefetchTransferLength: 0xffff, maximumPrefetch: 0xffff, maximumPrefetchCeiling: 0xffff });
    const list = Buffer.concat([Buffer.alloc(4), page]);
    expect((await exec(encodeModeSelect({ ten: false, pf: true, sp: false, parameterListLength: list.length }), list)).status).toBe(0);
    await exec(encodeBlockCdb({ opcode: SbcOp.WRITE_10, lba: 0, count: 1 }), Buffer.alloc(512, 3));
    await exec(encodeBlockCdb({ opcode: SbcOp.WRITE_10, lba: 1, count: 1 }), Buffer.alloc(512, 3));
    expect(store.flushes).toBe(2);
    await lu.close();
  });
});
