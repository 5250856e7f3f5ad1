/**
 * `dmsim backup/verify/restore` with a tape library, as users run them: a `dmsim router` process
 * whose router has a library (changer LUN 3 over tape0/tape1, zero robot delays), the CLI as other
 * processes over iSCSI without --tape. The backup server finds the changer (peripheral type 08h),
 * picks a cartridge by --barcode or by the scratch rule, the robot moves it into a drive and back
 * home after the job; restore and verify mount the catalog's cartridge the same way. Afterwards
 * READ ELEMENT STATUS shows every cartridge in its home slot and the drives empty.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibraryClient } from '../../src/backup-server/library.js';
import { ScsiClient } from '../../src/backup-server/scsi-client.js';
import { settle } from '../../src/backup-server/tape-handling.js';
import { IscsiTransport } from '../../src/backup-server/transport-iscsi.js';
import { runCli, startRouter, type RouterProcess } from '../cli/cli-process.js';

const CHANGER = 3;
const BARCODES = ['DM0001L3', 'DM0002L3', 'DM0003L3', 'DM0004L3'];
let dir: string;
let router: RouterProcess;
let routerUrl: string;
let catalogFile: string;

/** The library as an application sees it, asked on its own iSCSI session. */
async function inventory(): Promise<{ slots: Array<[number, string]>; drives: Array<string | undefined> }> {
  const [host, port] = router.iscsi.split(':');
  const transport = new IscsiTransport({ host: host!, port: Number(port), initiatorName: 'iqn.2026-12.test.dmsim:inventory' });
  try {
    const target = (await transport.listTargets()).find((t) => t.id.endsWith(':router1'))!.id;
    const client = new ScsiClient(transport);
    await settle(client, { target, lun: CHANGER });
    const view = await new LibraryClient(client, { target, lun: CHANGER }).status();
    return { slots: view.slots.filter((s) => s.barcode).map((s) => [s.address, s.barcode!]), drives: view.drives.map((d) => d.barcode) };
  } finally {
    await transport.close();
  }
}

const HOME: Array<[number, string]> = BARCODES.map((b, i) => [0x1000 + i, b]);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bs-library-cli-'));
  const lab = JSON.parse(readFileSync(new URL('../../fixtures/labs/default.json', import.meta.url), 'utf8')) as { $schema?: string; routers: Array<Record<string, unknown>> };
  delete lab.$schema;
  // Small disks: a full backup of 1 MiB fits a 4 MiB cartridge. The source holds random bytes
  // (its backing image made here), so a restore that wrote nothing could not match.
  await mkdir(path.join(dir, 'data'), { recursive: true });
  await writeFile(path.join(dir, 'data', 'source.img'), randomBytes(1 << 20));
  for (const a of (lab as unknown as { arrays: Array<{ lus: Array<{ name: string; size: string; image?: string }> }> }).arrays) {
    for (const lu of a.lus) {
      if (lu.name === 'blank' || lu.name === 'scratch') lu.size = '1MiB';
      if (lu.name === 'blank') lu.image = 'source.img';
    }
  }
  const r = lab.routers[0]!;
  r.libraries = [{ name: 'library', lun: CHANGER, drives: ['tape0', 'tape1'], slots: 8, importExport: 2, timing: 'instant' }];
  r.vault = BARCODES.map((barcode, i) => ({ barcode, capacity: '4MiB', library: 'library', slot: i + 1 }));
  const labFile = path.join(dir, 'lab.json');
  await writeFile(labFile, JSON.stringify(lab));
  router = await startRouter(['--lab', labFile, '--data', path.join(dir, 'data')]);
  routerUrl = `iscsi://${router.iscsi}`;
  catalogFile = path.join(dir, 'catalog.sqlite');
}, 90_000);

afterAll(async () => {
  await router?.stop();
});

const common = () => ['--router', routerUrl, '--catalog', catalogFile, '--reservation', 'none'];

describe('dmsim backup/verify/restore with a tape library (router process, iSCSI)', () => {
  it('backup without --tape: the scratch rule picks the lowest slot with no backup; the robot moves it in and home again', async () => {
    const b1 = await runCli(['backup', ...common(), '--source', 'array1/blank', '--mode', 'full', '--json'], { cwd: dir });
    expect(b1.code, b1.stderr).toBe(0);
    expect(b1.stderr).toMatch(/library: cartridge DM0001L3 moved into router1\/tape0/);
    expect(JSON.parse(b1.stdout)).toMatchObject({ ok: true, barcode: 'DM0001L3', tape: 'router1/tape0' });
    expect(await inventory()).toEqual({ slots: HOME, drives: [undefined, undefined] });

    // DM0001L3 now holds a backup: the next scratch volume is DM0002L3.
    const b2 = await runCli(['backup', ...common(), '--source', 'array1/blank', '--mode', 'full', '--json'], { cwd: dir });
    expect(b2.code, b2.stderr).toBe(0);
    expect(JSON.parse(b2.stdout)).toMatchObject({ ok: true, barcode: 'DM0002L3' });

    // --barcode names the cartridge; --pool narrows the scratch rule to a barcode prefix.
    const b3 = await runCli(['backup', ...common(), '--source', 'array1/blank', '--mode', 'full', '--barcode', 'DM0004L3', '--json'], { cwd: dir });
    expect(b3.code, b3.stderr).toBe(0);
    expect(JSON.parse(b3.stdout)).toMatchObject({ ok: true, barcode: 'DM0004L3' });
    const none = await runCli(['backup', ...common(), '--source', 'array1/blank', '--mode', 'full', '--pool', 'XX'], { cwd: dir });
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/no cartridge of pool "XX" left in the library's slots/);
    expect(await inventory()).toEqual({ slots: HOME, drives: [undefined, undefined] });
  }, 120_000);

  it('verify and restore without --tape mount the catalog\'s cartridge and put it back', async () => {
    const v = await runCli(['verify', '--router', routerUrl, '--catalog', catalogFile, '--backup', '2', '--json'], { cwd: dir });
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ backupId: 2, ok: true });
    const r = await runCli(['restore', ...common(), '--backup', '1', '--target', 'array1/scratch', '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, backupId: 1, verified: true });
    expect(await inventory()).toEqual({ slots: HOME, drives: [undefined, undefined] });
    // Byte-exact: the scratch LU's backing file equals the source image.
    const scratch = (await readdir(path.join(dir, 'data'), { recursive: true })).find((f) => /scratch/.test(f) && !/\.json$/.test(f));
    expect(scratch, 'scratch backing file').toBeDefined();
    expect((await readFile(path.join(dir, 'data', scratch!))).equals(await readFile(path.join(dir, 'data', 'source.img')))).toBe(true);
  }, 120_000);
});
