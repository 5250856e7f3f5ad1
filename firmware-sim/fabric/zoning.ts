/**
 * Zoning: named zones of WWPN members. Two ports can talk when some zone holds both. A port no
 * zone names falls under the default zone policy: 'all-access' lets it reach every other port
 * no zone names either (FC switches' "default zone: permit"), 'no-access' isolates it.
 */
import { normalizeWwn } from './wwn.js';

export type DefaultZonePolicy = 'all-access' | 'no-access';

export class Zoning {
  private readonly zones = new Map<string, Set<string>>();

  constructor(public defaultZone: DefaultZonePolicy = 'no-access') {}

  /** Define or replace a zone. */
  setZone(name: string, members: Iterable<string>): void {
    this.zones.set(name, new Set([...members].map(normalizeWwn)));
  }

  deleteZone(name: string): boolean {
    return this.zones.delete(name);
  }

  zone(name: string): ReadonlySet<string> | undefined {
    return this.zones.get(name);
  }

  get names(): string[] {
    return [...this.zones.keys()];
  }

  /** Add a member to an existing zone (created empty when missing). */
  addMember(name: string, wwpn: string): void {
    const z = this.zones.get(name) ?? new Set<string>();
    z.add(normalizeWwn(wwpn));
    this.zones.set(name, z);
  }

  isZoned(wwpn: string): boolean {
    const w = normalizeWwn(wwpn);
    for (const z of this.zones.values()) if (z.has(w)) return true;
    return false;
  }

  /** May port a reach port b? */
  canTalk(a: string, b: string): boolean {
    const wa = normalizeWwn(a);
    const wb = normalizeWwn(b);
    let named = false;
    for (const z of this.zones.values()) {
      const ha = z.has(wa);
      const hb = z.has(wb);
      if (ha && hb) return true;
      if (ha || hb) named = true;
    }
    return !named && this.defaultZone === 'all-access';
  }
}
