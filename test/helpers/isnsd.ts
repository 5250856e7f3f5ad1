/**
 * A private open-isns isnsd for a test (reference isns.md §4.3 and the dmsim test settings of §6):
 * its own port, control socket and PID file, in-memory database, security off, no default DD.
 * `list()` asks it through its control socket as isnsadm does (after registering the control node).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface Isnsd {
  port: number;
  dir: string;
  /** `isnsadm --local --list TYPE` output (nodes, entities, portals, dds, portal-groups). */
  list(type: string): string;
  /** `isnsadm` with arguments, as a client over TCP (not the control socket). */
  adm(args: string[]): { status: number | null; stdout: string; stderr: string };
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startIsnsd(opts: { registrationPeriod?: string; port?: number } = {}): Promise<Isnsd> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'isnsd-'));
  const port = opts.port ?? (await freePort());
  const conf = path.join(dir, 'isnsd.conf');
  writeFileSync(
    conf,
    [
      'SourceName = iqn.2026-11.dev.dmsim:isnsd',
      `BindAddress = 127.0.0.1:${port}`,
      `ControlSocket = ${dir}/isnsctl`,
      `PIDFile = ${dir}/isnsd.pid`,
      `RegistrationPeriod = ${opts.registrationPeriod ?? '2m'}`,
      'DefaultDiscoveryDomain = 0',
      'SLPRegister = 0',
      'Security = 0',
      'ESIMinInterval = 10s',
      'ESIMaxInterval = 1m',
      'ESIRetries = 3',
      '',
    ].join('\n'),
  );
  const adm = path.join(dir, 'isnsadm.conf');
  writeFileSync(adm, [`ServerAddress = 127.0.0.1:${port}`, 'SourceName = iqn.2026-11.dev.dmsim:isnsadm', `ControlSocket = ${dir}/isnsctl`, 'Security = 0', ''].join('\n'));
  const child: ChildProcess = spawn('isnsd', ['-4', '-f', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  // Ready when the port answers.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = spawnSync('isnsadm', ['-c', adm, '--local', '--register', 'control'], { encoding: 'utf8', timeout: 5000 });
    if (r.status === 0) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`isnsd did not start: ${log}${r.stderr}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  return {
    port,
    dir,
    list: (type) => spawnSync('isnsadm', ['-c', adm, '--local', '--list', type], { encoding: 'utf8', timeout: 10_000 }).stdout,
    adm: (args) => {
      const r = spawnSync('isnsadm', ['-c', adm, ...args], { encoding: 'utf8', timeout: 10_000 });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
