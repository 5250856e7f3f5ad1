import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TargetDevice } from '../../firmware-sim/router/target-device.js';
import { makeNexus, type ITNexus } from '../../firmware-sim/router/task.js';
import { DiskLu } from '../../firmware-sim/devices/disk/disk-lu.js';
import { MemoryStore } from '../../firmware-sim/devices/backing/memory-store.js';
import {
  decodeReadFullStatus,
  decodeReadKeys,
  decodeReadReservation,
  decodeTransportId,
  encodePrInCdb,
  encodePrOutCdb,
  encodePrOutParams,
  encodeRegisterAndMoveParams,
  encodeReserve10Cdb,
  encodeTransportId,
  PrIn,
  PrOut,
  PrType,
} from '../../src/scsi/persistent-reservations.js';
import { ScsiStatus } from '../../src/scsi/status.js';
import { TestLu, cdb, decoded, identity, type Decoded } from './helpers.js';

const TP1 = '50000000000000a1';
const TP2 = '50000000000000a2';
const I1 = '21000024ff000001';
const I2 = '21000024ff000002';
const DM = '2100001086000100';
const A = makeNexus(I1, TP1);
const A2 = makeNexus(I1, TP2);
const B = makeNexus(I2, TP1);
const D = makeNexus(DM, TP1);
const CONFLICT = ScsiStatus.RESERVATION_CONFLICT;
const GOOD = ScsiStatus.GOOD;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function setup(opts: { aptplPath?: string } = {}) {
  const dev = new TargetDevice({ name: 'array1', wwnn: '20000000000000a0', ports: [{ wwpn: TP1 }, { wwpn: TP2 }] });
  const lu = new DiskLu({ identity: identity('array1/disk0'), store: new MemoryStore(2048 * 512), blockSize: 512 });
  dev.attach(0, lu, opts);
  const send = async (n: ITNexus, c: Buffer, dataOut?: Buffer, alloc = 16384): Promise<Decoded> =>
    decoded(await dev.dispatch({ nexus: n, lun: 0, cdb: c, dataInLength: alloc, dataOut }));
  for (const n of [A, A2, B, D]) await send(n, TUR);
  return { dev, lu, send };
}
type Send = Awaited<ReturnType<typeof setup>>['send'];

const TUR = cdb('000000000000');
const READ = cdb('28000000000000000100');
const WRITE = cdb('2a000000000000000100');
const SECTOR = Buffer.alloc(512, 0x5a);
const MODE_SENSE = cdb('1a003f00ff00');
const INQUIRY = cdb('120000006000');
const RESERVE6 = cdb('160000000000');
const RELEASE6 = cdb('170000000000');

const read = (send: Send, n: ITNexus) => send(n, READ).then((r) => r.status);
const write = (send: Send, n: ITNexus) => send(n, WRITE, SECTOR).then((r) => r.status);

const prOut = (send: Send, n: ITNexus, sa: number, p: { key?: bigint; sark?: bigint; allTgPt?: boolean; aptpl?: boolean }, type = 0) =>
  send(n, encodePrOutCdb({ serviceAction: sa, scope: 0, type, parameterListLength: 24 }), encodePrOutParams({ reservationKey: p.key ?? 0n, serviceActionKey: p.sark ?? 0n, allTgPt: !!p.allTgPt, aptpl: !!p.aptpl }));
const prIn = (send: Send, n: ITNexus, sa: number, alloc = 16384) => send(n, encodePrInCdb({ serviceAction: sa, allocationLength: alloc }), undefined, alloc);
/** Read through the data mover nexus D, which no test preempts, so no UA stands in the way. */
const keys = async (send: Send) => decodeReadKeys((await prIn(send, D, PrIn.READ_KEYS)).data);
const reservation = async (send: Send) => decodeReadReservation((await prIn(send, D, PrIn.READ_RESERVATION)).data);

describe('SPC-2 RESERVE / RELEASE', () => {
  it('two initiators (libiscsi Reserve6 2initiators): holder re-reserves, the other conflicts, RELEASE from it is a no-op', async () => {
    const { send } = await setup();
    expect((await send(A, RESERVE6)).status).toBe(GOOD);
    expect((await send(A, RESERVE6)).status).toBe(GOOD);
    const r = await send(B, RESERVE6);
    expect(r.status).toBe(CONFLICT);
    expect(r.sense).toBeUndefined();
    expect((await send(B, RELEASE6)).status).toBe(GOOD);
    expect((await send(A, MODE_SENSE)).status).toBe(GOOD);
    expect((await send(B, MODE_SENSE)).status).toBe(CONFLICT);
    expect((await send(B, TUR)).status).toBe(CONFLICT);
    expect(await read(send, B)).toBe(CONFLICT);
    expect(await write(send, B)).toBe(CONFLICT);
    // Commands SPC-4 allows under any reservation.
    expect((await send(B, INQUIRY)).status).toBe(GOOD);
    expect((await send(B, cdb('a00000000000000001000000'))).status).toBe(GOOD);
    expect((await send(B, cdb('030000001200'))).status).toBe(GOOD);
    // PR commands conflict while an SPC-2 reservation holds, from the holder too.
    expect((await prIn(send, B, PrIn.READ_KEYS)).status).toBe(CONFLICT);
    expect((await prIn(send, A, PrIn.READ_KEYS)).status).toBe(CONFLICT);
    expect(await write(send, A)).toBe(GOOD);
    expect((await send(A, RELEASE6)).status).toBe(GOOD);
    expect((await send(B, RESERVE6)).status).toBe(GOOD);
    expect(await write(send, A)).toBe(CONFLICT);
    expect((await send(B, RELEASE6)).status).toBe(GOOD);
    expect(await write(send, A)).toBe(GOOD);
  });

  it('the SPC-2 reservation belongs to the I_T nexus: the same initiator port through another target port conflicts', async () => {
    const { send } = await setup();
    await send(A, RESERVE6);
    expect(await write(send, A)).toBe(GOOD);
    expect(await write(send, A2)).toBe(CONFLICT);
    expect((await send(A2, RESERVE6)).status).toBe(CONFLICT);
    // RELEASE from a nexus that does not hold it is a GOOD no-op.
    expect((await send(A2, RELEASE6)).status).toBe(GOOD);
    expect(await write(send, A2)).toBe(CONFLICT);
    expect((await send(A, RELEASE6)).status).toBe(GOOD);
    expect(await write(send, A2)).toBe(GOOD);
  });

  it('iSCSI: two sessions of one initiator name with different ISIDs are different nexuses (iscsi.md §1.4)', async () => {
    const { send } = await setup();
    const s1 = makeNexus(I1, TP1, 'iqn.2026-11.dev.dmsim.hosts:backup1,i,0x400000000001');
    const s2 = makeNexus(I1, TP1, 'iqn.2026-11.dev.dmsim.hosts:backup1,i,0x400000000002');
    for (const n of [s1, s2]) while ((await send(n, TUR)).status !== GOOD);
    expect((await send(s1, RESERVE6)).status).toBe(GOOD);
    expect(await write(send, s2)).toBe(CONFLICT);
    expect((await send(s2, RESERVE6)).status).toBe(CONFLICT);
    expect(await write(send, s1)).toBe(GOOD);
  });

  it('I_T nexus loss of another nexus of the holder’s port leaves the reservation', async () => {
    const { dev, send } = await setup();
    await send(A, RESERVE6);
    dev.nexusLost(A2);
    expect(await write(send, B)).toBe(CONFLICT);
    expect(await write(send, A)).toBe(GOOD);
    dev.nexusLost(A);
    while ((await send(B, TUR)).status !== GOOD);
    expect((await send(B, RESERVE6)).status).toBe(GOOD);
  });

  it('LU reset, target warm and cold reset release it; nexus loss of the holder releases it, of another does not', async () => {
    const { dev, send } = await setup();
    const uaThen = async (n: ITNexus) => {
      expect((await send(n, TUR)).sense).toMatchObject({ key: 6, asc: 0x29 });
      while ((await send(n, TUR)).status === ScsiStatus.CHECK_CONDITION);
    };
    await send(A, RESERVE6);
    await dev.lunReset(A, 0);
    await uaThen(B);
    expect((await send(B, RESERVE6)).status).toBe(GOOD);
    await dev.targetReset(A, false);
    await uaThen(A);
    expect((await send(A, RESERVE6)).status).toBe(GOOD);
    await dev.targetReset(B, true);
    await uaThen(B);
    expect((await send(B, RESERVE6)).status).toBe(GOOD);
    dev.nexusLost(A);
    await uaThen(A);
    expect((await send(A, RESERVE6)).status).toBe(CONFLICT);
    dev.nexusLost(B);
    await uaThen(B);
    expect((await send(A, RESERVE6)).status).toBe(GOOD);
  });

  it('RESERVE(10)/RELEASE(10) third party: the backup server reserves the LU for the data mover port', async () => {
    const { send } = await setup();
    const id = Buffer.from(DM, 'hex');
    const r = await send(A, encodeReserve10Cdb({ release: false, thirdParty: true, longId: true, thirdPartyId: 0, parameterListLength: 8 }), id);
    expect(r.status).toBe(GOOD);
    expect(await write(send, D)).toBe(GOOD);
    expect(await write(send, A)).toBe(CONFLICT);
    expect(await write(send, B)).toBe(CONFLICT);
    // A RELEASE(10) from the requester naming the third party releases it; from elsewhere it is a no-op.
    expect((await send(B, encodeReserve10Cdb({ release: true, thirdParty: true, longId: true, thirdPartyId: 0, parameterListLength: 8 }), id)).status).toBe(GOOD);
    expect(await write(send, B)).toBe(CONFLICT);
    expect((await send(A, encodeReserve10Cdb({ release: true, thirdParty: true, longId: true, thirdPartyId: 0, parameterListLength: 8 }), id)).status).toBe(GOOD);
    expect(await write(send, B)).toBe(GOOD);
    // RESERVE(10) without third party behaves like RESERVE(6).
    expect((await send(B, encodeReserve10Cdb({ release: false, thirdParty: false, longId: false, thirdPartyId: 0, parameterListLength: 0 }))).status).toBe(GOOD);
    expect(await write(send, A)).toBe(CONFLICT);
    expect((await send(B, encodeReserve10Cdb({ release: true, thirdParty: false, longId: false, thirdPartyId: 0, parameterListLength: 0 }))).status).toBe(GOOD);
    // The data mover itself can release what is held for it.
    await send(A, encodeReserve10Cdb({ release: false, thirdParty: true, longId: true, thirdPartyId: 0, parameterListLength: 8 }), id);
    expect((await send(D, RELEASE6)).status).toBe(GOOD);
    expect(await write(send, A)).toBe(GOOD);
  });

  it('RESERVE(10) errors: 3RDPTY without LONGID, LONGID alone, wrong parameter list length', async () => {
    const { send } = await setup();
    const a = await send(A, encodeReserve10Cdb({ release: false, thirdParty: true, longId: false, thirdPartyId: 7, parameterListLength: 0 }));
    expect(a.sense).toMatchObject({ key: 5, asc: 0x24, ascq: 0, sks: { cd: true, byte: 1, bit: 1 } });
    const b = await send(A, encodeReserve10Cdb({ release: false, thirdParty: false, longId: true, thirdPartyId: 0, parameterListLength: 8 }), Buffer.alloc(8));
    expect(b.sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 1, bit: 1 } });
    const c = await send(A, encodeReserve10Cdb({ release: false, thirdParty: true, longId: true, thirdPartyId: 0, parameterListLength: 16 }), Buffer.alloc(16));
    expect(c.sense).toMatchObject({ key: 5, asc: 0x1a, ascq: 0 });
    const d = await send(A, cdb('160100000000'));
    expect(d.sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 1, bit: 0 } });
  });
});

describe('PERSISTENT RESERVE OUT registration', () => {
  it('REGISTER AND IGNORE, READ KEYS bytes, generation, re-register with the wrong key conflicts, unregister', async () => {
    const { send } = await setup();
    expect((await prIn(send, A, PrIn.READ_KEYS)).data.toString('hex')).toBe('0000000000000000');
    expect((await prOut(send, A, PrOut.REGISTER_AND_IGNORE, { sark: 0x1111111111111111n })).status).toBe(GOOD);
    expect((await prOut(send, B, PrOut.REGISTER, { sark: 0x2222222222222222n })).status).toBe(GOOD);
    expect((await prIn(send, B, PrIn.READ_KEYS)).data.toString('hex')).toBe('00000002' + '00000010' + '1111111111111111' + '2222222222222222');
    // Truncated to 8 bytes: ADDITIONAL LENGTH still says 16.
    expect((await prIn(send, B, PrIn.READ_KEYS, 8)).data.toString('hex')).toBe('0000000200000010');
    expect((await prOut(send, A, PrOut.REGISTER, { key: 0n, sark: 0x1111111111111112n })).status).toBe(CONFLICT);
    expect((await prOut(send, A, PrOut.REGISTER, { key: 0x1111111111111111n, sark: 0x3333333333333333n })).status).toBe(GOOD);
    expect((await keys(send)).keys).toEqual([0x3333333333333333n, 0x2222222222222222n]);
    expect((await prOut(send, A, PrOut.REGISTER, { key: 0x3333333333333333n, sark: 0n })).status).toBe(GOOD);
    const k = await keys(send);
    expect(k).toEqual({ generation: 4, additionalLength: 8, keys: [0x2222222222222222n] });
    // An unregistered nexus: nonzero RESERVATION KEY conflicts; SARK 0 is a GOOD no-op (no generation bump).
    expect((await prOut(send, A, PrOut.REGISTER, { key: 5n, sark: 6n })).status).toBe(CONFLICT);
    expect((await prOut(send, A, PrOut.REGISTER, { key: 0n, sark: 0n })).status).toBe(GOOD);
    expect((await keys(send)).generation).toBe(4);
  });

  it('with CRH=0, RESERVE/RELEASE(6) conflict from anyone while any registration exists', async () => {
    const { send } = await setup();
    await prOut(send, A, PrOut.REGISTER, { sark: 1n });
    for (const n of [A, B]) {
      expect((await send(n, RESERVE6)).status).toBe(CONFLICT);
      expect((await send(n, RELEASE6)).status).toBe(CONFLICT);
    }
    await prOut(send, A, PrOut.REGISTER, { key: 1n, sark: 0n });
    expect((await send(B, RESERVE6)).status).toBe(GOOD);
  });

  it('ALL_TG_PT registers the initiator port through every target port; without it only the one nexus', async () => {
    const { send } = await setup();
    await prOut(send, A, PrOut.REGISTER, { sark: 1n, allTgPt: true });
    expect((await prOut(send, A2, PrOut.RESERVE, { key: 1n }, PrType.WRITE_EXCLUSIVE)).status).toBe(GOOD);
    expect(await write(send, A)).toBe(GOOD);
    expect((await prOut(send, A2, PrOut.RELEASE, { key: 1n }, PrType.WRITE_EXCLUSIVE)).status).toBe(GOOD);
    await prOut(send, B, PrOut.REGISTER, { sark: 2n });
    await send(makeNexus(I2, TP2), TUR);
    expect((await prOut(send, makeNexus(I2, TP2), PrOut.RESERVE, { key: 2n }, PrType.WRITE_EXCLUSIVE)).status).toBe(CONFLICT);
    const fs = decodeReadFullStatus((await prIn(send, A, PrIn.READ_FULL_STATUS)).data);
    expect(fs.entries.map((e) => [e.key, e.allTgPt, e.relativeTargetPort, decodeTransportId(e.transportId)])).toEqual([
      [1n, true, 0, { protocol: 'fc', wwpn: I1 }],
      [2n, false, 1, { protocol: 'fc', wwpn: I2 }],
    ]);
  });
});

/** libiscsi test_prout_reserve_access: [registered B read, write, unregistered B read, write]. */
const ACCESS: Array<[string, number, [boolean, boolean, boolean, boolean]]> = [
  ['Write Exclusive', PrType.WRITE_EXCLUSIVE, [true, false, true, false]],
  ['Exclusive Access', PrType.EXCLUSIVE_ACCESS, [false, false, false, false]],
  ['Write Exclusive - Registrants Only', PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY, [true, true, true, false]],
  ['Exclusive Access - Registrants Only', PrType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY, [true, true, false, false]],
  ['Write Exclusive - All Registrants', PrType.WRITE_EXCLUSIVE_ALL_REGISTRANTS, [true, true, true, false]],
  ['Exclusive Access - All Registrants', PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS, [true, true, false, false]],
];

describe('persistent reservation types', () => {
  for (const [name, type, [regR, regW, unR, unW]] of ACCESS) {
    it(`${name}: READ RESERVATION, access for holder, registrant and non-registrant, TUR allowed, release`, async () => {
      const { send } = await setup();
      const st = (ok: boolean) => (ok ? GOOD : CONFLICT);
      await prOut(send, A, PrOut.REGISTER_AND_IGNORE, { sark: 0xaan });
      await prOut(send, B, PrOut.REGISTER_AND_IGNORE, { sark: 0xbbn });
      expect((await prOut(send, A, PrOut.RESERVE, { key: 0xaan }, type)).status).toBe(GOOD);
      const allReg = type >= 7;
      expect((await prIn(send, B, PrIn.READ_RESERVATION)).data.toString('hex')).toBe(
        '00000002' + '00000010' + (allReg ? '0000000000000000' : '00000000000000aa') + '00000000' + '00' + type.toString(16).padStart(2, '0') + '0000',
      );
      expect(await read(send, A)).toBe(GOOD);
      expect(await write(send, A)).toBe(GOOD);
      expect(await read(send, B)).toBe(st(regR));
      expect(await write(send, B)).toBe(st(regW));
      expect((await send(B, TUR)).status).toBe(GOOD);
      expect((await send(B, INQUIRY)).status).toBe(GOOD);
      // SPC-2 RESERVE conflicts while a persistent reservation exists, from anyone.
      expect((await send(B, RESERVE6)).status).toBe(CONFLICT);
      expect((await send(A, RESERVE6)).status).toBe(CONFLICT);
      await prOut(send, B, PrOut.REGISTER, { key: 0xbbn, sark: 0n });
      expect(await read(send, B)).toBe(st(unR));
      expect(await write(send, B)).toBe(st(unW));
      expect((await send(B, TUR)).status).toBe(GOOD);
      // Re-RESERVE of the same type by the holder is GOOD; another type conflicts.
      expect((await prOut(send, A, PrOut.RESERVE, { key: 0xaan }, type)).status).toBe(GOOD);
      expect((await prOut(send, A, PrOut.RESERVE, { key: 0xaan }, type === 1 ? 3 : 1)).status).toBe(CONFLICT);
      expect((await prOut(send, A, PrOut.RELEASE, { key: 0xaan }, type)).status).toBe(GOOD);
      expect(await reservation(send)).toEqual({ generation: 3 });
      expect(await write(send, B)).toBe(GOOD);
    });
  }

  it('a registered non-holder cannot RESERVE over the holder; an unregistered one conflicts on RESERVE and RELEASE', async () => {
    const { send } = await setup();
    await prOut(send, A, PrOut.REGISTER_AND_IGNORE, { sark: 1n });
    await prOut(send, B, PrOut.REGISTER_AND_IGNORE, { sark: 2n });
    await prOut(send, A, PrOut.RESERVE, { key: 1n }, PrType.EXCLUSIVE_ACCESS);
    expect((await prOut(send, B, PrOut.RESERVE, { key: 2n }, PrType.EXCLUSIVE_ACCESS)).status).toBe(CONFLICT);
    expect((await prOut(send, B, PrOut.RESERVE, { key: 3n }, PrType.EXCLUSIVE_ACCESS)).status).toBe(CONFLICT);
    // RELEASE by a registered non-holder: GOOD, nothing happens.
    expect((await prOut(send, B, PrOut.RELEASE, { key: 2n }, PrType.EXCLUSIVE_ACCESS)).status).toBe(GOOD);
    expect((await reservation(send)).reservation?.type).toBe(PrType.EXCLUSIVE_ACCESS);
    expect((await prOut(send, D, PrOut.RELEASE, { key: 0n }, PrType.EXCLUSIVE_ACCESS)).status).toBe(CONFLICT);
    // The holder releasing with the wrong type: INVALID RELEASE OF PERSISTENT RESERVATION.
    const bad = await prOut(send, A, PrOut.RELEASE, { key: 1n }, PrType.WRITE_EXCLUSIVE);
    expect(bad.sense).toMatchObject({ key: 5, asc: 0x26, ascq: 0x04 });
  });

  it('ownership (libiscsi prout_reserve_ownership): unregistering the holder drops WE/EA/RO reservations, not all-registrants ones', async () => {
    for (const type of [PrType.WRITE_EXCLUSIVE, PrType.EXCLUSIVE_ACCESS, PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY, PrType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY]) {
      const { send } = await setup();
      await prOut(send, A, PrOut.REGISTER_AND_IGNORE, { sark: 1n });
      await prOut(send, B, PrOut.REGISTER_AND_IGNORE, { sark: 2n });
      await prOut(send, A, PrOut.RESERVE, { key: 1n }, type);
      await prOut(send, A, PrOut.REGISTER, { key: 1n, sark: 0n });
      expect((await reservation(send)).reservation).toBeUndefined();
      // Registrants-only: the remaining registrant is told RESERVATIONS RELEASED.
      const t = await send(B, TUR);
      if (type === PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY || type === PrType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY) expect(t.sense).toMatchObject({ key: 6, asc: 0x2a, ascq: 0x04 });
      else expect(t.status).toBe(GOOD);
    }
    for (const type of [PrType.WRITE_EXCLUSIVE_ALL_REGISTRANTS, PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS]) {
      const { send } = await setup();
      await prOut(send, A, PrOut.REGISTER_AND_IGNORE, { sark: 1n });
      await prOut(send, B, PrOut.REGISTER_AND_IGNORE, { sark: 2n });
      await prOut(send, A, PrOut.RESERVE, { key: 1n }, type);
      await prOut(send, A, PrOut.REGISTER, { key: 1n, sark: 0n });
      expect((await reservation(send)).reservation).toEqual({ key: 0n, scope: 0, type });
      expect((await prOut(send, B, PrOut.RELEASE, { key: 2n }, type)).status).toBe(GOOD);
      expect((await reservation(send)).reservation).toBeUndefined();
    }
  });
});

describe('CLEAR and PREEMPT', () => {
  it('CLEAR removes every registration and the reservation, bumps the generation once, tells the others 2Ah/03h', async () => {
    const { send } = await setup();
    await prOut(send, A, PrOut.REGISTER_AND_IGNORE, { sark: 1n });
    await prOut(send, B, PrOut.REGISTER_AND_IGNORE, { sark: 2n });
    await prOut(send, A, PrOut.RESERVE, { key: 1n }, PrType.EXCLUSIVE_ACCESS);
    expect((await prOut(send, B, PrOut.CLEAR, { key: 9n })).status).toBe(CONFLICT);
    expect((await prOut(send, A, PrOut.CLEAR, { key: 1n })).status).toBe(GOOD);
    expect(await keys(send)).toEqual({ generation: 3, additionalLength: 0, keys: [] });
    expect((await reservation(send)).reservation).toBeUndefined();
    expect((await send(B, TUR)).sense).toMatchObject({ key: 6, asc: 0x2a, ascq: 0x03 });
    expect((await send(A, TUR)).status).toBe(GOOD);
  });

  it('PREEMPT without a reservation removes the named registrations (libiscsi prout_preempt_rm_reg)', async () => {
    const { send } = await setup();
    await prOut(send, A, PrOut.REGISTER_AND_IGNORE, { sark: 1n });
    await prOut(send, B, PrOut.REGISTER_AND_IGNORE, { sark: 2n });
    const gen = (await keys(send)).generation;
    expect((await prOut(send, B, PrOut.PREEMPT, { key: 2n, sark: 1n }, PrType.EXCLUSIVE_ACCESS)).status).toBe(GOOD);
    expect(await keys(send)).toEqual({ generation: gen + 1, additionalLength: 8, keys: [2n] });
    expect((await send(A, TUR)).sense).toMatchObject({ key: 6, asc: 0x2a, ascq: 0x05 });
    expect((await reservation(send)).reservation).toBeUndefined();
    // SARK naming nobody: RESERVATION CONFLICT; SARK 0 without an all-registrants reservation: 5/26/00.
    expect((await prOut(send, B, PrOut.PREEMPT, { key: 2n, sark: 7n }, PrType.EXCLUSIVE_ACCESS)).status).toBe(CONFLICT);
    expect((await prOut(send, B, PrOut.PREEMPT, { key: 2n, sark: 0n }, PrType.EXCLUSIVE_ACCESS)).sense).toMatchObject({ key: 5, asc: 0x26, sks: { cd: false, byte: 8 } });
  });

  it('PREEMPT of the holder takes the reservation over with the new type', async () => {
    const { send } = await setup();
    await prOut(send, A, PrOut.REGISTER_AND_IGNORE, { sark: 1n });
    await prOut(send, B, PrOut.REGISTER_AND_IGNORE, { sark: 2n });
    await prOut(send, A, PrOut.RESERVE, { key: 1n }, PrType.EXCLUSIVE_ACCESS);
    expect((await prOut(send, B, PrOut.PREEMPT, { key: 2n, sark: 1n }, PrType.WRITE_EXCLUSIVE)).status).toBe(GOOD);
    expect((await reservation(send)).reservation).toEqual({ key: 2n, scope: 0, type: PrType.WRITE_EXCLUSIVE });
    expect((await send(A, TUR)).sense).toMatchObject({ key: 6, asc: 0x2a, ascq: 0x05 });
    expect(await read(send, A)).toBe(GOOD);
    expect(await write(send, A)).toBe(CONFLICT);
    expect(await write(send, B)).toBe(GOOD);
  });

  it('PREEMPT with SARK 0 under an all-registrants reservation removes every other registrant', async () => {
    const { send } = await setup();
    await prOut(send, A, PrOut.REGISTER_AND_IGNORE, { sark: 1n });
    await prOut(send, B, PrOut.REGISTER_AND_IGNORE, { sark: 2n });
    await prOut(send, A, PrOut.RESERVE, { key: 1n }, PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS);
    expect((await prOut(send, B, PrOut.PREEMPT, { key: 2n, sark: 0n }, PrType.EXCLUSIVE_ACCESS)).status).toBe(GOOD);
    expect((await keys(send)).keys).toEqual([2n]);
    expect((await reservation(send)).reservation).toEqual({ key: 2n, scope: 0, type: PrType.EXCLUSIVE_ACCESS });
  });

  it('PREEMPT AND ABORT aborts the preempted nexus tasks', async () => {
    const dev = new TargetDevice({ name: 'r', wwnn: '20000000000000b0', ports: [{ wwpn: TP1 }] });
    const lu = new TestLu('r/lu', 1);
    dev.attach(0, lu);
    const send = async (n: ITNexus, c: Buffer, dataOut?: Buffer) => decoded(await dev.dispatch({ nexus: n, lun: 0, cdb: c, dataInLength: 4096, dataOut }));
    await send(A, TUR);
    await send(B, TUR);
    await prOut(send, A, PrOut.REGISTER_AND_IGNORE, { sark: 1n });
    await prOut(send, B, PrOut.REGISTER_AND_IGNORE, { sark: 2n });
    await prOut(send, A, PrOut.RESERVE, { key: 1n }, PrType.WRITE_EXCLUSIVE);
    const held = dev.dispatch({ nexus: A, lun: 0, cdb: cdb('c00000000000'), dataInLength: 0, tag: 5 });
    await new Promise((r) => setImmediate(r));
    expect((await prOut(send, B, PrOut.PREEMPT_AND_ABORT, { key: 2n, sark: 1n }, PrType.WRITE_EXCLUSIVE)).status).toBe(GOOD);
    expect((await held).status).toBe(ScsiStatus.TASK_ABORTED);
  });
});

describe('REGISTER AND MOVE', () => {
  const move = (send: Send, n: ITNexus, v: { key: bigint; sark: bigint; rel: number; tid: Buffer; unreg?: boolean }) => {
    const list = encodeRegisterAndMoveParams({ reservationKey: v.key, serviceActionKey: v.sark, unreg: !!v.unreg, aptpl: false, relativeTargetPort: v.rel, transportId: v.tid });
    return send(n, encodePrOutCdb({ serviceAction: PrOut.REGISTER_AND_MOVE, scope: 0, type: PrType.WRITE_EXCLUSIVE, parameterListLength: list.length }), list);
  };
  const fc = (wwpn: string) => encodeTransportId({ protocol: 'fc', wwpn });

  it('hands the reservation to another I_T nexus, registering it, and drops the mover with UNREG', async () => {
    const { send } = await setup();
    await prOut(send, A, PrOut.REGISTER, { sark: 1n });
    await prOut(send, A, PrOut.RESERVE, { key: 1n }, PrType.WRITE_EXCLUSIVE);
    const gen = (await keys(send)).generation;
    expect((await move(send, A, { key: 1n, sark: 9n, rel: 2, tid: fc(I2), unreg: true })).status).toBe(GOOD);
    expect(await keys(send)).toEqual({ generation: gen + 1, additionalLength: 8, keys: [9n] });
    expect((await reservation(send)).reservation).toEqual({ key: 9n, scope: 0, type: PrType.WRITE_EXCLUSIVE });
    const b2 = makeNexus(I2, TP2);
    await send(b2, TUR);
    expect(await write(send, b2)).toBe(GOOD);
    expect(await write(send, B)).toBe(CONFLICT);
    expect(await write(send, A)).toBe(CONFLICT);
    const fs = decodeReadFullStatus((await prIn(send, D, PrIn.READ_FULL_STATUS)).data);
    expect(fs.entries.map((e) => [e.key, e.holder, e.relativeTargetPort, decodeTransportId(e.transportId)])).toEqual([[9n, true, 2, { protocol: 'fc', wwpn: I2 }]]);
  });

  it('errors: not the holder, SARK 0, unknown relative port, iSCSI TransportID, moving to itself, short list', async () => {
    const { send } = await setup();
    await prOut(send, A, PrOut.REGISTER, { sark: 1n });
    await prOut(send, B, PrOut.REGISTER, { sark: 2n });
    expect((await move(send, A, { key: 1n, sark: 9n, rel: 2, tid: fc(I2) })).status).toBe(CONFLICT); // no reservation
    await prOut(send, A, PrOut.RESERVE, { key: 1n }, PrType.WRITE_EXCLUSIVE);
    expect((await move(send, B, { key: 2n, sark: 9n, rel: 2, tid: fc(I1) })).status).toBe(CONFLICT);
    expect((await move(send, A, { key: 1n, sark: 0n, rel: 2, tid: fc(I2) })).sense).toMatchObject({ key: 5, asc: 0x26, sks: { cd: false, byte: 8 } });
    expect((await move(send, A, { key: 1n, sark: 9n, rel: 99, tid: fc(I2) })).sense).toMatchObject({ key: 5, asc: 0x26, sks: { cd: false, byte: 18 } });
    const iscsi = encodeTransportId({ protocol: 'iscsi', name: 'iqn.2026-11.dev.dmsim.hosts:app1' });
    expect((await move(send, A, { key: 1n, sark: 9n, rel: 1, tid: iscsi })).sense).toMatchObject({ key: 5, asc: 0x26, sks: { byte: 24 } });
    expect((await move(send, A, { key: 1n, sark: 9n, rel: 1, tid: fc(I1) })).sense).toMatchObject({ key: 5, asc: 0x26, sks: { byte: 24 } });
    const short = await send(A, encodePrOutCdb({ serviceAction: PrOut.REGISTER_AND_MOVE, scope: 0, type: 1, parameterListLength: 24 }), Buffer.alloc(24));
    expect(short.sense).toMatchObject({ key: 5, asc: 0x1a });
    expect((await reservation(send)).reservation).toEqual({ key: 1n, scope: 0, type: PrType.WRITE_EXCLUSIVE });
  });
});

describe('PR errors', () => {
  it('parameter list length, SPEC_I_PT, scope, type, APTPL without a state file, unknown service actions', async () => {
    const { send } = await setup();
    const list = encodePrOutParams({ serviceActionKey: 1n });
    for (const len of [23, 25]) {
      const r = await send(A, encodePrOutCdb({ serviceAction: 0, scope: 0, type: 0, parameterListLength: len }), Buffer.concat([list, Buffer.alloc(1)]));
      expect(r.sense).toMatchObject({ key: 5, asc: 0x1a, ascq: 0 });
    }
    const sip = encodePrOutParams({ serviceActionKey: 1n, specIPt: true, transportIds: [] });
    const s = await send(A, encodePrOutCdb({ serviceAction: 0, scope: 0, type: 0, parameterListLength: sip.length }), sip);
    expect(s.sense).toMatchObject({ key: 5, asc: 0x26, sks: { cd: false, byte: 20, bit: 3 } });
    await prOut(send, A, PrOut.REGISTER, { sark: 1n });
    const sc = await send(A, encodePrOutCdb({ serviceAction: 1, scope: 1, type: 1, parameterListLength: 24 }), encodePrOutParams({ reservationKey: 1n }));
    expect(sc.sense).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 2, bit: 7 } });
    const ty = await prOut(send, A, PrOut.RESERVE, { key: 1n }, 2);
    expect(ty.sense).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 2, bit: 3 } });
    const ap = await prOut(send, A, PrOut.REGISTER, { key: 1n, sark: 2n, aptpl: true });
    expect(ap.sense).toMatchObject({ key: 5, asc: 0x26, sks: { cd: false, byte: 20, bit: 0 } });
    for (const sa of [4, 0x1f]) expect((await prIn(send, A, sa)).sense).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 1, bit: 4 } });
    expect((await send(A, encodePrOutCdb({ serviceAction: 8, scope: 0, type: 0, parameterListLength: 24 }), list)).sense).toMatchObject({ key: 5, asc: 0x24, sks: { byte: 1, bit: 4 } });
    for (const sa of [0, 1, 2, 3]) expect((await prIn(send, A, sa)).status).toBe(GOOD);
  });

  it('REPORT CAPABILITIES: length 8, ATP_C, PTPL_C only with a state file, TMV and all six types', async () => {
    const { send } = await setup();
    expect((await prIn(send, A, PrIn.REPORT_CAPABILITIES)).data.toString('hex')).toBe('00080480ea010000');
    const dir = mkdtempSync(join(tmpdir(), 'dmsim-pr-'));
    dirs.push(dir);
    const s2 = (await setup({ aptplPath: join(dir, 'disk0.pr.json') })).send;
    expect((await prIn(s2, A, PrIn.REPORT_CAPABILITIES)).data.toString('hex')).toBe('00080580ea010000');
  });
});

describe('APTPL', () => {
  it('persists registrations and the reservation across a restart and forgets them when APTPL is cleared', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dmsim-pr-'));
    dirs.push(dir);
    const path = join(dir, 'disk0.pr.json');
    const first = await setup({ aptplPath: path });
    await prOut(first.send, A, PrOut.REGISTER, { sark: 0x0102030405060708n, aptpl: true });
    await prOut(first.send, B, PrOut.REGISTER, { sark: 2n, aptpl: true });
    await prOut(first.send, A, PrOut.RESERVE, { key: 0x0102030405060708n }, PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY);
    expect(existsSync(path)).toBe(true);
    expect(readFileSync(path, 'utf8')).toContain('0102030405060708');
    const second = await setup({ aptplPath: path });
    expect(await keys(second.send)).toEqual({ generation: 2, additionalLength: 16, keys: [0x0102030405060708n, 2n] });
    expect((await reservation(second.send)).reservation).toEqual({ key: 0x0102030405060708n, scope: 0, type: PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY });
    expect((await prIn(second.send, A, PrIn.REPORT_CAPABILITIES)).data[3]! & 1).toBe(1);
    expect(await write(second.send, D)).toBe(CONFLICT);
    expect(await write(second.send, B)).toBe(GOOD);
    await prOut(second.send, B, PrOut.REGISTER, { key: 2n, sark: 3n, aptpl: false });
    expect(existsSync(path)).toBe(false);
  });
});
