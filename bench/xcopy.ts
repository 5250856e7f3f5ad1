/**
 * Server-free backup benchmark: a file-backed disk image copied to a tape cartridge (.tap) by the
 * data mover with block→stream (00h) segments, against `dd bs=1M` copying the same image to a
 * plain file in the same run. Prints GB/s of both, the ratio (target ≥ 0.9), peak RSS during the
 * copy (target ≤ 150 MB) and the bytes that crossed the backup server's port (target: the
 * parameter list and status only).
 *
 *   npm run bench:xcopy                       4 GiB
 *   DMSIM_BENCH_XCOPY_MB=256 npm run bench:xcopy   quick run
 *   DMSIM_BENCH_XCOPY_ROUNDS=n                     best of n alternating dd / copy rounds (default 3)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomFillSync } from 'node:crypto';
import { Fabric } from '../firmware-sim/fabric/fabric.js';
import { InProcessPort } from '../firmware-sim/fabric/in-process-port.js';
import { TargetDevice } from '../firmware-sim/router/target-device.js';
import { DiskLu } from '../firmware-sim/devices/disk/disk-lu.js';
import { FileStore } from '../firmware-sim/devices/backing/file-store.js';
import { TapeDrive } from '../firmware-sim/devices/tape/drive.js';
import { Cartridge } from '../firmware-sim/devices/tape/cartridge.js';
import { DataMover } from '../firmware-sim/devices/data-mover.js';
import { copyManagerOnFabric } from '../firmware-sim/copy-manager/fabric-scope.js';
import { encodeParameterList, encodeXcopyCdb, type SegmentDescriptor } from '../src/scsi/xcopy.js';
import { decodeSense } from '../src/scsi/sense.js';
import type { LuIdentity, ScsiResult } from '../firmware-sim/router/task.js';

const run = promisify(execFile);
const MiB = 1 << 20;
const size = Number(process.env.DMSIM_BENCH_XCOPY_MB ?? 4096) * MiB;
const BLOCK = 4096;
const RECORD = MiB;
const SEG_BLOCKS = 65535 - (65535 % (RECORD / BLOCK)); // whole records per segment

const id = (name: string, deviceType: number, n: number): LuIdentity => {
  const naa = Buffer.from('6002d5a0000000000000000000000000', 'hex');
  naa.writeUInt32BE(n, 12);
  return { deviceType, vendor: 'DMSIM', product: 'BENCH', revision: '0001', serial: `B${n}`, naa, name };
};

async function makeImage(path: string): Promise<void> {
  const store = await FileStore.open(path, { size });
  const chunk = Buffer.allocUnsafe(8 * MiB);
  for (let off = 0; off < size; off += chunk.length) {
    randomFillSync(chunk);
    await store.write(off, chunk.subarray(0, Math.min(chunk.length, size - off)));
  }
  await store.close();
}

async function dd(src: string, dst: string): Promise<number> {
  const t0 = performance.now();
  await run('dd', [`if=${src}`, `of=${dst}`, 'bs=1M', 'status=none']);
  return (performance.now() - t0) / 1000;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'dmsim-bench-xcopy-'));
  try {
    const img = join(dir, 'disk.img');
    process.stdout.write(`preparing ${size / MiB} MiB disk image... `);
    await makeImage(img);
    console.log('done');

    const fabric = new Fabric();
    const array = new TargetDevice({ name: 'array1', wwnn: '5000000000000a00', ports: [{ wwpn: '5000000000000a01' }] });
    const router = new TargetDevice({ name: 'router1', wwnn: '5000000000000b00', ports: [{ wwpn: '5000000000000b01' }] });
    fabric.addDevice(array);
    fabric.addDevice(router);
    fabric.zoning.setZone('all', ['21000024ff000001', '2100000000dd0001', '5000000000000a01', '5000000000000b01']);
    const cm = copyManagerOnFabric(
      fabric,
      { wwpn: '2100000000dd0001', wwnn: '2000000000dd0001' },
      {
        chunkBytes: Number(process.env.DMSIM_BENCH_XCOPY_CHUNK_KB ?? 1024) * 1024,
        readAhead: Number(process.env.DMSIM_BENCH_XCOPY_READAHEAD ?? 4),
        ...(process.env.DMSIM_BENCH_XCOPY_READ_KB ? { readBytes: Number(process.env.DMSIM_BENCH_XCOPY_READ_KB) * 1024 } : {}),
      },
    );
    const disk = new DiskLu({ identity: id('array1/disk0', 0, 1), store: await FileStore.open(img), blockSize: BLOCK, thin: false });
    array.attach(0, disk);
    const tape = new TapeDrive(id('router1/tape0', 1, 2), { maxBlockLength: RECORD });
    const tapPath = join(dir, 'T00001L4.tap');
    // Each round writes a scratch cartridge, as dd writes a new file: overwriting a full tape from
    // BOT would also time the truncation of the old image, which dd's side does not pay.
    const scratch = async () => {
      const old = await tape.eject({ force: true });
      await old?.close();
      rmSync(tapPath, { force: true });
      rmSync(`${tapPath}.json`, { force: true });
      await tape.loadCartridge(await Cartridge.create(tapPath, { capacity: size + 256 * MiB, barcode: 'T00001L4' }));
    };
    await scratch();
    router.attach(0, new DataMover(id('router1/dm', 0x0c, 3), cm));
    router.attach(1, tape);

    const server = new InProcessPort(fabric, { wwpn: '21000024ff000001', wwnn: '20000024ff000001' });
    let serverBytes = 0;
    const send = async (lun: number, cdb: Buffer, dataOut?: Buffer, dataInLength = 0): Promise<ScsiResult> => {
      for (let i = 0; ; i++) {
        const r = await server.command('5000000000000b01', lun, cdb, { dataInLength, dataOut });
        serverBytes += (dataOut?.length ?? 0) + (r.dataIn?.length ?? 0);
        if (!(r.sense && decodeSense(r.sense).key === 6 && i < 5)) return r;
      }
    };
    // TEST UNIT READY: consume the power-on unit attentions owed to the server's nexus first.
    await send(0, Buffer.alloc(6));
    await send(1, Buffer.alloc(6));

    const blocks = size / BLOCK;
    const segments: SegmentDescriptor[] = [];
    for (let lba = 0; lba < blocks; lba += SEG_BLOCKS) segments.push({ type: 0, src: 0, dst: 1, streamTransferLength: RECORD, blocks: Math.min(SEG_BLOCKS, blocks - lba), lba });
    const cscds = [
      { type: 0xe4, luIdType: 0, nul: false, pdt: 0, relativeInitiatorPort: 0, designator: { codeSet: 1, association: 0, designatorType: 3, value: disk.identity.naa }, params: { kind: 'block' as const, pad: false, blockLength: BLOCK } },
      { type: 0xe4, luIdType: 0, nul: false, pdt: 1, relativeInitiatorPort: 0, designator: { codeSet: 1, association: 0, designatorType: 3, value: tape.identity.naa }, params: { kind: 'stream' as const, pad: false, fixed: false, blockLength: 0 } },
    ];
    const paramLists: Buffer[] = [];
    for (let i = 0; i < segments.length; i += 256) paramLists.push(encodeParameterList({ header: { listId: 1 + paramLists.length, str: true, listIdUsage: 2, priority: 0 }, cscds, segments: segments.slice(i, i + 256), inline: Buffer.alloc(0) }));
    const listBytes = paramLists.reduce((n, b) => n + b.length, 0);

    // Best of ROUNDS each: the box is shared, single runs are noisy. The side that goes first
    // alternates, and each side starts from clean page cache state (its old output gone, sync).
    const rounds = Number(process.env.DMSIM_BENCH_XCOPY_ROUNDS ?? 4);
    const ddRuns: number[] = [];
    const xcRuns: number[] = [];
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const ddSide = async () => {
      rmSync(join(dir, 'dd.out'), { force: true });
      await run('sync');
      ddRuns.push(await dd(img, join(dir, 'dd.out')));
      rmSync(join(dir, 'dd.out'), { force: true });
    };
    const copySide = async () => {
      await scratch();
      const tur = await send(1, Buffer.alloc(6));
      if (tur.status !== 0) throw new Error('tape not ready');
      await run('sync');
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      serverBytes = 0;
      const t0 = performance.now();
      for (const l of paramLists) {
        const r = await send(0, encodeXcopyCdb({ parameterListLength: l.length }), l);
        if (r.status !== 0) throw new Error(`EXTENDED COPY failed: ${JSON.stringify(r.sense ? decodeSense(r.sense) : r.status)}`);
      }
      xcRuns.push((performance.now() - t0) / 1000);
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage().rss);
    };
    for (let round = 0; round < rounds; round++) {
      if (round % 2 === 0) {
        await ddSide();
        await copySide();
      } else {
        await copySide();
        await ddSide();
      }
    }
    const ddSec = Math.min(...ddRuns);
    const xcSec = Math.min(...xcRuns);
    const cart = await tape.eject();
    const tapBytes = statSync(join(dir, 'T00001L4.tap')).size;
    const gbs = (s: number) => size / s / 1e9;
    console.log(`copied ${(size / MiB).toFixed(0)} MiB in ${segments.length} block→stream segments, best of ${rounds} rounds, ${RECORD / 1024} KiB records (tape image ${tapBytes} bytes)`);
    const each = (runs: number[]) => runs.map((t) => gbs(t).toFixed(2)).join(' ');
    console.log(`dd bs=1M          ${gbs(ddSec).toFixed(3)} GB/s  (${ddSec.toFixed(2)} s; rounds: ${each(ddRuns)})`);
    console.log(`EXTENDED COPY     ${gbs(xcSec).toFixed(3)} GB/s  (${xcSec.toFixed(2)} s; rounds: ${each(xcRuns)})`);
    console.log(`ratio             ${(ddSec / xcSec).toFixed(3)}  (target ≥ 0.9)`);
    console.log(`peak RSS          ${(peak / MiB).toFixed(1)} MiB during the copy, ${(rssBefore / MiB).toFixed(1)} MiB before  (target ≤ 150 MB)`);
    console.log(`server port bytes ${serverBytes} per copy  (parameter lists: ${listBytes}; data moved: ${size})`);
    await cart?.close();
    await disk.store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
