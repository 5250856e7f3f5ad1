/**
 * The same disk-LU copy manager contract as disk-copy-manager.test.ts, over a real iSCSI session
 * (dmsim initiator → dmsim target on a TCP socket): VPD 8Fh bytes, and a LOGICAL UNIT RESET task
 * management request or a logout (I_T nexus loss; the next session reuses the ISID, so it is the
 * same nexus) leaves nothing for RECEIVE COPY RESULTS.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clearUnitAttentions, connect, type IscsiSession } from '../../src/iscsi/initiator/index.js';
import type { CommandResult } from '../../src/iscsi/initiator/types.js';
import { encodeInquiryCdb } from '../../src/scsi/inquiry.js';
import { decodeCopyStatus, encodeRcrCdb, RcrServiceAction } from '../../src/scsi/receive-copy-results.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { encodeParameterList, encodeXcopyCdb, ListIdUsage, type CscdDescriptor } from '../../src/scsi/xcopy.js';
import { startLabTarget, type LabTarget } from '../conformance/lab-target.js';

const BACKUP = 'iqn.2026-11.dev.dmsim.hosts:backup1';
const ISID = Buffer.from([0x80, 0x12, 0x34, 0x56, 0x00, 0x00]);
const SCRATCH = 2;
const vectors = JSON.parse(readFileSync(new URL('../../fixtures/vectors/xcopy/third-party-copy-vpd-disk.json', import.meta.url), 'utf8')) as Record<string, { hex: string }>;

const copyStatus = (listId: number) => encodeRcrCdb({ serviceAction: RcrServiceAction.COPY_STATUS, listId, allocationLength: 1024 });

describe('disk LU copy manager over iSCSI', () => {
  let lab: LabTarget;
  let s: IscsiSession;
  let e4: (name: string) => CscdDescriptor;

  const open = async () => {
    s = await connect({ host: '127.0.0.1', port: lab.target.port, initiatorName: BACKUP, targetName: lab.iqn('array1'), isid: ISID });
    await clearUnitAttentions(s, SCRATCH);
  };

  /** A command whose first answer may be one unit attention (returned beside the real answer). */
  async function cmd(cdb: Buffer, dataOut?: Buffer): Promise<{ ua?: [number, number]; r: CommandResult }> {
    const send = () => s.command({ lun: SCRATCH, cdb, ...(dataOut ? { dataOut } : { dataInLength: 1024 }) });
    const r = await send();
    if (r.status === 2 && decodeSense(r.sense!).key === 6) {
      const u = decodeSense(r.sense!);
      return { ua: [u.asc, u.ascq], r: await send() };
    }
    return { r };
  }

  function xcopy(listId: number) {
    const data = encodeParameterList({
      header: { listId, str: false, listIdUsage: ListIdUsage.HOLD, priority: 0 },
      cscds: [e4('array1/fat'), e4('array1/scratch')],
      segments: [{ type: 0x02, src: 0, dst: 1, blocks: 16, srcLba: 0, dstLba: 0 }],
      inline: Buffer.alloc(0),
    });
    return cmd(encodeXcopyCdb({ parameterListLength: data.length }), data);
  }

  const forgotten = (r: CommandResult) => {
    expect(r.status).toBe(2);
    expect(decodeSense(r.sense!)).toMatchObject({ key: 5, asc: 0x24, ascq: 0x00, sks: { kind: 'field', cd: true, byte: 2 } });
  };

  beforeAll(async () => {
    lab = await startLabTarget();
    e4 = (name) => ({
      type: 0xe4,
      luIdType: 0,
      nul: false,
      pdt: 0,
      relativeInitiatorPort: 0,
      designator: { codeSet: 1, association: 0, designatorType: 3, value: lab.runtime.lu(name)!.lu.identity.naa },
      params: { kind: 'block', pad: false, blockLength: 512 },
    });
    await open();
  });
  afterAll(async () => {
    await s?.close();
    await lab?.close();
  });

  it('INQUIRY 3PC=1 and VPD 8Fh of the disk profile, byte for byte', async () => {
    const std = (await cmd(encodeInquiryCdb({ evpd: false, pageCode: 0, allocationLength: 96 }))).r;
    expect(std.dataIn[5]! & 0x08).toBe(0x08);
    const tpc = (await cmd(encodeInquiryCdb({ evpd: true, pageCode: 0x8f, allocationLength: 1024 }))).r;
    expect(tpc.dataIn.toString('hex')).toBe(vectors['vpd-8f-disk']!.hex);
  });

  it('LOGICAL UNIT RESET (task management) discards the saved copy status', async () => {
    expect((await xcopy(1)).r.status).toBe(0);
    expect((await xcopy(2)).r.status).toBe(0);
    const kept = (await cmd(copyStatus(2))).r;
    expect(kept.status).toBe(0);
    expect(decodeCopyStatus(kept.dataIn).status).toBe(0x01);

    expect(await s.lunReset(SCRATCH)).toBe(0);
    const after = await cmd(copyStatus(1));
    expect(after.ua).toEqual([0x29, 0x03]);
    forgotten(after.r);
  });

  it('logout (I_T nexus loss) discards the saved copy status; the same ISID comes back to nothing', async () => {
    expect((await xcopy(3)).r.status).toBe(0);
    await s.logout();
    await s.close();
    s = await connect({ host: '127.0.0.1', port: lab.target.port, initiatorName: BACKUP, targetName: lab.iqn('array1'), isid: ISID });
    const after = await cmd(copyStatus(3));
    if (after.ua) expect(after.ua).toEqual([0x29, 0x07]);
    forgotten(after.r);
  });
});
