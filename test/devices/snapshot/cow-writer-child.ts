/**
 * Child process for the SIGKILL test: opens an origin image and one snapshot's side store (running
 * its recovery), then writes a deterministic sequence to the origin through copy-on-write, one write
 * at a time, printing "ack N" after write N completed. The parent kills it at a random moment.
 * argv: originFile storeFile headerJson runNumber
 */
import { FileStore } from '../../../firmware-sim/devices/backing/index.js';
import { CowOrigin } from '../../../firmware-sim/devices/snapshot/cow-origin.js';
import { SideStore } from '../../../firmware-sim/devices/snapshot/side-store.js';
import { writeOf } from './cow-sequence.js';

const [originFile, storeFile, headerJson, runText] = process.argv.slice(2) as [string, string, string, string];
const h = JSON.parse(headerJson) as Parameters<typeof SideStore.open>[1] & { originNaa: string; snapshotNaa: string };
const header = { ...h, originNaa: Buffer.from(h.originNaa, 'hex'), snapshotNaa: Buffer.from(h.snapshotNaa, 'hex') };
const run = Number(runText);
const inner = await FileStore.open(originFile, { size: header.capacityBlocks * header.blockLength });
const store = await SideStore.open(storeFile, header);
const origin = new CowOrigin(inner);
origin.addTarget({ id: header.snapshotId, store, pending: new Map(), invalidated: () => process.stdout.write('invalidated\n') });
process.stdout.write('writing\n');
for (let n = 0; ; n++) {
  const w = writeOf(run, n, origin.size);
  await origin.write(w.offset, w.data);
  process.stdout.write(`ack ${n}\n`);
}
