/**
 * What a `dmsim` subcommand is: a module under src/cli/commands/ exporting `name`, `summary` and
 * `run(argv)`. main.ts keeps the table; a new command is one file plus one line there.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface Command {
  readonly name: string;
  /** One line for `dmsim --help`. */
  readonly summary: string;
  /** Resolves to the process exit code (undefined = 0). Throw UsageError for bad arguments (exit 2). */
  run(argv: string[]): Promise<number | void> | number | void;
}

/** Bad command-line input: main prints the message (and the usage when given) and exits 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * node:util parseArgs, strict, with its errors turned into UsageError so every command reports
 * bad flags the same way.
 */
export function parseCommandArgs<O extends Options>(argv: string[], options: O, usage: string, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''), usage);
  }
}

/** "HOST:PORT" (IPv6 in brackets) → parts; port 0 asks for any free port. */
export function parseHostPort(s: string, flag: string): { host: string; port: number } {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`${flag}: expected HOST:PORT, got "${s}"`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/** `--help` given: prints the usage to stdout and says so, for the command to exit 0. */
export function helpShown(values: { help?: boolean | undefined }, usage: string): boolean {
  if (!values.help) return false;
  process.stdout.write(usage + '\n');
  return true;
}
