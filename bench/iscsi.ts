/**
 * `npm run bench:iscsi`: dmsim's iSCSI target against tgtd (Debian `tgt`) on the same machine,
 * same kind of tmpfs-backed disk of the same size, same client (iscsi-iops, libiscsi), same run:
 * sequential 128 KiB and random 4 KiB reads and writes at 32 in flight. Prints MB/s, IOPS and
 * the ratio dmsim/tgtd per workload, and writes the numbers to bench/out/iscsi-<time>.json.
 *
 * Environment:
 *   BENCH_SECONDS (default 10)   seconds per workload per target
 *   BENCH_WARMUP  (default 1)    seconds of unmeasured warm-up per workload per target
 *   BENCH_DEPTH   (default 32)   commands in flight
 *   BENCH_REPEAT  (default 1)    rounds per workload, order alternating; the median round is reported
 *   BENCH_INITIATOR              initiator IQN (default: the default lab's backup1 host, which
 *                                 is zoned and masked to the array's disks)
 *   BENCH_DMSIM_TARGET / BENCH_DMSIM_LUN   pick the dmsim LU instead of the first disk found
 *   BENCH_ONLY=tgtd|dmsim        measure one side only
 *   BENCH_WORKLOADS=sr,rr,sw,rw  subset of workloads (seq/rand read/write)
 *   BENCH_PROFILE=1              run dmsim under node --cpu-prof (profiles in bench/out/prof)
 *   BENCH_NICE=-10               run both targets and the client at this nice value (root)
 *   BENCH_PERF=1                 also run libiscsi's iscsi-perf (reads only) as a cross-check
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startTgtd, type Tgtd } from '../test/helpers/tgtd.js';
import { haveTool } from '../test/helpers/require-tool.js';
import { clearUnitAttentions, connect, IscsiInitiator } from '../src/iscsi/initiator/index.js';
import { buildIops, reniceAll, runIops, runIscsiPerf, WORKLOADS, type IopsResult, type Workload } from './lib/iops.js';
import { startDmsim, type DmsimProcess } from './lib/dmsim.js';

const OUT = path.resolve('bench/out');
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const warmup = Number(process.env.BENCH_WARMUP ?? 1);
const depth = Number(process.env.BENCH_DEPTH ?? 32);
const repeat = Math.max(1, Number(process.env.BENCH_REPEAT ?? 1));
const initiator = process.env.BENCH_INITIATOR ?? 'iqn.2026-11.dev.dmsim.hosts:backup1';
const only = process.env.BENCH_ONLY;

interface Subject {
  name: 'tgtd' | 'dmsim';
  pid: number;
  url: string;
  blockSize: number;
  stop(): Promise<void>;
}

interface DiskLu {
  target: string;
  lun: number;
  blockSize: number;
  bytes: number;
}

/** Find a disk LU on dmsim through the dmsim initiator: SendTargets, REPORT LUNS, INQUIRY, READ CAPACITY. */
async function findDiskLu(host: string, port: number): Promise<DiskLu> {
  const targets = await new IscsiInitiator({ initiatorName: initiator }).discover(host, port);
  const wantTarget = process.env.BENCH_DMSIM_TARGET;
  const wantLun = process.env.BENCH_DMSIM_LUN !== undefined ? Number(process.env.BENCH_DMSIM_LUN) : undefined;
  for (const t of targets) {
    if (wantTarget && t.name !== wantTarget) continue;
    const s = await connect({ host, port, initiatorName: initiator, targetName: t.name });
    try {
      for (const lun of await s.reportLuns()) {
        if (wantLun !== undefined && lun !== wantLun) continue;
        await clearUnitAttentions(s, lun);
        const inq = await s.inquiry(lun);
        if (inq.qualifier !== 0 || inq.deviceType !== 0) continue;
        const cap = await s.readCapacity16(lun);
        const bytes = (cap.lastLba + 1) * cap.blockLength;
        if (bytes >= 16 * 1024 * 1024) return { target: t.name, lun, blockSize: cap.blockLength, bytes };
      }
    } finally {
      await s.close();
    }
  }
  throw new Error(`no disk LU of at least 16 MiB visible to ${initiator} on dmsim (targets: ${targets.map((t) => t.name).join(', ') || 'none'})`);
}

async function startDmsimSubject(): Promise<{ subject: Subject; lu: DiskLu; via: string }> {
  const profDir = process.env.BENCH_PROFILE === '1' ? path.join(OUT, 'prof') : undefined;
  if (profDir) await mkdir(profDir, { recursive: true });
  const d: DmsimProcess = await startDmsim(profDir ? { cpuProfDir: profDir } : {});
  try {
    const lu = await findDiskLu(d.host, d.port);
    return { subject: { name: 'dmsim', pid: d.pid, url: `iscsi://${d.host}:${d.port}/${lu.target}/${lu.lun}`, blockSize: lu.blockSize, stop: d.stop }, lu, via: d.via };
  } catch (e) {
    await d.stop();
    throw e;
  }
}

async function startTgtdSubject(bytes: number, blockSize: number): Promise<Subject> {
  const t: Tgtd = await startTgtd({ sizeBytes: bytes, blockSize });
  return { name: 'tgtd', pid: t.pid, url: `iscsi://${t.host}:${t.port}/${t.targetName}/1`, blockSize, stop: t.stop };
}

/**
 * CPU time (user + system, all threads) a process has used, in microseconds, from /proc. Divided
 * by commands it gives a per-command cost that, unlike IOPS, does not depend much on how busy the
 * machine is.
 */
function cpuMicros(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name and state.
    return ((Number(rest[11]) + Number(rest[12])) * 1e6) / CLK_TCK;
  } catch {
    return NaN;
  }
}
const CLK_TCK = 100;

type Measured = IopsResult & { cpuUsPerCmd: number };

const fmt = (n: number | undefined, d = 0) => (n === undefined ? '-' : n.toFixed(d));

function table(rows: Array<{ w: Workload; tgtd?: Measured; dmsim?: Measured }>): string {
  const head = ['workload', 'tgtd MB/s', 'tgtd IOPS', 'dmsim MB/s', 'dmsim IOPS', 'dmsim/tgtd', 'CPU µs/cmd tgtd', 'CPU µs/cmd dmsim'];
  const body = rows.map(({ w, tgtd, dmsim }) => [
    w.name,
    fmt(tgtd?.mbps, 1),
    fmt(tgtd?.iops),
    fmt(dmsim?.mbps, 1),
    fmt(dmsim?.iops),
    tgtd && dmsim && tgtd.iops > 0 ? (dmsim.iops / tgtd.iops).toFixed(2) : '-',
    fmt(tgtd?.cpuUsPerCmd, 1),
    fmt(dmsim?.cpuUsPerCmd, 1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ') + ' |';
  return [line(head), '|' + widths.map((w, i) => (i === 0 ? '-' : '') + '-'.repeat(w + 1) + (i === 0 ? '' : ':')).join('|') + '|', ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  for (const tool of ['gcc', 'tgtd', 'tgtadm']) if (!haveTool(tool)) throw new Error(`bench:iscsi needs ${tool} (Debian: gcc, libiscsi-dev, tgt)`);
  const bin = await buildIops(OUT);
  const subjects: Subject[] = [];
  const stopAll = async () => {
    for (const s of subjects.splice(0)) await s.stop().catch(() => undefined);
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));

  try {
    let size = 64 * 1024 * 1024;
    let blockSize = 512;
    let dmsimError: string | undefined;
    if (only !== 'tgtd') {
      try {
        const { subject, lu, via } = await startDmsimSubject();
        subjects.push(subject);
        size = lu.bytes;
        blockSize = lu.blockSize;
        console.log(`dmsim: ${subject.url} (${size} bytes, ${blockSize}-byte blocks; served by ${via})`);
      } catch (e) {
        dmsimError = (e as Error).message;
        console.error(`dmsim unavailable, measuring tgtd only: ${dmsimError}`);
      }
    }
    if (only !== 'dmsim') {
      const t = await startTgtdSubject(size, blockSize);
      subjects.unshift(t);
      console.log(`tgtd:  ${t.url}`);
    }
    for (const s of subjects) await reniceAll(s.pid);
    console.log(`client: iscsi-iops, ${depth} in flight, ${seconds} s per workload (+${warmup} s warm-up), initiator ${initiator}\n`);

    const rows: Array<{ w: Workload; tgtd?: Measured; dmsim?: Measured; perf?: Record<string, { iops: number; mbps: number } | undefined> }> = [];
    const pick = process.env.BENCH_WORKLOADS?.split(',');
    for (const w of WORKLOADS.filter((x) => !pick || pick.includes(x.id))) {
      const row: (typeof rows)[number] = { w };
      const runs: Record<string, Measured[]> = {};
      for (let rep = 0; rep < repeat; rep++) {
        // Alternate the order each round so drift in machine load hits both sides alike.
        for (const s of rep % 2 ? [...subjects].reverse() : subjects) {
          if (warmup > 0 && rep === 0) await runIops(bin, s.url, w, { seconds: warmup, depth, initiator });
          const cpu0 = cpuMicros(s.pid);
          const io = await runIops(bin, s.url, w, { seconds, depth, initiator });
          const r: Measured = { ...io, cpuUsPerCmd: (cpuMicros(s.pid) - cpu0) / Math.max(1, io.commands) };
          if (r.failed) throw new Error(`${s.name} ${w.name}: commands failed`);
          (runs[s.name] ??= []).push(r);
          console.log(`  ${w.name.padEnd(15)} ${s.name.padEnd(5)} ${r.mbps.toFixed(1).padStart(8)} MB/s ${r.iops.toFixed(0).padStart(8)} IOPS ${r.cpuUsPerCmd.toFixed(1).padStart(7)} CPU µs/cmd`);
        }
      }
      for (const s of subjects) {
        // The median run by IOPS stands for the workload.
        const sorted = [...(runs[s.name] ?? [])].sort((a, b) => a.iops - b.iops);
        const median = sorted[Math.floor(sorted.length / 2)];
        if (median) row[s.name] = median;
        if (process.env.BENCH_PERF === '1' && !w.write) {
          row.perf ??= {};
          row.perf[s.name] = await runIscsiPerf(s.url, w, { seconds, depth, initiator, blockSize: s.blockSize });
        }
      }
      rows.push(row);
    }
    console.log('\n' + table(rows));
    if (rows.some((r) => r.perf)) {
      console.log('\niscsi-perf cross-check (reads, IOPS):');
      for (const r of rows) if (r.perf) console.log(`  ${r.w.name.padEnd(15)} tgtd ${fmt(r.perf.tgtd?.iops)}  dmsim ${fmt(r.perf.dmsim?.iops)}`);
    }
    if (dmsimError) console.log(`\n(dmsim not measured: ${dmsimError})`);
    await mkdir(OUT, { recursive: true });
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(`\nload average at the end: ${load} (IOPS ratios are only meaningful on a quiet machine; CPU µs/cmd much less sensitive)`);
    const file = path.join(OUT, `iscsi-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(file, JSON.stringify({ seconds, warmup, depth, repeat, initiator, size, blockSize, load, rows }, null, 2));
    console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
  } finally {
    await stopAll();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
