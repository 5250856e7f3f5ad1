/**
 * The one place loggers are made. pino JSON lines by default (one object per line, machine-readable,
 * cheap on the data path); a small built-in pretty printer only when asked, so no extra package is
 * needed. Logs go to stderr so a command's own output (reports, listings) keeps stdout to itself.
 * Parts of the system take a `Logger` and make children with ids: `log.child({ session: id })`.
 */
import { Writable } from 'node:stream';
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export interface LogOptions {
  level?: LogLevel;
  /** Human-readable lines instead of JSON. */
  pretty?: boolean;
  /** Where lines go (default: stderr). Tests pass a stream to read what was logged. */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** Bound into every line, e.g. the command name. */
  name?: string;
}

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const options = { level, base: opts.name ? { name: opts.name } : { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  const out = opts.destination ?? pino.destination({ fd: 2, sync: true });
  return pino(options, opts.pretty ? prettyStream(out) : (out as DestinationStream));
}

/** A logger that drops everything (tests, library callers that pass none). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

/** `12:00:01.234 INFO  [session=3 lun=0] message key=value`: one line per record, for a terminal. */
export function formatPretty(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof rec.time === 'string' ? rec.time.slice(11, 23) : '';
  const level = LEVEL_NAMES[Number(rec.level)] ?? String(rec.level);
  const fields = Object.entries(rec)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${time} ${level} ${String(rec.msg ?? '')}${fields ? ` ${fields}` : ''}`;
}

function prettyStream(out: DestinationStream | NodeJS.WritableStream): DestinationStream {
  let partial = '';
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      const text = partial + chunk.toString();
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l) out.write(formatPretty(l) + '\n');
      done();
    },
  });
}
