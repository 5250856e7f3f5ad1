/**
 * Placeholder `dmsim demo` (what `npm start` runs) until the backup server's demo lands; the
 * backup server's engineer owns this file and replaces it. It builds the default lab and shows
 * what the backup server's port sees on the fabric.
 */
import { buildLab } from '../../../firmware-sim/lab/build.js';
import { loadDefaultLab } from '../../../firmware-sim/lab/load.js';
import { decodeStandardInquiry } from '../../scsi/inquiry.js';
import { createLogger } from '../../log.js';
import { parseCommandArgs } from '../command.js';

export const name = 'demo';
export const summary = 'build the embedded default lab and show what the backup server sees (placeholder demo)';

const USAGE = `usage: dmsim demo [--data DIR]

Builds the default lab and lists the LUs the backup server (backup1) reaches. The server-free
backup demo replaces this placeholder.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { data: { type: 'string', default: 'data' }, help: { type: 'boolean', short: 'h', default: false } }, USAGE);
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const config = await loadDefaultLab();
  const runtime = await buildLab(config, { dataDir: values.data, log: createLogger({ level: 'warn' }) });
  try {
    const port = runtime.port('backup1');
    process.stdout.write(`dmsim demo: lab "${config.name}" in ${runtime.dataDir}; backup1 (${port.wwpn}) sees:\n`);
    for (const r of runtime.fabric.reachableLus(port.wwpn)) {
      const res = await port.command(r.targetPort, r.lun, Buffer.from([0x12, 0, 0, 0, 96, 0]), { dataInLength: 96 });
      const inq = res.dataIn ? decodeStandardInquiry(res.dataIn) : undefined;
      const what = inq ? `${inq.vendor.trim()} ${inq.product.trim()} type ${inq.deviceType.toString(16).padStart(2, '0')}h${inq.threePC ? ' 3PC' : ''}` : `status ${res.status}`;
      process.stdout.write(`  ${r.targetPort} LUN ${r.lun}  ${r.lu.identity.name.padEnd(18)} ${what}\n`);
    }
    process.stdout.write('The server-free backup demo is not built yet; `dmsim router` serves this lab over iSCSI.\n');
  } finally {
    await runtime.close();
  }
  return 0;
}
