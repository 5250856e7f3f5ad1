/**
 * The backup-server commands as a user runs them: separate `dmsim` processes sharing one data
 * directory (disk images, cartridges and the catalog persist between them).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../cli/cli-process.js';
import { requireTools } from '../helpers/require-tool.js';

describe('dmsim backup / catalog / restore / verify / inspect', () => {
  it('runs a file-level backup and works with it from later processes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dmsim-bs-cli-'));
    const data = join(dir, 'data');
    const b = await runCli(['backup', '--data', data, '--source', 'fat', '--tape', 'tape1', '--mode', 'files', '--quiet']);
    expect(b.stderr).toBe('');
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/^backup 1 complete: files, \d+ bytes on DM0002L3/);

    const list = await runCli(['catalog', 'list', '--catalog', join(data, 'catalog.sqlite')]);
    expect(list.stdout).toMatch(/^\s+1 complete\s+files\s+DM0002L3 file 2/);
    const files = await runCli(['catalog', 'files', '1', '--catalog', join(data, 'catalog.sqlite'), '--json']);
    const rows = JSON.parse(files.stdout) as Array<{ path: string; size: number }>;
    expect(rows.find((r) => r.path === 'A_Long_File_Name.txt')!.size).toBe(5);

    const out = join(dir, 'long.txt');
    const r = await runCli(['restore', '--data', data, '--backup', '1', '--target', 'scratch', '--tape', 'tape1', '--file', 'A_Long_File_Name.txt', '--out', out, '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/SHA-256 matches the catalog/);
    expect(readFileSync(out).length).toBe(5);

    const v = await runCli(['verify', '--data', data, '--backup', '1', '--tape', 'tape1']);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^backup 1: OK, \d{3} checked/);

    const tap = join(data, 'tapes', 'DM0002L3.tap');
    const ins = await runCli(['inspect', tap]);
    expect(ins.stdout).toMatch(/file 0: label DM0002L3\nfile 1: backup 1 header: files of [0-9a-f]+, records of 10240\nfile 2: data \(\d+ records\)\nfile 3: backup 1 trailer/);

    if (requireTools('dmsim inspect --raw | tar', 'tar')) {
      const raw = spawnCli(['inspect', tap, '--file', '2', '--raw']);
      const res = await collectBinary(raw);
      const listing = execFileSync('tar', ['-tf', '-'], { input: res }).toString().trim().split('\n');
      expect(listing).toContain('A_Long_File_Name.txt');
      expect(listing.length).toBe(rows.length);
    }
  }, 120_000);

  it('bad arguments exit 2 with the usage', async () => {
    const r = await runCli(['backup', '--source', 'fat']);
    expect(r.code).toBe(2);
    // The embedded default lab has no media changer, so without --tape there is no drive to use.
    expect(r.stderr).toMatch(/--tape is required: this backup server sees no tape library[\s\S]*usage: dmsim backup/);
    const s = await runCli(['backup', '--tape', 'tape0']);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/--source[\s\S]*usage: dmsim backup/);
    const m = await runCli(['backup', '--source', 'fat', '--tape', 'tape0', '--mode', 'bogus']);
    expect(m.code).toBe(2);
    const c = await runCli(['catalog', 'frobnicate']);
    expect(c.code).toBe(2);
  });
});

function collectBinary(child: ReturnType<typeof spawnCli>): Promise<Buffer> {
  const parts: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => parts.push(d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', () => resolve(Buffer.concat(parts)));
  });
}
