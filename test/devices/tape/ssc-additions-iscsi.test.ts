/**
 * The tape commands backup applications send beyond the basic SSC set (smc.md §5), asked the way
 * an initiator asks them: `dmsim router` as its own process, our iSCSI initiator over TCP, faults
 * armed through the management API. Byte-level answers, and every error with its sense and field
 * pointer: READ(16)/WRITE(16)/WRITE FILEMARKS(16), READ POSITION long/extended, READ BLOCK LIMITS,
 * LOG SENSE/SELECT (00h, 0Ch, 12h, 17h, 2Eh TapeAlert, 31h), READ/WRITE ATTRIBUTE with host
 * attributes surviving SIGKILL, READ MEDIA SERIAL NUMBER.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, IscsiInitiator, type IscsiSession } from '../../../src/iscsi/initiator/index.js';
import { decodeSense } from '../../../src/scsi/sense.js';
import * as T from '../../../src/scsi/tape.js';
import * as M from '../../../src/scsi/mam.js';
import { collect, spawnCliWatched, waitForLog } from '../../cli/cli-process.js';

const INITIATOR = 'iqn.2026-12.test.dmsim:ssc-client';
const TOKEN = 'ssc-additions-token-0123';
const TAPE0 = 1;
const TAPE1 = 2;

function lab(): unknown {
  const l = JSON.parse(readFileSync(new URL('../../../fixtures/labs/default.json', import.meta.url), 'utf8')) as { $schema?: string; routers: Array<{ vault: unknown[] }> };
  delete l.$schema;
  l.routers[0]!.vault = [
    { barcode: 'DM0001L3', capacity: '4MiB', loadedIn: 'tape0' },
    { barcode: 'DM0002L3', capacity: '4MiB', loadedIn: 'tape1', writeProtected: true },
  ];
  return l;
}

interface Router {
  child: ChildProcess;
  done: Promise<unknown>;
  port: number;
  api: string;
  target: string;
}

async function start(labFile: string, dataDir: string): Promise<Router> {
  process.env.DMSIM_API_TOKEN = TOKEN;
  const child = spawnCliWatched(['router', '--lab', labFile, '--iscsi', '127.0.0.1:0', '--api', '127.0.0.1:0', '--data', dataDir]);
  const done = collect(child);
  const ready = await waitForLog(child, 'router ready', 60_000);
  const port = Number(String(ready.iscsi).split(':')[1]);
  const targets = await new IscsiInitiator({ initiatorName: INITIATOR }).discover('127.0.0.1', port);
  return { child, done, port, api: `http://${String(ready.api)}`, target: targets.find((t) => t.name.endsWith(':router1'))!.name };
}

const login = (r: Router) => connect({ host: '127.0.0.1', port: r.port, initiatorName: INITIATOR, targetName: r.target, loginTimeoutMs: 10_000 });

async function cmd(s: IscsiSession, lun: number, cdb: Buffer | number[], opts: { dataOut?: Buffer; dataInLength?: number } = {}) {
  const r = await s.command({ lun, cdb: Buffer.isBuffer(cdb) ? cdb : Buffer.from(cdb), dataInLength: opts.dataInLength ?? 65536, dataOut: opts.dataOut });
  return { status: r.status, data: r.dataIn ?? Buffer.alloc(0), sense: r.sense ? decodeSense(r.sense) : undefined, senseHex: r.sense?.toString('hex') };
}

async function settle(s: IscsiSession, lun: number): Promise<void> {
  for (let i = 0; i < 10; i++) if ((await cmd(s, lun, [0, 0, 0, 0, 0, 0], { dataInLength: 0 })).status === 0) return;
  throw new Error(`LUN ${lun} never ready`);
}

async function faults(r: Router, lu: string, body: unknown): Promise<void> {
  const res = await fetch(`${r.api}/api/lus/router1/${lu}/faults`, { method: 'PATCH', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
}

/** Fixed-format sense, 18 bytes: key/ASC/ASCQ and, when given, SKSV + C/D + field pointer (+ bit pointer). */
function fixedSense(key: number, asc: number, ascq: number, sks?: { cd: boolean; byte: number; bit?: number }, info?: number): string {
  const b = Buffer.alloc(18);
  b[0] = info === undefined ? 0x70 : 0xf0;
  b[2] = key;
  if (info !== undefined) b.writeInt32BE(info, 3);
  b[7] = 10;
  b[12] = asc;
  b[13] = ascq;
  if (sks) {
    b[15] = 0x80 | (sks.cd ? 0x40 : 0) | (sks.bit !== undefined ? 0x08 | sks.bit : 0);
    b.writeUInt16BE(sks.byte, 16);
  }
  return b.toString('hex');
}

const pattern = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));
const attr = (id: number, format: number, value: Buffer | string): M.Attribute => ({ id, readOnly: false, format, value: Buffer.isBuffer(value) ? value : Buffer.from(value) });
const writeAttrs = (s: IscsiSession, attrs: M.Attribute[]) => {
  const list = M.encodeWriteAttributeList(attrs);
  return cmd(s, TAPE0, M.encodeWriteAttributeCdb({ parameterListLength: list.length }), { dataOut: list, dataInLength: 0 });
};

let dir: string;
let labFile: string;
let router: Router;
let s: IscsiSession;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ssc-additions-'));
  labFile = path.join(dir, 'lab.json');
  await writeFile(labFile, JSON.stringify(lab()));
  router = await start(labFile, path.join(dir, 'data'));
  s = await login(router);
  await settle(s, TAPE0);
  await settle(s, TAPE1);
}, 90_000);

afterAll(async () => {
  await s?.logout().catch(() => undefined);
  router?.child.kill('SIGKILL');
  await router?.done;
});

describe('SSC additions over iSCSI against a router process', () => {
  it('REPORT SUPPORTED OPERATION CODES lists the 16-byte, LOG, MAM and media serial commands', async () => {
    const r = await cmd(s, TAPE0, [0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0]);
    expect(r.status).toBe(0);
    const seen = new Set<string>();
    for (let p = 4; p + 8 <= 4 + r.data.readUInt32BE(0); p += 8) seen.add(`${r.data[p]!.toString(16)}/${(r.data[p + 5]! & 1) ? r.data.readUInt16BE(p + 2).toString(16) : '-'}/${r.data.readUInt16BE(p + 6)}`);
    for (const e of ['80/-/16', '88/-/16', '8a/-/16', '91/-/16', '92/-/16', '4c/-/10', '4d/-/10', '8c/0/16', '8c/1/16', '8c/3/16', '8c/5/16', '8d/-/16', 'ab/1/12']) expect(seen).toContain(e);
  });

  it('READ BLOCK LIMITS: max FFFFFFh, min 1, granularity 0, as an LTO drive reports', async () => {
    expect((await cmd(s, TAPE0, [0x05, 0, 0, 0, 0, 0])).data.toString('hex')).toBe('00ffffff0001');
  });

  it('WRITE(16)/WRITE FILEMARKS(16)/READ(16) position explicitly; READ POSITION long and extended bytes', async () => {
    for (let i = 0; i < 3; i++) expect((await cmd(s, TAPE0, T.encodeWrite16({ logicalId: i, transferLength: 1000 + i }), { dataOut: pattern(1000 + i, i), dataInLength: 0 })).status).toBe(0);
    expect((await cmd(s, TAPE0, T.encodeWriteFilemarks16({ logicalId: 3, count: 1 }), { dataInLength: 0 })).status).toBe(0);
    // Positioned at object 1 wherever the tape was, then one 6-byte READ.
    const r = await cmd(s, TAPE0, T.encodeRead16({ logicalId: 1, transferLength: 1001 }));
    expect(r.status).toBe(0);
    expect(r.data.equals(pattern(1001, 1))).toBe(true);
    const long = await cmd(s, TAPE0, T.encodeReadPositionCdb({ serviceAction: T.ReadPositionForm.LONG, allocationLength: 0 }), { dataInLength: 32 });
    expect(long.data.toString('hex')).toBe('00000000' + '00000000' + '0000000000000002' + '0000000000000000' + '0000000000000000');
    const ext = await cmd(s, TAPE0, T.encodeReadPositionCdb({ serviceAction: T.ReadPositionForm.EXTENDED, allocationLength: 32 }), { dataInLength: 32 });
    expect(ext.data.toString('hex')).toBe('00' + '00' + '001c' + '00' + '000000' + '0000000000000002' + '0000000000000002' + '0000000000000000');
    // Past the filemark: long form counts it as file 1, object 4 = EOD.
    await cmd(s, TAPE0, T.encodeLocate16({ destType: T.LocateDestType.END_OF_DATA, logicalId: 0 }), { dataInLength: 0 });
    const eod = await cmd(s, TAPE0, T.encodeReadPositionCdb({ serviceAction: T.ReadPositionForm.LONG, allocationLength: 0 }), { dataInLength: 32 });
    expect(eod.data.subarray(8, 24).toString('hex')).toBe('0000000000000004' + '0000000000000001');
    // SPACE(16) back over the filemark: BOP side of it, residue 0.
    expect((await cmd(s, TAPE0, T.encodeSpace16({ code: T.SpaceCode.FILEMARKS, count: -1 }), { dataInLength: 0 })).status).toBe(0);
    const back = await cmd(s, TAPE0, T.encodeReadPositionCdb({ serviceAction: T.ReadPositionForm.LONG, allocationLength: 0 }), { dataInLength: 32 });
    expect(back.data.subarray(8, 16).toString('hex')).toBe('0000000000000003');
    // BOP flag at object 0.
    await cmd(s, TAPE0, T.encodeRead16({ logicalId: 0, transferLength: 0 }), { dataInLength: 0 });
    expect((await cmd(s, TAPE0, T.encodeReadPositionCdb({ serviceAction: T.ReadPositionForm.LONG, allocationLength: 0 }), { dataInLength: 32 })).data[0]).toBe(0x80);
  });

  it('16-byte errors: object beyond EOD → 8/00/05 at EOD, partition 1 → 5/24/00 byte 3, reserved bits, over-long variable length', async () => {
    const past = await cmd(s, TAPE0, T.encodeRead16({ logicalId: 9, transferLength: 512 }));
    expect(past.senseHex).toBe(fixedSense(8, 0x00, 0x05));
    const pos = await cmd(s, TAPE0, T.encodeReadPositionCdb({ serviceAction: T.ReadPositionForm.LONG, allocationLength: 0 }), { dataInLength: 32 });
    expect(pos.data.subarray(8, 16).toString('hex')).toBe('0000000000000004');
    expect((await cmd(s, TAPE0, T.encodeRead16({ logicalId: 0, partition: 1, transferLength: 512 }))).senseHex).toBe(fixedSense(5, 0x24, 0, { cd: true, byte: 3 }));
    expect((await cmd(s, TAPE0, T.encodeWrite16({ logicalId: 0, partition: 1, transferLength: 4 }), { dataOut: Buffer.alloc(4), dataInLength: 0 })).senseHex).toBe(fixedSense(5, 0x24, 0, { cd: true, byte: 3 }));
    expect((await cmd(s, TAPE0, T.encodeWriteFilemarks16({ logicalId: 0, partition: 2, count: 1 }), { dataInLength: 0 })).senseHex).toBe(fixedSense(5, 0x24, 0, { cd: true, byte: 3 }));
    const rsv = T.encodeRead16({ logicalId: 0, transferLength: 1 });
    rsv[2] = 0x01;
    expect((await cmd(s, TAPE0, rsv)).senseHex).toBe(fixedSense(5, 0x24, 0, { cd: true, byte: 2, bit: 0 }));
    const sili = T.encodeWrite16({ logicalId: 0, transferLength: 1 });
    sili[1] = 0x02;
    expect((await cmd(s, TAPE0, sili, { dataOut: Buffer.alloc(1), dataInLength: 0 })).senseHex).toBe(fixedSense(5, 0x24, 0, { cd: true, byte: 1, bit: 1 }));
    // FIXED=1 while the mode block length is 0 (variable mode).
    expect((await cmd(s, TAPE0, T.encodeRead16({ logicalId: 0, fixed: true, transferLength: 1 }))).senseHex).toBe(fixedSense(5, 0x24, 0, { cd: true, byte: 1, bit: 0 }));
    // Write-protected cartridge in tape1: 7/27/00 before any motion.
    expect((await cmd(s, TAPE1, T.encodeWrite16({ logicalId: 0, transferLength: 4 }), { dataOut: Buffer.alloc(4), dataInLength: 0 })).senseHex).toBe(fixedSense(7, 0x27, 0x00));
  });

  it('WRITE(16) before EOD discards what follows, as any write-type command does', async () => {
    expect((await cmd(s, TAPE0, T.encodeWrite16({ logicalId: 2, transferLength: 64 }), { dataOut: pattern(64, 9), dataInLength: 0 })).status).toBe(0);
    expect((await cmd(s, TAPE0, T.encodeRead16({ logicalId: 3, transferLength: 64 }))).senseHex).toBe(fixedSense(8, 0x00, 0x05, undefined, 64));
    expect((await cmd(s, TAPE0, T.encodeRead16({ logicalId: 2, transferLength: 64 }))).data.equals(pattern(64, 9))).toBe(true);
    expect((await cmd(s, TAPE0, T.encodeWriteFilemarks16({ logicalId: 3, count: 1 }), { dataInLength: 0 })).status).toBe(0);
  });

  it('LOG SENSE 00h and 00h/FFh lists; 0Ch counters; 31h capacity in MiB; 17h page valid, serial, barcode', async () => {
    expect((await cmd(s, TAPE0, T.encodeLogSenseCdb({ pageCode: 0 }))).data.toString('hex')).toBe('00000008' + '0002030c12172e31');
    expect((await cmd(s, TAPE0, T.encodeLogSenseCdb({ pageCode: 0, subpage: 0xff }))).data.toString('hex')).toBe('40ff0012' + '000000ff02000300' + '0c00120017002e003100');
    const seq = T.decodeLogPage((await cmd(s, TAPE0, T.encodeLogSenseCdb({ pageCode: 0x0c }))).data);
    expect(seq.params.every((p) => p.control === 0x40)).toBe(true);
    // Written since load: 1000+1001+1002 + 64 bytes; read: 1001 + 64.
    expect(seq.params.slice(0, 4).map((p) => Number(p.value.readBigUInt64BE(0)))).toEqual([3067, 3067, 1065, 1065]);
    const cap = await cmd(s, TAPE0, T.encodeLogSenseCdb({ pageCode: 0x31 }));
    // 4 MiB cartridge, 4 KiB used: 3 MiB remaining (whole MiB), 4 maximum; no alternate partition.
    expect(cap.data.toString('hex')).toBe('31000020' + '0001400400000003' + '0002400400000000' + '0003400400000004' + '0004400400000000');
    const vs = T.decodeLogPage((await cmd(s, TAPE0, T.encodeLogSenseCdb({ pageCode: 0x17 }))).data);
    const byCode = new Map(vs.params.map((p) => [p.code, p.value]));
    expect(byCode.get(0x0000)!.toString('hex')).toBe('01');
    expect(byCode.get(0x0001)!.readUInt32BE(0)).toBe(1);
    expect(byCode.get(0x0002)!.readBigUInt64BE(0)).toBe(4n);
    expect(byCode.get(0x0040)!.toString('ascii')).toBe('DMSIMDM0001L3'.padEnd(32));
    expect(byCode.get(0x0042)!.toString('ascii')).toBe('DM0001L3'.padEnd(32));
    // Allocation length cuts the data; the page length stays.
    const cut = await cmd(s, TAPE0, T.encodeLogSenseCdb({ pageCode: 0x31, allocationLength: 12 }), { dataInLength: 12 });
    expect(cut.data.toString('hex')).toBe('31000020' + '0001400400000003');
  });

  it('LOG SENSE / LOG SELECT errors with field pointers; LOG SELECT PCR=1 resets the counters', async () => {
    expect((await cmd(s, TAPE0, T.encodeLogSenseCdb({ pageCode: 0x33 }))).senseHex).toBe(fixedSense(5, 0x24, 0, { cd: true, byte: 2, bit: 5 }));
    expect((await cmd(s, TAPE0, T.encodeLogSenseCdb({ pageCode: 0x0c, sp: true }))).senseHex).toBe(fixedSense(5, 0x24, 0, { cd: true, byte: 1, bit: 0 }));
    const ppc = T.encodeLogSenseCdb({ pageCode: 0x0c });
    ppc[1] = 0x02;
    expect((await cmd(s, TAPE0, ppc)).senseHex).toBe(fixedSense(5, 0x24, 0, { cd: true, byte: 1, bit: 1 }));
    expect((await cmd(s, TAPE0, T.encodeLogSenseCdb({ pageCode: 0x0c, subpage: 1 }))).senseHex).toBe(fixedSense(5, 0x24, 0, { cd: true, byte: 3 }));
    expect((await cmd(s, TAPE0, T.encodeLogSenseCdb({ pageCode: 0x0c, parameterPointer: 0x0200 }))).senseHex).toBe(fixedSense(5, 0x24, 0, { cd: true, byte: 5 }));
    expect((await cmd(s, TAPE0, T.encodeLogSelectCdb({ sp: true }), { dataInLength: 0 })).senseHex).toBe(fixedSense(5, 0x24, 0, { cd: true, byte: 1, bit: 0 }));
    expect((await cmd(s, TAPE0, T.encodeLogSelectCdb({ pcr: true, parameterListLength: 8 }), { dataOut: Buffer.alloc(8), dataInLength: 0 })).senseHex).toBe(fixedSense(5, 0x24, 0, { cd: true, byte: 7 }));
    expect((await cmd(s, TAPE0, T.encodeLogSelectCdb({ pageCode: 0x0c, parameterListLength: 8 }), { dataOut: Buffer.from('0c0000040000400000', 'hex').subarray(0, 8), dataInLength: 0 })).senseHex).toBe(fixedSense(5, 0x26, 0, { cd: false, byte: 0 }));
    expect((await cmd(s, TAPE0, T.encodeLogSelectCdb({ pcr: true }), { dataInLength: 0 })).status).toBe(0);
    const seq = T.decodeLogPage((await cmd(s, TAPE0, T.encodeLogSenseCdb({ pageCode: 0x0c }))).data);
    expect(seq.params.slice(0, 4).map((p) => Number(p.value.readBigUInt64BE(0)))).toEqual([0, 0, 0, 0]);
  });

  it('TapeAlert 2Eh: injected read error raises 03h+05h, write protect 09h; reading the page whole clears it, 12h keeps them', async () => {
    // Drain whatever earlier tests raised (the write-protect on tape1 belongs to tape1, not tape0).
    await cmd(s, TAPE0, T.encodeLogSenseCdb({ pageCode: 0x2e }));
    await faults(router, 'tape0', { mediumError: { firstLba: 0, count: 1, on: 'read', once: true } });
    const bad = await cmd(s, TAPE0, T.encodeRead16({ logicalId: 0, transferLength: 1000 }));
    expect(bad.senseHex).toBe(fixedSense(3, 0x11, 0x00, undefined, 1000));
    // A short allocation shows the flags without clearing them.
    const peek = await cmd(s, TAPE0, T.encodeLogSenseCdb({ pageCode: 0x2e, allocationLength: 29 }), { dataInLength: 29 });
    expect(peek.data.toString('hex')).toBe('2e000140' + '0001400100' + '0002400100' + '0003400101' + '0004400100' + '0005400101');
    const full = T.decodeLogPage((await cmd(s, TAPE0, T.encodeLogSenseCdb({ pageCode: 0x2e }))).data);
    expect(full.params.filter((p) => p.value[0] === 1).map((p) => p.code)).toEqual([0x03, 0x05]);
    expect(full.params.every((p) => p.control === 0x40 && p.value.length === 1)).toBe(true);
    const again = T.decodeLogPage((await cmd(s, TAPE0, T.encodeLogSenseCdb({ pageCode: 0x2e }))).data);
    expect(again.params.filter((p) => p.value[0] === 1)).toEqual([]);
    // 12h: flag 03h is bit 5 of byte 0, 05h bit 3 — still set.
    expect((await cmd(s, TAPE0, T.encodeLogSenseCdb({ pageCode: 0x12 }))).data.toString('hex')).toBe('1200000c' + '00004008' + '2800000000000000');
    // 0003h of the read error counters page: one uncorrected error.
    const rd = T.decodeLogPage((await cmd(s, TAPE0, T.encodeLogSenseCdb({ pageCode: 0x03 }))).data);
    expect(rd.params.find((p) => p.code === 6)!.value.readUInt32BE(0)).toBe(1);
    expect((await cmd(s, TAPE1, T.encodeWrite16({ logicalId: 0, transferLength: 4 }), { dataOut: Buffer.alloc(4), dataInLength: 0 })).sense).toMatchObject({ key: 7, asc: 0x27 });
    const wp = T.decodeLogPage((await cmd(s, TAPE1, T.encodeLogSenseCdb({ pageCode: 0x2e }))).data);
    expect(wp.params.filter((p) => p.value[0] === 1).map((p) => p.code)).toEqual([0x09]);
  });

  it('WRITE/READ ATTRIBUTE: host attributes padded and stored, read-only/unknown/wrong-length lists refused whole with a pointer', async () => {
    expect((await writeAttrs(s, [attr(0x0800, 1, 'DMSIM'), attr(0x0801, 1, 'dmsim-backup'), attr(0x0808, 2, 'weekly')])).status).toBe(0);
    const one = await cmd(s, TAPE0, M.encodeReadAttributeCdb({ firstAttribute: 0x0800, allocationLength: 4 + 13 }), { dataInLength: 17 });
    // AVAILABLE DATA counts everything from 0800h; only the whole 0800h attribute fits.
    expect(one.data.readUInt32BE(0)).toBe(13 + 37 + 165);
    expect(one.data.subarray(4).toString('hex')).toBe('0800010008' + Buffer.from('DMSIM   ').toString('hex'));
    const all = M.decodeAttributeValues((await cmd(s, TAPE0, M.encodeReadAttributeCdb({ allocationLength: 32768 }))).data).attributes;
    const get = (id: number) => all.find((a) => a.id === id)!;
    expect(get(0x0808).value).toEqual(Buffer.concat([Buffer.from('weekly'), Buffer.alloc(154)]));
    expect(get(0x0401)).toMatchObject({ readOnly: true, format: 1 });
    expect(get(0x0401).value.toString('ascii')).toBe('DMSIMDM0001L3'.padEnd(32));
    expect(get(0x0003).value.readBigUInt64BE(0)).toBe(1n);
    expect(get(0x0001).value.readBigUInt64BE(0)).toBe(4n);
    expect(get(0x0406).value.toString('ascii')).toMatch(/^\d{8}$/);
    expect(get(0x020a).value.toString('ascii')).toMatch(/^DMSIM {3}\S+ *$/);
    expect(all.map((a) => a.id)).toEqual([...all.map((a) => a.id)].sort((a, b) => a - b));
    // A good attribute then a read-only one: nothing stored, pointer = offset of 0401h in the list.
    const ro = await writeAttrs(s, [attr(0x0802, 1, 'v9'), attr(0x0401, 1, 'X')]);
    expect(ro.senseHex).toBe(fixedSense(5, 0x26, 0, { cd: false, byte: 4 + 5 + 2 }));
    expect((await cmd(s, TAPE0, M.encodeReadAttributeCdb({ firstAttribute: 0x0802 }))).senseHex).toBe(fixedSense(5, 0x24, 0, { cd: true, byte: 8 }));
    expect((await writeAttrs(s, [attr(0x0900, 1, 'X')])).senseHex).toBe(fixedSense(5, 0x26, 0, { cd: false, byte: 4 }));
    expect((await writeAttrs(s, [attr(0x0805, 0, Buffer.from([0, 0]))])).senseHex).toBe(fixedSense(5, 0x26, 0, { cd: false, byte: 7 }));
    expect((await writeAttrs(s, [attr(0x0800, 1, 'TOO-LONG-VENDOR')])).senseHex).toBe(fixedSense(5, 0x26, 0, { cd: false, byte: 7 }));
    expect((await writeAttrs(s, [attr(0x0800, 0, 'DMSIM')])).senseHex).toBe(fixedSense(5, 0x26, 0, { cd: false, byte: 6, bit: 1 }));
    // Too much for the host area: 5/55/06.
    const big = Array.from({ length: 30 }, (_, i) => attr(0x1400 + i, 0, Buffer.alloc(200)));
    expect((await writeAttrs(s, big)).senseHex).toBe(fixedSense(5, 0x55, 0x06));
  });

  it('READ ATTRIBUTE service actions and CDB errors', async () => {
    const list = M.decodeAttributeIdList((await cmd(s, TAPE0, M.encodeReadAttributeCdb({ serviceAction: 1, firstAttribute: 0x0800 }))).data);
    expect(list).toEqual([0x0800, 0x0801, 0x0808]);
    expect((await cmd(s, TAPE0, M.encodeReadAttributeCdb({ serviceAction: 3 }))).data.toString('hex')).toBe('00020001');
    expect((await cmd(s, TAPE0, M.encodeReadAttributeCdb({ serviceAction: 2 }))).data.toString('hex')).toBe('00020001');
    expect(M.decodeAttributeIdList((await cmd(s, TAPE0, M.encodeReadAttributeCdb({ serviceAction: 5 }))).data)).toContain(0x0808);
    expect((await cmd(s, TAPE0, M.encodeReadAttributeCdb({ partition: 1 }))).senseHex).toBe(fixedSense(5, 0x24, 0, { cd: true, byte: 7 }));
    expect((await cmd(s, TAPE0, M.encodeReadAttributeCdb({ volume: 1 }))).senseHex).toBe(fixedSense(5, 0x24, 0, { cd: true, byte: 5 }));
    expect((await cmd(s, TAPE0, M.encodeReadAttributeCdb({ serviceAction: 4 }))).senseHex).toBe(fixedSense(5, 0x24, 0, { cd: true, byte: 1, bit: 4 }));
    await faults(router, 'tape0', { mamFailure: true });
    expect((await cmd(s, TAPE0, M.encodeReadAttributeCdb({}))).senseHex).toBe(fixedSense(3, 0x11, 0x12));
    expect((await writeAttrs(s, [attr(0x0802, 1, 'v9')])).senseHex).toBe(fixedSense(3, 0x0c, 0x0b));
    const ta = T.decodeLogPage((await cmd(s, TAPE0, T.encodeLogSenseCdb({ pageCode: 0x2e }))).data);
    expect(ta.params.filter((p) => p.value[0] === 1).map((p) => p.code)).toEqual([0x0f]);
    await faults(router, 'tape0', { mamFailure: false });
  });

  it('READ MEDIA SERIAL NUMBER: MAM 0401h, 32 bytes, length 20h; other service actions 5/24/00', async () => {
    const r = await cmd(s, TAPE0, T.encodeReadMediaSerialCdb(64));
    expect(r.data.toString('hex')).toBe('00000020' + Buffer.from('DMSIMDM0001L3'.padEnd(32)).toString('hex'));
    expect((await cmd(s, TAPE0, T.encodeReadMediaSerialCdb(64, 2))).senseHex).toBe(fixedSense(5, 0x24, 0, { cd: true, byte: 1, bit: 4 }));
  });

  it('host attributes and the load count survive SIGKILL and restart (stored with the cartridge); no cartridge → 2/3A/00', async () => {
    router.child.kill('SIGKILL');
    await router.done;
    router = await start(labFile, path.join(dir, 'data'));
    s = await login(router);
    await settle(s, TAPE0);
    const all = M.decodeAttributeValues((await cmd(s, TAPE0, M.encodeReadAttributeCdb({ firstAttribute: 0x0003 }))).data).attributes;
    expect(all[0]!.value.readBigUInt64BE(0)).toBe(2n);
    expect(all.find((a) => a.id === 0x0801)!.value.toString('ascii')).toBe('dmsim-backup'.padEnd(32));
    // Unload (HOLD=0): the cartridge goes back to the vault.
    expect((await cmd(s, TAPE0, T.encodeLoadUnload({ load: false }), { dataInLength: 0 })).status).toBe(0);
    expect((await cmd(s, TAPE0, T.encodeReadMediaSerialCdb(64))).senseHex).toBe(fixedSense(2, 0x3a, 0x00));
    expect((await cmd(s, TAPE0, M.encodeReadAttributeCdb({}))).senseHex).toBe(fixedSense(2, 0x3a, 0x00));
  }, 90_000);
});
