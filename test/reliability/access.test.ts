/**
 * Access control over real iSCSI sessions on the default lab (plus CHAP on backup1's port):
 * CHAP enforced where the lab asks for it, LUN masking (REPORT LUNS and access), the
 * CVE-2020-28374 scenario (an initiator naming, in a CSCD descriptor, an LU it cannot reach:
 * COPY ABORTED, nothing moved, in either direction), and copy-manager limits answered with the
 * standard sense instead of memory.
 */
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLab, type LabRuntime } from '../../firmware-sim/lab/build.js';
import { loadDefaultLab } from '../../firmware-sim/lab/load.js';
import { clearUnitAttentions, connect, type ConnectOptions, type IscsiSession } from '../../src/iscsi/initiator/index.js';
import { startIscsiTarget, type IscsiTarget } from '../../src/iscsi/target/index.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { encodeParameterList, encodeXcopyCdb, type CscdDescriptor, type SegmentDescriptor } from '../../src/scsi/xcopy.js';
import { silentLogger } from '../../src/log.js';

const BACKUP = 'iqn.2026-11.dev.dmsim.hosts:backup1';
const APP = 'iqn.2026-11.dev.dmsim.hosts:app1';
const CHAP = { user: 'backup1', secret: 'backup1-secret-123', targetUser: 'dmsim', targetSecret: 'target-secret-456' };
const BS = 512;

let dataDir: string;
let rt: LabRuntime;
let target: IscsiTarget;
const open: IscsiSession[] = [];

const iqn = (device: string) => rt.directory.targetNodes().find((t) => t.iqn.endsWith(`:${device}`))!.iqn;
async function session(name: string, device: string, extra: Partial<ConnectOptions> = {}): Promise<IscsiSession> {
  const s = await connect({ host: '127.0.0.1', port: target.port, initiatorName: name, targetName: iqn(device), loginTimeoutMs: 5000, ...extra });
  open.push(s);
  return s;
}
const backupSession = (device: string) => session(BACKUP, device, { chap: CHAP });

function cdb10(op: number, lba: number, blocks: number): Buffer {
  const c = Buffer.alloc(10);
  c[0] = op;
  c.writeUInt32BE(lba, 2);
  c.writeUInt16BE(blocks, 7);
  return c;
}
const e4 = (lu: string, pdt = 0): CscdDescriptor => ({
  type: 0xe4,
  luIdType: 0,
  nul: false,
  pdt,
  relativeInitiatorPort: 0,
  designator: { codeSet: 1, association: 0, designatorType: 3, value: rt.lu(lu)!.lu.identity.naa },
  params: pdt === 1 ? { kind: 'stream', pad: false, fixed: false, blockLength: 0 } : { kind: 'block', pad: false, blockLength: BS },
});
function xcopy(cscds: CscdDescriptor[], segments: SegmentDescriptor[], inline = Buffer.alloc(0)): { cdb: Buffer; dataOut: Buffer } {
  const dataOut = encodeParameterList({ header: { listId: 0, str: false, listIdUsage: 3, priority: 0 }, cscds, segments, inline });
  return { cdb: encodeXcopyCdb({ parameterListLength: dataOut.length }), dataOut };
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-access-'));
  const lab = await loadDefaultLab();
  // The lab asks for mutual CHAP on the backup server's port; app1 stays without.
  const port = lab.hosts.find((h) => h.name === 'backup1')!.ports[0]!;
  Object.assign(port, { chap: CHAP });
  rt = await buildLab(lab, { dataDir, log: silentLogger() });
  target = await startIscsiTarget({ dispatcher: rt.fabric, directory: rt.directory, host: '127.0.0.1', port: 0 });
}, 60_000);
afterAll(async () => {
  for (const s of open) s.destroy();
  await target?.close();
  await rt?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('CHAP where the lab asks for it', () => {
  it('backup1 without CHAP, or with a wrong secret, does not log in; with its secrets it does', async () => {
    await expect(session(BACKUP, 'array1')).rejects.toThrow();
    await expect(session(BACKUP, 'array1', { chap: { user: CHAP.user, secret: 'wrong-secret-000' } })).rejects.toThrow();
    await expect(session(BACKUP, 'array1', { chap: { ...CHAP, targetSecret: 'not-the-target-1' } })).rejects.toThrow();
    const s = await backupSession('array1');
    expect(await s.reportLuns()).toEqual([0, 1, 2]);
  });
  it('app1 (no CHAP in the lab) logs in without it', async () => {
    const s = await session(APP, 'array1');
    expect(await s.reportLuns()).toEqual([0]);
  });
});

describe('LUN masking and zoning over iSCSI', () => {
  it('app1 reaches only its LU: hidden LUNs answer LOGICAL UNIT NOT SUPPORTED', async () => {
    const s = await session(APP, 'array1');
    await clearUnitAttentions(s, 0);
    expect((await s.command({ lun: 0, cdb: cdb10(0x28, 0, 1), dataInLength: BS })).status).toBe(0);
    for (const lun of [1, 2, 3]) {
      for (const cdb of [cdb10(0x28, 0, 1), cdb10(0x2a, 0, 1)]) {
        const r = await s.command({ lun, cdb, dataInLength: cdb[0] === 0x28 ? BS : 0, ...(cdb[0] === 0x2a ? { dataOut: Buffer.alloc(BS) } : {}) });
        expect(r.status).toBe(2);
        expect(decodeSense(r.sense!)).toMatchObject({ key: 5, asc: 0x25, ascq: 0 });
      }
    }
  });
  it('app1 is not zoned with the router: no access to the data mover or tapes', async () => {
    let s: IscsiSession | undefined;
    try {
      s = await session(APP, 'router1');
    } catch {
      return; // login refused: the strongest answer
    }
    expect(await s.reportLuns()).toEqual([]);
    const r = await s.command({ lun: 0, cdb: Buffer.alloc(6) });
    expect(decodeSense(r.sense!)).toMatchObject({ key: 5, asc: 0x25 });
  });
});

describe('CVE-2020-28374: a CSCD naming an LU the requester cannot reach', () => {
  it('app1 cannot copy its disk onto a hidden one, nor a hidden disk onto its own: COPY ABORTED 0D/02, nothing moved', async () => {
    const b = await backupSession('array1');
    for (const lun of [0, 2]) await clearUnitAttentions(b, lun);
    const mark = Buffer.alloc(8 * BS, 0xa5);
    expect((await b.command({ lun: 2, cdb: cdb10(0x2a, 100, 8), dataOut: mark })).status).toBe(0);
    const fatBefore = (await b.command({ lun: 0, cdb: cdb10(0x28, 100, 8), dataInLength: 8 * BS })).dataIn;

    const a = await session(APP, 'array1');
    await clearUnitAttentions(a, 0);
    const cases = [
      ['array1/fat', 'array1/scratch'],
      ['array1/scratch', 'array1/fat'],
    ] as const;
    for (const [src, dst] of cases) {
      const x = xcopy([e4(src), e4(dst)], [{ type: 0x02, src: 0, dst: 1, blocks: 8, srcLba: 100, dstLba: 100 }]);
      const r = await a.command({ lun: 0, cdb: x.cdb, dataOut: x.dataOut });
      expect(r.status, `${src} -> ${dst}`).toBe(2);
      expect(decodeSense(r.sense!), `${src} -> ${dst}`).toMatchObject({ key: 0x0a, asc: 0x0d, ascq: 0x02 });
    }
    expect((await b.command({ lun: 2, cdb: cdb10(0x28, 100, 8), dataInLength: 8 * BS })).dataIn.equals(mark)).toBe(true);
    expect((await b.command({ lun: 0, cdb: cdb10(0x28, 100, 8), dataInLength: 8 * BS })).dataIn.equals(fatBefore)).toBe(true);
  });

  it('a designator of no LU at all is refused the same way', async () => {
    const a = await session(APP, 'array1');
    await clearUnitAttentions(a, 0);
    const ghost: CscdDescriptor = { ...e4('array1/fat'), designator: { codeSet: 1, association: 0, designatorType: 3, value: Buffer.from('6001234567890abcdeadbeefdeadbeef', 'hex') } };
    const x = xcopy([e4('array1/fat'), ghost], [{ type: 0x02, src: 0, dst: 1, blocks: 1, srcLba: 0, dstLba: 0 }]);
    const r = await a.command({ lun: 0, cdb: x.cdb, dataOut: x.dataOut });
    expect(decodeSense(r.sense!)).toMatchObject({ key: 0x0a, asc: 0x0d, ascq: 0x02 });
  });
});

describe('limits answer with standard sense', () => {
  it('too many CSCDs (26/06), too many segments (26/08), an oversized list: ILLEGAL REQUEST, the session lives on', async () => {
    const s = await backupSession('router1');
    await clearUnitAttentions(s, 0);
    const many = xcopy(Array.from({ length: 17 }, () => e4('array1/fat')), [{ type: 0x02, src: 0, dst: 0, blocks: 1, srcLba: 0, dstLba: 0 }]);
    let r = await s.command({ lun: 0, cdb: many.cdb, dataOut: many.dataOut });
    expect(decodeSense(r.sense!)).toMatchObject({ key: 5, asc: 0x26, ascq: 0x06 });
    const segs = xcopy([e4('array1/fat'), e4('array1/scratch')], Array.from({ length: 257 }, () => ({ type: 0x02, src: 0, dst: 1, blocks: 1, srcLba: 0, dstLba: 0 })));
    r = await s.command({ lun: 0, cdb: segs.cdb, dataOut: segs.dataOut });
    expect(decodeSense(r.sense!)).toMatchObject({ key: 5, asc: 0x26, ascq: 0x08 });
    // 1 MiB of parameter list (far over MAXIMUM DESCRIPTOR LIST LENGTH + inline data): refused, not stored.
    const big = Buffer.alloc(1 << 20);
    big.set(xcopy([e4('array1/fat'), e4('array1/scratch')], [{ type: 0x02, src: 0, dst: 1, blocks: 1, srcLba: 0, dstLba: 0 }]).dataOut);
    big.writeUInt32BE(big.length - 16 - 64 - 28, 12);
    r = await s.command({ lun: 0, cdb: encodeXcopyCdb({ parameterListLength: big.length }), dataOut: big });
    expect(r.status).toBe(2);
    expect(decodeSense(r.sense!).key).toBe(5);
    expect((await s.command({ lun: 0, cdb: Buffer.alloc(6) })).status).toBe(0);
  });

  it('200 idle or half-sent connections (no login) do not keep a real initiator out', async () => {
    const socks = await Promise.all(
      Array.from(
        { length: 200 },
        (_, i) =>
          new Promise<net.Socket>((resolve, reject) => {
            const c = net.connect(target.port, '127.0.0.1', () => {
              // Half of them send a partial BHS and stall in the middle of a PDU.
              if (i % 2) c.write(Buffer.from([0x43, 0x87, 0, 0, 0, 0, 0, 0x20]));
              resolve(c);
            });
            c.on('error', () => {});
            c.once('error', reject);
          }),
      ),
    );
    try {
      const s = await backupSession('array1');
      await clearUnitAttentions(s, 0);
      expect((await s.command({ lun: 0, cdb: cdb10(0x28, 0, 1), dataInLength: BS })).status).toBe(0);
    } finally {
      socks.forEach((c) => c.destroy());
    }
  });
});
