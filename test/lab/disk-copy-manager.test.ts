/**
 * Disk LUs of the default lab that host the array's copy manager: what they advertise (INQUIRY 3PC,
 * VPD 00h/8Fh, byte for byte against fixtures/vectors/xcopy/third-party-copy-vpd-disk.json) and
 * what LU reset and I_T nexus loss do to their copies (SPC-4 table 109, extended-copy.md §7.5):
 * every copy aborted and nothing kept for RECEIVE COPY RESULTS.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLab, type LabRuntime } from '../../firmware-sim/lab/build.js';
import { loadDefaultLab } from '../../firmware-sim/lab/load.js';
import type { InProcessPort } from '../../firmware-sim/fabric/in-process-port.js';
import { makeNexus, type LogicalUnit, type ScsiResult } from '../../firmware-sim/router/task.js';
import { PROFILES, thirdPartyCopyVpd } from '../../firmware-sim/copy-manager/profile.js';
import { encodeInquiryCdb, decodeStandardInquiry, decodeSupportedPages } from '../../src/scsi/inquiry.js';
import { decodeThirdPartyCopyVpd, encodeThirdPartyCopyVpd } from '../../src/scsi/third-party-copy-vpd.js';
import { decodeCopyStatus, decodeOperatingParameters, encodeRcrCdb, RcrServiceAction } from '../../src/scsi/receive-copy-results.js';
import { encodeParameterList, encodeXcopyCdb, ListIdUsage, type CscdDescriptor } from '../../src/scsi/xcopy.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { silentLogger } from '../../src/log.js';

const ARRAY = '500d5a0000010001';
const SCRATCH = 2;
const vectors = JSON.parse(readFileSync(new URL('../../fixtures/vectors/xcopy/third-party-copy-vpd-disk.json', import.meta.url), 'utf8')) as Record<string, { hex: string }>;
const vector = (name: string): Buffer => Buffer.from(vectors[name]!.hex, 'hex');

const inquiry = (evpd: boolean, pageCode = 0) => encodeInquiryCdb({ evpd, pageCode, allocationLength: 1024 });
const copyStatus = (listId: number) => encodeRcrCdb({ serviceAction: RcrServiceAction.COPY_STATUS, listId, allocationLength: 1024 });
const senseOf = (r: ScsiResult) => decodeSense(r.sense!);

const e4 = (lu: LogicalUnit): CscdDescriptor => ({
  type: 0xe4,
  luIdType: 0,
  nul: false,
  pdt: 0,
  relativeInitiatorPort: 0,
  designator: { codeSet: 1, association: 0, designatorType: 3, value: lu.identity.naa },
  params: { kind: 'block', pad: false, blockLength: 512 },
});

describe('disk LUs hosting a copy manager in the default lab', () => {
  let dataDir: string;
  let rt: LabRuntime;
  let backup: InProcessPort;
  let fat: LogicalUnit;
  let scratch: LogicalUnit;

  /** Send a command, taking (and returning) at most one pending unit attention first. */
  async function cmd(cdb: Buffer, o: { dataOut?: Buffer; lun?: number } = {}): Promise<{ ua?: [number, number]; r: ScsiResult }> {
    const lun = o.lun ?? SCRATCH;
    const send = () => backup.command(ARRAY, lun, cdb, { dataInLength: 1024, dataOut: o.dataOut });
    const r = await send();
    if (r.status === 2 && senseOf(r).key === 6) {
      const s = senseOf(r);
      return { ua: [s.asc, s.ascq], r: await send() };
    }
    return { r };
  }

  /** EXTENDED COPY on the scratch LU, fat → scratch, LIST ID USAGE 00b (status kept until read). */
  function xcopy(listId: number, blocks: number) {
    const data = encodeParameterList({
      header: { listId, str: false, listIdUsage: ListIdUsage.HOLD, priority: 0 },
      cscds: [e4(fat), e4(scratch)],
      segments: [{ type: 0x02, src: 0, dst: 1, blocks, srcLba: 0, dstLba: 0 }],
      inline: Buffer.alloc(0),
    });
    return backup.command(ARRAY, SCRATCH, encodeXcopyCdb({ parameterListLength: data.length }), { dataOut: data });
  }

  /** Nothing kept for the list ID: RECEIVE COPY STATUS answers 5/24/00 pointing at LIST IDENTIFIER. */
  async function expectForgotten(listId: number) {
    const { r } = await cmd(copyStatus(listId));
    expect(r.status).toBe(2);
    expect(senseOf(r)).toMatchObject({ key: 5, asc: 0x24, ascq: 0x00, sks: { kind: 'field', cd: true, byte: 2 } });
  }

  async function expectKept(listId: number) {
    const { r } = await cmd(copyStatus(listId));
    expect(r.status, r.sense ? JSON.stringify(senseOf(r)) : '').toBe(0);
    // COPY MANAGER STATUS 01h: completed, good.
    expect(decodeCopyStatus(r.dataIn!).status).toBe(0x01);
  }

  /** Start a copy slow enough to be caught running (scratch writes each take `ms`). */
  async function runningCopy(listId: number): Promise<{ copy: Promise<ScsiResult> }> {
    const cm = rt.copyManagers.get('array1')!;
    rt.lu('array1/scratch')!.disk!.faults.setLatency(200);
    const copy = xcopy(listId, 8192);
    for (let i = 0; i < 100 && !cm.table.running('array1/scratch').some((e) => e.listId === listId); i++) await new Promise((r) => setTimeout(r, 5));
    expect(cm.table.running('array1/scratch').map((e) => e.listId)).toContain(listId);
    return { copy };
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-lab-disk-cm-'));
    rt = await buildLab(await loadDefaultLab(), { dataDir, log: silentLogger() });
    backup = rt.port('backup1');
    fat = rt.lu('array1/fat')!.lu;
    scratch = rt.lu('array1/scratch')!.lu;
    await cmd(Buffer.alloc(6), { lun: 0 });
    await cmd(Buffer.alloc(6));
  });
  afterAll(async () => {
    await rt?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('golden VPD 8Fh vectors decode to the profiles and the profiles encode to them', () => {
    for (const [name, profile] of [['vpd-8f-disk', PROFILES.disk], ['vpd-8f-vmware', PROFILES.vmware]] as const) {
      const v = thirdPartyCopyVpd(profile, 0x00);
      expect(encodeThirdPartyCopyVpd(v).toString('hex'), name).toBe(vector(name).toString('hex'));
      expect(decodeThirdPartyCopyVpd(vector(name)), name).toEqual({ ...v, supportedCommands: v.supportedCommands.map((c) => ({ ...c, serviceActions: [...c.serviceActions] })) });
    }
  });

  it('INQUIRY says 3PC=1, VPD 00h lists 8Fh, VPD 8Fh is the disk profile byte for byte', async () => {
    const std = (await cmd(inquiry(false))).r;
    expect(std.status).toBe(0);
    expect(std.dataIn![5]! & 0x08).toBe(0x08);
    expect(decodeStandardInquiry(std.dataIn!).threePC).toBe(true);

    const supported = (await cmd(inquiry(true, 0x00))).r;
    expect(decodeSupportedPages(supported.dataIn!)).toContain(0x8f);

    const tpc = (await cmd(inquiry(true, 0x8f))).r;
    expect(tpc.status).toBe(0);
    expect(tpc.dataIn!.toString('hex')).toBe(vector('vpd-8f-disk').toString('hex'));

    // The same limits and codes as OPERATING PARAMETERS (extended-copy.md §9: the values must agree).
    const op = (await cmd(encodeRcrCdb({ serviceAction: RcrServiceAction.OPERATING_PARAMETERS, allocationLength: 1024 }))).r;
    const params = decodeOperatingParameters(op.dataIn!);
    const page = decodeThirdPartyCopyVpd(tpc.dataIn!);
    expect(page.supportedDescriptors).toEqual(params.implementedCodes);
    expect(page.supportedDescriptors).toEqual([0x02, 0x07, 0x0a, 0xe4]);
    expect(page.generalCopyOperations.maxSegmentLength).toBe(params.maxSegmentLength);
    expect(page.parameterData.maxCscdCount).toBe(params.maxCscdCount);
  });

  it('a vmware-profile disk serves the narrow VPD 8Fh; a disk without a copy profile has 3PC=0 and no 8Fh', async () => {
    await rt.addDisk('array1', { name: 'vm', lun: 3, size: '1MiB', backing: 'memory', copyProfile: 'vmware' });
    await rt.addDisk('array1', { name: 'plain', lun: 4, size: '1MiB', backing: 'memory' });
    const nexus = makeNexus('21000024ff000001', ARRAY);
    const exec = async (lu: LogicalUnit, cdb: Buffer) => {
      let r = await lu.execute({ nexus, lun: 0, cdb, dataInLength: 1024 });
      if (r.status === 2 && senseOf(r).key === 6) r = await lu.execute({ nexus, lun: 0, cdb, dataInLength: 1024 });
      return r;
    };

    const vm = rt.lu('array1/vm')!.lu;
    expect((await exec(vm, inquiry(false))).dataIn![5]! & 0x08).toBe(0x08);
    expect(decodeSupportedPages((await exec(vm, inquiry(true, 0))).dataIn!)).toContain(0x8f);
    expect((await exec(vm, inquiry(true, 0x8f))).dataIn!.toString('hex')).toBe(vector('vpd-8f-vmware').toString('hex'));

    const plain = rt.lu('array1/plain')!.lu;
    expect((await exec(plain, inquiry(false))).dataIn![5]! & 0x08).toBe(0);
    expect(decodeSupportedPages((await exec(plain, inquiry(true, 0))).dataIn!)).not.toContain(0x8f);
    const none = await exec(plain, inquiry(true, 0x8f));
    expect(none.status).toBe(2);
    expect(senseOf(none)).toMatchObject({ key: 5, asc: 0x24, ascq: 0x00, sks: { kind: 'field', cd: true, byte: 2 } });
  });

  it('LOGICAL UNIT RESET aborts a running copy and discards every saved result on the LU', async () => {
    expect((await xcopy(2, 16)).status).toBe(0);
    expect((await xcopy(3, 16)).status).toBe(0);
    await expectKept(3);

    const { copy } = await runningCopy(1);
    await backup.lunReset(ARRAY, SCRATCH);
    rt.lu('array1/scratch')!.disk!.faults.setLatency(0);
    expect((await copy).status).not.toBe(0);
    expect(rt.copyManagers.get('array1')!.table.all().filter((e) => e.lu === 'array1/scratch')).toEqual([]);

    // The reset's unit attention comes first (29h/03h), then: nothing kept for either list.
    const first = await cmd(copyStatus(1));
    expect(first.ua).toEqual([0x29, 0x03]);
    expect(first.r.status).toBe(2);
    expect(senseOf(first.r)).toMatchObject({ key: 5, asc: 0x24, ascq: 0x00, sks: { kind: 'field', cd: true, byte: 2 } });
    await expectForgotten(2);
  });

  it('I_T nexus loss aborts the nexus’s copies and discards their saved results', async () => {
    expect((await xcopy(4, 16)).status).toBe(0);
    const { copy } = await runningCopy(5);
    backup.logoutFrom(ARRAY);
    rt.lu('array1/scratch')!.disk!.faults.setLatency(0);
    expect((await copy).status).not.toBe(0);

    const first = await cmd(copyStatus(4));
    expect(first.ua).toEqual([0x29, 0x07]);
    expect(senseOf(first.r)).toMatchObject({ key: 5, asc: 0x24, ascq: 0x00, sks: { kind: 'field', cd: true, byte: 2 } });
    await expectForgotten(5);

    // A new copy on the returning nexus keeps its status again.
    expect((await xcopy(6, 16)).status).toBe(0);
    await expectKept(6);
  });
});
