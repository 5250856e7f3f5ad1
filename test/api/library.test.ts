/**
 * The tape library through the management API of a real router process (issue 15, "API and
 * dashboard"): elements with barcodes, drives with what they hold, the door; robot moves, imports
 * (shelf → import/export element) and exports as actions, refused with the changer's reason;
 * robot and drive activity on the timeline; imported cartridges still there after a restart.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, envWithout, LAB, startRouter } from './router-process.js';

const TOKEN = 'library-api-test-token';

function libraryLab() {
  const lab = structuredClone(LAB) as unknown as { routers: Array<Record<string, unknown>> };
  const r = lab.routers[0]!;
  r.buses = [{ name: 'bus0', drives: [{ name: 'tape0', lun: 1 }, { name: 'tape1', lun: 2 }] }];
  r.libraries = [{ name: 'lib', lun: 3, drives: ['tape0', 'tape1'], slots: 4, importExport: 2, timing: 'instant' }];
  r.vault = [
    { barcode: 'DM0001L3', capacity: '4MiB', library: 'lib', slot: 1 },
    { barcode: 'DM0002L3', capacity: '4MiB', library: 'lib', slot: 2 },
    { barcode: 'SHELF1L3', capacity: '4MiB' },
  ];
  return lab;
}

interface Element {
  address: number;
  type: string;
  index: number;
  barcode?: string;
  imported?: boolean;
  drive?: string;
  threaded?: boolean;
}
interface Library {
  name: string;
  doorOpen: boolean;
  locked: boolean;
  elements: Element[];
}

describe('tape library through the management API', () => {
  let dir: string;
  let labFile: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dmsim-libapi-'));
    labFile = path.join(dir, 'lab.json');
    await writeFile(labFile, JSON.stringify(libraryLab(), null, 2));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('shows slots, drives and the door; moves, imports and exports act on the robot, refusals say why; all on the timeline; imports survive a restart', async () => {
    const data = path.join(dir, 'data');
    const env = envWithout({ DMSIM_API_TOKEN: TOKEN });
    let r = await startRouter(labFile, data, env);
    const lib = async () => ((await call(r.base, 'GET', '/api/libraries')).json as unknown as Library[])[0]!;
    const post = (url: string, body: unknown) => call(r.base, 'POST', `/api/libraries/router1/lib/${url}`, TOKEN, body);
    try {
      let l = await lib();
      expect(l.name).toBe('router1/lib');
      expect(l.doorOpen).toBe(false);
      const of = (t: string) => l.elements.filter((e) => e.type === t);
      expect(of('transport')).toHaveLength(1);
      expect(of('storage').map((e) => e.barcode ?? null)).toEqual(['DM0001L3', 'DM0002L3', null, null]);
      expect(of('import-export').map((e) => e.barcode ?? null)).toEqual([null, null]);
      expect(of('drive').map((e) => [e.drive, e.threaded, e.barcode ?? null])).toEqual([
        ['router1/tape0', false, null],
        ['router1/tape1', false, null],
      ]);
      const slot = (n: number) => of('storage')[n - 1]!.address;
      const ie = (n: number) => of('import-export')[n - 1]!.address;
      const dt = (n: number) => of('drive')[n - 1]!.address;

      // Import: the shelf cartridge goes into the first empty import/export element.
      const imp = await post('import', { barcode: 'SHELF1L3' });
      expect(imp.status, JSON.stringify(imp.json)).toBe(200);
      expect(imp.json.address).toBe(ie(1));
      const again = await post('import', { barcode: 'SHELF1L3' });
      expect(again.status).toBe(409);
      expect(String(again.json.message)).toMatch(/SHELF1L3 is in library router1\/lib \(element \d+\), not on the shelf/);
      expect((await post('import', { barcode: 'NOSUCHL3' })).status).toBe(404);
      expect((await post('import', { barcode: 'DM0001L3' })).status).toBe(409);

      // Moves: slot → drive threads the tape; the drive reports the cartridge.
      expect((await post('move', { from: slot(1), to: dt(1) })).status).toBe(200);
      expect((await post('move', { from: ie(1), to: slot(3) })).status).toBe(200);
      l = await lib();
      expect(of('drive')[0]).toMatchObject({ barcode: 'DM0001L3', threaded: true });
      expect(of('storage')[2]!.barcode).toBe('SHELF1L3');
      const drives = (await call(r.base, 'GET', '/api/drives')).json as unknown as Array<{ name: string; barcode?: string }>;
      expect(drives.find((d) => d.name === 'router1/tape0')?.barcode).toBe('DM0001L3');

      // Refusals carry the changer's reason and sense.
      const full = await post('move', { from: slot(2), to: dt(1) });
      expect(full.status).toBe(409);
      expect(String(full.json.message)).toBe('library router1/lib: the destination element is full (sense 05/3B/0D)');
      const empty = await post('move', { from: slot(4), to: dt(2) });
      expect(empty.status).toBe(409);
      expect(String(empty.json.message)).toMatch(/source element is empty \(sense 05\/3B\/0E\)/);
      const nowhere = await post('move', { from: 4000, to: slot(4) });
      expect(nowhere.status).toBe(409);
      expect(String(nowhere.json.message)).toMatch(/no such element address \(sense 05\/21\/01\)/);
      const bad = await post('move', { from: 'slot one', to: 3 });
      expect(bad.status).toBe(400);
      expect(String(bad.json.message)).toMatch(/body\/from/);
      expect((await call(r.base, 'POST', '/api/libraries/router1/lib/move', undefined, { from: 1, to: 2 })).status).toBe(401);
      expect((await call(r.base, 'POST', '/api/libraries/router1/nolib/move', TOKEN, { from: 1, to: 2 })).status).toBe(404);

      // The door: open stops the robot; closing lets it work again.
      expect((await call(r.base, 'PUT', '/api/libraries/router1/lib/door', TOKEN, { open: true })).status).toBe(200);
      expect((await lib()).doorOpen).toBe(true);
      const doorOpen = await post('move', { from: slot(2), to: dt(2) });
      expect(doorOpen.status).toBe(409);
      expect(String(doorOpen.json.message)).toMatch(/door is open \(sense 02\/04\/03\)/);
      expect((await call(r.base, 'PUT', '/api/libraries/router1/lib/door', TOKEN, { open: false })).status).toBe(200);

      // Export: back to the I/E element, then out to the shelf by barcode.
      expect((await post('move', { from: slot(3), to: ie(2) })).status).toBe(200);
      const exp = await post('export', { barcode: 'SHELF1L3' });
      expect(exp.status, JSON.stringify(exp.json)).toBe(200);
      expect(exp.json.barcode).toBe('SHELF1L3');
      l = await lib();
      expect(l.elements.some((e) => e.barcode === 'SHELF1L3')).toBe(false);
      expect((await post('export', { address: ie(2) })).status).toBe(409);
      expect((await post('export', { address: slot(2) })).status).toBe(409);
      expect((await post('export', {})).status).toBe(400);

      // The timeline: robot moves, the drive's load, the door, in order.
      const tl = (await call(r.base, 'GET', '/api/timeline')).json as unknown as Array<{ kind: string; source: string; what: string }>;
      const robot = tl.filter((e) => e.kind === 'robot').map((e) => e.what);
      expect(robot).toContain(`moved DM0001L3 from ${slot(1)} to ${dt(1)}`);
      expect(tl.find((e) => e.kind === 'drive')).toMatchObject({ source: 'router1/tape0', what: 'loaded DM0001L3' });
      const doors = tl.filter((e) => e.kind === 'door').map((e) => e.what);
      expect(doors[0]).toMatch(/imported SHELF1L3 into import\/export element/);
      expect(doors).toContain('door opened');
      expect(doors.at(-1)).toMatch(/exported SHELF1L3/);

      // Imported again, it stays the library's across a restart.
      expect((await post('import', { barcode: 'SHELF1L3', address: ie(2) })).status).toBe(200);
    } finally {
      await r.stop();
    }
    r = await startRouter(labFile, data, env);
    try {
      const l = await lib();
      const byBarcode = new Map(l.elements.filter((e) => e.barcode).map((e) => [e.barcode, e]));
      expect(byBarcode.get('SHELF1L3')).toMatchObject({ type: 'import-export', index: 2, imported: true });
      expect(byBarcode.get('DM0001L3')).toMatchObject({ type: 'drive', drive: 'router1/tape0', threaded: true });
    } finally {
      await r.stop();
    }
  }, 120_000);
});
