/**
 * `npx tsx bench/disk.ts`: the disk LU's own data path, in process, against the floor it sits on.
 * The same image file on tmpfs is driven at 32 in flight with sequential 128 KiB and random 4 KiB
 * reads and writes twice: once as SCSI commands through DiskLu.execute() (CDB decode, checks,
 * bitmaps, store), once as bare pread/pwrite calls of the same sizes (the baseline). Prints
 * IOPS, MB/s and the ratio disk/baseline: how much the SCSI layer costs before any transport.
 *
 * Environment: BENCH_SECONDS (default 3), BENCH_DIR (default /dev/shm, else the OS temp dir).
 */
import { existsSync, openSync, closeSync, readSync, writeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DiskLu } from '../firmware-sim/devices/disk/disk-lu.js';
import { FileStore } from '../firmware-sim/devices/backing/file-store.js';
import { makeNexus } from '../firmware-sim/router/task.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const dir = process.env.BENCH_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const SIZE = 1 << 30;
const BS = 512;
const DEPTH = 32;

interface Workload {
  name: string;
  bytes: number;
  write: boolean;
  random: boolean;
}
const WORKLOADS: Workload[] = [
  { name: 'seq write 128K', bytes: 128 << 10, write: true, random: false },
  { name: 'seq read 128K', bytes: 128 << 10, write: false, random: false },
  { name: 'rand write 4K', bytes: 4096, write: true, random: true },
  { name: 'rand read 4K', bytes: 4096, write: false, random: true },
];

async function drive(w: Workload, op: (offset: number) => Promise<void>): Promise<number> {
  let next = 0;
  let ops = 0;
  const slots = SIZE / w.bytes;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: DEPTH }, async () => {
      while (performance.now() < end) {
        const slot = w.random ? Math.floor(Math.random() * slots) : (next = (next + 1) % slots);
        await op(slot * w.bytes);
        ops++;
      }
    }),
  );
  return ops / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const file = path.join(dir, `dmsim-bench-disk-${process.pid}.img`);
  const store = await FileStore.open(file, { size: SIZE });
  const lu = new DiskLu({
    identity: { deviceType: 0, vendor: 'DMSIM', product: 'BENCH', revision: '0100', serial: 'BENCH', naa: Buffer.alloc(16), name: 'bench/disk' },
    store,
    blockSize: BS,
  });
  const nexus = makeNexus('21000000000000b1', '50000000000000b1');
  await lu.execute({ nexus, lun: 0, cdb: Buffer.alloc(6), dataInLength: 0 });
  // Map the whole image first so reads and writes hit allocated pages in both runs.
  const fill = Buffer.alloc(1 << 20, 0x5a);
  for (let off = 0; off < SIZE; off += fill.length) await store.write(off, fill);
  const fd = openSync(file, 'r+');
  const rows: string[] = [];
  try {
    for (const w of WORKLOADS) {
      const data = Buffer.alloc(w.bytes, 0xa5);
      const blocks = w.bytes / BS;
      const scsi = await drive(w, async (offset) => {
        const cdb = Buffer.alloc(10);
        cdb[0] = w.write ? 0x2a : 0x28;
        cdb.writeUInt32BE(offset / BS, 2);
        cdb.writeUInt16BE(blocks, 7);
        const r = await lu.execute({ nexus, lun: 0, cdb, dataInLength: w.write ? 0 : w.bytes, ...(w.write ? { dataOut: data } : {}) });
        if (r.status !== 0) throw new Error(`${w.name}: status ${r.status}`);
      });
      const base = await drive(w, async (offset) => {
        if (w.write) writeSync(fd, data, 0, w.bytes, offset);
        else readSync(fd, Buffer.allocUnsafe(w.bytes), 0, w.bytes, offset);
        await Promise.resolve();
      });
      const mb = (iops: number) => ((iops * w.bytes) / 1e6).toFixed(0).padStart(6);
      rows.push(
        `| ${w.name.padEnd(14)} | ${base.toFixed(0).padStart(9)} | ${mb(base)} | ${scsi.toFixed(0).padStart(9)} | ${mb(scsi)} | ${(scsi / base).toFixed(2).padStart(5)} |`,
      );
    }
  } finally {
    closeSync(fd);
    await lu.close();
    rmSync(file, { force: true });
    rmSync(`${file}.dmsim-meta`, { force: true });
  }
  console.log(`disk LU vs bare pread/pwrite, ${DEPTH} in flight, ${seconds} s each, image in ${dir}\n`);
  console.log('| workload       | base IOPS |   MB/s | disk IOPS |   MB/s | ratio |');
  console.log('|----------------|----------:|-------:|----------:|-------:|------:|');
  for (const r of rows) console.log(r);
}

await main();
