import { describe, expect, it } from 'vitest';
import { Wwn, WwnFormatError, formatWwn, normalizeWwn } from '../../firmware-sim/fabric/wwn.js';
import { NPortId, PortIdError } from '../../firmware-sim/fabric/port-id.js';
import { FabricLoginError, NameServer } from '../../firmware-sim/fabric/name-server.js';
import { Zoning } from '../../firmware-sim/fabric/zoning.js';

describe('WWN', () => {
  it('parses colon, compact and 0x forms and formats both ways', () => {
    for (const s of ['21:00:00:24:ff:00:00:01', '21000024FF000001', '0x21000024ff000001']) {
      const w = Wwn.parse(s);
      expect(w.hex).toBe('21000024ff000001');
      expect(w.colon).toBe('21:00:00:24:ff:00:00:01');
      expect(w.naa).toBe(2);
    }
    expect(Wwn.fromBytes(Buffer.from('500a098000000001', 'hex')).naa).toBe(5);
    expect(Wwn.parse('50:0a:09:80:00:00:00:01').bytes.toString('hex')).toBe('500a098000000001');
    expect(normalizeWwn('50:0A:09:80:00:00:00:01')).toBe('500a098000000001');
    expect(formatWwn('500a098000000001')).toBe('50:0a:09:80:00:00:00:01');
  });
  it('rejects malformed names', () => {
    for (const s of ['21:00:00:24:ff:00:00', '21000024ff00000', '21-00-00-24-ff-00-00-01', 'zz000024ff000001', '']) {
      expect(() => Wwn.parse(s)).toThrow(WwnFormatError);
      expect(Wwn.isValid(s)).toBe(false);
    }
  });
});

describe('N_Port_ID', () => {
  it('24 bits: domain, area, port; parse and format', () => {
    const id = NPortId.parse('01:02:03');
    expect([id.domain, id.area, id.port]).toEqual([1, 2, 3]);
    expect(id.toString()).toBe('010203');
    expect(NPortId.parse('0x010203').equals(id)).toBe(true);
    expect(NPortId.fromBytes(Buffer.from([1, 2, 3])).value).toBe(0x010203);
    expect(id.bytes.toString('hex')).toBe('010203');
    expect(() => NPortId.of(0x1000000)).toThrow(PortIdError);
    expect(() => NPortId.parse('1234567')).toThrow(PortIdError);
  });
});

describe('name server', () => {
  it('assigns addresses in login order and answers queries by WWPN, WWNN and N_Port_ID', () => {
    const ns = new NameServer(0x0a);
    const a = ns.login({ wwpn: '21:00:00:24:ff:00:00:01', wwnn: '20:00:00:24:ff:00:00:01', role: 'initiator' });
    const b = ns.login({ wwpn: '500a098000000001', wwnn: '500a098000000000', role: 'target' });
    const c = ns.login({ wwpn: '500a098000000002', wwnn: '500a098000000000', role: 'target' });
    expect([a.portId.toString(), b.portId.toString(), c.portId.toString()]).toEqual(['0a0100', '0a0200', '0a0300']);
    expect(ns.byPortName('21000024ff000001')).toBe(a);
    expect(ns.byNodeName('50:0a:09:80:00:00:00:00').map((e) => e.wwpn)).toEqual(['500a098000000001', '500a098000000002']);
    expect(ns.byPortId(0x0a0200)).toBe(b);
    expect(ns.login({ wwpn: '500a098000000001', wwnn: '500a098000000000', role: 'target' })).toBe(b);
    expect(() => ns.login({ wwpn: '500a098000000001', wwnn: '500a0980000000ff', role: 'target' })).toThrow(FabricLoginError);
    expect(ns.logout('500a098000000001')).toBe(true);
    expect(ns.byPortId(0x0a0200)).toBeUndefined();
  });
});

describe('zoning', () => {
  it('ports talk when a zone holds both; unzoned ports follow the default zone policy', () => {
    const z = new Zoning('no-access');
    z.setZone('backup', ['21:00:00:24:ff:00:00:01', '500a098000000001']);
    expect(z.canTalk('21000024ff000001', '500a098000000001')).toBe(true);
    expect(z.canTalk('21000024ff000001', '500a098000000002')).toBe(false);
    expect(z.canTalk('3000000000000001', '3000000000000002')).toBe(false);
    z.defaultZone = 'all-access';
    expect(z.canTalk('3000000000000001', '3000000000000002')).toBe(true);
    // A zoned port does not fall back to the default zone.
    expect(z.canTalk('21000024ff000001', '3000000000000002')).toBe(false);
  });
});
