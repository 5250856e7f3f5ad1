import { afterEach, describe, expect, it } from 'vitest';
import { Fabric } from '../../firmware-sim/fabric/fabric.js';
import { InProcessPort } from '../../firmware-sim/fabric/in-process-port.js';
import { TargetDevice } from '../../firmware-sim/router/target-device.js';
import { encodeReserve10Cdb, encodePrInCdb, PrIn } from '../../src/scsi/persistent-reservations.js';
import { ScsiStatus } from '../../src/scsi/status.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { newDrive, tmp } from '../devices/tape/helpers.js';
import { Cartridge } from '../../firmware-sim/devices/tape/cartridge.js';
import { join } from 'node:path';

const ROUTER_TP = '2100001086000001';
const BACKUP = '21000024ff000101';
const DM = '2100001086000100';
const APP = '21000024ff000201';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** The router with a tape drive, the backup server, an application host and the data mover's own port, all zoned together. */
async function lab() {
  const t = tmp();
  cleanups.push(t.done);
  const fabric = new Fabric();
  const router = new TargetDevice({ name: 'router1', wwnn: '2000001086000000', ports: [{ wwpn: ROUTER_TP }] });
  const drive = newDrive();
  await drive.loadCartridge(await Cartridge.create(join(t.dir, 'T1.tap'), { capacity: 8 << 20, barcode: 'T00001L4' }));
  router.attach(1, drive);
  fabric.addDevice(router);
  fabric.zoning.setZone('backup', [BACKUP, DM, APP, ROUTER_TP]);
  const bs = new InProcessPort(fabric, { wwpn: BACKUP, wwnn: '20000024ff000101' });
  const dm = new InProcessPort(fabric, { wwpn: DM, wwnn: '2000001086000000' });
  const app = new InProcessPort(fabric, { wwpn: APP, wwnn: '20000024ff000201' });
  // Consume the power-on / medium-changed unit attentions.
  for (const p of [bs, dm, app]) for (let i = 0; i < 4; i++) await p.command(ROUTER_TP, 1, Buffer.alloc(6));
  return { fabric, router, drive, bs, dm, app };
}

const WRITE_FILEMARK = Buffer.from('100000000100', 'hex');
const REWIND = Buffer.from('010000000000', 'hex');

describe('third-party reservation through the fabric', () => {
  it('the backup server reserves the tape for the data mover: only the data mover port may use it until released', async () => {
    const { bs, dm, app } = await lab();
    const reserveFor = encodeReserve10Cdb({ release: false, thirdParty: true, longId: true, thirdPartyId: 0, parameterListLength: 8 });
    expect((await bs.command(ROUTER_TP, 1, reserveFor, { dataOut: Buffer.from(DM, 'hex') })).status).toBe(ScsiStatus.GOOD);

    const w = await dm.command(ROUTER_TP, 1, WRITE_FILEMARK);
    expect(w.status, w.sense && JSON.stringify(decodeSense(w.sense))).toBe(ScsiStatus.GOOD);
    expect((await dm.command(ROUTER_TP, 1, REWIND)).status).toBe(ScsiStatus.GOOD);
    for (const p of [bs, app]) {
      expect((await p.command(ROUTER_TP, 1, WRITE_FILEMARK)).status).toBe(ScsiStatus.RESERVATION_CONFLICT);
      expect((await p.command(ROUTER_TP, 1, REWIND)).status).toBe(ScsiStatus.RESERVATION_CONFLICT);
      // INQUIRY still answers.
      expect((await p.command(ROUTER_TP, 1, Buffer.from('120000006000', 'hex'), { dataInLength: 96 })).status).toBe(ScsiStatus.GOOD);
    }
    // Persistent reservation commands conflict while the SPC-2 reservation holds.
    expect((await app.command(ROUTER_TP, 1, encodePrInCdb({ serviceAction: PrIn.READ_KEYS, allocationLength: 64 }), { dataInLength: 64 })).status).toBe(ScsiStatus.RESERVATION_CONFLICT);

    // The backup server's session going away does not free a reservation it made for someone else.
    bs.logoutFrom(ROUTER_TP);
    expect((await app.command(ROUTER_TP, 1, REWIND)).status).toBe(ScsiStatus.RESERVATION_CONFLICT);
    while ((await bs.command(ROUTER_TP, 1, Buffer.alloc(6))).status === ScsiStatus.CHECK_CONDITION);

    const releaseFor = encodeReserve10Cdb({ release: true, thirdParty: true, longId: true, thirdPartyId: 0, parameterListLength: 8 });
    expect((await bs.command(ROUTER_TP, 1, releaseFor, { dataOut: Buffer.from(DM, 'hex') })).status).toBe(ScsiStatus.GOOD);
    expect((await app.command(ROUTER_TP, 1, REWIND)).status).toBe(ScsiStatus.GOOD);
  });

  it('data mover nexus loss frees the reservation held for it', async () => {
    const { bs, dm, app } = await lab();
    const reserveFor = encodeReserve10Cdb({ release: false, thirdParty: true, longId: true, thirdPartyId: 0, parameterListLength: 8 });
    await bs.command(ROUTER_TP, 1, reserveFor, { dataOut: Buffer.from(DM, 'hex') });
    expect((await app.command(ROUTER_TP, 1, REWIND)).status).toBe(ScsiStatus.RESERVATION_CONFLICT);
    dm.logoutFrom(ROUTER_TP);
    expect((await app.command(ROUTER_TP, 1, REWIND)).status).toBe(ScsiStatus.GOOD);
  });
});
