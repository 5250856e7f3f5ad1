/**
 * Zoning: named zones of WWPN members. Two ports can talk when some zone holds both. A port no
 * zone names falls under the default zone policy: 'all-access' lets it reach every other port
 * no zone names either (FC switches' "default zone: permit"), 'no-access' isolates it.
 */
import { normalizeWwn } from './wwn.js';

export type DefaultZonePolicy = 'all-access' | 'no-access';

export class Zoning {
  private readonly zones = new Map<string, Set<string>>();
  /**
   * canTalk() answers by "a\nb" as given: the fabric asks for every command, and normalizing two
   * WWNs and walking the zones each time is a measurable share of a 4 KiB I/O. Cleared on every
   * zoning change.
   */
  private readonly talk = new Map<string, boolean>();
  private policy: DefaultZonePolicy;

  constructor(defaultZone: DefaultZonePolicy = 'no-access') {
    this.policy = defaultZone;
  }

  get defaultZone(): DefaultZonePolicy {
    return this.policy;
  }

  set defaultZone(p: DefaultZonePolicy) {
    this.policy = p;
    this.talk.clear();
  }

  /** Define or replace a zone. */
  setZone(name: string, members: Iterable<string>): void {
    this.zones.set(name, new Set([...members].map(normalizeWwn)));
    this.talk.clear();
  }

  deleteZone(name: string): boolean {
    this.talk.clear();
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
    this.talk.clear();
  }

  isZoned(wwpn: string): boolean {
    const w = normalizeWwn(wwpn);
    for (const z of this.zones.values()) if (z.has(w)) return true;
    return false;
  }

  /** May port a reach port b? */
  canTalk(a: string, b: string): boolean {
    const key = `${a}\n${b}`;
    let ok = this.talk.get(key);
    if (ok === undefined) {
      ok = this.decide(a, b);
      if (this.talk.size >= 4096) this.talk.clear();
      this.talk.set(key, ok);
    }
    return ok;
  }

  private decide(a: string, b: string): boolean {
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
