/**
 * The disk's command handlers and its command table (the truth RSOC reports). Handlers check in
 * SBC order: CDB fields (reserved bits already refused by the base from the usage masks), medium
 * state, LBA range, transfer limits, write protection, data-out; then move data through the LU.
 */
import { Sense, UA } from '../../../src/scsi/sense.js';
import {
  decodeModeSelect, decodeModeSense, modeSelect, modeSenseData, modeUsage, diskDeviceSpecific, type BlockDescriptor, type DescriptorForm,
} from '../../../src/scsi/mode.js';
import {
  decodeReadCapacity10Cdb, decodeReadCapacity16Cdb, encodeReadCapacity10, encodeReadCapacity16, readCapacity10Usage, readCapacity16Usage,
} from '../../../src/scsi/read-capacity.js';
import {
  SbcOp, SaIn16, decodeBlockCdb, type BlockCdb, decodeGetLbaStatusCdb, decodeStartStopCdb, decodeUnmapCdb, decodeUnmapList,
  encodeLbaStatus, sbcUsage, ProvisioningStatus, UNMAP_DESCRIPTOR_LENGTH, UNMAP_HEADER_LENGTH, type LbaStatusDescriptor,
} from '../../../src/scsi/sbc.js';
import type { CommandContext, CommandDef, DataDirection } from '../../lu/logical-unit.js';
import { ZEROES } from '../backing/block-store.js';
import { EMPTY, MAX_COMPARE_AND_WRITE, MAX_UNMAP_DESCRIPTORS, shortDataOut } from './limits.js';
import type { DiskOps } from './disk-ops.js';
import { SpcOp } from '../../../src/scsi/spc.js';

type Ctx = CommandContext<DiskOps>;

async function testUnitReady({ lu }: Ctx): Promise<undefined> {
  // A stopped (START=0) disk still reports ready: only media access needs START (libiscsi's
  // StartStopUnit NoLoej expects this, and SBC-3 lists TEST UNIT READY apart from media access).
  if (!lu.mediumPresent) throw Sense.mediumNotPresent();
  if (lu.faults.armed) lu.faults.checkReady();
  return undefined;
}

/**
 * The task's signal for data movement: only fault pacing ever waits on it, and reading ctx.signal
 * builds an AbortSignal (see router/task-abort.ts), so plain I/O leaves it alone.
 */
const paceSignal = (ctx: Ctx): AbortSignal | undefined => (ctx.lu.faults.armed ? ctx.signal : undefined);

async function read(ctx: Ctx): Promise<Buffer> {
  const { lu, cdb } = ctx;
  const c = decodeBlockCdb(cdb);
  lu.mediaReady();
  lu.checkRange(c.lba, c.count);
  lu.checkTransferLength(c);
  if (c.count === 0) return EMPTY;
  return lu.readBlocks(c.lba, c.count, paceSignal(ctx), ctx.task.dataInBuffers?.allocDataIn(c.count * lu.blockSize));
}

/**
 * The checks every WRITE-family command makes, in SBC order, and the data that arrived for it;
 * undefined when nothing is to be written.
 */
function writeData(ctx: Ctx): { c: BlockCdb; data: Buffer } | undefined {
  const { lu } = ctx;
  const c = decodeBlockCdb(ctx.cdb);
  // Taken first: the transfer length is the CDB's, whether or not the command then runs.
  const data = lu.deliveredData(ctx, c.count * lu.blockSize);
  lu.mediaReady();
  lu.checkRange(c.lba, c.count);
  lu.checkTransferLength(c);
  lu.checkWritable();
  return data.length === 0 ? undefined : { c, data };
}

async function write(ctx: Ctx): Promise<undefined> {
  const { lu } = ctx;
  const w = writeData(ctx);
  if (!w) return undefined;
  const { c, data } = w;
  await lu.writeBlocks(c.lba, data, c.fua, paceSignal(ctx));
  return undefined;
}

async function writeAndVerify(ctx: Ctx): Promise<undefined> {
  const { lu } = ctx;
  const w = writeData(ctx);
  if (!w) return undefined;
  const { c, data } = w;
  // Verification reads the medium back, so the data must be on it first.
  await lu.writeBlocks(c.lba, data, true, paceSignal(ctx));
  if (c.bytchk) {
    const back = await lu.store.read(c.lba * lu.blockSize, data.length);
    const at = firstDifference(back, data);
    if (at >= 0) throw Sense.miscompare(at);
  }
  return undefined;
}

async function verify(ctx: Ctx): Promise<undefined> {
  const { lu, cdb, signal } = ctx;
  const c = decodeBlockCdb(cdb);
  if (c.bytchk === 2) throw Sense.invalidFieldInCdb(1, 2);
  const bs = lu.blockSize;
  // BYTCHK 00b: no data-out; 01b: the blocks; 11b: one block, compared with each.
  const need = c.bytchk === 0 ? 0 : c.bytchk === 3 ? bs : c.count * bs;
  const sent = ctx.takeDataOut(need);
  lu.mediaReady();
  lu.checkRange(c.lba, c.count);
  lu.checkTransferLength(c);
  if (c.count === 0) return undefined;
  if (sent.length < need) throw shortDataOut();
  const expected = c.bytchk === 0 ? undefined : sent;
  const medium = await lu.readBlocks(c.lba, c.count, signal);
  if (!expected) return undefined;
  if (c.bytchk === 1) {
    const at = firstDifference(medium, expected);
    if (at >= 0) throw Sense.miscompare(at);
  } else {
    for (let b = 0; b < c.count; b++) {
      const at = firstDifference(medium.subarray(b * bs, (b + 1) * bs), expected);
      if (at >= 0) throw Sense.miscompare(b * bs + at);
    }
  }
  return undefined;
}

/**
 * COMPARE AND WRITE (SBC-3 §5.2): the data-out holds N blocks to compare with the medium and N
 * blocks to write; on a difference nothing is written and MISCOMPARE gives the offset of the first
 * differing byte in the data-out. Compare and write run with other writes held back.
 */
async function compareAndWrite(ctx: Ctx): Promise<undefined> {
  const { lu, cdb, signal } = ctx;
  const c = decodeBlockCdb(cdb);
  if (c.count > MAX_COMPARE_AND_WRITE) throw Sense.invalidFieldInCdb(13);
  lu.mediaReady();
  lu.checkRange(c.lba, c.count);
  lu.checkWritable();
  const half = c.count * lu.blockSize;
  const d = ctx.task.dataOut ?? EMPTY;
  // The data-out must be exactly both halves; any other size contradicts NUMBER OF LOGICAL BLOCKS
  // (e.g. 256 blocks of data behind an NLB byte that wrapped to 0).
  if (d.length !== 2 * half) throw Sense.invalidFieldInCdb(13);
  if (c.count === 0) return undefined;
  await lu.exclusively(async () => {
    const medium = await lu.readBlocks(c.lba, c.count, signal);
    const at = firstDifference(medium, d.subarray(0, half));
    if (at >= 0) throw Sense.miscompare(at);
    await lu.writeNow(c.lba, d.subarray(half), c.fua, signal);
  });
  return undefined;
}

/**
 * ORWRITE(16) (SBC-3 §5.9): each medium byte becomes medium OR data-out, done like COMPARE AND
 * WRITE with other writes held back so the read-modify-write is one step.
 */
async function orWrite(ctx: Ctx): Promise<undefined> {
  const { lu, signal } = ctx;
  const w = writeData(ctx);
  if (!w) return undefined;
  const { c, data } = w;
  await lu.exclusively(async () => {
    const merged = await lu.store.read(c.lba * lu.blockSize, data.length);
    for (let i = 0; i < merged.length; i++) merged[i] = merged[i]! | data[i]!;
    await lu.writeNow(c.lba, merged, c.fua, signal);
  });
  return undefined;
}

function firstDifference(a: Buffer, b: Buffer): number {
  if (a.equals(b)) return -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

async function synchronizeCache({ lu, cdb }: Ctx): Promise<undefined> {
  const c = decodeBlockCdb(cdb);
  lu.mediaReady();
  lu.checkRange(c.lba, c.count);
  await lu.store.flush();
  return undefined;
}

/**
 * PRE-FETCH(10/16): the whole image is one page-cache read away, so there is nothing to stage;
 * the range is checked and GOOD (not CONDITION MET: no cache space was set aside) returned.
 * PREFETCH LENGTH 0 means to the last LBA.
 */
async function preFetch({ lu, cdb }: Ctx): Promise<undefined> {
  const c = decodeBlockCdb(cdb);
  lu.mediaReady();
  lu.checkRange(c.lba, c.count);
  return undefined;
}

async function writeSame(ctx: Ctx): Promise<undefined> {
  const { lu, cdb } = ctx;
  const c = decodeBlockCdb(cdb);
  // ANC_SUP=0 in VPD B2h: an anchored state is not offered (SBC-3 §5.43/5.44).
  if (c.anchor) throw Sense.invalidFieldInCdb(1, 4);
  lu.mediaReady();
  if (c.lba > lu.blocks) throw Sense.lbaOutOfRange();
  // NUMBER OF LOGICAL BLOCKS 0 (WSNZ=0): from LBA to the last LBA.
  const count = c.count === 0 ? lu.blocks - c.lba : c.count;
  lu.checkRange(c.lba, count);
  if (count > lu.maxWriteSameBlocks) throw Sense.invalidFieldInCdb(c.opcode === SbcOp.WRITE_SAME_10 ? 7 : 10);
  lu.checkWritable();
  let block: Buffer;
  if (c.ndob) block = ZEROES.subarray(0, lu.blockSize);
  else {
    const d = ctx.task.dataOut;
    // Exactly one logical block of data-out; anything else is a malformed request.
    if (!d || d.length !== lu.blockSize) throw shortDataOut();
    block = d;
  }
  if (count === 0) return undefined;
  // UNMAP=1 deallocates whatever the block holds (LBPRZ=1: the range then reads as zeros), as
  // SBC-3 §5.44 lets the device server do and libiscsi's WriteSame*.UnmapUntilEnd expects.
  if (c.unmap && lu.thin) await lu.unmapBlocks(c.lba, count, ctx.signal);
  else await lu.fillBlocks(c.lba, count, block, ctx.signal);
  return undefined;
}

async function unmap(ctx: Ctx): Promise<undefined> {
  const { lu, cdb } = ctx;
  const c = decodeUnmapCdb(cdb);
  if (c.anchor) throw Sense.invalidFieldInCdb(1, 0);
  lu.mediaReady();
  if (c.parameterListLength === 0) return undefined;
  if (c.parameterListLength < UNMAP_HEADER_LENGTH) throw Sense.paramListLengthError();
  const list = lu.dataOut(ctx, c.parameterListLength);
  const l = decodeUnmapList(list);
  if (l.dataLength > list.length - 2) throw Sense.paramListLengthError(0);
  if (l.blockDescriptorDataLength > list.length - UNMAP_HEADER_LENGTH) throw Sense.paramListLengthError(2);
  if (l.descriptors.length > MAX_UNMAP_DESCRIPTORS) throw Sense.invalidFieldInParam(2);
  lu.checkWritable();
  // Validate every descriptor before deallocating anything.
  l.descriptors.forEach((d, i) => {
    if (d.lba > lu.blocks || d.lba + d.count > lu.blocks) {
      const e = Sense.lbaOutOfRange();
      e.sense.sks = { kind: 'field', cd: false, byte: UNMAP_HEADER_LENGTH + i * UNMAP_DESCRIPTOR_LENGTH };
      throw e;
    }
  });
  for (const d of l.descriptors) if (d.count) await lu.unmapBlocks(d.lba, d.count, ctx.signal);
  return undefined;
}

async function getLbaStatus({ lu, cdb }: Ctx): Promise<Buffer> {
  const c = decodeGetLbaStatusCdb(cdb);
  lu.mediaReady();
  if (c.lba >= lu.blocks) throw Sense.lbaOutOfRange();
  const room = Math.max(1, Math.min(64, Math.floor((c.allocationLength - 8) / 16)));
  const ds: LbaStatusDescriptor[] = [];
  let lba = c.lba;
  while (ds.length < room && lba < lu.blocks) {
    const isMapped = lu.mapped.get(lba);
    const n = lu.mapped.runLength(lba, Math.min(0xffffffff, lu.blocks - lba), isMapped);
    ds.push({ lba, count: n, status: isMapped ? ProvisioningStatus.MAPPED : ProvisioningStatus.DEALLOCATED });
    lba += n;
  }
  return encodeLbaStatus(ds);
}

async function readCapacity10({ lu, cdb }: Ctx): Promise<Buffer> {
  const c = decodeReadCapacity10Cdb(cdb);
  if (!c.pmi && c.lba !== 0) throw Sense.invalidFieldInCdb(2);
  if (!lu.mediumPresent) throw Sense.mediumNotPresent();
  return encodeReadCapacity10({ lastLba: lu.blocks - 1, blockLength: lu.blockSize });
}

async function readCapacity16({ lu, cdb }: Ctx): Promise<Buffer> {
  const c = decodeReadCapacity16Cdb(cdb);
  if (!c.pmi && c.lba !== 0) throw Sense.invalidFieldInCdb(2);
  if (!lu.mediumPresent) throw Sense.mediumNotPresent();
  return encodeReadCapacity16({
    lastLba: lu.blocks - 1,
    blockLength: lu.blockSize,
    lbppbe: lu.physicalExponent(),
    lbpme: lu.thin,
    lbprz: lu.thin,
  });
}

async function startStopUnit({ lu, cdb }: Ctx): Promise<undefined> {
  const c = decodeStartStopCdb(cdb);
  // A POWER CONDITION other than START_VALID moves between power states only; START and LOEJ are
  // ignored (SBC-3 §5.25). dmsim has no power states to leave, so these complete at once.
  if (c.powerCondition !== 0) return undefined;
  if (c.loej && lu.removable) {
    // While removal is prevented the medium may be neither ejected nor loaded (libiscsi
    // PreventAllow.Eject expects 53/02 for both).
    if (lu.isRemovalPrevented) throw Sense.mediumRemovalPrevented();
    if (c.start) {
      lu.mediumPresent = true;
      lu.stopped = false;
      return undefined;
    }
    if (!c.noFlush) await lu.store.flush();
    lu.mediumPresent = false;
    return undefined;
  }
  if (c.start) lu.stopped = false;
  else {
    if (!c.noFlush) await lu.store.flush();
    lu.stopped = true;
  }
  return undefined;
}

async function preventAllow({ lu, cdb, nexus }: Ctx): Promise<undefined> {
  // 10b and 11b are obsolete for direct-access devices: RemovalPrevention refuses them.
  lu.applyPreventAllow(cdb, nexus);
  return undefined;
}

async function modeSense({ lu, cdb }: Ctx): Promise<Buffer> {
  const c = decodeModeSense(cdb);
  return modeSenseData(c, {
    pages: lu.pages,
    descriptorForm: 'direct',
    deviceSpecific: () => diskDeviceSpecific({ wp: lu.writeProtected, dpofua: true }),
    descriptors: (pc) => lu.descriptors(pc),
    preferLong: () => lu.blocks > 0xffffffff,
  });
}

async function modeSelectHandler(ctx: Ctx): Promise<undefined> {
  const { lu, cdb, nexus } = ctx;
  const c = decodeModeSelect(cdb);
  const changed = modeSelect(c, ctx.task.dataOut, {
    pages: lu.pages,
    descriptorForm: 'direct',
    checkDescriptor: (d: BlockDescriptor, offset: number, form: DescriptorForm) => {
      // The capacity and block length are fixed by the lab: accept only "no change".
      const lenAt = form === 'long' ? offset + 12 : offset + 5;
      if (d.blocks !== 0 && d.blocks !== Math.min(lu.blocks, form === 'long' ? lu.blocks : 0xffffffff)) throw Sense.invalidFieldInParam(offset);
      if (d.blockLength !== lu.blockSize) throw Sense.invalidFieldInParam(lenAt);
    },
  });
  if (changed.length) lu.queueUnitAttention(UA.MODE_PARAMETERS_CHANGED, { except: nexus.key });
  return undefined;
}

// ================================================================== the table

export function diskCommands(thin: boolean): CommandDef<DiskOps>[] {
  const rw = (opcode: number, name: string, cdbLength: number, rsv: 'read' | 'write', data: DataDirection, usage: readonly number[], handler: (c: Ctx) => Promise<unknown>): CommandDef<DiskOps> => ({
    opcode, name, cdbLength, rsv, data, usage: [...usage], handler: handler as CommandDef<DiskOps>['handler'],
  });
  const table: CommandDef<DiskOps>[] = [
    { opcode: SbcOp.TEST_UNIT_READY, name: 'TEST UNIT READY', cdbLength: 6, rsv: 'other', data: 'none', usage: [...sbcUsage.testUnitReady], handler: testUnitReady },
    rw(SbcOp.READ_6, 'READ(6)', 6, 'read', 'in', sbcUsage.rw6, read),
    rw(SbcOp.WRITE_6, 'WRITE(6)', 6, 'write', 'out', sbcUsage.rw6, write),
    { opcode: SpcOp.MODE_SELECT_6, name: 'MODE SELECT(6)', cdbLength: 6, rsv: 'other', data: 'out', usage: [...modeUsage.select6], handler: modeSelectHandler },
    { opcode: SpcOp.MODE_SENSE_6, name: 'MODE SENSE(6)', cdbLength: 6, rsv: 'read', data: 'in', allocation: [4, 1], usage: [...modeUsage.sense6], handler: modeSense },
    { opcode: SbcOp.START_STOP_UNIT, name: 'START STOP UNIT', cdbLength: 6, rsv: 'other', data: 'none', usage: [...sbcUsage.startStopUnit], handler: startStopUnit },
    { opcode: SbcOp.PREVENT_ALLOW, name: 'PREVENT ALLOW MEDIUM REMOVAL', cdbLength: 6, rsv: 'other', data: 'none', usage: [...sbcUsage.preventAllow], handler: preventAllow },
    { opcode: SbcOp.READ_CAPACITY_10, name: 'READ CAPACITY(10)', cdbLength: 10, rsv: 'always', data: 'in', usage: [...readCapacity10Usage], handler: readCapacity10 },
    rw(SbcOp.READ_10, 'READ(10)', 10, 'read', 'in', sbcUsage.rw10, read),
    rw(SbcOp.WRITE_10, 'WRITE(10)', 10, 'write', 'out', sbcUsage.rw10, write),
    rw(SbcOp.WRITE_AND_VERIFY_10, 'WRITE AND VERIFY(10)', 10, 'write', 'out', sbcUsage.writeAndVerify10, writeAndVerify),
    rw(SbcOp.VERIFY_10, 'VERIFY(10)', 10, 'read', 'out', sbcUsage.verify10, verify),
    rw(SbcOp.PRE_FETCH_10, 'PRE-FETCH(10)', 10, 'read', 'none', sbcUsage.preFetch10, preFetch),
    rw(SbcOp.SYNCHRONIZE_CACHE_10, 'SYNCHRONIZE CACHE(10)', 10, 'write', 'none', sbcUsage.synchronizeCache10, synchronizeCache),
    rw(SbcOp.WRITE_SAME_10, 'WRITE SAME(10)', 10, 'write', 'out', sbcUsage.writeSame10, writeSame),
    { opcode: SpcOp.MODE_SELECT_10, name: 'MODE SELECT(10)', cdbLength: 10, rsv: 'other', data: 'out', usage: [...modeUsage.select10], handler: modeSelectHandler },
    { opcode: SpcOp.MODE_SENSE_10, name: 'MODE SENSE(10)', cdbLength: 10, rsv: 'read', data: 'in', allocation: [7, 2], usage: [...modeUsage.sense10], handler: modeSense },
    rw(SbcOp.READ_16, 'READ(16)', 16, 'read', 'in', sbcUsage.rw16, read),
    rw(SbcOp.ORWRITE_16, 'ORWRITE(16)', 16, 'write', 'out', sbcUsage.rw16, orWrite),
    rw(SbcOp.COMPARE_AND_WRITE, 'COMPARE AND WRITE', 16, 'write', 'out', sbcUsage.compareAndWrite, compareAndWrite),
    rw(SbcOp.WRITE_16, 'WRITE(16)', 16, 'write', 'out', sbcUsage.rw16, write),
    rw(SbcOp.WRITE_AND_VERIFY_16, 'WRITE AND VERIFY(16)', 16, 'write', 'out', sbcUsage.writeAndVerify16, writeAndVerify),
    rw(SbcOp.VERIFY_16, 'VERIFY(16)', 16, 'read', 'out', sbcUsage.verify16, verify),
    rw(SbcOp.PRE_FETCH_16, 'PRE-FETCH(16)', 16, 'read', 'none', sbcUsage.preFetch16, preFetch),
    rw(SbcOp.SYNCHRONIZE_CACHE_16, 'SYNCHRONIZE CACHE(16)', 16, 'write', 'none', sbcUsage.synchronizeCache16, synchronizeCache),
    rw(SbcOp.WRITE_SAME_16, 'WRITE SAME(16)', 16, 'write', 'out', sbcUsage.writeSame16, writeSame),
    {
      opcode: SbcOp.SERVICE_ACTION_IN_16, serviceAction: SaIn16.READ_CAPACITY_16, name: 'READ CAPACITY(16)', cdbLength: 16, rsv: 'always', data: 'in', allocation: [10, 4],
      usage: [...readCapacity16Usage], handler: readCapacity16,
    },
    rw(SbcOp.READ_12, 'READ(12)', 12, 'read', 'in', sbcUsage.rw12, read),
    rw(SbcOp.WRITE_12, 'WRITE(12)', 12, 'write', 'out', sbcUsage.rw12, write),
    rw(SbcOp.WRITE_AND_VERIFY_12, 'WRITE AND VERIFY(12)', 12, 'write', 'out', sbcUsage.writeAndVerify12, writeAndVerify),
    rw(SbcOp.VERIFY_12, 'VERIFY(12)', 12, 'read', 'out', sbcUsage.verify12, verify),
  ];
  if (thin) {
    table.push(
      { opcode: SbcOp.UNMAP, name: 'UNMAP', cdbLength: 10, rsv: 'write', data: 'out', usage: [...sbcUsage.unmap], handler: unmap },
      {
        opcode: SbcOp.SERVICE_ACTION_IN_16, serviceAction: SaIn16.GET_LBA_STATUS, name: 'GET LBA STATUS', cdbLength: 16, rsv: 'read', data: 'in', allocation: [10, 4],
        usage: [...sbcUsage.getLbaStatus], handler: getLbaStatus,
      },
    );
  }
  return table;
}
