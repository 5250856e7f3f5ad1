/**
 * `dmsim`: a table of subcommands. Each lives in src/cli/commands/<name>.ts and exports
 * { name, summary, run(argv) }; adding one is a file and a line in COMMANDS below.
 * Exit codes: 0 success, 1 failure while running, 2 bad arguments or an invalid lab file.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LabError } from '../../firmware-sim/lab/schema.js';
import { UsageError, type Command } from './command.js';
import * as backup from './commands/backup.js';
import * as catalog from './commands/catalog.js';
import * as demo from './commands/demo.js';
import * as inspect from './commands/inspect.js';
import * as restore from './commands/restore.js';
import * as verify from './commands/verify.js';
import * as router from './commands/router.js';

export const COMMANDS: readonly Command[] = [router, demo, backup, restore, verify, catalog, inspect];

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: dmsim <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'dmsim <command> --help' for a command's options.",
  ].join('\n');
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
  const cmd = COMMANDS.find((c) => c.name === first);
  if (!cmd) {
    io.stderr.write(`dmsim: unknown command "${first}"\n\n${usage()}\n`);
    return 2;
  }
  try {
    return (await cmd.run(rest)) ?? 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`dmsim ${cmd.name}: ${e.message}\n${e.usage ? `\n${e.usage}\n` : ''}`);
      return 2;
    }
    if (e instanceof LabError) {
      io.stderr.write(`dmsim ${cmd.name}: invalid lab ${e.message}\n`);
      return 2;
    }
    io.stderr.write(`dmsim ${cmd.name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
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

if (isEntryPoint()) {
  // exitCode rather than exit(): pending log writes and socket closes finish first. The unref'd
  // timer only fires if some handle would keep the process alive after the command is done.
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2000).unref();
}
