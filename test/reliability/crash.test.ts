/**
 * Crash safety of the whole router process: `dmsim router` runs as a child on real files, an
 * iSCSI initiator writes to a disk LU (FUA, or plain writes followed by SYNCHRONIZE CACHE) and asks
 * the data mover for a disk→tape copy, and the child is SIGKILLed at a random moment. After each
 * restart: every write acknowledged with FUA or before an acknowledged SYNCHRONIZE CACHE is in the
 * disk image; the cartridge loads and holds a prefix of whole, correct records (all of them plus
 * the filemark when the copy was acknowledged); APTPL registrations survive, RESERVE(6) does not.
 *
 * Cycles: 3 in CI, DMSIM_LONG=1 for 25 (DMSIM_CRASH_CYCLES overrides). Seeded by DMSIM_CRASH_SEED.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clearUnitAttentions, connect, IscsiInitiator, type IscsiSession } from '../../src/iscsi/initiator/index.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { encodeParameterList, encodeXcopyCdb } from '../../src/scsi/xcopy.js';
import { collect, spawnCliWatched, waitForLog } from '../cli/cli-process.js';

const LONG = process.env.DMSIM_LONG === '1';
const CYCLES = Number(process.env.DMSIM_CRASH_CYCLES ?? (LONG ? 25 : 3));
let seed = Number(process.env.DMSIM_CRASH_SEED ?? 12345);
/** mulberry32: reproducible kill points and LBAs from the seed. */
function rand(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const randInt = (n: number) => Math.floor(rand() * n);

const BACKUP = 'iqn.2026-11.dev.dmsim.hosts:backup1';
const SCRATCH = 2;
const BLANK = 1;
const FAT = 0;
const BS = 512;
const WRITE_BLOCKS = 8;
const LBA_SLOTS = 512;
const PR_KEY = 0x00c0ffee12345678n;
const RECORD = 65536;
const RECORDS = 96;

interface Router {
  child: ChildProcess;
  port: number;
  done: Promise<unknown>;
  arrayIqn: string;
  routerIqn: string;
}

async function startRouter(dataDir: string): Promise<Router> {
  const child = spawnCliWatched(['router', '--iscsi', '127.0.0.1:0', '--api', 'off', '--data', dataDir]);
  const done = collect(child);
  const ready = await waitForLog(child, 'router ready', 60_000);
  const port = Number(String(ready.iscsi).split(':')[1]);
  const targets = await new IscsiInitiator({ initiatorName: BACKUP }).discover('127.0.0.1', port);
  const iqn = (suffix: string) => targets.find((t) => t.name.endsWith(suffix))!.name;
  return { child, port, done, arrayIqn: iqn(':array1'), routerIqn: iqn(':router1') };
}

async function kill(r: Router): Promise<void> {
  r.child.kill('SIGKILL');
  await r.done;
}

const login = (r: Router, target: string): Promise<IscsiSession> =>
  connect({ host: '127.0.0.1', port: r.port, initiatorName: BACKUP, targetName: target, commandTimeoutMs: 0, loginTimeoutMs: 10_000 });

function cdb10(op: number, lba: number, blocks: number, flags = 0): Buffer {
  const c = Buffer.alloc(10);
  c[0] = op;
  c[1] = flags;
  c.writeUInt32BE(lba, 2);
  c.writeUInt16BE(blocks, 7);
  return c;
}
const SYNC = Buffer.from([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

function pattern(tag: number, lba: number): Buffer {
  const b = Buffer.alloc(WRITE_BLOCKS * BS);
  for (let i = 0; i < b.length; i += 8) {
    b.writeUInt32BE(tag, i);
    b.writeUInt32BE(lba + (i >> 9), i + 4);
  }
  return b;
}

/**
 * What a slot of the disk may hold after a crash: the newest durable version, or anything
 * written after it (acknowledged without FUA, or in flight when the process died).
 */
class SlotModel {
  private readonly slots = new Map<number, Buffer[]>();
  durableWrites = 0;
  written(slot: number, data: Buffer, durable: boolean): void {
    const h = this.slots.get(slot) ?? [];
    if (durable) h.length = 0;
    h.push(data);
    this.slots.set(slot, h);
    if (durable) this.durableWrites++;
  }
  /** SYNCHRONIZE CACHE acknowledged: the newest acknowledged version of every slot is durable. */
  synced(acked: Map<number, Buffer>): void {
    for (const [slot, data] of acked) this.written(slot, data, true);
  }
  acceptable(slot: number): Buffer[] | undefined {
    return this.slots.get(slot);
  }
  settle(slot: number, data: Buffer): void {
    this.slots.set(slot, [data]);
  }
  get size(): number {
    return this.slots.size;
  }
}

async function writeUntilKilled(r: Router, model: SlotModel, cycle: number, stop: { dead: boolean }): Promise<number> {
  const s = await login(r, r.arrayIqn);
  await clearUnitAttentions(s, SCRATCH);
  const sinceSync = new Map<number, Buffer>();
  let n = 0;
  try {
    while (!stop.dead) {
      const slot = randInt(LBA_SLOTS);
      const lba = slot * WRITE_BLOCKS;
      const fua = rand() < 0.5;
      const data = pattern((cycle << 20) | n++, lba);
      // In flight: may or may not land, so it is acceptable from now on.
      model.written(slot, data, false);
      const res = await s.command({ lun: SCRATCH, cdb: cdb10(0x2a, lba, WRITE_BLOCKS, fua ? 0x08 : 0), dataOut: data });
      expect(res.status).toBe(0);
      if (fua) {
        model.written(slot, data, true);
        sinceSync.delete(slot);
      } else sinceSync.set(slot, data);
      if (rand() < 0.1) {
        const acked = new Map(sinceSync);
        const sr = await s.command({ lun: SCRATCH, cdb: SYNC });
        expect(sr.status).toBe(0);
        model.synced(acked);
        for (const k of acked.keys()) sinceSync.delete(k);
      }
    }
  } catch (e) {
    if (!stop.dead) throw e;
  } finally {
    s.destroy();
  }
  return n;
}

async function verifyDisk(r: Router, model: SlotModel, cycle: number): Promise<number> {
  const s = await login(r, r.arrayIqn);
  try {
    await clearUnitAttentions(s, SCRATCH);
    let checked = 0;
    for (let slot = 0; slot < LBA_SLOTS; slot++) {
      const ok = model.acceptable(slot);
      if (!ok) continue;
      const res = await s.command({ lun: SCRATCH, cdb: cdb10(0x28, slot * WRITE_BLOCKS, WRITE_BLOCKS), dataInLength: WRITE_BLOCKS * BS });
      expect(res.status).toBe(0);
      const found = ok.some((d) => d.equals(res.dataIn));
      expect(found, `cycle ${cycle} slot ${slot}: disk holds tag ${res.dataIn.readUInt32BE(0).toString(16)}, acceptable ${ok.map((d) => d.readUInt32BE(0).toString(16)).join(',')}`).toBe(true);
      model.settle(slot, Buffer.from(res.dataIn));
      checked++;
    }
    return checked;
  } finally {
    await s.close().catch(() => s.destroy());
  }
}

/** Start a disk→tape copy (FAT LU from LBA 0, RECORDS records of 64 KiB, then a filemark); resolves true when acknowledged GOOD. */
async function copyToTape(r: Router, fatNaa: Buffer, tapeNaa: Buffer, stop: { dead: boolean; copySent?: () => void }): Promise<boolean> {
  const s = await login(r, r.routerIqn);
  try {
    await clearUnitAttentions(s, 0);
    await clearUnitAttentions(s, 1);
    expect((await s.command({ lun: 1, cdb: Buffer.from([0x01, 0, 0, 0, 0, 0]) })).status).toBe(0);
    const list = encodeParameterList({
      header: { listId: 0, str: false, listIdUsage: 3, priority: 0 },
      cscds: [
        { type: 0xe4, luIdType: 0, nul: false, pdt: 0, relativeInitiatorPort: 0, designator: { codeSet: 1, association: 0, designatorType: 3, value: fatNaa }, params: { kind: 'block', pad: false, blockLength: BS } },
        { type: 0xe4, luIdType: 0, nul: false, pdt: 1, relativeInitiatorPort: 0, designator: { codeSet: 1, association: 0, designatorType: 3, value: tapeNaa }, params: { kind: 'stream', pad: false, fixed: false, blockLength: 0 } },
      ],
      segments: [
        { type: 0x00, src: 0, dst: 1, streamTransferLength: RECORD, blocks: (RECORDS * RECORD) / BS, lba: 0 },
        { type: 0x10, dst: 1, count: 1 },
      ],
      inline: Buffer.alloc(0),
    });
    const pending = s.command({ lun: 0, cdb: encodeXcopyCdb({ parameterListLength: list.length }), dataOut: list });
    stop.copySent?.();
    const res = await pending;
    expect(res.status, res.sense ? JSON.stringify(decodeSense(res.sense)) : '').toBe(0);
    return true;
  } catch (e) {
    if (stop.dead) return false;
    throw e;
  } finally {
    s.destroy();
  }
}

/** After a restart: the tape loads, holds whole records equal to the source, in order; all of them and the filemark if acknowledged. */
async function verifyTape(r: Router, source: Buffer, acknowledged: boolean): Promise<number> {
  const s = await login(r, r.routerIqn);
  try {
    const tur = await clearUnitAttentions(s, 1);
    expect(tur.status, tur.sense ? JSON.stringify(decodeSense(tur.sense)) : '').toBe(0);
    expect((await s.command({ lun: 1, cdb: Buffer.from([0x01, 0, 0, 0, 0, 0]) })).status).toBe(0);
    let records = 0;
    let filemark = false;
    for (;;) {
      const res = await s.command({ lun: 1, cdb: Buffer.from([0x08, 0x00, 0x01, 0x00, 0x00, 0]), dataInLength: RECORD });
      if (res.status === 0) {
        expect(res.dataIn.length).toBe(RECORD);
        expect(res.dataIn.equals(source.subarray(records * RECORD, (records + 1) * RECORD)), `record ${records}`).toBe(true);
        records++;
        continue;
      }
      const sense = decodeSense(res.sense!);
      // No half record: a read ends at a filemark or at blank/end of data, never with an ILI'd short record.
      expect(sense.ili ?? false, JSON.stringify(sense)).toBe(false);
      filemark = sense.filemark === true;
      if (!filemark) expect(sense.key, JSON.stringify(sense)).toBe(0x08);
      break;
    }
    if (acknowledged) {
      expect(records).toBe(RECORDS);
      expect(filemark).toBe(true);
    } else {
      expect(records).toBeLessThanOrEqual(RECORDS);
      if (filemark) expect(records).toBe(RECORDS);
    }
    return records;
  } finally {
    await s.close().catch(() => s.destroy());
  }
}

const TAPE_REC = 8192;
const FM_EVERY = 8;
function tapeRecord(cycle: number, i: number): Buffer {
  const b = Buffer.alloc(TAPE_REC);
  for (let o = 0; o < b.length; o += 8) {
    b.writeUInt32BE(cycle, o);
    b.writeUInt32BE(i, o + 4);
  }
  return b;
}

/** WRITE(6) variable records to tape1 from BOT, a filemark after every FM_EVERY; counts what was acknowledged. */
async function tapeWritesUntilKilled(r: Router, cycle: number, stop: { dead: boolean }): Promise<{ acked: number; filemarks: number }> {
  const s = await login(r, r.routerIqn);
  const out = { acked: 0, filemarks: 0 };
  try {
    await clearUnitAttentions(s, 2);
    expect((await s.command({ lun: 2, cdb: Buffer.from([0x01, 0, 0, 0, 0, 0]) })).status).toBe(0);
    for (let i = 0; !stop.dead; i++) {
      const w = await s.command({ lun: 2, cdb: Buffer.from([0x0a, 0x00, 0, TAPE_REC >> 8, 0, 0]), dataOut: tapeRecord(cycle, i) });
      expect(w.status, w.sense ? JSON.stringify(decodeSense(w.sense)) : '').toBe(0);
      out.acked = i + 1;
      if ((i + 1) % FM_EVERY === 0) {
        const fm = await s.command({ lun: 2, cdb: Buffer.from([0x10, 0, 0, 0, 1, 0]) });
        expect(fm.status).toBe(0);
        out.filemarks++;
      }
    }
  } catch (e) {
    if (!stop.dead) throw e;
  } finally {
    s.destroy();
  }
  return out;
}

/** tape1 after the restart: acknowledged records (and at most one more) in order, whole, filemarks where written. */
async function verifyTapeWrites(r: Router, cycle: number, w: { acked: number; filemarks: number }): Promise<number> {
  const s = await login(r, r.routerIqn);
  try {
    const tur = await clearUnitAttentions(s, 2);
    expect(tur.status, tur.sense ? JSON.stringify(decodeSense(tur.sense)) : '').toBe(0);
    expect((await s.command({ lun: 2, cdb: Buffer.from([0x01, 0, 0, 0, 0, 0]) })).status).toBe(0);
    let records = 0;
    let filemarks = 0;
    for (;;) {
      const res = await s.command({ lun: 2, cdb: Buffer.from([0x08, 0x00, 0, TAPE_REC >> 8, 0, 0]), dataInLength: TAPE_REC });
      if (res.status === 0) {
        expect(res.dataIn.equals(tapeRecord(cycle, records)), `cycle ${cycle} tape record ${records}`).toBe(true);
        records++;
        continue;
      }
      const sense = decodeSense(res.sense!);
      if (sense.filemark) {
        filemarks++;
        expect(records % FM_EVERY, `filemark after record ${records}`).toBe(0);
        continue;
      }
      // A torn (short) record would answer with ILI here: none may be.
      expect(sense.ili ?? false, JSON.stringify(sense)).toBe(false);
      expect(sense.key, JSON.stringify(sense)).toBe(0x08);
      break;
    }
    expect(records, `cycle ${cycle}: ${w.acked} records acknowledged`).toBeGreaterThanOrEqual(w.acked);
    expect(records).toBeLessThanOrEqual(w.acked + 1);
    expect(filemarks).toBeGreaterThanOrEqual(w.filemarks);
    return records;
  } finally {
    await s.close().catch(() => s.destroy());
  }
}

function prOut(sa: number, type: number, key: bigint, sark: bigint, aptpl: boolean): { cdb: Buffer; data: Buffer } {
  const cdb = Buffer.alloc(10);
  cdb[0] = 0x5f;
  cdb[1] = sa;
  cdb[2] = type;
  cdb.writeUInt32BE(24, 5);
  const data = Buffer.alloc(24);
  data.writeBigUInt64BE(key, 0);
  data.writeBigUInt64BE(sark, 8);
  data[20] = aptpl ? 1 : 0;
  return { cdb, data };
}
const prIn = (sa: number) => Buffer.from([0x5e, sa, 0, 0, 0, 0, 0, 0x01, 0x00, 0]);

describe('SIGKILL of the router process', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-crash-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it(`loses no acknowledged write and leaves whole tape records (${CYCLES} kill cycles)`, async () => {
    const model = new SlotModel();
    // The scratch LU starts as zeros: that is the durable version of every slot until a FUA/sync.
    for (let slot = 0; slot < LBA_SLOTS; slot++) model.settle(slot, Buffer.alloc(WRITE_BLOCKS * BS));
    let r = await startRouter(dataDir);
    // Reservation state before the first crash: APTPL registration + WRITE EXCLUSIVE on the FAT LU,
    // an SPC-2 RESERVE(6) on the blank LU.
    const s = await login(r, r.arrayIqn);
    await clearUnitAttentions(s, FAT);
    await clearUnitAttentions(s, BLANK);
    const reg = prOut(0x00, 0, 0n, PR_KEY, true);
    expect((await s.command({ lun: FAT, cdb: reg.cdb, dataOut: reg.data })).status).toBe(0);
    const rsv = prOut(0x01, 0x01, PR_KEY, 0n, false);
    expect((await s.command({ lun: FAT, cdb: rsv.cdb, dataOut: rsv.data })).status).toBe(0);
    expect((await s.command({ lun: BLANK, cdb: Buffer.from([0x16, 0, 0, 0, 0, 0]) })).status).toBe(0);
    // The copy source: what the FAT LU holds (never written by this test).
    const src = await s.command({ lun: FAT, cdb: cdb10(0x28, 0, (RECORDS * RECORD) / BS), dataInLength: RECORDS * RECORD });
    expect(src.status).toBe(0);
    const source = Buffer.from(src.dataIn);
    // This session holds RESERVE(6) until the process dies (a logout would release it).
    let holder: IscsiSession = s;
    const naa = async (iqn: string, lun: number) => {
      const x = await login(r, iqn);
      try {
        await clearUnitAttentions(x, lun);
        const v = await x.command({ lun, cdb: Buffer.from([0x12, 1, 0x83, 0, 255, 0]), dataInLength: 255 });
        // First designator of VPD 83h: the NAA the copy manager resolves.
        const len = v.dataIn[7]!;
        return Buffer.from(v.dataIn.subarray(8, 8 + len));
      } finally {
        x.destroy();
      }
    };
    const fatNaa = await naa(r.arrayIqn, FAT);
    const tapeNaa = await naa(r.routerIqn, 1);

    const figures = { cycles: 0, writes: 0, durable: 0, slotsVerified: 0, copiesAcked: 0, copiesKilled: 0, recordsVerified: 0, tapeWritesAcked: 0, tapeRecordsVerified: 0 };
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const withCopy = cycle % 2 === 1;
      let copySent: () => void = () => {};
      const sent = new Promise<void>((res) => (copySent = res));
      const stop = { dead: false, copySent };
      const writer = writeUntilKilled(r, model, cycle, stop);
      const copy = withCopy ? copyToTape(r, fatNaa, tapeNaa, stop) : Promise.resolve(false);
      const tapeWrites = withCopy ? undefined : tapeWritesUntilKilled(r, cycle, stop);
      // Copy cycles die somewhere inside the copy (or just after it); write-only cycles anywhere.
      if (withCopy) await sent;
      await new Promise((res) => setTimeout(res, withCopy ? randInt(400) : 100 + randInt(900)));
      stop.dead = true;
      await kill(r);
      holder.destroy();
      figures.writes += await writer;
      const acked = await copy;
      const tw = await tapeWrites;
      r = await startRouter(dataDir);
      figures.slotsVerified += await verifyDisk(r, model, cycle);
      if (tw) {
        figures.tapeWritesAcked += tw.acked;
        figures.tapeRecordsVerified += await verifyTapeWrites(r, cycle, tw);
      }
      if (withCopy) {
        figures.recordsVerified += await verifyTape(r, source, acked);
        if (acked) figures.copiesAcked++;
        else figures.copiesKilled++;
      }
      // APTPL: the registration and the reservation are back; RESERVE(6) is gone (another nexus reads the blank LU).
      const c = await connect({ host: '127.0.0.1', port: r.port, initiatorName: BACKUP, targetName: r.arrayIqn, isid: Buffer.from([0x80, 0, 0, 0x77, 0, cycle & 0xff]) });
      try {
        await clearUnitAttentions(c, FAT);
        await clearUnitAttentions(c, BLANK);
        const keys = await c.command({ lun: FAT, cdb: prIn(0x00), dataInLength: 256 });
        expect(keys.status).toBe(0);
        expect(keys.dataIn.readUInt32BE(4)).toBe(8);
        expect(keys.dataIn.readBigUInt64BE(8)).toBe(PR_KEY);
        const resv = await c.command({ lun: FAT, cdb: prIn(0x01), dataInLength: 256 });
        expect(resv.dataIn.readUInt32BE(4)).toBe(16);
        expect(resv.dataIn[21]! & 0x0f).toBe(0x01);
        const rd = await c.command({ lun: BLANK, cdb: cdb10(0x28, 0, 1), dataInLength: BS });
        expect(rd.status, 'RESERVE(6) must not survive the restart').toBe(0);
        // Take it again for the next crash, on this fresh nexus, kept open until the kill.
        expect((await c.command({ lun: BLANK, cdb: Buffer.from([0x16, 0, 0, 0, 0, 0]) })).status).toBe(0);
        holder = c;
      } catch (e) {
        c.destroy();
        throw e;
      }
      figures.cycles++;
    }
    figures.durable = model.durableWrites;
    console.log(JSON.stringify({ msg: 'crash figures', ...figures }));
    holder.destroy();
    r.child.kill('SIGTERM');
    await r.done;
    expect(figures.cycles).toBe(CYCLES);
  }, LONG ? 1_200_000 : 180_000);
});
