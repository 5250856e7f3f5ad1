/**
 * Remote targets kept current from iSNS (reference isns.md §6): after each registration and each
 * state change notification the data movers ask for the targets they may see (the open-iscsi query
 * with their own node as Source) and take each remote target's portal from the answer; "object
 * removed" marks a target down at once (its session dropped, new copies to it end with 0D/02),
 * "object added/updated" makes the next copy rescan its LUs. iSNS never fails a copy by itself:
 * when the server is away the last portals stay in use.
 */
import { ScnBit } from '../../src/isns/constants.js';
import type { IsnsRegistrar } from '../../src/isns/registrar.js';
import type { ScnEvent } from '../../src/isns/listener.js';
import type { Logger } from '../../src/log.js';
import type { RemoteTarget } from './remote-target.js';

export function followIsns(reg: IsnsRegistrar, remotes: readonly RemoteTarget[], dataMovers: readonly string[], log: Logger): void {
  if (!remotes.length) return;
  const refresh = async () => {
    for (const dm of dataMovers) {
      try {
        const found = await reg.discoverTargets(dm);
        log.debug({ dataMover: dm, targets: found }, 'iSNS targets visible to the data mover');
        for (const t of found) {
          const p = t.portals[0];
          if (p) for (const r of remotes) if (r.iqn === t.name) r.setPortal({ host: p.address, port: p.port });
        }
      } catch (e) {
        log.warn({ err: e, dataMover: dm }, 'iSNS target query failed; keeping the known portals');
      }
    }
  };
  reg.on('state', (s: string) => {
    if (s === 'registered') void refresh();
  });
  reg.on('scn', (e: ScnEvent) => {
    for (const c of e.changes) {
      const hit = remotes.filter((r) => r.iqn === c.node);
      if (c.bitmap & ScnBit.ObjectRemoved) for (const r of hit) r.markDown('iSNS: the target node was removed');
      else if (c.bitmap & (ScnBit.ObjectAdded | ScnBit.ObjectUpdated)) for (const r of hit) r.invalidate();
    }
    void refresh();
  });
  if (reg.registered) void refresh();
}
