import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnreachableError } from '../../firmware-sim/router/dispatch.js';
import { buildLab, type LabRuntime } from '../../firmware-sim/lab/build.js';
import { loadDefaultLab } from '../../firmware-sim/lab/load.js';
import { validateLab } from '../../firmware-sim/lab/schema.js';
import { decodeStandardInquiry } from '../../src/scsi/inquiry.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { silentLogger } from '../../src/log.js';
import type { InProcessPort } from '../../firmware-sim/fabric/in-process-port.js';

const ARRAY = '500d5a0000010001';
const ROUTER = '500d5a0000020001';
const DM = '500d5a0000020002';

const inquiry = (evpd = false, page = 0, len = 255) => Buffer.from([0x12, evpd ? 1 : 0, page, 0, len, 0]);
const reportLuns = () => Buffer.from([0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
const tur = () => Buffer.alloc(6);
const read10 = (lba: number, blocks: number) => {
  const b = Buffer.alloc(10);
  b[0] = 0x28;
  b.writeUInt32BE(lba, 2);
  b.writeUInt16BE(blocks, 7);
  return b;
};
const write10 = (lba: number, blocks: number) => {
  const b = read10(lba, blocks);
  b[0] = 0x2a;
  return b;
};

function luns(data: Buffer): number[] {
  const n = data.readUInt32BE(0) / 8;
  return Array.from({ length: n }, (_, i) => data.readUInt16BE(8 + i * 8) & 0x3fff);
}

/** Send until the power-on unit attention of a fresh nexus is out of the way. */
async function clearUa(port: InProcessPort, target: string, lun: number) {
  for (let i = 0; i < 4; i++) {
    const r = await port.command(target, lun, tur());
    if (r.status !== 2 || decodeSense(r.sense!).key !== 6) return r;
  }
  throw new Error('unit attentions did not clear');
}

describe('default lab runtime', () => {
  let dataDir: string;
  let rt: LabRuntime;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-lab-'));
    rt = await buildLab(await loadDefaultLab(), { dataDir, log: silentLogger() });
  });
  afterAll(async () => {
    await rt?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('has the devices, LUs, drives and cartridges of the lab file', () => {
    expect(rt.devices().map((d) => d.name)).toEqual(['array1', 'router1']);
    expect(rt.lus().map((l) => `${l.name}@${l.lun}:${l.kind}`)).toEqual([
      'array1/fat@0:disk',
      'array1/blank@1:disk',
      'array1/scratch@2:disk',
      'array1/removable@5:disk',
      'array1/e512@6:disk',
      'router1/datamover@0:data-mover',
      'router1/tape0@1:tape',
      'router1/tape1@2:tape',
    ]);
    expect(rt.drives().map((d) => `${d.name}:${d.bus}:${d.drive.cartridge?.barcode}`)).toEqual(['router1/tape0:bus0:DM0001L3', 'router1/tape1:bus0:DM0002L3']);
    expect(rt.vault.list().map((c) => `${c.barcode}@${c.loadedIn ?? 'shelf'}`)).toEqual(['DM0001L3@router1/tape0', 'DM0002L3@router1/tape1', 'DM0003L3@shelf', 'DM0004L3@shelf']);
    expect(rt.lu('array1/fat')?.disk?.blocks).toBe(131072);
    expect(rt.ports().filter((p) => p.role === 'target').map((p) => p.iqn)).toEqual(['iqn.2026-11.dev.dmsim:array1', 'iqn.2026-11.dev.dmsim:router1']);
  });

  it('every LU answers INQUIRY through fabric dispatch with its lab identity', async () => {
    const backup = rt.port('backup1');
    const lab = await loadDefaultLab();
    const masked = new Set(lab.masking.filter((m) => m.initiator === 'backup1/p0').flatMap((m) => m.lus));
    for (const e of rt.lus()) {
      const target = e.targetPorts[0]!;
      const r = await backup.command(target, e.lun, inquiry(), { dataInLength: 255 });
      expect(r.status, e.name).toBe(0);
      const inq = decodeStandardInquiry(r.dataIn!);
      // The conformance-only disks (removable, e512) are masked from the backup server.
      if (e.kind === 'disk' && !masked.has(e.name)) {
        expect(inq.qualifier, e.name).toBe(3);
        continue;
      }
      expect(inq.qualifier, e.name).toBe(0);
      expect(inq.deviceType, e.name).toBe({ disk: 0x00, tape: 0x01, 'data-mover': 0x03, changer: 0x08 }[e.kind]);
      expect(inq.vendor.trim(), e.name).toBe('DMSIM');
      expect(inq.product.trim(), e.name).toBe({ disk: 'VDISK', tape: 'VTAPE-LTO4', 'data-mover': 'DATA MOVER', changer: 'TAPE LIBRARY' }[e.kind]);
      expect(inq.threePC, e.name).toBe(e.kind !== 'tape');
      expect(inq.rmb, e.name).toBe(e.kind === 'tape');
      // VPD 83h carries the lab-derived NAA designator.
      const vpd = await backup.command(target, e.lun, inquiry(true, 0x83), { dataInLength: 255 });
      expect(vpd.status, e.name).toBe(0);
      expect(vpd.dataIn!.includes(e.lu.identity.naa), e.name).toBe(true);
    }
  });

  it('zoning and masking per the lab: the app server sees its disk only', async () => {
    const app = rt.port('app1/p0');
    const r = await app.command(ARRAY, 0, reportLuns(), { dataInLength: 4096 });
    expect(r.status).toBe(0);
    expect(luns(r.dataIn!)).toEqual([0]);
    // LUN 1 exists on the array but is masked from app1: peripheral qualifier 3, no LU.
    const masked = await app.command(ARRAY, 1, inquiry(), { dataInLength: 36 });
    expect(masked.status).toBe(0);
    expect(masked.dataIn![0]).toBe(0x7f);
    await expect(app.command(ROUTER, 0, inquiry(), { dataInLength: 36 })).rejects.toBeInstanceOf(UnreachableError);

    const backup = rt.port('backup1');
    expect(luns((await backup.command(ARRAY, 0, reportLuns(), { dataInLength: 4096 })).dataIn!)).toEqual([0, 1, 2]);
    expect(luns((await backup.command(ROUTER, 0, reportLuns(), { dataInLength: 4096 })).dataIn!)).toEqual([0, 1, 2]);
  });

  it('the data mover has its own initiator port that reaches the disks and the tapes', () => {
    const seen = rt.fabric.reachableLus(DM).map((r) => `${r.targetPort}/${r.lun}=${r.lu.identity.name}`);
    expect(seen).toEqual([
      `${ARRAY}/0=array1/fat`,
      `${ARRAY}/1=array1/blank`,
      `${ARRAY}/2=array1/scratch`,
      `${ROUTER}/0=router1/datamover`,
      `${ROUTER}/1=router1/tape0`,
      `${ROUTER}/2=router1/tape1`,
    ]);
    expect(rt.fabric.nameServer.byPortName(DM)?.role).toBe('initiator');
    expect(rt.copyManagers.get('router1')?.port.wwpn).toBe(DM);
  });

  it('the FAT disk holds the generated volume, the others are blank and sparse', async () => {
    const backup = rt.port('backup1');
    await clearUa(backup, ARRAY, 0);
    const mbr = await backup.command(ARRAY, 0, read10(0, 1), { dataInLength: 512 });
    expect(mbr.status).toBe(0);
    expect(mbr.dataIn!.readUInt16BE(510)).toBe(0x55aa);
    await clearUa(backup, ARRAY, 1);
    const blank = await backup.command(ARRAY, 1, read10(0, 1), { dataInLength: 512 });
    expect(blank.dataIn!.equals(Buffer.alloc(512))).toBe(true);
    const st = await stat(path.join(dataDir, 'array1/blank.img'));
    expect(st.size).toBe(64 * 2 ** 20);
    expect(st.blocks * 512).toBeLessThan(2 ** 20);
    const fat = await stat(path.join(dataDir, 'array1/fat.img'));
    // The generator skips zero chunks: the image is much smaller on disk than its 64 MiB.
    expect(fat.blocks * 512).toBeLessThan(48 * 2 ** 20);
  });

  it('loaded tapes become ready; tape drives are positioned at BOP', async () => {
    const backup = rt.port('backup1');
    for (const lun of [1, 2]) {
      const r = await clearUa(backup, ROUTER, lun);
      expect(r.status).toBe(0);
      const pos = await backup.command(ROUTER, lun, Buffer.from([0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0]), { dataInLength: 20 });
      expect(pos.status).toBe(0);
      expect(pos.dataIn![0]! & 0x80).toBe(0x80);
    }
  });

  it('reports LU state for the management API', () => {
    expect(rt.state('array1/blank')).toEqual({ kind: 'disk', blockSize: 512, blocks: 131072, backing: 'file', image: 'array1/blank.img', mappedBlocks: 0, changedBlocks: 0, readOnly: false });
    expect(rt.state('router1/tape0')).toMatchObject({ kind: 'tape', state: 'ready', barcode: 'DM0001L3', position: 0, bytesUsed: 0 });
    expect(rt.state('router1/datamover')).toEqual({ kind: 'data-mover', copies: [] });
    expect(rt.state('array1/nope')).toBeUndefined();
  });

  it('an unknown iSCSI initiator is admitted to the default zone and sees every LU', () => {
    const w = rt.directory.initiatorPort('iqn.1994-05.com.example:someone')!;
    expect(w).toMatch(/^3[0-9a-f]{15}$/);
    expect(rt.fabric.reachableLus(w).map((r) => r.lu.identity.name).sort()).toEqual(rt.lus().map((l) => l.name).sort());
    expect(rt.ports().some((p) => p.wwpn === w && p.owner === 'iscsi-default')).toBe(true);
  });
});

describe('lab runtime lifecycle', () => {
  it('media written survive close and rebuild; a generated image is not regenerated', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-lab-'));
    try {
      const lab = await loadDefaultLab();
      let rt = await buildLab(lab, { dataDir, log: silentLogger() });
      const fatBefore = await stat(path.join(dataDir, 'array1/fat.img'));
      let p = rt.port('backup1');
      await clearUa(p, ARRAY, 1);
      const data = Buffer.alloc(4096, 0xa5);
      const w = await p.command(ARRAY, 1, write10(100, 8), { dataOut: data });
      expect(w.status).toBe(0);
      await rt.close();
      await rt.close();

      rt = await buildLab(lab, { dataDir, log: silentLogger() });
      p = rt.port('backup1');
      await clearUa(p, ARRAY, 1);
      const r = await p.command(ARRAY, 1, read10(100, 8), { dataInLength: 4096 });
      expect(r.dataIn!.equals(data)).toBe(true);
      expect((await stat(path.join(dataDir, 'array1/fat.img'))).mtimeMs).toBe(fatBefore.mtimeMs);
      await rt.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('memory-backed LUs, reject policy and all-access default zone', async () => {
    const lab = validateLab({
      fabric: { name: 'f', defaultZone: 'all-access' },
      hosts: [{ name: 'h', wwnn: '20000024ff000001', ports: [{ name: 'p0', wwpn: '21000024ff000001' }] }],
      arrays: [{ name: 'a', wwnn: '500d5a0000010000', ports: [{ name: 'p0', wwpn: '500d5a0000010001' }], lus: [{ name: 'm', lun: 7, size: '1MiB', backing: 'memory', blockSize: 4096 }] }],
      iscsi: { unknownInitiators: 'reject' },
    });
    const dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-lab-'));
    const rt = await buildLab(lab, { dataDir, log: silentLogger() });
    try {
      expect(rt.directory.initiatorPort('iqn.1994-05.com.example:x')).toBeUndefined();
      const r = await rt.port('h').command('500d5a0000010001', 0, reportLuns(), { dataInLength: 4096 });
      expect(luns(r.dataIn!)).toEqual([7]);
      expect(rt.lu('a/m')?.disk?.blockSize).toBe(4096);
    } finally {
      await rt.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('a build that fails leaves no media open and says why', async () => {
    const lab = await loadDefaultLab();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-lab-'));
    try {
      // A corrupt cartridge sidecar for a cartridge the lab loads.
      const { mkdir, writeFile } = await import('node:fs/promises');
      await mkdir(path.join(dataDir, 'tapes'), { recursive: true });
      await writeFile(path.join(dataDir, 'tapes/DM0001L3.tap'), Buffer.from([1, 0, 0, 0]));
      await writeFile(path.join(dataDir, 'tapes/DM0001L3.tap.json'), '{not json');
      await expect(buildLab(lab, { dataDir, log: silentLogger() })).rejects.toThrow(/DM0001L3/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
