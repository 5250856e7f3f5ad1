/**
 * Logs of the running lab (issue 6, "Logs"): pino JSON lines where every line of a copy carries
 * its copy job ids and every line of an iSCSI session carries the session's ids; per-task lines
 * only at debug level.
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
import { createLogger, type LogLevel } from '../../src/log.js';
import { startIscsiTarget, type IscsiTarget } from '../../src/iscsi/target/index.js';
import { connect } from '../../src/iscsi/initiator/index.js';

const ARRAY = '500d5a0000010001';
const ROUTER = '500d5a0000020001';
const BACKUP_IQN = 'iqn.2026-11.dev.dmsim.hosts:backup1';

type Line = Record<string, unknown>;

/** A pino destination that keeps every JSON line. */
function memoryLog(level: LogLevel) {
  const lines: Line[] = [];
  const log = createLogger({ level, destination: { write: (s: string) => void lines.push(JSON.parse(s) as Line) } });
  return { log, lines };
}

const e4 = (lu: LogicalUnit, params: CscdDescriptor['params']): CscdDescriptor => ({
  type: 0xe4,
  luIdType: 0,
  nul: false,
  pdt: lu.identity.deviceType,
  relativeInitiatorPort: 0,
  designator: { codeSet: 1, association: 0, designatorType: 3, value: lu.identity.naa },
  params,
});

function xcopy(port: InProcessPort, target: string, listId: number, cscds: CscdDescriptor[], segments: SegmentDescriptor[]) {
  const data = encodeParameterList({ header: { listId, str: false, listIdUsage: 0, priority: 0 }, cscds, segments, inline: Buffer.alloc(0) });
  return port.command(target, 0, encodeXcopyCdb({ parameterListLength: data.length }), { dataOut: data });
}

async function ready(port: InProcessPort, target: string, lun: number) {
  for (let i = 0; i < 4; i++) if ((await port.command(target, lun, Buffer.alloc(6))).status === 0) return;
  throw new Error('not ready');
}

describe('lab logs', () => {
  let dataDir: string;
  let rt: LabRuntime;
  let target: IscsiTarget;
  const { log, lines } = memoryLog('debug');
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-lab-logs-'));
    rt = await buildLab(await loadDefaultLab(), { dataDir, log });
    target = await startIscsiTarget({ dispatcher: rt.fabric, directory: rt.directory, host: '127.0.0.1', port: 0, log });
  });
  afterAll(async () => {
    await target?.close();
    await rt?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('every line of a copy carries its copy job: start, end with bytes and rate', async () => {
    const backup = rt.port('backup1');
    await ready(backup, ROUTER, 0);
    await ready(backup, ROUTER, 1);
    const fat = rt.lu('array1/fat')!.lu;
    const tape = rt.lu('router1/tape0')!.lu;
    const r = await xcopy(
      backup,
      ROUTER,
      7,
      [e4(fat, { kind: 'block', pad: false, blockLength: 512 }), e4(tape, { kind: 'stream', pad: false, fixed: false, blockLength: 0 })],
      [{ type: 0x00, src: 0, dst: 1, streamTransferLength: 65536, blocks: 128, lba: 0 }],
    );
    expect(r.status).toBe(0);
    const job = lines.filter((l) => l.copyJob === 'router1/datamover/7');
    expect(job.map((l) => l.msg)).toEqual(['copy started', 'copy ended']);
    for (const l of job) expect(l).toMatchObject({ part: 'copy-manager', name: 'router1', listId: 7, nexus: expect.stringMatching(/.+/) as unknown });
    expect(job[0]).toMatchObject({ segments: 1, cscds: 2 });
    expect(job[1]).toMatchObject({ state: 'done', bytes: 65536, segmentsProcessed: 1 });
    expect(typeof job[1]!.ms).toBe('number');
    expect(typeof job[1]!.mibPerSec).toBe('number');
  });

  it('a failed copy logs the segment, its sense and the forwarded sense', async () => {
    const backup = rt.port('backup1');
    await ready(backup, ARRAY, 0);
    await ready(backup, ARRAY, 2);
    const block = { kind: 'block', pad: false, blockLength: 512 } as const;
    const fat = rt.lu('array1/fat')!.lu;
    const scratch = rt.lu('array1/scratch')!.lu;
    const r = await xcopy(backup, ARRAY, 9, [e4(fat, block), e4(scratch, block)], [{ type: 0x02, src: 0, dst: 1, blocks: 8, srcLba: 0x7fff0000, dstLba: 0 }]);
    expect(r.status).toBe(2);
    expect(decodeSense(r.sense!)).toMatchObject({ key: 0x0a, asc: 0x0d, ascq: 0x02 });
    const job = lines.filter((l) => l.copyJob === 'array1/fat/9');
    expect(job.map((l) => l.msg)).toEqual(['copy started', 'copy failed', 'copy ended']);
    expect(job[1]).toMatchObject({ part: 'copy-manager', name: 'array1', listId: 9, segment: 0, sense: 'a/0d/02', forwarded: [{ source: 'source', status: '0x02', sense: '5/21/00' }] });
    expect(job[2]).toMatchObject({ state: 'failed', bytes: 0 });
  });

  it('an iSCSI session logs with its tsih and initiator; tasks at debug level; logout and session end', async () => {
    const iqn = rt.directory.targetNodes().find((t) => t.iqn.endsWith(':array1'))!.iqn;
    const s = await connect({ host: '127.0.0.1', port: target.port, initiatorName: BACKUP_IQN, targetName: iqn });
    for (let i = 0; i < 4; i++) if ((await s.command({ lun: 0, cdb: Buffer.alloc(6) })).status === 0) break;
    await s.logout();
    await new Promise((r) => setTimeout(r, 50));
    const login = lines.find((l) => l.msg === 'login complete' && l.initiator === BACKUP_IQN)!;
    expect(login).toMatchObject({ component: 'iscsi-target', target: iqn, type: 'Normal', isid: expect.stringMatching(/^[0-9a-f]{12}$/) as unknown });
    const tsih = login.tsih;
    expect(typeof tsih).toBe('number');
    const session = lines.filter((l) => l.tsih === tsih && l.initiator === BACKUP_IQN);
    const tasks = session.filter((l) => l.msg === 'task');
    expect(tasks.length).toBeGreaterThan(0);
    for (const t of tasks) {
      expect(t).toMatchObject({ level: 20, lun: 0, opcode: '0x00', conn: login.conn, isid: login.isid });
      expect(typeof t.itt).toBe('number');
      expect(typeof t.cmdSN).toBe('number');
      expect(typeof t.ms).toBe('number');
    }
    // The first command meets the new nexus's unit attention; the last one passes.
    expect(tasks[0]).toMatchObject({ status: '0x02', sense: '6/29/00' });
    expect(tasks.at(-1)).toMatchObject({ status: '0x00' });
    expect(session.map((l) => l.msg)).toEqual(expect.arrayContaining(['login complete', 'logout requested', 'session ended']));
  });

  it('a failed login is logged with its status, reason and ISID', async () => {
    await expect(connect({ host: '127.0.0.1', port: target.port, initiatorName: BACKUP_IQN, targetName: 'iqn.2026-11.dev.dmsim:nosuch' })).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 50));
    const failed = lines.find((l) => l.msg === 'login failed')!;
    expect(failed).toMatchObject({ component: 'iscsi-target', status: '203', isid: expect.stringMatching(/^[0-9a-f]{12}$/) as unknown });
    expect(failed.reason).toContain('nosuch');
  });
});

describe('iSCSI target at info level', () => {
  it('writes no per-task lines', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-lab-logs-'));
    const { log, lines } = memoryLog('info');
    const rt = await buildLab(await loadDefaultLab(), { dataDir, log });
    const target = await startIscsiTarget({ dispatcher: rt.fabric, directory: rt.directory, host: '127.0.0.1', port: 0, log });
    try {
      const iqn = rt.directory.targetNodes().find((t) => t.iqn.endsWith(':array1'))!.iqn;
      const s = await connect({ host: '127.0.0.1', port: target.port, initiatorName: BACKUP_IQN, targetName: iqn });
      for (let i = 0; i < 4; i++) await s.command({ lun: 0, cdb: Buffer.alloc(6) });
      await s.logout();
      await new Promise((r) => setTimeout(r, 50));
      expect(lines.some((l) => l.msg === 'login complete')).toBe(true);
      expect(lines.filter((l) => l.msg === 'task')).toEqual([]);
    } finally {
      await target.close();
      await rt.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
