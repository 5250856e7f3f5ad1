import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Cartridge } from '../../../firmware-sim/devices/tape/cartridge.js';
import { inspectTape } from '../../../firmware-sim/devices/tape/inspect.js';
import { tmp } from './helpers.js';

let t: ReturnType<typeof tmp>;
beforeEach(() => {
  t = tmp();
});
afterEach(() => t.done());

const writer = fileURLToPath(new URL('./fixtures/writer.ts', import.meta.url));

/** Run the writer until it has acknowledged `n` records, then SIGKILL it; returns the last acknowledged number. */
function writeThenKill(path: string, n: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    let last = -1;
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) last = Number(l);
      if (last >= n) child.kill('SIGKILL');
    });
    child.on('exit', (code, sig) => (sig === 'SIGKILL' ? resolve(last) : reject(new Error(`writer exited ${code}`))));
  });
}

describe('cartridge survives kill -9 of the process writing it', () => {
  it('every acknowledged record is still there, in order, and the image is well-formed', async () => {
    const path = `${t.dir}/crash.tap`;
    await (await Cartridge.create(path, { capacity: 1 << 30 })).close();
    const ackedPerRun: number[] = [];
    for (const n of [40, 75]) {
      ackedPerRun.push(await writeThenKill(path, n));
      const c = await Cartridge.open(path);
      expect((await inspectTape(path)).problem).toBeUndefined();
      // Record numbers restart at 0 with each run (each appends at EOD): split the tape into runs.
      const runs: number[][] = [];
      for (let i = 0; i < c.count; i++) {
        if (c.isFilemark(i)) continue;
        const data = await c.readRecord(i, 1 << 20);
        const k = data.readUInt32BE(0);
        expect(data.length).toBe(1000 + (k % 7) * 4099);
        expect(data.subarray(4).every((b) => b === (k & 0xff))).toBe(true);
        if (k === 0) runs.push([]);
        runs.at(-1)!.push(k);
      }
      expect(runs.length).toBe(ackedPerRun.length);
      runs.forEach((r, j) => {
        expect(r).toEqual(r.map((_, i) => i));
        expect(r.length).toBeGreaterThanOrEqual(ackedPerRun[j]! + 1);
      });
      await c.close();
    }
  }, 60_000);
});
