import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiscovery, operatingParametersFromVpd } from '../../src/backup-server/discovery.js';
import { openSession } from '../../src/backup-server/session.js';

describe('discovery on the default lab (in-process port of backup1)', () => {
  it('finds the disks, the tape drives and the data mover with its limits from RCR and VPD 8Fh', async () => {
    const s = await openSession({ dataDir: join(mkdtempSync(join(tmpdir(), 'dmsim-disc-')), 'data') });
    try {
      const byName = new Map(s.discovery.lus.map((l) => [s.nameOf(l), l]));
      expect([...byName.keys()].sort()).toEqual(['array1/blank', 'array1/fat', 'array1/scratch', 'router1/datamover', 'router1/tape0', 'router1/tape1']);
      expect(byName.get('array1/fat')).toMatchObject({ kind: 'disk', deviceType: 0, blockSize: 512, blocks: 131072, threePC: true });
      expect(byName.get('router1/tape0')).toMatchObject({ kind: 'tape', deviceType: 1 });
      const dm = s.dataMover();
      expect(s.nameOf(dm)).toBe('router1/datamover');
      expect(dm.copy!.implementedCodes).toEqual(expect.arrayContaining([0x00, 0x01, 0x04, 0x06, 0x10, 0x12, 0x14]));
      const fromVpd = operatingParametersFromVpd(dm.tpc!);
      for (const k of ['maxCscdCount', 'maxSegmentCount', 'maxDescriptorListLength', 'maxInlineDataLength', 'maxStreamTransferSize', 'implementedCodes'] as const) expect(fromVpd[k]).toEqual(dm.copy![k]);
      expect(s.discovery.errors).toEqual([]);
      expect(formatDiscovery(s.discovery)).toMatch(/data-mover .* DATA MOVER 3PC segs≤256 inline≤65536/);
      expect(() => s.find('nosuch')).toThrow(/no LU named "nosuch"/);
    } finally {
      await s.close();
    }
  });
});
