/** Reservations on the tape drive: the backup server reserves it for the data mover (SPC-2 third party or PR). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TargetDevice } from '../../../firmware-sim/router/target-device.js';
import { makeNexus, type ITNexus } from '../../../firmware-sim/router/task.js';
import { Cartridge } from '../../../firmware-sim/devices/tape/cartridge.js';
import { encodePrOutCdb, encodePrOutParams, encodeReserve10Cdb, encodeThirdPartyId } from '../../../src/scsi/persistent-reservations.js';
import { encodeInquiryCdb } from '../../../src/scsi/inquiry.js';
import { encodeReadPositionCdb, encodeSpace6 } from '../../../src/scsi/tape.js';
import { ScsiStatus } from '../../../src/scsi/status.js';
import { newDrive, pattern, read6, rewind, tmp, write6 } from './helpers.js';

const TP = '50000000000000b1';
const SERVER = '21000024ff000001';
const MOVER = '21000024ff0000dd';
const OTHER = '21000024ff000003';
const ns = makeNexus(SERVER, TP);
const nm = makeNexus(MOVER, TP);
const no = makeNexus(OTHER, TP);

let t: ReturnType<typeof tmp>;
beforeEach(() => {
  t = tmp();
});
afterEach(() => t.done());

async function setup() {
  const dev = new TargetDevice({ name: 'router1', wwnn: '20000000000000b0', ports: [{ wwpn: TP }] });
  const drive = newDrive();
  dev.attach(0, drive);
  await drive.loadCartridge(await Cartridge.create(`${t.dir}/R1.tap`, { capacity: 1 << 24 }));
  const send = async (nexus: ITNexus, cdb: Buffer, dataOut?: Buffer) => (await dev.dispatch({ nexus, lun: 0, cdb, dataOut, dataInLength: 4096 })).status;
  for (const n of [ns, nm, no]) {
    await send(n, Buffer.alloc(6));
    await send(n, Buffer.alloc(6));
  }
  return { send };
}

describe('tape reservations', () => {
  it('third-party RESERVE(10) for the data mover: its WRITEs pass, everyone else conflicts (INQUIRY still answered)', async () => {
    const { send } = await setup();
    const id = encodeThirdPartyId(MOVER);
    expect(await send(ns, encodeReserve10Cdb({ release: false, thirdParty: true, longId: true, thirdPartyId: 0, parameterListLength: 8 }), id)).toBe(ScsiStatus.GOOD);
    expect(await send(nm, write6(512), pattern(512, 1))).toBe(ScsiStatus.GOOD);
    expect(await send(nm, rewind())).toBe(ScsiStatus.GOOD);
    for (const n of [ns, no]) {
      expect(await send(n, write6(512), pattern(512, 2))).toBe(ScsiStatus.RESERVATION_CONFLICT);
      expect(await send(n, read6(512))).toBe(ScsiStatus.RESERVATION_CONFLICT);
      expect(await send(n, encodeSpace6({ code: 0, count: 1 }))).toBe(ScsiStatus.RESERVATION_CONFLICT);
      expect(await send(n, encodeInquiryCdb({ evpd: false, pageCode: 0, allocationLength: 96 }))).toBe(ScsiStatus.GOOD);
    }
    expect(await send(ns, encodeReserve10Cdb({ release: true, thirdParty: true, longId: true, thirdPartyId: 0, parameterListLength: 8 }), id)).toBe(ScsiStatus.GOOD);
    expect(await send(no, read6(512))).toBe(ScsiStatus.GOOD);
  });

  it('persistent WRITE EXCLUSIVE: others may read and position, not write', async () => {
    const { send } = await setup();
    const key = 0x1234n;
    const reg = encodePrOutParams({ serviceActionKey: key });
    expect(await send(nm, encodePrOutCdb({ serviceAction: 0, scope: 0, type: 0, parameterListLength: reg.length }), reg)).toBe(ScsiStatus.GOOD);
    const rsv = encodePrOutParams({ reservationKey: key });
    expect(await send(nm, encodePrOutCdb({ serviceAction: 1, scope: 0, type: 1, parameterListLength: rsv.length }), rsv)).toBe(ScsiStatus.GOOD);
    expect(await send(nm, write6(512), pattern(512, 1))).toBe(ScsiStatus.GOOD);
    expect(await send(no, write6(512), pattern(512, 1))).toBe(ScsiStatus.RESERVATION_CONFLICT);
    expect(await send(no, encodeReadPositionCdb({ serviceAction: 0, allocationLength: 0 }))).toBe(ScsiStatus.GOOD);
    expect(await send(no, rewind())).toBe(ScsiStatus.GOOD);
    expect(await send(no, read6(512))).toBe(ScsiStatus.GOOD);
  });
});
