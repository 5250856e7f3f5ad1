/**
 * The load generator both targets are measured with: /work/shared/tools/iscsi-iops.c (libiscsi,
 * READ(16)/WRITE(16), N in flight, one JSON line out), plus libiscsi's own iscsi-perf (read only)
 * as a cross-check. Same binary, same arguments for tgtd and dmsim.
 */
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Workload {
  /** Short id for BENCH_WORKLOADS: sr, rr, sw, rw. */
  id: string;
  name: string;
  write: boolean;
  random: boolean;
  bytes: number;
}

export const WORKLOADS: Workload[] = [
  { id: 'sr', name: 'seq read 128K', write: false, random: false, bytes: 128 * 1024 },
  { id: 'rr', name: 'rand read 4K', write: false, random: true, bytes: 4096 },
  { id: 'sw', name: 'seq write 128K', write: true, random: false, bytes: 128 * 1024 },
  { id: 'rw', name: 'rand write 4K', write: true, random: true, bytes: 4096 },
];

export interface IopsResult {
  op: string;
  pattern: string;
  bytes: number;
  depth: number;
  seconds: number;
  commands: number;
  iops: number;
  mbps: number;
  failed: number;
}

const SOURCE_CANDIDATES = [
  process.env.ISCSI_IOPS_SOURCE,
  '/work/shared/tools/iscsi-iops.c',
  path.resolve('bench/tools/iscsi-iops.c'),
].filter((p): p is string => !!p);

/** Build iscsi-iops into bench/out unless the binary is newer than its source. */
export async function buildIops(outDir: string): Promise<string> {
  const src = SOURCE_CANDIDATES.find((p) => existsSync(p));
  if (!src) throw new Error(`iscsi-iops.c not found (looked in ${SOURCE_CANDIDATES.join(', ')}); set ISCSI_IOPS_SOURCE`);
  await mkdir(outDir, { recursive: true });
  const bin = path.join(outDir, 'iscsi-iops');
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(src).mtimeMs) return bin;
  try {
    await run('gcc', ['-O2', '-o', bin, src, '-liscsi']);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`building iscsi-iops failed (need gcc and libiscsi-dev): ${err.stderr ?? err.message}`);
  }
  return bin;
}

export async function runIops(
  bin: string,
  url: string,
  w: Workload,
  opts: { seconds: number; depth: number; initiator: string },
): Promise<IopsResult> {
  const args = ['-b', String(w.bytes), '-q', String(opts.depth), '-t', String(opts.seconds), '-i', opts.initiator];
  if (w.write) args.unshift('-w');
  if (w.random) args.unshift('-r');
  let stdout: string;
  try {
    const nice = process.env.BENCH_NICE;
    const [cmd, argv] = nice ? ['nice', ['-n', nice, bin, ...args, url]] : [bin, [...args, url]];
    ({ stdout } = await run(cmd, argv, { timeout: (opts.seconds + 60) * 1000 }));
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`iscsi-iops ${w.name} against ${url} failed: ${err.stderr || err.stdout || err.message}`);
  }
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as IopsResult;
}

/**
 * BENCH_NICE=-N: give every thread of a measured process (and the client) a higher priority, so
 * a busy shared machine disturbs the comparison less. Needs root; threads are reniced one by one
 * because Linux nice values are per thread.
 */
export async function reniceAll(pid: number): Promise<void> {
  const nice = process.env.BENCH_NICE;
  if (!nice) return;
  const tids = await readdir(`/proc/${pid}/task`).catch(() => [String(pid)]);
  await run('renice', ['-n', nice, '-p', ...tids]).catch((e: unknown) => console.error(`renice ${pid}: ${(e as Error).message}`));
}

/** iscsi-perf (libiscsi utils) prints a final "iops average N (M MB/s)". */
export async function runIscsiPerf(
  url: string,
  w: Workload,
  opts: { seconds: number; depth: number; initiator: string; blockSize: number },
): Promise<{ iops: number; mbps: number } | undefined> {
  if (w.write) return undefined;
  const args = ['-i', opts.initiator, '-t', String(opts.seconds), '-m', String(opts.depth), '-b', String(w.bytes / opts.blockSize)];
  if (w.random) args.push('-r');
  const { stdout } = await run('iscsi-perf', [...args, url], { timeout: (opts.seconds + 60) * 1000 });
  const all = [...stdout.matchAll(/iops average (\d+) \((\d+) MB\/s\)/g)];
  const last = all[all.length - 1];
  return last ? { iops: Number(last[1]), mbps: Number(last[2]) } : undefined;
}
