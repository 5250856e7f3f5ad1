/**
 * Runs Debian libiscsi-bin's real clients and parses their output: iscsi-test-cu results per test
 * (passed / failed / skipped, with the test's own log lines), iscsi-ls / iscsi-inq /
 * iscsi-readcapacity16 text.
 */
import { spawn, spawnSync } from 'node:child_process';

export const INITIATOR_1 = 'iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test';
export const INITIATOR_2 = 'iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test-2';

export interface CuResult {
  status: 'passed' | 'failed' | 'skipped';
  /** The test's lines between "Test: X ..." and its verdict (skip reasons, failed asserts). */
  log: string;
}

export interface RunOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], timeoutMs = 600_000): Promise<RunOutput> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every test iscsi-test-cu knows, as FAMILY.SUITE.TEST. */
export function listTests(): string[] {
  const r = spawnSync('iscsi-test-cu', ['--list'], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').filter((l) => /^[A-Za-z0-9]+\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+$/.test(l.trim())).map((l) => l.trim());
}

/** Run one `-t` selection; results keyed by FAMILY.SUITE.TEST. */
export async function runTestCu(url: string, family: string, pattern: string, opts: { timeoutMs?: number } = {}): Promise<{ results: Map<string, CuResult>; raw: string }> {
  const out = await run('iscsi-test-cu', ['--dataloss', `--initiator-name=${INITIATOR_1}`, `--initiator-name-2=${INITIATOR_2}`, '-t', pattern, url], opts.timeoutMs);
  const raw = out.stdout + out.stderr;
  return { results: parseTestCu(out.stdout, family), raw };
}

/**
 * CUnit verbose output: "Suite: S" then per test "  Test: T ..." followed by the test's log and
 * its verdict "passed" / "FAILED" (on the same line after "..." or on a line of its own). A test
 * that logged "[SKIPPED]" counts as skipped (CUnit itself counts it as passed).
 */
export function parseTestCu(text: string, family: string): Map<string, CuResult> {
  const out = new Map<string, CuResult>();
  let suite = '';
  let current: { name: string; lines: string[] } | undefined;
  let failed: string[] | undefined;
  // The verdict "passed"/"FAILED" comes right after "Test: T ..." or at the start of a line;
  // anything after it on that line belongs to suite clean-up, not to the test.
  const finish = (verdict: 'passed' | 'failed'): void => {
    if (!current) return;
    const log = current.lines.join('\n');
    out.set(`${family}.${suite}.${current.name}`, { status: verdict === 'failed' ? 'failed' : /\[SKIPPED\]/.test(log) ? 'skipped' : 'passed', log });
    current = undefined;
  };
  for (const line of text.split('\n')) {
    const s = /^Suite: (\S+)/.exec(line);
    const t = /^ {2}Test: (\S+) \.\.\.(.*)$/.exec(line);
    if (s || t || /^Run Summary/.test(line)) {
      if (failed) {
        finish('failed');
        failed = undefined;
      }
      if (s) suite = s[1]!;
      if (!t) continue;
      current = { name: t[1]!, lines: [] };
      const rest = t[2]!;
      const v = /^(passed|FAILED)(?=\s|$)/.exec(rest);
      if (v) {
        if (v[1] === 'FAILED') failed = current.lines;
        else finish('passed');
      } else current.lines.push(rest);
      continue;
    }
    if (failed) {
      // Failed asserts are listed as "    N. file.c:line - ..." until the next test.
      failed.push(line);
      continue;
    }
    if (!current) continue;
    const v = /^(passed|FAILED)(?=\s|$)/.exec(line);
    if (v) {
      if (v[1] === 'FAILED') failed = current.lines;
      else finish('passed');
      continue;
    }
    current.lines.push(line);
  }
  if (failed) finish('failed');
  return out;
}
