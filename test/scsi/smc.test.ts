import { describe, expect, it } from 'vitest';
import * as S from '../../src/scsi/smc.js';

const h = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ascii = (s: string) => Buffer.from(s, 'ascii').toString('hex');
const spaces = (n: number) => '20'.repeat(n);
const zeros = (n: number) => '00'.repeat(n);

describe('SMC CDBs', () => {
  it('MOVE MEDIUM: transport, source, destination, INVERT, control', () => {
    const cdb = S.encodeMoveMedium({ transport: 0x0001, source: 0x1000, destination: 0x0100 });
    expect(cdb.toString('hex')).toBe('a50000011000010000000000');
    expect(S.decodeMoveMedium(h('a5 00 00 00 10 01 01 01 00 00 01 c0'))).toEqual({ transport: 0, source: 0x1001, destination: 0x0101, invert: true, control: 0xc0 });
  });

  it('EXCHANGE MEDIUM: two destinations, INV1/INV2', () => {
    const cdb = S.encodeExchangeMedium({ source: 0x1000, firstDestination: 0x0100, secondDestination: 0x1001, inv2: true });
    expect(cdb.toString('hex')).toBe('a60000001000010010010200');
    expect(S.decodeExchangeMedium(cdb)).toEqual({ transport: 0, source: 0x1000, firstDestination: 0x0100, secondDestination: 0x1001, inv1: false, inv2: true, control: 0 });
  });

  it('POSITION TO ELEMENT (10 bytes, INVERT in byte 8)', () => {
    expect(S.encodePositionToElement({ transport: 1, destination: 0x0010 }).toString('hex')).toBe('2b000001001000000000');
    expect(S.decodePositionToElement(h('2b 00 00 00 10 05 00 00 01 00'))).toEqual({ transport: 0, destination: 0x1005, invert: true });
  });

  it('READ ELEMENT STATUS: VOLTAG, type, start, count, MIXED/CURDATA/DVCID, 24-bit allocation', () => {
    // The CDB of smc.md §2.7's example: VOLTAG, type 4, DVCID, allocation 4096.
    const cdb = S.encodeReadElementStatus({ voltag: true, elementType: 4, start: 0, count: 0xffff, dvcid: true, allocationLength: 0x1000 });
    expect(cdb.toString('hex')).toBe('b81400 00ffff01001000 0000'.replace(/ /g, ''));
    expect(S.decodeReadElementStatus(h('b8 e2 10 00 00 28 06 01 00 00 00 00'))).toEqual({
      voltag: false, elementType: 2, start: 0x1000, count: 40, mixed: true, curdata: true, dvcid: false, allocationLength: 0x10000,
    });
  });

  it('INITIALIZE ELEMENT STATUS (07h) and WITH RANGE (37h 10 bytes, E7h 12 bytes)', () => {
    expect(S.encodeInitializeElementStatus().toString('hex')).toBe('070000000000');
    const r = S.encodeInitializeElementStatusWithRange({ range: true, fast: true, start: 0x1000, count: 4 });
    expect(r.toString('hex')).toBe('37031000000000040000');
    expect(S.decodeInitializeElementStatusWithRange(r)).toEqual({ range: true, fast: true, start: 0x1000, count: 4 });
    const v = S.encodeInitializeElementStatusWithRange({ range: true, start: 0x0100, count: 2 }, S.SmcOp.INITIALIZE_ELEMENT_STATUS_WITH_RANGE_VENDOR);
    expect(v.toString('hex')).toBe('e70101000000000200000000');
    expect(S.decodeInitializeElementStatusWithRange(v)).toEqual({ range: true, fast: false, start: 0x0100, count: 2 });
  });

  it('OPEN/CLOSE IMPORT/EXPORT ELEMENT: address and 5-bit action', () => {
    expect(S.encodeOpenCloseImportExport({ address: 0x0010, action: S.ImportExportAction.CLOSE }).toString('hex')).toBe('1b0000100100');
    // mtx `eject` sends 1B 00 00 00 02 00: element 0000h, action 02h.
    expect(S.decodeOpenCloseImportExport(h('1b 00 00 00 02 00'))).toEqual({ address: 0, action: 2 });
  });
});

describe('element status data', () => {
  const ibmId = (serial: string) => Buffer.from(`IBM     ULT3580-TD8     ${serial}`, 'ascii');
  // smc.md §2.7 example: two drives 0100h/0101h, drive 0 holds E01001L8 from slot 1000h, VOLTAG + DVCID.
  const example =
    '0100 0002 00 0000b4' +
    '04 80 0056 00 0000ac' +
    '0100 09 00 0000 0000 00 81 1000' + ascii('E01001L8') + spaces(24) + zeros(4) + '02010022' + ascii('IBM     ULT3580-TD8     1013000101') +
    '0101 08 00 0000 0000 00 00 0000' + zeros(36) + '02010022' + ascii('IBM     ULT3580-TD8     1013000102');
  const examplePage: S.ElementStatusPage = {
    type: 4,
    pvoltag: true,
    identifierLength: 34,
    descriptors: [
      { address: 0x0100, full: true, access: true, svalid: true, mediumType: S.MediumType.DATA, source: 0x1000, volumeTag: 'E01001L8', deviceId: { codeSet: 2, identifierType: 1, identifier: ibmId('1013000101') } },
      { address: 0x0101, full: false, access: true, deviceId: { codeSet: 2, identifierType: 1, identifier: ibmId('1013000102') } },
    ],
  };

  it('encodes the reference example byte for byte (DT page, PVOLTAG, 86-byte descriptors)', () => {
    expect(S.encodeElementStatus([examplePage]).toString('hex')).toBe(example.replace(/ /g, ''));
  });

  it('decodes it back, tags trimmed, an all-zero tag as no label', () => {
    const d = S.decodeElementStatus(h(example));
    expect(d).toMatchObject({ firstAddress: 0x0100, available: 2, byteCount: 180 });
    expect(d.pages).toHaveLength(1);
    expect(d.pages[0]).toMatchObject({ type: 4, pvoltag: true, avoltag: false, descriptorLength: 86, byteCount: 172, identifierLength: 34 });
    const [a, b] = d.pages[0]!.descriptors;
    expect(a).toMatchObject({ address: 0x100, full: true, access: true, svalid: true, mediumType: 1, source: 0x1000, volumeTag: 'E01001L8', volumeSequence: 0 });
    expect(a!.deviceId!.identifier.toString('ascii')).toBe('IBM     ULT3580-TD8     1013000101');
    expect(b).toMatchObject({ address: 0x101, full: false, volumeTag: '', svalid: false });
  });

  it('descriptor lengths per VOLTAG/DVCID (16, 52, 50, 86) as smc.md §2.7 tabulates', () => {
    expect(S.descriptorLength({ pvoltag: false })).toBe(16);
    expect(S.descriptorLength({ pvoltag: true })).toBe(52);
    expect(S.descriptorLength({ pvoltag: false, identifierLength: 34 })).toBe(50);
    expect(S.descriptorLength({ pvoltag: true, identifierLength: 34 })).toBe(86);
  });

  it('IE and ST flag bits, DT byte 6 LU VALID|LUN, pages of mixed types', () => {
    const data = S.encodeElementStatus([
      { type: 1, pvoltag: false, descriptors: [{ address: 1, full: false }] },
      { type: 3, pvoltag: false, descriptors: [{ address: 0x10, full: true, impexp: true, access: true, exenab: true, inenab: true, svalid: false, mediumType: 1 }] },
      { type: 4, pvoltag: false, descriptors: [{ address: 0x100, full: false, access: true, luValid: true, lun: 2 }] },
      { type: 2, pvoltag: false, descriptors: [{ address: 0x1000, full: true, access: true, except: true, asc: 0x83, ascq: 0x00, svalid: true, source: 0x10, mediumType: 2 }] },
    ]);
    expect(data.toString('hex')).toBe(
      (
        '0001 0004 00 000060' +
        '01 00 0010 00 000010' + '0001 00 00 0000 0000 00 00 0000 00000000' +
        '03 00 0010 00 000010' + '0010 3b 00 0000 0000 00 01 0000 00000000' +
        '04 00 0010 00 000010' + '0100 08 00 0000 1200 00 00 0000 00000000' +
        '02 00 0010 00 000010' + '1000 0d 00 8300 0000 00 82 0010 00000000'
      ).replace(/ /g, ''),
    );
    const d = S.decodeElementStatus(data);
    expect(d.pages.map((p) => p.type)).toEqual([1, 3, 4, 2]);
    expect(d.pages[1]!.descriptors[0]).toMatchObject({ impexp: true, inenab: true, exenab: true, access: true, full: true, oir: false });
    expect(d.pages[2]!.descriptors[0]).toMatchObject({ luValid: true, lun: 2, idValid: false, notBus: false });
    expect(d.pages[3]!.descriptors[0]).toMatchObject({ except: true, asc: 0x83, ascq: 0, mediumType: 2, source: 0x10 });
  });

  it('a report cut at the allocation length keeps the header counts and parses whole descriptors only', () => {
    const full = h(example);
    const cut = S.decodeElementStatus(full.subarray(0, 8 + 8 + 86 + 10));
    expect(cut).toMatchObject({ available: 2, byteCount: 180 });
    expect(cut.pages[0]!.descriptors).toHaveLength(1);
    expect(S.decodeElementStatus(full.subarray(0, 8)).pages).toEqual([]);
    expect(() => S.decodeElementStatus(full.subarray(0, 7))).toThrow(RangeError);
  });

  it('volume tag: barcode space-padded to 32, sequence in bytes 34–35, empty = 36 zeros', () => {
    expect(S.encodeVolumeTag('DM0001L3', 0).toString('hex')).toBe(ascii('DM0001L3') + spaces(24) + zeros(4));
    expect(S.encodeVolumeTag(undefined).toString('hex')).toBe(zeros(36));
    expect(S.encodeVolumeTag('A', 7).subarray(32).toString('hex')).toBe('00000007');
  });
});

describe('changer mode pages', () => {
  it('1Dh Element Address Assignment: the dmsim default map, as smc.md §2.3.1 prints it', () => {
    const map = { transport: { first: 1, count: 1 }, storage: { first: 0x1000, count: 40 }, importExport: { first: 0x10, count: 4 }, dataTransfer: { first: 0x100, count: 2 } };
    const page = S.encodeElementAddressPage(map);
    expect(page.toString('hex')).toBe('1d120001000110000028001000040100000200 00'.replace(/ /g, ''));
    expect(S.decodeElementAddressPage(page)).toEqual(map);
    expect(() => S.decodeElementAddressPage(Buffer.alloc(20))).toThrow(RangeError);
  });

  it('1Eh Transport Geometry: one picker, no rotation', () => {
    expect(S.encodeTransportGeometryPage([{ rotate: false, member: 0 }]).toString('hex')).toBe('1e020000');
    expect(S.decodeTransportGeometryPage(h('1e 04 01 00 00 01'))).toEqual([{ rotate: true, member: 0 }, { rotate: false, member: 1 }]);
  });

  it('1Fh Device Capabilities: storage, S2C/VTRP, move and exchange matrices', () => {
    const none = {};
    const sid = { storage: true, importExport: true, dataTransfer: true };
    const caps: S.DeviceCapabilities = {
      stor: sid,
      s2c: true,
      vtrp: true,
      ace: false,
      move: { transport: sid, storage: sid, importExport: sid, dataTransfer: sid },
      exchange: { transport: none, storage: sid, importExport: sid, dataTransfer: sid },
    };
    const page = S.encodeDeviceCapabilitiesPage(caps);
    expect(page.toString('hex')).toBe('1f120e030e0e0e0e00000000000e0e0e00000000');
    const back = S.decodeDeviceCapabilitiesPage(page);
    expect(back.move.storage).toMatchObject({ transport: false, storage: true, importExport: true, dataTransfer: true, readAttribute: false });
    expect(back.exchange.transport).toMatchObject({ storage: false, dataTransfer: false });
    expect(back).toMatchObject({ s2c: true, vtrp: true, ace: false });
    // RA / WA bits live in bit 7 of each row.
    expect(S.decodeDeviceCapabilitiesPage(h('1f12 0e 07 80 00 00 00 00000000 00 00 00 80 00000000')).move.transport.readAttribute).toBe(true);
    expect(S.decodeDeviceCapabilitiesPage(h('1f12 0e 07 80 00 00 00 00000000 00 00 00 80 00000000')).exchange.dataTransfer.writeAttribute).toBe(true);
    expect(S.decodeDeviceCapabilitiesPage(h('1f12 0e 07 80 00 00 00 00000000 00 00 00 80 00000000')).ace).toBe(true);
  });
});
