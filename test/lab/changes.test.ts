import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLab, LabChangeError, type LabRuntime } from '../../firmware-sim/lab/build.js';
import { loadDefaultLab } from '../../firmware-sim/lab/load.js';
import { LabError } from '../../firmware-sim/lab/schema.js';
import { UnreachableError } from '../../firmware-sim/router/dispatch.js';
import type { InProcessPort } from '../../firmware-sim/fabric/in-process-port.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { silentLogger } from '../../src/log.js';

const ARRAY = '500d5a0000010001';
const ROUTER = '500d5a0000020001';
const DM = '500d5a0000020002';
const reportLuns = () => Buffer.from([0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);

async function lunsSeen(port: InProcessPort, target: string): Promise<number[]> {
  const r = await port.command(target, 0, reportLuns(), { dataInLength: 4096 });
  expect(r.status).toBe(0);
  const n = r.dataIn!.readUInt32BE(0) / 8;
  return Array.from({ length: n }, (_, i) => r.dataIn!.readUInt16BE(8 + i * 8) & 0x3fff);
}

describe('changing a running lab', () => {
  let dataDir: string;
  let rt: LabRuntime;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-lab-change-'));
    rt = await buildLab(await loadDefaultLab(), { dataDir, log: silentLogger() });
  });
  afterAll(async () => {
    await rt?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('adds a disk LU; it shows once masking lets an initiator see it, with UA 3Fh/0Eh', async () => {
    const backup = rt.port('backup1');
    // Let the first command's power-on UA go by on LUN 0.
    for (let i = 0; i < 3; i++) await backup.command(ARRAY, 0, Buffer.alloc(6));
    const e = await rt.addDisk('array1', { name: 'extra', lun: 3, size: '4MiB', blockSize: 4096 });
    expect(e).toMatchObject({ name: 'array1/extra', lun: 3, kind: 'disk' });
    expect(e.disk?.blockSize).toBe(4096);
    expect((await stat(path.join(dataDir, 'array1/extra.img'))).size).toBe(4 * 2 ** 20);
    // array1 is masked: nobody sees the new LU until a masking entry names it.
    expect(await lunsSeen(backup, ARRAY)).toEqual([0, 1, 2]);
    rt.setMasking('backup1/p0', ['array1/fat', 'array1/blank', 'array1/scratch', 'array1/extra']);
    const tur = await backup.command(ARRAY, 0, Buffer.alloc(6));
    expect(tur.status).toBe(2);
    expect(decodeSense(tur.sense!)).toMatchObject({ key: 6, asc: 0x3f, ascq: 0x0e });
    expect(await lunsSeen(backup, ARRAY)).toEqual([0, 1, 2, 3]);
    expect(rt.config.masking.find((m) => m.initiator === 'backup1/p0')?.lus).toContain('array1/extra');
  });

  it('refuses a bad disk with the lab path and reason, and an unknown array as not found', async () => {
    const err = await rt.addDisk('array1', { name: 'dup', lun: 1, size: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).issues.map((i) => i.path)).toEqual(['$.arrays[0].lus[6].lun', '$.arrays[0].lus[6].size']);
    await expect(rt.addDisk('array9', { name: 'x', lun: 9, size: 4096 })).rejects.toMatchObject({ kind: 'not-found' });
    await expect(rt.addDisk('array1', { name: 'esc', lun: 9, size: 4096, image: '../../etc/x.img' })).rejects.toThrow(/inside the data directory/);
    expect(rt.lu('array1/dup')).toBeUndefined();
  });

  it('removes a disk LU and every masking reference to it', async () => {
    await rt.removeDisk('array1/extra', { deleteImage: true });
    expect(rt.lu('array1/extra')).toBeUndefined();
    expect(rt.config.masking.flatMap((m) => m.lus)).not.toContain('array1/extra');
    expect(await lunsSeen(rt.port('backup1'), ARRAY)).toEqual([0, 1, 2]);
    await expect(stat(path.join(dataDir, 'array1/extra.img'))).rejects.toThrow(/ENOENT/);
    await expect(rt.removeDisk('router1/tape0')).rejects.toBeInstanceOf(LabChangeError);
  });

  it('zones can be changed; dmsim’s own zones cannot', async () => {
    const app = rt.port('app1');
    expect(await lunsSeen(app, ARRAY)).toEqual([0]);
    rt.setZone('app', ['array1/p0']);
    await expect(app.command(ARRAY, 0, reportLuns(), { dataInLength: 4096 })).rejects.toBeInstanceOf(UnreachableError);
    rt.setZone('app', ['app1/p0', 'array1/p0']);
    expect(await lunsSeen(app, ARRAY)).toEqual([0]);
    expect(() => rt.setZone('iscsi-default', [])).toThrow(/managed by dmsim/);
    expect(() => rt.setZone('bad', ['nowhere/p0'])).toThrow(LabError);
    expect(() => rt.deleteZone('nope')).toThrow(LabChangeError);
    rt.setZone('tmp', ['app1/p0', 'router1/fc0']);
    expect(await lunsSeen(app, ROUTER)).toEqual([0, 1, 2]);
    rt.deleteZone('tmp');
    await expect(app.command(ROUTER, 0, reportLuns(), { dataInLength: 4096 })).rejects.toBeInstanceOf(UnreachableError);
  });

  it('masking an LU of an unmasked device closes that device to initiators without an entry, and reopens it', async () => {
    const backup = rt.port('backup1');
    const arrayLus = ['array1/fat', 'array1/blank', 'array1/scratch'];
    rt.setMasking('backup1/p0', [...arrayLus, 'router1/tape0']);
    expect(await lunsSeen(backup, ROUTER)).toEqual([1]);
    expect(rt.fabric.reachableLus(DM).filter((r) => r.targetPort === ROUTER)).toEqual([]);
    rt.setMasking('backup1/p0', arrayLus);
    expect(await lunsSeen(backup, ROUTER)).toEqual([0, 1, 2]);
    expect(rt.fabric.reachableLus(DM).filter((r) => r.targetPort === ROUTER).map((r) => r.lun)).toEqual([0, 1, 2]);
  });
});
