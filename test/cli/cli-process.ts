/** Runs the real `dmsim` entry as a child process (through tsx, as bin/dmsim.js does). */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
// tsx's loader by its file URL (its package's "." export), so a child started in another
// directory (a temp dir, as users run it from anywhere) still finds it.
const tsxLoader = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;

export function spawnCli(args: string[], opts: { cwd?: string } = {}): ChildProcess {
  return spawn(process.execPath, ['--import', tsxLoader, main, ...args], { cwd: opts.cwd ?? root, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: { cwd?: string } = {}): Promise<CliResult> {
  const child = spawnCli(args, opts);
  return collect(child);
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Everything each child wrote to stderr so far, so successive waits see lines that came together. */
const seen = new WeakMap<ChildProcess, { text: string }>();

function stderrOf(child: ChildProcess): { text: string } {
  let rec = seen.get(child);
  if (!rec) {
    const r = { text: '' };
    child.stderr!.on('data', (d: Buffer) => (r.text += d.toString()));
    seen.set(child, r);
    rec = r;
  }
  return rec;
}

/** Spawn and start recording stderr at once (before any line can be missed). */
export function spawnCliWatched(args: string[], opts: { cwd?: string } = {}): ChildProcess {
  const child = spawnCli(args, opts);
  stderrOf(child);
  return child;
}

function findLog(text: string, msg: string): Record<string, unknown> | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const rec = JSON.parse(line) as Record<string, unknown>;
      if (rec.msg === msg) return rec;
    } catch {
      // a partial line: the rest comes later
    }
  }
  return undefined;
}

/** Resolves with the first JSON log line (stderr) whose msg matches; rejects if the process ends first. */
export function waitForLog(child: ChildProcess, msg: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  const rec = stderrOf(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no "${msg}" log line within ${timeoutMs} ms; stderr so far:\n${rec.text}`)), timeoutMs);
    const check = () => {
      const found = findLog(rec.text, msg);
      if (found) done(undefined, found);
    };
    const onExit = (code: number | null) => {
      check();
      done(new Error(`process exited (${code}) before "${msg}"; stderr:\n${rec.text}`));
    };
    let finished = false;
    function done(err?: Error, found?: Record<string, unknown>) {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      child.stderr!.off('data', check);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(found!);
    }
    child.stderr!.on('data', check);
    child.on('exit', onExit);
    check();
  });
}
