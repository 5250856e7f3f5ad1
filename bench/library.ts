/**
 * `npm run bench:library`: what the robot adds to a backup window. The same tape backup — BENCH_MIB
 * (default 256) MiB written in 256 KiB blocks plus a filemark, in process — is run twice per round:
 * once on a drive that already holds the cartridge (`--tape DRIVE`, the baseline), once with the
 * library mounting it first (MOVE slot → drive) and dismounting it afterwards (UNLOAD, MOVE back).
 * The library uses the realistic time model (smc.md §6: pick+place 4 s, thread 12 s, unload 10 s);
 * its waits are recorded through the changer's sleep hook instead of slept, and added to the
 * measured command time, so a round takes seconds, not half a minute. Prints medians and spread.
 *
 * Environment: BENCH_MIB (256), BENCH_ROUNDS (3), BENCH_DIR (default /dev/shm, else the OS temp dir).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ChangerLu, REALISTIC_TIMING } from '../firmware-sim/devices/changer/changer-lu.js';
import { Inventory } from '../firmware-sim/devices/changer/inventory.js';
import { Cartridge } from '../firmware-sim/devices/tape/cartridge.js';
import { TapeDrive } from '../firmware-sim/devices/tape/drive.js';
import { makeNexus } from '../firmware-sim/router/task.js';
import type { ScsiLogicalUnit } from '../firmware-sim/lu/logical-unit.js';
import { encodeMoveMedium } from '../src/scsi/smc.js';
import { encodeLoadUnload, encodeWrite6, encodeWriteFilemarks6 } from '../src/scsi/tape.js';

const MIB = Number(process.env.BENCH_MIB ?? 256);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const base = process.env.BENCH_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const BLOCK = 256 << 10;
const I = makeNexus('21000024ff00be01', '50000000000000be');
const MAP = { transport: { first: 1, count: 1 }, importExport: { first: 0x10, count: 1 }, dataTransfer: { first: 0x100, count: 1 }, storage: { first: 0x1000, count: 2 } };

async function ok(lu: ScsiLogicalUnit, cdb: Buffer, dataOut?: Buffer): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const r = await lu.execute({ nexus: I, lun: 0, cdb, dataOut, dataInLength: 0 });
    if (r.status === 0) return;
    if (r.sense?.[2] !== 0x06) throw new Error(`command ${cdb[0]!.toString(16)} failed: ${r.sense?.toString('hex')}`);
  }
}

async function backup(drive: TapeDrive): Promise<void> {
  const block = Buffer.alloc(BLOCK, 0xa5);
  for (let i = 0; i < (MIB << 20) / BLOCK; i++) await ok(drive, encodeWrite6({ fixed: false, transferLength: BLOCK }), block);
  await ok(drive, encodeWriteFilemarks6({ count: 1 }));
}

const newDrive = () => new TapeDrive({ deviceType: 1, vendor: 'DMSIM', product: 'VTAPE-LTO4', revision: '0100', serial: 'BENCH00001', naa: Buffer.alloc(16, 1), name: 'bench/tape0' });

/** Baseline: the cartridge is already in the drive. */
async function withoutLibrary(dir: string): Promise<number> {
  const drive = newDrive();
  await drive.loadCartridge(await Cartridge.create(path.join(dir, 'B.tap'), { barcode: 'B00001L4', capacity: (MIB + 16) << 20 }));
  const t0 = performance.now();
  await backup(drive);
  const ms = performance.now() - t0;
  await drive.eject({ force: true });
  return ms;
}

/** Mount, back up, dismount; returns measured command time + the modelled robot and drive time. */
async function withLibrary(dir: string): Promise<{ total: number; robot: number }> {
  await (await Cartridge.create(path.join(dir, 'L.tap'), { barcode: 'L00001L4', capacity: (MIB + 16) << 20 })).close();
  const drive = newDrive();
  let robot = 0;
  const lib = new ChangerLu(
    { deviceType: 8, vendor: 'DMSIM', product: 'TAPE LIBRARY', revision: '0100', serial: 'BENCHLIB01', naa: Buffer.alloc(16, 2), name: 'bench/library' },
    {
      inventory: await Inventory.open(path.join(dir, 'lib.json'), MAP, new Map([[0x1000, { barcode: 'L00001L4' }]])),
      drives: [{ drive, lun: 1 }],
      // The drive threads at once; its 12 s are counted by the changer's driveLoadMs step.
      loadCartridge: async (_barcode, d) => d.loadCartridge(await Cartridge.open(path.join(dir, 'L.tap'))),
      timing: REALISTIC_TIMING,
      sleep: async (ms) => void (robot += ms),
    },
  );
  const t0 = performance.now();
  await ok(lib, encodeMoveMedium({ source: 0x1000, destination: 0x100 }));
  await backup(drive);
  await ok(drive, encodeLoadUnload({ load: false, hold: true }));
  await ok(lib, encodeMoveMedium({ source: 0x100, destination: 0x1000 }));
  return { total: performance.now() - t0 + robot, robot };
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const spread = (a: number[]) => `${(Math.min(...a) / 1000).toFixed(2)}–${(Math.max(...a) / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  const plain: number[] = [];
  const lib: number[] = [];
  let robot = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const dir = mkdtempSync(path.join(base, 'dmsim-bench-library-'));
    try {
      plain.push(await withoutLibrary(dir));
      const l = await withLibrary(dir);
      lib.push(l.total);
      robot = l.robot;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`backup of ${MIB} MiB to tape, ${ROUNDS} rounds (median, min–max):`);
  console.log(`  drive already loaded (--tape DRIVE): ${(median(plain) / 1000).toFixed(2)} s  (${spread(plain)})`);
  console.log(`  with library mount + dismount:       ${(median(lib) / 1000).toFixed(2)} s  (${spread(lib)}), of which robot/drive model ${(robot / 1000).toFixed(1)} s`);
  console.log(`  ratio library/plain: ${(median(lib) / median(plain)).toFixed(1)}×`);
}

await main();
