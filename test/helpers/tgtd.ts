/**
 * A real tgtd (Debian `tgt`) on loopback, as a peer for the dmsim initiator and as the baseline of
 * the iSCSI benchmark. Each instance gets its own control port and portal so parallel suites and
 * other engineers' daemons never meet, and a file-backed LUN on tmpfs that tests can inspect.
 *
 * tgtd ignores SIGTERM while it has targets, so it is always stopped with SIGKILL by pid; the
 * control socket it leaves behind in /var/run/tgtd is removed afterwards.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm, truncate, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TgtdChapAccount {
  user: string;
  secret: string;
}

export interface TgtdOptions {
  /** Size of each backing file in bytes (default 64 MiB). */
  sizeBytes?: number;
  /** Logical block size of the disk LUNs (default 512). */
  blockSize?: number;
  /** Number of disk LUNs, numbered from 1 (LUN 0 is tgtd's controller LU). Default 1. */
  luns?: number;
  targetName?: string;
  /** One-way CHAP: the initiator must prove this account. */
  chap?: TgtdChapAccount;
  /** Mutual CHAP: tgtd proves this account back to the initiator (needs `chap`). */
  mutualChap?: TgtdChapAccount;
  /** Target parameters to set with `tgtadm --op update` (e.g. MaxRecvDataSegmentLength). */
  params?: Record<string, string | number>;
  /** Directory for backing files (default /dev/shm when present, else os tmp). */
  dir?: string;
  /** Register with this iSNS server (tgtd's own client, turned on before the target exists). */
  isns?: { host: string; port: number };
}

export interface Tgtd {
  host: string;
  port: number;
  targetName: string;
  controlPort: number;
  pid: number;
  /** Backing file of disk LUN n is backingFiles[n - 1]. */
  backingFiles: string[];
  blockSize: number;
  sizeBytes: number;
  /** Everything tgtd printed, for failure messages. */
  log(): string;
  /** Run tgtadm against this daemon (args after `-C N --lld iscsi`). */
  admin(...args: string[]): Promise<string>;
  /** SIGKILL by pid, then the same daemon again: same portal, control port, target, LUNs and backing files (their data kept). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function controlSocket(n: number): string {
  return `/var/run/tgtd/socket.${n}`;
}

async function killTgtd(child: ChildProcess, controlPort: number): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await gone;
  }
  await rm(controlSocket(controlPort), { force: true });
  await rm(`${controlSocket(controlPort)}.lock`, { force: true });
}

async function launch(host: string, fixed?: { port: number; controlPort: number }): Promise<{ child: ChildProcess; port: number; controlPort: number; log: () => string }> {
  let lastLog = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = fixed?.port ?? (await freePort(host));
    let controlPort = fixed?.controlPort ?? 0;
    // tgtd accepts control ports up to 32767 only.
    if (!fixed)
      do controlPort = 1024 + Math.floor(Math.random() * 31000);
      while (existsSync(controlSocket(controlPort)));
    const child = spawn('tgtd', ['-f', '-C', String(controlPort), '--iscsi', `portal=${host}:${port}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const log = () => out;
    // Ready when the management socket answers and the portal accepts connections.
    for (let i = 0; i < 100 && child.exitCode === null; i++) {
      await sleep(50);
      try {
        await run('tgtadm', ['-C', String(controlPort), '--lld', 'iscsi', '--op', 'show', '--mode', 'target']);
      } catch {
        continue;
      }
      if (await canConnect(host, port)) return { child, port, controlPort, log };
    }
    lastLog = out;
    await killTgtd(child, controlPort);
  }
  throw new Error(`tgtd did not come up on a free portal after 5 attempts; last log:\n${lastLog}`);
}

export async function startTgtd(opts: TgtdOptions = {}): Promise<Tgtd> {
  const host = '127.0.0.1';
  const sizeBytes = opts.sizeBytes ?? 64 * 1024 * 1024;
  const blockSize = opts.blockSize ?? 512;
  const luns = opts.luns ?? 1;
  const targetName = opts.targetName ?? `iqn.2026-11.dev.dmsim.test:tgtd-${randomBytes(3).toString('hex')}`;
  const dir = opts.dir ?? (existsSync('/dev/shm') ? '/dev/shm' : '/tmp');

  const first = await launch(host);
  const { port, controlPort } = first;
  let { child } = first;
  let log = first.log;
  const backingFiles: string[] = [];
  const admin = async (...args: string[]): Promise<string> => {
    try {
      const { stdout } = await run('tgtadm', ['-C', String(controlPort), '--lld', 'iscsi', ...args]);
      return stdout;
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`tgtadm ${args.join(' ')}: ${err.stderr ?? err.message}`);
    }
  };
  const stop = async () => {
    await killTgtd(child, controlPort);
    await Promise.all(backingFiles.map((f) => rm(f, { force: true })));
  };

  /** Everything after the daemon is up; `fresh` creates the backing files, a restart reuses them. */
  const configure = async (fresh: boolean) => {
    if (opts.isns) {
      // tgtd takes iSNS settings only before its first target (reference isns.md §5.1).
      const sys = (name: string, value: string) => run('tgtadm', ['-C', String(controlPort), '--op', 'update', '--mode', 'sys', '--name', name, '-v', value]);
      await sys('iSNSServerIP', opts.isns.host);
      await sys('iSNSServerPort', String(opts.isns.port));
      await sys('iSNSAccessControl', 'Off');
      await sys('iSNS', 'On');
    }
    await admin('--op', 'new', '--mode', 'target', '--tid', '1', '-T', targetName);
    for (let lun = 1; lun <= luns; lun++) {
      const file = `${dir}/dmsim-tgtd-${controlPort}-lun${lun}.img`;
      if (fresh) {
        await writeFile(file, '');
        await truncate(file, sizeBytes);
        backingFiles.push(file);
      }
      await admin('--op', 'new', '--mode', 'logicalunit', '--tid', '1', '--lun', String(lun), '-b', file,
        `--blocksize=${blockSize}`);
    }
    for (const [name, value] of Object.entries(opts.params ?? {})) {
      await admin('--op', 'update', '--mode', 'target', '--tid', '1', '--name', name, '--value', String(value));
    }
    if (opts.chap) {
      await admin('--op', 'new', '--mode', 'account', '--user', opts.chap.user, '--password', opts.chap.secret);
      await admin('--op', 'bind', '--mode', 'account', '--tid', '1', '--user', opts.chap.user);
    }
    if (opts.mutualChap) {
      const m = opts.mutualChap;
      await admin('--op', 'new', '--mode', 'account', '--user', m.user, '--password', m.secret);
      await admin('--op', 'bind', '--mode', 'account', '--tid', '1', '--user', m.user, '--outgoing');
    }
    await admin('--op', 'bind', '--mode', 'target', '--tid', '1', '-I', 'ALL');
  };
  try {
    await configure(true);
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n--- tgtd log ---\n${log()}`);
  }

  const restart = async () => {
    await killTgtd(child, controlPort);
    const again = await launch(host, { port, controlPort });
    child = again.child;
    log = again.log;
    await configure(false);
  };

  return {
    host, port, targetName, controlPort, backingFiles, blockSize, sizeBytes, admin, stop, restart,
    get pid() {
      return child.pid ?? 0;
    },
    log: () => log(),
  };
}
