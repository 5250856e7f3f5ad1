/**
 * Changer behaviour beyond the basic command set: 2/04/01 to other nexuses while INITIALIZE ELEMENT
 * STATUS scans, PREVENT and TapeAlert flags ending at LU reset (6/29/03), EXCEPT codes from fault
 * injection (3B/1A drive offline, 83/00 inventory lost), LOG SENSE 00h/2Eh, and the robot's time
 * model checked step by step through an injected sleep (no timed assertions).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ChangerLu, LibraryAlert, REALISTIC_TIMING, type ChangerOptions, type ChangerTiming } from '../../../firmware-sim/devices/changer/changer-lu.js';
import { Inventory } from '../../../firmware-sim/devices/changer/inventory.js';
import { Cartridge } from '../../../firmware-sim/devices/tape/cartridge.js';
import { TapeDrive } from '../../../firmware-sim/devices/tape/drive.js';
import { TargetDevice } from '../../../firmware-sim/router/target-device.js';
import { makeNexus, type ITNexus } from '../../../firmware-sim/router/task.js';
import { decodeSense, type SenseInfo } from '../../../src/scsi/sense.js';
import * as S from '../../../src/scsi/smc.js';
import { decodeLogPage, encodeLogSenseCdb } from '../../../src/scsi/tape.js';
import { tmp } from '../tape/helpers.js';
import { BARCODES, initialPlacements, MAP } from './inventory-fixture.js';

const TP = '50000000000000c1';
const I1 = makeNexus('21000024ff0000c1', TP);
const I2 = makeNexus('21000024ff0000c2', TP);
const LIB = 0;
const TUR = [0, 0, 0, 0, 0, 0];

interface Run {
  status: number;
  data: Buffer;
  sense?: SenseInfo;
}

let t: ReturnType<typeof tmp>;
let dev: TargetDevice;
let lu: ChangerLu;
let drives: TapeDrive[];

async function send(nexus: ITNexus, lun: number, cdb: Buffer | number[]): Promise<Run> {
  const r = await dev.dispatch({ nexus, lun, cdb: Buffer.isBuffer(cdb) ? cdb : Buffer.from(cdb), dataInLength: 0xffff });
  return { status: r.status, data: r.dataIn ?? Buffer.alloc(0), ...(r.sense ? { sense: decodeSense(r.sense) } : {}) };
}
const kcq = (r: Run) => [r.sense?.key, r.sense?.asc, r.sense?.ascq];

async function build(extra: Partial<ChangerOptions> = {}): Promise<void> {
  for (const b of BARCODES) await (await Cartridge.create(join(t.dir, `${b}.tap`), { barcode: b, capacity: 1 << 20 })).close();
  drives = [0, 1].map((n) => new TapeDrive({ deviceType: 1, vendor: 'DMSIM', product: 'VTAPE-LTO4', revision: '0100', serial: `DRV000000${n}`, naa: Buffer.alloc(16, n + 1), name: `router1/tape${n}` }));
  lu = new ChangerLu(
    { deviceType: 8, vendor: 'DMSIM', product: 'TAPE LIBRARY', revision: '0100', serial: 'LIB0000001', naa: Buffer.alloc(16, 9), name: 'router1/library' },
    {
      inventory: await Inventory.open(join(t.dir, 'lib.json'), MAP, initialPlacements()),
      drives: drives.map((d, i) => ({ drive: d, lun: i + 1 })),
      loadCartridge: async (barcode, d, delayMs) => d.loadCartridge(await Cartridge.open(join(t.dir, `${barcode}.tap`)), { delayMs }),
      ...extra,
    },
  );
  dev = new TargetDevice({ name: 'router1', wwnn: '20000000000000c0', ports: [{ wwpn: TP }] });
  dev.attach(LIB, lu);
  drives.forEach((d, i) => dev.attach(i + 1, d));
  for (const n of [I1, I2]) for (const l of [0, 1, 2]) await send(n, l, TUR); // consume 29/00
}

beforeEach(() => {
  t = tmp();
});
afterEach(async () => {
  for (const d of drives ?? []) await d.eject({ force: true }).catch(() => undefined);
  t.done();
});

const res = (v: Partial<S.ReadElementStatusCdb>) => S.encodeReadElementStatus({ allocationLength: 0xffff, ...v });

describe('changer: scan, reset, exceptions, log pages, time model', () => {
  it('INITIALIZE ELEMENT STATUS: other nexuses get 2/04/01 (TUR, READ ELEMENT STATUS) while it scans; the scanning nexus does not; no UA afterwards', async () => {
    let finish!: () => void;
    await build({ timing: { initializePerElementMs: 1 }, sleep: (_ms, step) => (step === 'initializePerElementMs' ? new Promise<void>((r) => (finish = r)) : Promise.resolve()) });
    const scan = send(I1, LIB, [0x07, 0, 0, 0, 0, 0]);
    await new Promise((r) => setImmediate(r));
    expect(kcq(await send(I2, LIB, TUR))).toEqual([2, 0x04, 0x01]);
    expect(kcq(await send(I2, LIB, res({})))).toEqual([2, 0x04, 0x01]);
    expect((await send(I1, LIB, TUR)).status).toBe(0);
    expect((await send(I1, LIB, res({ elementType: 2 }))).status).toBe(0);
    finish();
    expect((await scan).status).toBe(0);
    expect((await send(I2, LIB, TUR)).status).toBe(0);
  });

  it('LU reset: 6/29/03 to every nexus, PREVENT ended (I/E opens again), library TapeAlert flags cleared', async () => {
    await build();
    expect((await send(I1, LIB, [0x1e, 0, 0, 0, 1, 0])).status).toBe(0);
    const open = S.encodeOpenCloseImportExport({ address: 0x0010, action: S.ImportExportAction.OPEN });
    expect(kcq(await send(I2, LIB, open))).toEqual([5, 0x53, 0x02]);
    expect(() => lu.setDoor(true)).toThrow();
    lu.alerts.raise(LibraryAlert.DOOR);
    await dev.lunReset(I2, LIB);
    for (const n of [I1, I2]) expect(kcq(await send(n, LIB, TUR))).toEqual([6, 0x29, 0x03]);
    expect(lu.locked).toBe(false);
    expect((await send(I2, LIB, open)).status).toBe(0);
    const ta = decodeLogPage((await send(I1, LIB, encodeLogSenseCdb({ pageCode: 0x2e }))).data);
    expect(ta.params.filter((p) => p.value[0]).map((p) => p.code)).toEqual([]);
  });

  it('tape drive LU reset ends its PREVENT too (a library MOVE out of it then works)', async () => {
    await build();
    expect((await send(I1, LIB, S.encodeMoveMedium({ source: 0x1000, destination: 0x0100 }))).status).toBe(0);
    expect((await send(I1, 1, [0x1e, 0, 0, 0, 1, 0])).sense?.key).toBe(6);
    expect((await send(I1, 1, [0x1e, 0, 0, 0, 1, 0])).status).toBe(0);
    expect(kcq(await send(I1, LIB, S.encodeMoveMedium({ source: 0x0100, destination: 0x1000 })))).toEqual([5, 0x53, 0x03]);
    await dev.lunReset(I1, 1);
    expect((await send(I1, LIB, S.encodeMoveMedium({ source: 0x0100, destination: 0x1000 }))).status).toBe(0);
  });

  it('EXCEPT: drive offline → DT EXCEPT 3B/1A, ACCESS=0, MOVE to it 5/3B/1A; inventory lost → ST/IE 83/00 until INITIALIZE ELEMENT STATUS', async () => {
    await build();
    lu.setDriveOffline(1, true);
    const dt = S.decodeElementStatus((await send(I1, LIB, res({ elementType: 4 }))).data).pages[0]!.descriptors;
    expect(dt[0]).toMatchObject({ address: 0x0100, except: false, access: true });
    expect(dt[1]).toMatchObject({ address: 0x0101, except: true, access: false, asc: 0x3b, ascq: 0x1a });
    const raw = (await send(I1, LIB, res({ elementType: 4, start: 0x0101 }))).data;
    // Flags byte: EXCEPT (bit 2) only — not FULL, not ACCESS; ASC/ASCQ in bytes 4–5.
    expect(raw.subarray(16, 22).toString('hex')).toBe('010104003b1a');
    expect(kcq(await send(I1, LIB, S.encodeMoveMedium({ source: 0x1000, destination: 0x0101 })))).toEqual([5, 0x3b, 0x1a]);
    lu.setDriveOffline(1, false);
    expect((await send(I1, LIB, S.encodeMoveMedium({ source: 0x1000, destination: 0x0101 }))).status).toBe(0);

    lu.loseInventory();
    const st = S.decodeElementStatus((await send(I1, LIB, res({ elementType: 2 }))).data).pages[0]!.descriptors;
    expect(st.every((d) => d.except && d.asc === 0x83 && d.ascq === 0x00)).toBe(true);
    const ie = S.decodeElementStatus((await send(I1, LIB, res({ elementType: 3 }))).data).pages[0]!.descriptors;
    expect(ie.every((d) => d.except && d.asc === 0x83)).toBe(true);
    expect((await send(I1, LIB, [0x07, 0, 0, 0, 0, 0])).status).toBe(0);
    const after = S.decodeElementStatus((await send(I1, LIB, res({ elementType: 2 }))).data).pages[0]!.descriptors;
    expect(after.some((d) => d.except)).toBe(false);
    // No UA for the other nexus: the scan found what was there.
    expect((await send(I2, LIB, TUR)).status).toBe(0);
  });

  it('LOG SENSE: pages 00h and 2Eh (library flags raised by fault injection, cleared when read whole); others 5/24/00', async () => {
    await build();
    expect((await send(I1, LIB, encodeLogSenseCdb({ pageCode: 0 }))).data.toString('hex')).toBe('00000002002e');
    lu.alerts.raise(LibraryAlert.MAILSLOT);
    const r = await send(I1, LIB, encodeLogSenseCdb({ pageCode: 0x2e }));
    expect(r.data.readUInt16BE(2)).toBe(0x140);
    expect(r.data.subarray(4 + 16 * 5, 4 + 17 * 5).toString('hex')).toBe('0011400101');
    expect(decodeLogPage((await send(I1, LIB, encodeLogSenseCdb({ pageCode: 0x2e }))).data).params.some((p) => p.value[0])).toBe(false);
    const bad = await send(I1, LIB, encodeLogSenseCdb({ pageCode: 0x0c }));
    expect(kcq(bad)).toEqual([5, 0x24, 0]);
    expect(bad.sense?.sks).toMatchObject({ cd: true, byte: 2, bit: 5 });
  });

  it('time model (realistic profile, non-timed): each robot step asks for its configured time; the drive is becoming ready while it threads', async () => {
    const steps: Array<[keyof ChangerTiming, number]> = [];
    await build({ timing: REALISTIC_TIMING, sleep: async (ms, step) => void steps.push([step, ms]) });
    expect((await send(I1, LIB, S.encodeMoveMedium({ source: 0x1000, destination: 0x0100 }))).status).toBe(0);
    expect(steps.splice(0)).toEqual([['moveMs', 4000], ['driveLoadMs', 12_000]]);
    // The drive was given the 12 s thread time: it answers 2/04/01 until then.
    expect(kcq(await send(I2, 1, TUR))).toEqual([6, 0x28, 0x00]);
    expect(kcq(await send(I2, 1, TUR))).toEqual([2, 0x04, 0x01]);
    expect((await send(I1, LIB, S.encodeMoveMedium({ source: 0x0100, destination: 0x1000 }))).status).toBe(0);
    expect(steps.splice(0)).toEqual([['driveUnloadMs', 10_000], ['moveMs', 4000]]);
    expect((await send(I1, LIB, S.encodePositionToElement({ destination: 0x1003 }))).status).toBe(0);
    expect(steps.splice(0)).toEqual([['positionMs', 1000]]);
    expect((await send(I1, LIB, S.encodeExchangeMedium({ source: 0x1000, firstDestination: 0x1001, secondDestination: 0x1000 }))).status).toBe(0);
    expect(steps.splice(0)).toEqual([['moveMs', 8000]]);
    expect((await send(I1, LIB, [0x07, 0, 0, 0, 0, 0])).status).toBe(0);
    // 1 MT + 2 IE + 2 DT + 6 ST elements at 0.1 s each.
    expect(steps.splice(0)).toEqual([['initializePerElementMs', 1100]]);
  });
});
