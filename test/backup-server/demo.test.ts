/** `npm start` runs the demo: a child process on a fresh data directory, exit 0 and an OK report. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('dmsim demo (npm start)', () => {
  it('runs the whole server-free demo and reports it', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--quiet', '--json'], { encoding: 'utf8', timeout: 240_000 });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const report = JSON.parse(lines[lines.length - 1]!) as { ok: boolean; dataMoverBytes: number; portBytesDuringCopies: number; backups: Array<{ mode: string; ok: boolean }>; imageIdentical: boolean; fileVerified: boolean };
    expect(report.ok).toBe(true);
    expect(report.backups.map((b) => b.mode)).toEqual(['sparse', 'files', 'incremental']);
    expect(report.imageIdentical).toBe(true);
    expect(report.fileVerified).toBe(true);
    // server-free: the port carries a small fraction of what the data mover moved
    expect(report.portBytesDuringCopies).toBeLessThan(report.dataMoverBytes / 20);
    expect(r.stdout).toMatch(/== discovery[\s\S]*data-mover[\s\S]*== report[\s\S]*data mover moved/);
  }, 300_000);
});
