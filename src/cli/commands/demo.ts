/**
 * `dmsim demo` (what `npm start` runs): the server-free backup demo on the embedded default lab,
 * in a fresh data directory. `--serve` keeps the lab up afterwards with its iSCSI portal open.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../../backup-server/catalog.js';
import { runDemo } from '../../backup-server/demo.js';
import { openSession } from '../../backup-server/session.js';
import { createLogger } from '../../log.js';
import { helpShown, parseCommandArgs, parseHostPort } from '../command.js';
import { startFrontEnds } from '../serve.js';

export const name = 'demo';
export const summary = 'server-free backup demo on the embedded default lab (what `npm start` runs)';

const USAGE = `usage: dmsim demo [options]
  --lab FILE        lab file (default: the embedded default lab)
  --data DIR        data directory (default: a fresh temporary directory, removed afterwards)
  --serve           afterwards keep the lab running with its iSCSI portal open (until SIGINT/SIGTERM)
  --iscsi HOST:PORT portal for --serve (default: the lab's iscsi.portal)
  --json            print the report as JSON on the last line
  --quiet           no progress bars
  -h, --help        this text`;

const OPTIONS = {
  lab: { type: 'string' },
  data: { type: 'string' },
  serve: { type: 'boolean', default: false },
  iscsi: { type: 'string' },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, OPTIONS, USAGE);
  if (helpShown(values, USAGE)) return 0;
  const dataDir = values.data ?? (await mkdtemp(join(tmpdir(), 'dmsim-demo-')));
  const t0 = Date.now();
  process.stdout.write(`dmsim demo: building the ${values.lab ? `lab ${values.lab}` : 'default lab'} in ${dataDir} (generating the FAT disk the first time)\n`);
  const session = await openSession({ ...(values.lab ? { lab: values.lab } : {}), dataDir });
  const catalog = new Catalog(join(dataDir, 'catalog.sqlite'));
  let ok = false;
  try {
    const report = await runDemo(session, catalog, { quiet: values.quiet });
    ok = report.ok;
    process.stdout.write(`dmsim demo: ${ok ? 'OK' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${values.data || values.serve ? `catalog ${join(dataDir, 'catalog.sqlite')}` : 'temporary data directory removed (keep it with --data DIR)'}\n`);
    if (values.json) process.stdout.write(JSON.stringify({ ok: report.ok, dataMoverBytes: report.dataMoverBytes, portBytesDuringCopies: report.portBytesDuringCopies, backups: report.backups.map((b) => ({ id: b.backupId, mode: b.mode, streamBytes: b.streamBytes, ok: b.ok })), imageIdentical: report.imageRestore.identical, fileVerified: report.fileRestore.verified, problems: report.problems }) + '\n');
    if (values.serve && session.runtime) {
      const runtime = session.runtime;
      const log = createLogger({ level: 'info', pretty: true, name: 'dmsim' });
      const fe = await startFrontEnds(runtime, { iscsi: parseHostPort(values.iscsi ?? runtime.config.iscsi.portal, '--iscsi'), log });
      process.stdout.write(`dmsim demo: serving the lab, iSCSI portal ${fe.addresses.iscsi}; Ctrl-C to stop\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await fe.close();
    }
  } finally {
    catalog.close();
    await session.close();
    if (!values.data && !values.serve) await rm(dataDir, { recursive: true, force: true });
  }
  return ok ? 0 : 1;
}
