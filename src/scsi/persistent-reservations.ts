/**
 * Reservation wire structures: PERSISTENT RESERVE IN (5Eh) / OUT (5Fh) CDBs and parameter data
 * (SPC-4 §6.15, §6.16), TransportIDs for FC and iSCSI (SPC-4 §7.6.4), and the SPC-2
 * RESERVE(10)/RELEASE(10) CDBs with the third-party device ID.
 */
import { bit, field, pack, struct, u8, u16, u32, blob } from './layout.js';
import { SpcOp } from './spc.js';


export const PrIn = { READ_KEYS: 0, READ_RESERVATION: 1, REPORT_CAPABILITIES: 2, READ_FULL_STATUS: 3 } as const;
export const PrOut = {
  REGISTER: 0,
  RESERVE: 1,
  RELEASE: 2,
  CLEAR: 3,
  PREEMPT: 4,
  PREEMPT_AND_ABORT: 5,
  REGISTER_AND_IGNORE: 6,
  REGISTER_AND_MOVE: 7,
} as const;

export const PrType = {
  WRITE_EXCLUSIVE: 1,
  EXCLUSIVE_ACCESS: 3,
  WRITE_EXCLUSIVE_REGISTRANTS_ONLY: 5,
  EXCLUSIVE_ACCESS_REGISTRANTS_ONLY: 6,
  WRITE_EXCLUSIVE_ALL_REGISTRANTS: 7,
  EXCLUSIVE_ACCESS_ALL_REGISTRANTS: 8,
} as const;
export type PrType = (typeof PrType)[keyof typeof PrType];
export const PR_TYPES: readonly number[] = Object.values(PrType);
export const isAllRegistrants = (t: number): boolean => t === PrType.WRITE_EXCLUSIVE_ALL_REGISTRANTS || t === PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS;
export const isRegistrantsOnly = (t: number): boolean =>
  t === PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY || t === PrType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY;
/** LU_SCOPE, the only scope SPC-4 keeps. */
export const LU_SCOPE = 0;

// ------------------------------------------------------------------ CDBs

export interface PrInCdb {
  serviceAction: number;
  allocationLength: number;
}
interface PrInRaw { opcode: number; sa: number; r2: number; r3: number; r4: number; r5: number; r6: number; alloc: number; control: number }
const prIn = struct<PrInRaw>([u8('opcode'), u8('sa'), u8('r2'), u8('r3'), u8('r4'), u8('r5'), u8('r6'), u16('alloc'), u8('control')]);

export const encodePrInCdb = (v: PrInCdb): Buffer =>
  prIn.encode({ opcode: SpcOp.PERSISTENT_RESERVE_IN, sa: v.serviceAction & 0x1f, r2: 0, r3: 0, r4: 0, r5: 0, r6: 0, alloc: v.allocationLength, control: 0 });
export function decodePrInCdb(cdb: Buffer): PrInCdb {
  const r = prIn.decode(cdb);
  return { serviceAction: field(r.sa, 0, 5), allocationLength: r.alloc };
}

export interface PrOutCdb {
  serviceAction: number;
  scope: number;
  type: number;
  parameterListLength: number;
}
interface PrOutRaw { opcode: number; sa: number; scopeType: number; r3: number; r4: number; len: number; control: number }
const prOut = struct<PrOutRaw>([u8('opcode'), u8('sa'), u8('scopeType'), u8('r3'), u8('r4'), u32('len'), u8('control')]);

export const encodePrOutCdb = (v: PrOutCdb): Buffer =>
  prOut.encode({ opcode: SpcOp.PERSISTENT_RESERVE_OUT, sa: v.serviceAction & 0x1f, scopeType: pack([v.scope, 4, 4], [v.type, 0, 4]), r3: 0, r4: 0, len: v.parameterListLength, control: 0 });
export function decodePrOutCdb(cdb: Buffer): PrOutCdb {
  const r = prOut.decode(cdb);
  return { serviceAction: field(r.sa, 0, 5), scope: field(r.scopeType, 4, 4), type: field(r.scopeType, 0, 4), parameterListLength: r.len };
}

// ------------------------------------------------------------------ PR OUT parameter list

/** Keys are 8-byte opaque values; bigint keeps all 64 bits. */
export interface PrOutParams {
  reservationKey: bigint;
  serviceActionKey: bigint;
  specIPt: boolean;
  allTgPt: boolean;
  aptpl: boolean;
  /** SPEC_I_PT: TransportIDs after the basic 24 bytes (raw, one Buffer each). */
  transportIds: Buffer[];
}
interface ParamRaw { key: Buffer; sark: Buffer; obsolete: number; flags: number; r21: number; obsolete2: number }
const params = struct<ParamRaw>([blob(8, 'key'), blob(8, 'sark'), u32('obsolete'), u8('flags'), u8('r21'), u16('obsolete2')]);
export const PR_OUT_BASIC_LENGTH = params.span;
/** Byte of the flags (SPEC_I_PT, ALL_TG_PT, APTPL) in the parameter list, for field pointers. */
export const PR_OUT_FLAGS_BYTE = params.offsetOf('flags');

export function encodePrOutParams(v: Partial<PrOutParams>): Buffer {
  const key = Buffer.alloc(8);
  key.writeBigUInt64BE(v.reservationKey ?? 0n);
  const sark = Buffer.alloc(8);
  sark.writeBigUInt64BE(v.serviceActionKey ?? 0n);
  const base = params.encode({ key, sark, obsolete: 0, flags: pack([!!v.specIPt, 3], [!!v.allTgPt, 2], [!!v.aptpl, 0]), r21: 0, obsolete2: 0 });
  if (!v.specIPt) return base;
  const ids = Buffer.concat(v.transportIds ?? []);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(ids.length);
  return Buffer.concat([base, len, ids]);
}

export function decodePrOutParams(b: Buffer): PrOutParams {
  const r = params.decode(b);
  const specIPt = bit(r.flags, 3);
  const transportIds: Buffer[] = [];
  if (specIPt && b.length >= params.span + 4) {
    const end = Math.min(b.length, params.span + 4 + b.readUInt32BE(params.span));
    for (let p = params.span + 4; p + 4 <= end; ) {
      const n = transportIdLength(b, p);
      transportIds.push(Buffer.from(b.subarray(p, p + n)));
      p += n;
    }
  }
  return {
    reservationKey: r.key.readBigUInt64BE(),
    serviceActionKey: r.sark.readBigUInt64BE(),
    specIPt,
    allTgPt: bit(r.flags, 2),
    aptpl: bit(r.flags, 0),
    transportIds,
  };
}

// ------------------------------------------------------------------ TransportIDs

export const TransportProtocol = { FC: 0x0, ISCSI: 0x5 } as const;

export type TransportId =
  | { protocol: 'fc'; wwpn: string }
  /** iSCSI: name alone (format 00b) or name + ",i,0x" + ISID (format 01b). */
  | { protocol: 'iscsi'; name: string; isid?: string };

export function encodeTransportId(t: TransportId): Buffer {
  if (t.protocol === 'fc') {
    const b = Buffer.alloc(24);
    b[0] = TransportProtocol.FC;
    Buffer.from(t.wwpn, 'hex').copy(b, 8);
    return b;
  }
  const text = t.isid !== undefined ? `${t.name},i,0x${t.isid}` : t.name;
  // NUL-terminated, padded to a multiple of 4, at least 20 bytes (SPC-4 §7.6.4.6).
  const body = Math.max(20, Math.ceil((Buffer.byteLength(text) + 1) / 4) * 4);
  const b = Buffer.alloc(4 + body);
  b[0] = ((t.isid !== undefined ? 1 : 0) << 6) | TransportProtocol.ISCSI;
  b.writeUInt16BE(body, 2);
  b.write(text, 4, 'utf8');
  return b;
}

/** Total length of the TransportID at `offset` (FC: 24; iSCSI: 4 + ADDITIONAL LENGTH). */
function transportIdLength(b: Buffer, offset = 0): number {
  const proto = field(b[offset] ?? 0, 0, 4);
  return proto === TransportProtocol.ISCSI && b.length >= offset + 4 ? 4 + b.readUInt16BE(offset + 2) : 24;
}

export function decodeTransportId(b: Buffer, offset = 0): TransportId {
  const proto = field(b[offset] ?? 0, 0, 4);
  if (proto === TransportProtocol.FC) {
    if (b.length < offset + 24) throw new RangeError('FC TransportID is 24 bytes');
    return { protocol: 'fc', wwpn: b.subarray(offset + 8, offset + 16).toString('hex') };
  }
  if (proto === TransportProtocol.ISCSI) {
    const len = b.readUInt16BE(offset + 2);
    const text = b.subarray(offset + 4, offset + 4 + len).toString('utf8').replace(/\0.*$/s, '');
    const m = /^(.*),i,0x([0-9a-fA-F]+)$/.exec(text);
    return m ? { protocol: 'iscsi', name: m[1]!, isid: m[2]!.toLowerCase() } : { protocol: 'iscsi', name: text };
  }
  throw new RangeError(`TransportID protocol ${proto} not supported`);
}

// ------------------------------------------------------------------ PR IN parameter data

export function encodeReadKeys(generation: number, keys: readonly bigint[]): Buffer {
  const b = Buffer.alloc(8 + 8 * keys.length);
  b.writeUInt32BE(generation >>> 0, 0);
  b.writeUInt32BE(8 * keys.length, 4);
  keys.forEach((k, i) => b.writeBigUInt64BE(k, 8 + 8 * i));
  return b;
}

export function decodeReadKeys(b: Buffer): { generation: number; additionalLength: number; keys: bigint[] } {
  const additionalLength = b.readUInt32BE(4);
  const keys: bigint[] = [];
  for (let p = 8; p + 8 <= Math.min(b.length, 8 + additionalLength); p += 8) keys.push(b.readBigUInt64BE(p));
  return { generation: b.readUInt32BE(0), additionalLength, keys };
}

export interface ReservationInfo {
  key: bigint;
  scope: number;
  type: number;
}

export function encodeReadReservation(generation: number, r: ReservationInfo | undefined): Buffer {
  const b = Buffer.alloc(r ? 24 : 8);
  b.writeUInt32BE(generation >>> 0, 0);
  if (r) {
    b.writeUInt32BE(16, 4);
    b.writeBigUInt64BE(r.key, 8);
    b[21] = pack([r.scope, 4, 4], [r.type, 0, 4]);
  }
  return b;
}

export function decodeReadReservation(b: Buffer): { generation: number; reservation?: ReservationInfo } {
  const generation = b.readUInt32BE(0);
  if (b.readUInt32BE(4) < 16 || b.length < 22) return { generation };
  return { generation, reservation: { key: b.readBigUInt64BE(8), scope: field(b[21]!, 4, 4), type: field(b[21]!, 0, 4) } };
}

export interface Capabilities {
  /** Replace Lost Reservation capable, Compatible Reservation Handling, SPEC_I_PT, ALL_TG_PT, PTPL capable. */
  rlrC: boolean;
  crh: boolean;
  sipC: boolean;
  atpC: boolean;
  ptplC: boolean;
  /** Type mask valid + ALLOW COMMANDS (3 bits) + persist-through-power-loss activated. */
  tmv: boolean;
  allowCommands: number;
  ptplA: boolean;
  /** Reservation types supported. */
  types: number[];
}

const TYPE_MASK_BITS: ReadonlyArray<[number, number, number]> = [
  [PrType.WRITE_EXCLUSIVE_ALL_REGISTRANTS, 0, 7],
  [PrType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY, 0, 6],
  [PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY, 0, 5],
  [PrType.EXCLUSIVE_ACCESS, 0, 3],
  [PrType.WRITE_EXCLUSIVE, 0, 1],
  [PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS, 1, 0],
];

export function encodeReportCapabilities(c: Capabilities): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(8, 0);
  b[2] = pack([c.rlrC, 7], [c.crh, 4], [c.sipC, 3], [c.atpC, 2], [c.ptplC, 0]);
  b[3] = pack([c.tmv, 7], [c.allowCommands, 4, 3], [c.ptplA, 0]);
  for (const [t, byte, n] of TYPE_MASK_BITS) if (c.types.includes(t)) b[4 + byte]! |= 1 << n;
  return b;
}

export function decodeReportCapabilities(b: Buffer): Capabilities {
  return {
    rlrC: bit(b[2]!, 7),
    crh: bit(b[2]!, 4),
    sipC: bit(b[2]!, 3),
    atpC: bit(b[2]!, 2),
    ptplC: bit(b[2]!, 0),
    tmv: bit(b[3]!, 7),
    allowCommands: field(b[3]!, 4, 3),
    ptplA: bit(b[3]!, 0),
    types: TYPE_MASK_BITS.filter(([, byte, n]) => bit(b[4 + byte]!, n)).map(([t]) => t).sort((x, y) => x - y),
  };
}

export interface FullStatusEntry {
  key: bigint;
  allTgPt: boolean;
  holder: boolean;
  scope: number;
  type: number;
  relativeTargetPort: number;
  transportId: Buffer;
}

export function encodeReadFullStatus(generation: number, entries: readonly FullStatusEntry[]): Buffer {
  const descs = entries.map((e) => {
    const d = Buffer.alloc(24);
    d.writeBigUInt64BE(e.key, 0);
    d[12] = pack([e.allTgPt, 1], [e.holder, 0]);
    d[13] = e.holder ? pack([e.scope, 4, 4], [e.type, 0, 4]) : 0;
    d.writeUInt16BE(e.allTgPt ? 0 : e.relativeTargetPort, 18);
    d.writeUInt32BE(e.transportId.length, 20);
    return Buffer.concat([d, e.transportId]);
  });
  const body = Buffer.concat(descs);
  const h = Buffer.alloc(8);
  h.writeUInt32BE(generation >>> 0, 0);
  h.writeUInt32BE(body.length, 4);
  return Buffer.concat([h, body]);
}

export function decodeReadFullStatus(b: Buffer): { generation: number; entries: FullStatusEntry[] } {
  const end = Math.min(b.length, 8 + b.readUInt32BE(4));
  const entries: FullStatusEntry[] = [];
  for (let p = 8; p + 24 <= end; ) {
    const n = b.readUInt32BE(p + 20);
    entries.push({
      key: b.readBigUInt64BE(p),
      allTgPt: bit(b[p + 12]!, 1),
      holder: bit(b[p + 12]!, 0),
      scope: field(b[p + 13]!, 4, 4),
      type: field(b[p + 13]!, 0, 4),
      relativeTargetPort: b.readUInt16BE(p + 18),
      transportId: Buffer.from(b.subarray(p + 24, p + 24 + n)),
    });
    p += 24 + n;
  }
  return { generation: b.readUInt32BE(0), entries };
}

// ------------------------------------------------------------------ SPC-2 RESERVE(10) / RELEASE(10)

export interface Reserve10Cdb {
  release: boolean;
  thirdParty: boolean;
  longId: boolean;
  /** THIRD-PARTY DEVICE ID byte (LONGID=0). */
  thirdPartyId: number;
  parameterListLength: number;
}
interface R10Raw { opcode: number; b1: number; id: number; r3: number; r4: number; r5: number; r6: number; len: number; control: number }
const r10 = struct<R10Raw>([u8('opcode'), u8('b1'), u8('id'), u8('r3'), u8('r4'), u8('r5'), u8('r6'), u16('len'), u8('control')]);

/** RESERVE(6) / RELEASE(6) (SPC-2 §7.21, §7.17): the whole-LU form, no field set. */
export const encodeReserve6Cdb = (release = false): Buffer => Buffer.from([release ? SpcOp.RELEASE_6 : SpcOp.RESERVE_6, 0, 0, 0, 0, 0]);

export const encodeReserve10Cdb = (v: Reserve10Cdb): Buffer =>
  r10.encode({ opcode: v.release ? SpcOp.RELEASE_10 : SpcOp.RESERVE_10, b1: pack([v.thirdParty, 4], [v.longId, 1]), id: v.thirdPartyId, r3: 0, r4: 0, r5: 0, r6: 0, len: v.parameterListLength, control: 0 });

export function decodeReserve10Cdb(cdb: Buffer): Reserve10Cdb {
  const r = r10.decode(cdb);
  return { release: r.opcode === SpcOp.RELEASE_10, thirdParty: bit(r.b1, 4), longId: bit(r.b1, 1), thirdPartyId: r.id, parameterListLength: r.len };
}

/** The LONGID parameter list: the third party's 8-byte device ID (its FC port name here). */
export const encodeThirdPartyId = (wwpn: string): Buffer => Buffer.from(wwpn, 'hex');


// ------------------------------------------------------------------ REGISTER AND MOVE parameter list

export interface RegisterAndMoveParams {
  reservationKey: bigint;
  serviceActionKey: bigint;
  unreg: boolean;
  aptpl: boolean;
  relativeTargetPort: number;
  transportId: Buffer;
}
interface MoveRaw { key: Buffer; sark: Buffer; r16: number; flags: number; rtpi: number; tidLen: number }
const moveHead = struct<MoveRaw>([blob(8, 'key'), blob(8, 'sark'), u8('r16'), u8('flags'), u16('rtpi'), u32('tidLen')]);
export const REGISTER_AND_MOVE_HEADER = moveHead.span;

export function encodeRegisterAndMoveParams(v: RegisterAndMoveParams): Buffer {
  const key = Buffer.alloc(8);
  key.writeBigUInt64BE(v.reservationKey);
  const sark = Buffer.alloc(8);
  sark.writeBigUInt64BE(v.serviceActionKey);
  const h = moveHead.encode({ key, sark, r16: 0, flags: pack([v.unreg, 1], [v.aptpl, 0]), rtpi: v.relativeTargetPort, tidLen: v.transportId.length });
  return Buffer.concat([h, v.transportId]);
}

export function decodeRegisterAndMoveParams(b: Buffer): RegisterAndMoveParams {
  const r = moveHead.decode(b);
  return {
    reservationKey: r.key.readBigUInt64BE(),
    serviceActionKey: r.sark.readBigUInt64BE(),
    unreg: bit(r.flags, 1),
    aptpl: bit(r.flags, 0),
    relativeTargetPort: r.rtpi,
    transportId: Buffer.from(b.subarray(moveHead.span, moveHead.span + r.tidLen)),
  };
}
