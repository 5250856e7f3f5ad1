/**
 * The backup server's library client against a `dmsim router` process over iSCSI: pick a cartridge
 * by barcode or pool, MOVE it into a free drive (found through the DT descriptor), use the drive,
 * unload and move it back home; the data written travels with the cartridge.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibraryClient } from '../../src/backup-server/library.js';
import { ScsiClient } from '../../src/backup-server/scsi-client.js';
import { settle } from '../../src/backup-server/tape-handling.js';
import { IscsiTransport } from '../../src/backup-server/transport-iscsi.js';
import { decodeMediaSerial, encodeRead6, encodeReadMediaSerialCdb, encodeRewind, encodeWrite6, encodeWriteFilemarks6 } from '../../src/scsi/tape.js';
import { collect, spawnCliWatched, waitForLog } from '../cli/cli-process.js';

const CHANGER = 3;
let dir: string;
let router: { child: ChildProcess; done: Promise<unknown> };
let transport: IscsiTransport;
let client: ScsiClient;
let lib: LibraryClient;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bs-library-'));
  const lab = JSON.parse(readFileSync(new URL('../../fixtures/labs/default.json', import.meta.url), 'utf8')) as { $schema?: string; routers: Array<Record<string, unknown>> };
  delete lab.$schema;
  const r = lab.routers[0]!;
  r.libraries = [{ name: 'library', lun: CHANGER, drives: ['tape0', 'tape1'], slots: 8, importExport: 2, timing: 'instant' }];
  r.vault = ['DM0001L3', 'DM0002L3', 'DM0003L3', 'DM0004L3'].map((barcode, i) => ({ barcode, capacity: '2MiB', library: 'library', slot: i + 1 }));
  const labFile = path.join(dir, 'lab.json');
  await writeFile(labFile, JSON.stringify(lab));
  const child = spawnCliWatched(['router', '--lab', labFile, '--iscsi', '127.0.0.1:0', '--api', 'off', '--data', path.join(dir, 'data')]);
  router = { child, done: collect(child) };
  const ready = await waitForLog(child, 'router ready', 60_000);
  transport = new IscsiTransport({ host: '127.0.0.1', port: Number(String(ready.iscsi).split(':')[1]), initiatorName: 'iqn.2026-12.test.dmsim:backup-server' });
  const target = (await transport.listTargets()).find((t) => t.id.endsWith(':router1'))!.id;
  client = new ScsiClient(transport);
  lib = new LibraryClient(client, { target, lun: CHANGER });
  await settle(client, { target, lun: CHANGER });
}, 90_000);

afterAll(async () => {
  await transport?.close();
  router?.child.kill('SIGKILL');
  await router?.done;
});

describe('backup server: tape library client', () => {
  it('mounts by barcode into the first free drive, writes, dismounts home; the data comes back with the cartridge', async () => {
    const m = await lib.mount({ barcode: 'DM0002L3' });
    expect(m).toMatchObject({ barcode: 'DM0002L3', home: 0x1001, driveElement: 0x0100, drive: { lun: 1 } });
    await settle(client, m.drive);
    const serial = decodeMediaSerial(await client.exec('READ MEDIA SERIAL NUMBER', m.drive.target, m.drive.lun, encodeReadMediaSerialCdb(64), 64));
    expect(serial.trim()).toBe('DMSIMDM0002L3');
    const data = Buffer.alloc(4096, 0x5a);
    await client.exec('WRITE', m.drive.target, m.drive.lun, encodeWrite6({ fixed: false, transferLength: data.length }), 0, data);
    await client.exec('WFM', m.drive.target, m.drive.lun, encodeWriteFilemarks6({ count: 1 }));
    await lib.dismount(m);
    let view = await lib.status();
    expect(view.slots.find((s) => s.address === 0x1001)?.barcode).toBe('DM0002L3');
    expect(view.drives.every((d) => !d.barcode)).toBe(true);

    const again = await lib.mount({ barcode: 'DM0002L3' });
    await settle(client, again.drive);
    await client.exec('REWIND', again.drive.target, again.drive.lun, encodeRewind());
    expect((await client.exec('READ', again.drive.target, again.drive.lun, encodeRead6({ fixed: false, sili: true, transferLength: 65536 }), 65536)).equals(data)).toBe(true);
    await lib.dismount(again);
    view = await lib.status();
    expect(view.slots.filter((s) => s.barcode).map((s) => [s.address, s.barcode])).toEqual([[0x1000, 'DM0001L3'], [0x1001, 'DM0002L3'], [0x1002, 'DM0003L3'], [0x1003, 'DM0004L3']]);
  });

  it('mounts by pool (barcode prefix, skipping excluded volumes); refuses with clear messages when no drive or cartridge is free', async () => {
    const a = await lib.mount({ pool: 'DM000', exclude: ['DM0001L3', 'DM0002L3'] });
    expect([a.barcode, a.driveElement]).toEqual(['DM0003L3', 0x0100]);
    const b = await lib.mount({ barcode: 'DM0004L3' });
    expect([b.driveElement, b.drive.lun]).toEqual([0x0101, 2]);
    await expect(lib.mount({ barcode: 'DM0001L3' })).rejects.toThrow('no empty drive in the library');
    await expect(lib.mount({ barcode: 'DM0004L3' })).rejects.toThrow('cartridge DM0004L3 is already in drive element 257');
    await expect(lib.mount({ barcode: 'XX9999L3' })).rejects.toThrow('no cartridge XX9999L3');
    await lib.dismount(a);
    await lib.dismount(b);
    const view = await lib.status();
    expect(view.drives.map((d) => d.barcode)).toEqual([undefined, undefined]);
    expect(view.slots.find((s) => s.address === 0x1003)?.barcode).toBe('DM0004L3');
  });
});
