/**
 * A resolved copy source/destination: the commands the data mover sends it through its own
 * initiator port, with the retry and failure rules of extended-copy.md §7.2 (UA retried, BUSY /
 * TASK SET FULL retried a few times, anything else ends the copy with COPY ABORTED 0D/01 and the
 * device's own status and sense forwarded).
 */
import { ScsiStatus } from '../../src/scsi/status.js';
import { SenseKey, decodeSense } from '../../src/scsi/sense.js';
import { encodeRead6, encodeWrite6, encodeWriteFilemarks6, encodeSpace6, encodeLocate10 } from '../../src/scsi/tape.js';
import type { DeviceTypeParams } from '../../src/scsi/xcopy.js';
import type { CscdCandidate, InitiatorPort } from './environment.js';
import { Abort } from './errors.js';

export type Role = 'source' | 'destination';

const UA_RETRIES = 16;
const BUSY_RETRIES = 4;

// Disk CDBs the data mover issues. (src/scsi/cdb.ts and read-capacity.ts were not committed when this
// was written; switch to them once they are.)
function rw16(opcode: number, lba: number, blocks: number): Buffer {
  const b = Buffer.alloc(16);
  b[0] = opcode;
  b.writeBigUInt64BE(BigInt(lba), 2);
  b.writeUInt32BE(blocks, 10);
  return b;
}
const READ_16 = 0x88;
const WRITE_16 = 0x8a;
function readCapacity16Cdb(): Buffer {
  const b = Buffer.alloc(16);
  b[0] = 0x9e;
  b[1] = 0x10;
  b.writeUInt32BE(32, 10);
  return b;
}
function persistentReserveOutRegister(): Buffer {
  const b = Buffer.alloc(10);
  b[0] = 0x5f;
  b[1] = 0x00; // REGISTER
  b.writeUInt32BE(24, 5);
  return b;
}

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
  async send(role: Role, cdb: Buffer, opts: { dataOut?: Buffer; dataInLength?: number; expect?: number } = {}): Promise<Buffer> {
    let ua = 0;
    let busy = 0;
    for (;;) {
      this.signal.throwIfAborted();
      let r;
      try {
        r = await this.port.command(this.target.targetPort, this.target.lun, cdb, {
          ...(opts.dataOut ? { dataOut: opts.dataOut } : {}),
          dataInLength: opts.dataInLength ?? 0,
          signal: this.signal,
        });
      } catch (e) {
        // The data mover's own path to the CSCD is gone (port logged out, LU unmapped): unreachable.
        this.signal.throwIfAborted();
        throw Abort.notReachable(this.pointer, [], e);
      }
      if (r.status === ScsiStatus.GOOD) {
        const data = r.dataIn ?? Buffer.alloc(0);
        if (opts.expect !== undefined && data.length < opts.expect) throw Abort.underrun(this.pointer);
        if (opts.expect !== undefined && data.length > opts.expect) throw Abort.overrun(this.pointer);
        return data;
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
      const failure = Abort.thirdPartyFailure(this.pointer, [{ source: role, status: r.status, sense: r.sense ?? Buffer.alloc(0) }]);
      failure.completed = r.sense !== undefined && completedWithWarning(r.sense);
      throw failure;
    }
  }

  // ---------------------------------------------------------------- block devices

  async readCapacity(): Promise<void> {
    const d = await this.send('source', readCapacity16Cdb(), { dataInLength: 32 });
    if (d.length < 12) throw Abort.underrun(this.pointer);
    this.capacity = Number(d.readBigUInt64BE(0)) + 1;
    this.blockLength = d.readUInt32BE(8);
  }

  readBlocks(lba: number, blocks: number): Promise<Buffer> {
    const n = blocks * this.blockLength;
    return this.send('source', rw16(READ_16, lba, blocks), { dataInLength: n, expect: n });
  }

  async writeBlocks(lba: number, data: Buffer): Promise<void> {
    await this.send('destination', rw16(WRITE_16, lba, data.length / this.blockLength), { dataOut: data });
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

  async writeFilemarks(count: number, immed: boolean, wsmk: boolean): Promise<void> {
    await this.send('destination', encodeWriteFilemarks6({ count, immed, wsmk }));
  }

  async space(code: number, count: number): Promise<void> {
    await this.send('destination', encodeSpace6({ code, count }));
  }

  async locate(logicalId: number): Promise<void> {
    await this.send('destination', encodeLocate10({ logicalId }));
  }

  async testUnitReady(role: Role): Promise<void> {
    await this.send(role, Buffer.alloc(6));
  }

  async registerKey(reservationKey: Buffer, serviceActionKey: Buffer): Promise<void> {
    const p = Buffer.alloc(24);
    reservationKey.copy(p, 0);
    serviceActionKey.copy(p, 8);
    await this.send('destination', persistentReserveOutRegister(), { dataOut: p });
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

function senseKeyOf(sense: Buffer): number | undefined {
  try {
    return decodeSense(sense).key;
  } catch {
    return undefined;
  }
}
