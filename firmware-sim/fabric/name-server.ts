/**
 * The fabric name server (FC-GS directory service, reduced): ports log in with their WWPN and
 * WWNN and get an N_Port_ID; queries by WWPN, WWNN or N_Port_ID. Addresses are handed out in
 * login order in one domain, so a lab gets the same IDs on every start when it logs ports in the
 * same order.
 */
import { NPortId } from './port-id.js';
import { normalizeWwn } from './wwn.js';

export type PortRole = 'initiator' | 'target';

export interface PortEntry {
  wwpn: string;
  wwnn: string;
  portId: NPortId;
  role: PortRole;
  /** Free-form owner (lab node name), for management views. */
  owner?: string;
}

export class FabricLoginError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FabricLoginError';
  }
}

export class NameServer {
  private readonly byWwpn = new Map<string, PortEntry>();
  private readonly byId = new Map<number, PortEntry>();
  private nextArea = 1;

  constructor(
    /** Switch domain ID of the fabric's addresses. */
    readonly domain = 0x01,
  ) {}

  /**
   * Fabric login (FLOGI) + name server registration. Logging in again with the same WWPN and WWNN
   * returns the same address; the same WWPN under another WWNN is a duplicate port name, refused.
   */
  login(p: { wwpn: string; wwnn: string; role: PortRole; owner?: string; portId?: NPortId }): PortEntry {
    const wwpn = normalizeWwn(p.wwpn);
    const wwnn = normalizeWwn(p.wwnn);
    const had = this.byWwpn.get(wwpn);
    if (had) {
      if (had.wwnn !== wwnn || had.role !== p.role) throw new FabricLoginError(`port name ${wwpn} is already logged in by node ${had.wwnn}`);
      return had;
    }
    let portId = p.portId;
    if (portId && this.byId.has(portId.value)) throw new FabricLoginError(`N_Port_ID ${portId} is in use`);
    if (!portId) {
      while (this.byId.has(NPortId.fromParts(this.domain, this.nextArea & 0xff, this.nextArea >> 8).value)) this.nextArea++;
      if (this.nextArea > 0xffff) throw new FabricLoginError('fabric has no free N_Port_IDs');
      portId = NPortId.fromParts(this.domain, this.nextArea & 0xff, this.nextArea >> 8);
      this.nextArea++;
    }
    const e: PortEntry = { wwpn, wwnn, portId, role: p.role, ...(p.owner !== undefined ? { owner: p.owner } : {}) };
    this.byWwpn.set(wwpn, e);
    this.byId.set(portId.value, e);
    return e;
  }

  logout(wwpn: string): boolean {
    const e = this.byWwpn.get(normalizeWwn(wwpn));
    if (!e) return false;
    this.byWwpn.delete(e.wwpn);
    this.byId.delete(e.portId.value);
    return true;
  }

  byPortName(wwpn: string): PortEntry | undefined {
    return this.byWwpn.get(normalizeWwn(wwpn));
  }

  byNodeName(wwnn: string): PortEntry[] {
    const n = normalizeWwn(wwnn);
    return [...this.byWwpn.values()].filter((e) => e.wwnn === n);
  }

  byPortId(id: NPortId | number): PortEntry | undefined {
    return this.byId.get(typeof id === 'number' ? id : id.value);
  }

  get entries(): PortEntry[] {
    return [...this.byWwpn.values()];
  }
}
