/** The portal's session limit: a new session beyond it is refused with OUT OF RESOURCES (03h/02h). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLab, type LabRuntime } from '../../../firmware-sim/lab/build.js';
import { loadDefaultLab } from '../../../firmware-sim/lab/load.js';
import { connect, LoginError, type IscsiSession } from '../../../src/iscsi/initiator/index.js';
import { startIscsiTarget, type IscsiTarget } from '../../../src/iscsi/target/index.js';
import { silentLogger } from '../../../src/log.js';

const BACKUP = 'iqn.2026-11.dev.dmsim.hosts:backup1';
let dataDir: string;
let rt: LabRuntime;
let target: IscsiTarget;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-limit-'));
  rt = await buildLab(await loadDefaultLab(), { dataDir, log: silentLogger() });
  target = await startIscsiTarget({ dispatcher: rt.fabric, directory: rt.directory, host: '127.0.0.1', port: 0, maxSessions: 2 });
});
afterAll(async () => {
  await target?.close();
  await rt?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('iSCSI session limit', () => {
  it('admits maxSessions sessions, refuses the next with 03h/02h, and admits again after a logout', async () => {
    const targetName = rt.directory.targetNodes()[0]!.iqn;
    const opts = (isid: number) => ({ host: '127.0.0.1', port: target.port, initiatorName: BACKUP, targetName, isid: Buffer.from([0x80, 0, 0, 0, 0, isid]) });
    const open: IscsiSession[] = [await connect(opts(1)), await connect(opts(2))];
    const err = await connect(opts(3)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LoginError);
    expect((err as LoginError).statusClass).toBe(3);
    expect((err as LoginError).statusDetail).toBe(2);
    expect(target.sessions().length).toBe(2);
    // Reinstating an existing session (same ISID) is not a new session: allowed at the limit.
    const again = await connect(opts(2));
    await open.pop()!.logout().catch(() => undefined);
    open.push(again);
    await open.shift()!.logout();
    const third = await connect(opts(3));
    expect(target.sessions().length).toBe(2);
    await third.logout();
    await again.logout();
  });
});
