/**
 * Load over loopback: many iSCSI sessions, several commands outstanding each, writing patterned
 * data to disjoint regions of the default lab's disk LUs and reading it back, while the data mover
 * copies disk to tape in a loop. Zero mismatches, no lost write (a final full re-read), every
 * session finishes (none starves), RSS stays bounded.
 *
 * CI: 24 sessions x 4 outstanding x 40 ops. DMSIM_LONG=1: 32 sessions x 8 outstanding x 400 ops.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clearUnitAttentions, connect, type IscsiSession } from '../../src/iscsi/initiator/index.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { encodeParameterList, encodeXcopyCdb } from '../../src/scsi/xcopy.js';
import { startLabTarget, type LabTarget } from '../conformance/lab-target.js';

const LONG = process.env.DMSIM_LONG === '1';
const SESSIONS = LONG ? 32 : 24;
const OUTSTANDING = LONG ? 8 : 4;
const OPS = LONG ? 400 : 40;
const LUNS = [1, 2];
const BS = 512;
const DISK_BLOCKS = 131072;
const BACKUP = 'iqn.2026-11.dev.dmsim.hosts:backup1';

function cdb10(op: number, lba: number, blocks: number): Buffer {
  const c = Buffer.alloc(10);
  c[0] = op;
  c.writeUInt32BE(lba, 2);
  c.writeUInt16BE(blocks, 7);
  return c;
}

let lab: LabTarget;
const sessions: IscsiSession[] = [];
beforeAll(async () => {
  lab = await startLabTarget();
}, 120_000);
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.close().catch(() => s.destroy())));
  await lab?.close();
});

describe('load: concurrent iSCSI sessions while copies run', () => {
  it(`${SESSIONS} sessions x ${OUTSTANDING} outstanding: zero mismatches, no lost writes, nobody starves, RSS bounded`, async () => {
    const port = lab.target.port;
    const regionBlocks = Math.floor(DISK_BLOCKS / (SESSIONS * OUTSTANDING)) & ~7;
    for (let i = 0; i < SESSIONS; i++) {
      const s = await connect({ host: '127.0.0.1', port, initiatorName: BACKUP, targetName: lab.iqn('array1'), isid: Buffer.from([0x80, 0, 0x10, i, 0, 0]) });
      sessions.push(s);
      for (const lun of LUNS) await clearUnitAttentions(s, lun);
    }

    // The copy running meanwhile: FAT LU to tape0 through the data mover, again and again.
    const rt = lab.runtime;
    const naa = (n: string) => rt.lu(n)!.lu.identity.naa;
    const copier = await connect({ host: '127.0.0.1', port, initiatorName: BACKUP, targetName: lab.iqn('router1') });
    sessions.push(copier);
    await clearUnitAttentions(copier, 0);
    await clearUnitAttentions(copier, 1);
    const list = encodeParameterList({
      header: { listId: 0, str: false, listIdUsage: 3, priority: 0 },
      cscds: [
        { type: 0xe4, luIdType: 0, nul: false, pdt: 0, relativeInitiatorPort: 0, designator: { codeSet: 1, association: 0, designatorType: 3, value: naa('array1/fat') }, params: { kind: 'block', pad: false, blockLength: BS } },
        { type: 0xe4, luIdType: 0, nul: false, pdt: 1, relativeInitiatorPort: 0, designator: { codeSet: 1, association: 0, designatorType: 3, value: naa('router1/tape0') }, params: { kind: 'stream', pad: false, fixed: false, blockLength: 0 } },
      ],
      segments: [{ type: 0x00, src: 0, dst: 1, streamTransferLength: 65536, blocks: 8192, lba: 0 }],
      inline: Buffer.alloc(0),
    });
    let loadDone = false;
    let copies = 0;
    const copyLoop = (async () => {
      while (!loadDone) {
        expect((await copier.command({ lun: 1, cdb: Buffer.from([0x01, 0, 0, 0, 0, 0]) })).status).toBe(0);
        const r = await copier.command({ lun: 0, cdb: encodeXcopyCdb({ parameterListLength: list.length }), dataOut: list });
        expect(r.status, r.sense ? JSON.stringify(decodeSense(r.sense)) : '').toBe(0);
        copies++;
      }
    })();

    global.gc?.();
    const rssBase = process.memoryUsage().rss;
    let rssMax = rssBase;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 100);

    let commands = 0;
    let bytesVerified = 0;
    let mismatches = 0;
    const shadows = new Map<string, Buffer>();
    const finishedAt: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      sessions.slice(0, SESSIONS).map(async (s, si) => {
        await Promise.all(
          Array.from({ length: OUTSTANDING }, async (_, wi) => {
            const base = (si * OUTSTANDING + wi) * regionBlocks;
            for (const lun of LUNS) shadows.set(`${lun}:${base}`, Buffer.alloc(regionBlocks * BS));
            for (let op = 0; op < OPS; op++) {
              const lun = LUNS[op % LUNS.length]!;
              const shadow = shadows.get(`${lun}:${base}`)!;
              const blocks = 1 + ((op * 37 + si * 11 + wi) % 128);
              const off = (op * 131 + wi * 7) % (regionBlocks - blocks);
              const data = Buffer.alloc(blocks * BS);
              for (let i = 0; i < data.length; i += 4) data.writeUInt32BE(((si << 24) | (wi << 20) | (op << 8) | (i & 0xff)) >>> 0, i);
              const w = await s.command({ lun, cdb: cdb10(0x2a, base + off, blocks), dataOut: data });
              expect(w.status, w.sense ? JSON.stringify(decodeSense(w.sense)) : '').toBe(0);
              data.copy(shadow, off * BS);
              const rd = await s.command({ lun, cdb: cdb10(0x28, base + off, blocks), dataInLength: data.length });
              expect(rd.status).toBe(0);
              if (!rd.dataIn.equals(data)) mismatches++;
              commands += 2;
              bytesVerified += data.length;
            }
          }),
        );
        finishedAt.push(performance.now() - t0);
      }),
    );
    const loadMs = performance.now() - t0;
    loadDone = true;
    await copyLoop;
    clearInterval(sampler);

    // No lost write: every region read back whole equals its shadow.
    for (const [key, shadow] of shadows) {
      const [lun, base] = key.split(':').map(Number) as [number, number];
      const s = sessions[(base / regionBlocks / OUTSTANDING) | 0]!;
      const rd = await s.command({ lun, cdb: cdb10(0x28, base, regionBlocks), dataInLength: shadow.length });
      expect(rd.status).toBe(0);
      if (!rd.dataIn.equals(shadow)) mismatches++;
      commands++;
      bytesVerified += shadow.length;
    }

    const figures = {
      sessions: SESSIONS,
      outstanding: OUTSTANDING,
      commands,
      bytesVerified,
      mismatches,
      copies,
      loadMs: Math.round(loadMs),
      slowestSessionMs: Math.round(Math.max(...finishedAt)),
      fastestSessionMs: Math.round(Math.min(...finishedAt)),
      rssGrowthMiB: Math.round((rssMax - rssBase) / 2 ** 20),
    };
    console.log(JSON.stringify({ msg: 'load figures', ...figures }));
    expect(mismatches).toBe(0);
    expect(finishedAt.length).toBe(SESSIONS);
    expect(copies).toBeGreaterThan(0);
    // Fair service: the last session does not finish far behind the first.
    expect(figures.slowestSessionMs).toBeLessThan(figures.fastestSessionMs * 3 + 2000);
    // Bounded memory: what is in flight is at most SESSIONS x OUTSTANDING x 64 KiB plus copy buffers.
    expect(figures.rssGrowthMiB).toBeLessThan(400);
  }, LONG ? 900_000 : 90_000);
});
