/**
 * Debian's ndmjob (the NDMP reference DMA) against a `dmsim router --ndmp` process over real
 * TCP: query, the test-mover / test-data / test-tape harnesses, and backup + list through the
 * default lab's FAT volume, LOCAL (one connection), TCP (-T, a second connection), the library robot
 * through the SCSI service, three-way between two router processes, SIGKILL mid-backup. The image on
 * tape is checked with GNU tar against mtools' copy of the source volume.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools } from '../helpers/require-tool.js';
import { collect, root, spawnCliWatched, waitForLog } from '../cli/cli-process.js';

const NDMJOB = '/usr/lib/amanda/ndmjob';
const ok = requireTools('ndmjob against dmsim', NDMJOB, 'tar', 'mcopy');

interface Run {
  code: number | null;
  out: string;
}

function ndmjob(args: string[], cwd: string, timeoutMs = 120_000, onOutput?: (text: string) => void): Promise<Run> {
  const child = spawn(NDMJOB, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  if (onOutput) {
    let text = '';
    const on = (d: Buffer) => onOutput((text += d.toString()));
    child.stdout.on('data', on);
    child.stderr.on('data', on);
  }
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return collect(child).then((r) => {
    clearTimeout(t);
    return { code: r.code, out: r.stdout + r.stderr };
  });
}

const dhLines = (idx: string) =>
  idx
    .split('\n')
    .filter((l) => l.startsWith('DH'))
    .join('\n');

describe.skipIf(!ok)('ndmjob against dmsim router --ndmp', () => {
  let dataDir: string;
  let router: ChildProcess;
  let agent: string;
  let hp: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-ndmjob-'));
    router = spawnCliWatched(['router', '--iscsi', '127.0.0.1:0', '--api', 'off', '--ndmp', '127.0.0.1:0', '--data', dataDir]);
    const ready = await waitForLog(router, 'router ready', 60_000);
    hp = String(ready.ndmp);
    expect(hp).toMatch(/^127\.0\.0\.1:\d+$/);
    agent = `${hp}/4,ndmp,ndmp`;
  }, 90_000);

  afterAll(async () => {
    if (router && router.exitCode === null) {
      router.kill('SIGTERM');
      await new Promise((res) => router.once('exit', res));
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('-q over one data connection (TEXT) and a second tape connection (MD5) shows the FAT volume and the drives', async () => {
    const r = await ndmjob(['-q', '-D', agent, '-T', `${hp}/4m,ndmp,ndmp`, '-v'], dataDir);
    expect(r.out).toContain('auths      (2)  NDMP4_AUTH_TEXT NDMP4_AUTH_MD5');
    expect(r.out).toContain('addr_types (2)  NDMP4_ADDR_LOCAL NDMP4_ADDR_TCP');
    expect(r.out).toContain('Backup type info of tar format');
    expect(r.out).toContain('File system /fat/fat');
    expect(r.out).toContain('type       FAT16');
    expect(r.out).toMatch(/device +tape0/);
    expect(r.out).toMatch(/device +tape1/);
    expect(r.out).toContain('Operation complete');
  });

  it('wrong credentials are refused, TEXT and MD5', async () => {
    for (const flag of ['', 'm']) {
      const r = await ndmjob(['-q', '-D', `${hp}/4${flag},ndmp,wrong`, '-v'], dataDir);
      expect(r.out).not.toContain('Host info');
      expect(r.out).toMatch(/auth|Can't connect|failed/i);
    }
  });

  it('-o test-mover passes 100/100 with LOCAL and TCP addressing', async () => {
    const r = await ndmjob(['-o', 'test-mover', '-T', agent, '-f', 'tape0', '-b', '20', '-v'], dataDir);
    expect(r.out).toContain('FINAL test-mover Passed -- pass=100 warn=0 fail=0 (total 100)');
    expect(r.out).toContain('LOCAL and TCP addressing tested.');
    expect(r.code).toBe(0);
  });

  it('-o test-data passes', async () => {
    const r = await ndmjob(['-o', 'test-data', '-D', agent, '-B', 'tar', '-v'], dataDir);
    expect(r.out).toMatch(/FINAL test-data Passed -- pass=\d+ warn=0 fail=0/);
    expect(r.code).toBe(0);
  });

  it('-o test-tape passes T-OC and T-BGS and T-BW up to the client-side T-BW #6 failure of the Debian build', async () => {
    const r = await ndmjob(['-o', 'test-tape', '-T', agent, '-f', 'tape0', '-v'], dataDir);
    expect(r.out).toContain('Test T-OC Passed -- pass=8 warn=0 fail=0 (total 8)');
    expect(r.out).toContain('Test T-BGS Passed -- pass=4 warn=0 fail=0 (total 4)');
    // The harness stops at the first failing step, so reaching #6 means T-BW #1-#5 passed.
    expect(r.out).not.toMatch(/T-BW #[1-5] -- Failed/);
    expect(r.out).toContain('T-BW #6 -- Failed NDMP4_TAPE_OPEN/NDMP9_NO_ERR got NDMP9_NO_ERR (error expected)');
  });

  async function checkImage(tape: string, file: number, tag: string): Promise<void> {
    const img = path.join(dataDir, 'tapes', `${tape}.tap`);
    const x = path.join(dataDir, `x-${tag}`);
    const m = path.join(dataDir, `m-${tag}`);
    execFileSync('mkdir', ['-p', x, m]);
    const raw = execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'inspect', img, '--file', String(file), '--raw'], { cwd: root, maxBuffer: 256 << 20 });
    execFileSync('tar', ['-C', x, '-xf', '-'], { input: raw });
    // The default lab's FAT volume is partition 1 at sector 2048.
    execFileSync('mcopy', ['-s', '-n', '-m', '-i', `${path.join(dataDir, 'array1', 'fat.img')}@@1048576`, '::*', m], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
    execFileSync('diff', ['-r', m, x]);
    // Every record of the image is record_size bytes (the last one zero-padded).
    expect(raw.length % 10240).toBe(0);
  }

  it('-c backs up /fat/fat to a labelled tape (LOCAL), the tape holds a tar GNU tar extracts identical to mtools, -t lists the same file history, -x restores a file and a directory byte-identical', async () => {
    let r = await ndmjob(['-o', 'init-labels', '-T', agent, '-f', 'tape0', '-m', 'DMSIM001'], dataDir);
    expect(r.code).toBe(0);
    r = await ndmjob(['-l', '-T', agent, '-f', 'tape0'], dataDir);
    expect(r.out).toContain('DMSIM001');
    const idx = path.join(dataDir, 'backup.idx');
    r = await ndmjob(['-c', '-D', agent, '-f', 'tape0', '-m', 'DMSIM001', '-C', '/fat/fat', '-I', idx, '-b', '20', '-v'], dataDir);
    expect(r.out).toContain('Operation ended OKAY');
    const index = await readFile(idx, 'utf8');
    expect(index).toMatch(/^CM 01 DMSIM001\+1\//m);
    expect(index).toContain('DE NDMP_VERSION=4');
    expect(index).toContain('DE DMSIM_FS=/fat/fat');
    expect(index).toMatch(/^DHf \/ UNIX fd m0755/m);
    expect(index).toMatch(/^DHf \/README.TXT UNIX f- m0644 u0 g0 s\d+ tm\d+ @\d+$/m);
    await checkImage('DM0001L3', 1, 'local');

    const list = path.join(dataDir, 'list.idx');
    r = await ndmjob(['-t', '-D', agent, '-f', 'tape0', '-m', 'DMSIM001', '-I', list, '-v'], dataDir);
    expect(r.out).toContain('Operation ended OKAY');
    expect(dhLines(await readFile(list, 'utf8'))).toBe(dhLines(index));

    // -x: a single file and a whole directory into /fat/fat/RESTORE, with the backup's index.
    r = await ndmjob(['-x', '-D', agent, '-f', 'tape0', '-m', 'DMSIM001', '-J', idx, '-C', '/fat/fat/RESTORE', '/README.TXT', '/DOCS', '-v'], dataDir);
    expect(r.out).toContain('Operation ended OKAY');
    expect(r.out).toContain('LOG_FILE messages: 2 OK, 0 ERROR, total 2 of 2');
    compareRestored(['README.TXT', 'DOCS'], 'RESTORE', 'x1');
  }, 180_000);

  function compareRestored(names: string[], under: string, tag: string): void {
    const vol = `${path.join(dataDir, 'array1', 'fat.img')}@@1048576`;
    const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
    const src = path.join(dataDir, `src-${tag}`);
    const got = path.join(dataDir, `got-${tag}`);
    execFileSync('mkdir', ['-p', src, got]);
    for (const n of names) {
      execFileSync('mcopy', ['-s', '-n', '-m', '-i', vol, `::/${n}`, src], { env });
      execFileSync('mcopy', ['-s', '-n', '-m', '-i', vol, `::/${under}/${n}`, got], { env });
    }
    execFileSync('diff', ['-r', src, got]);
  }

  it('-c, -t and -x with a separate tape connection (TCP data connection, MD5 on the tape side)', async () => {
    const idx = path.join(dataDir, 'tcp.idx');
    const tapeAgent = `${hp}/4m,ndmp,ndmp`;
    let r = await ndmjob(['-c', '-D', agent, '-T', tapeAgent, '-f', 'tape1', '-C', '/fat/fat', '-I', idx, '-b', '8', '-v'], dataDir);
    expect(r.out).toContain('Operation ended OKAY');
    const list = path.join(dataDir, 'tcp-list.idx');
    r = await ndmjob(['-t', '-D', agent, '-T', tapeAgent, '-f', 'tape1', '-I', list, '-b', '8', '-v'], dataDir);
    expect(r.out).toContain('Operation ended OKAY');
    const index = await readFile(idx, 'utf8');
    expect(dhLines(await readFile(list, 'utf8'))).toBe(dhLines(index));
    expect(dhLines(index).split('\n').length).toBeGreaterThan(100);
    r = await ndmjob(['-x', '-D', agent, '-T', tapeAgent, '-f', 'tape1', '-J', idx, '-C', '/fat/fat/RESTCP', '/A_Long_File_Name.txt', '-b', '8', '-v'], dataDir);
    expect(r.out).toContain('Operation ended OKAY');
    expect(r.out).toContain('LOG_FILE messages: 1 OK, 0 ERROR, total 1 of 1');
    compareRestored(['A_Long_File_Name.txt'], 'RESTCP', 'x2');
  }, 180_000);

  it('SIGKILL of the router mid-backup: ndmjob fails cleanly, the restarted router cuts the tape back to whole records and the next backup works', async () => {
    const idx = path.join(dataDir, 'killed.idx');
    // A router whose tape1 takes 2 MiB/s (a fault through its management API), so the ~19 MB
    // backup runs for seconds and the kill lands mid-stream however fast the machine is.
    const stopped = new Promise((res) => router.once('exit', res));
    router.kill('SIGTERM');
    await stopped;
    process.env.DMSIM_API_TOKEN = 'ndmp-kill-test-token-0123';
    router = spawnCliWatched(['router', '--iscsi', '127.0.0.1:0', '--api', '127.0.0.1:0', '--ndmp', '127.0.0.1:0', '--data', dataDir]);
    const slow = await waitForLog(router, 'router ready', 60_000);
    delete process.env.DMSIM_API_TOKEN;
    agent = `${String(slow.ndmp)}/4,ndmp,ndmp`;
    const cap = await fetch(`http://${String(slow.api)}/api/lus/router1/tape1/faults`, {
      method: 'PATCH',
      headers: { authorization: 'Bearer ndmp-kill-test-token-0123', 'content-type': 'application/json' },
      body: JSON.stringify({ throughputBytesPerSec: 2 << 20 }),
    });
    expect(cap.status).toBe(200);
    // Kill as soon as ndmjob sees DATA and MOVER active.
    let started!: () => void;
    const active = new Promise<void>((res) => (started = res));
    const job = ndmjob(['-c', '-D', agent, '-f', 'tape1', '-C', '/fat/fat', '-I', idx, '-b', '20', '-v'], dataDir, 120_000, (t) => {
      if (t.includes('Operation started')) started();
    });
    await active;
    await new Promise((res) => setTimeout(res, 300));
    router.kill('SIGKILL');
    await new Promise((res) => router.once('exit', res));
    const r = await job;
    expect(r.out).not.toContain('Operation ended OKAY');
    expect(r.code).not.toBe(0);

    router = spawnCliWatched(['router', '--iscsi', '127.0.0.1:0', '--api', 'off', '--ndmp', '127.0.0.1:0', '--data', dataDir]);
    const ready = await waitForLog(router, 'router ready', 60_000);
    const agent2 = `${String(ready.ndmp)}/4,ndmp,ndmp`;
    const idx2 = path.join(dataDir, 'after-kill.idx');
    const again = await ndmjob(['-c', '-D', agent2, '-f', 'tape1', '-C', '/fat/fat', '-I', idx2, '-b', '20', '-v'], dataDir);
    expect(again.out).toContain('Operation ended OKAY');
    // The unlabelled tape's image is file 0 again, and every record on it is whole.
    await checkImage('DM0002L3', 0, 'after-kill');
  }, 180_000);
});

describe.skipIf(!ok)('ndmjob with the library robot over the NDMP SCSI service', () => {
  let dataDir: string;
  let router: ChildProcess;
  let agent: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-ndmjob-lib-'));
    const lab = JSON.parse(await readFile(path.join(root, 'fixtures/labs/default.json'), 'utf8')) as Record<string, unknown> & { routers: Array<Record<string, unknown>> };
    delete lab.$schema;
    lab.routers[0]!.libraries = [{ name: 'changer0', lun: 3, drives: ['tape0', 'tape1'], slots: 8, importExport: 1, timing: 'instant' }];
    lab.routers[0]!.vault = [
      { barcode: 'DM0001L3', capacity: '256MiB', library: 'changer0', slot: 1 },
      { barcode: 'DM0002L3', capacity: '256MiB', library: 'changer0', slot: 2 },
    ];
    const labFile = path.join(dataDir, 'lab.json');
    await writeFile(labFile, JSON.stringify(lab));
    router = spawnCliWatched(['router', '--lab', labFile, '--iscsi', '127.0.0.1:0', '--api', 'off', '--ndmp', '127.0.0.1:0', '--data', dataDir]);
    const ready = await waitForLog(router, 'router ready', 60_000);
    agent = `${String(ready.ndmp)}/4,ndmp,ndmp`;
  }, 90_000);

  afterAll(async () => {
    if (router && router.exitCode === null) {
      router.kill('SIGTERM');
      await new Promise((res) => router.once('exit', res));
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('-q -r shows the inventory; init-labels, -c and -t load the cartridge from its slot, back up and list', async () => {
    let r = await ndmjob(['-q', '-D', agent, '-r', 'changer0', '-v'], dataDir);
    expect(r.out).toMatch(/@4096 SLOT Full +PVolTag\(DM0001L3,#0\)/);
    expect(r.out).toMatch(/@256 TAPE Empty/);
    r = await ndmjob(['-o', 'init-labels', '-T', agent, '-r', 'changer0', '-f', 'tape0', '-m', 'DMSIMR01@4096'], dataDir);
    expect(r.code).toBe(0);
    // -l with the robot and no -m: ndmjob loads each full slot's cartridge, reads its label record
    // and unloads it (ndmp.md §4.5); over MD5 this time. Its exit code is the label type, not 0.
    r = await ndmjob(['-l', '-T', agent.replace('/4,', '/4m,'), '-r', 'changer0', '-f', 'tape0', '-v'], dataDir);
    expect(r.out).toMatch(/load slot @4096 into drive @256"\n[^]*ME "DMSIMR01@4096"\n[^]*unload drive @256 to slot @4096"/);
    // the next full slot holds a blank cartridge: no label record to read
    expect(r.out).toMatch(/load slot @4097 into drive @256"\n[^]*"failed label read"\n[^]*unload drive @256 to slot @4097"/);
    const idx = path.join(dataDir, 'idx');
    r = await ndmjob(['-c', '-D', agent, '-r', 'changer0', '-f', 'tape0', '-m', 'DMSIMR01@4096', '-C', '/fat/fat', '-I', idx, '-v'], dataDir);
    expect(r.out).toContain('Commanding robot to unload drive @256 to slot @4096');
    expect(r.out).toContain('Operation ended OKAY');
    expect(await readFile(idx, 'utf8')).toMatch(/^CM 01 DMSIMR01\+1\/\d+K@4096$/m);
    const list = path.join(dataDir, 'list');
    r = await ndmjob(['-t', '-D', agent, '-r', 'changer0', '-f', 'tape0', '-m', 'DMSIMR01@4096', '-I', list, '-v'], dataDir);
    expect(r.out).toContain('Operation ended OKAY');
    expect(dhLines(await readFile(list, 'utf8'))).toBe(dhLines(await readFile(idx, 'utf8')));
  }, 180_000);
});

describe.skipIf(!ok)('three-way: DATA on one router process, MOVER + tape on another', () => {
  const dirs: string[] = [];
  const routers: ChildProcess[] = [];
  const agents: string[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const d = await mkdtemp(path.join(tmpdir(), `dmsim-ndmjob-3way${i}-`));
      dirs.push(d);
      const r = spawnCliWatched(['router', '--iscsi', '127.0.0.1:0', '--api', 'off', '--ndmp', '127.0.0.1:0', '--data', d]);
      routers.push(r);
      agents.push(`${String((await waitForLog(r, 'router ready', 60_000)).ndmp)}/4m,ndmp,ndmp`);
    }
  }, 120_000);

  afterAll(async () => {
    for (const r of routers)
      if (r.exitCode === null) {
        r.kill('SIGTERM');
        await new Promise((res) => r.once('exit', res));
      }
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('-c streams router A\'s volume onto router B\'s tape over the NDMP data connection; -t lists it back', async () => {
    const [a, b] = [agents[0]!, agents[1]!];
    const idx = path.join(dirs[0]!, 'idx');
    let r = await ndmjob(['-c', '-D', a, '-T', b, '-f', 'tape0', '-C', '/fat/fat', '-I', idx, '-v'], dirs[0]!);
    expect(r.out).toContain('Operation ended OKAY');
    const { size } = await stat(path.join(dirs[1]!, 'tapes', 'DM0001L3.tap'));
    expect(size).toBeGreaterThan(17_000_000);
    const list = path.join(dirs[0]!, 'list');
    r = await ndmjob(['-t', '-D', a, '-T', b, '-f', 'tape0', '-I', list, '-v'], dirs[0]!);
    expect(r.out).toContain('Operation ended OKAY');
    expect(dhLines(await readFile(list, 'utf8'))).toBe(dhLines(await readFile(idx, 'utf8')));
  }, 180_000);
});
