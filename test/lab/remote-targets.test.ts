/** The lab file's remoteTargets[]: validation, the derived WWPN, zones naming "<name>/target", the iSNS mapping. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { labIsns } from '../../firmware-sim/lab/isns-entity.js';
import { LabError, validateLab } from '../../firmware-sim/lab/schema.js';
import { resolveTopology } from '../../firmware-sim/lab/topology.js';

const base = () => JSON.parse(readFileSync(new URL('../../fixtures/labs/default.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const TGT = { name: 'tgt1', portal: '127.0.0.1:3261', iqn: 'iqn.2026-11.dev.test:disk' };

function issues(lab: unknown): string[] {
  try {
    validateLab(lab);
    return [];
  } catch (e) {
    if (!(e instanceof LabError)) throw e;
    return e.issues.map((i) => `${i.path}: ${i.message}`);
  }
}

describe('lab remoteTargets[]', () => {
  it('derives a stable NAA 3 WWPN from the IQN and lets zones name the target', () => {
    const lab = validateLab({ ...base(), remoteTargets: [TGT], zones: [...(base().zones as unknown[]), { name: 'r', members: ['backup1/p0', 'tgt1/target'] }] });
    const t = lab.remoteTargets[0]!;
    expect(t.wwpn).toMatch(/^3[0-9a-f]{15}$/);
    expect(validateLab({ ...base(), remoteTargets: [TGT] }).remoteTargets[0]!.wwpn).toBe(t.wwpn);
    expect([...resolveTopology(lab).zones.get('r')!]).toEqual([lab.hosts[0]!.ports[0]!.wwpn, t.wwpn]);
  });

  it('refuses a bad portal, a bad IQN, a name taken by a node, a duplicate IQN, unknown keys', () => {
    expect(issues({ ...base(), remoteTargets: [{ ...TGT, portal: 'nowhere' }] }).join('\n')).toMatch(/remoteTargets\[0\]\.portal/);
    expect(issues({ ...base(), remoteTargets: [{ ...TGT, iqn: 'not an iqn' }] }).join('\n')).toMatch(/remoteTargets\[0\]\.iqn/);
    expect(issues({ ...base(), remoteTargets: [{ ...TGT, name: 'array1' }] }).join('\n')).toMatch(/remoteTargets\[0\]\.name: node name "array1" is already used/);
    expect(issues({ ...base(), remoteTargets: [TGT, { ...TGT, name: 'tgt2' }] }).join('\n')).toMatch(/remoteTargets\[1\]\.iqn: remote target .* already listed/);
    expect(issues({ ...base(), remoteTargets: [{ ...TGT, lun: 3 }] }).join('\n')).toMatch(/remoteTargets\[0\]/);
  });

  it('maps the lab to one iSNS entity with target nodes, the data mover node and zones as DDs', () => {
    const lab = validateLab(base());
    const { entity, domains } = labIsns(lab, resolveTopology(lab), [{ host: '127.0.0.1', port: 3260 }]);
    expect(entity.eid).toBe('array1-router1.default.dmsim');
    expect(entity.nodes.map((n) => [n.name, n.type])).toEqual([
      ['iqn.2026-11.dev.dmsim:array1', 'target'],
      ['iqn.2026-11.dev.dmsim:router1', 'target'],
      ['iqn.2026-11.dev.dmsim:router1.dm', 'initiator'],
    ]);
    expect(domains.find((d) => d.name === 'default:datamover')!.members.sort()).toEqual(['iqn.2026-11.dev.dmsim:array1', 'iqn.2026-11.dev.dmsim:router1', 'iqn.2026-11.dev.dmsim:router1.dm']);
    expect(domains.find((d) => d.name === 'default:app')!.members.sort()).toEqual(['iqn.2026-11.dev.dmsim.hosts:app1', 'iqn.2026-11.dev.dmsim:array1']);
    // A process serving only the array registers only its node, under its own EID.
    const arrayOnly = labIsns(lab, resolveTopology(lab), [{ host: '127.0.0.1', port: 3262 }], ['array1']);
    expect(arrayOnly.entity.eid).toBe('array1.default.dmsim');
    expect(arrayOnly.entity.nodes.map((n) => n.name)).toEqual(['iqn.2026-11.dev.dmsim:array1']);
  });

  it('a remote target without a portal is valid (iSNS gives it); a zone naming it puts its IQN in the DD, and it is no node of the entity', () => {
    const { portal: _portal, ...noPortal } = TGT;
    const lab = validateLab({ ...base(), remoteTargets: [noPortal], zones: [...(base().zones as unknown[]), { name: 'r', members: ['backup1/p0', 'router1/dm0', 'tgt1/target'] }] });
    expect(lab.remoteTargets[0]!.portal).toBeUndefined();
    const { entity, domains } = labIsns(lab, resolveTopology(lab), [{ host: '127.0.0.1', port: 3260 }]);
    expect(domains.find((d) => d.name === 'default:r')!.members.sort()).toEqual(['iqn.2026-11.dev.dmsim.hosts:backup1', 'iqn.2026-11.dev.dmsim:router1.dm', TGT.iqn]);
    expect(entity.nodes.map((n) => n.name)).not.toContain(TGT.iqn);
  });
});
