/**
 * `npm run bench:snapshot`: the cost of copy-on-write for an application writing over iSCSI
 * (snapshot.md §1.2, §6). The default lab runs in this process behind dmsim's iSCSI target (data
 * on tmpfs); iscsi-iops (libiscsi, /work/shared/tools/iscsi-iops.c) writes 4 KiB blocks to
 * array1/scratch at 32 in flight with 0, 1 and 4 snapshots of it:
 * - first writes: sequential 4 KiB writes right after the snapshots are taken, so every write is
 *   the first to its 4 KiB chunk since the instant (one copy-out per snapshot, fdatasync group commit);
 * - rewrites: random 4 KiB writes once every chunk has been copied (128 KiB writes over the whole
 *   disk first), so no write copies anything.
 * Each figure is the median of BENCH_REPEAT rounds (spread = min..max), and each ratio is against
 * the no-snapshot figure of the same run. Writes bench/out/snapshot-<time>.json.
 *
 * Environment: BENCH_SECONDS (default 1, per first-write round: short, so the run stays within
 * the disk's 16384 chunks), BENCH_REWRITE_SECONDS (default 3), BENCH_REPEAT (default 5), BENCH_DEPTH (32).
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { buildLab } from '../firmware-sim/lab/build.js';
import { loadDefaultLab } from '../firmware-sim/lab/load.js';
import { startIscsiTarget } from '../src/iscsi/target/index.js';
import { silentLogger } from '../src/log.js';
import { buildIops, runIops, type Workload } from './lib/iops.js';

const OUT = path.resolve('bench/out');
const seconds = Number(process.env.BENCH_SECONDS ?? 1);
const rewriteSeconds = Number(process.env.BENCH_REWRITE_SECONDS ?? 3);
const repeat = Math.max(1, Number(process.env.BENCH_REPEAT ?? 5));
const depth = Number(process.env.BENCH_DEPTH ?? 32);
const initiator = 'iqn.2026-11.dev.dmsim.hosts:backup1';
const FIRST: Workload = { id: 'sw4', name: 'seq write 4K (first writes)', write: true, random: false, bytes: 4096 };
const REWRITE: Workload = { id: 'rw', name: 'rand write 4K (rewrites)', write: true, random: true, bytes: 4096 };
const FILL: Workload = { id: 'sw', name: 'seq write 128K', write: true, random: false, bytes: 128 * 1024 };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const bin = await buildIops(OUT);
  const base = existsSync('/dev/shm') ? '/dev/shm' : '/tmp';
  const dataDir = await mkdtemp(path.join(base, 'dmsim-bench-snap-'));
  const rt = await buildLab(await loadDefaultLab(), { dataDir, log: silentLogger() });
  const target = await startIscsiTarget({ dispatcher: rt.fabric, directory: rt.directory, host: '127.0.0.1', port: 0 });
  const iqn = rt.directory.targetNodes().find((t) => t.iqn.endsWith(':array1'))!.iqn;
  const url = `iscsi://127.0.0.1:${target.port}/${iqn}/2`;
  const results: Record<string, { first: number[]; rewrite: number[] }> = {};
  try {
    for (let round = 0; round < repeat; round++) {
      for (const n of [0, 1, 4]) {
        const r = (results[n] ??= { first: [], rewrite: [] });
        const sets: string[] = [];
        for (let i = 0; i < n; i++) sets.push((await rt.snapshots.createSet({ lus: ['array1/scratch'], name: `bench-${round}-${i}` })).setId);
        r.first.push((await runIops(bin, url, FIRST, { seconds, depth, initiator })).iops);
        // Copy every remaining chunk out, then measure writes that copy nothing.
        const copied = () => Math.min(16384, ...rt.snapshots.list().filter((s) => sets.includes(s.setId)).map((s) => s.exceptions));
        for (let tries = 0; tries < 10 && (tries === 0 || copied() < 16384); tries++) await runIops(bin, url, FILL, { seconds: 2, depth: 8, initiator });
        if (copied() < 16384) throw new Error(`round ${round}, ${n} snapshots: only ${copied()} of 16384 chunks copied before the rewrites`);
        r.rewrite.push((await runIops(bin, url, REWRITE, { seconds: rewriteSeconds, depth, initiator })).iops);
        for (const s of sets) await rt.snapshots.deleteSet(s);
      }
    }
  } finally {
    await target.close();
    await rt.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  const row = (xs: number[]) => `${median(xs).toFixed(0)} IOPS (${Math.min(...xs).toFixed(0)}..${Math.max(...xs).toFixed(0)})`;
  const summary: Record<string, unknown> = { repeat, seconds, rewriteSeconds, depth };
  for (const n of [0, 1, 4]) {
    const r = results[n]!;
    const fr = median(r.first) / median(results[0]!.first);
    const rr = median(r.rewrite) / median(results[0]!.rewrite);
    console.log(`${n} snapshot(s): first writes ${row(r.first)} = ${fr.toFixed(2)}x; rewrites ${row(r.rewrite)} = ${rr.toFixed(2)}x`);
    summary[`snapshots${n}`] = { first: r.first, rewrite: r.rewrite, firstRatio: fr, rewriteRatio: rr };
  }
  await mkdir(OUT, { recursive: true });
  const file = path.join(OUT, `snapshot-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(summary, null, 1));
  console.log(`targets: rewrites >= 0.9x, first writes >= 0.5x; written ${file}`);
}

await main();
