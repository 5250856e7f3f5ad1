import { afterEach, describe, expect, it } from 'vitest';
import { decodeSense, encodeSense, Sense } from '../../src/scsi/sense.js';
import { decodeCopyStatus, decodeFailedSegmentDetails } from '../../src/scsi/receive-copy-results.js';
import { encodeParameterList, encodeXcopyCdb, type CscdDescriptor } from '../../src/scsi/xcopy.js';
import { Abort } from '../../firmware-sim/copy-manager/errors.js';
import { blockParams, e4, exec, list, makeLab, OTHER, pattern, rcr, ROUTER_PORT, SERVER, variableTape, xcopy, type Lab } from './helpers.js';

let lab: Lab;
afterEach(async () => {
  await lab?.done();
});

const backupList = (lab: Lab, seg: Record<string, unknown> = {}, o: Parameters<typeof list>[2] = {}) =>
  list([e4(lab.disks[0]!, blockParams()), e4(lab.tapes[0]!.drive, variableTape())], [{ type: 0, src: 0, dst: 1, streamTransferLength: 65536, blocks: 256, lba: 0, ...seg }], o);

describe('CDB and parameter-list validation (ILLEGAL REQUEST, nothing moved)', () => {
  it('PARAMETER LIST LENGTH 0 is GOOD and creates no list', async () => {
    lab = await makeLab();
    expect((await exec(lab.dm, encodeXcopyCdb({ parameterListLength: 0 }))).status).toBe(0);
    expect((await rcr(lab.dm, 0, 0)).sense).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 2 } });
  });

  it('LID4 and ROD service actions, RECEIVE COPY RESULTS LID4: 5/24/00 at CDB byte 1 bit 4', async () => {
    lab = await makeLab();
    for (const cdb of [encodeXcopyCdb({ serviceAction: 1, parameterListLength: 0 }), encodeXcopyCdb({ serviceAction: 0x10, parameterListLength: 0 }), Buffer.from('84050000000000000000000004000000', 'hex')]) {
      expect((await exec(lab.dm, cdb)).sense).toMatchObject({ key: 5, asc: 0x24, ascq: 0, sks: { kind: 'field', cd: true, byte: 1, bit: 4 } });
    }
  });

  it('reserved CDB bytes: 5/24/00 pointing at the byte', async () => {
    lab = await makeLab();
    const cdb = encodeXcopyCdb({ parameterListLength: 0 });
    cdb[5] = 0x10;
    expect((await exec(lab.dm, cdb)).sense).toMatchObject({ key: 5, asc: 0x24, sks: { cd: true, byte: 5, bit: 4 } });
  });

  it('a list cut short by PARAMETER LIST LENGTH: 1A/00; no I/O happened', async () => {
    lab = await makeLab();
    const l = encodeParameterList(backupList(lab));
    const r = await xcopy(lab.dm, l.subarray(0, 47), { pll: 47 });
    expect(r.sense).toMatchObject({ key: 5, asc: 0x1a, ascq: 0 });
    expect(lab.fabric.dmCommands.length).toBe(0);
  });

  it('disk profile: E0h → 26/07 and a 03h segment → 26/09 (libiscsi DescrType)', async () => {
    lab = await makeLab();
    const d0 = lab.disks[0]!;
    const e0: CscdDescriptor = { type: 0xe0, luIdType: 0, nul: false, pdt: 0, relativeInitiatorPort: 0, lun: Buffer.alloc(8), nPortName: '0000000000000000', params: blockParams() };
    expect((await xcopy(d0, list([e0], [{ type: 2, src: 0, dst: 0, blocks: 1, srcLba: 0, dstLba: 1 }]))).sense).toMatchObject({ key: 5, asc: 0x26, ascq: 0x07, sks: { byte: 16 } });
    expect((await xcopy(d0, list([e4(d0, blockParams())], [{ type: 3, src: 0, dst: 0, srcTransferLength: 0, dstTransferLength: 0, byteCount: 0 }]))).sense).toMatchObject({ key: 5, asc: 0x26, ascq: 0x09, sks: { byte: 48 } });
  });

  it('LIST ID USAGE 01b: 26/00 at header byte 1 bit 4', async () => {
    lab = await makeLab();
    expect((await xcopy(lab.dm, backupList(lab, {}, { usage: 1 }))).sense).toMatchObject({ key: 5, asc: 0x26, sks: { cd: false, byte: 1, bit: 4 } });
  });
});

describe('COPY ABORTED while segments run', () => {
  it('the abort names its sense key/ASC/ASCQ in two-digit hex, as describeSense does', () => {
    expect(Abort.thirdPartyFailure(undefined, []).message).toBe('COPY ABORTED 0A/0D/01');
    expect(Abort.inexact().message).toBe('COPY ABORTED 0A/26/0A');
  });

  it('CSCD ID beyond the list: 08/04 in segment 0', async () => {
    lab = await makeLab();
    const d0 = lab.disks[0]!;
    const r = await xcopy(d0, list([e4(d0, blockParams())], [{ type: 2, src: 0, dst: 1, blocks: 1, srcLba: 0, dstLba: 1 }]));
    expect(r.sense).toMatchObject({ key: 0xa, asc: 0x08, ascq: 0x04 });
    expect(r.senseBytes!.readUInt16BE(10)).toBe(0); // SEGMENT NUMBER
  });

  it('designator that no reachable LU has: 0D/02 pointing at the CSCD descriptor', async () => {
    lab = await makeLab();
    const d = e4(lab.disks[0]!, blockParams());
    d.designator = { ...d.designator!, value: Buffer.from('6002d5a0000000000000000099999999', 'hex') };
    const r = await xcopy(lab.dm, list([d, e4(lab.tapes[0]!.drive, variableTape())], [{ type: 0, src: 0, dst: 1, streamTransferLength: 512, blocks: 1, lba: 0 }]));
    expect(r.sense).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x02, sks: { kind: 'segment', sd: false, byte: 16 } });
  });

  it('CVE-2020-28374: an LU the requester may not access is unreachable, and is never touched', async () => {
    lab = await makeLab();
    const [d0, d1] = [lab.disks[0]!, lab.disks[1]!];
    fill(d1.data, 5);
    const before = Buffer.from(d1.data);
    lab.fabric.appMay = (n, lu) => !(n.key === SERVER.key && lu === d1);
    const r = await xcopy(d0, list([e4(d0, blockParams()), e4(d1, blockParams())], [{ type: 2, src: 1, dst: 0, blocks: 8, srcLba: 0, dstLba: 0 }]));
    expect(r.sense).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x02, sks: { byte: 48 } });
    const w = await xcopy(d0, list([e4(d0, blockParams()), e4(d1, blockParams())], [{ type: 2, src: 0, dst: 1, blocks: 8, srcLba: 0, dstLba: 0 }], { listId: 2 }));
    expect(w.sense).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x02 });
    expect(d1.data.equals(before)).toBe(true);
    expect(d1.reads + d1.writes).toBe(0);
  });

  it('an LU outside the data mover zone/LUN map is unreachable too', async () => {
    lab = await makeLab();
    lab.fabric.dmMay = (port) => port !== ROUTER_PORT;
    expect((await xcopy(lab.dm, backupList(lab))).sense).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x02, sks: { byte: 48 } });
  });

  it('CSCD PDT that does not match the LU: 0D/03; FFFFh on the data mover: 0D/03', async () => {
    lab = await makeLab();
    const bad = { ...e4(lab.tapes[0]!.drive, blockParams()), pdt: 0 };
    expect((await xcopy(lab.dm, list([e4(lab.disks[0]!, blockParams()), bad], [{ type: 2, src: 0, dst: 1, blocks: 1, srcLba: 0, dstLba: 0 }]))).sense).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x03, sks: { byte: 48 } });
    expect((await xcopy(lab.dm, list([e4(lab.disks[0]!, blockParams())], [{ type: 2, src: 0, dst: 0xffff, blocks: 1, srcLba: 0, dstLba: 0 }], { listId: 2 }))).sense).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x03 });
  });

  it('segment type that does not fit the CSCD types: 26/0C (00h from a tape, 10h on a disk)', async () => {
    lab = await makeLab();
    const [disk, tape] = [e4(lab.disks[0]!, blockParams()), e4(lab.tapes[0]!.drive, variableTape())];
    expect((await xcopy(lab.dm, list([tape, disk], [{ type: 0, src: 0, dst: 1, streamTransferLength: 512, blocks: 1, lba: 0 }]))).sense).toMatchObject({ key: 0xa, asc: 0x26, ascq: 0x0c });
    expect((await xcopy(lab.dm, list([disk], [{ type: 0x10, dst: 0, count: 1 }], { listId: 2 }))).sense).toMatchObject({ key: 0xa, asc: 0x26, ascq: 0x0c });
  });

  it('LBA range past the end: 0D/02 with the disk 5/21/00 forwarded (libiscsi ValidSegDescr)', async () => {
    lab = await makeLab();
    const d0 = lab.disks[0]!;
    const r = await xcopy(d0, list([e4(d0, blockParams())], [{ type: 2, src: 0, dst: 0, blocks: 2048, srcLba: 0, dstLba: 4095 }]));
    expect(r.sense).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x02 });
    expect(r.sense!.forwarded![0]!.status).toBe(2);
    expect(decodeSense(r.sense!.forwarded![0]!.sense)).toMatchObject({ key: 5, asc: 0x21, ascq: 0 });
    expect(d0.writes).toBe(0);
  });

  it('medium error on a source block: 0D/01, segment number, CSCD pointer, the disk sense forwarded, earlier segments stay done', async () => {
    lab = await makeLab({ cm: { chunkBytes: 4096 } });
    fill(lab.disks[0]!.data, 2);
    lab.disks[0]!.badBlocks.add(40);
    const [disk, tape] = [lab.disks[0]!, lab.tapes[0]!];
    const r = await xcopy(
      lab.dm,
      list([e4(disk, blockParams()), e4(tape.drive, variableTape())], [
        { type: 0, src: 0, dst: 1, streamTransferLength: 4096, blocks: 8, lba: 0 },
        { type: 0, src: 0, dst: 1, streamTransferLength: 4096, blocks: 32, lba: 16 },
      ], { listId: 5 }),
    );
    expect(r.status).toBe(2);
    expect(r.sense).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x01, commandSpecific: 1, sks: { kind: 'segment', sd: false, byte: 16 } });
    // Blocks 16-39 of segment 1 went to tape (3 records) before block 40 failed: residual 4096 bytes.
    expect(r.sense!.information).toBe(4096);
    expect(r.senseBytes![8]).toBe(18); // SOURCE SENSE DATA OFFSET
    expect(decodeSense(r.sense!.forwarded![0]!.sense)).toMatchObject({ key: 3, asc: 0x11, information: 40 });
    const st = decodeCopyStatus((await rcr(lab.dm, 0, 5)).data);
    expect(st).toMatchObject({ status: 2, segmentsProcessed: 2, transferCount: 4096 + 24 * 512 });
    const fd = decodeFailedSegmentDetails((await rcr(lab.dm, 4, 5)).data)!;
    expect(fd.commandStatus).toBe(2);
    expect(fd.sense.equals(r.senseBytes!)).toBe(true);
    expect((await rcr(lab.dm, 4, 5)).sense).toMatchObject({ key: 5, asc: 0x24 });
  });

  it('inexact segment (10240-byte records, PAD 0, CAT 0): 26/0A after 102 records, INFORMATION = 4096 bytes', async () => {
    lab = await makeLab();
    const r = await xcopy(lab.dm, backupList(lab, { streamTransferLength: 10240, blocks: 2048 }));
    expect(r.sense).toMatchObject({ key: 0xa, asc: 0x26, ascq: 0x0a, information: 4096 });
    await lab.tapes[0]!.cart.sync();
    expect(lab.tapes[0]!.drive.position).toBe(102);
  });

  it('STREAM DEVICE TRANSFER LENGTH 0: 26/00 at descriptor byte 9; 04h past the inline data: 26/0B', async () => {
    lab = await makeLab();
    expect((await xcopy(lab.dm, backupList(lab, { streamTransferLength: 0 }))).sense).toMatchObject({ key: 0xa, asc: 0x26, ascq: 0, sks: { byte: 80 + 9 } });
    const l = list([e4(lab.tapes[0]!.drive, variableTape())], [{ type: 4, dst: 0, streamTransferLength: 8, inlineOffset: 4, byteCount: 8 }], { listId: 2, inline: Buffer.alloc(8) });
    expect((await xcopy(lab.dm, l)).sense).toMatchObject({ key: 0xa, asc: 0x26, ascq: 0x0b });
  });

  it('DISK BLOCK LENGTH that differs from the LU: 26/00 at CSCD byte 29', async () => {
    lab = await makeLab();
    const l = list([e4(lab.disks[0]!, blockParams(4096)), e4(lab.tapes[0]!.drive, variableTape())], [{ type: 0, src: 0, dst: 1, streamTransferLength: 4096, blocks: 1, lba: 0 }]);
    expect((await xcopy(lab.dm, l)).sense).toMatchObject({ key: 0xa, asc: 0x26, ascq: 0, sks: { byte: 16 + 29 } });
  });

  it('tape record shorter than STREAM DEVICE TRANSFER LENGTH (SILI 0): 0D/01 with the tape ILI sense forwarded', async () => {
    lab = await makeLab();
    fill(lab.disks[0]!.data, 3);
    expect((await xcopy(lab.dm, backupList(lab, { streamTransferLength: 10240, blocks: 20 }))).status).toBe(0);
    const r = await xcopy(lab.dm, list([e4(lab.disks[0]!, blockParams()), e4(lab.tapes[0]!.drive, variableTape())], [{ type: 0x12, dst: 1, logicalObjectId: 0 }, { type: 1, src: 1, dst: 0, streamTransferLength: 65536, blocks: 128, lba: 100 }], { listId: 2 }));
    expect(r.sense).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x01, commandSpecific: 1, sks: { byte: 48 } });
    expect(r.sense!.information).toBeUndefined();
    expect(decodeSense(r.sense!.forwarded![0]!.sense)).toMatchObject({ ili: true });
  });

  it('descriptor-format sense (D_SENSE=1): forwarded sense descriptor 0Ch', async () => {
    lab = await makeLab();
    lab.dm.dSense = true;
    lab.disks[0]!.badBlocks.add(0);
    const r = await xcopy(lab.dm, backupList(lab));
    expect(r.senseBytes![0]).toBe(0x72);
    expect(r.sense).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x01 });
    expect(r.sense!.forwarded![0]!.source).toBe('source');
    expect(decodeSense(r.sense!.forwarded![0]!.sense)).toMatchObject({ key: 3, asc: 0x11 });
  });
});

describe('list identifiers, progress, aborts', () => {
  async function heldCopy(lab: Lab, listId = 1, signal?: AbortSignal) {
    let release!: () => void;
    lab.disks[0]!.gate = new Promise<void>((r) => (release = r));
    const p = xcopy(lab.dm, backupList(lab, { streamTransferLength: 65536, blocks: 2048 }, { listId }), { ...(signal ? { signal } : {}) });
    for (let i = 0; i < 50 && lab.cm.progress().length === 0; i++) await new Promise((r) => setTimeout(r, 2));
    return { p, release: () => release() };
  }

  it('progress is visible while running; a duplicate list ID on the same nexus gets 5/00/16, another nexus may reuse it', async () => {
    lab = await makeLab();
    const { p, release } = await heldCopy(lab);
    const st = decodeCopyStatus((await rcr(lab.dm, 0, 1)).data);
    expect(st).toMatchObject({ status: 0, segmentsProcessed: 1 });
    expect((await xcopy(lab.dm, backupList(lab))).sense).toMatchObject({ key: 5, asc: 0x00, ascq: 0x16 });
    expect((await rcr(lab.dm, 0, 1, { nexus: OTHER })).sense).toMatchObject({ key: 5, asc: 0x24 });
    release();
    expect((await p).status).toBe(0);
    const done = decodeCopyStatus((await rcr(lab.dm, 0, 1)).data);
    expect(done).toMatchObject({ status: 1, segmentsProcessed: 1, transferCount: 1 << 20 });
    expect((await rcr(lab.dm, 0, 1)).sense).toMatchObject({ key: 5, asc: 0x24 });
  });

  it('more copies than TOTAL CONCURRENT COPIES: BUSY, nothing processed', async () => {
    lab = await makeLab();
    let release!: () => void;
    lab.disks[0]!.gate = new Promise<void>((r) => (release = r));
    const running = Array.from({ length: 16 }, (_, i) => xcopy(lab.dm, backupList(lab, { blocks: 8, streamTransferLength: 4096 }, { listId: 10 + i })));
    for (let i = 0; i < 100 && lab.cm.progress().filter((p) => p.state === 'running').length < 16; i++) await new Promise((r) => setTimeout(r, 2));
    const r = await xcopy(lab.dm, backupList(lab, { blocks: 8, streamTransferLength: 4096 }, { listId: 99 }));
    expect(r.status).toBe(0x08);
    release();
    for (const p of running) { const x = await p; expect(x.status, JSON.stringify(x.sense)).toBe(0); }
  });

  it('ABORT TASK (the task signal): TASK ABORTED, status completed with errors', async () => {
    lab = await makeLab();
    const ac = new AbortController();
    const { p, release } = await heldCopy(lab, 3, ac.signal);
    ac.abort();
    release();
    expect((await p).status).toBe(0x40);
    expect(decodeCopyStatus((await rcr(lab.dm, 0, 3)).data)).toMatchObject({ status: 2 });
  });

  it('I_T nexus loss aborts the copy and discards its results', async () => {
    lab = await makeLab();
    const { p, release } = await heldCopy(lab, 4);
    lab.dm.nexusLost(SERVER);
    release();
    expect((await p).status).toBe(0x40);
    expect((await rcr(lab.dm, 0, 4)).sense).toMatchObject({ key: 5, asc: 0x24 });
  });

  it('bytes crossing the backup server port: only the parameter list and status', async () => {
    lab = await makeLab();
    const srv = lab.fabric.port(SERVER.initiatorPort);
    const l = encodeParameterList(backupList(lab, { blocks: 2048 }));
    const r = await srv.command(ROUTER_PORT, 0, encodeXcopyCdb({ parameterListLength: l.length }), { dataOut: l });
    expect(r.status === 0 || decodeSense(r.sense!).key === 6).toBe(true);
    expect(lab.fabric.bytesByInitiator.get(SERVER.initiatorPort)).toBe(l.length);
  });
});

describe('sense bytes', () => {
  it('LBA-out-of-range forwarded block is the disk sense as it would send it', () => {
    expect(encodeSense(Sense.lbaOutOfRange().sense).toString('hex')).toBe('700005000000000a000000002100000000 00'.replace(/ /g, ''));
  });
});

function fill(b: Buffer, seed: number) {
  pattern(b.length, seed).copy(b);
}

describe('end of medium on the tape (extended-copy.md §7.4 worked example)', () => {
  it('VOLUME OVERFLOW after 3 of 16 records: COPY ABORTED 0D/01, residual 13 × 65536, tape sense forwarded at byte 18', async () => {
    lab = await makeLab({ disks: [{ blocks: 4096 }], tapeCapacity: 3 * (65536 + 8) + 40, tapeEarlyWarning: 16 });
    fill(lab.disks[0]!.data, 6);
    const l = list([e4(lab.disks[0]!, blockParams()), e4(lab.tapes[0]!.drive, variableTape())], [
      { type: 0x12, dst: 1, logicalObjectId: 0 },
      { type: 0, src: 0, dst: 1, streamTransferLength: 65536, blocks: 2048, lba: 0 },
    ]);
    const r = await xcopy(lab.dm, l);
    const b = r.senseBytes!;
    // F0 00 0A 00 0D 00 00 | len | 00 12 00 01 | 0D 01 | 00 | 80 00 30 | 02 | tape sense
    expect(b.subarray(0, 7).toString('hex')).toBe('f0000a000d0000');
    expect(b.subarray(8, 19).toString('hex')).toBe('00120001' + '0d01' + '00' + '800030' + '02');
    const tape = decodeSense(b.subarray(19));
    expect(tape).toMatchObject({ key: 0x0d, asc: 0, ascq: 2, eom: true });
    expect(b[7]).toBe(b.length - 8);
    await lab.tapes[0]!.cart.sync();
    expect(lab.tapes[0]!.drive.position).toBe(3);
  });
});

describe('early warning on the tape', () => {
  it('a WRITE that completes with 0/00/02 EOM ends the copy but counts as written', async () => {
    const cap = 64 << 20;
    lab = await makeLab({ disks: [{ blocks: 4096 }], tapeCapacity: cap, tapeEarlyWarning: cap - (2 * (65536 + 8) + 100) });
    const r = await xcopy(lab.dm, backupList(lab, { blocks: 2048 }));
    expect(r.sense).toMatchObject({ key: 0xa, asc: 0x0d, ascq: 0x01 });
    const tape = decodeSense(r.sense!.forwarded![0]!.sense);
    expect(tape).toMatchObject({ key: 0, asc: 0, ascq: 2, eom: true });
    const written = lab.tapes[0]!.drive.position;
    expect(r.sense!.information).toBe((16 - written) * 65536);
  });
});

describe('RECEIVE COPY RESULTS allocation lengths', () => {
  it('a truncated COPY STATUS does not consume the completed state; ALLOCATION LENGTH 0 on FAILED SEGMENT DETAILS discards it', async () => {
    lab = await makeLab();
    lab.disks[0]!.badBlocks.add(0);
    expect((await xcopy(lab.dm, backupList(lab, {}, { listId: 6 }))).status).toBe(2);
    expect((await rcr(lab.dm, 0, 6, { alloc: 8 })).data.length).toBe(8);
    expect(decodeCopyStatus((await rcr(lab.dm, 0, 6)).data)).toMatchObject({ status: 2 });
    expect((await rcr(lab.dm, 4, 6, { alloc: 0 })).status).toBe(0);
    expect((await rcr(lab.dm, 4, 6)).sense).toMatchObject({ key: 5, asc: 0x24 });
  });
});
