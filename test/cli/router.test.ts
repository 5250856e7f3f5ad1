import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools } from '../helpers/require-tool.js';
import { collect, root, spawnCliWatched, waitForLog } from './cli-process.js';

const haveLibiscsi = requireTools('dmsim router portal (iscsi-ls)', 'iscsi-ls');

function tcpConnect(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port }, () => {
      s.end();
      resolve();
    });
    s.on('error', reject);
  });
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return collect(child);
}

function messages(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => (JSON.parse(l) as { msg: string }).msg);
}

describe('dmsim router as a child process', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-router-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts on the default lab, opens the portal, stops on SIGTERM with exit 0', async () => {
    const child = spawnCliWatched(['router', '--iscsi', '127.0.0.1:0', '--api', '127.0.0.1:0', '--data', dataDir, '--log-level', 'info']);
    const result = collect(child);
    try {
      const ready = await waitForLog(child, 'router ready');
      expect(ready.lab).toBe('default');
      expect(ready.dataDir).toBe(dataDir);
      const [host, port] = String(ready.iscsi).split(':');
      expect(Number(port)).toBeGreaterThan(0);
      await tcpConnect(host!, Number(port));
      // The management API on its own port: the OpenAPI document is a plain GET.
      const api = await fetch(`http://${String(ready.api)}/openapi.json`);
      expect(api.status).toBe(200);
      expect(((await api.json()) as { openapi: string }).openapi).toMatch(/^3\./);

      if (haveLibiscsi) {
        const ls = await run('iscsi-ls', [`iscsi://${host}:${port}/`]);
        expect(ls.code, ls.stderr).toBe(0);
        expect(ls.stdout).toContain(`Target:iqn.2026-11.dev.dmsim:array1 Portal:${host}:${port},1`);
        expect(ls.stdout).toContain(`Target:iqn.2026-11.dev.dmsim:router1 Portal:${host}:${port},1`);
        const inq = await run('iscsi-inq', [`iscsi://${host}:${port}/iqn.2026-11.dev.dmsim:router1/0`]);
        expect(inq.code, inq.stderr).toBe(0);
        expect(inq.stdout).toMatch(/Peripheral Device Type:PROCESSOR/);
      }
    } finally {
      child.kill('SIGTERM');
    }
    const r = await result;
    expect(r.code, r.stderr).toBe(0);
    const msgs = messages(r.stderr);
    expect(msgs).toContain('stopping');
    expect(msgs).toContain('lab media flushed');
    expect(msgs.at(-1)).toBe('stopped');
  });

  it('SIGINT stops it too, and the portal is closed afterwards', async () => {
    const child = spawnCliWatched(['router', '--iscsi', '127.0.0.1:0', '--api', 'off', '--data', dataDir]);
    const result = collect(child);
    const ready = await waitForLog(child, 'router ready');
    expect(ready.api).toBeUndefined();
    const [host, port] = String(ready.iscsi).split(':');
    child.kill('SIGINT');
    expect((await result).code).toBe(0);
    await expect(tcpConnect(host!, Number(port))).rejects.toThrow(/ECONNREFUSED/);
  });

  it('a portal that cannot be opened fails with exit 1 and flushes what was built', async () => {
    const blocker = await new Promise<Server>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => resolve(s));
    });
    const port = (blocker.address() as AddressInfo).port;
    try {
      const r = await collect(spawnCliWatched(['router', '--iscsi', `127.0.0.1:${port}`, '--api', 'off', '--data', dataDir]));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/EADDRINUSE/);
      expect(messages(r.stderr)).toContain('lab media flushed');
    } finally {
      blocker.close();
    }
  });

  it('when the lab’s default API port is taken, the router serves iSCSI without the API and says so', async () => {
    const blocker = await new Promise<Server>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => resolve(s));
    });
    const port = (blocker.address() as AddressInfo).port;
    const lab = JSON.parse(await readFile(path.join(root, 'fixtures/labs/default.json'), 'utf8')) as { api: { listen: string } };
    lab.api.listen = `127.0.0.1:${port}`;
    const labFile = path.join(dataDir, 'busy-api.json');
    await writeFile(labFile, JSON.stringify(lab));
    const child = spawnCliWatched(['router', '--lab', labFile, '--iscsi', '127.0.0.1:0', '--data', dataDir]);
    const result = collect(child);
    try {
      const warn = await waitForLog(child, 'management API not started (use --api HOST:PORT or --api off)');
      expect(warn.level).toBe(40);
      const ready = await waitForLog(child, 'router ready');
      expect(ready.api).toBeUndefined();
      expect(ready.iscsi).toMatch(/^127\.0\.0\.1:\d+$/);
    } finally {
      child.kill('SIGTERM');
      blocker.close();
    }
    expect((await result).code).toBe(0);
  });
});
