/** `dmsim inspect TAPE.tap`: records, filemarks, backup headers; `--file N --raw` dumps one tape file. */
import { existsSync } from 'node:fs';
import { decodeBackupRecord } from '../../backup-server/backup-record.js';
import { decodeLabel } from '../../backup-server/tape-handling.js';
import { formatInspect, inspectTape, tapeFileRecords, type InspectReport } from '../../../firmware-sim/devices/tape/inspect.js';
import { parseCommandArgs, UsageError } from '../command.js';
import { writeJson } from '../json.js';

const USAGE = `usage: dmsim inspect TAPE.tap [--file N [--raw]] [--max N] [--json]
  --file N   only tape file N (filemarks before it); it must exist
  --raw      write that file's records, concatenated, to stdout (e.g. | tar -tvf -)
  --max N    list at most N entries (default 200)
  --json     the listing as one JSON document on stdout
Exit 1 when the image is damaged (the scan stops before its end) or file N does not exist.`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { file: { type: 'string' }, raw: { type: 'boolean', default: false }, max: { type: 'string', default: '200' }, json: { type: 'boolean', default: false }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } }, USAGE, true);
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const path = positionals[0];
  if (!path) throw new UsageError('expected a .tap file', USAGE);
  const n = values.file === undefined ? undefined : Number(values.file);
  if (n !== undefined && (!Number.isInteger(n) || n < 0)) throw new UsageError('--file: expected a tape file number (0, 1, ...)', USAGE);
  if (values.raw && n === undefined) throw new UsageError('--raw needs --file N', USAGE);
  if (values.raw && values.json) throw new UsageError('--raw and --json both want stdout: pick one', USAGE);
  const max = Number(values.max);
  if (!Number.isInteger(max) || max < 0) throw new UsageError('--max: expected a non-negative integer', USAGE);
  if (!existsSync(path)) {
    process.stderr.write(`dmsim inspect: no tape image at ${path}\n`);
    return 1;
  }
  const report = await inspectTape(path, { maxEntries: values.raw ? 0 : max });
  if (n !== undefined && n >= report.files.length) {
    process.stderr.write(`dmsim inspect: ${path} has no tape file ${n}: it holds ${report.files.length === 0 ? 'no tape files' : `files 0..${report.files.length - 1}`}${report.problem ? ` (the image is damaged: ${report.problem})` : ''}\n`);
    return 1;
  }
  if (values.raw) {
    for await (const rec of tapeFileRecords(path, n!)) {
      if (!process.stdout.write(rec)) await new Promise((r) => process.stdout.once('drain', r));
    }
    return report.problem ? 1 : 0;
  }
  const files = await describeFiles(path, report, n);
  if (values.json) {
    writeJson({ path, ok: !report.problem, ...report, files: report.files.filter((f) => n === undefined || f.file === n).map((f, i) => ({ ...f, content: files[i] })) });
  } else {
    process.stdout.write(formatInspect(report) + '\n');
    for (const f of files) process.stdout.write(`file ${f.file}: ${f.what}\n`);
  }
  if (report.problem) process.stderr.write(`dmsim inspect: ${path} is damaged: ${report.problem} (at byte ${report.end} of ${report.size})\n`);
  return report.problem ? 1 : 0;
}

/** What each tape file is, from its first record. */
async function describeFiles(path: string, report: InspectReport, only: number | undefined): Promise<Array<{ file: number; what: string; label?: string; backup?: unknown }>> {
  const out: Array<{ file: number; what: string; label?: string; backup?: unknown }> = [];
  for (const f of report.files) {
    if (only !== undefined && f.file !== only) continue;
    let first: Buffer | undefined;
    for await (const rec of tapeFileRecords(path, f.file)) {
      first = rec;
      break; // closes the reader
    }
    if (!first) {
      out.push({ file: f.file, what: 'empty' });
      continue;
    }
    const label = decodeLabel(first);
    const rec = decodeBackupRecord(first);
    if (label !== undefined) out.push({ file: f.file, what: `label ${label}`, label });
    else if (rec) out.push({ file: f.file, what: rec.kind === 'header' ? `backup ${rec.backupId} header: ${rec.mode} of ${rec.source.naa}, records of ${rec.recordSize}` : `backup ${rec.backupId} trailer: ${rec.streamBytes} stream bytes`, backup: rec });
    else out.push({ file: f.file, what: `data (${f.records} records)` });
  }
  return out;
}
