/**
 * Concurrency benchmark (issue #19): N server-free backups at once, disk→tape, each on its own
 * disk and its own tape drive behind one data mover, against ONE such copy alone in the same run.
 * Prints per round the time of the lone copy, each concurrent copy's time and share, the aggregate
 * throughput of the concurrent copies as a ratio of the lone copy's (target ≥ 0.9) and the spread
 * of the shares (target: each within 20% of the others), with core count and load beside them.
 *
 *   npm run bench:concurrency                                   4 copies of 256 MiB, 3 rounds
 *   DMSIM_BENCH_SIZE=1GiB DMSIM_BENCH_COPIES=4 DMSIM_BENCH_ROUNDS=5 npm run bench:concurrency
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
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
const parseSize = (t: string): number => {
  const m = /^\s*(\d+)\s*(mib|m|gib|g|)\s*$/i.exec(t);
  if (!m) throw new Error(`DMSIM_BENCH_SIZE: cannot read "${t}" (use e.g. 256MiB, 1GiB)`);
  return Number(m[1]) * (/^g/i.test(m[2]!) ? 1024 * MiB : MiB);
};
const SIZE = parseSize(process.env.DMSIM_BENCH_SIZE ?? '256MiB');
const COPIES = Math.max(2, Number(process.env.DMSIM_BENCH_COPIES ?? 4));
const ROUNDS = Math.max(1, Number(process.env.DMSIM_BENCH_ROUNDS ?? 3));
const BLOCK = 4096;
const RECORD = MiB;
const SEG_BLOCKS = 65535 - (65535 % (RECORD / BLOCK));
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};
const id = (name: string, deviceType: number, n: number): LuIdentity => {
  const naa = Buffer.from('6002d5a0000000000000000000000000', 'hex');
  naa.writeUInt32BE(n, 12);
  return { deviceType, vendor: 'DMSIM', product: 'BENCH', revision: '0001', serial: `C${n}`, naa, name };
};

async function makeImage(path: string, size: number): Promise<void> {
  const store = await FileStore.open(path, { size });
  const chunk = Buffer.allocUnsafe(8 * MiB);
  for (let off = 0; off < size; off += chunk.length) {
    randomFillSync(chunk);
    await store.write(off, chunk.subarray(0, Math.min(chunk.length, size - off)));
  }
  await store.close();
}

async function main() {
  console.log(`machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, load average ${load()}`);
  console.log(`${COPIES} copies of ${SIZE / MiB} MiB disk→tape, each on its own disk and drive; ${ROUNDS} rounds (one copy alone, then all at once)\n`);
  const dir = mkdtempSync(join(tmpdir(), 'dmsim-bench-conc-'));
  try {
    const fabric = new Fabric();
    const array = new TargetDevice({ name: 'array1', wwnn: '5000000000000a00', ports: [{ wwpn: '5000000000000a01' }] });
    const router = new TargetDevice({ name: 'router1', wwnn: '5000000000000b00', ports: [{ wwpn: '5000000000000b01' }] });
    fabric.addDevice(array);
    fabric.addDevice(router);
    fabric.zoning.setZone('all', ['21000024ff000001', '2100000000dd0001', '5000000000000a01', '5000000000000b01']);
    const cm = copyManagerOnFabric(fabric, { wwpn: '2100000000dd0001', wwnn: '2000000000dd0001' }, { chunkBytes: MiB, readAhead: 4 });
    router.attach(0, new DataMover(id('router1/dm', 0x0c, 1), cm));
    const disks: DiskLu[] = [];
    const drives: TapeDrive[] = [];
    for (let i = 0; i < COPIES; i++) {
      process.stdout.write(`preparing disk ${i + 1}/${COPIES}... `);
      const img = join(dir, `disk${i}.img`);
      await makeImage(img, SIZE);
      const disk = new DiskLu({ identity: id(`array1/disk${i}`, 0, 10 + i), store: await FileStore.open(img), blockSize: BLOCK, thin: false });
      array.attach(i, disk);
      disks.push(disk);
      const drive = new TapeDrive(id(`router1/tape${i}`, 1, 20 + i), { maxBlockLength: RECORD });
      router.attach(1 + i, drive);
      drives.push(drive);
    }
    console.log('done');
    const server = new InProcessPort(fabric, { wwpn: '21000024ff000001', wwnn: '20000024ff000001' });
    const send = async (lun: number, cdb: Buffer, dataOut?: Buffer): Promise<ScsiResult> => {
      for (let i = 0; ; i++) {
        const r = await server.command('5000000000000b01', lun, cdb, { dataInLength: 0, dataOut });
        if (!(r.sense && decodeSense(r.sense).key === 6 && i < 5)) return r;
      }
    };
    await send(0, Buffer.alloc(6));
    const tapPath = (i: number) => join(dir, `T0000${i}L4.tap`);
    const scratch = async (i: number) => {
      const old = await drives[i]!.eject({ force: true });
      await old?.close();
      rmSync(tapPath(i), { force: true });
      rmSync(`${tapPath(i)}.json`, { force: true });
      await drives[i]!.loadCartridge(await Cartridge.create(tapPath(i), { capacity: SIZE + 256 * MiB, barcode: `T0000${i}L4` }));
      await send(1 + i, Buffer.alloc(6)); // consume the medium-changed unit attention
    };
    let listId = 1;
    const lists = (i: number): Buffer[] => {
      const blocks = SIZE / BLOCK;
      const segments: SegmentDescriptor[] = [];
      for (let lba = 0; lba < blocks; lba += SEG_BLOCKS) segments.push({ type: 0, src: 0, dst: 1, streamTransferLength: RECORD, blocks: Math.min(SEG_BLOCKS, blocks - lba), lba });
      const cscds = [
        { type: 0xe4, luIdType: 0, nul: false, pdt: 0, relativeInitiatorPort: 0, designator: { codeSet: 1, association: 0, designatorType: 3, value: disks[i]!.identity.naa }, params: { kind: 'block' as const, pad: false, blockLength: BLOCK } },
        { type: 0xe4, luIdType: 0, nul: false, pdt: 1, relativeInitiatorPort: 0, designator: { codeSet: 1, association: 0, designatorType: 3, value: drives[i]!.identity.naa }, params: { kind: 'stream' as const, pad: false, fixed: false, blockLength: 0 } },
      ];
      const out: Buffer[] = [];
      for (let k = 0; k < segments.length; k += 256) out.push(encodeParameterList({ header: { listId: listId++ & 0xff, str: true, listIdUsage: 2, priority: 0 }, cscds, segments: segments.slice(k, k + 256), inline: Buffer.alloc(0) }));
      return out;
    };
    const copy = async (i: number, t0: number): Promise<number> => {
      for (const l of lists(i)) {
        const r = await send(0, encodeXcopyCdb({ parameterListLength: l.length }), l);
        if (r.status !== 0) throw new Error(`copy ${i}: EXTENDED COPY failed: ${JSON.stringify(r.sense ? decodeSense(r.sense) : r.status)}`);
      }
      return (performance.now() - t0) / 1000;
    };
    const cleanup = async () => {
      for (let i = 0; i < COPIES; i++) {
        const c = await drives[i]!.eject({ force: true });
        await c?.close();
        rmSync(tapPath(i), { force: true });
        rmSync(`${tapPath(i)}.json`, { force: true });
      }
    };
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const ratios: number[] = [];
    const spreads: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await scratch(0);
      await run('sync');
      const l0 = load();
      const alone = await copy(0, performance.now());
      await cleanup();
      for (let i = 0; i < COPIES; i++) await scratch(i);
      await run('sync');
      const t0 = performance.now();
      const times = await Promise.all(disks.map((_, i) => copy(i, t0)));
      await cleanup();
      const wall = Math.max(...times);
      const ratio = (COPIES * SIZE) / wall / (SIZE / alone);
      // Share: each copy's rate over the mean rate; spread = (max - min) / min of the rates.
      const rates = times.map((t) => SIZE / t);
      const spread = (Math.max(...rates) - Math.min(...rates)) / Math.min(...rates);
      ratios.push(ratio);
      spreads.push(spread);
      console.log(`round ${round + 1}: alone ${(SIZE / alone / 1e9).toFixed(3)} GB/s (${alone.toFixed(2)} s); ${COPIES} at once ${((COPIES * SIZE) / wall / 1e9).toFixed(3)} GB/s aggregate (${wall.toFixed(2)} s), per copy ${times.map((t) => (SIZE / t / 1e9).toFixed(3)).join(' ')}; ratio ${ratio.toFixed(3)}, share spread ${(spread * 100).toFixed(1)}%  [load ${l0}]`);
    }
    clearInterval(sampler);
    console.log(`\naggregate / alone  median ${median(ratios).toFixed(3)}  best ${Math.max(...ratios).toFixed(3)}  worst ${Math.min(...ratios).toFixed(3)}  (target ≥ 0.9)`);
    console.log(`share spread       median ${(median(spreads) * 100).toFixed(1)}%  worst ${(Math.max(...spreads) * 100).toFixed(1)}%  (target ≤ 20%)`);
    console.log(`peak RSS           ${(peak / MiB).toFixed(1)} MiB`);
    for (const d of disks) await d.store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
