/**
 * The copy manager on the real fabric: zoning, LUN masking, target devices, the real disk LU and
 * tape drive, the data mover acting through its own InProcessPort.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fabric } from '../../firmware-sim/fabric/fabric.js';
import { InProcessPort } from '../../firmware-sim/fabric/in-process-port.js';
import { TargetDevice } from '../../firmware-sim/router/target-device.js';
import { DiskLu } from '../../firmware-sim/devices/disk/disk-lu.js';
import { MemoryStore } from '../../firmware-sim/devices/backing/memory-store.js';
import { TapeDrive } from '../../firmware-sim/devices/tape/drive.js';
import { Cartridge } from '../../firmware-sim/devices/tape/cartridge.js';
import { DataMover } from '../../firmware-sim/devices/data-mover.js';
import { copyManagerOnFabric } from '../../firmware-sim/copy-manager/fabric-scope.js';
import { copyManagerCommands } from '../../firmware-sim/copy-manager/commands.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { decodeCopyStatus, encodeRcrCdb } from '../../src/scsi/receive-copy-results.js';
import { encodeParameterList, encodeXcopyCdb, type XcopyParameterList } from '../../src/scsi/xcopy.js';
import { encodeReserve10Cdb, encodeThirdPartyId, encodePrOutCdb, encodePrOutParams, encodeRegisterAndMoveParams, encodeTransportId, PrOut, PrType } from '../../src/scsi/persistent-reservations.js';
import { encodeLun, type CscdDescriptor } from '../../src/scsi/xcopy.js';
import { decodeStandardInquiry, encodeInquiryCdb } from '../../src/scsi/inquiry.js';
import { readFileSync } from 'node:fs';
import { makeNexus, type ScsiResult } from '../../firmware-sim/router/task.js';
import { blockParams, e4, identity, list, pattern, variableTape } from './helpers.js';

const SERVER = '21000024ff000001';
const DM = '2100000000dd0001';
const ARRAY = '5000000000000a01';
const ROUTER = '5000000000000b01';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function build() {
  dir = mkdtempSync(join(tmpdir(), 'dmsim-xcopy-fabric-'));
  const fabric = new Fabric();
  const array = new TargetDevice({ name: 'array1', wwnn: '5000000000000a00', ports: [{ wwpn: ARRAY }], defaultAccess: 'none' });
  const router = new TargetDevice({ name: 'router1', wwnn: '5000000000000b00', ports: [{ wwpn: ROUTER }] });
  fabric.addDevice(array);
  fabric.addDevice(router);
  fabric.zoning.setZone('backup', [SERVER, ARRAY, ROUTER]);
  fabric.zoning.setZone('datamover', [DM, ARRAY, ROUTER]);
  const cm = copyManagerOnFabric(fabric, { wwpn: DM, wwnn: '2000000000dd0001' }, { chunkBytes: 256 * 1024 });
  const disks = [0, 1].map(
    (i) => new DiskLu({ identity: identity(`array1/disk${i}`, 0, 10 + i), store: new MemoryStore(8 << 20), blockSize: 512, extraCommands: copyManagerCommands(cm, 'disk') as never }),
  );
  disks.forEach((d, i) => array.attach(i, d));
  array.setLunMap(SERVER, [0]);
  array.setLunMap(DM, [0, 1]);
  const dm = new DataMover(identity('router1/dm', 0x0c, 30), cm);
  const tape = new TapeDrive(identity('router1/tape0', 1, 31));
  const cart = await Cartridge.create(join(dir, 't.tap'), { capacity: 64 << 20, barcode: 'T00001L4' });
  await tape.loadCartridge(cart);
  router.attach(0, dm);
  router.attach(1, tape);
  const server = new InProcessPort(fabric, { wwpn: SERVER, wwnn: '20000024ff000001' });
  const send = async (target: string, lun: number, cdb: Buffer, o: { dataOut?: Buffer; dataInLength?: number } = {}): Promise<ScsiResult> => {
    for (let i = 0; ; i++) {
      const r = await server.command(target, lun, cdb, { dataInLength: 4096, ...o });
      if (!(r.sense && decodeSense(r.sense).key === 6 && i < 5)) return r;
    }
  };
  const xc = (target: string, lun: number, l: XcopyParameterList) => {
    const b = encodeParameterList(l);
    return send(target, lun, encodeXcopyCdb({ parameterListLength: b.length }), { dataOut: b });
  };
  return { fabric, cm, disks, dm, tape, cart, send, xc, server };
}

describe('copy manager on the fabric', () => {
  it('backup through the data mover LU: disk → tape, data never crosses the server port', async () => {
    const { disks, tape, cart, xc, send } = await build();
    const src = pattern(1 << 20, 4);
    await disks[0]!.store.write(0, src);
    const r = await xc(ROUTER, 0, list([e4(disks[0]!, blockParams()), e4(tape, variableTape())], [{ type: 0, src: 0, dst: 1, streamTransferLength: 65536, blocks: 2048, lba: 0 }]));
    expect(r.status).toBe(0);
    await cart.sync();
    const recs: Buffer[] = [];
    for (let i = 0; i < 16; i++) recs.push(await cart.readRecord(i, 65536));
    expect(Buffer.concat(recs).equals(src)).toBe(true);
    const st = await send(ROUTER, 0, encodeRcrCdb({ serviceAction: 0, listId: 1 }));
    expect(decodeCopyStatus(st.dataIn!)).toMatchObject({ status: 1, transferCount: 1 << 20 });
  });

  it('masking: the server cannot name disk1 (masked from it) even though the data mover sees it', async () => {
    const { disks, xc } = await build();
    await disks[1]!.store.write(0, pattern(4096, 9));
    const r = await xc(ARRAY, 0, list([e4(disks[0]!, blockParams()), e4(disks[1]!, blockParams())], [{ type: 2, src: 1, dst: 0, blocks: 8, srcLba: 0, dstLba: 0 }]));
    expect(decodeSense(r.sense!)).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x02 });
    expect((await disks[0]!.store.read(0, 4096)).equals(Buffer.alloc(4096))).toBe(true);
  });

  it('a disk LU is its own copy manager (02h within the LU, as VAAI and libiscsi do)', async () => {
    const { disks, xc } = await build();
    const src = pattern(64 * 512, 2);
    await disks[0]!.store.write(0, src);
    const r = await xc(ARRAY, 0, list([e4(disks[0]!, blockParams())], [{ type: 2, src: 0, dst: 0, blocks: 64, srcLba: 0, dstLba: 10000 }]));
    expect(r.status).toBe(0);
    expect((await disks[0]!.store.read(10000 * 512, 64 * 512)).equals(src)).toBe(true);
  });

  it('fault hooks of the real disk: a write medium error and a not-ready window end the copy with the disk sense forwarded', async () => {
    const { disks, xc } = await build();
    const d0 = disks[0]!;
    d0.faults.addMediumError({ firstLba: 5000, count: 1, on: 'write' });
    const w = await xc(ARRAY, 0, list([e4(d0, blockParams())], [{ type: 2, src: 0, dst: 0, blocks: 16, srcLba: 0, dstLba: 4990 }]));
    const s = decodeSense(w.sense!);
    expect(s).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x01, sks: { byte: 16 } });
    expect(s.forwarded![0]!.source).toBe('destination');
    expect(decodeSense(s.forwarded![0]!.sense)).toMatchObject({ key: 3, asc: 0x0c });
    d0.faults.notReadyFor(60_000);
    const n = await xc(ARRAY, 0, list([e4(d0, blockParams())], [{ type: 2, src: 0, dst: 0, blocks: 1, srcLba: 0, dstLba: 1 }], { listId: 2 }));
    const ns = decodeSense(n.sense!);
    expect(ns).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x01 });
    expect(decodeSense(ns.forwarded![0]!.sense)).toMatchObject({ key: 2, asc: 0x04 });
  });

  it('LOGICAL UNIT RESET of the data mover discards every copy result', async () => {
    const { fabric, disks, tape, xc, send } = await build();
    expect((await xc(ROUTER, 0, list([e4(disks[0]!, blockParams()), e4(tape, variableTape())], [{ type: 0, src: 0, dst: 1, streamTransferLength: 4096, blocks: 8, lba: 0 }]))).status).toBe(0);
    await fabric.lunReset(makeNexus(SERVER, ROUTER), 0);
    const st = await send(ROUTER, 0, encodeRcrCdb({ serviceAction: 0, listId: 1 }));
    expect(decodeSense(st.sense!)).toMatchObject({ key: 5, asc: 0x24 });
  });

  it('zoning: without the data mover zone every CSCD is unreachable', async () => {
    const { fabric, disks, tape, xc } = await build();
    fabric.zoning.deleteZone('datamover');
    const r = await xc(ROUTER, 0, list([e4(disks[0]!, blockParams()), e4(tape, variableTape())], [{ type: 0, src: 0, dst: 1, streamTransferLength: 512, blocks: 1, lba: 0 }]));
    expect(decodeSense(r.sense!)).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x02 });
  });
});

describe('reservations apply to the data mover as to any initiator', () => {
  const backup = (disks: DiskLu[], tape: TapeDrive) => list([e4(disks[0]!, blockParams()), e4(tape, variableTape())], [{ type: 0, src: 0, dst: 1, streamTransferLength: 65536, blocks: 256, lba: 0 }]);

  it('third-party RESERVE naming the data mover: it may write the tape, another initiator may not', async () => {
    const { fabric, disks, tape, send, xc } = await build();
    const rsv = await send(ROUTER, 1, encodeReserve10Cdb({ release: false, thirdParty: true, longId: true, thirdPartyId: 0, parameterListLength: 8 }), { dataOut: encodeThirdPartyId(DM) });
    expect(rsv.status).toBe(0);
    expect((await xc(ROUTER, 0, backup(disks, tape))).status).toBe(0);
    const other = new InProcessPort(fabric, { wwpn: '21000024ff000009', wwnn: '20000024ff000009' });
    fabric.zoning.addMember('backup', other.wwpn);
    let r: ScsiResult;
    for (let i = 0; ; i++) {
      r = await other.command(ROUTER, 1, Buffer.from([0x0a, 0, 0, 0, 4, 0]), { dataOut: Buffer.alloc(4) });
      if (!(r.sense && decodeSense(r.sense).key === 6 && i < 5)) break;
    }
    expect(r.status).toBe(0x18);
  });

  it('a tape reserved by the server itself: the data mover gets RESERVATION CONFLICT, forwarded in COPY ABORTED 0D/01', async () => {
    const { disks, tape, send, xc } = await build();
    expect((await send(ROUTER, 1, Buffer.from([0x16, 0, 0, 0, 0, 0]))).status).toBe(0);
    const r = await xc(ROUTER, 0, backup(disks, tape));
    const s = decodeSense(r.sense!);
    expect(s).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x01, sks: { byte: 48 } });
    expect(s.forwarded).toEqual([{ source: 'destination', status: 0x18, sense: Buffer.alloc(0) }]);
    expect(r.sense![9]).toBe(18); // DESTINATION SENSE DATA OFFSET
  });
});

describe('FC CSCD descriptors and the data mover LU itself', () => {
  const fc = (type: number, o: Partial<CscdDescriptor>): CscdDescriptor => ({ type, luIdType: 0, nul: false, pdt: 1, relativeInitiatorPort: 0, lun: encodeLun(1), params: variableTape(), ...o });

  it('E0h (port name + LUN), E1h (N_Port_ID + LUN) and E2h name both resolve the tape; an E2h name/ID mismatch is unreachable', async () => {
    const { fabric, disks, cart, xc } = await build();
    const rid = fabric.nameServer.entries.find((e) => e.wwpn === ROUTER)!.portId.value;
    await disks[0]!.store.write(0, pattern(3 * 4096, 1));
    const seg = (lba: number) => ({ type: 0, src: 0, dst: 1, streamTransferLength: 4096, blocks: 8, lba });
    expect((await xc(ROUTER, 0, list([e4(disks[0]!, blockParams()), fc(0xe0, { nPortName: ROUTER })], [seg(0)]))).status).toBe(0);
    expect((await xc(ROUTER, 0, list([e4(disks[0]!, blockParams()), fc(0xe1, { nPortId: rid })], [seg(8)], { listId: 2 }))).status).toBe(0);
    expect((await xc(ROUTER, 0, list([e4(disks[0]!, blockParams()), fc(0xe2, { nPortName: ROUTER, nPortId: rid })], [seg(16)], { listId: 3 }))).status).toBe(0);
    await cart.sync();
    const recs = [0, 1, 2].map((i) => cart.readRecord(i, 4096));
    expect(Buffer.concat(await Promise.all(recs)).equals(await disks[0]!.store.read(0, 3 * 4096))).toBe(true);
    const bad = await xc(ROUTER, 0, list([e4(disks[0]!, blockParams()), fc(0xe2, { nPortName: ARRAY, nPortId: rid })], [seg(0)], { listId: 4 }));
    expect(decodeSense(bad.sense!)).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x02, sks: { byte: 48 } });
  });

  it('14h registers the data mover key: a Write Exclusive – Registrants Only reservation then admits it', async () => {
    const { disks, tape, send, xc } = await build();
    const key = (n: number) => { const b = Buffer.alloc(8); b.writeUInt32BE(n, 4); return b; };
    const reg = encodePrOutParams({ serviceActionKey: 0x1111n });
    expect((await send(ROUTER, 1, encodePrOutCdb({ serviceAction: PrOut.REGISTER, scope: 0, type: 0, parameterListLength: reg.length }), { dataOut: reg })).status).toBe(0);
    const res = encodePrOutParams({ reservationKey: 0x1111n });
    expect((await send(ROUTER, 1, encodePrOutCdb({ serviceAction: PrOut.RESERVE, scope: 0, type: PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY, parameterListLength: res.length }), { dataOut: res })).status).toBe(0);
    const body = { type: 0, src: 0, dst: 1, streamTransferLength: 4096, blocks: 8, lba: 0 };
    const cscds = [e4(disks[0]!, blockParams()), e4(tape, variableTape())];
    expect(decodeSense((await xc(ROUTER, 0, list(cscds, [body]))).sense!)).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x01 });
    const r = await xc(ROUTER, 0, list(cscds, [{ type: 0x14, dst: 1, reservationKey: key(0), serviceActionKey: key(0x2222) }, body], { listId: 2 }));
    expect(r.status).toBe(0);
  });

  it('15h: the server moves its reservation to the data mover, the copy moves it back at the end — also after a failure', async () => {
    const { disks, tape, send, xc } = await build();
    const key = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(n); return b; };
    const pr = (sa: number, params: Buffer, type = 0) => send(ROUTER, 1, encodePrOutCdb({ serviceAction: sa, scope: 0, type, parameterListLength: params.length }), { dataOut: params });
    const toDm = () => pr(PrOut.REGISTER_AND_MOVE, encodeRegisterAndMoveParams({ reservationKey: 0xaan, serviceActionKey: 0xbbn, unreg: false, aptpl: false, relativeTargetPort: 1, transportId: encodeTransportId({ protocol: 'fc', wwpn: DM }) }));
    expect((await pr(PrOut.REGISTER, encodePrOutParams({ serviceActionKey: 0xaan }))).status).toBe(0);
    expect((await pr(PrOut.RESERVE, encodePrOutParams({ reservationKey: 0xaan }), PrType.WRITE_EXCLUSIVE)).status).toBe(0);
    expect((await toDm()).status).toBe(0);
    // Now only the data mover may write: the server's own WRITE conflicts.
    expect((await send(ROUTER, 1, Buffer.from([0x0a, 0, 0, 0, 4, 0]), { dataOut: Buffer.alloc(4) })).status).toBe(0x18);
    const back = { type: 0x15, dst: 1, reservationKey: key(0xbbn), serviceActionKey: key(0xaan), unreg: true, relativeTargetPort: 1, transportId: encodeTransportId({ protocol: 'fc', wwpn: SERVER }) };
    const cscds = [e4(disks[0]!, blockParams()), e4(tape, variableTape())];
    expect((await xc(ROUTER, 0, list(cscds, [back, { type: 0, src: 0, dst: 1, streamTransferLength: 4096, blocks: 8, lba: 0 }]))).status).toBe(0);
    expect((await send(ROUTER, 1, Buffer.from([0x0a, 0, 0, 0, 4, 0]), { dataOut: Buffer.alloc(4) })).status).toBe(0);
    // Again, with a segment that fails after the 15h: the reservation still comes back.
    expect((await toDm()).status).toBe(0);
    const r = await xc(ROUTER, 0, list(cscds, [back, { type: 0, src: 0, dst: 1, streamTransferLength: 4096, blocks: 8, lba: 1 << 20 }], { listId: 2 }));
    expect(decodeSense(r.sense!)).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x02 });
    expect((await send(ROUTER, 1, Buffer.from([0x0a, 0, 0, 0, 4, 0]), { dataOut: Buffer.alloc(4) })).status).toBe(0);
  });

  it('INQUIRY: PDT 03h with 3PC; VPD 8Fh byte for byte; RSOC lists exactly 83h/00h and 84h/00h 01h 03h 04h', async () => {
    const { send } = await build();
    const std = decodeStandardInquiry((await send(ROUTER, 0, encodeInquiryCdb({ evpd: false, pageCode: 0, allocationLength: 255 }), { dataInLength: 255 })).dataIn!);
    expect(std.deviceType).toBe(3);
    expect(std.threePC).toBe(true);
    const vpd = (await send(ROUTER, 0, encodeInquiryCdb({ evpd: true, pageCode: 0x8f, allocationLength: 1024 }), { dataInLength: 1024 })).dataIn!;
    const golden = JSON.parse(readFileSync(new URL('../../fixtures/vectors/xcopy/third-party-copy-vpd.json', import.meta.url), 'utf8')) as Record<string, { hex: string }>;
    expect(vpd.toString('hex')).toBe(golden['vpd-8f-data-mover-full']!.hex);
    const rsoc = (await send(ROUTER, 0, Buffer.from([0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0]), { dataInLength: 4096 })).dataIn!;
    const cmds: string[] = [];
    for (let p = 4; p + 8 <= 4 + rsoc.readUInt32BE(0); p += 8 + (rsoc[p + 5]! & 2 ? 12 : 0)) {
      if (rsoc[p] === 0x83 || rsoc[p] === 0x84) cmds.push(`${rsoc[p]!.toString(16)}/${rsoc.readUInt16BE(p + 2)}`);
    }
    expect(cmds).toEqual(['83/0', '84/0', '84/1', '84/3', '84/4']);
  });
});
