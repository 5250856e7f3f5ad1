import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkElementMap, Inventory } from '../../../firmware-sim/devices/changer/inventory.js';
import { BARCODES, initialPlacements, MAP } from './inventory-fixture.js';

const tmp = () => mkdtemp(path.join(tmpdir(), 'inventory-'));
const mover = fileURLToPath(new URL('./inventory-mover.ts', import.meta.url));

/** Every cartridge exactly once, in an element of the map. */
function expectWhole(inv: Inventory) {
  const held = inv.elements().flatMap((e) => (e.content ? [e.content.barcode] : []));
  expect(held.sort()).toEqual([...BARCODES].sort());
}

describe('element inventory', () => {
  it('moves, keeps the source slot across drive hops, persists across reopen', async () => {
    const file = path.join(await tmp(), 'lib.elements.json');
    const inv = await Inventory.open(file, MAP, initialPlacements());
    expect(inv.element(0x1000)).toMatchObject({ type: 2, index: 0, content: { barcode: 'A00001L4' } });
    expect(inv.element(0x0100)).toMatchObject({ type: 4, index: 0 });
    expect(inv.element(0x0005)).toBeUndefined();
    await inv.move(0x1000, 0x0100);
    await inv.move(0x0100, 0x0101);
    expect(inv.content(0x0101)).toEqual({ barcode: 'A00001L4', source: 0x1000 });
    await expect(inv.move(0x1000, 0x0100)).rejects.toThrow(/1000h is empty/);
    await expect(inv.move(0x1001, 0x0101)).rejects.toThrow(/0101h is full/);
    const again = await Inventory.open(file, MAP, initialPlacements());
    expect(again.content(0x0101)).toEqual({ barcode: 'A00001L4', source: 0x1000 });
    expect(again.content(0x1000)).toBeUndefined();
    expectWhole(again);
  });

  it('exchange: swap (second destination = source) and three-way, one commit', async () => {
    const file = path.join(await tmp(), 'x.json');
    const inv = await Inventory.open(file, MAP, initialPlacements());
    await inv.exchange(0x1000, 0x1001, 0x1000);
    expect(inv.content(0x1000)?.barcode).toBe('A00002L4');
    expect(inv.content(0x1001)?.barcode).toBe('A00001L4');
    await inv.exchange(0x1000, 0x1002, 0x0100);
    expect(inv.content(0x1002)).toEqual({ barcode: 'A00002L4', source: 0x1000 });
    expect(inv.content(0x0100)).toEqual({ barcode: 'A00003L4', source: 0x1002 });
    expect(inv.content(0x1000)).toBeUndefined();
    await expect(inv.exchange(0x1003, 0x1004, 0x1001)).rejects.toThrow(/1001h is full/);
    expectWhole(inv);
  });

  it('drops cartridges the lab no longer knows and elements that no longer exist', async () => {
    const file = path.join(await tmp(), 'y.json');
    const inv = await Inventory.open(file, MAP, initialPlacements());
    await inv.move(0x1004, 0x1005);
    const smaller = { ...MAP, storage: { first: 0x1000, count: 5 } };
    const again = await Inventory.open(file, smaller, initialPlacements(), new Set(BARCODES.slice(0, 4)));
    expect(again.barcodes().sort()).toEqual(BARCODES.slice(0, 4));
  });

  it('element maps: no address 0, no overlap', () => {
    expect(checkElementMap(MAP)).toEqual([]);
    expect(checkElementMap({ ...MAP, transport: { first: 0, count: 1 } })).toEqual([expect.stringMatching(/0000h/)]);
    expect(checkElementMap({ ...MAP, importExport: { first: 0x0100, count: 2 } })).toEqual([expect.stringMatching(/overlap/)]);
  });

  it('SIGKILL mid-move, again and again: no cartridge lost or duplicated', async () => {
    const dir = await tmp();
    const file = path.join(dir, 'lib.elements.json');
    const cycles = Number(process.env.DMSIM_CRASH_CYCLES ?? 6);
    let moves = 0;
    for (let i = 0; i < cycles; i++) {
      const child = spawn(process.execPath, ['--import', 'tsx', mover, file, String(i + 1)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      const done = new Promise<void>((resolve) => child.on('close', () => resolve()));
      // Kill after a varying number of committed moves, so the kill lands at different points of a commit.
      const target = 5 + i * 7;
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if ((out.match(/^m$/gm)?.length ?? 0) >= target) resolve();
        });
        child.on('close', () => resolve());
      });
      child.kill('SIGKILL');
      await done;
      moves += out.match(/^m$/gm)?.length ?? 0;
      const inv = await Inventory.open(file, MAP, new Map());
      expectWhole(inv);
      // The state file parses (no torn JSON); a stale temp file may remain and is simply overwritten.
      expect(() => JSON.parse(readFileSync(file, 'utf8'))).not.toThrow();
    }
    expect(moves).toBeGreaterThan(cycles * 5);
    expect((await readdir(dir)).filter((f) => !f.startsWith('lib.elements.json'))).toEqual([]);
  }, 120_000);
});

