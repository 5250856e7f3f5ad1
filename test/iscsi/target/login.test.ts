import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LoginStatus, Opcode } from '../../../src/iscsi/pdu/index.js';
import { chapResponse, decodeBinary } from '../../../src/iscsi/chap.js';
import { startHarness, TARGET_IQN, type Harness } from '../harness.js';
import { RawClient } from '../raw-client.js';

const INIT = 'iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test';
let h: Harness;
const clients: RawClient[] = [];
const connect = async (): Promise<RawClient> => {
  const c = await RawClient.connect(h.target.port);
  clients.push(c);
  return c;
};
const statusOf = (r: { bhs: { opcode: number } }): number => {
  const b = r.bhs as unknown as { statusClass: number; statusDetail: number };
  return (b.statusClass << 8) | b.statusDetail;
};
const get = (text: Array<readonly [string, string]> | undefined, k: string): string | undefined => text?.find(([x]) => x === k)?.[1];

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
afterEach(() => {
  clients.splice(0).forEach((c) => c.close());
  h.directory.chapSecrets = undefined;
  h.directory.rejectNames.clear();
});

describe('login: operational negotiation', () => {
  it('answers libiscsi’s one-PDU login with every key, TPGT, its MRDSL and a new TSIH', async () => {
    const c = await connect();
    const r = await c.login(TARGET_IQN, [['X-com.example.private', '1'], ['OFMarkInt', '1~65535'], ['iSCSIProtocolLevel', '2']]);
    expect(statusOf(r)).toBe(0);
    const b = r.bhs as { transit: boolean; csg: number; nsg: number; tsih: number; expCmdSN: number; maxCmdSN: number };
    expect([b.transit, b.csg, b.nsg]).toEqual([true, 1, 3]);
    expect(b.tsih).not.toBe(0);
    expect(b.expCmdSN).toBe(c.cmdSN);
    expect((b.maxCmdSN - b.expCmdSN) >>> 0).toBe(127);
    const t = r.text!;
    expect(t[0]).toEqual(['TargetPortalGroupTag', '1']);
    expect(get(t, 'HeaderDigest')).toBe('None');
    expect(get(t, 'InitialR2T')).toBe('No');
    expect(get(t, 'ImmediateData')).toBe('Yes');
    expect(get(t, 'MaxBurstLength')).toBe('262144');
    expect(get(t, 'FirstBurstLength')).toBe('262144');
    expect(get(t, 'DefaultTime2Retain')).toBe('0');
    expect(get(t, 'MaxConnections')).toBe('1');
    expect(get(t, 'ErrorRecoveryLevel')).toBe('0');
    expect(get(t, 'IFMarker')).toBe('No');
    expect(get(t, 'MaxRecvDataSegmentLength')).toBe('262144');
    expect(get(t, 'X-com.example.private')).toBe('NotUnderstood');
    expect(get(t, 'OFMarkInt')).toBe('Reject');
    expect(get(t, 'iSCSIProtocolLevel')).toBe('1');
    expect(h.target.sessions().find((s) => s.tsih === b.tsih)?.params.initiatorMaxRecvDataSegmentLength).toBe(262144);
  });

  it('applies RFC defaults to keys the initiator does not send', async () => {
    const c = await connect();
    c.loginPdu([['InitiatorName', INIT], ['TargetName', TARGET_IQN]]);
    const r = await c.expect(Opcode.LOGIN_RESPONSE);
    expect(statusOf(r)).toBe(0);
    const s = h.target.sessions().find((x) => x.tsih === r.bhs.tsih)!;
    expect(s.params).toMatchObject({ initialR2T: true, immediateData: true, maxBurstLength: 262144, firstBurstLength: 65536, initiatorMaxRecvDataSegmentLength: 8192, maxOutstandingR2T: 1, headerDigest: false });
  });

  it('walks security → operational → full feature with AuthMethod=None over several PDUs', async () => {
    const c = await connect();
    c.loginPdu([['InitiatorName', INIT], ['TargetName', TARGET_IQN], ['AuthMethod', 'None']], { csg: 0, nsg: 1 });
    let r = await c.expect(Opcode.LOGIN_RESPONSE);
    expect(statusOf(r)).toBe(0);
    expect(r.bhs).toMatchObject({ transit: true, csg: 0, nsg: 1 });
    expect(get(r.text, 'AuthMethod')).toBe('None');
    const sn1 = r.bhs.statSN;
    // Text split over two PDUs with C=1.
    c.loginPdu([['MaxBurstLength', '65536']], { csg: 1, nsg: 0, transit: false, cont: true });
    r = await c.expect(Opcode.LOGIN_RESPONSE);
    expect(r.data.length).toBe(0);
    c.loginPdu([['FirstBurstLength', '131072']], { csg: 1, nsg: 3 });
    r = await c.expect(Opcode.LOGIN_RESPONSE);
    expect(statusOf(r)).toBe(0);
    expect(r.bhs).toMatchObject({ transit: true, csg: 1, nsg: 3 });
    expect(r.bhs.statSN).toBe(sn1 + 2);
    expect(get(r.text, 'MaxBurstLength')).toBe('65536');
    // FirstBurstLength may not exceed MaxBurstLength.
    expect(get(r.text, 'FirstBurstLength')).toBe('65536');
  });
});

describe('login: failures get the right status class and a closed connection', () => {
  const cases: Array<[string, number, (c: RawClient) => void]> = [
    ['missing InitiatorName', LoginStatus.MISSING_PARAMETER, (c) => c.loginPdu([['TargetName', TARGET_IQN]])],
    ['missing TargetName in a normal session', LoginStatus.MISSING_PARAMETER, (c) => c.loginPdu([['InitiatorName', INIT]])],
    ['unknown TargetName', LoginStatus.NOT_FOUND, (c) => c.loginPdu([['InitiatorName', INIT], ['TargetName', 'iqn.2026-11.dev.dmsim:nope']])],
    ['bad SessionType', LoginStatus.SESSION_TYPE_NOT_SUPPORTED, (c) => c.loginPdu([['InitiatorName', INIT], ['SessionType', 'Weird']])],
    ['malformed InitiatorName', LoginStatus.INITIATOR_ERROR, (c) => c.loginPdu([['InitiatorName', 'not a name'], ['TargetName', TARGET_IQN]])],
    ['version-min > 0', LoginStatus.UNSUPPORTED_VERSION, (c) => c.loginPdu([['InitiatorName', INIT], ['TargetName', TARGET_IQN]], { versionMin: 1 })],
    ['T and C both set', LoginStatus.INITIATOR_ERROR, (c) => c.loginPdu([['InitiatorName', INIT], ['TargetName', TARGET_IQN]], { cont: true })],
    ['NSG 2', LoginStatus.INITIATOR_ERROR, (c) => c.loginPdu([['InitiatorName', INIT], ['TargetName', TARGET_IQN]], { nsg: 2 })],
    ['CSG 3', LoginStatus.INITIATOR_ERROR, (c) => c.loginPdu([['InitiatorName', INIT], ['TargetName', TARGET_IQN]], { csg: 3 })],
    ['duplicate key', LoginStatus.INITIATOR_ERROR, (c) => c.loginPdu([['InitiatorName', INIT], ['TargetName', TARGET_IQN], ['MaxBurstLength', '512'], ['MaxBurstLength', '1024']])],
    ['unknown TSIH', LoginStatus.SESSION_DOES_NOT_EXIST, (c) => c.loginPdu([['InitiatorName', INIT], ['TargetName', TARGET_IQN]], { tsih: 0x7777 })],
    ['malformed text', LoginStatus.INITIATOR_ERROR, (c) => c.loginPdu([['InitiatorName', INIT], ['TargetName', TARGET_IQN], ['Bad', 'x']].map(([k, v]) => (k === 'Bad' ? ['=nokey', v] : [k, v])) as Array<[string, string]>)],
    [
      'non-login PDU during login',
      LoginStatus.INVALID_DURING_LOGIN,
      (c) => c.send({ opcode: Opcode.NOP_OUT, immediate: true, final: true, itt: 1, ttt: 0xffffffff }),
    ],
  ];
  for (const [name, status, act] of cases) {
    it(name, async () => {
      const c = await connect();
      act(c);
      const r = await c.expect(Opcode.LOGIN_RESPONSE);
      expect(statusOf(r).toString(16)).toBe(status.toString(16));
      expect(r.bhs.tsih).toBe(0);
      expect(await c.waitClose()).toBe(true);
    });
  }

  it('refuses an initiator the lab does not admit (0x0202)', async () => {
    h.directory.rejectNames.add(INIT);
    const c = await connect();
    expect(statusOf(await c.login(TARGET_IQN))).toBe(LoginStatus.AUTHORIZATION_FAILURE);
  });
});

describe('CHAP', () => {
  const secrets = { user: 'backup01', secret: 'dmsim-secret1', targetUser: 'dmsim-target', targetSecret: 'target-secret2' };

  async function chapLogin(c: RawClient, opts: { response?: (id: number, ch: Buffer) => string; mutual?: Buffer; algs?: string }): Promise<{ step: number; status: number; text?: Array<readonly [string, string]> }> {
    c.loginPdu([['InitiatorName', INIT], ['TargetName', TARGET_IQN], ['SessionType', 'Normal'], ['AuthMethod', 'CHAP,None']], { csg: 0, nsg: 1 });
    let r = await c.expect(Opcode.LOGIN_RESPONSE);
    if (statusOf(r)) return { step: 1, status: statusOf(r) };
    expect(r.bhs).toMatchObject({ transit: false, csg: 0 });
    expect(get(r.text, 'AuthMethod')).toBe('CHAP');
    c.loginPdu([['CHAP_A', opts.algs ?? '5']], { csg: 0, nsg: 1, transit: false });
    r = await c.expect(Opcode.LOGIN_RESPONSE);
    if (statusOf(r)) return { step: 2, status: statusOf(r) };
    expect(get(r.text, 'CHAP_A')).toBe('5');
    const id = Number(get(r.text, 'CHAP_I'));
    const ch = decodeBinary(get(r.text, 'CHAP_C')!)!;
    expect(ch.length).toBe(16);
    const resp = opts.response ? opts.response(id, ch) : `0x${chapResponse(id, secrets.secret, ch).toString('hex').toUpperCase()}`;
    const keys: Array<[string, string]> = [['CHAP_N', secrets.user], ['CHAP_R', resp]];
    if (opts.mutual) keys.push(['CHAP_I', '7'], ['CHAP_C', `0x${opts.mutual.toString('hex')}`]);
    c.loginPdu(keys, { csg: 0, nsg: 1 });
    r = await c.expect(Opcode.LOGIN_RESPONSE);
    return { step: 3, status: statusOf(r), text: r.text };
  }

  it('one-way CHAP: right response logs in, wrong one gets 0x0201', async () => {
    h.directory.chapSecrets = { user: secrets.user, secret: secrets.secret };
    let c = await connect();
    let out = await chapLogin(c, {});
    expect(out.status).toBe(0);
    c.loginPdu([['MaxRecvDataSegmentLength', '65536']], { csg: 1, nsg: 3 });
    const fin = await c.expect(Opcode.LOGIN_RESPONSE);
    expect(statusOf(fin)).toBe(0);
    expect(fin.bhs.tsih).not.toBe(0);
    c = await connect();
    out = await chapLogin(c, { response: () => `0x${'00'.repeat(16)}` });
    expect(out).toMatchObject({ step: 3, status: LoginStatus.AUTHENTICATION_FAILURE });
    expect(await c.waitClose()).toBe(true);
  });

  it('accepts a base64 response and rejects an oversize one', async () => {
    h.directory.chapSecrets = { user: secrets.user, secret: secrets.secret };
    let c = await connect();
    expect((await chapLogin(c, { response: (id, ch) => `0b${chapResponse(id, secrets.secret, ch).toString('base64')}` })).status).toBe(0);
    c = await connect();
    expect((await chapLogin(c, { response: (id, ch) => `0b${Buffer.concat([Buffer.alloc(4, 1), chapResponse(id, secrets.secret, ch)]).toString('base64')}` })).status).toBe(LoginStatus.AUTHENTICATION_FAILURE);
  });

  it('mutual CHAP: the target proves its secret; a reflected challenge is refused', async () => {
    h.directory.chapSecrets = secrets;
    let c = await connect();
    const mine = Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex');
    const out = await chapLogin(c, { mutual: mine });
    expect(out.status).toBe(0);
    expect(get(out.text, 'CHAP_N')).toBe('dmsim-target');
    expect(get(out.text, 'CHAP_R')).toBe('0xe7cc61ee1c36557b1b7a8b1e23e56843');
    c = await connect();
    let captured: Buffer = Buffer.alloc(0);
    c.loginPdu([['InitiatorName', INIT], ['TargetName', TARGET_IQN], ['AuthMethod', 'CHAP']], { csg: 0, nsg: 1 });
    await c.expect(Opcode.LOGIN_RESPONSE);
    c.loginPdu([['CHAP_A', '5']], { csg: 0, nsg: 1, transit: false });
    const r = await c.expect(Opcode.LOGIN_RESPONSE);
    captured = decodeBinary(get(r.text, 'CHAP_C')!)!;
    const id = Number(get(r.text, 'CHAP_I'));
    c.loginPdu([['CHAP_N', secrets.user], ['CHAP_R', `0x${chapResponse(id, secrets.secret, captured).toString('hex')}`], ['CHAP_I', '9'], ['CHAP_C', `0x${captured.toString('hex')}`]], { csg: 0, nsg: 1 });
    expect(statusOf(await c.expect(Opcode.LOGIN_RESPONSE))).toBe(LoginStatus.AUTHENTICATION_FAILURE);
  });

  it('unsupported CHAP_A, skipping security, or offering only None all fail with 0x0201', async () => {
    h.directory.chapSecrets = { user: secrets.user, secret: secrets.secret };
    let c = await connect();
    expect(await chapLogin(c, { algs: '56' })).toMatchObject({ step: 2, status: LoginStatus.AUTHENTICATION_FAILURE });
    c = await connect();
    expect(await chapLogin(c, { algs: '' })).toMatchObject({ step: 2, status: LoginStatus.AUTHENTICATION_FAILURE });
    c = await connect();
    expect(statusOf(await c.login(TARGET_IQN))).toBe(LoginStatus.AUTHENTICATION_FAILURE);
    c = await connect();
    c.loginPdu([['InitiatorName', INIT], ['TargetName', TARGET_IQN], ['AuthMethod', 'None']], { csg: 0, nsg: 1 });
    expect(statusOf(await c.expect(Opcode.LOGIN_RESPONSE))).toBe(LoginStatus.AUTHENTICATION_FAILURE);
  });
});

describe('discovery and session identity', () => {
  it('discovery session: SendTargets=All lists every node with this portal, SCSI commands are rejected', async () => {
    const c = await connect();
    const r = await c.login(undefined);
    expect(statusOf(r)).toBe(0);
    expect(get(r.text, 'TargetPortalGroupTag')).toBeUndefined();
    const { encodeText } = await import('../../../src/iscsi/text.js');
    c.send({ opcode: Opcode.TEXT_REQUEST, immediate: true, final: true, itt: 77, ttt: 0xffffffff, cmdSN: c.cmdSN, expStatSN: c.expStatSN }, encodeText([['SendTargets', 'All']]));
    const t = await c.expect(Opcode.TEXT_RESPONSE);
    expect(t.raw[1]).toBe(0x80);
    expect(t.bhs.ttt).toBe(0xffffffff);
    expect(t.text).toEqual([
      ['TargetName', TARGET_IQN],
      ['TargetAddress', `127.0.0.1:${h.target.port},1`],
      ['TargetName', 'iqn.2026-11.dev.dmsim:second'],
      ['TargetAddress', `127.0.0.1:${h.target.port},1`],
    ]);
    c.command(Buffer.from([0, 0, 0, 0, 0, 0]));
    const rej = await c.expect(Opcode.REJECT);
    expect(rej.bhs.reason).toBe(0x05);
    expect(rej.data.length).toBe(48);
  });

  it('a Text Request in several PDUs (C=1): each part gets an empty response with a TTT, the last the answer', async () => {
    const c = await connect();
    await c.login(undefined);
    const { encodeText } = await import('../../../src/iscsi/text.js');
    const text = encodeText([['SendTargets', TARGET_IQN]]);
    // Split inside the key=value pair, as RFC 7143 allows.
    c.send({ opcode: Opcode.TEXT_REQUEST, immediate: true, final: false, continue: true, itt: 90, ttt: 0xffffffff, cmdSN: c.cmdSN, expStatSN: c.expStatSN }, text.subarray(0, 7));
    const first = await c.expect(Opcode.TEXT_RESPONSE);
    expect(first.raw[1]).toBe(0x00);
    expect(first.data.length).toBe(0);
    expect(first.bhs.ttt).not.toBe(0xffffffff);
    c.send({ opcode: Opcode.TEXT_REQUEST, immediate: true, final: true, itt: 90, ttt: first.bhs.ttt, cmdSN: c.cmdSN, expStatSN: c.expStatSN }, text.subarray(7));
    const last = await c.expect(Opcode.TEXT_RESPONSE);
    expect(last.raw[1]).toBe(0x80);
    expect(last.bhs.ttt).toBe(0xffffffff);
    expect(last.text).toEqual([['TargetName', TARGET_IQN], ['TargetAddress', `127.0.0.1:${h.target.port},1`]]);
    // C=1 with F=1 is a protocol error.
    c.send({ opcode: Opcode.TEXT_REQUEST, immediate: true, final: true, continue: true, itt: 91, ttt: 0xffffffff, cmdSN: c.cmdSN, expStatSN: c.expStatSN }, text);
    expect((await c.expect(Opcode.REJECT)).bhs.reason).toBe(0x04);
  });

  it('SendTargets in a normal session: invalid values fail the way libiscsi checks', async () => {
    const c = await connect();
    await c.login(TARGET_IQN);
    const { encodeText } = await import('../../../src/iscsi/text.js');
    const ask = async (k: string, v: string) => {
      c.send({ opcode: Opcode.TEXT_REQUEST, immediate: true, final: true, itt: c.nextItt(), ttt: 0xffffffff, cmdSN: c.cmdSN, expStatSN: c.expStatSN }, encodeText([[k, v]]));
      return (await c.expect(Opcode.TEXT_RESPONSE)).text;
    };
    expect(await ask('SendTargetsPlease', 'All')).toEqual([['SendTargetsPlease', 'NotUnderstood']]);
    expect(await ask('SendTargets', 'Alle')).toEqual([['SendTargets', 'Reject']]);
    expect(await ask('SendTargets', 'A')).toEqual([['SendTargets', 'Reject']]);
    expect(await ask('sENDtARGETS', 'aLL')).toEqual([['sENDtARGETS', 'NotUnderstood']]);
    expect(await ask('SendTargets', '')).toEqual([['TargetName', TARGET_IQN], ['TargetAddress', `127.0.0.1:${h.target.port},1`]]);
    expect(await ask('SendTargets', 'iqn.2026-11.dev.dmsim:unknown')).toBeUndefined();
    expect((await ask('SendTargets', 'All'))!.length).toBe(4);
  });

  it('session reinstatement: same name + ISID ends the old session (nexus loss) and closes it', async () => {
    const a = await connect();
    const ra = await a.login(TARGET_IQN);
    const b = await connect();
    const rb = await b.login(TARGET_IQN);
    expect(statusOf(rb)).toBe(0);
    expect(rb.bhs.tsih).not.toBe(ra.bhs.tsih);
    expect(await a.waitClose()).toBe(true);
    expect(h.dispatcher.lost.some((k) => k.endsWith(`${INIT},i,0x801234560000`))).toBe(true);
    expect(h.target.sessions().filter((s) => s.isid === '801234560000' && s.type === 'Normal')).toHaveLength(1);
  });

  it('a second connection for a session with MaxConnections=1 is refused (0x0206); a known TSIH with a new ISID is 0x020A', async () => {
    const a = await connect();
    const ra = await a.login(TARGET_IQN);
    const b = await connect();
    b.tsih = ra.bhs.tsih;
    b.loginPdu([['InitiatorName', INIT], ['TargetName', TARGET_IQN]], { cid: 1 });
    expect(statusOf(await b.expect(Opcode.LOGIN_RESPONSE))).toBe(LoginStatus.TOO_MANY_CONNECTIONS);
    const c = await connect();
    c.isid = Buffer.from('800000000001', 'hex');
    c.tsih = ra.bhs.tsih;
    c.loginPdu([['InitiatorName', INIT], ['TargetName', TARGET_IQN]]);
    expect(statusOf(await c.expect(Opcode.LOGIN_RESPONSE))).toBe(LoginStatus.SESSION_DOES_NOT_EXIST);
  });

  it('connection reinstatement: same TSIH and CID replaces the old connection', async () => {
    const a = await connect();
    const ra = await a.login(TARGET_IQN);
    const b = await connect();
    b.tsih = ra.bhs.tsih;
    b.cmdSN = a.cmdSN;
    const rb = await b.login(TARGET_IQN);
    expect(statusOf(rb)).toBe(0);
    expect(rb.bhs.tsih).toBe(ra.bhs.tsih);
    // Leading-only keys cannot change on a joining connection; connection keys still negotiate.
    expect(get(rb.text, 'MaxBurstLength')).toBe('Irrelevant');
    expect(get(rb.text, 'HeaderDigest')).toBe('None');
    expect(await a.waitClose()).toBe(true);
    const itt = b.command(Buffer.alloc(6));
    expect((await b.result(itt)).status).toBeTypeOf('number');
  });
});
