/**
 * The dmsim initiator against the dmsim iSCSI target in front of the default lab: discovery,
 * negotiation (InitialR2T=No, so immediate + unsolicited + solicited data all happen), writes
 * checked in the disk image, a small CmdSN window that forces local queueing, NOP-In pings from
 * the target, digests, task management, and CHAP (one-way, mutual, wrong secret).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChapSecrets, FrontEndDirectory } from '../../../firmware-sim/router/dispatch.js';
import { buildLab, type LabRuntime } from '../../../firmware-sim/lab/build.js';
import { loadLabFile } from '../../../firmware-sim/lab/load.js';
import { resolveInDataDir } from '../../../firmware-sim/lab/schema.js';
import { clearUnitAttentions, connect, IscsiInitiator, LoginError, type ConnectOptions, type IscsiSession } from '../../../src/iscsi/initiator/index.js';
import { TmfResponse } from '../../../src/iscsi/pdu/constants.js';
import { startIscsiTarget, type IscsiTarget } from '../../../src/iscsi/target/index.js';
import { ScsiStatus } from '../../../src/scsi/status.js';

const BACKUP = 'iqn.2026-11.dev.dmsim.hosts:backup1';
const BLOCK = 512;

function rw10(op: 0x28 | 0x2a, lba: number, blocks: number): Buffer {
  const cdb = Buffer.alloc(10);
  cdb[0] = op;
  cdb.writeUInt32BE(lba, 2);
  cdb.writeUInt16BE(blocks, 7);
  return cdb;
}

function pattern(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (i * 13 + seed * 5 + (i >> 10)) & 0xff;
  return b;
}

async function readImage(file: string, offset: number, len: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(len);
    await fh.read(b, 0, len, offset);
    return b;
  } finally {
    await fh.close();
  }
}

describe('iSCSI initiator against the dmsim target', () => {
  let dataDir: string;
  let runtime: LabRuntime;
  let target: IscsiTarget;
  let arrayIqn: string;
  let blankImage: string;
  let s: IscsiSession;
  const base = (): ConnectOptions => ({ host: '127.0.0.1', port: target.port, initiatorName: BACKUP, targetName: arrayIqn });

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'dmsim-ini-'));
    const config = await loadLabFile();
    runtime = await buildLab(config, { dataDir });
    target = await startIscsiTarget({ dispatcher: runtime.fabric, directory: runtime.directory, host: '127.0.0.1', port: 0 });
    const nodes = runtime.directory.targetNodes();
    arrayIqn = nodes.find((n) => n.alias?.startsWith('array1'))!.iqn;
    const blank = config.arrays.find((a) => a.name === 'array1')!.lus.find((l) => l.name === 'blank')!;
    blankImage = resolveInDataDir(runtime.dataDir, (blank as { image?: string }).image!);
    s = await connect(base());
    await clearUnitAttentions(s, 1);
  });
  afterAll(async () => {
    await s?.close();
    await target?.close();
    await runtime?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('SendTargets lists the lab target nodes with this portal', async () => {
    const found = await new IscsiInitiator({ initiatorName: BACKUP }).discover('127.0.0.1', target.port);
    const names = found.map((t) => t.name);
    expect(names).toContain(arrayIqn);
    for (const t of found) expect(t.addresses).toContainEqual({ host: '127.0.0.1', port: target.port, tpgt: 1 });
  });

  it('negotiates unsolicited data and large segments', () => {
    expect(s.params.initialR2T).toBe(false);
    expect(s.params.immediateData).toBe(true);
    expect(s.params.targetMaxRecvDataSegmentLength).toBeGreaterThanOrEqual(65536);
    expect(s.params.firstBurstLength).toBeGreaterThanOrEqual(65536);
  });

  it('REPORT LUNS shows the array LUs masked to backup1', async () => {
    expect(await s.reportLuns()).toEqual([0, 1, 2]);
    expect((await s.inquiry(1)).deviceType).toBe(0);
  });

  it('a 3 MiB WRITE (immediate + unsolicited + R2T data) reaches the disk image and reads back', async () => {
    const data = pattern(3 * 1024 * 1024, 3);
    const lba = 2048;
    expect((await s.command({ lun: 1, cdb: rw10(0x2a, lba, data.length / BLOCK), dataOut: data })).status).toBe(ScsiStatus.GOOD);
    expect((await s.command({ lun: 1, cdb: Buffer.from([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]) })).status).toBe(ScsiStatus.GOOD);
    expect((await readImage(blankImage, lba * BLOCK, data.length)).equals(data)).toBe(true);
    const r = await s.command({ lun: 1, cdb: rw10(0x28, lba, data.length / BLOCK), dataInLength: data.length });
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(r.dataIn.equals(data)).toBe(true);
  });

  it('sends unsolicited Data-Out PDUs when the target takes small segments (8 KiB) but a 256 KiB first burst', async () => {
    const small = await startIscsiTarget({ dispatcher: runtime.fabric, directory: runtime.directory, host: '127.0.0.1', port: 0, limits: { maxRecvDataSegmentLength: 8192 } });
    const u = await connect({ ...base(), port: small.port });
    try {
      expect(u.params.targetMaxRecvDataSegmentLength).toBe(8192);
      expect(u.params.initialR2T).toBe(false);
      expect(u.params.firstBurstLength).toBe(262144);
      await clearUnitAttentions(u, 1);
      // 8 KiB immediate + 248 KiB unsolicited (31 Data-Outs) + 64 KiB solicited by R2T.
      const data = pattern(320 * 1024, 11);
      const lba = 60000;
      expect((await u.command({ lun: 1, cdb: rw10(0x2a, lba, data.length / BLOCK), dataOut: data })).status).toBe(ScsiStatus.GOOD);
      expect((await u.command({ lun: 1, cdb: Buffer.from([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]) })).status).toBe(ScsiStatus.GOOD);
      expect((await readImage(blankImage, lba * BLOCK, data.length)).equals(data)).toBe(true);
    } finally {
      await u.close();
      await small.close();
    }
  });

  it('queues commands locally when the target window is small, and completes them all', async () => {
    const small = await startIscsiTarget({ dispatcher: runtime.fabric, directory: runtime.directory, host: '127.0.0.1', port: 0, queueDepth: 2 });
    const q = await connect({ ...base(), port: small.port });
    try {
      await clearUnitAttentions(q, 2);
      const n = 40;
      const blocks = 4;
      const writes = Array.from({ length: n }, (_, i) => pattern(blocks * BLOCK, 50 + i));
      const ws = await Promise.all(writes.map((d, i) => q.command({ lun: 2, cdb: rw10(0x2a, i * blocks, blocks), dataOut: d })));
      expect(ws.map((r) => r.status)).toEqual(writes.map(() => ScsiStatus.GOOD));
      const rs = await Promise.all(writes.map((_, i) => q.command({ lun: 2, cdb: rw10(0x28, i * blocks, blocks), dataInLength: blocks * BLOCK })));
      rs.forEach((r, i) => expect(r.dataIn.equals(writes[i]!)).toBe(true));
    } finally {
      await q.close();
      await small.close();
    }
  });

  it('answers the target NOP-In pings and stays logged in', async () => {
    const pinging = await startIscsiTarget({ dispatcher: runtime.fabric, directory: runtime.directory, host: '127.0.0.1', port: 0, nopInIntervalMs: 30, nopInTimeoutMs: 200 });
    const p = await connect({ ...base(), port: pinging.port });
    try {
      await new Promise((r) => setTimeout(r, 600));
      expect(p.closed).toBe(false);
      expect(await p.reportLuns()).toEqual([0, 1, 2]);
    } finally {
      await p.close();
      await pinging.close();
    }
  });

  it('works with CRC32C header and data digests', async () => {
    const d = await connect({ ...base(), headerDigest: true, dataDigest: true });
    try {
      expect(d.params.headerDigest && d.params.dataDigest).toBe(true);
      await clearUnitAttentions(d, 1);
      const data = pattern(600 * 1024, 8);
      expect((await d.command({ lun: 1, cdb: rw10(0x2a, 40000, data.length / BLOCK), dataOut: data })).status).toBe(ScsiStatus.GOOD);
      const r = await d.command({ lun: 1, cdb: rw10(0x28, 40000, data.length / BLOCK), dataInLength: data.length });
      expect(r.dataIn.equals(data)).toBe(true);
    } finally {
      await d.close();
    }
  });

  it('NOP-Out ping and LUN RESET', async () => {
    expect((await s.nop(Buffer.from('nopping\0'))).toString()).toBe('nopping\0');
    expect(await s.lunReset(1)).toBe(TmfResponse.FUNCTION_COMPLETE);
    expect((await clearUnitAttentions(s, 1)).status).toBe(ScsiStatus.GOOD);
  });

  describe('CHAP', () => {
    const secrets: ChapSecrets = { user: 'backup1', secret: 'backup1-secret', targetUser: 'array1', targetSecret: 'array1-target-secret' };
    let chapTarget: IscsiTarget;

    beforeAll(async () => {
      const dir = runtime.directory;
      const directory: FrontEndDirectory = {
        targetNodes: () => dir.targetNodes(),
        initiatorPort: (n) => dir.initiatorPort(n),
        chap: () => secrets,
      };
      chapTarget = await startIscsiTarget({ dispatcher: runtime.fabric, directory, host: '127.0.0.1', port: 0 });
    });
    afterAll(async () => {
      await chapTarget?.close();
    });

    it('one-way CHAP', async () => {
      const c = await connect({ ...base(), port: chapTarget.port, chap: { user: secrets.user, secret: secrets.secret } });
      expect(await c.reportLuns()).toEqual([0, 1, 2]);
      await c.close();
    });

    it('mutual CHAP', async () => {
      const c = await connect({ ...base(), port: chapTarget.port, chap: { ...secrets } as Required<ChapSecrets> });
      expect(c.tsih).not.toBe(0);
      await c.close();
    });

    it('a wrong secret is an authentication failure', async () => {
      const e = await connect({ ...base(), port: chapTarget.port, chap: { user: secrets.user, secret: 'wrong-secret-xx' } }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(LoginError);
      expect((e as LoginError).isAuthenticationFailure).toBe(true);
    });

    it('a wrong target secret is caught by mutual CHAP', async () => {
      const e = await connect({ ...base(), port: chapTarget.port, chap: { ...secrets, targetSecret: 'not-the-target-secret' } as Required<ChapSecrets> }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(LoginError);
      expect((e as Error).message).toMatch(/mutual CHAP/);
    });
  });
});
