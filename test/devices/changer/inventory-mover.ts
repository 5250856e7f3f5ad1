/**
 * Child process of inventory.test.ts: opens an inventory and moves cartridges between random
 * elements as fast as it can until it is killed, printing one line per committed move.
 */
import { Inventory } from '../../../firmware-sim/devices/changer/inventory.js';
import { MAP, initialPlacements } from './inventory-fixture.js';

const [file, seedArg] = process.argv.slice(2);
let seed = Number(seedArg ?? 1);
const rand = (n: number) => {
  seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
  return seed % n;
};

const inv = await Inventory.open(file!, MAP, initialPlacements());
process.stdout.write('ready\n');
const all = inv.elements().filter((e) => e.type !== 1);
for (;;) {
  const full = all.filter((e) => inv.content(e.address));
  const empty = all.filter((e) => !inv.content(e.address));
  const from = full[rand(full.length)]!.address;
  if (rand(4) === 0 && full.length > 1) {
    const first = full.filter((e) => e.address !== from)[rand(full.length - 1)]!.address;
    await inv.exchange(from, first, from);
  } else {
    await inv.move(from, empty[rand(empty.length)]!.address);
  }
  process.stdout.write('m\n');
}
