/**
 * Sense data, fixed (70h/71h) and descriptor (72h/73h) format. The only place sense bytes are built
 * or parsed: devices throw `ScsiError` with a `SenseInfo`, the router encodes it in the format the
 * LU's D_SENSE bit asks for, initiators decode whatever comes back.
 */
import { ScsiStatus } from './status.js';

export const SenseKey = {
  NO_SENSE: 0x0,
  RECOVERED_ERROR: 0x1,
  NOT_READY: 0x2,
  MEDIUM_ERROR: 0x3,
  HARDWARE_ERROR: 0x4,
  ILLEGAL_REQUEST: 0x5,
  UNIT_ATTENTION: 0x6,
  DATA_PROTECT: 0x7,
  BLANK_CHECK: 0x8,
  VENDOR_SPECIFIC: 0x9,
  COPY_ABORTED: 0xa,
  ABORTED_COMMAND: 0xb,
  VOLUME_OVERFLOW: 0xd,
  MISCOMPARE: 0xe,
} as const;
export type SenseKey = (typeof SenseKey)[keyof typeof SenseKey];

/** Sense-key specific bytes, by the form the sense key gives them. */
export type SenseKeySpecific =
  /** ILLEGAL REQUEST: field pointer into the CDB (cd=true) or the parameter list. */
  | { kind: 'field'; cd: boolean; byte: number; bit?: number }
  /** COPY ABORTED: segment pointer (sd=true: relative to the failing segment descriptor). */
  | { kind: 'segment'; sd: boolean; byte: number; bit?: number }
  /** NOT READY / NO SENSE: progress indication, 0..65535 of 65536. */
  | { kind: 'progress'; fraction: number }
  /** RECOVERED/MEDIUM/HARDWARE ERROR: actual retry count. */
  | { kind: 'retry'; count: number };

/** Sense data forwarded from a copy source or destination (COPY ABORTED). */
export interface ForwardedSense {
  source: 'source' | 'destination';
  status: number;
  sense: Buffer;
}

export interface SenseInfo {
  key: number;
  asc: number;
  ascq: number;
  /** Deferred error (71h/73h) rather than current. */
  deferred?: boolean;
  /** INFORMATION field; sets VALID. Signed residues are allowed (tape). */
  information?: number | bigint;
  /** COMMAND-SPECIFIC INFORMATION, 4 bytes in fixed format. */
  commandSpecific?: number;
  filemark?: boolean;
  eom?: boolean;
  ili?: boolean;
  sks?: SenseKeySpecific;
  /** COPY ABORTED: forwarded sense of the copy source / destination. */
  forwarded?: ForwardedSense[];
}

export class ScsiError extends Error {
  constructor(
    readonly sense: SenseInfo,
    readonly status: number = ScsiStatus.CHECK_CONDITION,
  ) {
    super(`sense ${hex(sense.key)}/${hex(sense.asc)}/${hex(sense.ascq)}`);
    this.name = 'ScsiError';
  }
}

/** A non-CHECK CONDITION status without sense (RESERVATION CONFLICT, BUSY, TASK SET FULL). */
export class ScsiStatusError extends Error {
  constructor(readonly status: number) {
    super(`status ${hex(status)}`);
    this.name = 'ScsiStatusError';
  }
}

const hex = (n: number) => n.toString(16).padStart(2, '0');

function encodeSks(s: SenseKeySpecific | undefined): Buffer | undefined {
  if (!s) return undefined;
  const b = Buffer.alloc(3);
  switch (s.kind) {
    case 'field':
      b[0] = 0x80 | (s.cd ? 0x40 : 0) | (s.bit !== undefined ? 0x08 | (s.bit & 7) : 0);
      b.writeUInt16BE(s.byte & 0xffff, 1);
      break;
    case 'segment':
      b[0] = 0x80 | (s.sd ? 0x20 : 0) | (s.bit !== undefined ? 0x08 | (s.bit & 7) : 0);
      b.writeUInt16BE(s.byte & 0xffff, 1);
      break;
    case 'progress':
      b[0] = 0x80;
      b.writeUInt16BE(Math.max(0, Math.min(0xffff, Math.round(s.fraction))), 1);
      break;
    case 'retry':
      b[0] = 0x80;
      b.writeUInt16BE(s.count & 0xffff, 1);
      break;
  }
  return b;
}

const FIXED_MAX = 252;

export function encodeFixedSense(s: SenseInfo): Buffer {
  const fwd = s.forwarded ?? [];
  const extra: Buffer[] = [];
  let srcOff = 0;
  let dstOff = 0;
  let at = 18;
  for (const f of fwd) {
    const room = FIXED_MAX - at - 1;
    if (room <= 0) break;
    const body = f.sense.subarray(0, room);
    if (f.source === 'source') srcOff = at;
    else dstOff = at;
    extra.push(Buffer.from([f.status]), body);
    at += 1 + body.length;
  }
  const b = Buffer.alloc(at);
  b[0] = (s.deferred ? 0x71 : 0x70) | (s.information !== undefined ? 0x80 : 0);
  b[2] = (s.key & 0x0f) | (s.filemark ? 0x80 : 0) | (s.eom ? 0x40 : 0) | (s.ili ? 0x20 : 0);
  if (s.information !== undefined) b.writeUInt32BE(Number(BigInt.asUintN(32, BigInt(s.information))), 3);
  b[7] = at - 8;
  if (fwd.length) {
    b[8] = srcOff;
    b[9] = dstOff;
    b.writeUInt16BE((s.commandSpecific ?? 0) & 0xffff, 10);
  } else if (s.commandSpecific !== undefined) {
    b.writeUInt32BE(s.commandSpecific >>> 0, 8);
  }
  b[12] = s.asc;
  b[13] = s.ascq;
  encodeSks(s.sks)?.copy(b, 15);
  let p = 18;
  for (const e of extra) {
    e.copy(b, p);
    p += e.length;
  }
  return b;
}

export function encodeDescriptorSense(s: SenseInfo): Buffer {
  const descs: Buffer[] = [];
  if (s.information !== undefined) {
    const d = Buffer.alloc(12);
    d[0] = 0x00;
    d[1] = 0x0a;
    d[2] = 0x80;
    d.writeBigUInt64BE(BigInt.asUintN(64, BigInt(s.information)), 4);
    descs.push(d);
  }
  if (s.commandSpecific !== undefined) {
    const d = Buffer.alloc(12);
    d[0] = 0x01;
    d[1] = 0x0a;
    d.writeBigUInt64BE(BigInt(s.commandSpecific >>> 0), 4);
    descs.push(d);
  }
  const sks = encodeSks(s.sks);
  if (sks) {
    const d = Buffer.alloc(8);
    d[0] = 0x02;
    d[1] = 0x06;
    sks.copy(d, 4);
    descs.push(d);
  }
  if (s.filemark || s.eom || s.ili) {
    descs.push(Buffer.from([0x04, 0x02, 0x00, (s.filemark ? 0x80 : 0) | (s.eom ? 0x40 : 0) | (s.ili ? 0x20 : 0)]));
  }
  let total = 8 + descs.reduce((n, d) => n + d.length, 0);
  for (const f of s.forwarded ?? []) {
    const room = FIXED_MAX - total - 4;
    if (room <= 0) break;
    const body = f.sense.subarray(0, Math.min(room, 0xff - 2));
    const d = Buffer.alloc(4 + body.length);
    d[0] = 0x0c;
    d[1] = 2 + body.length;
    d[2] = (body.length < f.sense.length ? 0x80 : 0) | (f.source === 'source' ? 1 : 2);
    d[3] = f.status;
    body.copy(d, 4);
    descs.push(d);
    total += d.length;
  }
  const b = Buffer.alloc(total);
  b[0] = s.deferred ? 0x73 : 0x72;
  b[1] = s.key & 0x0f;
  b[2] = s.asc;
  b[3] = s.ascq;
  b[7] = total - 8;
  let p = 8;
  for (const d of descs) {
    d.copy(b, p);
    p += d.length;
  }
  return b;
}

export function encodeSense(s: SenseInfo, descriptor = false): Buffer {
  return descriptor ? encodeDescriptorSense(s) : encodeFixedSense(s);
}

function decodeSks(b: Buffer, key: number): SenseKeySpecific | undefined {
  if (b.length < 3 || !(b[0]! & 0x80)) return undefined;
  const ptr = b.readUInt16BE(1);
  const bit = b[0]! & 0x08 ? b[0]! & 7 : undefined;
  switch (key) {
    case SenseKey.ILLEGAL_REQUEST:
      return { kind: 'field', cd: (b[0]! & 0x40) !== 0, byte: ptr, ...(bit !== undefined ? { bit } : {}) };
    case SenseKey.COPY_ABORTED:
      return { kind: 'segment', sd: (b[0]! & 0x20) !== 0, byte: ptr, ...(bit !== undefined ? { bit } : {}) };
    case SenseKey.NOT_READY:
    case SenseKey.NO_SENSE:
      return { kind: 'progress', fraction: ptr };
    default:
      return { kind: 'retry', count: ptr };
  }
}

/** Parse sense data of either format. Throws RangeError on bytes that are not sense data. */
export function decodeSense(buf: Buffer): SenseInfo {
  if (buf.length < 8) throw new RangeError('sense data shorter than 8 bytes');
  const code = buf[0]! & 0x7f;
  if (code === 0x70 || code === 0x71) {
    const b = buf.subarray(0, Math.min(buf.length, 8 + buf[7]!));
    const key = b[2]! & 0x0f;
    const s: SenseInfo = { key, asc: b[12] ?? 0, ascq: b[13] ?? 0 };
    if (code === 0x71) s.deferred = true;
    if (buf[0]! & 0x80) s.information = b.readInt32BE(3);
    if (b[2]! & 0x80) s.filemark = true;
    if (b[2]! & 0x40) s.eom = true;
    if (b[2]! & 0x20) s.ili = true;
    if (b.length >= 18) {
      const sks = decodeSks(b.subarray(15, 18), key);
      if (sks) s.sks = sks;
    }
    if (key === SenseKey.COPY_ABORTED && b.length > 18 && (b[8] || b[9])) {
      s.commandSpecific = b.readUInt16BE(10);
      const fwd: ForwardedSense[] = [];
      const offs: Array<[number, 'source' | 'destination']> = [
        [b[8]!, 'source'],
        [b[9]!, 'destination'],
      ];
      for (const [off, source] of offs) {
        if (!off || off >= b.length) continue;
        const start = off + 1;
        const len = b.length > start + 7 ? Math.min(8 + b[start + 7]!, b.length - start) : b.length - start;
        fwd.push({ source, status: b[off]!, sense: Buffer.from(b.subarray(start, start + len)) });
      }
      s.forwarded = fwd;
    } else if (b.length >= 12 && b.readUInt32BE(8) !== 0) {
      s.commandSpecific = b.readUInt32BE(8);
    }
    return s;
  }
  if (code === 0x72 || code === 0x73) {
    const key = buf[1]! & 0x0f;
    const s: SenseInfo = { key, asc: buf[2]!, ascq: buf[3]! };
    if (code === 0x73) s.deferred = true;
    const end = Math.min(buf.length, 8 + buf[7]!);
    let p = 8;
    while (p + 2 <= end) {
      const type = buf[p]!;
      const len = buf[p + 1]!;
      const d = buf.subarray(p, Math.min(end, p + 2 + len));
      if (type === 0x00 && d.length >= 12) s.information = Number(d.readBigInt64BE(4));
      else if (type === 0x01 && d.length >= 12) s.commandSpecific = Number(d.readBigUInt64BE(4) & 0xffffffffn);
      else if (type === 0x02 && d.length >= 7) {
        const sks = decodeSks(d.subarray(4, 7), key);
        if (sks) s.sks = sks;
      } else if (type === 0x04 && d.length >= 4) {
        if (d[3]! & 0x80) s.filemark = true;
        if (d[3]! & 0x40) s.eom = true;
        if (d[3]! & 0x20) s.ili = true;
      } else if (type === 0x0c && d.length >= 4) {
        (s.forwarded ??= []).push({
          source: (d[2]! & 0x0f) === 1 ? 'source' : 'destination',
          status: d[3]!,
          sense: Buffer.from(d.subarray(4)),
        });
      }
      p += 2 + len;
    }
    return s;
  }
  throw new RangeError(`unknown sense response code ${hex(code)}`);
}

// ---- Naming: how sense appears in messages and logs, spelled once. ----

/** A byte in hex, at least two digits: "0c" (`upper`: "0C"). */
export const hexByte = (n: number, upper = false): string => {
  const h = n.toString(16).padStart(2, '0');
  return upper ? h.toUpperCase() : h;
};

/**
 * Sense key / ASC / ASCQ in hex: "5/24/00" as log lines carry it; `wide` pads the key to two
 * digits ("05/24/00"), `upper` writes capitals.
 */
export function senseCode(s: Pick<SenseInfo, 'key' | 'asc' | 'ascq'>, o: { wide?: boolean; upper?: boolean } = {}): string {
  const key = o.wide ? hexByte(s.key, o.upper) : o.upper ? s.key.toString(16).toUpperCase() : s.key.toString(16);
  return `${key}/${hexByte(s.asc, o.upper)}/${hexByte(s.ascq, o.upper)}`;
}

/** "sense 0A/0D/01 (COPY ABORTED: THIRD PARTY DEVICE FAILURE)": the hex, then the standard names. */
export function describeSense(s: SenseInfo): string {
  const flags = [s.filemark && 'FILEMARK', s.eom && 'EOM', s.ili && 'ILI'].filter(Boolean).join(',');
  const asc = ascName(s.asc, s.ascq);
  return `sense ${senseCode(s, { wide: true, upper: true })} (${senseKeyName(s.key)}${asc ? `: ${asc}` : ''})${flags ? ` [${flags}]` : ''}${s.information !== undefined ? ` info=${s.information}` : ''}${meansTapeFull(s) ? ' — the tape is full' : ''}`;
}

// ---- The answers every device gives, named once so nobody hand-rolls ASC/ASCQ pairs. ----

const err = (key: number, asc: number, ascq: number, extra: Partial<SenseInfo> = {}) =>
  new ScsiError({ key, asc, ascq, ...extra });

export const Sense = {
  invalidOpcode: () => err(SenseKey.ILLEGAL_REQUEST, 0x20, 0x00, { sks: { kind: 'field', cd: true, byte: 0 } }),
  invalidFieldInCdb: (byte: number, bit?: number) =>
    err(SenseKey.ILLEGAL_REQUEST, 0x24, 0x00, { sks: { kind: 'field', cd: true, byte, ...(bit !== undefined ? { bit } : {}) } }),
  invalidFieldInParam: (byte: number, bit?: number) =>
    err(SenseKey.ILLEGAL_REQUEST, 0x26, 0x00, { sks: { kind: 'field', cd: false, byte, ...(bit !== undefined ? { bit } : {}) } }),
  paramListLengthError: (byte?: number) =>
    err(SenseKey.ILLEGAL_REQUEST, 0x1a, 0x00, byte !== undefined ? { sks: { kind: 'field', cd: false, byte } } : {}),
  lbaOutOfRange: () => err(SenseKey.ILLEGAL_REQUEST, 0x21, 0x00),
  luNotSupported: () => err(SenseKey.ILLEGAL_REQUEST, 0x25, 0x00),
  savingNotSupported: (byte = 1, bit = 0) =>
    err(SenseKey.ILLEGAL_REQUEST, 0x39, 0x00, { sks: { kind: 'field', cd: true, byte, bit } }),
  notReady: (ascq = 0x00) => err(SenseKey.NOT_READY, 0x04, ascq),
  becomingReady: () => err(SenseKey.NOT_READY, 0x04, 0x01),
  mediumNotPresent: () => err(SenseKey.NOT_READY, 0x3a, 0x00),
  writeProtected: () => err(SenseKey.DATA_PROTECT, 0x27, 0x00),
  unrecoveredReadError: (lba?: number) =>
    err(SenseKey.MEDIUM_ERROR, 0x11, 0x00, lba !== undefined ? { information: lba } : {}),
  writeError: (lba?: number) => err(SenseKey.MEDIUM_ERROR, 0x0c, 0x00, lba !== undefined ? { information: lba } : {}),
  miscompare: (offset: number) => err(SenseKey.MISCOMPARE, 0x1d, 0x00, { information: offset }),
  unitAttention: (asc: number, ascq: number) => err(SenseKey.UNIT_ATTENTION, asc, ascq),
  commandSequenceError: () => err(SenseKey.ILLEGAL_REQUEST, 0x2c, 0x00),
  internalTargetFailure: () => err(SenseKey.HARDWARE_ERROR, 0x44, 0x00),
  mediumRemovalPrevented: () => err(SenseKey.ILLEGAL_REQUEST, 0x53, 0x02),
  insufficientRegistrationResources: () => err(SenseKey.ILLEGAL_REQUEST, 0x55, 0x04),
  reservationConflict: () => new ScsiStatusError(ScsiStatus.RESERVATION_CONFLICT),
  busy: () => new ScsiStatusError(ScsiStatus.BUSY),
  taskSetFull: () => new ScsiStatusError(ScsiStatus.TASK_SET_FULL),
} as const;

/** Unit attention conditions the router queues (ASC/ASCQ pairs from SPC-4 Annex D). */
export const UA = {
  POWER_ON: [0x29, 0x01],
  RESET: [0x29, 0x00],
  BUS_DEVICE_RESET: [0x29, 0x03],
  I_T_NEXUS_LOSS: [0x29, 0x07],
  PARAMETERS_CHANGED: [0x2a, 0x00],
  MODE_PARAMETERS_CHANGED: [0x2a, 0x01],
  RESERVATIONS_PREEMPTED: [0x2a, 0x03],
  RESERVATIONS_RELEASED: [0x2a, 0x04],
  REGISTRATIONS_PREEMPTED: [0x2a, 0x05],
  CAPACITY_CHANGED: [0x2a, 0x09],
  MEDIUM_CHANGED: [0x28, 0x00],
  INQUIRY_DATA_CHANGED: [0x3f, 0x03],
  REPORTED_LUNS_CHANGED: [0x3f, 0x0e],
  COMMANDS_CLEARED_BY_ANOTHER_INITIATOR: [0x2f, 0x00],
} as const satisfies Record<string, readonly [number, number]>;

// ---- Names for people: sense keys (SPC-4 Table 49) and the ASC/ASCQ pairs dmsim meets (Annex D). ----

export const SENSE_KEY_NAMES: readonly string[] = [
  'NO SENSE', 'RECOVERED ERROR', 'NOT READY', 'MEDIUM ERROR', 'HARDWARE ERROR', 'ILLEGAL REQUEST', 'UNIT ATTENTION', 'DATA PROTECT',
  'BLANK CHECK', 'VENDOR SPECIFIC', 'COPY ABORTED', 'ABORTED COMMAND', 'RESERVED (0Ch)', 'VOLUME OVERFLOW', 'MISCOMPARE', 'COMPLETED',
];

/** Keyed by (ASC << 8) | ASCQ. */
const ASC_NAMES = new Map<number, string>(
  (
    [
      [0x00, 0x00, 'NO ADDITIONAL SENSE INFORMATION'],
      [0x00, 0x01, 'FILEMARK DETECTED'],
      [0x00, 0x02, 'END-OF-PARTITION/MEDIUM DETECTED'],
      [0x00, 0x04, 'BEGINNING-OF-PARTITION/MEDIUM DETECTED'],
      [0x00, 0x05, 'END-OF-DATA DETECTED'],
      [0x00, 0x16, 'OPERATION IN PROGRESS'],
      [0x04, 0x00, 'LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE'],
      [0x04, 0x01, 'LOGICAL UNIT IS IN PROCESS OF BECOMING READY'],
      [0x04, 0x02, 'LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED'],
      [0x04, 0x03, 'LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED'],
      [0x04, 0x07, 'LOGICAL UNIT NOT READY, OPERATION IN PROGRESS'],
      [0x0c, 0x00, 'WRITE ERROR'],
      [0x0d, 0x00, 'ERROR DETECTED BY THIRD PARTY TEMPORARY INITIATOR'],
      [0x0d, 0x01, 'THIRD PARTY DEVICE FAILURE'],
      [0x0d, 0x02, 'COPY TARGET DEVICE NOT REACHABLE'],
      [0x0d, 0x03, 'INCORRECT COPY TARGET DEVICE TYPE'],
      [0x0d, 0x04, 'COPY TARGET DEVICE DATA UNDERRUN'],
      [0x0d, 0x05, 'COPY TARGET DEVICE DATA OVERRUN'],
      [0x0e, 0x03, 'INVALID FIELD IN COMMAND INFORMATION UNIT'],
      [0x11, 0x00, 'UNRECOVERED READ ERROR'],
      [0x14, 0x00, 'RECORDED ENTITY NOT FOUND'],
      [0x14, 0x01, 'RECORD NOT FOUND'],
      [0x1a, 0x00, 'PARAMETER LIST LENGTH ERROR'],
      [0x1d, 0x00, 'MISCOMPARE DURING VERIFY OPERATION'],
      [0x20, 0x00, 'INVALID COMMAND OPERATION CODE'],
      [0x21, 0x00, 'LOGICAL BLOCK ADDRESS OUT OF RANGE'],
      [0x24, 0x00, 'INVALID FIELD IN CDB'],
      [0x25, 0x00, 'LOGICAL UNIT NOT SUPPORTED'],
      [0x26, 0x00, 'INVALID FIELD IN PARAMETER LIST'],
      [0x26, 0x01, 'PARAMETER NOT SUPPORTED'],
      [0x26, 0x02, 'PARAMETER VALUE INVALID'],
      [0x26, 0x04, 'INVALID RELEASE OF PERSISTENT RESERVATION'],
      [0x26, 0x06, 'TOO MANY TARGET DESCRIPTORS'],
      [0x26, 0x07, 'UNSUPPORTED TARGET DESCRIPTOR TYPE CODE'],
      [0x26, 0x08, 'TOO MANY SEGMENT DESCRIPTORS'],
      [0x26, 0x09, 'UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE'],
      [0x26, 0x0a, 'UNEXPECTED INEXACT SEGMENT'],
      [0x26, 0x0b, 'INLINE DATA LENGTH EXCEEDED'],
      [0x26, 0x0c, 'INVALID OPERATION FOR COPY SOURCE OR DESTINATION'],
      [0x26, 0x0d, 'COPY SEGMENT GRANULARITY VIOLATION'],
      [0x27, 0x00, 'WRITE PROTECTED'],
      [0x27, 0x02, 'SOFTWARE WRITE PROTECTED'],
      [0x28, 0x00, 'NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED'],
      [0x29, 0x00, 'POWER ON, RESET, OR BUS DEVICE RESET OCCURRED'],
      [0x29, 0x01, 'POWER ON OCCURRED'],
      [0x29, 0x03, 'BUS DEVICE RESET FUNCTION OCCURRED'],
      [0x29, 0x07, 'I_T NEXUS LOSS OCCURRED'],
      [0x2a, 0x00, 'PARAMETERS CHANGED'],
      [0x2a, 0x01, 'MODE PARAMETERS CHANGED'],
      [0x2a, 0x03, 'RESERVATIONS PREEMPTED'],
      [0x2a, 0x04, 'RESERVATIONS RELEASED'],
      [0x2a, 0x05, 'REGISTRATIONS PREEMPTED'],
      [0x2a, 0x09, 'CAPACITY DATA HAS CHANGED'],
      [0x2c, 0x00, 'COMMAND SEQUENCE ERROR'],
      [0x2f, 0x00, 'COMMANDS CLEARED BY ANOTHER INITIATOR'],
      [0x30, 0x00, 'INCOMPATIBLE MEDIUM INSTALLED'],
      [0x30, 0x01, 'CANNOT READ MEDIUM - UNKNOWN FORMAT'],
      [0x39, 0x00, 'SAVING PARAMETERS NOT SUPPORTED'],
      [0x3a, 0x00, 'MEDIUM NOT PRESENT'],
      [0x3b, 0x00, 'SEQUENTIAL POSITIONING ERROR'],
      [0x3b, 0x0d, 'MEDIUM DESTINATION ELEMENT FULL'],
      [0x3b, 0x0e, 'MEDIUM SOURCE ELEMENT EMPTY'],
      [0x3f, 0x03, 'INQUIRY DATA HAS CHANGED'],
      [0x3f, 0x0e, 'REPORTED LUNS DATA HAS CHANGED'],
      [0x44, 0x00, 'INTERNAL TARGET FAILURE'],
      [0x4b, 0x00, 'DATA PHASE ERROR'],
      [0x50, 0x00, 'WRITE APPEND ERROR'],
      [0x53, 0x00, 'MEDIA LOAD OR EJECT FAILED'],
      [0x53, 0x02, 'MEDIUM REMOVAL PREVENTED'],
      [0x55, 0x03, 'INSUFFICIENT RESOURCES'],
      [0x55, 0x04, 'INSUFFICIENT REGISTRATION RESOURCES'],
    ] as const
  ).map(([asc, ascq, name]) => [(asc << 8) | ascq, name]),
);

export const senseKeyName = (key: number): string => SENSE_KEY_NAMES[key & 0x0f] ?? `SENSE KEY ${key}`;

/** The standard name of an ASC/ASCQ pair, when it is one dmsim knows. */
export function ascName(asc: number, ascq: number): string | undefined {
  const n = ASC_NAMES.get((asc << 8) | ascq);
  if (n) return n;
  if (asc >= 0x80 || ascq >= 0x80) return 'VENDOR SPECIFIC';
  return undefined;
}

/** Full tape, as a drive says it: VOLUME OVERFLOW, or the EOM bit with END-OF-PARTITION/MEDIUM DETECTED. */
export const meansTapeFull = (s: Pick<SenseInfo, 'key' | 'asc' | 'ascq' | 'eom'>): boolean =>
  s.key === SenseKey.VOLUME_OVERFLOW || (!!s.eom && s.asc === 0x00 && s.ascq === 0x02);
