/**
 * The NDMP TAPE service of one session (ndmp.md §2.4, §6 "Devices and the SSC model"): TAPE_*
 * requests become SSC commands to the drive LU through the router (RESERVE on open, READ(6)/
 * WRITE(6) variable, SPACE, WRITE FILEMARKS, REWIND, LOAD UNLOAD), so the tape, its positions
 * and its reservations are the same ones iSCSI initiators see. The mover writes and reads
 * records through the same object.
 */
import { decodeSense, SenseKey, type SenseInfo } from '../scsi/sense.js';
import { ScsiStatus } from '../scsi/status.js';
import { encodeRead6, encodeRewind, encodeSpace16, encodeSpace6, encodeWrite6, encodeWriteFilemarks6, encodeLoadUnload, SpaceCode } from '../scsi/tape.js';
import { Err, INVALID_U32, TapeFlags, TapeMtio, TapeOpenMode, TapeStateUns } from './constants.js';
import type { NdmpDevices, NdmpTape } from './devices.js';

const RESERVE6 = Buffer.from([0x16, 0, 0, 0, 0, 0]);
const RELEASE6 = Buffer.from([0x17, 0, 0, 0, 0, 0]);
const TUR = Buffer.alloc(6);
const MODE_SENSE6 = Buffer.from([0x1a, 0, 0x3f, 0, 255, 0]);

export interface CmdResult {
  status: number;
  dataIn: Buffer;
  sense?: SenseInfo;
  senseBytes?: Buffer;
}

export type ReadResult = { error: number; data: Buffer };
export type WriteResult = { error: number; count: number; earlyWarning?: boolean };

export class TapeService {
  open?: { tape: NdmpTape; mode: number };
  /** Last change to the tape was a data write: a filemark goes down before rewind/unload/close. */
  private wroteData = false;
  /** After a READ stopped at a filemark, blockno reads back as unknown until the next motion. */
  private afterEof = false;

  constructor(
    private readonly devices: NdmpDevices,
    private readonly owner: object,
  ) {}

  async cmd(cdb: Buffer, opts: { dataOut?: Buffer; dataInLength?: number } = {}, lun = this.open?.tape.lun): Promise<CmdResult> {
    if (lun === undefined) throw new Error('no tape open');
    // A unit attention is reported before the command runs, so retrying it is safe.
    for (let i = 0; ; i++) {
      const r = await this.devices.exec(lun, cdb, opts);
      const sense = r.sense && r.sense.length ? decodeSense(r.sense) : undefined;
      if (r.status === ScsiStatus.CHECK_CONDITION && sense?.key === SenseKey.UNIT_ATTENTION && i < 4) continue;
      return { status: r.status, dataIn: r.dataIn ?? Buffer.alloc(0), ...(sense ? { sense, senseBytes: r.sense! } : {}) };
    }
  }

  async openTape(name: string, mode: number): Promise<number> {
    if (mode !== TapeOpenMode.READ && mode !== TapeOpenMode.RDWR && mode !== TapeOpenMode.RAW) return Err.ILLEGAL_ARGS_ERR;
    if (this.open) return Err.DEVICE_OPENED_ERR;
    const tape = this.devices.tapes().find((t) => t.name === name);
    if (!tape) return Err.NO_DEVICE_ERR;
    if (!this.devices.claim(name, this.owner)) return Err.DEVICE_BUSY_ERR;
    const fail = async (e: number, reserved: boolean) => {
      if (reserved) await this.cmd(RELEASE6, {}, tape.lun).catch(() => undefined);
      this.devices.release(name, this.owner);
      return e;
    };
    const rv = await this.cmd(RESERVE6, {}, tape.lun);
    if (rv.status === ScsiStatus.RESERVATION_CONFLICT) return fail(Err.DEVICE_BUSY_ERR, false);
    if (rv.status !== ScsiStatus.GOOD) return fail(Err.IO_ERR, false);
    const t = await this.cmd(TUR, {}, tape.lun);
    if (t.status !== ScsiStatus.GOOD) return fail(t.sense?.key === SenseKey.NOT_READY && t.sense.asc === 0x3a ? Err.NO_TAPE_LOADED_ERR : Err.IO_ERR, true);
    if (mode !== TapeOpenMode.READ) {
      const ms = await this.cmd(MODE_SENSE6, { dataInLength: 255 }, tape.lun);
      if (ms.status === ScsiStatus.GOOD && ms.dataIn.length >= 3 && ms.dataIn[2]! & 0x80) return fail(Err.WRITE_PROTECT_ERR, true);
    }
    this.open = { tape, mode };
    this.wroteData = false;
    this.afterEof = false;
    return Err.NO_ERR;
  }

  async close(): Promise<number> {
    if (!this.open) return Err.DEV_NOT_OPEN_ERR;
    await this.flushFilemark().catch(() => undefined);
    const { tape } = this.open;
    await this.cmd(RELEASE6).catch(() => undefined);
    this.devices.release(tape.name, this.owner);
    this.open = undefined;
    return Err.NO_ERR;
  }

  private async flushFilemark(): Promise<void> {
    if (!this.wroteData) return;
    this.wroteData = false;
    await this.cmd(encodeWriteFilemarks6({ count: 1 }));
  }

  state(): { unsupported: number; error: number; flags: number; file_num: number; soft_errors: number; block_size: number; blockno: number; total_space: bigint; space_remain: bigint } {
    const none = { unsupported: 0x3f, flags: 0, file_num: INVALID_U32, soft_errors: INVALID_U32, block_size: INVALID_U32, blockno: INVALID_U32, total_space: 0xffff_ffff_ffff_ffffn, space_remain: 0xffff_ffff_ffff_ffffn };
    if (!this.open) return { ...none, error: Err.DEV_NOT_OPEN_ERR };
    const d = this.open.tape.drive;
    const c = d.cartridge;
    if (!c || !d.isReady) return { ...none, error: Err.NO_TAPE_LOADED_ERR };
    const pos = d.position;
    const prev = c.prevFilemark(pos);
    const st = d.status();
    const cap = BigInt(st.capacity ?? 0);
    const used = BigInt(st.bytesUsed ?? 0);
    return {
      unsupported: this.afterEof ? TapeStateUns.BLOCKNO : 0,
      error: Err.NO_ERR,
      flags: TapeFlags.NOREWIND | (c.writeProtected ? TapeFlags.WR_PROT : 0),
      file_num: c.fileIdAt(pos),
      soft_errors: 0,
      block_size: st.blockLength,
      blockno: this.afterEof ? INVALID_U32 : pos - (prev === undefined ? 0 : prev + 1),
      total_space: cap,
      space_remain: cap > used ? cap - used : 0n,
    };
  }

  /** TAPE_MTIO: resid is the part of count not done (spacing into BOP, a filemark or EOD is not an error). */
  async mtio(op: number, count: number): Promise<{ error: number; resid_count: number }> {
    if (!this.open) return { error: Err.DEV_NOT_OPEN_ERR, resid_count: count };
    if (op > TapeMtio.TUR) return { error: Err.ILLEGAL_ARGS_ERR, resid_count: count };
    if (count === 0 && op !== TapeMtio.REW && op !== TapeMtio.TUR && op !== TapeMtio.OFF) return { error: Err.NO_ERR, resid_count: 0 };
    this.afterEof = false;
    switch (op) {
      case TapeMtio.FSF:
      case TapeMtio.BSF: {
        this.wroteData = false;
        const r = await this.space(SpaceCode.FILEMARKS, op === TapeMtio.FSF ? count : -count);
        return r;
      }
      case TapeMtio.FSR:
      case TapeMtio.BSR: {
        this.wroteData = false;
        const fwd = op === TapeMtio.FSR;
        const r = await this.space(SpaceCode.BLOCKS, fwd ? count : -count);
        // v4: records never cross a filemark. SSC spaced over it: step back to its near side.
        if (r.crossedMark) await this.space(SpaceCode.FILEMARKS, fwd ? -1 : 1);
        return { error: r.error, resid_count: r.resid_count };
      }
      case TapeMtio.REW: {
        await this.flushFilemark();
        const r = await this.cmd(encodeRewind());
        return { error: r.status === ScsiStatus.GOOD ? Err.NO_ERR : Err.IO_ERR, resid_count: 0 };
      }
      case TapeMtio.EOF: {
        if (this.open.mode === TapeOpenMode.READ) return { error: Err.PERMISSION_ERR, resid_count: count };
        this.wroteData = false;
        const r = await this.cmd(encodeWriteFilemarks6({ count }));
        if (r.status === ScsiStatus.GOOD) return { error: Err.NO_ERR, resid_count: 0 };
        if (r.sense?.eom && (r.sense.key === SenseKey.NO_SENSE || r.sense.key === SenseKey.RECOVERED_ERROR)) return { error: Err.NO_ERR, resid_count: 0 };
        return { error: r.sense?.key === SenseKey.DATA_PROTECT ? Err.WRITE_PROTECT_ERR : r.sense?.key === SenseKey.VOLUME_OVERFLOW ? Err.EOM_ERR : Err.IO_ERR, resid_count: count };
      }
      case TapeMtio.OFF: {
        await this.flushFilemark();
        const r = await this.cmd(encodeLoadUnload({ load: false }));
        return { error: r.status === ScsiStatus.GOOD ? Err.NO_ERR : Err.IO_ERR, resid_count: 0 };
      }
      case TapeMtio.TUR: {
        const r = await this.cmd(TUR);
        if (r.status === ScsiStatus.GOOD) return { error: Err.NO_ERR, resid_count: 0 };
        return { error: r.sense?.key === SenseKey.NOT_READY ? Err.NO_TAPE_LOADED_ERR : Err.IO_ERR, resid_count: 0 };
      }
    }
    return { error: Err.ILLEGAL_ARGS_ERR, resid_count: count };
  }

  private async space(code: number, count: number): Promise<{ error: number; resid_count: number; crossedMark: boolean }> {
    const cdb = count >= -0x800000 && count <= 0x7fffff ? encodeSpace6({ code, count }) : encodeSpace16({ code, count });
    const r = await this.cmd(cdb);
    if (r.status === ScsiStatus.GOOD) return { error: Err.NO_ERR, resid_count: 0, crossedMark: false };
    const s = r.sense;
    if (s && (s.key === SenseKey.NO_SENSE || s.key === SenseKey.BLANK_CHECK || s.key === SenseKey.RECOVERED_ERROR) && s.information !== undefined) {
      const resid = Math.abs(Number(s.information));
      return { error: Err.NO_ERR, resid_count: resid, crossedMark: !!s.filemark && code === SpaceCode.BLOCKS };
    }
    if (s?.key === SenseKey.NOT_READY) return { error: Err.NO_TAPE_LOADED_ERR, resid_count: Math.abs(count), crossedMark: false };
    return { error: Err.IO_ERR, resid_count: Math.abs(count), crossedMark: false };
  }

  /** One record (TAPE_READ and the mover): min(count, record) bytes; the rest of the record is skipped. */
  async readRecord(count: number): Promise<ReadResult> {
    if (!this.open) return { error: Err.DEV_NOT_OPEN_ERR, data: Buffer.alloc(0) };
    this.afterEof = false;
    this.wroteData = false;
    const r = await this.cmd(encodeRead6({ fixed: false, sili: true, transferLength: count }), { dataInLength: count });
    if (r.status === ScsiStatus.GOOD) return { error: Err.NO_ERR, data: r.dataIn };
    const s = r.sense;
    if (s?.filemark) {
      // SSC moved past the mark; NDMP stays before it (the DMA must FSF 1).
      await this.cmd(encodeSpace6({ code: SpaceCode.FILEMARKS, count: -1 }));
      this.afterEof = true;
      return { error: Err.EOF_ERR, data: Buffer.alloc(0) };
    }
    if (s?.key === SenseKey.BLANK_CHECK || (s?.eom && s.key === SenseKey.NO_SENSE && !s.ili)) return { error: Err.EOM_ERR, data: Buffer.alloc(0) };
    if (s && (s.key === SenseKey.NO_SENSE || s.key === SenseKey.RECOVERED_ERROR) && s.ili) return { error: Err.NO_ERR, data: r.dataIn };
    if (s?.key === SenseKey.NOT_READY) return { error: Err.NO_TAPE_LOADED_ERR, data: Buffer.alloc(0) };
    return { error: Err.IO_ERR, data: Buffer.alloc(0) };
  }

  async writeRecord(data: Buffer): Promise<WriteResult> {
    if (!this.open) return { error: Err.DEV_NOT_OPEN_ERR, count: 0 };
    if (this.open.mode === TapeOpenMode.READ) return { error: Err.PERMISSION_ERR, count: 0 };
    this.afterEof = false;
    const r = await this.cmd(encodeWrite6({ fixed: false, transferLength: data.length }), { dataOut: data });
    if (r.status === ScsiStatus.GOOD) {
      this.wroteData = true;
      return { error: Err.NO_ERR, count: data.length };
    }
    const s = r.sense;
    if (s?.key === SenseKey.VOLUME_OVERFLOW) return { error: Err.EOM_ERR, count: 0 };
    if (s?.eom && (s.key === SenseKey.NO_SENSE || s.key === SenseKey.RECOVERED_ERROR)) {
      // Early warning: the record is on tape.
      this.wroteData = true;
      return { error: Err.EOM_ERR, count: data.length, earlyWarning: true };
    }
    if (s?.key === SenseKey.DATA_PROTECT) return { error: Err.WRITE_PROTECT_ERR, count: 0 };
    if (s?.key === SenseKey.NOT_READY) return { error: Err.NO_TAPE_LOADED_ERR, count: 0 };
    return { error: Err.IO_ERR, count: 0 };
  }

  /** TAPE_EXECUTE_CDB / SCSI_EXECUTE_CDB pass-through. */
  static async execute(
    run: (cdb: Buffer, opts: { dataOut?: Buffer; dataInLength?: number }) => Promise<CmdResult>,
    req: { flags: number; datain_len: number; cdb: Buffer; dataout: Buffer },
  ): Promise<{ error: number; status: number; dataout_len: number; datain: Buffer; ext_sense: Buffer }> {
    const fail = (error: number) => ({ error, status: 0, dataout_len: 0, datain: Buffer.alloc(0), ext_sense: Buffer.alloc(0) });
    if (req.flags > 2 || req.cdb.length < 6 || req.cdb.length > 16) return fail(Err.ILLEGAL_ARGS_ERR);
    const dataIn = req.flags === 1 ? Math.min(req.datain_len, 16 * 1024 * 1024) : 0;
    try {
      const r = await run(req.cdb, { ...(req.flags === 2 ? { dataOut: req.dataout } : {}), dataInLength: dataIn });
      return { error: Err.NO_ERR, status: r.status, dataout_len: req.flags === 2 ? req.dataout.length : 0, datain: r.dataIn.subarray(0, dataIn), ext_sense: r.senseBytes ?? Buffer.alloc(0) };
    } catch {
      return fail(Err.IO_ERR);
    }
  }

  /** Raw CDB to the open drive, without the UA retry (the DMA sees what the drive says). */
  async rawCdb(cdb: Buffer, opts: { dataOut?: Buffer; dataInLength?: number }): Promise<CmdResult> {
    const r = await this.devices.exec(this.open!.tape.lun, cdb, opts);
    return { status: r.status, dataIn: r.dataIn ?? Buffer.alloc(0), ...(r.sense ? { senseBytes: r.sense } : {}) };
  }
}
