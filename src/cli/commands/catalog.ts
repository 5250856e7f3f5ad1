/** `dmsim catalog list|show ID|files ID`: what the catalog knows (no lab needed). */
import { existsSync } from 'node:fs';
import { Catalog } from '../../backup-server/catalog.js';
import { routerCatalogPath } from '../../backup-server/cli-options.js';
import { parseCommandArgs, UsageError } from '../command.js';

const USAGE = `usage: dmsim catalog list | show ID | files ID [--catalog FILE | --api URL] [--json]
  --catalog FILE      catalog database (default: data/catalog.sqlite); it must exist
  --api http://H:P    the catalog of the router whose management API is there (its dashboard's)
  --json              JSON output
  --log-level debug   also print the stack trace of an error`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { catalog: { type: 'string' }, api: { type: 'string' }, 'log-level': { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } }, USAGE, true);
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const [sub, arg] = positionals;
  if (!sub || !['list', 'show', 'files'].includes(sub)) throw new UsageError('expected list, show ID or files ID', USAGE);
  const id = Number(arg);
  if (sub !== 'list' && !Number.isInteger(id)) throw new UsageError(`${sub}: expected a backup ID`, USAGE);
  if (values.catalog && values.api) throw new UsageError('give --catalog FILE or --api URL, not both', USAGE);
  const file = values.catalog ?? (values.api ? await routerCatalogPath(values.api.replace(/\/+$/, '')) : 'data/catalog.sqlite');
  // Opening a missing file would create an empty catalog and answer "(no backups)" for a typo.
  // (The router's own catalog, named by its API, may not exist yet: that one is just empty.)
  if (!values.api && !existsSync(file)) {
    process.stderr.write(`dmsim catalog: no catalog at ${file}${values.catalog ? '' : ' (no backup has been run with this data directory yet; name one with --catalog FILE or --api URL)'}\n`);
    return 1;
  }
  const cat = new Catalog(file);
  const out = (o: unknown, text: string) => process.stdout.write((values.json ? JSON.stringify(o) : text) + '\n');
  try {
    if (sub === 'list') {
      const rows = cat.backups();
      out(rows, rows.map((b) => `${String(b.id).padStart(4)} ${b.status.padEnd(8)} ${b.mode.padEnd(12)} ${b.barcode} file ${b.data_file} ${(b.stream_bytes / 1048576).toFixed(1).padStart(8)} MiB ${b.started_at}${b.error ? `  ${b.error}` : ''}`).join('\n') || '(no backups)');
      return 0;
    }
    const b = cat.backup(id);
    if (!b) {
      process.stderr.write(`dmsim catalog: no backup ${id}\n`);
      return 1;
    }
    if (sub === 'show') {
      const events = cat.events(id);
      out({ ...b, events }, [...Object.entries(b).map(([k, v]) => `${k.padEnd(16)} ${k === 'map_json' && typeof v === 'string' && v.length > 200 ? `${v.slice(0, 200)}…` : v}`), 'events:', ...events.map((e) => `  ${e.at} ${e.message}`)].join('\n'));
      return 0;
    }
    const files = cat.files(id);
    out(files, files.map((f) => `${f.is_dir ? 'd' : '-'} ${String(f.size).padStart(10)} ${new Date(f.mtime * 1000).toISOString().slice(0, 19)} @${f.data_offset} ${f.path}${f.problem ? `  [${f.problem}]` : ''}`).join('\n') || '(no files)');
    return 0;
  } finally {
    cat.close();
  }
}
