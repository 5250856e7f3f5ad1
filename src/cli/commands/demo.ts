/**
 * Placeholder `dmsim demo` (what `npm start` runs) until the backup server lands; the backup
 * server's engineer owns this file and replaces it with the real demo.
 */
import { buildLab } from '../../../firmware-sim/lab/build.js';
import { loadDefaultLab } from '../../../firmware-sim/lab/load.js';
import { silentLogger } from '../../log.js';

export const name = 'demo';
export const summary = 'run the server-free backup demo on the embedded default lab (placeholder)';

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('usage: dmsim demo\n\nBuilds the default lab and describes it. The backup demo is not built yet.\n');
    return 0;
  }
  const config = await loadDefaultLab();
  const runtime = await buildLab(config, { log: silentLogger() });
  try {
    process.stdout.write(`dmsim demo: lab "${config.name}" built in ${runtime.dataDir}\n`);
    process.stdout.write('The server-free backup demo is not built yet; `dmsim router` serves this lab over iSCSI.\n');
  } finally {
    await runtime.close();
  }
  return 0;
}
