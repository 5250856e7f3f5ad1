/**
 * Bench-only stand-in for `dmsim router` while the CLI does not open the iSCSI portal yet: builds
 * a lab and starts the iSCSI target on it, prints the same "router ready" JSON line, and stops on
 * SIGINT/SIGTERM. Usage: tsx bench/lib/dmsim-launch.ts --iscsi HOST:PORT --data DIR [--lab FILE]
 */
import { parseArgs } from 'node:util';
import { buildLab } from '../../firmware-sim/lab/build.js';
import { loadLabFile } from '../../firmware-sim/lab/load.js';
import { startIscsiTarget } from '../../src/iscsi/target/index.js';

const { values } = parseArgs({ options: { iscsi: { type: 'string', default: '127.0.0.1:0' }, data: { type: 'string', default: 'data' }, lab: { type: 'string' } } });
const m = /^(.*):(\d+)$/.exec(values.iscsi);
if (!m) throw new Error(`bad --iscsi ${values.iscsi}`);
const runtime = await buildLab(await loadLabFile(values.lab), { dataDir: values.data });
const target = await startIscsiTarget({ dispatcher: runtime.fabric, directory: runtime.directory, host: m[1]!, port: Number(m[2]) });
process.stderr.write(JSON.stringify({ msg: 'router ready', iscsi: `${target.host}:${target.port}`, launcher: 'bench' }) + '\n');
const stop = async () => {
  await target.close();
  await runtime.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
setInterval(() => {}, 2 ** 30);
