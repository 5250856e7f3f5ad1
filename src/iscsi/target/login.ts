/**
 * Target side of the login phase (RFC 7143 §6.3, §12, §13): stage transitions, the security
 * stage (AuthMethod None / CHAP one-way and mutual), operational negotiation of every key, and
 * the Login Response status class for each failure. One LoginNegotiator per connection; the
 * connection feeds it Login Requests and sends what `step` returns.
 */
import type { ChapSecrets, FrontEndDirectory } from '../../../firmware-sim/router/dispatch.js';
import { chapResponse, chapVerify, CHAP_MAX_CHALLENGE, CHAP_MD5, CHAP_RESPONSE_LENGTH, decodeBinary, encodeBinary, newChallenge, parseChapId, pickChapAlgorithm } from '../chap.js';
import { defaultParams, KEYS, type OperationalParams } from '../keys.js';
import { clampFirstBurst, respondToKey, type LocalLimits } from '../negotiation.js';
import { LoginStatus, Stage, type LoginRequestBhs } from '../pdu/index.js';
import { decodeText, IRRELEVANT, isValidIscsiName, normalizeName, NOT_UNDERSTOOD, REJECT, TextError, type KeyValue } from '../text.js';

export interface TargetNode {
  iqn: string;
  alias?: string;
  targetPort: string;
}

/** What the negotiator needs from the portal. */
export interface LoginContext {
  directory: FrontEndDirectory;
  limits: LocalLimits;
  portalGroupTag: number;
  /** Target node by (normalised) name. */
  node(iqn: string): TargetNode | undefined;
  /** Whether zoning lets this initiator port reach the target port (true when unknown). */
  reachable(initiatorPort: string | undefined, targetPort: string): boolean;
  /** Checks a non-zero TSIH: status 0 when this connection may join/reinstate in that session. */
  checkJoin(tsih: number, initiatorName: string, isid: Buffer, targetName: string | undefined, cid: number): number;
  checkLead(initiatorName: string, isid: Buffer, targetName: string | undefined): number;
}

export interface LoginStep {
  /** LoginStatus; non-zero ends the login (send, then close). */
  status: number;
  transit: boolean;
  csg: number;
  nsg: number;
  text: KeyValue[];
  /** The response moves the connection to Full Feature Phase. */
  fullFeature: boolean;
  /** Human-readable reason for a failure, for the log. */
  reason?: string;
}

type ChapPhase = 'none' | 'await-a' | 'await-r' | 'done';

const SECURITY_ONLY = new Set(['AuthMethod', 'CHAP_A', 'CHAP_I', 'CHAP_C', 'CHAP_N', 'CHAP_R']);
/** Keys only the target may send. */
const TARGET_ONLY = new Set(['TargetAlias', 'TargetAddress', 'TargetPortalGroupTag']);

export class LoginNegotiator {
  readonly params: OperationalParams = defaultParams();
  initiatorName = '';
  initiatorAlias?: string;
  sessionType: 'Normal' | 'Discovery' = 'Normal';
  node?: TargetNode;
  initiatorPort?: string;
  isid = Buffer.alloc(6);
  tsih = 0;
  cid = 0;
  itt = 0;
  /** CmdSN of the login (the session's first ExpCmdSN). */
  cmdSN = 0;

  private started = false;
  private stage = -1;
  private readonly seen = new Set<string>();
  private partial: Buffer[] = [];
  private secrets?: ChapSecrets;
  private chap: ChapPhase = 'none';
  private authDone = false;
  private challenge?: { id: number; challenge: Buffer };
  private declaredMrdsl = false;
  private sentTpgt = false;

  constructor(private readonly ctx: LoginContext) {}

  step(req: LoginRequestBhs, data: Buffer): LoginStep {
    try {
      return this.stepInner(req, data);
    } catch (e) {
      if (e instanceof TextError) return this.fail(LoginStatus.INITIATOR_ERROR, e.message, req.csg);
      throw e;
    }
  }

  private fail(status: number, reason: string, csg = 0): LoginStep {
    return { status, transit: false, csg: csg & 3, nsg: 0, text: [], fullFeature: false, reason };
  }

  private stepInner(req: LoginRequestBhs, data: Buffer): LoginStep {
    if (req.versionMin > 0) return this.fail(LoginStatus.UNSUPPORTED_VERSION, `version-min ${req.versionMin}`, req.csg);
    if (req.transit && req.continue) return this.fail(LoginStatus.INITIATOR_ERROR, 'T and C both set', req.csg);
    if (!this.started) {
      this.started = true;
      this.isid = Buffer.from(req.isid);
      this.tsih = req.tsih;
      this.cid = req.cid;
      this.itt = req.itt;
      this.cmdSN = req.cmdSN;
    } else if (!req.isid.equals(this.isid) || req.tsih !== this.tsih || req.cid !== this.cid || req.itt !== this.itt) {
      return this.fail(LoginStatus.INITIATOR_ERROR, 'ISID/TSIH/CID/ITT changed during login', req.csg);
    }
    const csg = req.csg;
    if (csg !== Stage.SECURITY && csg !== Stage.OPERATIONAL) return this.fail(LoginStatus.INITIATOR_ERROR, `bad CSG ${csg}`, csg);
    if (this.stage === -1) this.stage = csg;
    else if (csg !== this.stage) return this.fail(LoginStatus.INITIATOR_ERROR, `CSG ${csg} while in stage ${this.stage}`, csg);
    if (req.transit && !(req.nsg === Stage.OPERATIONAL || req.nsg === Stage.FULL_FEATURE) ) return this.fail(LoginStatus.INITIATOR_ERROR, `bad NSG ${req.nsg}`, csg);
    if (req.transit && req.nsg <= csg) return this.fail(LoginStatus.INITIATOR_ERROR, `NSG ${req.nsg} not after CSG ${csg}`, csg);

    if (req.continue) {
      // Gather the text; answer with an empty response until the last part arrives.
      this.partial.push(Buffer.from(data));
      if (this.partial.reduce((n, b) => n + b.length, 0) > 65536) return this.fail(LoginStatus.OUT_OF_RESOURCES, 'login text too long', csg);
      return { status: 0, transit: false, csg, nsg: 0, text: [], fullFeature: false };
    }
    const whole = this.partial.length ? Buffer.concat([...this.partial, data]) : data;
    this.partial = [];
    const pairs = decodeText(whole);
    const keys = new Map<string, string>();
    for (const [k, v] of pairs) {
      if (keys.has(k) || (this.seen.has(k) && !k.startsWith('CHAP_'))) return this.fail(LoginStatus.INITIATOR_ERROR, `key ${k} negotiated twice`, csg);
      keys.set(k, v);
    }
    for (const k of keys.keys()) this.seen.add(k);

    const out: KeyValue[] = [];
    if (this.initiatorName === '') {
      const f = this.firstRequest(keys, csg);
      if (f) return f;
    }
    if (this.node && !this.sentTpgt) {
      this.sentTpgt = true;
      out.push(['TargetPortalGroupTag', String(this.ctx.portalGroupTag)]);
    }

    // Security stage: AuthMethod and CHAP.
    if (csg === Stage.SECURITY) {
      const r = this.security(keys, req, out);
      if (r) return r;
    } else if (this.secrets && !this.authDone) {
      return this.fail(LoginStatus.AUTHENTICATION_FAILURE, 'CHAP required but the initiator skipped the security stage', csg);
    }

    // Everything else: operational keys (accepted in either stage).
    let fbAnswerAt = -1;
    for (const [k, v] of keys) {
      if (SECURITY_ONLY.has(k)) {
        if (csg !== Stage.SECURITY) out.push([k, IRRELEVANT]);
        continue;
      }
      if (k === 'InitiatorName' || k === 'TargetName' || k === 'SessionType') continue;
      if (k === 'InitiatorAlias') {
        this.initiatorAlias = v;
        continue;
      }
      if (TARGET_ONLY.has(k)) {
        out.push([k, REJECT]);
        continue;
      }
      if (k === 'SendTargets') {
        out.push([k, IRRELEVANT]);
        continue;
      }
      const def = KEYS.get(k);
      if (!def) {
        out.push([k, NOT_UNDERSTOOD]);
        continue;
      }
      if (def.use === 'LO' && this.tsih !== 0) {
        // Leading-only keys are settled for the session; a joining connection cannot change them.
        out.push([k, IRRELEVANT]);
        continue;
      }
      const ans = respondToKey(k, v, this.ctx.limits, this.params, 'target');
      if (k === 'FirstBurstLength') fbAnswerAt = out.length;
      if (ans !== undefined) out.push([k, ans]);
    }
    const fb = clampFirstBurst(this.params);
    if (fb !== undefined && fbAnswerAt >= 0 && out[fbAnswerAt]?.[0] === 'FirstBurstLength') out[fbAnswerAt] = ['FirstBurstLength', String(fb)];

    if (csg === Stage.OPERATIONAL && !this.declaredMrdsl) {
      this.declaredMrdsl = true;
      out.push(['MaxRecvDataSegmentLength', String(this.ctx.limits.maxRecvDataSegmentLength)]);
      this.params.targetMaxRecvDataSegmentLength = this.ctx.limits.maxRecvDataSegmentLength;
    }

    // Transition.
    let transit = req.transit;
    let nsg = req.transit ? req.nsg : 0;
    if (csg === Stage.SECURITY && transit && !this.authDone) transit = false;
    if (!transit) nsg = 0;
    const fullFeature = transit && nsg === Stage.FULL_FEATURE;
    if (transit) this.stage = nsg;
    if (fullFeature && !this.declaredMrdsl) {
      // Jumping straight from security to FFP: still declare our receive limit.
      this.declaredMrdsl = true;
      out.push(['MaxRecvDataSegmentLength', String(this.ctx.limits.maxRecvDataSegmentLength)]);
      this.params.targetMaxRecvDataSegmentLength = this.ctx.limits.maxRecvDataSegmentLength;
    }
    return { status: 0, transit, csg, nsg, text: out, fullFeature };
  }

  /** Names, session type, target lookup, authorisation; the first request of the connection. */
  private firstRequest(keys: Map<string, string>, csg: number): LoginStep | undefined {
    const name = keys.get('InitiatorName');
    if (!name) return this.fail(LoginStatus.MISSING_PARAMETER, 'InitiatorName missing', csg);
    if (!isValidIscsiName(name)) return this.fail(LoginStatus.INITIATOR_ERROR, `malformed InitiatorName ${name}`, csg);
    const type = keys.get('SessionType') ?? 'Normal';
    if (type !== 'Normal' && type !== 'Discovery') return this.fail(LoginStatus.SESSION_TYPE_NOT_SUPPORTED, `SessionType ${type}`, csg);
    this.sessionType = type;
    if (type === 'Normal') {
      const tn = keys.get('TargetName');
      if (!tn) return this.fail(LoginStatus.MISSING_PARAMETER, 'TargetName missing', csg);
      const node = this.ctx.node(normalizeName(tn));
      if (!node) return this.fail(LoginStatus.NOT_FOUND, `unknown target ${tn}`, csg);
      this.node = node;
    }
    const port = this.ctx.directory.initiatorPort(normalizeName(name));
    if (!port) return this.fail(LoginStatus.AUTHORIZATION_FAILURE, `initiator ${name} not admitted by the lab`, csg);
    this.initiatorPort = port;
    // Outside every zone with the target port an FC initiator could not even log in to it.
    if (this.node && !this.ctx.reachable(port, this.node.targetPort)) return this.fail(LoginStatus.AUTHORIZATION_FAILURE, `initiator ${name} is not zoned with ${this.node.iqn}`, csg);
    this.initiatorName = normalizeName(name);
    if (this.tsih !== 0) {
      const st = this.ctx.checkJoin(this.tsih, this.initiatorName, this.isid, this.node?.iqn, this.cid);
      if (st) return this.fail(st, `cannot join session ${this.tsih}`, csg);
    } else {
      const st = this.ctx.checkLead(this.initiatorName, this.isid, this.node?.iqn);
      if (st) return this.fail(st, 'session limit reached', csg);
    }
    this.secrets = this.ctx.directory.chap?.(this.initiatorName, this.node?.iqn ?? '');
    return undefined;
  }

  private security(keys: Map<string, string>, req: LoginRequestBhs, out: KeyValue[]): LoginStep | undefined {
    const csg = req.csg;
    const auth = keys.get('AuthMethod');
    if (auth !== undefined) {
      if (this.chap !== 'none' || this.authDone) return this.fail(LoginStatus.INITIATOR_ERROR, 'AuthMethod renegotiated', csg);
      const offered = auth.split(',');
      if (this.secrets) {
        if (!offered.includes('CHAP')) return this.fail(LoginStatus.AUTHENTICATION_FAILURE, 'CHAP required, not offered', csg);
        out.push(['AuthMethod', 'CHAP']);
        this.chap = 'await-a';
      } else if (offered.includes('None')) {
        out.push(['AuthMethod', 'None']);
        this.authDone = true;
      } else {
        return this.fail(LoginStatus.AUTHENTICATION_FAILURE, `no acceptable AuthMethod in ${auth}`, csg);
      }
    }
    const a = keys.get('CHAP_A');
    if (a !== undefined) {
      if (this.chap !== 'await-a') return this.fail(LoginStatus.AUTHENTICATION_FAILURE, 'unexpected CHAP_A', csg);
      if (pickChapAlgorithm(a) !== CHAP_MD5) return this.fail(LoginStatus.AUTHENTICATION_FAILURE, `unsupported CHAP_A=${a}`, csg);
      this.challenge = newChallenge();
      out.push(['CHAP_A', String(CHAP_MD5)], ['CHAP_I', String(this.challenge.id)], ['CHAP_C', encodeBinary(this.challenge.challenge)]);
      this.chap = 'await-r';
    }
    if (keys.has('CHAP_N') || keys.has('CHAP_R')) {
      if (this.chap !== 'await-r' || !this.challenge || !this.secrets) return this.fail(LoginStatus.AUTHENTICATION_FAILURE, 'unexpected CHAP_N/CHAP_R', csg);
      const n = keys.get('CHAP_N');
      const r = decodeBinary(keys.get('CHAP_R') ?? '');
      if (n === undefined || !r || r.length !== CHAP_RESPONSE_LENGTH) return this.fail(LoginStatus.AUTHENTICATION_FAILURE, 'missing or malformed CHAP_N/CHAP_R', csg);
      // Same answer for unknown user and wrong response.
      const okUser = n === this.secrets.user;
      const okResp = chapVerify(this.challenge.id, this.secrets.secret, this.challenge.challenge, r);
      if (!okUser || !okResp) return this.fail(LoginStatus.AUTHENTICATION_FAILURE, 'CHAP response does not match', csg);
      const mi = keys.get('CHAP_I');
      const mc = keys.get('CHAP_C');
      if (mi !== undefined || mc !== undefined) {
        const id = mi === undefined ? undefined : parseChapId(mi);
        const c = mc === undefined ? undefined : decodeBinary(mc);
        if (id === undefined || !c || c.length === 0 || c.length > CHAP_MAX_CHALLENGE) return this.fail(LoginStatus.AUTHENTICATION_FAILURE, 'malformed mutual CHAP_I/CHAP_C', csg);
        if (c.equals(this.challenge.challenge)) return this.fail(LoginStatus.AUTHENTICATION_FAILURE, 'reflected CHAP challenge', csg);
        if (!this.secrets.targetUser || !this.secrets.targetSecret) return this.fail(LoginStatus.AUTHENTICATION_FAILURE, 'mutual CHAP requested but not configured', csg);
        out.push(['CHAP_N', this.secrets.targetUser], ['CHAP_R', encodeBinary(chapResponse(id, this.secrets.targetSecret, c))]);
      }
      this.chap = 'done';
      this.authDone = true;
    }
    if (req.transit && !this.authDone) {
      if (this.chap === 'none' && auth === undefined) {
        // Transit out of security without AuthMethod: fine only when no auth is required.
        if (this.secrets) return this.fail(LoginStatus.AUTHENTICATION_FAILURE, 'CHAP required', csg);
        this.authDone = true;
      } else if (this.chap !== 'await-a' && this.chap !== 'await-r') {
        return this.fail(LoginStatus.AUTHENTICATION_FAILURE, 'authentication incomplete', csg);
      }
    }
    if (this.chap === 'await-r' && keys.size === 0) return this.fail(LoginStatus.AUTHENTICATION_FAILURE, 'CHAP keys missing', csg);
    return undefined;
  }
}
