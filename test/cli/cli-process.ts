/** Runs the real `dmsim` entry as a child process (through tsx, as bin/dmsim.js does). */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export function spawnCli(args: string[], opts: { cwd?: string } = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', main, ...args], { cwd: opts.cwd ?? root, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** Resolves with the first JSON log line (stderr) whose msg matches; rejects if the process ends first. */
export function waitForLog(child: ChildProcess, msg: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => done(new Error(`no "${msg}" log line within ${timeoutMs} ms; stderr so far:\n${buf}`)), timeoutMs);
    const onData = (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const rec = JSON.parse(line) as Record<string, unknown>;
          if (rec.msg === msg) return done(undefined, rec);
        } catch {
          // a partial line: wait for the rest
        }
      }
    };
    const onExit = (code: number | null) => done(new Error(`process exited (${code}) before "${msg}"; stderr:\n${buf}`));
    function done(err?: Error, rec?: Record<string, unknown>) {
      clearTimeout(timer);
      child.stderr!.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(rec!);
    }
    child.stderr!.on('data', onData);
    child.on('exit', onExit);
  });
}
