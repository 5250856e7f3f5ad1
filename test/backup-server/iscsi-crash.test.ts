/**
 * A router that dies mid-backup (issue 13 item 4): `dmsim router` is SIGKILLed while a backup
 * process streams to its tape; after a restart on the same data directory the next backup closes
 * the torn tape file with a filemark and starts its own, so every tape file on the cartridge is
 * whole (mtdump lists them all) and the torn one's backup is failed in the catalog.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { inspectTape, tapeFileRecords } from '../../firmware-sim/devices/tape/inspect.js';
import { decodeBackupRecord } from '../../src/backup-server/backup-record.js';
import { Catalog } from '../../src/backup-server/catalog.js';
import { decodeLabel } from '../../src/backup-server/tape-handling.js';
import { requireTools } from '../helpers/require-tool.js';
import { collect, runCli, spawnCli, spawnCliWatched, waitForLog } from '../cli/cli-process.js';

const TOKEN = 'crash-test-token-0123456789';
const haveMtdump = requireTools('tape files as mtdump sees them', 'mtdump');
let dir: string | undefined;
let router: ChildProcess | undefined;

afterAll(async () => {
  if (router && router.exitCode === null) {
    const done = collect(router);
    router.kill('SIGKILL');
    await done;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function start(dataDir: string) {
  router = spawnCliWatched(['router', '--iscsi', '127.0.0.1:0', '--api', '127.0.0.1:0', '--data', dataDir, '--log-level', 'info']);
  const ready = await waitForLog(router, 'router ready', 60_000);
  return { iscsi: String(ready.iscsi), api: String(ready.api) };
}

it('SIGKILL of the router mid-backup: the next backup closes the torn file and starts its own; the torn one is failed', async () => {
  process.env.DMSIM_API_TOKEN = TOKEN;
  dir = await mkdtemp(path.join(tmpdir(), 'dmsim-crash-'));
  const data = path.join(dir, 'data');
  const catalogFile = path.join(dir, 'catalog.sqlite');
  const tap = path.join(data, 'tapes', 'DM0002L3.tap');
  let r = await start(data);
  // Slow the source down so the kill lands in the middle of the data file.
  const cap = await fetch(`http://${r.api}/api/lus/array1/fat/faults`, { method: 'PATCH', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ throughputBytesPerSec: 4 * 1048576 }) });
  expect(cap.status).toBe(200);
  const args = () => ['--router', `iscsi://${r.iscsi}`, '--api', `http://${r.api}`, '--catalog', catalogFile, '--quiet', '--source', 'array1/0', '--tape', 'router1/2', '--no-checksums'];
  const first = collect(spawnCli(['backup', ...args(), '--mode', 'full']));
  for (let i = 0; ; i++) {
    const drives = (await (await fetch(`http://${r.api}/api/drives`)).json()) as Array<{ name: string; objects?: number }>;
    if ((drives.find((d) => d.name === 'router1/tape1')?.objects ?? 0) >= 8) break;
    expect(i).toBeLessThan(400);
    await new Promise((res) => setTimeout(res, 50));
  }
  const dead = collect(router!);
  router!.kill('SIGKILL');
  await dead;
  const f = await first;
  expect(f.code, f.stdout + f.stderr).toBe(1);
  const torn = await inspectTape(tap);
  expect(torn.files.at(-1)!.closed).toBe(false); // the data file the crash left open

  r = await start(data);
  const second = await runCli(['backup', ...args(), '--mode', 'files']);
  expect(second.code, second.stdout + second.stderr).toBe(0);
  const secondId = Number(/backup (\d+) complete/.exec(second.stdout)![1]);

  const rep = await inspectTape(tap);
  expect(rep.problem).toBeUndefined();
  const firsts: string[] = [];
  for (const file of rep.files) {
    for await (const rec of tapeFileRecords(tap, file.file)) {
      const label = decodeLabel(rec);
      const b = decodeBackupRecord(rec);
      firsts.push(label !== undefined ? `label ${label}` : b ? `${b.kind} ${b.backupId}` : 'data');
      break;
    }
  }
  expect(firsts).toEqual(['label DM0002L3', 'header 1', 'data', `header ${secondId}`, 'data', `trailer ${secondId}`]);
  expect(rep.files.every((x) => x.closed && x.records > 0)).toBe(true);
  expect(rep.files[2]!.records).toBe(torn.files[2]!.records); // the torn data kept, closed by one filemark
  if (haveMtdump) {
    const out = spawnSync('mtdump', [tap], { encoding: 'utf8' });
    expect(out.status).toBe(0);
    expect([...out.stdout.matchAll(/end of tape file/g)].length).toBe(rep.files.length);
  }
  const c = new Catalog(catalogFile);
  try {
    expect(c.backup(1)!.status).toBe('failed');
    expect(c.events(1).map((e) => e.message)).toContain(`tape file 2 on DM0002L3 was torn (no closing filemark); backup ${secondId} closed it with a filemark`);
    expect(c.backup(secondId)).toMatchObject({ status: 'complete', header_file: 3, data_file: 4 });
  } finally {
    c.close();
  }
}, 180_000);
