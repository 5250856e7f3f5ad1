/**
 * The backup server's iSCSI transport (src/backup-server/transport-iscsi.ts) against tgtd:
 * discovery, lazy login per target, commands with data both ways, byte accounting, and a fresh
 * login after the connection is lost.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IscsiTransport } from '../../../src/backup-server/transport-iscsi.js';
import { ScsiStatus } from '../../../src/scsi/status.js';
import { requireTools } from '../../helpers/require-tool.js';
import { startTgtd, type Tgtd } from '../../helpers/tgtd.js';

const ok = requireTools('iSCSI transport against tgtd', 'tgtd', 'tgtadm');

describe.skipIf(!ok)('IscsiTransport against tgtd', () => {
  let tgt: Tgtd;
  let tr: IscsiTransport;

  beforeAll(async () => {
    tgt = await startTgtd({ sizeBytes: 4 * 1024 * 1024 });
    tr = new IscsiTransport({ host: tgt.host, port: tgt.port, initiatorName: 'iqn.2026-11.dev.dmsim.hosts:backup1' });
  });
  afterAll(async () => {
    await tr?.close();
    await tgt?.stop();
  });

  it('lists the target found by SendTargets', async () => {
    expect(await tr.listTargets()).toEqual([{ id: tgt.targetName, label: `127.0.0.1:${tgt.port}` }]);
  });

  it('writes and reads through the target, counting the bytes that cross the port', async () => {
    // Clear the power-on unit attention first.
    for (let i = 0; i < 5; i++) if ((await tr.command(tgt.targetName, 1, Buffer.alloc(6))).status === ScsiStatus.GOOD) break;
    const before = { ...tr.stats };
    const data = Buffer.alloc(128 * 1024, 0x5a);
    const w = Buffer.from([0x2a, 0, 0, 0, 0, 64, 0, 0, 0, 0]);
    w.writeUInt16BE(data.length / 512, 7);
    expect((await tr.command(tgt.targetName, 1, w, { dataOut: data })).status).toBe(ScsiStatus.GOOD);
    const r = Buffer.from(w);
    r[0] = 0x28;
    const res = await tr.command(tgt.targetName, 1, r, { dataInLength: data.length });
    expect(res.dataIn.equals(data)).toBe(true);
    expect(tr.stats.commands - before.commands).toBe(2);
    expect(tr.stats.bytesOut - before.bytesOut).toBe(20 + data.length);
    expect(tr.stats.bytesIn - before.bytesIn).toBe(data.length);
    const file = await readFile(tgt.backingFiles[0]!);
    expect(file.subarray(64 * 512, 64 * 512 + data.length).equals(data)).toBe(true);
  });

  it('logs in again after the session is lost', async () => {
    const first = await tr.session(tgt.targetName);
    first.destroy();
    await first.waitClosed();
    const again = await tr.session(tgt.targetName);
    expect(again).not.toBe(first);
    expect(again.closed).toBe(false);
    expect(await again.reportLuns()).toEqual([0, 1]);
  });

  it('secondary() shares the session', async () => {
    expect(await tr.secondary()).toBe(tr);
  });
});
