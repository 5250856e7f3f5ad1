import { mkdtempSync, rmSync, openSync, readSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskLu, type DiskOptions } from '../../../firmware-sim/devices/disk/disk-lu.js';
import { FileStore } from '../../../firmware-sim/devices/backing/file-store.js';
import { MemoryStore } from '../../../firmware-sim/devices/backing/memory-store.js';
import { makeNexus, type ITNexus, type ScsiResult } from '../../../firmware-sim/router/task.js';
import { decodeSense, type SenseInfo } from '../../../src/scsi/sense.js';

export const identity = {
  deviceType: 0,
  vendor: 'DMSIM',
  product: 'VDISK',
  revision: '0100',
  serial: '0123456789ABCDEF',
  naa: Buffer.from('6002d5a0000000000000000000000001', 'hex'),
  name: 'array1/disk0',
};

export const A = makeNexus('21000024ff000001', '50000000000000a1');
export const B = makeNexus('21000024ff000002', '50000000000000a1');

export interface TestDisk {
  lu: DiskLu;
  path?: string;
  dir?: string;
  exec(cdb: Buffer | number[], dataOut?: Buffer, nexus?: ITNexus, dataInLength?: number): Promise<ScsiResult>;
  /** Read bytes from the image file through a separate descriptor. */
  fileBytes(offset: number, length: number): Buffer;
  cleanup(): Promise<void>;
}

export async function makeDisk(
  opts: Partial<Omit<DiskOptions, 'store' | 'identity'>> & { blocks?: number; memory?: boolean; path?: string } = {},
): Promise<TestDisk> {
  const blockSize = opts.blockSize ?? 512;
  const size = (opts.blocks ?? 2048) * blockSize;
  let dir: string | undefined;
  let path: string | undefined;
  let store;
  if (opts.memory) store = new MemoryStore(size);
  else {
    dir = opts.path ? undefined : mkdtempSync(join(tmpdir(), 'dmsim-disk-'));
    path = opts.path ?? join(dir!, 'disk.img');
    store = await FileStore.open(path, { size });
  }
  const lu = new DiskLu({ ...opts, identity, store, blockSize });
  const t: TestDisk = {
    lu,
    ...(path ? { path } : {}),
    ...(dir ? { dir } : {}),
    exec: (cdb, dataOut, nexus = A, dataInLength = 1 << 24) =>
      lu.execute({ nexus, lun: 0, cdb: Buffer.isBuffer(cdb) ? cdb : Buffer.from(cdb), dataOut, dataInLength }),
    fileBytes(offset, length) {
      const fd = openSync(path!, 'r');
      try {
        const b = Buffer.alloc(length);
        readSync(fd, b, 0, length, offset);
        return b;
      } finally {
        closeSync(fd);
      }
    },
    async cleanup() {
      await lu.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  // Consume the power-on unit attention for both test nexuses.
  await t.exec([0, 0, 0, 0, 0, 0], undefined, A);
  await t.exec([0, 0, 0, 0, 0, 0], undefined, B);
  return t;
}

export function senseOf(r: ScsiResult): SenseInfo {
  if (r.status !== 2 || !r.sense) throw new Error(`expected CHECK CONDITION, got status ${r.status}`);
  return decodeSense(r.sense);
}

export const pattern = (n: number, seed: number): Buffer => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + seed * 7 + (i >> 9)) & 0xff;
  return b;
};
