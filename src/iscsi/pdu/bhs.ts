/**
 * Basic Header Segment of every iSCSI PDU (RFC 7143 §11), declared once per opcode with the
 * buffer-layout wrapper. Byte 0 (I bit + opcode) and byte 1 (per-opcode flags) are plain u8
 * fields here; FLAG_BITS names the bits so the typed objects carry booleans instead of masks.
 *
 * `decodeBhs(bhs)` gives a typed object for any opcode; `encodeBhs(pdu, out?)` writes one. The
 * hot data path (SCSI Command / Data-Out in, Data-In / SCSI Response / R2T out) uses the `OFF`
 * offsets below, taken from the same layouts, to read and write single fields without building
 * objects (see fast.ts).
 */
import { blob, struct, u16, u24, u32, u8, type FieldLayout, type Struct } from '../../scsi/layout.js';
import { BHS_LENGTH, Opcode } from './constants.js';

/** Fields every BHS has at the same place. */
interface BhsCommon {
  /** 0 for reserved/unused. */
  totalAhsLength: number;
  dataSegmentLength: number;
  itt: number;
}

interface NopOutBhs extends BhsCommon {
  opcode: typeof Opcode.NOP_OUT;
  immediate: boolean;
  final: boolean;
  lun: Buffer;
  ttt: number;
  cmdSN: number;
  expStatSN: number;
}
export interface ScsiCommandBhs extends BhsCommon {
  opcode: typeof Opcode.SCSI_COMMAND;
  immediate: boolean;
  final: boolean;
  read: boolean;
  write: boolean;
  /** TaskAttr */
  attr: number;
  lun: Buffer;
  expectedDataTransferLength: number;
  cmdSN: number;
  expStatSN: number;
  /** First 16 CDB bytes (the rest, if any, in an Extended CDB AHS). */
  cdb: Buffer;
}
export interface TmfRequestBhs extends BhsCommon {
  opcode: typeof Opcode.TASK_MGMT_REQUEST;
  immediate: boolean;
  final: boolean;
  /** TmfFunction */
  function: number;
  lun: Buffer;
  referencedTaskTag: number;
  cmdSN: number;
  expStatSN: number;
  refCmdSN: number;
  expDataSN: number;
}
export interface LoginRequestBhs extends BhsCommon {
  opcode: typeof Opcode.LOGIN_REQUEST;
  immediate: boolean;
  transit: boolean;
  continue: boolean;
  csg: number;
  nsg: number;
  versionMax: number;
  versionMin: number;
  /** 6 bytes */
  isid: Buffer;
  tsih: number;
  cid: number;
  cmdSN: number;
  expStatSN: number;
}
interface TextRequestBhs extends BhsCommon {
  opcode: typeof Opcode.TEXT_REQUEST;
  immediate: boolean;
  final: boolean;
  continue: boolean;
  lun: Buffer;
  ttt: number;
  cmdSN: number;
  expStatSN: number;
}
interface DataOutBhs extends BhsCommon {
  opcode: typeof Opcode.DATA_OUT;
  final: boolean;
  lun: Buffer;
  ttt: number;
  expStatSN: number;
  dataSN: number;
  bufferOffset: number;
}
interface LogoutRequestBhs extends BhsCommon {
  opcode: typeof Opcode.LOGOUT_REQUEST;
  immediate: boolean;
  final: boolean;
  /** LogoutReason */
  reason: number;
  cid: number;
  cmdSN: number;
  expStatSN: number;
}
interface SnackRequestBhs extends BhsCommon {
  opcode: typeof Opcode.SNACK_REQUEST;
  final: boolean;
  type: number;
  lun: Buffer;
  ttt: number;
  expStatSN: number;
  begRun: number;
  runLength: number;
}
/** The fields NOP-In and R2T share: a target transfer tag on a LUN, and the target's sequence numbers. */
interface TargetTagBhs extends BhsCommon {
  final: boolean;
  lun: Buffer;
  ttt: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
}
interface NopInBhs extends TargetTagBhs {
  opcode: typeof Opcode.NOP_IN;
}
interface ScsiResponseBhs extends BhsCommon {
  opcode: typeof Opcode.SCSI_RESPONSE;
  final: boolean;
  bidiOverflow: boolean;
  bidiUnderflow: boolean;
  overflow: boolean;
  underflow: boolean;
  response: number;
  status: number;
  snackTag: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
  expDataSN: number;
  bidiReadResidualCount: number;
  residualCount: number;
}
interface TmfResponseBhs extends BhsCommon {
  opcode: typeof Opcode.TASK_MGMT_RESPONSE;
  final: boolean;
  /** TmfResponse */
  response: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
}
export interface LoginResponseBhs extends BhsCommon {
  opcode: typeof Opcode.LOGIN_RESPONSE;
  transit: boolean;
  continue: boolean;
  csg: number;
  nsg: number;
  versionMax: number;
  versionActive: number;
  isid: Buffer;
  tsih: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
  statusClass: number;
  statusDetail: number;
}
interface TextResponseBhs extends BhsCommon {
  opcode: typeof Opcode.TEXT_RESPONSE;
  final: boolean;
  continue: boolean;
  lun: Buffer;
  ttt: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
}
interface DataInBhs extends BhsCommon {
  opcode: typeof Opcode.DATA_IN;
  final: boolean;
  acknowledge: boolean;
  overflow: boolean;
  underflow: boolean;
  /** S bit: status carried (phase collapse). */
  statusPresent: boolean;
  status: number;
  lun: Buffer;
  ttt: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
  dataSN: number;
  bufferOffset: number;
  residualCount: number;
}
interface LogoutResponseBhs extends BhsCommon {
  opcode: typeof Opcode.LOGOUT_RESPONSE;
  final: boolean;
  /** LogoutResponseCode */
  response: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
  time2Wait: number;
  time2Retain: number;
}
interface R2tBhs extends TargetTagBhs {
  opcode: typeof Opcode.R2T;
  r2tSN: number;
  bufferOffset: number;
  desiredDataTransferLength: number;
}
interface AsyncMessageBhs extends BhsCommon {
  opcode: typeof Opcode.ASYNC_MESSAGE;
  final: boolean;
  lun: Buffer;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
  asyncEvent: number;
  asyncVCode: number;
  parameter1: number;
  parameter2: number;
  parameter3: number;
}
interface RejectBhs extends BhsCommon {
  opcode: typeof Opcode.REJECT;
  final: boolean;
  /** RejectReason */
  reason: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
  dataSN: number;
}

type InitiatorBhs = NopOutBhs | ScsiCommandBhs | TmfRequestBhs | LoginRequestBhs | TextRequestBhs | DataOutBhs | LogoutRequestBhs | SnackRequestBhs;
type TargetBhs = NopInBhs | ScsiResponseBhs | TmfResponseBhs | LoginResponseBhs | TextResponseBhs | DataInBhs | LogoutResponseBhs | R2tBhs | AsyncMessageBhs | RejectBhs;
export type Bhs = InitiatorBhs | TargetBhs;

/** Fields a caller may leave out when encoding: they default to 0 / false / zero bytes. */
export type BhsInput<T extends Bhs = Bhs> = T extends Bhs ? Pick<T, 'opcode'> & Partial<Omit<T, 'opcode'>> : never;

// ---------------------------------------------------------------------------------------------
// Layouts. Unnamed fields are reserved (sent as 0, ignored on receipt).

const rsvd = (n: number): FieldLayout => blob(n);
const head = (b2: FieldLayout[]): FieldLayout[] => [u8('op'), u8('flags'), ...b2, u8('totalAhsLength'), u24('dataSegmentLength')];
/** Bytes 2-3 reserved, bytes 8-15 LUN, 16-19 ITT. */
const lunHead = (): FieldLayout[] => [...head([rsvd(2)]), blob(8, 'lun'), u32('itt')];
/** Bytes 8-15 reserved. */
const noLunHead = (b2: FieldLayout[]): FieldLayout[] => [...head(b2), rsvd(8), u32('itt')];
const snTail = (): FieldLayout[] => [u32('statSN'), u32('expCmdSN'), u32('maxCmdSN')];

type Raw = Record<string, unknown>;

const LAYOUTS: Record<number, FieldLayout[]> = {
  [Opcode.NOP_OUT]: [...lunHead(), u32('ttt'), u32('cmdSN'), u32('expStatSN'), rsvd(16)],
  [Opcode.SCSI_COMMAND]: [...lunHead(), u32('expectedDataTransferLength'), u32('cmdSN'), u32('expStatSN'), blob(16, 'cdb')],
  [Opcode.TASK_MGMT_REQUEST]: [...lunHead(), u32('referencedTaskTag'), u32('cmdSN'), u32('expStatSN'), u32('refCmdSN'), u32('expDataSN'), rsvd(8)],
  [Opcode.LOGIN_REQUEST]: [
    ...head([u8('versionMax'), u8('versionMin')]),
    blob(6, 'isid'),
    u16('tsih'),
    u32('itt'),
    u16('cid'),
    rsvd(2),
    u32('cmdSN'),
    u32('expStatSN'),
    rsvd(16),
  ],
  [Opcode.TEXT_REQUEST]: [...lunHead(), u32('ttt'), u32('cmdSN'), u32('expStatSN'), rsvd(16)],
  [Opcode.DATA_OUT]: [...lunHead(), u32('ttt'), rsvd(4), u32('expStatSN'), rsvd(4), u32('dataSN'), u32('bufferOffset'), rsvd(4)],
  [Opcode.LOGOUT_REQUEST]: [...noLunHead([rsvd(2)]), u16('cid'), rsvd(2), u32('cmdSN'), u32('expStatSN'), rsvd(16)],
  [Opcode.SNACK_REQUEST]: [...lunHead(), u32('ttt'), rsvd(4), u32('expStatSN'), rsvd(8), u32('begRun'), u32('runLength')],
  [Opcode.NOP_IN]: [...lunHead(), u32('ttt'), ...snTail(), rsvd(12)],
  [Opcode.SCSI_RESPONSE]: [
    ...noLunHead([u8('response'), u8('status')]),
    u32('snackTag'),
    ...snTail(),
    u32('expDataSN'),
    u32('bidiReadResidualCount'),
    u32('residualCount'),
  ],
  [Opcode.TASK_MGMT_RESPONSE]: [...noLunHead([u8('response'), rsvd(1)]), rsvd(4), ...snTail(), rsvd(12)],
  [Opcode.LOGIN_RESPONSE]: [
    ...head([u8('versionMax'), u8('versionActive')]),
    blob(6, 'isid'),
    u16('tsih'),
    u32('itt'),
    rsvd(4),
    ...snTail(),
    u8('statusClass'),
    u8('statusDetail'),
    rsvd(10),
  ],
  [Opcode.TEXT_RESPONSE]: [...lunHead(), u32('ttt'), ...snTail(), rsvd(12)],
  [Opcode.DATA_IN]: [
    ...head([rsvd(1), u8('status')]),
    blob(8, 'lun'),
    u32('itt'),
    u32('ttt'),
    ...snTail(),
    u32('dataSN'),
    u32('bufferOffset'),
    u32('residualCount'),
  ],
  [Opcode.LOGOUT_RESPONSE]: [...noLunHead([u8('response'), rsvd(1)]), rsvd(4), ...snTail(), rsvd(4), u16('time2Wait'), u16('time2Retain'), rsvd(4)],
  [Opcode.R2T]: [...lunHead(), u32('ttt'), ...snTail(), u32('r2tSN'), u32('bufferOffset'), u32('desiredDataTransferLength')],
  [Opcode.ASYNC_MESSAGE]: [
    ...lunHead(),
    rsvd(4),
    ...snTail(),
    u8('asyncEvent'),
    u8('asyncVCode'),
    u16('parameter1'),
    u16('parameter2'),
    u16('parameter3'),
    rsvd(4),
  ],
  [Opcode.REJECT]: [...noLunHead([u8('reason'), rsvd(1)]), rsvd(4), ...snTail(), u32('dataSN'), rsvd(8)],
};

/** [name, lsb, width] of the named bits in byte 1 per opcode. */
type FlagSpec = ReadonlyArray<readonly [string, number, number]>;
const F: FlagSpec = [['final', 7, 1]];
const FLAG_BITS: Record<number, FlagSpec> = {
  [Opcode.NOP_OUT]: F,
  [Opcode.SCSI_COMMAND]: [['final', 7, 1], ['read', 6, 1], ['write', 5, 1], ['attr', 0, 3]],
  [Opcode.TASK_MGMT_REQUEST]: [['final', 7, 1], ['function', 0, 7]],
  [Opcode.LOGIN_REQUEST]: [['transit', 7, 1], ['continue', 6, 1], ['csg', 2, 2], ['nsg', 0, 2]],
  [Opcode.TEXT_REQUEST]: [['final', 7, 1], ['continue', 6, 1]],
  [Opcode.DATA_OUT]: F,
  [Opcode.LOGOUT_REQUEST]: [['final', 7, 1], ['reason', 0, 7]],
  [Opcode.SNACK_REQUEST]: [['final', 7, 1], ['type', 0, 4]],
  [Opcode.NOP_IN]: F,
  [Opcode.SCSI_RESPONSE]: [['final', 7, 1], ['bidiOverflow', 4, 1], ['bidiUnderflow', 3, 1], ['overflow', 2, 1], ['underflow', 1, 1]],
  [Opcode.TASK_MGMT_RESPONSE]: F,
  [Opcode.LOGIN_RESPONSE]: [['transit', 7, 1], ['continue', 6, 1], ['csg', 2, 2], ['nsg', 0, 2]],
  [Opcode.TEXT_RESPONSE]: [['final', 7, 1], ['continue', 6, 1]],
  [Opcode.DATA_IN]: [['final', 7, 1], ['acknowledge', 6, 1], ['overflow', 2, 1], ['underflow', 1, 1], ['statusPresent', 0, 1]],
  [Opcode.LOGOUT_RESPONSE]: F,
  [Opcode.R2T]: F,
  [Opcode.ASYNC_MESSAGE]: F,
  [Opcode.REJECT]: F,
};

/** Opcodes whose byte 0 bit 6 is the I (immediate) bit. */
const HAS_IMMEDIATE: ReadonlySet<number> = new Set([Opcode.NOP_OUT, Opcode.SCSI_COMMAND, Opcode.TASK_MGMT_REQUEST, Opcode.LOGIN_REQUEST, Opcode.TEXT_REQUEST, Opcode.LOGOUT_REQUEST]);

const STRUCTS = new Map<number, Struct<Raw>>();
for (const [op, fields] of Object.entries(LAYOUTS)) {
  const s = struct<Raw>(fields);
  if (s.span !== BHS_LENGTH) throw new Error(`BHS layout for opcode ${op} is ${s.span} bytes`);
  STRUCTS.set(Number(op), s);
}

/** The buffer-layout declaration of an opcode's BHS (for offsets and tests). */
function bhsLayout(op: number): Struct<Raw> {
  const s = STRUCTS.get(op);
  if (!s) throw new RangeError(`unknown iSCSI opcode 0x${op.toString(16)}`);
  return s;
}

/**
 * Decode a 48-byte BHS into its typed form. Throws RangeError for an unknown opcode (the caller
 * answers with Reject). Buffer fields (lun, isid, cdb) are views into `bhs`.
 */
export function decodeBhs(bhs: Uint8Array, offset = 0): Bhs {
  const op = bhs[offset]! & 0x3f;
  const raw = bhsLayout(op).decode(bhs, offset);
  const flags = raw.flags as number;
  const out: Raw = { opcode: op };
  if (HAS_IMMEDIATE.has(op)) out.immediate = (bhs[offset]! & 0x40) !== 0;
  for (const [name, lsb, width] of FLAG_BITS[op]!) {
    const v = (flags >> lsb) & ((1 << width) - 1);
    out[name] = width === 1 ? v === 1 : v;
  }
  for (const [k, v] of Object.entries(raw)) if (k !== 'op' && k !== 'flags') out[k] = v;
  return out as unknown as Bhs;
}

/** Encode a BHS (48 bytes) into `out` at `offset`, or a new buffer. Missing fields are 0. */
export function encodeBhs(pdu: BhsInput, out?: Buffer, offset = 0): Buffer {
  const p = pdu as unknown as Raw;
  const op = p.opcode as number;
  const s = bhsLayout(op);
  const buf = out ?? Buffer.alloc(BHS_LENGTH + offset);
  if (out) buf.fill(0, offset, offset + BHS_LENGTH);
  let flags = 0;
  for (const [name, lsb, width] of FLAG_BITS[op]!) {
    const v = p[name];
    const n = typeof v === 'boolean' ? (v ? 1 : 0) : typeof v === 'number' ? v : 0;
    flags |= (n & ((1 << width) - 1)) << lsb;
  }
  const raw: Raw = { op: op | (HAS_IMMEDIATE.has(op) && p.immediate ? 0x40 : 0), flags };
  for (const [k, v] of Object.entries(p)) if (v !== undefined && !(k in raw) && k !== 'opcode' && k !== 'immediate') raw[k] = v;
  s.encode(raw, buf, offset);
  return buf;
}

/** Offsets of fields that keep their layout name, for OFF. */
function offsetsOf<const K extends string>(op: number, names: readonly K[]): { readonly [N in K]: number } {
  const l = bhsLayout(op);
  return Object.fromEntries(names.map((n) => [n, l.offsetOf(n)])) as { [N in K]: number };
}

/** Byte offsets of named fields, from the layouts, for the allocation-free hot path. */
export const OFF = {
  ahsLength: 4,
  dataSegmentLength: 5,
  lun: 8,
  itt: 16,
  cmd: { ...offsetsOf(Opcode.SCSI_COMMAND, ['cmdSN', 'expStatSN', 'cdb']), edtl: bhsLayout(Opcode.SCSI_COMMAND).offsetOf('expectedDataTransferLength') },
  dataOut: { ...offsetsOf(Opcode.DATA_OUT, ['ttt', 'expStatSN', 'dataSN', 'bufferOffset']) },
  dataIn: { ...offsetsOf(Opcode.DATA_IN, ['status', 'ttt', 'statSN', 'expCmdSN', 'maxCmdSN', 'dataSN', 'bufferOffset', 'residualCount']) },
  response: { ...offsetsOf(Opcode.SCSI_RESPONSE, ['response', 'status', 'statSN', 'expCmdSN', 'maxCmdSN', 'expDataSN', 'residualCount']) },
  r2t: { ...offsetsOf(Opcode.R2T, ['ttt', 'statSN', 'expCmdSN', 'maxCmdSN', 'r2tSN', 'bufferOffset']), desiredLength: bhsLayout(Opcode.R2T).offsetOf('desiredDataTransferLength') },
} as const;

