/**
 * The backup server finds its targets through iSNS (reference isns.md §4.4, §5.2, §6): isnsd
 * answers a query only for a registered Source and only with the nodes sharing its discovery
 * domains, so the backup server registers its initiator node as a small entity of its own, asks
 * the open-iscsi discovery query (key Node Type = target) with that node as Source, and
 * deregisters the entity again. The lab's zones are the DDs (created by the dmsim processes with
 * every member, this initiator included), so what it gets is what the lab lets it reach.
 */
import { IsnsClient } from '../isns/client.js';
import { EntityProtocol, Fn, NodeType, Tag } from '../isns/constants.js';
import { parseDiscovery } from '../isns/registrar.js';
import { empty, tlvString, tlvU32 } from '../isns/tlv.js';
import type { NamedTarget } from './transport-portals.js';

/** EID of the backup server's entity: stable for an initiator name, so a killed run's is replaced. */
export function backupEntityId(initiatorName: string): string {
  return `backup.${initiatorName}`.toLowerCase();
}

export async function isnsTargets(server: { host: string; port: number }, initiatorName: string): Promise<NamedTarget[]> {
  let c: IsnsClient;
  try {
    c = await IsnsClient.connect(server);
  } catch (e) {
    throw new Error(`--isns: the iSNS server ${server.host}:${server.port} did not answer (${(e as Error).message})`);
  }
  const source = tlvString(Tag.IscsiName, initiatorName);
  const eid = tlvString(Tag.EntityIdentifier, backupEntityId(initiatorName));
  try {
    await c.call(Fn.DevAttrReg, { source, key: [eid], operating: [eid, tlvU32(Tag.EntityProtocol, EntityProtocol.Iscsi), source, tlvU32(Tag.IscsiNodeType, NodeType.Initiator)] }, { replace: true });
    const ask = [Tag.IscsiName, Tag.IscsiNodeType, Tag.PortalIpAddress, Tag.PortalPort, Tag.PgIscsiName, Tag.PgPortalIpAddr, Tag.PgPortalPort, Tag.PgTag].map((t) => empty(t));
    const r = await c.call(Fn.DevAttrQry, { source, key: [tlvU32(Tag.IscsiNodeType, NodeType.Target)], operating: ask });
    return parseDiscovery(r.operating).flatMap((t) => (t.portals[0] ? [{ name: t.name, portal: { host: t.portals[0].address, port: t.portals[0].port } }] : []));
  } finally {
    // Leave no stale initiator behind; a failure here only means the server will expire it.
    await c.request(Fn.DevDereg, { source, key: [], operating: [eid] }).catch(() => undefined);
    c.close();
  }
}
