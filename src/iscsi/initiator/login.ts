/**
 * Initiator side of the login phase (RFC 7143 §6.3): security negotiation (None, CHAP one-way and
 * mutual, MD5 only) and operational negotiation through the shared key rules in
 * ../negotiation.ts. The target may answer with T=0 and offers of its own (tgtd does when it wants
 * non-default values); those are answered and the stage is retried until the target transits.
 */
import { randomBytes } from 'node:crypto';
import { CHAP_CHALLENGE_LENGTH, CHAP_MD5, chapResponse, chapVerify, decodeBinary, encodeBinary, parseChapId } from '../chap.js';
import { KEYS, defaultParams, type OperationalParams } from '../keys.js';
import { applyKey, clampFirstBurst, resolveAnswer, respondToKey, type LocalLimits } from '../negotiation.js';
import { decodeBhs, encodeBhs, type LoginResponseBhs } from '../pdu/bhs.js';
import { Opcode, Stage } from '../pdu/constants.js';
import type { ParsedPdu } from '../pdu/parser.js';
import { decodeText, encodeText, IRRELEVANT, NOT_UNDERSTOOD, REJECT, type KeyValue } from '../text.js';
import type { Connection } from './connection.js';
import { describeLoginStatus, LoginError, ProtocolError } from './errors.js';
import type { ConnectOptions } from './types.js';

export interface LoginResult {
  params: OperationalParams;
  tsih: number;
  isid: Buffer;
  /** StatSN of the final Login Response; the first FFP status carries this + 1. */
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
  /** CmdSN the first full-feature command carries (login does not consume it). */
  cmdSN: number;
  targetAlias?: string;
  targetPortalGroupTag?: number;
}

interface Reply {
  bhs: LoginResponseBhs;
  keys: KeyValue[];
}

/** Random-format ISID (T=10b), qualifier 0, as libiscsi builds it. */
export function randomIsid(): Buffer {
  const b = Buffer.alloc(6);
  b[0] = 0x80;
  randomBytes(3).copy(b, 1);
  return b;
}

function limitsFrom(o: ConnectOptions): LocalLimits {
  return {
    digests: [...(o.headerDigest || o.dataDigest ? ['CRC32C'] : []), 'None'],
    maxConnections: 1,
    initialR2T: o.initialR2T ?? false,
    immediateData: o.immediateData ?? true,
    maxBurstLength: o.maxBurstLength ?? 1048576,
    firstBurstLength: o.firstBurstLength ?? 262144,
    defaultTime2Wait: 2,
    defaultTime2Retain: 0,
    maxOutstandingR2T: o.maxOutstandingR2T ?? 8,
    dataPDUInOrder: true,
    dataSequenceInOrder: true,
    errorRecoveryLevel: 0,
    iscsiProtocolLevel: 1,
    maxRecvDataSegmentLength: o.maxRecvDataSegmentLength ?? 262144,
  };
}

/** The operational keys offered, in libiscsi's order. Discovery sessions only need connection keys. */
function operationalOffers(o: ConnectOptions, l: LocalLimits): KeyValue[] {
  const keys: KeyValue[] = [
    ['HeaderDigest', o.headerDigest ? 'CRC32C' : 'None'],
    ['DataDigest', o.dataDigest ? 'CRC32C' : 'None'],
  ];
  if (!o.discovery) {
    keys.push(
      ['InitialR2T', l.initialR2T ? 'Yes' : 'No'],
      ['ImmediateData', l.immediateData ? 'Yes' : 'No'],
      ['MaxBurstLength', String(l.maxBurstLength)],
      ['FirstBurstLength', String(Math.min(l.firstBurstLength, l.maxBurstLength))],
      ['DefaultTime2Wait', String(l.defaultTime2Wait)],
      ['DefaultTime2Retain', String(l.defaultTime2Retain)],
      ['MaxOutstandingR2T', String(l.maxOutstandingR2T)],
      ['ErrorRecoveryLevel', '0'],
      ['IFMarker', 'No'],
      ['OFMarker', 'No'],
      ['MaxConnections', '1'],
    );
  }
  keys.push(['MaxRecvDataSegmentLength', String(l.maxRecvDataSegmentLength)]);
  if (!o.discovery) keys.push(['DataPDUInOrder', 'Yes'], ['DataSequenceInOrder', 'Yes']);
  return keys;
}

/** Keys a target must answer (negotiated, not declarative) and what applies if it stays silent. */
function silentResult(key: string, offered: string, params: OperationalParams): void {
  const def = KEYS.get(key);
  if (!def || def.kind === 'declarative') return;
  // RFC 7143 §6.2: a negotiated key needs an answer; without one, keep the safer of our offer and
  // the default (min keys: the smaller; booleans: the default, which is the conservative value).
  if (def.kind === 'min' && def.default !== undefined) {
    applyKey(key, String(Math.min(Number(offered), Number(def.default))), params, 'initiator');
  }
}

export async function login(conn: Connection, o: ConnectOptions, timeoutMs: number): Promise<LoginResult> {
  const isid = o.isid ?? randomIsid();
  if (isid.length !== 6) throw new LoginError('ISID must be 6 bytes');
  if (!o.discovery && !o.targetName) throw new LoginError('targetName is required for a Normal session');
  const itt = randomBytes(4).readUInt32BE(0) & 0x7fffffff;
  const cmdSN = randomBytes(4).readUInt32BE(0);
  const limits = limitsFrom(o);
  const params = defaultParams();
  let statSN: number | undefined;
  let textOut: KeyValue[] = [];

  // Replies arrive one at a time; login is strictly request/response.
  let waiter: { resolve: (p: ParsedPdu) => void; reject: (e: Error) => void } | undefined;
  conn.setHandlers({
    pdu: (p) => {
      const w = waiter;
      waiter = undefined;
      if (w) w.resolve(p);
      else conn.fail(new ProtocolError('unsolicited PDU during login'));
    },
    closed: (e) => {
      const w = waiter;
      waiter = undefined;
      w?.reject(new LoginError(`connection lost during login: ${e.message}`));
    },
  });
  const deadline = Date.now() + timeoutMs;
  const receive = () =>
    new Promise<ParsedPdu>((resolve, reject) => {
      const t = setTimeout(() => {
        waiter = undefined;
        reject(new LoginError(`login timed out after ${timeoutMs} ms`));
        conn.fail(new LoginError('login timed out'));
      }, Math.max(1, deadline - Date.now()));
      waiter = {
        resolve: (p) => {
          clearTimeout(t);
          resolve(p);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      };
    });

  /** One Login Request/Response pair, following C (continue) bits in both directions. */
  const exchange = async (csg: number, nsg: number, transit: boolean, keys: KeyValue[]): Promise<Reply> => {
    textOut = keys;
    const send = (data: Buffer, t: boolean, cont: boolean) => {
      const bhs = encodeBhs({
        opcode: Opcode.LOGIN_REQUEST,
        immediate: true,
        transit: t,
        continue: cont,
        csg,
        nsg: t ? nsg : 0,
        isid,
        tsih: 0,
        itt,
        cid: 0,
        cmdSN,
        expStatSN: statSN === undefined ? 0 : (statSN + 1) >>> 0,
      });
      conn.send(bhs, data.length ? data : undefined);
    };
    send(encodeText(textOut), transit, false);
    const chunks: Buffer[] = [];
    for (;;) {
      const p = await receive();
      const op = p.bhs[0]! & 0x3f;
      if (op === Opcode.REJECT) throw new LoginError('target rejected the Login Request');
      if (op !== Opcode.LOGIN_RESPONSE) throw new LoginError(`unexpected opcode 0x${op.toString(16)} during login`);
      const r = decodeBhs(p.bhs) as LoginResponseBhs;
      if (r.statusClass !== 0) {
        const kv = safeText(p.data);
        const addr = kv.find(([k]) => k === 'TargetAddress')?.[1];
        throw new LoginError(`login to ${o.targetName ?? 'discovery'} failed: ${describeLoginStatus(r.statusClass, r.statusDetail)}${addr ? ` -> ${addr}` : ''}`, r.statusClass, r.statusDetail, addr);
      }
      if (r.itt !== itt) throw new LoginError('Login Response with a foreign ITT');
      if (r.versionActive !== 0) throw new LoginError(`unsupported iSCSI version ${r.versionActive}`);
      statSN = r.statSN;
      if (p.data.length) chunks.push(Buffer.from(p.data));
      if (r.continue) {
        // More text follows: ask for it with an empty request (T=0, C=0).
        send(Buffer.alloc(0), false, false);
        continue;
      }
      const keys = safeText(Buffer.concat(chunks));
      return { bhs: r, keys };
    }
  };

  const names: KeyValue[] = [['InitiatorName', o.initiatorName]];
  if (o.initiatorAlias) names.push(['InitiatorAlias', o.initiatorAlias]);
  if (!o.discovery) names.push(['TargetName', o.targetName!]);
  names.push(['SessionType', o.discovery ? 'Discovery' : 'Normal']);

  let targetAlias: string | undefined;
  let tpgt: number | undefined;
  const noteDeclarations = (keys: KeyValue[]) => {
    for (const [k, v] of keys) {
      if (k === 'TargetAlias') targetAlias = v;
      else if (k === 'TargetPortalGroupTag') tpgt = Number(v);
    }
  };

  let reply: Reply | undefined;
  let stage: number = Stage.OPERATIONAL;
  let firstOperational = true;

  if (o.chap) {
    const chap = o.chap;
    const mutual = chap.targetSecret !== undefined;
    const offer = mutual ? 'CHAP' : 'CHAP,None';
    reply = await exchange(Stage.SECURITY, Stage.OPERATIONAL, true, [...names, ['AuthMethod', offer]]);
    firstOperational = false;
    noteDeclarations(reply.keys);
    const method = value(reply.keys, 'AuthMethod');
    if (method === 'CHAP') {
      reply = await exchange(Stage.SECURITY, Stage.OPERATIONAL, false, [['CHAP_A', String(CHAP_MD5)]]);
      noteDeclarations(reply.keys);
      const alg = value(reply.keys, 'CHAP_A');
      if (alg !== String(CHAP_MD5)) throw new LoginError(`target chose CHAP_A=${alg ?? '(none)'}; only MD5 (5) is supported`);
      const id = parseChapId(value(reply.keys, 'CHAP_I') ?? '');
      const challenge = decodeBinary(value(reply.keys, 'CHAP_C') ?? '');
      if (id === undefined || !challenge) throw new LoginError('target sent a malformed CHAP_I/CHAP_C');
      const answer: KeyValue[] = [
        ['CHAP_N', chap.user],
        ['CHAP_R', encodeBinary(chapResponse(id, chap.secret, challenge))],
      ];
      let myId = 0;
      let myChallenge = Buffer.alloc(0);
      if (mutual) {
        myId = randomBytes(1)[0]!;
        do myChallenge = randomBytes(CHAP_CHALLENGE_LENGTH);
        while (myChallenge.equals(challenge));
        answer.push(['CHAP_I', String(myId)], ['CHAP_C', encodeBinary(myChallenge)]);
      }
      reply = await exchange(Stage.SECURITY, Stage.OPERATIONAL, true, answer);
      noteDeclarations(reply.keys);
      if (mutual) {
        const n = value(reply.keys, 'CHAP_N');
        const r = decodeBinary(value(reply.keys, 'CHAP_R') ?? '');
        if (n === undefined || !r) throw new LoginError('mutual CHAP: target did not authenticate itself (no CHAP_N/CHAP_R)');
        if (chap.targetUser !== undefined && n !== chap.targetUser) throw new LoginError(`mutual CHAP: target answered as "${n}", expected "${chap.targetUser}"`);
        if (!chapVerify(myId, chap.targetSecret!, myChallenge, r)) throw new LoginError('mutual CHAP: target response is wrong (target secret mismatch)');
      }
    } else if (method === 'None') {
      if (mutual) throw new LoginError('target refused CHAP but mutual CHAP was required');
    } else {
      throw new LoginError(`target chose AuthMethod=${method ?? '(none)'}`);
    }
    // The target may hold us in the security stage (T=0) until it is satisfied.
    for (let i = 0; !reply.bhs.transit && i < 4; i++) reply = await exchange(Stage.SECURITY, Stage.OPERATIONAL, true, []);
    if (!reply.bhs.transit) throw new LoginError('target never left the security stage');
    stage = reply.bhs.nsg;
  }

  if (stage === Stage.OPERATIONAL) {
    const offers = operationalOffers(o, limits);
    const offered = new Map(offers);
    applyKey('MaxRecvDataSegmentLength', String(limits.maxRecvDataSegmentLength), params, 'initiator');
    const answered = new Set<string>();
    let out: KeyValue[] = firstOperational ? [...names, ...offers] : offers;
    for (let round = 0; ; round++) {
      if (round > 8) throw new LoginError('operational negotiation did not converge');
      reply = await exchange(Stage.OPERATIONAL, Stage.FULL_FEATURE, true, out);
      noteDeclarations(reply.keys);
      out = [];
      for (const [k, v] of reply.keys) {
        if (k === 'TargetAlias' || k === 'TargetPortalGroupTag' || k === 'TargetAddress') continue;
        const mine = offered.get(k);
        if (mine !== undefined && !answered.has(k)) {
          answered.add(k);
          if ((k === 'HeaderDigest' || k === 'DataDigest') && !mine.split(',').includes(v)) {
            throw new LoginError(`target refused ${k}=${mine} (answered ${v})`);
          }
          const err = resolveAnswer(k, mine, v, params, 'initiator');
          if (err) throw new LoginError(`negotiation failed: ${err}`);
        } else if (v !== NOT_UNDERSTOOD && v !== IRRELEVANT && v !== REJECT) {
          // A key the target offers on its own: answer it under our limits.
          const a = respondToKey(k, v, limits, params, 'initiator');
          if (a !== undefined) out.push([k, a]);
        }
      }
      if (reply.bhs.transit && reply.bhs.nsg === Stage.FULL_FEATURE) break;
    }
    for (const [k, v] of offered) if (!answered.has(k)) silentResult(k, v, params);
    clampFirstBurst(params);
  } else if (stage !== Stage.FULL_FEATURE) {
    throw new LoginError(`target moved to unexpected stage ${stage}`);
  }

  if (!reply || reply.bhs.tsih === 0) throw new LoginError('final Login Response carried TSIH 0');
  return {
    params,
    tsih: reply.bhs.tsih,
    isid,
    statSN: reply.bhs.statSN,
    expCmdSN: reply.bhs.expCmdSN,
    maxCmdSN: reply.bhs.maxCmdSN,
    cmdSN,
    ...(targetAlias !== undefined ? { targetAlias } : {}),
    ...(tpgt !== undefined ? { targetPortalGroupTag: tpgt } : {}),
  };
}

function value(keys: KeyValue[], k: string): string | undefined {
  return keys.find(([key]) => key === k)?.[1];
}

function safeText(b: Buffer): KeyValue[] {
  try {
    return decodeText(b);
  } catch (e) {
    throw new LoginError(`malformed login text from target: ${(e as Error).message}`);
  }
}
