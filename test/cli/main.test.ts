import { describe, expect, it } from 'vitest';
import { runCli } from './cli-process.js';

describe('dmsim command table', () => {
  it('--help lists the commands on stdout and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: dmsim <command>/);
    expect(r.stdout).toMatch(/\n {2}router +serve a lab/);
    expect(r.stdout).toMatch(/\n {2}demo +/);
  });

  it('no command or an unknown one: usage on stderr, exit 2', async () => {
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/usage: dmsim <command>/);
    const bad = await runCli(['frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown command "frobnicate"/);
  });

  it('router: bad flags and values exit 2 with the reason and the usage', async () => {
    const unknown = await runCli(['router', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/dmsim router: Unknown option '--bogus'/);
    expect(unknown.stderr).toMatch(/--iscsi HOST:PORT/);
    const portal = await runCli(['router', '--iscsi', 'localhost']);
    expect(portal.code).toBe(2);
    expect(portal.stderr).toMatch(/--iscsi: expected HOST:PORT, got "localhost"/);
    const level = await runCli(['router', '--log-level', 'loud']);
    expect(level.code).toBe(2);
    expect(level.stderr).toMatch(/--log-level: expected one of trace, debug/);
  });

  it('router: an invalid lab prints every problem with its path and exits 2', async () => {
    const r = await runCli(['router', '--lab', 'fixtures/labs/invalid/references.json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/invalid lab .*references\.json: 6 problems/);
    expect(r.stderr).toContain('$.routers[0].vault[0].loadedIn: no tape drive "tape9" in router r1');
    expect(r.stderr).toContain('$.masking[0].initiator: "a1/p0" is a target port, not an initiator port');
  });

  it('router --help exits 0', async () => {
    const r = await runCli(['help', 'router']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/usage: dmsim router/);
  });
});
