import { describe, expect, it } from 'vitest';
import {
  Association,
  decodeDeviceIdPage,
  decodeExtendedInquiry,
  decodeInquiryCdb,
  decodeStandardInquiry,
  decodeSupportedPages,
  decodeUnitSerial,
  designators,
  encodeDeviceIdPage,
  encodeExtendedInquiry,
  encodeInquiryCdb,
  encodeStandardInquiry,
  encodeSupportedPages,
  encodeUnitSerial,
  ProtocolId,
  STANDARD_INQUIRY_LENGTH,
  VersionDescriptor,
} from '../../src/scsi/inquiry.js';
import { loadVectors } from './vectors.js';

const V = loadVectors<{ hex: string }>('inquiry.json');
const NAA = Buffer.from('6001405000000000000000000000a001', 'hex');
const WWPN = Buffer.from('50000000000000a1', 'hex');

describe('standard INQUIRY data', () => {
  const v = {
    deviceType: 0,
    threePC: true,
    vendor: 'DMSIM',
    product: 'VDISK',
    revision: '0100',
    versionDescriptors: [VersionDescriptor.SAM5, VersionDescriptor.SPC4, VersionDescriptor.SBC3],
  };
  it('encodes the golden vector', () => {
    const b = encodeStandardInquiry(v);
    expect(b.length).toBe(STANDARD_INQUIRY_LENGTH);
    expect(b.toString('hex')).toBe(V.hex('standard-disk-3pc').toString('hex'));
  });
  it('decodes it back', () => {
    expect(decodeStandardInquiry(V.hex('standard-disk-3pc'))).toMatchObject({
      ...v,
      qualifier: 0,
      version: 6,
      hisup: true,
      responseDataFormat: 2,
      cmdque: true,
      rmb: false,
    });
  });
  it('decodes the 36-byte minimum', () => {
    expect(decodeStandardInquiry(V.hex('standard-disk-3pc').subarray(0, 36))).toMatchObject({ vendor: 'DMSIM', versionDescriptors: [] });
  });
});

describe('INQUIRY CDB', () => {
  it('both ways', () => {
    expect(encodeInquiryCdb({ evpd: true, pageCode: 0x83, allocationLength: 255 }).equals(V.hex('cdb-evpd-83-alloc-255'))).toBe(true);
    expect(decodeInquiryCdb(V.hex('cdb-evpd-83-alloc-255'))).toEqual({ evpd: true, pageCode: 0x83, allocationLength: 255 });
  });
});

describe('VPD pages', () => {
  it('83h designators both ways', () => {
    const ds = [designators.luNaa(NAA), designators.relativeTargetPort(1, ProtocolId.FC), designators.wwnNaa(WWPN, Association.TARGET_PORT)];
    expect(encodeDeviceIdPage(0, ds).toString('hex')).toBe(V.hex('vpd83-naa-rtpi-port').toString('hex'));
    expect(decodeDeviceIdPage(V.hex('vpd83-naa-rtpi-port'))).toEqual(ds);
  });
  it('86h', () => {
    expect(encodeExtendedInquiry(0).toString('hex')).toBe(V.hex('vpd86-simpsup-luiclr').toString('hex'));
    expect(decodeExtendedInquiry(V.hex('vpd86-simpsup-luiclr'))).toEqual({ headsup: false, ordsup: false, simpsup: true, nvSup: false, vSup: false, luiclr: true });
  });
  it('80h and 00h', () => {
    expect(encodeUnitSerial(1, 'TAPE0001').equals(V.hex('vpd80-serial'))).toBe(true);
    expect(decodeUnitSerial(V.hex('vpd80-serial'))).toBe('TAPE0001');
    expect(encodeSupportedPages(1, [0xb0, 0x83, 0x00, 0x80, 0x86]).equals(V.hex('vpd00-tape'))).toBe(true);
    expect(decodeSupportedPages(V.hex('vpd00-tape'))).toEqual([0x00, 0x80, 0x83, 0x86, 0xb0]);
  });
  it('T10 vendor ID designator pads the vendor to 8 bytes', () => {
    const d = designators.t10VendorId('DMSIM', 'VDISK 1234');
    expect(d.value.toString('ascii')).toBe('DMSIM   VDISK 1234');
    expect(d.codeSet).toBe(2);
  });
});
