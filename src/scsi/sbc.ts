/**
 * Block command (SBC-3) wire structures: the READ/WRITE/VERIFY/WRITE AND VERIFY/WRITE SAME/SYNCHRONIZE
 * CACHE CDB family, UNMAP (CDB + parameter list), GET LBA STATUS (CDB + parameter data), START STOP
 * UNIT, PREVENT ALLOW MEDIUM REMOVAL, and the block device VPD pages B0h (Block Limits), B1h (Block
 * Device Characteristics) and B2h (Logical Block Provisioning).
 *
 * The LBA-range CDBs are decoded by hand (one function, `decodeBlockCdb`) rather than through a
 * buffer-layout struct because they are on the iSCSI data path for every I/O; the structs below
 * declare the same layouts for encoding and the golden-vector tests check both agree.
 */
import { bit, blob, field, pack, struct, u8, u16, u32, u64 } from './layout.js';
import { RW_LAYOUTS, type CdbRequest } from './cdb.js';

export const SbcOp = {
  TEST_UNIT_READY: 0x00,
  READ_6: 0x08,
  WRITE_6: 0x0a,
  START_STOP_UNIT: 0x1b,
  PREVENT_ALLOW: 0x1e,
  READ_CAPACITY_10: 0x25,
  READ_10: 0x28,
  WRITE_10: 0x2a,
  WRITE_AND_VERIFY_10: 0x2e,
  VERIFY_10: 0x2f,
  PRE_FETCH_10: 0x34,
  SYNCHRONIZE_CACHE_10: 0x35,
  WRITE_SAME_10: 0x41,
  UNMAP: 0x42,
  READ_16: 0x88,
  WRITE_16: 0x8a,
  ORWRITE_16: 0x8b,
  WRITE_AND_VERIFY_16: 0x8e,
  VERIFY_16: 0x8f,
  PRE_FETCH_16: 0x90,
  SYNCHRONIZE_CACHE_16: 0x91,
  WRITE_SAME_16: 0x93,
  COMPARE_AND_WRITE: 0x89,
  SERVICE_ACTION_IN_16: 0x9e,
  READ_12: 0xa8,
  WRITE_12: 0xaa,
  WRITE_AND_VERIFY_12: 0xae,
  VERIFY_12: 0xaf,
} as const;

export const SaIn16 = { READ_CAPACITY_16: 0x10, GET_LBA_STATUS: 0x12 } as const;

// ---------------------------------------------------------------- LBA-range CDBs

/**
 * Every LBA + length CDB of SBC-3 in one shape. `count` is the NUMBER OF LOGICAL BLOCKS / TRANSFER
 * LENGTH / VERIFICATION LENGTH as written (READ/WRITE(6): 0 means 256, already applied).
 * LBAs beyond 2^53 come out inexact but still beyond any capacity dmsim serves, which is all the
 * range check needs.
 */
export interface BlockCdb {
  opcode: number;
  lba: number;
  count: number;
  /** RDPROTECT / WRPROTECT / VRPROTECT (byte 1 bits 7..5). */
  protect: number;
  dpo: boolean;
  fua: boolean;
  /** VERIFY / WRITE AND VERIFY: BYTCHK (byte 1 bits 2..1). */
  bytchk: number;
  /** WRITE SAME: ANCHOR (bit 4), UNMAP (bit 3), NDOB (WRITE SAME(16) bit 0). */
  anchor: boolean;
  unmap: boolean;
  ndob: boolean;
  /** SYNCHRONIZE CACHE: IMMED (bit 1). */
  immed: boolean;
  group: number;
}

const TWO32 = 0x1_0000_0000;

/** Where each CDB size keeps LBA / length / group. */
export function decodeBlockCdb(cdb: Buffer): BlockCdb {
  const op = cdb[0]!;
  const b1 = cdb[1]!;
  let lba: number;
  let count: number;
  let group = 0;
  switch (op >> 5) {
    case 0: // 6-byte
      lba = ((b1 & 0x1f) << 16) | (cdb[2]! << 8) | cdb[3]!;
      count = cdb[4]! || 256;
      return { opcode: op, lba, count, protect: 0, dpo: false, fua: false, bytchk: 0, anchor: false, unmap: false, ndob: false, immed: false, group };
    case 1: // 10-byte
    case 2:
      lba = cdb.readUInt32BE(2);
      count = cdb.readUInt16BE(7);
      group = cdb[6]! & 0x1f;
      break;
    case 5: // 12-byte
      lba = cdb.readUInt32BE(2);
      count = cdb.readUInt32BE(6);
      group = cdb[10]! & 0x1f;
      break;
    case 4: // 16-byte
      lba = cdb.readUInt32BE(2) * TWO32 + cdb.readUInt32BE(6);
      // COMPARE AND WRITE keeps its NUMBER OF LOGICAL BLOCKS in byte 13 alone (bytes 10..12 reserved).
      count = op === SbcOp.COMPARE_AND_WRITE ? cdb[13]! : cdb.readUInt32BE(10);
      group = cdb[14]! & 0x1f;
      break;
    default:
      throw new RangeError(`opcode ${op} has no LBA-range form`);
  }
  // SYNCHRONIZE CACHE and PRE-FETCH carry IMMED in bit 1 instead of DPO/FUA.
  const sync = op === SbcOp.SYNCHRONIZE_CACHE_10 || op === SbcOp.SYNCHRONIZE_CACHE_16 || op === SbcOp.PRE_FETCH_10 || op === SbcOp.PRE_FETCH_16;
  const ws = op === SbcOp.WRITE_SAME_10 || op === SbcOp.WRITE_SAME_16;
  return {
    opcode: op,
    lba,
    count,
    protect: b1 >> 5,
    dpo: !sync && !ws && (b1 & 0x10) !== 0,
    fua: !sync && !ws && (b1 & 0x08) !== 0,
    bytchk: (b1 >> 1) & 3,
    anchor: ws && (b1 & 0x10) !== 0,
    unmap: ws && (b1 & 0x08) !== 0,
    ndob: op === SbcOp.WRITE_SAME_16 && (b1 & 0x01) !== 0,
    immed: sync && (b1 & 0x02) !== 0,
    group,
  };
}

export type BlockCdbInput = Partial<Omit<BlockCdb, 'opcode' | 'lba' | 'count'>> & Pick<BlockCdb, 'opcode' | 'lba' | 'count'>;

/** Encode any LBA-range CDB (initiator side: backup server, copy manager, tests). */
export function encodeBlockCdb(v: BlockCdbInput): Buffer {
  const op = v.opcode;
  const sync = op === SbcOp.SYNCHRONIZE_CACHE_10 || op === SbcOp.SYNCHRONIZE_CACHE_16 || op === SbcOp.PRE_FETCH_10 || op === SbcOp.PRE_FETCH_16;
  const ws = op === SbcOp.WRITE_SAME_10 || op === SbcOp.WRITE_SAME_16;
  const b1 = sync
    ? pack([!!v.immed, 1])
    : ws
      ? pack([v.protect ?? 0, 5, 3], [!!v.anchor, 4], [!!v.unmap, 3], [!!v.ndob, 0])
      : pack([v.protect ?? 0, 5, 3], [!!v.dpo, 4], [!!v.fua, 3], [v.bytchk ?? 0, 1, 2]);
  const group = v.group ?? 0;
  switch (op >> 5) {
    case 0:
      if (v.lba > 0x1fffff || v.count > 256 || v.count < 1) throw new RangeError('LBA or length outside a 6-byte CDB');
      return RW_LAYOUTS[6].encode({ opcode: op, lbaHi: v.lba >> 16, lbaLo: v.lba & 0xffff, len: v.count & 0xff, control: 0 });
    case 1:
    case 2:
      if (v.lba > 0xffffffff || v.count > 0xffff) throw new RangeError('LBA or length outside a 10-byte CDB');
      return RW_LAYOUTS[10].encode({ opcode: op, flags: b1, lba: v.lba, group, len: v.count, control: 0 });
    case 5:
      if (v.lba > 0xffffffff) throw new RangeError('LBA outside a 12-byte CDB');
      return RW_LAYOUTS[12].encode({ opcode: op, flags: b1, lba: v.lba, len: v.count, group, control: 0 });
    case 4:
      if (op === SbcOp.COMPARE_AND_WRITE && v.count > 0xff) throw new RangeError('COMPARE AND WRITE moves at most 255 blocks');
      return RW_LAYOUTS[16].encode({ opcode: op, flags: b1, lba: v.lba, len: v.count, group, control: 0 });
    default:
      throw new RangeError(`opcode ${op} has no LBA-range form`);
  }
}

/** READ(16) of `blocks` from `lba` on an LU of `blockSize`-byte blocks. */
export const read16 = (lba: number, blocks: number, blockSize: number): CdbRequest => ({
  cdb: encodeBlockCdb({ opcode: SbcOp.READ_16, lba, count: blocks }),
  direction: 'in',
  length: blocks * blockSize,
});

/** WRITE(16) of `blocks` at `lba`. */
export const write16 = (lba: number, blocks: number, blockSize: number): CdbRequest => ({
  cdb: encodeBlockCdb({ opcode: SbcOp.WRITE_16, lba, count: blocks }),
  direction: 'out',
  length: blocks * blockSize,
});

/** WRITE SAME(16) of `blocks` at `lba`: one block of data out (none with NDOB). */
export const writeSame16 = (v: { lba: number; blocks: number; unmap?: boolean; anchor?: boolean; ndob?: boolean }, blockSize: number): CdbRequest => ({
  cdb: encodeBlockCdb({ opcode: SbcOp.WRITE_SAME_16, lba: v.lba, count: v.blocks, unmap: !!v.unmap, anchor: !!v.anchor, ndob: !!v.ndob }),
  direction: 'out',
  length: v.ndob ? 0 : blockSize,
});

// ---------------------------------------------------------------- UNMAP

export interface UnmapCdb {
  anchor: boolean;
  group: number;
  parameterListLength: number;
}

interface UnmapCdbRaw { opcode: number; b1: number; r2: number; r3: number; r4: number; r5: number; group: number; len: number; control: number }
const unmapCdb = struct<UnmapCdbRaw>([u8('opcode'), u8('b1'), u8('r2'), u8('r3'), u8('r4'), u8('r5'), u8('group'), u16('len'), u8('control')]);

export function decodeUnmapCdb(cdb: Buffer): UnmapCdb {
  const r = unmapCdb.decode(cdb);
  return { anchor: bit(r.b1, 0), group: field(r.group, 0, 5), parameterListLength: r.len };
}

export function encodeUnmapCdb(v: Partial<UnmapCdb> & { parameterListLength: number }): Buffer {
  return unmapCdb.encode({ opcode: SbcOp.UNMAP, b1: pack([!!v.anchor, 0]), r2: 0, r3: 0, r4: 0, r5: 0, group: v.group ?? 0, len: v.parameterListLength, control: 0 });
}

export interface UnmapDescriptor {
  lba: number;
  count: number;
}

interface UnmapHdrRaw { dataLen: number; bdLen: number; r: number }
const unmapHdr = struct<UnmapHdrRaw>([u16('dataLen'), u16('bdLen'), u32('r')]);
interface UnmapDescRaw { lba: number; count: number; r: number }
const unmapDesc = struct<UnmapDescRaw>([u64('lba'), u32('count'), u32('r')]);

export const UNMAP_HEADER_LENGTH = 8;
export const UNMAP_DESCRIPTOR_LENGTH = 16;

export function encodeUnmapList(ds: UnmapDescriptor[]): Buffer {
  const b = Buffer.alloc(UNMAP_HEADER_LENGTH + ds.length * UNMAP_DESCRIPTOR_LENGTH);
  unmapHdr.encode({ dataLen: b.length - 2, bdLen: ds.length * UNMAP_DESCRIPTOR_LENGTH, r: 0 }, b);
  ds.forEach((d, i) => unmapDesc.encode({ lba: d.lba, count: d.count, r: 0 }, b, UNMAP_HEADER_LENGTH + i * UNMAP_DESCRIPTOR_LENGTH));
  return b;
}

export interface UnmapList {
  dataLength: number;
  blockDescriptorDataLength: number;
  descriptors: UnmapDescriptor[];
}

/**
 * Parse an UNMAP parameter list without judging it (the disk applies SBC-3 §5.28's rules with the
 * lengths it was given). Descriptors are taken from what the BLOCK DESCRIPTOR DATA LENGTH says,
 * limited to whole descriptors present in `b`.
 */
export function decodeUnmapList(b: Buffer): UnmapList {
  const h = unmapHdr.decode(b);
  const descriptors: UnmapDescriptor[] = [];
  const end = Math.min(b.length, UNMAP_HEADER_LENGTH + h.bdLen);
  for (let p = UNMAP_HEADER_LENGTH; p + UNMAP_DESCRIPTOR_LENGTH <= end; p += UNMAP_DESCRIPTOR_LENGTH) {
    descriptors.push({ lba: b.readUInt32BE(p) * TWO32 + b.readUInt32BE(p + 4), count: b.readUInt32BE(p + 8) });
  }
  return { dataLength: h.dataLen, blockDescriptorDataLength: h.bdLen, descriptors };
}

// ---------------------------------------------------------------- GET LBA STATUS

export interface GetLbaStatusCdb {
  lba: number;
  allocationLength: number;
}

interface GlsCdbRaw { opcode: number; sa: number; lba: number; alloc: number; r14: number; control: number }
const glsCdb = struct<GlsCdbRaw>([u8('opcode'), u8('sa'), u64('lba'), u32('alloc'), u8('r14'), u8('control')]);

export function decodeGetLbaStatusCdb(cdb: Buffer): GetLbaStatusCdb {
  return { lba: cdb.readUInt32BE(2) * TWO32 + cdb.readUInt32BE(6), allocationLength: cdb.readUInt32BE(10) };
}

export function encodeGetLbaStatusCdb(v: GetLbaStatusCdb): Buffer {
  return glsCdb.encode({ opcode: SbcOp.SERVICE_ACTION_IN_16, sa: SaIn16.GET_LBA_STATUS, lba: v.lba, alloc: v.allocationLength, r14: 0, control: 0 });
}

/** PROVISIONING STATUS: 0 mapped, 1 deallocated, 2 anchored. */
export const ProvisioningStatus = { MAPPED: 0, DEALLOCATED: 1, ANCHORED: 2 } as const;

export interface LbaStatusDescriptor {
  lba: number;
  count: number;
  status: number;
}

interface LbasDescRaw { lba: number; count: number; status: number; r?: Buffer }
const lbasDesc = struct<LbasDescRaw>([u64('lba'), u32('count'), u8('status'), blob(3, 'r')]);

/** GET LBA STATUS parameter data: PARAMETER DATA LENGTH, reserved, then 16-byte descriptors. */
export function encodeLbaStatus(ds: LbaStatusDescriptor[]): Buffer {
  const b = Buffer.alloc(8 + ds.length * 16);
  b.writeUInt32BE(b.length - 4, 0);
  ds.forEach((d, i) => lbasDesc.encode({ lba: d.lba, count: d.count, status: d.status & 0x0f }, b, 8 + i * 16));
  return b;
}

export function decodeLbaStatus(b: Buffer): LbaStatusDescriptor[] {
  const len = Math.min(b.length, 4 + b.readUInt32BE(0));
  const out: LbaStatusDescriptor[] = [];
  for (let p = 8; p + 16 <= len; p += 16) {
    const r = lbasDesc.decode(b, p);
    out.push({ lba: r.lba, count: r.count, status: r.status & 0x0f });
  }
  return out;
}

// ---------------------------------------------------------------- START STOP UNIT, PREVENT ALLOW

export interface StartStopCdb {
  immed: boolean;
  powerConditionModifier: number;
  powerCondition: number;
  noFlush: boolean;
  loej: boolean;
  start: boolean;
}

interface SsuRaw { opcode: number; b1: number; r2: number; b3: number; b4: number; control: number }
const ssuCdb = struct<SsuRaw>([u8('opcode'), u8('b1'), u8('r2'), u8('b3'), u8('b4'), u8('control')]);

export function decodeStartStopCdb(cdb: Buffer): StartStopCdb {
  const r = ssuCdb.decode(cdb);
  return {
    immed: bit(r.b1, 0),
    powerConditionModifier: field(r.b3, 0, 4),
    powerCondition: field(r.b4, 4, 4),
    noFlush: bit(r.b4, 2),
    loej: bit(r.b4, 1),
    start: bit(r.b4, 0),
  };
}

export function encodeStartStopCdb(v: Partial<StartStopCdb>): Buffer {
  return ssuCdb.encode({
    opcode: SbcOp.START_STOP_UNIT, b1: pack([!!v.immed, 0]), r2: 0, b3: pack([v.powerConditionModifier ?? 0, 0, 4]),
    b4: pack([v.powerCondition ?? 0, 4, 4], [!!v.noFlush, 2], [!!v.loej, 1], [!!v.start, 0]), control: 0,
  });
}

export function decodePreventAllowCdb(cdb: Buffer): { prevent: number } {
  return { prevent: field(cdb[4]!, 0, 2) };
}

export function encodePreventAllowCdb(prevent: number): Buffer {
  return Buffer.from([SbcOp.PREVENT_ALLOW, 0, 0, 0, prevent & 3, 0]);
}

// ---------------------------------------------------------------- VPD B0h, B1h, B2h

export interface BlockLimits {
  wsnz: boolean;
  maximumCompareAndWriteLength: number;
  optimalTransferLengthGranularity: number;
  maximumTransferLength: number;
  optimalTransferLength: number;
  maximumPrefetchLength: number;
  maximumUnmapLbaCount: number;
  maximumUnmapBlockDescriptorCount: number;
  optimalUnmapGranularity: number;
  ugavalid: boolean;
  unmapGranularityAlignment: number;
  maximumWriteSameLength: number;
}

interface BlRaw {
  dt: number; code: number; len: number; b4: number; mcawl: number; otlg: number; mtl: number; otl: number; mpl: number;
  mulc: number; mubdc: number; oug: number; uga: number; mwsl: number; r?: Buffer;
}
const blockLimitsLayout = struct<BlRaw>([
  u8('dt'), u8('code'), u16('len'), u8('b4'), u8('mcawl'), u16('otlg'), u32('mtl'), u32('otl'), u32('mpl'),
  u32('mulc'), u32('mubdc'), u32('oug'), u32('uga'), u64('mwsl'), blob(20, 'r'),
]);

export const VPD_BLOCK_LIMITS_LENGTH = 64;

export function encodeBlockLimitsVpd(v: BlockLimits, deviceType = 0): Buffer {
  return blockLimitsLayout.encode({
    dt: deviceType & 0x1f, code: 0xb0, len: VPD_BLOCK_LIMITS_LENGTH - 4, b4: pack([v.wsnz, 0]), mcawl: v.maximumCompareAndWriteLength,
    otlg: v.optimalTransferLengthGranularity, mtl: v.maximumTransferLength, otl: v.optimalTransferLength, mpl: v.maximumPrefetchLength,
    mulc: v.maximumUnmapLbaCount, mubdc: v.maximumUnmapBlockDescriptorCount, oug: v.optimalUnmapGranularity,
    uga: ((v.ugavalid ? 0x80000000 : 0) | (v.unmapGranularityAlignment & 0x7fffffff)) >>> 0, mwsl: v.maximumWriteSameLength,
  });
}

export function decodeBlockLimitsVpd(b: Buffer): BlockLimits {
  const full = b.length >= VPD_BLOCK_LIMITS_LENGTH ? b : Buffer.concat([b, Buffer.alloc(VPD_BLOCK_LIMITS_LENGTH - b.length)]);
  const r = blockLimitsLayout.decode(full);
  return {
    wsnz: bit(r.b4, 0), maximumCompareAndWriteLength: r.mcawl, optimalTransferLengthGranularity: r.otlg, maximumTransferLength: r.mtl,
    optimalTransferLength: r.otl, maximumPrefetchLength: r.mpl, maximumUnmapLbaCount: r.mulc, maximumUnmapBlockDescriptorCount: r.mubdc,
    optimalUnmapGranularity: r.oug, ugavalid: (r.uga & 0x80000000) !== 0, unmapGranularityAlignment: r.uga & 0x7fffffff,
    maximumWriteSameLength: r.mwsl,
  };
}

export interface BlockDeviceCharacteristics {
  /** 0001h = non-rotating medium (solid state), 0 = not reported. */
  mediumRotationRate: number;
  productType: number;
  wabereq: number;
  wacereq: number;
  nominalFormFactor: number;
  fuab: boolean;
  vbuls: boolean;
}

interface BdcRaw { dt: number; code: number; len: number; rate: number; ptype: number; b7: number; b8: number; r?: Buffer }
const bdcLayout = struct<BdcRaw>([u8('dt'), u8('code'), u16('len'), u16('rate'), u8('ptype'), u8('b7'), u8('b8'), blob(55, 'r')]);

export const VPD_BDC_LENGTH = 64;

export function encodeBlockDeviceCharacteristicsVpd(v: BlockDeviceCharacteristics, deviceType = 0): Buffer {
  return bdcLayout.encode({
    dt: deviceType & 0x1f, code: 0xb1, len: VPD_BDC_LENGTH - 4, rate: v.mediumRotationRate, ptype: v.productType,
    b7: pack([v.wabereq, 6, 2], [v.wacereq, 4, 2], [v.nominalFormFactor, 0, 4]), b8: pack([v.fuab, 1], [v.vbuls, 0]),
  });
}

export function decodeBlockDeviceCharacteristicsVpd(b: Buffer): BlockDeviceCharacteristics {
  const r = bdcLayout.decode(b.length >= VPD_BDC_LENGTH ? b : Buffer.concat([b, Buffer.alloc(VPD_BDC_LENGTH - b.length)]));
  return {
    mediumRotationRate: r.rate, productType: r.ptype, wabereq: field(r.b7, 6, 2), wacereq: field(r.b7, 4, 2),
    nominalFormFactor: field(r.b7, 0, 4), fuab: bit(r.b8, 1), vbuls: bit(r.b8, 0),
  };
}

export interface LogicalBlockProvisioning {
  thresholdExponent: number;
  lbpu: boolean;
  lbpws: boolean;
  lbpws10: boolean;
  lbprz: boolean;
  ancSup: boolean;
  dp: boolean;
  /** 0 full, 1 resource provisioned, 2 thin provisioned. */
  provisioningType: number;
}

interface LbpRaw { dt: number; code: number; len: number; te: number; b5: number; b6: number; r7: number }
const lbpLayout = struct<LbpRaw>([u8('dt'), u8('code'), u16('len'), u8('te'), u8('b5'), u8('b6'), u8('r7')]);

export const VPD_LBP_LENGTH = 8;

export function encodeLogicalBlockProvisioningVpd(v: LogicalBlockProvisioning, deviceType = 0): Buffer {
  return lbpLayout.encode({
    dt: deviceType & 0x1f, code: 0xb2, len: VPD_LBP_LENGTH - 4, te: v.thresholdExponent,
    b5: pack([v.lbpu, 7], [v.lbpws, 6], [v.lbpws10, 5], [v.lbprz, 2], [v.ancSup, 1], [v.dp, 0]),
    b6: pack([v.provisioningType, 0, 3]), r7: 0,
  });
}

export function decodeLogicalBlockProvisioningVpd(b: Buffer): LogicalBlockProvisioning {
  const r = lbpLayout.decode(b);
  return {
    thresholdExponent: r.te, lbpu: bit(r.b5, 7), lbpws: bit(r.b5, 6), lbpws10: bit(r.b5, 5), lbprz: bit(r.b5, 2),
    ancSup: bit(r.b5, 1), dp: bit(r.b5, 0), provisioningType: field(r.b6, 0, 3),
  };
}

// ---------------------------------------------------------------- CDB usage masks (RSOC + reserved-bit check)

/** Byte 1 of READ/WRITE(10/12/16): DPO and FUA honoured; *PROTECT, RARC, FUA_NV reserved (no protection information). */
const RW_B1 = 0x18;
export const sbcUsage = {
  testUnitReady: [0xff, 0, 0, 0, 0, 0],
  rw6: [0xff, 0x1f, 0xff, 0xff, 0xff, 0x00],
  rw10: [0xff, RW_B1, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x00],
  rw12: [0xff, RW_B1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00],
  rw16: [0xff, RW_B1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00],
  /** VERIFY / WRITE AND VERIFY: DPO and BYTCHK. */
  verify10: [0xff, 0x16, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x00],
  verify12: [0xff, 0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00],
  verify16: [0xff, 0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00],
  writeAndVerify10: [0xff, 0x12, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x00],
  writeAndVerify12: [0xff, 0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00],
  writeAndVerify16: [0xff, 0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00],
  /** WRITE SAME: ANCHOR and UNMAP looked at (ANCHOR refused: no anchored state), WRPROTECT reserved. */
  writeSame10: [0xff, 0x18, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x00],
  writeSame16: [0xff, 0x19, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00],
  /** SYNCHRONIZE CACHE: IMMED, and SYNC_NV accepted and ignored (there is no non-volatile cache to spare). */
  synchronizeCache10: [0xff, 0x06, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x00],
  synchronizeCache16: [0xff, 0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00],
  /** PRE-FETCH: IMMED. */
  preFetch10: [0xff, 0x02, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x00],
  preFetch16: [0xff, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00],
  /** COMPARE AND WRITE: DPO, FUA; bytes 10..12 reserved, NUMBER OF LOGICAL BLOCKS in byte 13. */
  compareAndWrite: [0xff, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0xff, 0x1f, 0x00],
  unmap: [0xff, 0x01, 0x00, 0x00, 0x00, 0x00, 0x1f, 0xff, 0xff, 0x00],
  getLbaStatus: [0xff, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00],
  startStopUnit: [0xff, 0x01, 0x00, 0x0f, 0xf7, 0x00],
  preventAllow: [0xff, 0x00, 0x00, 0x00, 0x03, 0x00],
} as const;
