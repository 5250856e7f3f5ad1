import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { runCli } from './cli-process.js';

/** Runs main() in this process, collecting what it writes. */
async function inProcess(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

describe('dmsim command table', () => {
  it('--help lists the commands on stdout and exits 0 (the real entry point)', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: dmsim <command>/);
    expect(r.stdout).toMatch(/\n {2}router +serve a lab/);
    expect(r.stdout).toMatch(/\n {2}demo +/);
  });

  it('no command or an unknown one: usage on stderr, exit 2', async () => {
    const none = await inProcess([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/usage: dmsim <command>/);
    const bad = await inProcess(['frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown command "frobnicate"/);
  });

  it('router: bad flags and values exit 2 with the reason and the usage', async () => {
    const unknown = await inProcess(['router', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/dmsim router: Unknown option '--bogus'/);
    expect(unknown.stderr).toMatch(/--iscsi HOST:PORT/);
    const portal = await inProcess(['router', '--iscsi', 'localhost']);
    expect(portal.code).toBe(2);
    expect(portal.stderr).toMatch(/--iscsi: expected HOST:PORT, got "localhost"/);
    const api = await inProcess(['router', '--api', '127.0.0.1:99999']);
    expect(api.code).toBe(2);
    expect(api.stderr).toMatch(/--api: expected HOST:PORT/);
    const level = await inProcess(['router', '--log-level', 'loud']);
    expect(level.code).toBe(2);
    expect(level.stderr).toMatch(/--log-level: expected one of trace, debug/);
    const extra = await inProcess(['router', 'stray']);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toMatch(/Unexpected argument 'stray'/);
  });

  it('router: an invalid lab prints every problem with its path and exits 2 (as a process)', async () => {
    const r = await runCli(['router', '--lab', 'fixtures/labs/invalid/references.json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/invalid lab .*references\.json: 6 problems/);
    expect(r.stderr).toContain('$.routers[0].vault[0].loadedIn: no tape drive "tape9" in router r1');
    expect(r.stderr).toContain('$.masking[0].initiator: "a1/p0" is a target port, not an initiator port');
  });

  it('router: a missing lab file is exit 2 too', async () => {
    const r = await inProcess(['router', '--lab', '/nonexistent/lab.json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/invalid lab \/nonexistent\/lab\.json: 1 problem\n {2}\$: cannot read/);
  });
});
