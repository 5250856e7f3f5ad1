import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, spawnCli, waitForLog } from './cli-process.js';

describe('dmsim router as a child process', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-router-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts on the default lab, reports ready, stops on SIGTERM with exit 0', async () => {
    const child = spawnCli(['router', '--iscsi', '127.0.0.1:0', '--data', dataDir, '--log-level', 'info']);
    const result = collect(child);
    const ready = await waitForLog(child, 'router ready');
    expect(ready.lab).toBe('default');
    expect(ready.dataDir).toBe(dataDir);
    child.kill('SIGTERM');
    const r = await result;
    expect(r.code).toBe(0);
    const msgs = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs).toContain('stopping');
    expect(msgs.at(-1)).toBe('stopped');
  });

  it('SIGINT stops it too', async () => {
    const child = spawnCli(['router', '--iscsi', '127.0.0.1:0', '--data', dataDir]);
    const result = collect(child);
    await waitForLog(child, 'router ready');
    child.kill('SIGINT');
    expect((await result).code).toBe(0);
  });
});
