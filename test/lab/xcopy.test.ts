/**
 * Server-free copy through the assembled default lab: the backup server's port asks the data mover
 * to copy, the data mover moves the bytes through its own fabric port, and what lands on tape is
 * what is on the disk. Also: copies obey the requester's masking.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLab, type LabRuntime } from '../../firmware-sim/lab/build.js';
import { loadDefaultLab } from '../../firmware-sim/lab/load.js';
import type { InProcessPort } from '../../firmware-sim/fabric/in-process-port.js';
import type { LogicalUnit } from '../../firmware-sim/router/task.js';
import { encodeParameterList, encodeXcopyCdb, type CscdDescriptor, type SegmentDescriptor } from '../../src/scsi/xcopy.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { silentLogger } from '../../src/log.js';

const ARRAY = '500d5a0000010001';
const ROUTER = '500d5a0000020001';

const e4 = (lu: LogicalUnit, params: CscdDescriptor['params']): CscdDescriptor => ({
  type: 0xe4,
  luIdType: 0,
  nul: false,
  pdt: lu.identity.deviceType,
  relativeInitiatorPort: 0,
  designator: { codeSet: 1, association: 0, designatorType: 3, value: lu.identity.naa },
  params,
});

function xcopy(port: InProcessPort, target: string, lun: number, cscds: CscdDescriptor[], segments: SegmentDescriptor[]) {
  const data = encodeParameterList({ header: { listId: 1, str: false, listIdUsage: 0, priority: 0 }, cscds, segments, inline: Buffer.alloc(0) });
  return port.command(target, lun, encodeXcopyCdb({ parameterListLength: data.length }), { dataOut: data });
}

async function ready(port: InProcessPort, target: string, lun: number) {
  for (let i = 0; i < 4; i++) if ((await port.command(target, lun, Buffer.alloc(6))).status === 0) return;
  throw new Error('not ready');
}

const read10 = (lba: number, blocks: number) => Buffer.from([0x28, 0, lba >>> 24, (lba >> 16) & 0xff, (lba >> 8) & 0xff, lba & 0xff, 0, blocks >> 8, blocks & 0xff, 0]);

describe('server-free copy in the default lab', () => {
  let dataDir: string;
  let rt: LabRuntime;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-lab-xcopy-'));
    rt = await buildLab(await loadDefaultLab(), { dataDir, log: silentLogger() });
  });
  afterAll(async () => {
    await rt?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('the data mover copies disk blocks to tape through its own fabric port', async () => {
    const backup = rt.port('backup1');
    const fat = rt.lu('array1/fat')!.lu;
    const tape = rt.lu('router1/tape0')!.lu;
    await ready(backup, ROUTER, 0);
    await ready(backup, ROUTER, 1);
    const r = await xcopy(
      backup,
      ROUTER,
      0,
      [e4(fat, { kind: 'block', pad: false, blockLength: 512 }), e4(tape, { kind: 'stream', pad: false, fixed: false, blockLength: 0 })],
      [
        { type: 0x00, src: 0, dst: 1, streamTransferLength: 65536, blocks: 256, lba: 0 },
        { type: 0x10, dst: 1, count: 1 },
      ],
    );
    expect(r.status, r.sense ? JSON.stringify(decodeSense(r.sense)) : '').toBe(0);

    // Read back through the backup server's own port: two 64 KiB records, then the filemark.
    expect((await backup.command(ROUTER, 1, Buffer.from([0x01, 0, 0, 0, 0, 0]))).status).toBe(0);
    const records: Buffer[] = [];
    for (let i = 0; i < 3; i++) {
      const rd = await backup.command(ROUTER, 1, Buffer.from([0x08, 0x00, 0x01, 0x00, 0x00, 0]), { dataInLength: 65536 });
      if (rd.status !== 0) {
        expect(decodeSense(rd.sense!).filemark).toBe(true);
        break;
      }
      records.push(rd.dataIn!);
    }
    expect(records.map((b) => b.length)).toEqual([65536, 65536]);
    await ready(backup, ARRAY, 0);
    const disk = await backup.command(ARRAY, 0, read10(0, 256), { dataInLength: 131072 });
    expect(Buffer.concat(records).equals(disk.dataIn!)).toBe(true);
  });

  it('copies obey the requester’s LUN masking: the app server cannot name a disk it does not see', async () => {
    const app = rt.port('app1');
    const fat = rt.lu('array1/fat')!.lu;
    const scratch = rt.lu('array1/scratch')!.lu;
    await ready(app, ARRAY, 0);
    const block = { kind: 'block', pad: false, blockLength: 512 } as const;
    const r = await xcopy(app, ARRAY, 0, [e4(fat, block), e4(scratch, block)], [{ type: 0x02, src: 0, dst: 1, blocks: 8, srcLba: 0, dstLba: 0 }]);
    expect(r.status).toBe(2);
    // COPY TARGET DEVICE NOT REACHABLE (0D/02): the scratch LU is outside app1's view.
    expect(decodeSense(r.sense!)).toMatchObject({ asc: 0x0d, ascq: 0x02 });

    // The backup server sees both, so the array's own copy manager does the disk-to-disk copy.
    const backup = rt.port('backup1');
    await ready(backup, ARRAY, 2);
    const ok = await xcopy(backup, ARRAY, 0, [e4(fat, block), e4(scratch, block)], [{ type: 0x02, src: 0, dst: 1, blocks: 8, srcLba: 0, dstLba: 0 }]);
    expect(ok.status, ok.sense ? JSON.stringify(decodeSense(ok.sense)) : '').toBe(0);
    const a = await backup.command(ARRAY, 0, read10(0, 8), { dataInLength: 4096 });
    const b = await backup.command(ARRAY, 2, read10(0, 8), { dataInLength: 4096 });
    expect(b.dataIn!.equals(a.dataIn!)).toBe(true);
    expect(b.dataIn!.readUInt16BE(510)).toBe(0x55aa);
  });
});

describe('shutdown during a copy', () => {
  it('close() aborts a running copy before closing the media; the cartridge stays readable', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-lab-xcopy-'));
    try {
      const rt = await buildLab(await loadDefaultLab(), { dataDir, log: silentLogger() });
      const backup = rt.port('backup1');
      await ready(backup, ROUTER, 0);
      await ready(backup, ROUTER, 1);
      const fat = rt.lu('array1/fat')!.lu;
      const tape = rt.lu('router1/tape0')!.lu;
      const segments: SegmentDescriptor[] = [0, 1, 2, 3].map((i) => ({ type: 0x00, src: 0, dst: 1, streamTransferLength: 65536, blocks: 32768, lba: i * 32768 }));
      const warnings: string[] = [];
      const onWarning = (w: Error) => warnings.push(w.message);
      process.on('warning', onWarning);
      const copy = xcopy(backup, ROUTER, 0, [e4(fat, { kind: 'block', pad: false, blockLength: 512 }), e4(tape, { kind: 'stream', pad: false, fixed: false, blockLength: 0 })], segments);
      await new Promise((r) => setTimeout(r, 20));
      expect(rt.copyManagers.get('router1')!.table.running('router1/datamover')).toHaveLength(1);
      await rt.close();
      const r = await copy;
      process.off('warning', onWarning);
      expect(r.status).not.toBe(0);
      // Without the abort, the drive would be written after its cartridge closed (an internal error).
      expect(warnings.filter((w) => w.includes('internal error'))).toEqual([]);
      // The image is whole: it reopens, and every record on it is a full 64 KiB transfer.
      const { Cartridge } = await import('../../firmware-sim/devices/tape/cartridge.js');
      const c = await Cartridge.open(path.join(dataDir, 'tapes/DM0001L3.tap'));
      expect(c.count).toBeLessThan(1024);
      for (let i = 0; i < c.count; i++) expect(c.recordLength(i)).toBe(65536);
      await c.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
