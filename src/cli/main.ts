/**
 * `dmsim`: a table of subcommands. Each lives in src/cli/commands/<name>.ts and exports
 * run(argv); the table below names it, says what it does and loads it only when it runs (so
 * `dmsim --help` and `--version` do not pay for fastify, SQLite and the lab builder).
 * Exit codes: 0 success, 1 failure while running, 2 bad arguments, an invalid lab file or an
 * LU name that does not exist.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError, type Command } from './command.js';
import { describeError, wantsStack } from './errors.js';

export const COMMANDS: readonly Command[] = [
  { name: 'router', summary: 'serve a lab (virtual fabric, arrays, router) over iSCSI until SIGINT/SIGTERM', load: () => import('./commands/router.js') },
  { name: 'demo', summary: 'server-free backup demo on the embedded default lab (what `npm start` runs)', load: () => import('./commands/demo.js') },
  { name: 'backup', summary: 'server-free backup of a disk LU to tape (full, sparse, files, incremental, differential)', load: () => import('./commands/backup.js') },
  { name: 'restore', summary: 'server-free restore: a whole image to a disk LU, or one file (to a scratch LU and optionally a local file)', load: () => import('./commands/restore.js') },
  { name: 'verify', summary: 'read a backup back from tape and check it against the catalog checksums', load: () => import('./commands/verify.js') },
  { name: 'catalog', summary: 'list backups, show one, or list its files (catalog list|show ID|files ID)', load: () => import('./commands/catalog.js') },
  { name: 'inspect', summary: 'list a SIMH .tap cartridge (records, filemarks, dmsim backup headers) or dump one tape file', load: () => import('./commands/inspect.js') },
  { name: 'snapshot', summary: 'create, list or delete snapshot LUs of a running router (management API)', load: () => import('./commands/snapshot.js') },
];

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: dmsim <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'dmsim <command> --help' for a command's options, 'dmsim --version' for the version.",
  ].join('\n');
}

/** package.json's version (two directories up from src/cli, and from dist/src/cli three). */
export function version(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'dmsim' && pkg.version) return pkg.version;
    } catch {
      // not at this level
    }
  }
  return 'unknown';
}

/** Where main's own messages go (tests pass collectors). */
export interface MainIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

/** Runs one command line; returns the exit code instead of exiting, so tests can call it. */
export async function main(argv: string[], io: MainIo = process): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const asked = first === 'help' && rest[0] ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    if (asked) return main([asked.name, '--help'], io);
    (first === undefined ? io.stderr : io.stdout).write(usage() + '\n');
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-V' || first === 'version') {
    io.stdout.write(`dmsim ${version()}\n`);
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === first);
  if (!cmd) {
    io.stderr.write(`dmsim: unknown command "${first}"\n\n${usage()}\n`);
    return 2;
  }
  try {
    const mod = await cmd.load();
    return (await mod.run(rest)) ?? 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`dmsim ${cmd.name}: ${e.message}\n${e.usage ? `\n${e.usage}\n` : ''}`);
      return 2;
    }
    const d = describeError(e);
    io.stderr.write(`dmsim ${cmd.name}: ${d.message}\n${wantsStack(rest) && e instanceof Error && e.stack ? `${e.stack}\n` : ''}`);
    // A script that asked for --json still gets one document on stdout.
    if (rest.includes('--json')) io.stdout.write(JSON.stringify({ ok: false, error: d.message }) + '\n');
    return d.exitCode;
  }
}

/**
 * The process side of main(): exit quietly when the reader of stdout goes away (`dmsim inspect
 * x.tap | head`), and end with main's exit code.
 */
export async function runAsProcess(argv: string[]): Promise<void> {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  // exitCode rather than exit(): pending log writes and socket closes finish first. The unref'd
  // timer only fires if some handle would keep the process alive after the command is done.
  const code = await main(argv);
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2000).unref();
}

function isEntryPoint(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) await runAsProcess(process.argv.slice(2));
