import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  decodeCopyStatus,
  decodeFailedSegmentDetails,
  decodeOperatingParameters,
  decodeRcrCdb,
  decodeReceiveData,
  encodeCopyStatus,
  encodeFailedSegmentDetails,
  encodeOperatingParameters,
  encodeRcrCdb,
  encodeReceiveData,
  transferCountOf,
} from '../../src/scsi/receive-copy-results.js';
import { decodeThirdPartyCopyVpd, encodeThirdPartyCopyVpd } from '../../src/scsi/third-party-copy-vpd.js';
import { operatingParameters, PROFILES, thirdPartyCopyVpd } from '../../firmware-sim/copy-manager/profile.js';

type V = Record<string, { hex: string; decoded?: unknown; heldHex?: string; status?: number; senseHex?: string; codes?: number[] }>;
const load = (n: string) => JSON.parse(readFileSync(new URL(`../../fixtures/vectors/xcopy/${n}.json`, import.meta.url), 'utf8')) as V;
const rcr = load('receive-copy-results');
const vpd = load('third-party-copy-vpd');
const hex = (v: V, n: string, k: 'hex' | 'heldHex' | 'senseHex' = 'hex') => Buffer.from(v[n]![k]!.replace(/\s+/g, ''), 'hex');

describe('RECEIVE COPY RESULTS codec', () => {
  it('COPY STATUS after the 11.1 backup, both ways', () => {
    const b = hex(rcr, 'copy-status-after-backup');
    expect(decodeCopyStatus(b)).toEqual(rcr['copy-status-after-backup']!.decoded);
    expect(encodeCopyStatus(decodeCopyStatus(b)).equals(b)).toBe(true);
  });
  it('CDB, both ways', () => {
    const b = hex(rcr, 'rcr-cdb-copy-status-list-1');
    expect(decodeRcrCdb(b)).toEqual(rcr['rcr-cdb-copy-status-list-1']!.decoded);
    expect(encodeRcrCdb({ serviceAction: 0, listId: 1, allocationLength: 1024 }).equals(b)).toBe(true);
  });
  it('RECEIVE DATA, both ways', () => {
    const b = hex(rcr, 'receive-data');
    expect(decodeReceiveData(b).equals(hex(rcr, 'receive-data', 'heldHex'))).toBe(true);
    expect(encodeReceiveData(hex(rcr, 'receive-data', 'heldHex')).equals(b)).toBe(true);
  });
  it('FAILED SEGMENT DETAILS with the 7.4 sense, and the empty form', () => {
    const b = hex(rcr, 'failed-segment-details');
    const d = decodeFailedSegmentDetails(b)!;
    expect(d.commandStatus).toBe(2);
    expect(d.sense.equals(hex(rcr, 'failed-segment-details', 'senseHex'))).toBe(true);
    expect(encodeFailedSegmentDetails(d).equals(b)).toBe(true);
    const none = hex(rcr, 'failed-segment-details-none');
    expect(encodeFailedSegmentDetails(undefined).equals(none)).toBe(true);
    expect(decodeFailedSegmentDetails(none)).toBeUndefined();
  });
  it('OPERATING PARAMETERS of the full profile, both ways', () => {
    const b = hex(rcr, 'operating-parameters-full');
    expect(encodeOperatingParameters(operatingParameters(PROFILES.full)).toString('hex')).toBe(b.toString('hex'));
    const d = decodeOperatingParameters(b);
    expect(d.implementedCodes).toEqual(rcr['operating-parameters-full']!.codes);
    expect(d).toEqual(operatingParameters(PROFILES.full));
  });
  it('disk profile lists 02 07 0A E4 and a non-zero segment length (libiscsi Large)', () => {
    const d = decodeOperatingParameters(encodeOperatingParameters(operatingParameters(PROFILES.disk)));
    expect(d.implementedCodes).toEqual([0x02, 0x07, 0x0a, 0xe4]);
    expect(d.maxSegmentLength).toBe(268435456);
  });
  it('transfer count units: bytes while 32 bits suffice, then MiB', () => {
    expect(transferCountOf(1048576)).toEqual({ units: 0, transferCount: 1048576 });
    expect(transferCountOf(2 ** 33)).toEqual({ units: 2, transferCount: 8192 });
  });
});

describe('Third-party Copy VPD page', () => {
  it('data mover page byte for byte, and back', () => {
    const b = hex(vpd, 'vpd-8f-data-mover-full');
    const v = thirdPartyCopyVpd(PROFILES.full, 0x03);
    expect(encodeThirdPartyCopyVpd(v).toString('hex')).toBe(b.toString('hex'));
    expect(decodeThirdPartyCopyVpd(b)).toEqual(v);
  });
  it('carries the 9.2 and 9.5 example descriptors', () => {
    const b = hex(vpd, 'vpd-8f-data-mover-full').toString('hex');
    expect(b).toContain(vpd['supported-commands-descriptor']!.hex);
    expect(b).toContain(vpd['supported-cscd-ids-descriptor']!.hex);
  });
  it('disk profile: no stream or held-data descriptors, RECEIVE DATA not listed', () => {
    const v = decodeThirdPartyCopyVpd(encodeThirdPartyCopyVpd(thirdPartyCopyVpd(PROFILES.disk, 0)));
    expect(v.streamCopyOperations).toBeUndefined();
    expect(v.heldData).toBeUndefined();
    expect(v.supportedCommands).toEqual([
      { opcode: 0x83, serviceActions: [0] },
      { opcode: 0x84, serviceActions: [0, 3, 4] },
    ]);
  });
});
