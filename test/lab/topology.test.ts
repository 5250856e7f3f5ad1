import { describe, expect, it } from 'vitest';
import { LabDirectory } from '../../firmware-sim/lab/directory.js';
import { loadDefaultLab } from '../../firmware-sim/lab/load.js';
import { validateLab } from '../../firmware-sim/lab/schema.js';
import { defaultZoneLus, generatedWwpn, resolveTopology, visibleLus } from '../../firmware-sim/lab/topology.js';

const W = {
  backup: '21000024ff000101',
  app: '21000024ff000201',
  array: '500d5a0000010001',
  router: '500d5a0000020001',
  dm: '500d5a0000020002',
};

describe('default lab topology', () => {
  it('zoning and masking give each initiator the LUs issue 2 asks for', async () => {
    const lab = await loadDefaultLab();
    const topo = resolveTopology(lab);
    const names = (i: string, t: string) => [...visibleLus(topo, lab, i, t).entries()].map(([lun, l]) => `${lun}:${l.name}`);
    expect(names(W.backup, W.router)).toEqual(['0:router1/datamover', '1:router1/tape0', '2:router1/tape1']);
    expect(names(W.backup, W.array)).toEqual(['0:array1/fat', '1:array1/blank', '2:array1/scratch']);
    expect(names(W.dm, W.array)).toEqual(['0:array1/fat', '1:array1/blank', '2:array1/scratch']);
    expect(names(W.dm, W.router)).toEqual(['0:router1/datamover', '1:router1/tape0', '2:router1/tape1']);
    expect(names(W.app, W.array)).toEqual(['0:array1/fat']);
    // The app server is not zoned with the router.
    expect(names(W.app, W.router)).toEqual([]);
  });

  it('a port in no zone reaches nothing under no-access and everything unmasked under all-access', () => {
    const base = {
      fabric: { name: 'f', defaultZone: 'no-access' },
      hosts: [{ name: 'h', wwnn: '20000024ff000001', ports: [{ name: 'p0', wwpn: '21000024ff000001' }] }],
      arrays: [{ name: 'a', wwnn: '500d5a0000010000', ports: [{ name: 'p0', wwpn: '500d5a0000010001' }], lus: [{ name: 'd', lun: 3, size: 4096, backing: 'memory' }] }],
    };
    const closed = validateLab(base);
    expect(visibleLus(resolveTopology(closed), closed, '21000024ff000001', '500d5a0000010001').size).toBe(0);
    const open = validateLab({ ...base, fabric: { name: 'f', defaultZone: 'all-access' } });
    expect([...visibleLus(resolveTopology(open), open, '21000024ff000001', '500d5a0000010001').keys()]).toEqual([3]);
  });
});

describe('front-end directory', () => {
  it('lists one target node per target port and maps known initiator names', async () => {
    const lab = await loadDefaultLab();
    const dir = new LabDirectory(lab, resolveTopology(lab), () => {
      throw new Error('not for known names');
    });
    expect(dir.targetNodes()).toEqual([
      { iqn: 'iqn.2026-11.dev.dmsim:array1', alias: 'array1/p0', targetPort: W.array },
      { iqn: 'iqn.2026-11.dev.dmsim:router1', alias: 'router1/fc0', targetPort: W.router },
    ]);
    expect(dir.initiatorPort('iqn.2026-11.dev.dmsim.hosts:backup1')).toBe(W.backup);
    expect(dir.chap('iqn.2026-11.dev.dmsim.hosts:backup1', 'iqn.2026-11.dev.dmsim:router1')).toBeUndefined();
  });

  it('unknown initiators: a stable generated WWPN admitted once under default-zone, refused under reject', async () => {
    const lab = await loadDefaultLab();
    const admitted: string[] = [];
    const dir = new LabDirectory(lab, resolveTopology(lab), (w, n) => admitted.push(`${n}=${w}`));
    const name = 'iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test';
    const w = dir.initiatorPort(name);
    expect(w).toBe(generatedWwpn(name));
    expect(w).toMatch(/^3[0-9a-f]{15}$/);
    expect(dir.initiatorPort(name)).toBe(w);
    expect(dir.initiatorPort(`${name}-2`)).not.toBe(w);
    expect(admitted).toEqual([`${name}=${w}`, `${name}-2=${generatedWwpn(`${name}-2`)}`]);
    expect(defaultZoneLus(lab, resolveTopology(lab)).map((l) => l.name)).toHaveLength(8);

    const strict = validateLab({ ...lab, iscsi: { ...lab.iscsi, unknownInitiators: 'reject' } });
    const dir2 = new LabDirectory(strict, resolveTopology(strict), () => {});
    expect(dir2.initiatorPort(name)).toBeUndefined();
  });

  it('CHAP secrets come from the host port that maps the name', () => {
    const lab = validateLab({
      fabric: { name: 'f' },
      hosts: [
        {
          name: 'h',
          wwnn: '20000024ff000001',
          ports: [{ name: 'p0', wwpn: '21000024ff000001', iscsiNames: ['iqn.2026-11.dev.x:h'], chap: { user: 'h', secret: 'twelve-bytes', targetUser: 't', targetSecret: 'another-secret' } }],
        },
      ],
    });
    const dir = new LabDirectory(lab, resolveTopology(lab), () => {});
    expect(dir.chap('iqn.2026-11.dev.x:h', 'iqn.2026-11.dev.dmsim:a')).toEqual({ user: 'h', secret: 'twelve-bytes', targetUser: 't', targetSecret: 'another-secret' });
    expect(dir.chap('iqn.2026-11.dev.x:other', 'iqn.2026-11.dev.dmsim:a')).toBeUndefined();
  });
});
