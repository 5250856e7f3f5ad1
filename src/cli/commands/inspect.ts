/** `dmsim inspect TAPE.tap`: records, filemarks, backup headers; `--file N --raw` dumps one tape file. */
import { decodeBackupRecord } from '../../backup-server/backup-record.js';
import { decodeLabel } from '../../backup-server/tape-handling.js';
import { formatInspect, inspectTape, tapeFileRecords } from '../../../firmware-sim/devices/tape/inspect.js';
import { parseCommandArgs, UsageError } from '../command.js';

const USAGE = `usage: dmsim inspect TAPE.tap [--file N --raw] [--max N]
  --file N   tape file number (filemarks before it)
  --raw      write that file's records, concatenated, to stdout (e.g. | tar -tvf -)
  --max N    list at most N entries (default 200)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { file: { type: 'string' }, raw: { type: 'boolean', default: false }, max: { type: 'string', default: '200' }, help: { type: 'boolean', short: 'h', default: false } }, USAGE, true);
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const path = positionals[0];
  if (!path) throw new UsageError('expected a .tap file', USAGE);
  if (values.raw) {
    const n = Number(values.file);
    if (values.file === undefined || !Number.isInteger(n) || n < 0) throw new UsageError('--raw needs --file N', USAGE);
    for await (const rec of tapeFileRecords(path, n)) {
      if (!process.stdout.write(rec)) await new Promise((r) => process.stdout.once('drain', r));
    }
    return 0;
  }
  const report = await inspectTape(path, { maxEntries: Number(values.max) });
  process.stdout.write(formatInspect(report) + '\n');
  // What each tape file is, from its first record.
  for (const f of report.files) {
    let first: Buffer | undefined;
    for await (const rec of tapeFileRecords(path, f.file)) {
      first = rec;
      break; // closes the reader
    }
    if (!first) continue;
    const label = decodeLabel(first);
    const rec = decodeBackupRecord(first);
    const what = label !== undefined ? `label ${label}` : rec ? (rec.kind === 'header' ? `backup ${rec.backupId} header: ${rec.mode} of ${rec.source.naa}, records of ${rec.recordSize}` : `backup ${rec.backupId} trailer: ${rec.streamBytes} stream bytes`) : `data (${f.records} records)`;
    process.stdout.write(`file ${f.file}: ${what}\n`);
  }
  return 0;
}
