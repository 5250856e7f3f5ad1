/**
 * Text Request answers in Full Feature Phase: SendTargets (RFC 7143 §13.3, Appendix C) and the
 * few keys that may be renegotiated after login (MaxRecvDataSegmentLength, aliases).
 */
import { KEYS } from '../keys.js';
import { respondToKey } from '../negotiation.js';
import { isValidIscsiName, normalizeName, NOT_UNDERSTOOD, REJECT, type KeyValue } from '../text.js';
import type { Socket } from 'node:net';
import type { TargetHost } from './host.js';
import type { Session } from './session.js';

/** The connection a Text Request arrived on (connection.ts). */
interface TextConnection {
  readonly socket: Socket;
  readonly portal: TargetHost;
  readonly session: Session | undefined;
}

/** `host:port,tpgt` of the local end of the connection (IPv6 in brackets). */
export function portalAddress(conn: TextConnection): string {
  let host = conn.socket.localAddress ?? conn.portal.host;
  if (host.startsWith('::ffff:')) host = host.slice(7);
  if (host.includes(':')) host = `[${host}]`;
  return `${host}:${conn.socket.localPort ?? conn.portal.port},${conn.portal.portalGroupTag}`;
}

export function answerText(pairs: readonly KeyValue[], conn: TextConnection): KeyValue[] {
  const s = conn.session!;
  const out: KeyValue[] = [];
  for (const [k, v] of pairs) {
    if (k === 'SendTargets') {
      let names: string[];
      if (v === 'All') names = conn.portal.targetNodes().filter((n) => conn.portal.reachable(s.initiatorPort, n.targetPort)).map((n) => n.iqn);
      else if (v === '') names = s.type === 'Normal' && s.node ? [s.node.iqn] : [];
      else if (isValidIscsiName(v)) {
        const n = conn.portal.node(normalizeName(v));
        names = n && conn.portal.reachable(s.initiatorPort, n.targetPort) ? [n.iqn] : [];
      } else {
        out.push([k, REJECT]);
        continue;
      }
      const addr = portalAddress(conn);
      for (const n of names) out.push(['TargetName', n], ['TargetAddress', addr]);
      continue;
    }
    if (k === 'InitiatorAlias') continue;
    if (k === 'MaxRecvDataSegmentLength') {
      const a = respondToKey(k, v, conn.portal.limits, s.params, 'target');
      if (a !== undefined) out.push([k, a]);
      continue;
    }
    out.push([k, KEYS.has(k) ? REJECT : NOT_UNDERSTOOD]);
  }
  return out;
}
