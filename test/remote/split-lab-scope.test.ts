/**
 * The reach rule across processes (issue 17, CVE-2020-28374 carried over): array1 is served by one
 * dmsim process, router1 (drives + data mover) by another, both registered in isnsd, the lab's
 * zones as discovery domains. The data mover reaches array1 itself (zone "datamover"), yet a
 * requester may only name array1 LUs it could reach: one zoned with router1 but not with array1
 * gets COPY ABORTED 0D/02 (copy target device not reachable), as does one zoned with both but
 * masked away from that LU; an LU it may see copies.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type IscsiSession } from '../../src/iscsi/initiator/index.js';
import { clearUnitAttentions, inquiryVpd } from '../../src/iscsi/initiator/scsi.js';
import { decodeDeviceIdPage, DesignatorType, VpdPage } from '../../src/scsi/inquiry.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { ScsiStatus } from '../../src/scsi/status.js';
import { encodeRead6, encodeRewind, encodeWriteFilemarks6 } from '../../src/scsi/tape.js';
import { CscdType, encodeParameterList, encodeXcopyCdb, SegmentType, type CscdDescriptor } from '../../src/scsi/xcopy.js';
import { spawnCliWatched, waitForLog } from '../cli/cli-process.js';
import { startIsnsd, type Isnsd } from '../helpers/isnsd.js';
import { requireTools } from '../helpers/require-tool.js';

const root = new URL('../../', import.meta.url).pathname;
const BACKUP1 = 'iqn.2026-11.dev.dmsim.hosts:backup1';
const APP1 = 'iqn.2026-11.dev.dmsim.hosts:app1';
const TAPEHOST = 'iqn.2026-11.dev.dmsim.test:tapehost';
const ARRAY = 'iqn.2026-11.dev.dmsim:array1';
const ROUTER = 'iqn.2026-11.dev.dmsim:router1';
const RECORD = 64 * 1024;

const haveIsns = requireTools('reach rule across processes with isnsd', 'isnsd', 'isnsadm');

const procs: ChildProcess[] = [];
let isnsd: Isnsd | undefined;
let arrayPort = 0;
let routerPort = 0;

/** The default lab plus a host zoned with router1 only, and app1 zoned with router1 as well. */
function labFile(): string {
  const lab = JSON.parse(readFileSync(path.join(root, 'fixtures/labs/default.json'), 'utf8')) as {
    $schema?: string;
    arrays: Array<{ lus: Array<Record<string, unknown>> }>;
    hosts: unknown[];
    zones: unknown[];
  };
  delete lab.$schema;
  for (const lu of lab.arrays[0]!.lus) if (!lu.content) lu.size = '4MiB';
  lab.hosts.push({ name: 'tapehost', wwnn: '20:00:00:24:ff:00:03:01', ports: [{ name: 'p0', wwpn: '21:00:00:24:ff:00:03:01', iscsiNames: [TAPEHOST] }] });
  lab.zones.push({ name: 'tapeonly', members: ['tapehost/p0', 'router1/fc0'] }, { name: 'apptape', members: ['app1/p0', 'router1/fc0'] });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'split-scope-'));
  writeFileSync(path.join(dir, 'lab.json'), JSON.stringify(lab));
  return path.join(dir, 'lab.json');
}

async function serve(lab: string, node: string): Promise<number> {
  const data = mkdtempSync(path.join(os.tmpdir(), `split-scope-${node}-`));
  const proc = spawnCliWatched(['router', '--lab', lab, '--serve', node, '--iscsi', '127.0.0.1:0', '--api', 'off', '--data', data, '--isns', `127.0.0.1:${isnsd!.port}`]);
  procs.push(proc);
  const ready = await waitForLog(proc, 'router ready');
  await waitForLog(proc, 'registered with iSNS server');
  return Number(String(ready.iscsi).split(':').pop());
}

beforeAll(async () => {
  if (!haveIsns) return;
  isnsd = await startIsnsd();
  const lab = labFile();
  arrayPort = await serve(lab, 'array1');
  routerPort = await serve(lab, 'router1');
}, 60_000);

afterAll(async () => {
  for (const p of procs.splice(0))
    if (p.exitCode === null && p.signalCode === null) {
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await gone;
    }
  await isnsd?.stop();
});

async function naaOf(s: IscsiSession, lun: number): Promise<Buffer> {
  await clearUnitAttentions(s, lun);
  const d = decodeDeviceIdPage(await inquiryVpd(s, lun, VpdPage.DEVICE_ID)).find((x) => x.type === DesignatorType.NAA && x.association === 0);
  return d!.value;
}

const e4 = (naa: Buffer, params: CscdDescriptor['params'], pdt: number): CscdDescriptor => ({
  type: CscdType.IDENTIFICATION,
  luIdType: 0,
  nul: false,
  pdt,
  relativeInitiatorPort: 0,
  designator: { codeSet: 1, association: 0, designatorType: 3, value: naa },
  params,
});

/** The NAA designators of array1 LUN 0 (fat) and 1 (blank) and of router1/tape0, as backup1 reads them. */
async function designators(): Promise<{ fat: Buffer; blank: Buffer; tape: Buffer }> {
  const a = await connect({ host: '127.0.0.1', port: arrayPort, initiatorName: BACKUP1, targetName: ARRAY });
  const r = await connect({ host: '127.0.0.1', port: routerPort, initiatorName: BACKUP1, targetName: ROUTER });
  try {
    return { fat: await naaOf(a, 0), blank: await naaOf(a, 1), tape: await naaOf(r, 1) };
  } finally {
    await Promise.all([a.close(), r.close()]);
  }
}

/** Two records of the disk onto router1/tape0 through router1's data mover, sent by `who`; returns status, sense triple and the records on tape. */
async function copyAs(who: string, disk: Buffer, tape: Buffer): Promise<{ status: number; sense?: number[]; records: number }> {
  const s = await connect({ host: '127.0.0.1', port: routerPort, initiatorName: who, targetName: ROUTER });
  try {
    await clearUnitAttentions(s, 0);
    await clearUnitAttentions(s, 1);
    // A filemark at BOT empties the cartridge of earlier cases' records; the copy starts over it.
    expect((await s.command({ lun: 1, cdb: encodeRewind() })).status).toBe(ScsiStatus.GOOD);
    expect((await s.command({ lun: 1, cdb: encodeWriteFilemarks6({ count: 1 }) })).status).toBe(ScsiStatus.GOOD);
    expect((await s.command({ lun: 1, cdb: encodeRewind() })).status).toBe(ScsiStatus.GOOD);
    const list = encodeParameterList({
      header: { listId: 7, str: false, listIdUsage: 0, priority: 0 },
      cscds: [e4(disk, { kind: 'block', pad: false, blockLength: 512 }, 0), e4(tape, { kind: 'stream', pad: false, fixed: false, blockLength: 0 }, 1)],
      segments: [0, 1].map((i) => ({ type: SegmentType.BLOCK_TO_STREAM, cat: false, src: 0, dst: 1, streamTransferLength: RECORD, blocks: RECORD / 512, lba: (i * RECORD) / 512 })),
      inline: Buffer.alloc(0),
    });
    const r = await s.command({ lun: 0, cdb: encodeXcopyCdb({ parameterListLength: list.length }), dataOut: list });
    const d = r.sense ? decodeSense(r.sense) : undefined;
    await s.command({ lun: 1, cdb: encodeRewind() });
    let records = 0;
    while ((await s.command({ lun: 1, cdb: encodeRead6({ fixed: false, sili: true, transferLength: RECORD }), dataInLength: RECORD })).status === ScsiStatus.GOOD) records++;
    return { status: r.status, ...(d ? { sense: [d.key, d.asc, d.ascq] } : {}), records };
  } finally {
    await s.close();
  }
}

describe.skipIf(!haveIsns)('reach rule across processes (lab zones = iSNS DDs)', () => {
  it('isnsd holds the zones as DDs, the data mover node among the members of "datamover"', () => {
    const dds = isnsd!.list('dds');
    expect(dds).toContain('default:datamover');
    expect(dds).toContain('default:tapeonly');
    expect(dds).toContain('iqn.2026-11.dev.dmsim:router1.dm');
  });

  it('a requester zoned with router1 but not array1 names array1/fat: COPY ABORTED 0D/02, nothing on tape, though the data mover reaches it', async () => {
    const n = await designators();
    const denied = await copyAs(TAPEHOST, n.fat, n.tape);
    expect(denied.status).toBe(ScsiStatus.CHECK_CONDITION);
    expect(denied.sense).toEqual([0x0a, 0x0d, 0x02]);
    expect(denied.records).toBe(0);
    // The data mover itself reaches array1/fat: backup1 (zoned with both) copies it.
    const allowed = await copyAs(BACKUP1, n.fat, n.tape);
    expect(allowed.status, JSON.stringify(allowed.sense)).toBe(ScsiStatus.GOOD);
    expect(allowed.records).toBe(2);
  }, 60_000);

  it('a requester zoned with both but masked away from array1/blank: 0D/02 for blank, array1/fat (its LU) copies', async () => {
    const n = await designators();
    const denied = await copyAs(APP1, n.blank, n.tape);
    expect(denied.status).toBe(ScsiStatus.CHECK_CONDITION);
    expect(denied.sense).toEqual([0x0a, 0x0d, 0x02]);
    expect(denied.records).toBe(0);
    const allowed = await copyAs(APP1, n.fat, n.tape);
    expect(allowed.status, JSON.stringify(allowed.sense)).toBe(ScsiStatus.GOOD);
    expect(allowed.records).toBe(2);
  }, 60_000);
});
