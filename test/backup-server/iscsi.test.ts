/**
 * The backup server driving the router over real iSCSI (TCP on localhost): discovery by
 * SendTargets, a file-level backup through the data mover, and a single-file restore, with the
 * same tape bytes as in process; and an incremental backup whose change map comes from the router's
 * management API over HTTP.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildLab } from '../../firmware-sim/lab/build.js';
import { loadDefaultLab } from '../../firmware-sim/lab/load.js';
import { runBackup } from '../../src/backup-server/backup.js';
import { Catalog } from '../../src/backup-server/catalog.js';
import { restoreFile, restoreImage } from '../../src/backup-server/restore.js';
import { hashLu } from '../../src/backup-server/verify.js';
import { openSession } from '../../src/backup-server/session.js';
import { startFrontEnds } from '../../src/cli/serve.js';
import { silentLogger } from '../../src/log.js';

describe('backup server over iSCSI', () => {
  it('discovers, backs up files server-free and restores one file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dmsim-bs-iscsi-'));
    const config = await loadDefaultLab();
    const runtime = await buildLab(config, { dataDir: join(dir, 'data'), log: silentLogger() });
    const fe = await startFrontEnds(runtime, { iscsi: { host: '127.0.0.1', port: 0 }, log: silentLogger() });
    const dmPort = config.routers[0]!.dataMover.initiator.wwpn;
    const s = await openSession({ router: `iscsi://${fe.addresses.iscsi}`, dataMoverPort: dmPort });
    const cat = new Catalog(join(dir, 'catalog.sqlite'));
    try {
      expect(s.discovery.lus.map((l) => l.kind).sort()).toEqual(['data-mover', 'disk', 'disk', 'disk', 'tape', 'tape']);
      const source = s.find('array1/0', 'disk');
      const tape = s.find('router1/1', 'tape');
      const r = await runBackup({ client: s.client, catalog: cat, dataMover: s.dataMover(), dataMoverPort: dmPort, source, tape, mode: 'files', barcode: 'DM0001L3' });
      expect(r.ok).toBe(true);
      expect(r.portBytesDuringCopy).toBeLessThan(r.bytesMoved / 20);
      expect(cat.backup(r.backupId)!.barcode).toBe('DM0001L3');
      const rf = await restoreFile({ client: s.client, catalog: cat, dataMover: s.dataMover(), dataMoverPort: dmPort, tape, target: s.find('array1/2', 'disk') }, r.backupId, 'A_Long_File_Name.txt', 8);
      expect(rf.ok && rf.verified).toBe(true);
      await expect(runBackup({ client: s.client, catalog: cat, dataMover: s.dataMover(), source, tape, mode: 'incremental' })).rejects.toThrow(/full or sparse backup|change tracking/);
    } finally {
      cat.close();
      await s.close();
      await fe.close();
      await runtime.close();
    }
  });

  it('incremental over iSCSI takes the change map from the router\'s management API, and the chain restores byte for byte', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dmsim-bs-iscsi-'));
    const config = await loadDefaultLab();
    config.api.token = 'change-map-token-0123';
    const runtime = await buildLab(config, { dataDir: join(dir, 'data'), log: silentLogger() });
    const fe = await startFrontEnds(runtime, { iscsi: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 }, log: silentLogger() });
    const dmPort = config.routers[0]!.dataMover.initiator.wwpn;
    const router = `iscsi://${fe.addresses.iscsi}`;
    const s = await openSession({ router, dataMoverPort: dmPort, api: `http://${fe.addresses.api}`, apiToken: config.api.token });
    const cat = new Catalog(join(dir, 'catalog.sqlite'));
    try {
      const source = s.find('array1/0', 'disk');
      const tape = s.find('router1/1', 'tape');
      const params = { client: s.client, catalog: cat, dataMover: s.dataMover(), dataMoverPort: dmPort, source, tape, barcode: 'DM0001L3', changes: s.changes(source)! };
      expect(params.changes).toBeDefined();
      const full = await runBackup({ ...params, mode: 'full' });
      expect(full.ok).toBe(true);
      // Two runs of new data, written over iSCSI like any host would.
      await s.client.write(source.target, source.lun, 5000, Buffer.alloc(8 * 512, 0xa5), 512);
      await s.client.write(source.target, source.lun, 9000, Buffer.alloc(3 * 512, 0x5a), 512);
      const inc = await runBackup({ ...params, mode: 'incremental' });
      expect(inc.ok).toBe(true);
      expect(JSON.parse(cat.backup(inc.backupId)!.map_json!)).toEqual([[5000, 8], [9000, 3]]);
      const scratch = s.find('array1/2', 'disk');
      const rr = await restoreImage({ client: s.client, catalog: cat, dataMover: s.dataMover(), dataMoverPort: dmPort, tape, target: scratch }, inc.backupId);
      expect(rr.ok).toBe(true);
      expect(await hashLu(s.client, scratch)).toBe(await hashLu(s.client, source));
      // A wrong token is refused by the API, and the backup says why.
      const bad = openSession({ router, dataMoverPort: dmPort, api: `http://${fe.addresses.api}`, apiToken: 'wrong' });
      const s2 = await bad;
      try {
        await expect(runBackup({ ...params, client: s2.client, changes: s2.changes(s2.find('array1/0', 'disk'))!, mode: 'incremental' })).rejects.toThrow(/answered 401/);
      } finally {
        await s2.close();
      }
    } finally {
      cat.close();
      await s.close();
      await fe.close();
      await runtime.close();
    }
  });
});
