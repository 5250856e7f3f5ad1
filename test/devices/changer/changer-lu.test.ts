import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ChangerLu } from '../../../firmware-sim/devices/changer/changer-lu.js';
import { Inventory } from '../../../firmware-sim/devices/changer/inventory.js';
import { Cartridge } from '../../../firmware-sim/devices/tape/cartridge.js';
import { TapeDrive } from '../../../firmware-sim/devices/tape/drive.js';
import type { ScsiLogicalUnit } from '../../../firmware-sim/lu/logical-unit.js';
import { decodeSense, type SenseInfo } from '../../../src/scsi/sense.js';
import * as S from '../../../src/scsi/smc.js';
import { encodeModeSense, encodeModeSelect } from '../../../src/scsi/mode.js';
import { I1, I2, tmp } from '../tape/helpers.js';
import { BARCODES, initialPlacements, MAP } from './inventory-fixture.js';

interface Run {
  status: number;
  data: Buffer;
  sense?: SenseInfo;
}

async function run(lu: ScsiLogicalUnit, cdb: Buffer | number[], opts: { nexus?: typeof I1; dataOut?: Buffer } = {}): Promise<Run> {
  const r = await lu.execute({ nexus: opts.nexus ?? I1, lun: 0, cdb: Buffer.isBuffer(cdb) ? cdb : Buffer.from(cdb), dataOut: opts.dataOut, dataInLength: 0xffffff });
  return { status: r.status, data: r.dataIn ?? Buffer.alloc(0), ...(r.sense ? { sense: decodeSense(r.sense) } : {}) };
}
const TUR = [0, 0, 0, 0, 0, 0];
const sense = (r: Run) => [r.sense?.key, r.sense?.asc, r.sense?.ascq];
const ptr = (r: Run) => (r.sense?.sks?.kind === 'field' ? [r.sense.sks.byte, r.sense.sks.bit] : undefined);

function drive(n: number): TapeDrive {
  return new TapeDrive({ deviceType: 1, vendor: 'DMSIM', product: 'VTAPE-LTO4', revision: '0100', serial: `DRV000000${n}`, naa: Buffer.alloc(16, n), name: `router1/tape${n}` });
}

let t: ReturnType<typeof tmp>;
let lu: ChangerLu;
let drives: TapeDrive[];
beforeEach(async () => {
  t = tmp();
  for (const b of BARCODES) await (await Cartridge.create(join(t.dir, `${b}.tap`), { barcode: b, capacity: 1 << 20 })).close();
  drives = [drive(0), drive(1)];
  const inventory = await Inventory.open(join(t.dir, 'lib.json'), MAP, initialPlacements());
  lu = new ChangerLu(
    { deviceType: 8, vendor: 'DMSIM', product: 'TAPE LIBRARY', revision: '0100', serial: 'LIB0000001', naa: Buffer.alloc(16, 9), name: 'router1/library' },
    {
      inventory,
      drives: drives.map((d, i) => ({ drive: d, lun: i + 1 })),
      loadCartridge: async (barcode, d) => d.loadCartridge(await Cartridge.open(join(t.dir, `${barcode}.tap`))),
    },
  );
  for (const n of [I1, I2]) await run(lu, TUR, { nexus: n }); // consume 29/00
});
afterEach(async () => {
  for (const d of drives) await d.eject({ force: true }).catch(() => undefined);
  t.done();
});

const res = (v: Partial<S.ReadElementStatusCdb>) => S.encodeReadElementStatus({ allocationLength: 0xffff, ...v });

describe('changer LU', () => {
  it('INQUIRY: peripheral type 08h, RMB=1', async () => {
    const r = await run(lu, [0x12, 0, 0, 0, 96, 0]);
    expect(r.data[0]).toBe(0x08);
    expect(r.data[1]).toBe(0x80);
    expect(r.data.subarray(16, 32).toString('ascii')).toBe('TAPE LIBRARY    ');
  });

  it('MODE SENSE(6) DBD page 1Dh: mode data length 23 (Proxmox), the map; 1Eh, 1Fh; 1Fh/41h refused at byte 3', async () => {
    const r = await run(lu, encodeModeSense({ ten: false, dbd: true, pc: 0, pageCode: 0x1d, subpage: 0, allocationLength: 255 }));
    expect(r.data.toString('hex')).toBe('17000000' + '1d12000100011000000600100002010000020000');
    // DBD=0: still no block descriptors on a changer.
    const r0 = await run(lu, encodeModeSense({ ten: false, dbd: false, pc: 0, pageCode: 0x1d, subpage: 0, allocationLength: 255 }));
    expect(r0.data[3]).toBe(0);
    expect((await run(lu, encodeModeSense({ ten: false, dbd: true, pc: 0, pageCode: 0x1e, subpage: 0, allocationLength: 255 }))).data.subarray(4).toString('hex')).toBe('1e020000');
    expect((await run(lu, encodeModeSense({ ten: false, dbd: true, pc: 0, pageCode: 0x1f, subpage: 0, allocationLength: 255 }))).data.subarray(4).toString('hex')).toBe('1f120e030e0e0e0e00000000000e0e0e00000000');
    const sub = await run(lu, encodeModeSense({ ten: false, dbd: true, pc: 0, pageCode: 0x1f, subpage: 0x41, allocationLength: 255 }));
    expect(sense(sub)).toEqual([5, 0x24, 0]);
    expect(ptr(sub)).toEqual([3, undefined]);
  });

  it('MODE SELECT of page 1Dh: same values GOOD, a different map 5/26/00 at the first differing byte', async () => {
    const page = S.encodeElementAddressPage(MAP);
    const list = (p: Buffer) => Buffer.concat([Buffer.alloc(4), p]);
    const sel = (p: Buffer) => run(lu, encodeModeSelect({ ten: false, pf: true, sp: false, parameterListLength: 24 }), { dataOut: list(p) });
    expect((await sel(page)).status).toBe(0);
    const moved = Buffer.from(page);
    moved[7] = 0x01; // storage first 1001h
    const r = await sel(moved);
    expect(sense(r)).toEqual([5, 0x26, 0]);
    expect(ptr(r)?.[0]).toBe(4 + 7);
  });

  it('READ ELEMENT STATUS, all types: ascending order MT, IE, DT, ST, one page per run, 16-byte descriptors', async () => {
    const r = await run(lu, res({ elementType: 0 }));
    const d = S.decodeElementStatus(r.data);
    expect(d).toMatchObject({ firstAddress: 1, available: 11, byteCount: 4 * 8 + 11 * 16 });
    expect(d.pages.map((p) => [p.type, p.descriptors.length, p.descriptorLength])).toEqual([[1, 1, 16], [3, 2, 16], [4, 2, 16], [2, 6, 16]]);
    const st = d.pages[3]!.descriptors;
    expect(st[0]).toMatchObject({ address: 0x1000, full: true, access: true, mediumType: 1, svalid: false });
    expect(st[5]).toMatchObject({ address: 0x1005, full: false });
    expect(d.pages[2]!.descriptors[1]).toMatchObject({ address: 0x101, full: false, access: true, luValid: true, lun: 2 });
    expect(d.pages[1]!.descriptors[0]).toMatchObject({ access: true, inenab: true, exenab: true, impexp: false });
  });

  it('READ ELEMENT STATUS with VOLTAG and DVCID: 52 / 86-byte descriptors, tags and drive serials', async () => {
    expect((await run(lu, S.encodeMoveMedium({ source: 0x1001, destination: 0x0100 }))).status).toBe(0);
    const r = await run(lu, res({ elementType: 4, voltag: true, dvcid: true }));
    const bytes = r.data;
    // Page header: type 4, PVOLTAG, descriptor length 0056h.
    expect(bytes.subarray(8, 16).toString('hex')).toBe('04800056000000ac');
    expect(bytes.subarray(16, 28).toString('hex')).toBe('0100090000001100008110 01'.replace(/ /g, ''));
    expect(bytes.subarray(28, 64).toString('ascii')).toBe('A00002L4'.padEnd(32) + '\0\0\0\0');
    expect(bytes.subarray(64, 68).toString('hex')).toBe('02010022');
    expect(bytes.subarray(68, 102).toString('ascii')).toBe('DMSIM   VTAPE-LTO4      DRV0000000');
    const st = S.decodeElementStatus((await run(lu, res({ elementType: 2, voltag: true, start: 0x1000, count: 2 }))).data);
    expect(st.pages[0]).toMatchObject({ descriptorLength: 52 });
    expect(st.pages[0]!.descriptors.map((x) => x.volumeTag)).toEqual(['A00001L4', '']);
    // DVCID without VOLTAG: 50 bytes on DT.
    expect(S.decodeElementStatus((await run(lu, res({ elementType: 4, dvcid: true }))).data).pages[0]!.descriptorLength).toBe(50);
  });

  it('READ ELEMENT STATUS: start/count, cut at allocation length with full counts, bad type, MIXED, nothing at/after start', async () => {
    const r = await run(lu, res({ elementType: 2, start: 0x1004, count: 0 }));
    expect(S.decodeElementStatus(r.data).pages[0]!.descriptors.map((x) => x.address)).toEqual([0x1004, 0x1005]);
    const cut = await run(lu, S.encodeReadElementStatus({ elementType: 0, allocationLength: 8 }));
    expect(cut.data.toString('hex')).toBe('00010000b000'.slice(0, 4) + '000b' + '00' + (4 * 8 + 11 * 16).toString(16).padStart(6, '0'));
    const bad = await run(lu, res({ elementType: 5 }));
    expect(sense(bad)).toEqual([5, 0x24, 0]);
    expect(ptr(bad)?.[0]).toBe(1);
    expect(sense(await run(lu, res({ mixed: true })))).toEqual([5, 0x24, 0]);
    const none = await run(lu, res({ elementType: 3, start: 0x0012 }));
    expect(sense(none)).toEqual([5, 0x21, 0x01]);
  });

  it('MOVE MEDIUM into a drive loads it: drive reports 6/28/00 then ready; DT shows source; back needs no host unload', async () => {
    expect(sense(await run(drives[0]!, TUR))).toEqual([6, 0x29, 0]);
    expect(sense(await run(drives[0]!, TUR))).toEqual([2, 0x3a, 0]);
    expect((await run(lu, S.encodeMoveMedium({ transport: 1, source: 0x1000, destination: 0x0100 }))).status).toBe(0);
    expect(sense(await run(drives[0]!, TUR))).toEqual([6, 0x28, 0]);
    expect((await run(drives[0]!, TUR)).status).toBe(0);
    expect(drives[0]!.cartridge?.barcode).toBe('A00001L4');
    // Auto-unload: MOVE from the loaded drive rewinds, ejects and carries it back.
    expect((await run(lu, S.encodeMoveMedium({ source: 0x0100, destination: 0x1005 }))).status).toBe(0);
    expect(drives[0]!.cartridge).toBeUndefined();
    expect(sense(await run(drives[0]!, TUR))).toEqual([2, 0x3a, 0]);
    expect(lu.inventory.content(0x1005)).toEqual({ barcode: 'A00001L4', source: 0x1000 });
  });

  it('MOVE MEDIUM errors in the order of smc.md §2.4', async () => {
    const mv = (v: Partial<S.MoveMediumCdb> & { source: number; destination: number }) => run(lu, S.encodeMoveMedium(v));
    let r = await mv({ transport: 0x1000, source: 0x1000, destination: 0x1005 });
    expect([...sense(r), ptr(r)?.[0]]).toEqual([5, 0x21, 0x01, 2]);
    r = await mv({ source: 0x2000, destination: 0x1005 });
    expect([...sense(r), ptr(r)?.[0]]).toEqual([5, 0x21, 0x01, 4]);
    r = await mv({ source: 0x1000, destination: 0x0005 });
    expect([...sense(r), ptr(r)?.[0]]).toEqual([5, 0x21, 0x01, 6]);
    r = await mv({ source: 0x1000, destination: 0x1005, invert: true });
    expect([...sense(r), ...(ptr(r) ?? [])]).toEqual([5, 0x24, 0, 10, 0]);
    r = await mv({ source: 0x1000, destination: 0x0001 });
    expect([...sense(r), ptr(r)?.[0]]).toEqual([5, 0x24, 0, 6]);
    expect(sense(await mv({ source: 0x1005, destination: 0x1004 }))).toEqual([5, 0x3b, 0x0e]);
    expect(sense(await mv({ source: 0x1000, destination: 0x1001 }))).toEqual([5, 0x3b, 0x0d]);
    expect((await mv({ source: 0x1000, destination: 0x1000 })).status).toBe(0);
    // Drive LU holds PREVENT with the tape loaded: 5/53/03, and DT ACCESS=0 meanwhile.
    expect((await mv({ source: 0x1000, destination: 0x0101 })).status).toBe(0);
    await run(drives[1]!, TUR);
    await run(drives[1]!, TUR);
    expect((await run(drives[1]!, [0x1e, 0, 0, 0, 1, 0])).status).toBe(0);
    const dt = S.decodeElementStatus((await run(lu, res({ elementType: 4, start: 0x0101 }))).data).pages[0]!.descriptors[0]!;
    expect(dt).toMatchObject({ full: true, access: false, svalid: true, source: 0x1000 });
    expect(sense(await mv({ source: 0x0101, destination: 0x1000 }))).toEqual([5, 0x53, 0x03]);
    expect((await run(drives[1]!, [0x1e, 0, 0, 0, 0, 0])).status).toBe(0);
    expect((await mv({ source: 0x0101, destination: 0x1000 })).status).toBe(0);
    // Unchanged inventory: every cartridge once.
    expect(lu.inventory.barcodes().sort()).toEqual([...BARCODES].sort());
  });

  it('EXCHANGE MEDIUM: swap two slots, checks before motion', async () => {
    expect((await run(lu, S.encodeExchangeMedium({ source: 0x1000, firstDestination: 0x1001, secondDestination: 0x1000 }))).status).toBe(0);
    expect(lu.inventory.content(0x1000)?.barcode).toBe('A00002L4');
    expect(sense(await run(lu, S.encodeExchangeMedium({ source: 0x1000, firstDestination: 0x1005, secondDestination: 0x1000 })))).toEqual([5, 0x3b, 0x0e]);
    expect(sense(await run(lu, S.encodeExchangeMedium({ source: 0x1000, firstDestination: 0x1001, secondDestination: 0x1002 })))).toEqual([5, 0x3b, 0x0d]);
    expect(lu.inventory.content(0x1000)?.barcode).toBe('A00002L4');
  });

  it('POSITION TO ELEMENT, INITIALIZE ELEMENT STATUS (07h, 37h, E7h)', async () => {
    expect((await run(lu, S.encodePositionToElement({ destination: 0x1003 }))).status).toBe(0);
    const bad = await run(lu, S.encodePositionToElement({ destination: 0x3000 }));
    expect([...sense(bad), ptr(bad)?.[0]]).toEqual([5, 0x21, 0x01, 4]);
    expect(sense(await run(lu, S.encodePositionToElement({ destination: 0x1003, invert: true })))).toEqual([5, 0x24, 0]);
    expect((await run(lu, S.encodeInitializeElementStatus())).status).toBe(0);
    expect((await run(lu, S.encodeInitializeElementStatusWithRange({ range: true, start: 0x1000, count: 2 }))).status).toBe(0);
    expect((await run(lu, S.encodeInitializeElementStatusWithRange({ range: true, start: 0x0100 }, 0xe7))).status).toBe(0);
    expect(sense(await run(lu, S.encodeInitializeElementStatusWithRange({ range: true, start: 0x2000 })))).toEqual([5, 0x21, 0x01]);
  });

  it('I/E station: OPEN blocks robot access (5/3B/11), CLOSE posts 6/28/01 to every nexus; PREVENT locks OPEN (5/53/02)', async () => {
    expect((await run(lu, S.encodeOpenCloseImportExport({ address: 0x10, action: 0 }))).status).toBe(0);
    expect(sense(await run(lu, S.encodeMoveMedium({ source: 0x1000, destination: 0x0010 })))).toEqual([5, 0x3b, 0x11]);
    const ier = await run(lu, res({ elementType: 3 }));
    expect(ier.sense).toBeUndefined();
    const ie = S.decodeElementStatus(ier.data).pages[0]!.descriptors[0]!;
    expect(ie.access).toBe(false);
    expect((await run(lu, S.encodeOpenCloseImportExport({ address: 0x10, action: 1 }))).status).toBe(0);
    expect(sense(await run(lu, TUR))).toEqual([6, 0x28, 0x01]);
    expect(sense(await run(lu, TUR, { nexus: I2 }))).toEqual([6, 0x28, 0x01]);
    expect((await run(lu, TUR)).status).toBe(0);
    // mtx `eject`: element 0000h, action 02h → 5/21/01 (address checked first).
    expect(sense(await run(lu, [0x1b, 0, 0, 0, 2, 0]))).toEqual([5, 0x21, 0x01]);
    expect(sense(await run(lu, S.encodeOpenCloseImportExport({ address: 0x10, action: 2 })))).toEqual([5, 0x24, 0]);
    expect((await run(lu, [0x1e, 0, 0, 0, 1, 0], { nexus: I2 })).status).toBe(0);
    expect(sense(await run(lu, S.encodeOpenCloseImportExport({ address: 0x10, action: 0 })))).toEqual([5, 0x53, 0x02]);
    await expect(lu.importCartridge('Z00001L4')).rejects.toThrow();
    // Robot moves to the I/E element still work while prevented.
    expect((await run(lu, S.encodeMoveMedium({ source: 0x1000, destination: 0x0010 }))).status).toBe(0);
    expect(sense(await run(lu, [0x1e, 0, 0, 0, 2, 0]))).toEqual([5, 0x24, 0]);
    // Nexus loss clears the prevent; the operator then imports a shelf cartridge: IMPEXP=1, 6/28/01.
    lu.nexusLost(I2);
    expect(await lu.importCartridge('Z00001L4')).toBe(0x11);
    expect(sense(await run(lu, TUR))).toEqual([6, 0x28, 0x01]);
    const d = S.decodeElementStatus((await run(lu, res({ elementType: 3, voltag: true }))).data).pages[0]!.descriptors;
    expect(d.map((x) => [x.full, x.impexp, x.volumeTag])).toEqual([[true, false, 'A00001L4'], [true, true, 'Z00001L4']]);
  });

  it('door open: TUR and MOVE 2/04/03, element status still answered; close posts 6/28/00', async () => {
    lu.setDoor(true);
    expect(sense(await run(lu, TUR))).toEqual([2, 0x04, 0x03]);
    expect(sense(await run(lu, S.encodeMoveMedium({ source: 0x1000, destination: 0x1005 })))).toEqual([2, 0x04, 0x03]);
    expect((await run(lu, res({}))).status).toBe(0);
    lu.setDoor(false);
    expect(sense(await run(lu, TUR))).toEqual([6, 0x28, 0x00]);
  });

  it('RESERVE(6) with ELEMENT=1 is refused; LU reservation conflicts another nexus; RSOC lists MOVE MEDIUM', async () => {
    const el = await run(lu, [0x16, 0x01, 0, 0, 0, 0]);
    expect([...sense(el), ...(ptr(el) ?? [])]).toEqual([5, 0x24, 0, 1, 0]);
    expect((await run(lu, [0x16, 0, 0, 0, 0, 0])).status).toBe(0);
    expect((await run(lu, S.encodeMoveMedium({ source: 0x1000, destination: 0x1005 }), { nexus: I2 })).status).toBe(0x18);
    expect((await run(lu, [0x17, 0, 0, 0, 0, 0])).status).toBe(0);
    const rsoc = await run(lu, [0xa3, 0x0c, 0x01, 0xa5, 0, 0, 0, 0, 0x01, 0, 0, 0]);
    expect(rsoc.data[1]! & 7).toBe(3);
    expect(rsoc.data.subarray(4, 16).toString('hex')).toBe('a500ffffffffffff00000100');
  });
});
