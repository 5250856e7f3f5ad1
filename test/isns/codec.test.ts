/**
 * iSNSP codec against the bytes of reference isns.md §4.9: captures (e) SCN/SCNRsp and (f) ESI/ESIRsp
 * as isnsd sent and accepted them, and (g) the DevAttrReg shape isnsd accepted. The listener is run
 * on a real socket so its answers are checked as bytes on the wire.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Flag, Fn, Tag } from '../../src/isns/constants.js';
import { IsnsListener, type ScnEvent } from '../../src/isns/listener.js';
import { decodeHeader, decodeRequest, encodeMessage, encodeRequest, MessageReader } from '../../src/isns/pdu.js';
import { registrationAttributes } from '../../src/isns/registrar.js';
import { decodeIp, decodeTlvs, encodeTlvs, readPort, readString, tlvString, TlvError } from '../../src/isns/tlv.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const NAME_DM2 = '00000020 00000024 69716e2e 32303236 2d31312e 6c61622e 646d7369 6d3a726f 75746572 322e646d 30000000';
const NAME_BS = '00000020 00000024 69716e2e 32303236 2d31312e 6c61622e 646d7369 6d3a6261 636b7570 2d736572 76657200';
const NAME_DM1 = '00000020 00000024 69716e2e 32303236 2d31312e 6c61622e 646d7369 6d3a726f 75746572 312e646d 30000000';

// (e) SCN with two batched events, and the SCNRsp dmsim must answer.
const SCN = hex(
  `00010008 00ac8c00 00010000 ${NAME_DM2} 00000004 00000008 00000000 6b15cdfe 00000023 00000004 00000001 ${NAME_BS} 00000023 00000004 00000001 ${NAME_DM1}`,
);
const SCN_RSP = hex(`00018008 00308c00 00010000 00000000 ${NAME_DM2}`);

// (f) ESI and its ESIRsp (status 0 and the same four TLVs).
const ESI_TLVS =
  '00000004 00000008 00000000 6b15ce0a 00000001 00000014 726f7574 6572322e 6c61622e 646d7369 6d000000 00000010 00000010 00000000 00000000 0000ffff 7f000001 00000011 00000004 00000cbe';
const ESI = hex(`0001000d 00508c00 00050000 ${ESI_TLVS}`);
const ESI_RSP = hex(`0001800d 00548c00 00050000 00000000 ${ESI_TLVS}`);

// (g) DevAttrReg as isnsd accepted it, without the Registration Period TLV (dmsim sends none) and with the length adjusted.
const REG_G = hex(
  `00010001 015c8c00 00010000 ${NAME_DM2}` +
    ' 00000001 00000014 726f7574 6572322e 6c61622e 646d7369 6d000000 00000000 00000000' +
    ' 00000001 00000014 726f7574 6572322e 6c61622e 646d7369 6d000000 00000002 00000004 00000002' +
    ' 00000010 00000010 00000000 00000000 0000ffff 7f000001 00000011 00000004 00000cbe' +
    ' 00000012 00000010 726f7574 65723220 706f7274 20300000 00000013 00000004 0000000a' +
    ' 00000014 00000004 0000a8cb 00000017 00000004 0000a8ca' +
    ` ${NAME_DM2} 00000021 00000004 00000001 00000022 00000014 726f7574 65723220 64617461 206d6f76 65720000` +
    ' 00000033 00000004 00000001 00000031 00000010 00000000 00000000 0000ffff 7f000001 00000032 00000004 00000cbe',
);

/** Sends `request` to the listener over TCP and collects the first reply message's raw bytes. */
async function exchange(l: IsnsListener, request: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(l.port, '127.0.0.1', () => s.write(request));
    let got = Buffer.alloc(0);
    s.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (got.length >= 12 && got.length >= 12 + decodeHeader(got).length) {
        s.destroy();
        resolve(got.subarray(0, 12 + decodeHeader(got).length));
      }
    });
    s.on('error', reject);
  });
}

describe('iSNSP codec (RFC 4171) against captured exchanges', () => {
  it('(g) encodes the entity registration exactly as isnsd accepted it', () => {
    const op = registrationAttributes(
      {
        eid: 'router2.lab.dmsim',
        portals: [{ address: '127.0.0.1', port: 3262, symbolicName: 'router2 port 0' }],
        nodes: [{ name: 'iqn.2026-11.lab.dmsim:router2.dm0', type: 'target', alias: 'router2 data mover' }],
      },
      [{ address: '127.0.0.1', port: 3262, symbolicName: 'router2 port 0' }],
      43211,
    );
    // The capture has distinct ESI (43211) and SCN (43210) ports; dmsim uses one listener for both.
    const scn = op.find((t) => t.tag === Tag.ScnPort)!;
    scn.value.writeUInt32BE(43210);
    const payload = encodeRequest({ source: tlvString(Tag.IscsiName, 'iqn.2026-11.lab.dmsim:router2.dm0'), key: [tlvString(Tag.EntityIdentifier, 'router2.lab.dmsim')], operating: op });
    expect(encodeMessage({ functionId: Fn.DevAttrReg, xid: 1, flags: Flag.CLIENT, payload }).toString('hex')).toBe(REG_G.toString('hex'));
  });

  it('(g) decodes back: source, key, delimiter, v4-mapped portal, port fields', () => {
    const [m] = new MessageReader().push(REG_G);
    expect(m!.functionId).toBe(Fn.DevAttrReg);
    const body = decodeRequest(m!.payload);
    expect(readString(body.source!)).toBe('iqn.2026-11.lab.dmsim:router2.dm0');
    expect(body.key.map((t) => readString(t))).toEqual(['router2.lab.dmsim']);
    const ip = body.operating.find((t) => t.tag === Tag.PortalIpAddress)!;
    expect(decodeIp(ip.value)).toBe('127.0.0.1');
    expect(readPort(body.operating.find((t) => t.tag === Tag.PortalPort)!)).toEqual({ port: 3262, udp: false });
    // Every TLV re-encodes to the same bytes.
    expect(encodeTlvs(decodeTlvs(m!.payload)).equals(m!.payload)).toBe(true);
  });

  it('(e) answers a batched SCN with the captured SCNRsp and reports both changes', async () => {
    const l = await IsnsListener.listen('127.0.0.1');
    try {
      const seen = new Promise<ScnEvent>((r) => l.once('scn', r));
      const reply = await exchange(l, SCN);
      expect(reply.toString('hex')).toBe(SCN_RSP.toString('hex'));
      expect(await seen).toEqual({
        destination: 'iqn.2026-11.lab.dmsim:router2.dm0',
        changes: [
          { bitmap: 1, node: 'iqn.2026-11.lab.dmsim:backup-server' },
          { bitmap: 1, node: 'iqn.2026-11.lab.dmsim:router1.dm0' },
        ],
      });
    } finally {
      await l.close();
    }
  });

  it('(f) answers an ESI with the captured ESIRsp', async () => {
    const l = await IsnsListener.listen('127.0.0.1');
    try {
      expect((await exchange(l, ESI)).toString('hex')).toBe(ESI_RSP.toString('hex'));
    } finally {
      await l.close();
    }
  });

  it('answers an authenticated PDU with status 8 and an unknown function with status 15', async () => {
    const l = await IsnsListener.listen('127.0.0.1');
    try {
      const auth = Buffer.from(ESI);
      auth.writeUInt16BE(0x8c00 | Flag.AUTH, 6);
      const r1 = await exchange(l, auth);
      expect(r1.readUInt16BE(2)).toBe(0x800d);
      expect(r1.readUInt32BE(12)).toBe(8);
      const odd = encodeMessage({ functionId: Fn.DevAttrQry, xid: 9, payload: Buffer.alloc(0) });
      const r2 = await exchange(l, odd);
      expect(r2.readUInt16BE(2)).toBe(0x8002);
      expect(r2.readUInt16BE(8)).toBe(9);
      expect(r2.readUInt32BE(12)).toBe(15);
    } finally {
      await l.close();
    }
  });

  it('refuses framing errors: length not a multiple of 4, a TLV running past the payload', () => {
    const bad = Buffer.from(ESI.subarray(0, 12));
    bad.writeUInt16BE(6, 4);
    expect(() => new MessageReader().push(Buffer.concat([bad, Buffer.alloc(8)]))).toThrow(TlvError);
    expect(() => decodeTlvs(hex('00000001 00000010 41424344'))).toThrow(TlvError);
  });

  it('joins a two-PDU message and rejects a PDU out of sequence', () => {
    const payload = hex(ESI_TLVS);
    const first = Buffer.concat([hex('0001000d 00288400 00070000'), payload.subarray(0, 0x28)]);
    const last = Buffer.concat([hex('0001000d 00288800 00070001'), payload.subarray(0x28)]);
    const r = new MessageReader();
    expect(r.push(first)).toEqual([]);
    const [m] = r.push(last);
    expect(m!.payload.equals(payload)).toBe(true);
    const again = new MessageReader();
    again.push(first);
    const wrongSeq = Buffer.from(last);
    wrongSeq.writeUInt16BE(5, 10);
    expect(() => again.push(wrongSeq)).toThrow(TlvError);
  });
});
