/**
 * The library as users reach it: `dmsim router` as its own process with a lab whose router has a
 * library (changer LU 3, drives tape0/tape1 as its data transfer elements), an iSCSI initiator of
 * its own (src/iscsi/initiator) asking READ ELEMENT STATUS byte by byte and moving cartridges; then
 * SIGKILL and restart: the inventory and the loaded drive come back as the last committed move left them.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, IscsiInitiator, type IscsiSession } from '../../../src/iscsi/initiator/index.js';
import { decodeSense } from '../../../src/scsi/sense.js';
import * as S from '../../../src/scsi/smc.js';
import { collect, spawnCliWatched, waitForLog } from '../../cli/cli-process.js';

const INITIATOR = 'iqn.2026-12.test.dmsim:library-client';
const CHANGER = 3;
const TAPE0 = 1;
const TAPE1 = 2;

function libraryLab(): unknown {
  const lab = JSON.parse(readFileSync(new URL('../../../fixtures/labs/default.json', import.meta.url), 'utf8')) as {
    $schema?: string;
    routers: Array<{ vault: Array<Record<string, unknown>>; libraries?: unknown[] }>;
  };
  delete lab.$schema;
  const r = lab.routers[0]!;
  r.libraries = [{ name: 'library', lun: CHANGER, drives: ['tape0', 'tape1'], slots: 8, importExport: 2, timing: 'instant' }];
  r.vault = [
    { barcode: 'DM0001L3', capacity: '4MiB', library: 'library', slot: 1, loadedIn: 'tape0' },
    { barcode: 'DM0002L3', capacity: '4MiB', library: 'library', slot: 2 },
    { barcode: 'DM0003L3', capacity: '4MiB', library: 'library', slot: 3 },
    { barcode: 'DM0004L3', capacity: '4MiB' },
  ];
  return lab;
}

interface Router {
  child: ChildProcess;
  done: Promise<unknown>;
  port: number;
  target: string;
}

async function start(labFile: string, dataDir: string): Promise<Router> {
  const child = spawnCliWatched(['router', '--lab', labFile, '--iscsi', '127.0.0.1:0', '--api', 'off', '--data', dataDir]);
  const done = collect(child);
  const ready = await waitForLog(child, 'router ready', 60_000);
  const port = Number(String(ready.iscsi).split(':')[1]);
  const targets = await new IscsiInitiator({ initiatorName: INITIATOR }).discover('127.0.0.1', port);
  return { child, done, port, target: targets.find((t) => t.name.endsWith(':router1'))!.name };
}

const login = (r: Router) => connect({ host: '127.0.0.1', port: r.port, initiatorName: INITIATOR, targetName: r.target, loginTimeoutMs: 10_000 });

async function cmd(s: IscsiSession, lun: number, cdb: Buffer | number[], dataInLength = 4096) {
  const r = await s.command({ lun, cdb: Buffer.isBuffer(cdb) ? cdb : Buffer.from(cdb), dataInLength });
  return { status: r.status, data: r.dataIn, sense: r.sense ? decodeSense(r.sense) : undefined };
}

/** TUR until GOOD, collecting the unit attentions seen on the way. */
async function settle(s: IscsiSession, lun: number): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await cmd(s, lun, [0, 0, 0, 0, 0, 0], 0);
    if (r.status === 0) return seen;
    seen.push(`${r.sense!.key}/${r.sense!.asc.toString(16)}/${r.sense!.ascq.toString(16)}`);
  }
  throw new Error(`LUN ${lun} never ready: ${seen.join(' ')}`);
}

const res = (v: Partial<S.ReadElementStatusCdb>) => S.encodeReadElementStatus({ allocationLength: 4096, ...v });

let dir: string;
let labFile: string;
let router: Router;
let s: IscsiSession;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'library-iscsi-'));
  labFile = path.join(dir, 'lab.json');
  await writeFile(labFile, JSON.stringify(libraryLab()));
  router = await start(labFile, path.join(dir, 'data'));
  s = await login(router);
}, 90_000);

afterAll(async () => {
  await s?.logout().catch(() => undefined);
  router?.child.kill('SIGKILL');
  await router?.done;
});

describe('library over iSCSI against a router process', () => {
  it('REPORT LUNS lists the changer; INQUIRY says 08h', async () => {
    const luns = await cmd(s, 0, [0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
    const list = Array.from({ length: luns.data.readUInt32BE(0) / 8 }, (_, i) => luns.data.readUInt16BE(8 + 8 * i) & 0x3fff);
    expect(list).toContain(CHANGER);
    const inq = await cmd(s, CHANGER, [0x12, 0, 0, 0, 96, 0]);
    expect(inq.data[0]).toBe(0x08);
    expect(inq.data.subarray(8, 32).toString('ascii')).toBe('DMSIM   TAPE LIBRARY    ');
    await settle(s, CHANGER);
  });

  it('READ ELEMENT STATUS per type, with and without VOLTAG/DVCID, byte level; DVCID = the drive VPD 80h serial', async () => {
    const mt = await cmd(s, CHANGER, res({ elementType: 1 }));
    expect(mt.data.toString('hex')).toBe('0001000100000018' + '0100001000000010' + '00010000000000000000000000000000');
    const ie = await cmd(s, CHANGER, res({ elementType: 3, voltag: true }));
    expect(ie.data.subarray(0, 16).toString('hex')).toBe('0010000200000070' + '0380003400000068');
    expect(ie.data.subarray(16, 28).toString('hex')).toBe('001038000000000000000000');
    expect(ie.data.subarray(28, 64).equals(Buffer.alloc(36))).toBe(true);
    const st = await cmd(s, CHANGER, res({ elementType: 2, voltag: true, count: 2 }));
    expect(st.data.subarray(0, 16).toString('hex')).toBe('1000000200000070' + '0280003400000068');
    // Slot 1000h is empty (its cartridge is in tape0); slot 1001h holds DM0002L3, never moved (SVALID=0).
    expect(st.data.subarray(16, 28).toString('hex')).toBe('100008000000000000000000');
    expect(st.data.subarray(68, 80).toString('hex')).toBe('100109000000000000010000');
    expect(st.data.subarray(80, 112).toString('ascii')).toBe('DM0002L3'.padEnd(32));
    const dt = await cmd(s, CHANGER, res({ elementType: 4, voltag: true, dvcid: true }));
    expect(dt.data.subarray(0, 16).toString('hex')).toBe('01000002000000b4' + '04800056000000ac');
    // 0100h: ACCESS|FULL, LU VALID LUN 1, SVALID data from 1000h, tag, then the 34-byte T10 identifier.
    expect(dt.data.subarray(16, 28).toString('hex')).toBe('010009000000110000811000');
    expect(dt.data.subarray(28, 60).toString('ascii')).toBe('DM0001L3'.padEnd(32));
    expect(dt.data.subarray(64, 68).toString('hex')).toBe('02010022');
    const vpd = await cmd(s, TAPE0, [0x12, 1, 0x80, 0, 255, 0]);
    const serial = vpd.data.subarray(4, 4 + vpd.data[3]!).toString('ascii').trim();
    expect(serial).toHaveLength(10);
    expect(dt.data.subarray(68, 102).toString('ascii')).toBe(`DMSIM   VTAPE-LTO4      ${serial}`);
    const plain = await cmd(s, CHANGER, res({ elementType: 4 }));
    expect(plain.data.subarray(8, 16).toString('hex')).toBe('0400001000000020');
    expect(plain.data.subarray(32, 44).toString('hex')).toBe('010108000000120000000000');
  });

  it('MOVE MEDIUM slot → drive: GOOD once loaded, 6/28/00 on the drive; errors with sense', async () => {
    let tur = await cmd(s, TAPE1, [0, 0, 0, 0, 0, 0], 0);
    while (tur.sense?.key === 6) tur = await cmd(s, TAPE1, [0, 0, 0, 0, 0, 0], 0);
    expect(tur.sense).toMatchObject({ key: 2, asc: 0x3a });
    expect((await cmd(s, CHANGER, S.encodeMoveMedium({ transport: 1, source: 0x1001, destination: 0x0101 }), 0)).status).toBe(0);
    expect(await settle(s, TAPE1)).toEqual(['6/28/0']);
    expect((await cmd(s, CHANGER, S.encodeMoveMedium({ source: 0x1001, destination: 0x1005 }), 0)).sense).toMatchObject({ key: 5, asc: 0x3b, ascq: 0x0e });
    expect((await cmd(s, CHANGER, S.encodeMoveMedium({ source: 0x1002, destination: 0x0100 }), 0)).sense).toMatchObject({ key: 5, asc: 0x3b, ascq: 0x0d });
    expect((await cmd(s, CHANGER, S.encodeMoveMedium({ source: 0x1002, destination: 0x4000 }), 0)).sense).toMatchObject({ key: 5, asc: 0x21, ascq: 0x01 });
  });

  it('SIGKILL and restart: the cartridges are where the last move put them, the drive loaded again', async () => {
    router.child.kill('SIGKILL');
    await router.done;
    router = await start(labFile, path.join(dir, 'data'));
    s = await login(router);
    await settle(s, CHANGER);
    const all = S.decodeElementStatus((await cmd(s, CHANGER, res({ voltag: true }))).data);
    const where = Object.fromEntries(all.pages.flatMap((p) => p.descriptors.filter((d) => d.full).map((d) => [d.volumeTag, d.address])));
    expect(where).toEqual({ DM0001L3: 0x0100, DM0002L3: 0x0101, DM0003L3: 0x1002 });
    await settle(s, TAPE1);
    // Back to the slot it came from: auto-unload by the library, no host unload needed.
    expect((await cmd(s, CHANGER, S.encodeMoveMedium({ source: 0x0101, destination: 0x1001 }), 0)).status).toBe(0);
    expect((await cmd(s, TAPE1, [0, 0, 0, 0, 0, 0], 0)).sense).toMatchObject({ key: 2, asc: 0x3a });
  }, 90_000);
});
