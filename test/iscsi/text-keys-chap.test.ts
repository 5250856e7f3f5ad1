import { describe, expect, it } from 'vitest';
import { decodeText, encodeText, isValidIscsiName, parseNumber, TextError } from '../../src/iscsi/text.js';
import { defaultParams, KEYS } from '../../src/iscsi/keys.js';
import { clampFirstBurst, resolveAnswer, respondToKey, TARGET_LIMITS } from '../../src/iscsi/negotiation.js';
import { chapResponse, chapVerify, decodeBinary, encodeBinary, parseChapId, pickChapAlgorithm } from '../../src/iscsi/chap.js';

describe('text segments', () => {
  it('encodes and decodes key=value\\0 pairs', () => {
    const b = encodeText([['SendTargets', 'All'], ['X-a', 'b=c']]);
    expect(b.toString('latin1')).toBe('SendTargets=All\0X-a=b=c\0');
    expect(decodeText(Buffer.concat([b, Buffer.alloc(3)]))).toEqual([['SendTargets', 'All'], ['X-a', 'b=c']]);
    expect(decodeText(Buffer.from('A=1'))).toEqual([['A', '1']]);
  });
  it('refuses malformed strings', () => {
    expect(() => decodeText(Buffer.from('novalue\0'))).toThrow(TextError);
    expect(() => decodeText(Buffer.from('=x\0'))).toThrow(TextError);
    expect(() => decodeText(Buffer.from(`${'K'.repeat(64)}=1\0`))).toThrow(TextError);
  });
  it('parses numbers and names', () => {
    expect(parseNumber('262144')).toBe(262144);
    expect(parseNumber('0x10')).toBe(16);
    expect(parseNumber('12a')).toBeUndefined();
    expect(isValidIscsiName('iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test')).toBe(true);
    expect(isValidIscsiName('eui.02004567A425678D')).toBe(true);
    expect(isValidIscsiName('naa.52004567BA64678D')).toBe(true);
    expect(isValidIscsiName('Alle')).toBe(false);
    expect(isValidIscsiName('A')).toBe(false);
  });
});

describe('key negotiation', () => {
  it('knows every key of the reference table with its default', () => {
    for (const [k, d] of [['HeaderDigest', 'None'], ['MaxConnections', '1'], ['InitialR2T', 'Yes'], ['ImmediateData', 'Yes'], ['MaxRecvDataSegmentLength', '8192'], ['MaxBurstLength', '262144'], ['FirstBurstLength', '65536'], ['DefaultTime2Wait', '2'], ['DefaultTime2Retain', '20'], ['MaxOutstandingR2T', '1'], ['DataPDUInOrder', 'Yes'], ['DataSequenceInOrder', 'Yes'], ['ErrorRecoveryLevel', '0'], ['SessionType', 'Normal'], ['TaskReporting', 'RFC3720'], ['OFMarker', 'No'], ['IFMarker', 'No'], ['RDMAExtensions', 'No']]) {
      expect(KEYS.get(k!)?.default, k).toBe(d);
    }
  });
  it('answers libiscsi offers like the reference example', () => {
    const p = defaultParams();
    const offers: Array<[string, string, string | undefined]> = [
      ['HeaderDigest', 'None,CRC32C', 'None'],
      ['DataDigest', 'CRC32C,None', 'CRC32C'],
      ['InitialR2T', 'No', 'No'],
      ['ImmediateData', 'Yes', 'Yes'],
      ['MaxBurstLength', '262144', '262144'],
      ['FirstBurstLength', '262144', '262144'],
      ['DefaultTime2Wait', '2', '2'],
      ['DefaultTime2Retain', '0', '0'],
      ['MaxOutstandingR2T', '1', '1'],
      ['ErrorRecoveryLevel', '2', '0'],
      ['IFMarker', 'No', 'No'],
      ['OFMarkInt', '1~65535', 'Reject'],
      ['MaxConnections', '8', '1'],
      ['MaxRecvDataSegmentLength', '65536', undefined],
      ['DataPDUInOrder', 'No', 'Yes'],
      ['MaxBurstLength', '12', 'Reject'],
      ['X-com.example.foo', 'bar', 'NotUnderstood'],
      ['TaskReporting', 'FastAbort,RFC3720', 'RFC3720'],
    ];
    for (const [k, v, want] of offers) expect(respondToKey(k, v, TARGET_LIMITS, p), k).toBe(want);
    expect(p.initiatorMaxRecvDataSegmentLength).toBe(65536);
    expect(p.dataDigest).toBe(true);
    expect(p.initialR2T).toBe(false);
    expect(p.errorRecoveryLevel).toBe(0);
  });
  it('keeps FirstBurstLength within MaxBurstLength', () => {
    const p = defaultParams();
    respondToKey('FirstBurstLength', '262144', TARGET_LIMITS, p);
    respondToKey('MaxBurstLength', '8192', TARGET_LIMITS, p);
    expect(clampFirstBurst(p)).toBe(8192);
  });
  it('checks answers on the offerer side', () => {
    const p = defaultParams();
    expect(resolveAnswer('MaxBurstLength', '262144', '65536', p)).toBeUndefined();
    expect(p.maxBurstLength).toBe(65536);
    expect(resolveAnswer('MaxBurstLength', '262144', '524288', p)).toMatch(/min/);
    expect(resolveAnswer('InitialR2T', 'Yes', 'No', p)).toMatch(/No after/);
    expect(resolveAnswer('HeaderDigest', 'None', 'CRC32C', p)).toMatch(/not offered/);
    expect(resolveAnswer('MaxRecvDataSegmentLength', '262144', '8192', p)).toBeUndefined();
    expect(p.targetMaxRecvDataSegmentLength).toBe(8192);
  });
});

describe('CHAP', () => {
  const c = Buffer.from('8a1f3c5e7b9d0f2244668800aaccee11', 'hex');
  it('computes the reference worked example (one-way and mutual)', () => {
    expect(chapResponse(42, 'dmsim-secret1', c).toString('hex')).toBe('c929a5e568dc28a9434ac5a90d00fd22');
    expect(chapResponse(7, 'target-secret2', Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex')).toString('hex')).toBe('e7cc61ee1c36557b1b7a8b1e23e56843');
    expect(chapVerify(42, 'dmsim-secret1', c, decodeBinary('0bySml5WjcKKlDSsWpDQD9Ig==')!)).toBe(true);
    expect(chapVerify(42, 'wrong', c, decodeBinary('0xC929A5E568DC28A9434AC5A90D00FD22')!)).toBe(false);
  });
  it('decodes and encodes binary values strictly', () => {
    expect(decodeBinary('0x0aB')!.toString('hex')).toBe('00ab');
    expect(decodeBinary('0xzz')).toBeUndefined();
    expect(decodeBinary('0b!!')).toBeUndefined();
    expect(decodeBinary('backup01')).toBeUndefined();
    expect(encodeBinary(Buffer.from([1, 2]))).toBe('0x0102');
    expect(encodeBinary(Buffer.from([1, 2]), 'base64')).toBe('0bAQI=');
    expect(pickChapAlgorithm('5,6,7,8')).toBe(5);
    expect(pickChapAlgorithm('56')).toBeUndefined();
    expect(pickChapAlgorithm('')).toBeUndefined();
    expect(parseChapId('255')).toBe(255);
    expect(parseChapId('256')).toBeUndefined();
  });
});
