/**
 * A resolved copy source/destination: the commands the data mover sends it through its own
 * initiator port, with the retry and failure rules of extended-copy.md §7.2 (UA retried, BUSY /
 * TASK SET FULL retried a few times, anything else ends the copy with COPY ABORTED 0D/01 and the
 * device's own status and sense forwarded).
 */
import { ScsiStatus } from '../../src/scsi/status.js';
import { SenseKey, decodeSense } from '../../src/scsi/sense.js';
import { decodeBlockLimits, encodeLocate10, encodeLocate16, encodeRead6, encodeReadBlockLimitsCdb, encodeSpace16, encodeSpace6, encodeWrite6, encodeWriteFilemarks6 } from '../../src/scsi/tape.js';
import { read16, write16 } from '../../src/scsi/sbc.js';
import type { DeviceTypeParams } from '../../src/scsi/xcopy.js';
import { decodeReadCapacity16, encodeReadCapacity16Cdb, READ_CAPACITY_16_LENGTH } from '../../src/scsi/read-capacity.js';
import { encodePrOutCdb, encodePrOutParams, encodeRegisterAndMoveParams, PrOut, type RegisterAndMoveParams } from '../../src/scsi/persistent-reservations.js';
import type { CscdCandidate, InitiatorPort } from './environment.js';
import type { DataInAllocator, ScsiResult } from '../router/task.js';
import { Abort, type CopyAbort } from './errors.js';

export type Role = 'source' | 'destination';

const UA_RETRIES = 16;
const BUSY_RETRIES = 4;

export class CscdDevice {
  /** Disk: block length and capacity in blocks (READ CAPACITY(16) through the port). */
  blockLength = 0;
  capacity = 0;

  constructor(
    private readonly port: InitiatorPort,
    readonly target: CscdCandidate,
    /** Parameter-list offset of the CSCD descriptor (segment pointer for failures), if it has one. */
    readonly pointer: number | undefined,
    readonly params: DeviceTypeParams,
    private readonly signal: AbortSignal,
  ) {}

  get pdt(): number {
    return this.target.identity.deviceType;
  }

  get pad(): boolean {
    return this.params.kind !== 'raw' && this.params.pad;
  }

  /**
   * Send one command; resolve with the data-in on GOOD. `expect` = bytes the command must return
   * (a shorter GOOD transfer is an underrun 0D/04, a longer one an overrun 0D/05).
   */
  async send(role: Role, cdb: Buffer, opts: { dataOut?: Buffer; dataInLength?: number; expect?: number; into?: Buffer } = {}): Promise<Buffer> {
    const r = await this.command(role, cdb, opts);
    if (r.status === ScsiStatus.GOOD) {
      const data = r.dataIn ?? Buffer.alloc(0);
      if (opts.expect !== undefined && data.length < opts.expect) throw Abort.underrun(this.pointer);
      if (opts.expect !== undefined && data.length > opts.expect) throw Abort.overrun(this.pointer);
      return data;
    }
    throw this.failure(role, r);
  }

  /** COPY ABORTED 0D/01 carrying this device's status and sense. */
  failure(role: Role, r: ScsiResult): CopyAbort {
    const failure = Abort.thirdPartyFailure(this.pointer, [{ source: role, status: r.status, sense: r.sense ?? Buffer.alloc(0) }]);
    failure.completed = r.sense !== undefined && completedWithWarning(r.sense);
    return failure;
  }

  /** One command with the retries of §7.2 (unit attentions, BUSY, TASK SET FULL); any other outcome is returned. */
  async command(role: Role, cdb: Buffer, opts: { dataOut?: Buffer; dataInLength?: number; into?: Buffer } = {}): Promise<ScsiResult> {
    let ua = 0;
    let busy = 0;
    for (;;) {
      this.signal.throwIfAborted();
      let r: ScsiResult;
      try {
        r = await this.port.command(this.target.targetPort, this.target.lun, cdb, {
          ...(opts.dataOut ? { dataOut: opts.dataOut } : {}),
          dataInLength: opts.dataInLength ?? 0,
          signal: this.signal,
          ...(opts.into ? { dataInBuffers: new IntoBuffer(opts.into) } : {}),
        });
      } catch (e) {
        // The data mover's own path to the CSCD is gone (port logged out, LU unmapped): unreachable.
        this.signal.throwIfAborted();
        throw Abort.notReachable(this.pointer, [], e);
      }
      if (r.status === ScsiStatus.TASK_ABORTED) this.signal.throwIfAborted();
      if (r.status === ScsiStatus.CHECK_CONDITION && r.sense && ua < UA_RETRIES && senseKeyOf(r.sense) === SenseKey.UNIT_ATTENTION) {
        ua++;
        continue;
      }
      if ((r.status === ScsiStatus.BUSY || r.status === ScsiStatus.TASK_SET_FULL) && busy < BUSY_RETRIES) {
        busy++;
        await new Promise((res) => setTimeout(res, 2 * busy));
        continue;
      }
      return r;
    }
  }

  // ---------------------------------------------------------------- block devices

  async readCapacity(): Promise<void> {
    const d = await this.send('source', encodeReadCapacity16Cdb({ allocationLength: READ_CAPACITY_16_LENGTH }), { dataInLength: READ_CAPACITY_16_LENGTH });
    if (d.length < READ_CAPACITY_16_LENGTH) throw Abort.underrun(this.pointer);
    const rc = decodeReadCapacity16(d);
    this.capacity = rc.lastLba + 1;
    this.blockLength = rc.blockLength;
  }

  /**
   * READ(16) of `blocks` from `lba`. With `into` (exactly the transfer's size) the LU builds its
   * data-in there and the result is `into` itself; an LU that answers with its own buffer is copied in.
   */
  async readBlocks(lba: number, blocks: number, into?: Buffer): Promise<Buffer> {
    const r = read16(lba, blocks, this.blockLength);
    const data = await this.send('source', r.cdb, { dataInLength: r.length, expect: r.length, ...(into ? { into } : {}) });
    if (!into || (data.buffer === into.buffer && data.byteOffset === into.byteOffset)) return data;
    data.copy(into);
    return into;
  }

  async writeBlocks(lba: number, data: Buffer): Promise<void> {
    await this.send('destination', write16(lba, data.length / this.blockLength, this.blockLength).cdb, { dataOut: data });
  }

  // ---------------------------------------------------------------- stream devices

  /** FIXED=1: blocks of the CSCD's STREAM BLOCK LENGTH; else one variable record. SILI is always 0. */
  private get fixed(): boolean {
    return this.params.kind === 'stream' && this.params.fixed;
  }

  get streamBlockLength(): number {
    return this.params.kind === 'stream' ? this.params.blockLength : 0;
  }

  /** Bytes one READ/WRITE of `transferLength` moves. */
  transferBytes(transferLength: number): number {
    return this.fixed ? transferLength * this.streamBlockLength : transferLength;
  }

  readStream(transferLength: number): Promise<Buffer> {
    const n = this.transferBytes(transferLength);
    return this.send('source', encodeRead6({ fixed: this.fixed, sili: false, transferLength }), { dataInLength: n, expect: n });
  }

  async writeStream(data: Buffer): Promise<void> {
    const transferLength = this.fixed ? data.length / this.streamBlockLength : data.length;
    await this.send('destination', encodeWrite6({ fixed: this.fixed, transferLength }), { dataOut: data });
  }

  /**
   * Tape image copy (13h): the next logical object from the current position. Reads ask for the
   * drive's largest block with SILI=0, so a shorter record comes back CHECK CONDITION / ILI with
   * its data and a positive residue: that is how the record's length is learnt.
   */
  async readObject(): Promise<{ kind: 'record'; data: Buffer } | { kind: 'filemark' } | { kind: 'end' }> {
    const max = (this.maxRecord ??= Math.min(decodeBlockLimits(await this.send('source', encodeReadBlockLimitsCdb(), { dataInLength: 6 })).maxBlockLength || 0xffffff, 0xffffff));
    const fixed = this.fixed;
    const r = await this.command('source', encodeRead6({ fixed, sili: false, transferLength: fixed ? 1 : max }), { dataInLength: fixed ? this.streamBlockLength : max });
    if (r.status === ScsiStatus.GOOD) return { kind: 'record', data: r.dataIn ?? Buffer.alloc(0) };
    const s = r.sense ? safeDecode(r.sense) : undefined;
    if (r.status === ScsiStatus.CHECK_CONDITION && s) {
      if (s.filemark) return { kind: 'filemark' };
      if (s.key === SenseKey.BLANK_CHECK || (s.eom && s.key !== SenseKey.NO_SENSE)) return { kind: 'end' };
      if (s.key === SenseKey.NO_SENSE && s.ili && typeof s.information === 'number' && s.information > 0 && r.dataIn) return { kind: 'record', data: r.dataIn };
    }
    throw this.failure('source', r);
  }

  private maxRecord: number | undefined;

  async writeFilemarks(count: number, immed: boolean, wsmk: boolean): Promise<void> {
    await this.send('destination', encodeWriteFilemarks6({ count, immed, wsmk }));
  }

  /** SPACE(6) while the count fits its signed 24 bits (what every drive knows), SPACE(16) beyond. */
  async space(code: number, count: number): Promise<void> {
    const fits = count >= -0x800000 && count <= 0x7fffff;
    await this.send('destination', fits ? encodeSpace6({ code, count }) : encodeSpace16({ code, count }));
  }

  /** LOCATE(10) for 32-bit object numbers, LOCATE(16) beyond. */
  async locate(logicalId: number): Promise<void> {
    await this.send('destination', logicalId <= 0xffffffff ? encodeLocate10({ logicalId }) : encodeLocate16({ logicalId }));
  }

  async testUnitReady(role: Role): Promise<void> {
    await this.send(role, Buffer.alloc(6));
  }

  async registerAndMove(v: RegisterAndMoveParams): Promise<void> {
    const p = encodeRegisterAndMoveParams(v);
    await this.send('destination', encodePrOutCdb({ serviceAction: PrOut.REGISTER_AND_MOVE, scope: 0, type: 0, parameterListLength: p.length }), { dataOut: p });
  }

  async registerKey(reservationKey: Buffer, serviceActionKey: Buffer): Promise<void> {
    const p = encodePrOutParams({ reservationKey: reservationKey.readBigUInt64BE(0), serviceActionKey: serviceActionKey.readBigUInt64BE(0) });
    await this.send('destination', encodePrOutCdb({ serviceAction: PrOut.REGISTER, scope: 0, type: 0, parameterListLength: p.length }), { dataOut: p });
  }
}

/** A data-in allocator handing out the caller's buffer for a transfer of exactly its size. */
class IntoBuffer implements DataInAllocator {
  constructor(private readonly into: Buffer) {}

  allocDataIn(bytes: number): Buffer {
    return bytes === this.into.length ? this.into : Buffer.allocUnsafe(bytes);
  }
}

function completedWithWarning(sense: Buffer): boolean {
  try {
    const s = decodeSense(sense);
    return s.key === SenseKey.NO_SENSE && !!s.eom;
  } catch {
    return false;
  }
}

function safeDecode(sense: Buffer): ReturnType<typeof decodeSense> | undefined {
  try {
    return decodeSense(sense);
  } catch {
    return undefined;
  }
}

function senseKeyOf(sense: Buffer): number | undefined {
  try {
    return decodeSense(sense).key;
  } catch {
    return undefined;
  }
}
