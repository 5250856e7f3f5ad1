/**
 * bin/dmsim.js as users run it: from any directory, as one process (a signal to it is a signal to
 * the router), answering --help and --version. It runs the JavaScript `npm install` compiled into
 * dist/ (the `prepare` script); a checkout without dist/ fails here loudly.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, root, waitForLog } from './cli-process.js';

const bin = path.join(root, 'bin/dmsim.js');

function launch(args: string[], cwd: string) {
  return spawn(process.execPath, [bin, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

function tcpConnect(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port }, () => {
      s.end();
      resolve();
    });
    s.on('error', reject);
  });
}

describe('bin/dmsim.js launcher', () => {
  let dir: string;
  beforeAll(async () => {
    expect(existsSync(path.join(root, 'dist/src/cli/main.js')), 'dist/ is missing: run `npm run build` (npm install does it)').toBe(true);
    dir = await mkdtemp(path.join(tmpdir(), 'dmsim-launcher-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--help and --version work from a directory outside the checkout', async () => {
    const help = await collect(launch(['--help'], dir));
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^usage: dmsim <command>/);
    const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
    const v = await collect(launch(['--version'], dir));
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toBe(`dmsim ${pkg.version}\n`);
  });

  it('is one process: SIGTERM to the launcher stops the router and frees its portal', async () => {
    const child = launch(['router', '--iscsi', '127.0.0.1:0', '--api', 'off', '--data', path.join(dir, 'data')], dir);
    const result = collect(child);
    const ready = await waitForLog(child, 'router ready', 60_000);
    // The process that logged "router ready" is the one we started.
    expect(ready.pid).toBe(child.pid);
    const [host, port] = String(ready.iscsi).split(':');
    await tcpConnect(host!, Number(port));
    child.kill('SIGTERM');
    const r = await result;
    expect(r.code, r.stderr).toBe(0);
    await expect(tcpConnect(host!, Number(port))).rejects.toThrow(/ECONNREFUSED/);
  });
});
