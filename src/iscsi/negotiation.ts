/**
 * Operational key negotiation (RFC 7143 §6.2, §13) for both roles:
 * - respondToKey(): the responder's answer to one offered key (target in login, either side in
 *   text renegotiation), applying the key's result function against local limits;
 * - resolveAnswer(): the offerer's view of the responder's answer (initiator side);
 * - applyKey(): store a negotiated/declared value into OperationalParams.
 */
import { KEYS, type KeyDef, type OperationalParams } from './keys.js';
import { formatBoolean, IRRELEVANT, NOT_UNDERSTOOD, parseBoolean, parseList, parseNumber, REJECT } from './text.js';

/** What this side accepts: upper limits for min keys, lower limits for max keys, wishes for booleans. */
export interface LocalLimits
  extends Pick<
    OperationalParams,
    | 'maxConnections'
    | 'initialR2T'
    | 'immediateData'
    | 'maxBurstLength'
    | 'firstBurstLength'
    | 'defaultTime2Wait'
    | 'defaultTime2Retain'
    | 'maxOutstandingR2T'
    | 'dataPDUInOrder'
    | 'dataSequenceInOrder'
    | 'errorRecoveryLevel'
    | 'iscsiProtocolLevel'
  > {
  /** Digest algorithms this side can do, e.g. ['None', 'CRC32C']. */
  digests: readonly string[];
  /** This side's own MaxRecvDataSegmentLength declaration. */
  maxRecvDataSegmentLength: number;
}

/** dmsim target's limits: unsolicited data welcome, big bursts, ERL 0, one connection per session. */
export const TARGET_LIMITS: LocalLimits = {
  digests: ['None', 'CRC32C'],
  maxConnections: 1,
  initialR2T: false,
  immediateData: true,
  maxBurstLength: 1048576,
  firstBurstLength: 262144,
  defaultTime2Wait: 0,
  defaultTime2Retain: 0,
  maxOutstandingR2T: 8,
  dataPDUInOrder: true,
  dataSequenceInOrder: true,
  errorRecoveryLevel: 0,
  iscsiProtocolLevel: 1,
  maxRecvDataSegmentLength: 262144,
};

const LIST_SUPPORT: Record<string, (l: LocalLimits) => readonly string[]> = {
  HeaderDigest: (l) => l.digests,
  DataDigest: (l) => l.digests,
  TaskReporting: () => ['RFC3720'],
};

const LIMIT_OF: Record<string, (l: LocalLimits) => number | boolean> = {
  MaxConnections: (l) => l.maxConnections,
  InitialR2T: (l) => l.initialR2T,
  ImmediateData: (l) => l.immediateData,
  MaxBurstLength: (l) => l.maxBurstLength,
  FirstBurstLength: (l) => l.firstBurstLength,
  DefaultTime2Wait: (l) => l.defaultTime2Wait,
  DefaultTime2Retain: (l) => l.defaultTime2Retain,
  MaxOutstandingR2T: (l) => l.maxOutstandingR2T,
  DataPDUInOrder: (l) => l.dataPDUInOrder,
  DataSequenceInOrder: (l) => l.dataSequenceInOrder,
  ErrorRecoveryLevel: (l) => l.errorRecoveryLevel,
  iSCSIProtocolLevel: (l) => l.iscsiProtocolLevel,
  OFMarker: () => false,
  IFMarker: () => false,
  RDMAExtensions: () => false,
};

export type Role = 'target' | 'initiator';

/** Validate a numeric value against the key's range. */
function parseKeyNumber(def: KeyDef, v: string): number | undefined {
  const n = parseNumber(v);
  if (n === undefined) return undefined;
  if (def.min !== undefined && n < def.min) return undefined;
  if (def.max !== undefined && n > def.max) return undefined;
  return n;
}

/**
 * The responder's answer to `key=offer`. Negotiated keys get a value (and `params` is updated);
 * `undefined` means "no answer" (declarations). Unknown keys get NotUnderstood; malformed or
 * out-of-range values get Reject and the key keeps its current value. Keys handled elsewhere
 * (names, SessionType, AuthMethod, CHAP_*, SendTargets) are not passed here.
 */
export function respondToKey(key: string, offer: string, limits: LocalLimits, params: OperationalParams, role: Role = 'target'): string | undefined {
  const def = KEYS.get(key);
  if (!def) return NOT_UNDERSTOOD;
  if (offer === NOT_UNDERSTOOD || offer === IRRELEVANT || offer === REJECT) return undefined;
  switch (def.kind) {
    case 'reject':
      return REJECT;
    case 'irrelevant':
      return IRRELEVANT;
    case 'list': {
      const supported = LIST_SUPPORT[key]?.(limits);
      if (!supported) return NOT_UNDERSTOOD;
      const pick = parseList(offer).find((v) => supported.includes(v));
      if (pick === undefined) return REJECT;
      applyKey(key, pick, params, role);
      return pick;
    }
    case 'min':
    case 'max': {
      const n = parseKeyNumber(def, offer);
      if (n === undefined) return REJECT;
      const lim = LIMIT_OF[key]!(limits) as number;
      const r = def.kind === 'min' ? Math.min(n, lim) : Math.max(n, lim);
      applyKey(key, String(r), params, role);
      return String(r);
    }
    case 'and':
    case 'or': {
      const b = parseBoolean(offer);
      if (b === undefined) return REJECT;
      const lim = LIMIT_OF[key]!(limits) as boolean;
      const r = def.kind === 'and' ? b && lim : b || lim;
      applyKey(key, formatBoolean(r), params, role);
      return formatBoolean(r);
    }
    case 'declarative': {
      if (key === 'MaxRecvDataSegmentLength') {
        const n = parseKeyNumber(def, offer);
        if (n === undefined) return REJECT;
        // The offerer declares what it receives.
        applyKey(key, String(n), params, role === 'target' ? 'initiator' : 'target');
      }
      return undefined;
    }
  }
}

/**
 * FirstBurstLength may not exceed MaxBurstLength (RFC 7143 §13.14); call after all keys of a
 * login are answered. Returns the corrected value when it changed.
 */
export function clampFirstBurst(params: OperationalParams): number | undefined {
  if (params.firstBurstLength > params.maxBurstLength) {
    params.firstBurstLength = params.maxBurstLength;
    return params.firstBurstLength;
  }
  return undefined;
}

/**
 * Store one key's value in params. For MaxRecvDataSegmentLength, `declaredBy` says whose receive
 * limit it is.
 */
export function applyKey(key: string, value: string, params: OperationalParams, declaredBy: Role = 'initiator'): void {
  const num = (): number => parseNumber(value) ?? 0;
  const bool = (): boolean => value === 'Yes';
  switch (key) {
    case 'HeaderDigest':
      params.headerDigest = value === 'CRC32C';
      break;
    case 'DataDigest':
      params.dataDigest = value === 'CRC32C';
      break;
    case 'MaxConnections':
      params.maxConnections = num();
      break;
    case 'InitialR2T':
      params.initialR2T = bool();
      break;
    case 'ImmediateData':
      params.immediateData = bool();
      break;
    case 'MaxRecvDataSegmentLength':
      if (declaredBy === 'initiator') params.initiatorMaxRecvDataSegmentLength = num();
      else params.targetMaxRecvDataSegmentLength = num();
      break;
    case 'MaxBurstLength':
      params.maxBurstLength = num();
      break;
    case 'FirstBurstLength':
      params.firstBurstLength = num();
      break;
    case 'DefaultTime2Wait':
      params.defaultTime2Wait = num();
      break;
    case 'DefaultTime2Retain':
      params.defaultTime2Retain = num();
      break;
    case 'MaxOutstandingR2T':
      params.maxOutstandingR2T = num();
      break;
    case 'DataPDUInOrder':
      params.dataPDUInOrder = bool();
      break;
    case 'DataSequenceInOrder':
      params.dataSequenceInOrder = bool();
      break;
    case 'ErrorRecoveryLevel':
      params.errorRecoveryLevel = num();
      break;
    case 'TaskReporting':
      params.taskReporting = value;
      break;
    case 'iSCSIProtocolLevel':
      params.iscsiProtocolLevel = num();
      break;
  }
}

/**
 * Offerer side: check the responder's `answer` to our `offered` value and store the result.
 * Returns an error text when the answer is not a legal outcome (the login should then fail), or
 * undefined when fine. Reject/NotUnderstood/Irrelevant leave the key at its current value.
 */
export function resolveAnswer(key: string, offered: string, answer: string, params: OperationalParams, role: Role = 'initiator'): string | undefined {
  const def = KEYS.get(key);
  if (!def) return undefined;
  if (answer === NOT_UNDERSTOOD || answer === IRRELEVANT || answer === REJECT) return undefined;
  const other: Role = role === 'initiator' ? 'target' : 'initiator';
  switch (def.kind) {
    case 'list': {
      if (!parseList(offered).includes(answer)) return `${key}=${answer} was not offered (${offered})`;
      applyKey(key, answer, params, role);
      return undefined;
    }
    case 'min':
    case 'max': {
      const a = parseKeyNumber(def, answer);
      const o = parseKeyNumber(def, offered);
      if (a === undefined || o === undefined) return `${key}=${answer} is not a valid number`;
      if (def.kind === 'min' ? a > o : a < o) return `${key}=${answer} violates the ${def.kind} rule against ${offered}`;
      applyKey(key, answer, params, role);
      return undefined;
    }
    case 'and':
    case 'or': {
      const a = parseBoolean(answer);
      const o = parseBoolean(offered);
      if (a === undefined || o === undefined) return `${key}=${answer} is not Yes/No`;
      if (def.kind === 'and' && a && !o) return `${key}=Yes after offer No`;
      if (def.kind === 'or' && !a && o) return `${key}=No after offer Yes`;
      applyKey(key, answer, params, role);
      return undefined;
    }
    case 'declarative': {
      if (key === 'MaxRecvDataSegmentLength') {
        const n = parseKeyNumber(def, answer);
        if (n === undefined) return `${key}=${answer} out of range`;
        applyKey(key, answer, params, other);
      }
      return undefined;
    }
    default:
      return undefined;
  }
}
