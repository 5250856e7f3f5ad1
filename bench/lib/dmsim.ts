/**
 * dmsim as a benchmark subject: `dmsim router` in a child process with its data directory on
 * tmpfs, the portal on a free port (it reports the bound address in its "router ready" log line),
 * optionally under `node --cpu-prof`. Stopped with SIGINT so media flush and profiles get written.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';

export interface DmsimProcess {
  host: string;
  port: number;
  dataDir: string;
  pid: number;
  /** Which program serves: `dmsim router` or the bench launcher. */
  via: string;
  log(): string;
  stop(): Promise<void>;
}

export interface DmsimLaunchOptions {
  /** Write a V8 CPU profile into this directory when the process exits. */
  cpuProfDir?: string;
  lab?: string;
  timeoutMs?: number;
}

/**
 * `dmsim router`; when it cannot serve (no portal yet, or the CLI does not start because some
 * unrelated part is broken), the bench launcher, which needs only the lab and the iSCSI target.
 */
export async function startDmsim(opts: DmsimLaunchOptions = {}): Promise<DmsimProcess> {
  try {
    return await launch('src/cli/main.ts', ['router'], opts);
  } catch (e) {
    const why = e instanceof NoPortalError ? e.message : (e as Error).message.split('\n').slice(0, 3).join(' ');
    console.error(`dmsim router unusable (${why.slice(0, 300)}); using bench/lib/dmsim-launch.ts`);
    return launch('bench/lib/dmsim-launch.ts', [], opts);
  }
}

class NoPortalError extends Error {}

async function launch(script: string, sub: string[], opts: DmsimLaunchOptions): Promise<DmsimProcess> {
  const base = existsSync('/dev/shm') ? '/dev/shm' : '/tmp';
  const dataDir = await mkdtemp(path.join(base, 'dmsim-bench-'));
  const nodeArgs = ['--import', 'tsx'];
  if (opts.cpuProfDir) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir);
  const args = [...nodeArgs, script, ...sub, '--iscsi', '127.0.0.1:0', '--data', dataDir];
  if (sub.length) args.push('--log-level', 'info');
  if (opts.lab) args.push('--lab', opts.lab);
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const log = () => out;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await gone;
      clearTimeout(t);
    }
    await rm(dataDir, { recursive: true, force: true });
  };

  const ready = new Promise<{ host: string; port: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dmsim router not ready after ${opts.timeoutMs ?? 60_000} ms`)), opts.timeoutMs ?? 60_000);
    // pino writes to stderr; accept the readiness line on either stream.
    const bufs = { out: '', err: '' };
    const onLine = (line: string) => {
      let rec: { msg?: string; iscsi?: string };
      try {
        rec = JSON.parse(line) as { msg?: string; iscsi?: string };
      } catch {
        return;
      }
      if (rec.msg !== 'router ready') return;
      clearTimeout(timer);
      if (!rec.iscsi) return reject(new NoPortalError('dmsim router is up but opened no iSCSI portal'));
      const m = /^(.*):(\d+)$/.exec(rec.iscsi);
      if (!m) return reject(new Error(`cannot parse iSCSI address "${rec.iscsi}"`));
      resolve({ host: m[1]!, port: Number(m[2]) });
    };
    const feed = (which: 'out' | 'err') => (d: Buffer) => {
      out += d.toString();
      bufs[which] += d.toString();
      let nl: number;
      while ((nl = bufs[which].indexOf('\n')) >= 0) {
        onLine(bufs[which].slice(0, nl));
        bufs[which] = bufs[which].slice(nl + 1);
      }
    };
    child.stdout?.on('data', feed('out'));
    child.stderr?.on('data', feed('err'));
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`dmsim router exited (${code ?? sig}) before it was ready:\n${out.slice(-4000)}`));
    });
  });

  try {
    const { host, port } = await ready;
    return { host, port, dataDir, pid: child.pid ?? 0, via: sub.length ? `dmsim ${sub.join(' ')}` : script, log, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
