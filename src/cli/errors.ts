/**
 * What the CLI prints when a command fails: one sentence saying what went wrong and what to do,
 * not a stack trace (that only with `--log-level debug`). System errors (a port in use, a data
 * directory that is not writable, a router that does not answer) are recognised by their errno
 * code, also when wrapped (fetch's `cause`); everything else prints its message.
 */

export interface DescribedError {
  message: string;
  /** 2 for what the user can fix in the command line or the lab file, 1 for the rest. */
  exitCode: number;
}

/** Errors whose message is already a sentence about the user's input: exit 2 like a bad flag. */
const INPUT_ERRORS = new Set(['LabError', 'LuNameError', 'CatalogLocationError']);

interface SysError extends Error {
  code?: string;
  syscall?: string;
  path?: string;
  address?: string;
  port?: number;
  cause?: unknown;
}

const hostPort = (e: SysError) => (e.address !== undefined ? (e.address.includes(':') ? `[${e.address}]:${e.port ?? ''}` : `${e.address}${e.port !== undefined ? `:${e.port}` : ''}`) : undefined);

/** The system error behind e, if any (fetch failures carry it as `cause`). */
function sysErrorOf(e: unknown): SysError | undefined {
  for (let x = e, depth = 0; x instanceof Error && depth < 4; x = (x as SysError).cause, depth++) {
    if (typeof (x as SysError).code === 'string' && /^E[A-Z]+$/.test((x as SysError).code!)) return x as SysError;
  }
  return undefined;
}

export function describeSystemError(s: SysError): string | undefined {
  const where = hostPort(s);
  switch (s.code) {
    case 'EADDRINUSE':
      return `address ${where ?? ''} is already in use (another dmsim router?): choose another port, or port 0 for any free one (e.g. --iscsi 127.0.0.1:0 --api 127.0.0.1:0)`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where ?? 'that address'}: it is not an address of this machine (try 127.0.0.1:0)`;
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      if (s.syscall === 'listen' || s.syscall === 'bind') return `no permission to listen on ${where ?? 'that port'}: ports below 1024 need privileges; use a higher port, or port 0 for any free one`;
      return `cannot write ${s.path ?? 'a file'}: ${s.code === 'EROFS' ? 'read-only file system' : 'permission denied'}; is the data directory writable? (choose another with --data DIR)`;
    case 'ENOSPC':
      return `no space left on the device holding ${s.path ?? 'the data directory'}`;
    case 'ENOENT':
      return `${s.path ?? 'file'}: no such file or directory`;
    case 'EISDIR':
      return `${s.path ?? 'that path'} is a directory, not a file`;
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ECONNRESET': {
      const why = { ECONNREFUSED: 'connection refused', EHOSTUNREACH: 'host unreachable', ENETUNREACH: 'network unreachable', ETIMEDOUT: 'timed out', ENOTFOUND: 'no such host', EAI_AGAIN: 'name lookup failed', ECONNRESET: 'connection reset' }[s.code];
      const host = where ?? (s.code === 'ENOTFOUND' ? (s as { hostname?: string }).hostname : undefined);
      return `router not reachable${host ? ` at ${host}` : ''} (${why}): is \`dmsim router\` running there, and are --router / --api right?`;
    }
    default:
      return undefined;
  }
}

export function describeError(e: unknown): DescribedError {
  if (!(e instanceof Error)) return { message: String(e), exitCode: 1 };
  if (e.name === 'LabError') return { message: `invalid lab ${e.message}`, exitCode: 2 };
  if (INPUT_ERRORS.has(e.name)) return { message: e.message, exitCode: 2 };
  const s = sysErrorOf(e);
  const sentence = s ? describeSystemError(s) : undefined;
  // The errno code stays in the sentence: it is what people search for.
  return { message: sentence ? `${sentence} [${s!.code}]` : e.message, exitCode: 1 };
}

/** `--log-level debug` (or trace) anywhere in a command's arguments. */
export function wantsStack(argv: readonly string[]): boolean {
  const debug = (v: string | undefined) => v === 'debug' || v === 'trace';
  return argv.some((a, i) => (a === '--log-level' && debug(argv[i + 1])) || (a.startsWith('--log-level=') && debug(a.slice(12))));
}
