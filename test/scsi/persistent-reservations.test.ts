import { describe, expect, it } from 'vitest';
import {
  decodePrInCdb,
  decodePrOutCdb,
  decodePrOutParams,
  decodeReadFullStatus,
  decodeRegisterAndMoveParams,
  encodeRegisterAndMoveParams,
  decodeReadKeys,
  decodeReadReservation,
  decodeReportCapabilities,
  decodeReserve10Cdb,
  decodeTransportId,
  encodePrInCdb,
  encodePrOutCdb,
  encodePrOutParams,
  encodeReadFullStatus,
  encodeReadKeys,
  encodeReadReservation,
  encodeReportCapabilities,
  encodeReserve10Cdb,
  encodeTransportId,
  PR_TYPES,
} from '../../src/scsi/persistent-reservations.js';
import { loadVectors } from './vectors.js';

const V = loadVectors<{ hex: string }>('persistent-reservations.json');
const same = (b: Buffer, name: string) => expect(b.toString('hex')).toBe(V.hex(name).toString('hex'));
const FC_TID = { protocol: 'fc' as const, wwpn: '21000024ff000001' };

describe('PR CDBs', () => {
  it('PR OUT both ways', () => {
    const v = { serviceAction: 1, scope: 0, type: 3, parameterListLength: 24 };
    same(encodePrOutCdb(v), 'prout-cdb-reserve-ea');
    expect(decodePrOutCdb(V.hex('prout-cdb-reserve-ea'))).toEqual(v);
  });
  it('PR IN both ways', () => {
    same(encodePrInCdb({ serviceAction: 0, allocationLength: 16384 }), 'prin-cdb-read-keys');
    expect(decodePrInCdb(V.hex('prin-cdb-read-keys'))).toEqual({ serviceAction: 0, allocationLength: 16384 });
  });
  it('RESERVE(10) third party with LONGID both ways', () => {
    const v = { release: false, thirdParty: true, longId: true, thirdPartyId: 0, parameterListLength: 8 };
    same(encodeReserve10Cdb(v), 'reserve10-3rdpty-longid');
    expect(decodeReserve10Cdb(V.hex('reserve10-3rdpty-longid'))).toEqual(v);
  });
});

describe('PR OUT parameter list', () => {
  it('both ways, keys as 64-bit values', () => {
    const v = { reservationKey: 0n, serviceActionKey: 0x0123456789abcdefn, specIPt: false, allTgPt: true, aptpl: true, transportIds: [] };
    same(encodePrOutParams(v), 'prout-params-register-atp-aptpl');
    expect(decodePrOutParams(V.hex('prout-params-register-atp-aptpl'))).toEqual(v);
  });
  it('SPEC_I_PT carries a TransportID list', () => {
    const tid = encodeTransportId(FC_TID);
    const b = encodePrOutParams({ serviceActionKey: 1n, specIPt: true, transportIds: [tid] });
    expect(b.length).toBe(24 + 4 + 24);
    expect(decodePrOutParams(b).transportIds).toEqual([tid]);
  });
});

describe('PR IN data', () => {
  it('READ KEYS', () => {
    same(encodeReadKeys(2, [0x1111111111111111n, 0x2222222222222222n]), 'read-keys-2');
    expect(decodeReadKeys(V.hex('read-keys-2'))).toEqual({ generation: 2, additionalLength: 16, keys: [0x1111111111111111n, 0x2222222222222222n] });
    expect(decodeReadKeys(V.hex('read-keys-2').subarray(0, 8))).toEqual({ generation: 2, additionalLength: 16, keys: [] });
  });
  it('READ RESERVATION with and without a reservation', () => {
    same(encodeReadReservation(5, { key: 0xabn, scope: 0, type: 3 }), 'read-reservation-ea');
    expect(decodeReadReservation(V.hex('read-reservation-ea'))).toEqual({ generation: 5, reservation: { key: 0xabn, scope: 0, type: 3 } });
    same(encodeReadReservation(5, undefined), 'read-reservation-none');
    expect(decodeReadReservation(V.hex('read-reservation-none'))).toEqual({ generation: 5 });
  });
  it('REPORT CAPABILITIES', () => {
    const c = { rlrC: false, crh: false, sipC: false, atpC: true, ptplC: true, tmv: true, allowCommands: 0, ptplA: false, types: [...PR_TYPES].sort((a, b) => a - b) };
    same(encodeReportCapabilities(c), 'report-caps-ptpl');
    expect(decodeReportCapabilities(V.hex('report-caps-ptpl'))).toEqual(c);
  });
  it('READ FULL STATUS', () => {
    const e = { key: 0x1111111111111111n, allTgPt: false, holder: true, scope: 0, type: 1, relativeTargetPort: 1, transportId: encodeTransportId(FC_TID) };
    same(encodeReadFullStatus(3, [e]), 'full-status-holder-fc');
    expect(decodeReadFullStatus(V.hex('full-status-holder-fc'))).toEqual({ generation: 3, entries: [e] });
  });
});

describe('TransportIDs', () => {
  it('FC', () => {
    same(encodeTransportId(FC_TID), 'transport-id-fc');
    expect(decodeTransportId(V.hex('transport-id-fc'))).toEqual(FC_TID);
  });
  it('iSCSI with ISID', () => {
    const t = { protocol: 'iscsi' as const, name: 'iqn.x', isid: '023d00000001' };
    same(encodeTransportId(t), 'transport-id-iscsi-isid');
    expect(decodeTransportId(V.hex('transport-id-iscsi-isid'))).toEqual(t);
    expect(decodeTransportId(encodeTransportId({ protocol: 'iscsi', name: 'iqn.2001-04.com.example:a' }))).toEqual({ protocol: 'iscsi', name: 'iqn.2001-04.com.example:a' });
    expect(encodeTransportId({ protocol: 'iscsi', name: 'iqn.a' }).length).toBe(24);
  });
});

describe('REGISTER AND MOVE parameter list', () => {
  it('both ways', () => {
    const v = { reservationKey: 0xaan, serviceActionKey: 0xbbn, unreg: true, aptpl: false, relativeTargetPort: 2, transportId: encodeTransportId({ protocol: 'fc', wwpn: '21000024ff000002' }) };
    same(encodeRegisterAndMoveParams(v), 'register-and-move-fc-unreg');
    expect(decodeRegisterAndMoveParams(V.hex('register-and-move-fc-unreg'))).toEqual(v);
  });
});
