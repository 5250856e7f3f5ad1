/**
 * tgtd SIGKILLed mid-backup and restarted (issue 17): `dmsim backup` copies a tgtd LU (a lab remote
 * target, reached by the CLI at --portal) through the data mover to a dmsim tape; the kill ends the
 * EXTENDED COPY with COPY ABORTED 0D/02 naming the failed segment, the tape holds whole records,
 * and with --retries the backup server waits for tgtd to answer again and resumes from the failed
 * segment. The restore onto a second tgtd LU is byte-exact (compared in tgtd's backing files), so
 * no byte was duplicated or skipped.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, runCli, spawnCli, spawnCliWatched, waitForLog } from '../cli/cli-process.js';
import { requireTools } from '../helpers/require-tool.js';
import { startTgtd, type Tgtd } from '../helpers/tgtd.js';

const ok = requireTools('tgtd killed mid-backup', 'tgtd', 'tgtadm');
const root = new URL('../../', import.meta.url).pathname;
const BACKUP1 = 'iqn.2026-11.dev.dmsim.hosts:backup1';
const SIZE = 64 * 1024 * 1024;

let tgtd: Tgtd | undefined;
let router: ChildProcess | undefined;
afterAll(async () => {
  if (router && router.exitCode === null && router.signalCode === null) {
    const gone = new Promise((r) => router!.once('exit', r));
    router.kill('SIGKILL');
    await gone;
  }
  await tgtd?.stop();
});

describe.skipIf(!ok)('tgtd killed mid-backup', () => {
  it('COPY ABORTED 0D/02 at a segment; --retries resumes once tgtd is back; the restore is byte-exact', async () => {
    tgtd = await startTgtd({ sizeBytes: SIZE, luns: 2 });
    const data = randomBytes(SIZE);
    writeFileSync(tgtd.backingFiles[0]!, data);
    const lab = JSON.parse(readFileSync(path.join(root, 'fixtures/labs/default.json'), 'utf8')) as Record<string, unknown> & { zones: unknown[] };
    delete lab.$schema;
    lab.remoteTargets = [{ name: 'tgt1', portal: `${tgtd.host}:${tgtd.port}`, iqn: tgtd.targetName }];
    // backup1 is a lab host: it reaches tgtd only through a zone naming both.
    lab.zones.push({ name: 'remote', members: ['backup1/p0', 'tgt1/target'] });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tgtd-resume-'));
    writeFileSync(path.join(dir, 'lab.json'), JSON.stringify(lab));
    const dataDir = path.join(dir, 'data');
    router = spawnCliWatched(['router', '--lab', path.join(dir, 'lab.json'), '--iscsi', '127.0.0.1:0', '--api', '127.0.0.1:0', '--data', dataDir]);
    const ready = await waitForLog(router, 'router ready');
    const api = `http://${String(ready.api)}`;
    const short = tgtd.targetName.replace(/^.*:/, '');
    const common = ['--router', `iscsi://${String(ready.iscsi)}`, '--portal', `${tgtd.host}:${tgtd.port}`, '--api', api, '--initiator-name', BACKUP1, '--quiet'];

    const tap = path.join(dataDir, 'tapes', 'DM0001L3.tap');
    const sizeAtStart = existsSync(tap) ? statSync(tap).size : 0;
    const child = spawnCli(['backup', ...common, '--source', `${short}/1`, '--tape', 'router1/tape0', '--mode', 'full', '--retries', '3', '--retry-wait', '30', '--json']);
    const done = collect(child);
    // Kill when about 8 MiB of the 64 have reached the cartridge file.
    for (let i = 0; i < 6000 && (existsSync(tap) ? statSync(tap).size : 0) < sizeAtStart + 8 * 1048576; i++) await new Promise((r) => setTimeout(r, 5));
    const killedAt = statSync(tap).size;
    await tgtd.restart();
    const b = await done;
    expect(b.code, b.stderr + b.stdout).toBe(0);
    const job = JSON.parse(b.stdout) as { backupId: number; ok: boolean; streamBytes: number };
    expect(job.ok).toBe(true);
    expect(job.streamBytes).toBe(SIZE);
    expect(killedAt).toBeLessThan(sizeAtStart + SIZE);
    const cat = await runCli(['catalog', 'show', String(job.backupId), '--api', api, '--json']);
    expect(cat.code, cat.stderr).toBe(0);
    expect(cat.stdout).toMatch(/a copy target was unreachable/);
    expect(cat.stdout).toMatch(/resuming from the failed segment: segment \d+ of list \d+/);

    const r = await runCli(['restore', ...common, '--backup', String(job.backupId), '--target', `${short}/2`]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(tgtd.backingFiles[1]!).equals(data)).toBe(true);
  }, 120_000);
});
