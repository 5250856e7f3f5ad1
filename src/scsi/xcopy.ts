/**
 * EXTENDED COPY (LID1) wire structures: the CDB and the parameter list (header, CSCD descriptors,
 * segment descriptors, inline data). The backup server encodes with these; the copy manager decodes
 * with `decodeParameterList`, which also performs every check that can be made from the bytes alone,
 * in the order of extended-copy.md §12.1 steps 3–10, and reports the exact parameter-list offset of the
 * first problem as a ScsiError field pointer.
 */
import { ScsiError, SenseKey } from './sense.js';
import { bit, field, pack, struct, u8, u16, u32, blob } from './layout.js';
import { SpcOp } from './spc.js';

// ---------------------------------------------------------------- CDB

export interface XcopyCdb {
  serviceAction: number;
  parameterListLength: number;
}

interface XcopyCdbRaw {
  opcode: number;
  sa: number;
  listLength: number;
  control: number;
}
const xcopyCdb = struct<XcopyCdbRaw>([u8('opcode'), u8('sa'), blob(8), u32('listLength'), blob(1), u8('control')]);

export function encodeXcopyCdb(v: Partial<XcopyCdb> & { parameterListLength: number }): Buffer {
  return xcopyCdb.encode({ opcode: SpcOp.EXTENDED_COPY, sa: field(v.serviceAction ?? 0, 0, 5), listLength: v.parameterListLength, control: 0 });
}

export function decodeXcopyCdb(cdb: Buffer): XcopyCdb {
  const r = xcopyCdb.decode(cdb);
  return { serviceAction: field(r.sa, 0, 5), parameterListLength: r.listLength };
}

// ---------------------------------------------------------------- header

/** LIST ID USAGE (SPC-4); SPC-2/3 NRCR=1 arrives as DISCARD (10b). */
export const ListIdUsage = { HOLD: 0, RESERVED: 1, DISCARD: 2, NONE: 3 } as const;

export interface XcopyHeader {
  listId: number;
  str: boolean;
  listIdUsage: number;
  priority: number;
}

interface HeaderRaw {
  listId: number;
  flags: number;
  cscdLen: number;
  segLen: number;
  inlineLen: number;
}
const HEADER_LEN = 16;
const header = struct<HeaderRaw>([u8('listId'), u8('flags'), u16('cscdLen'), blob(4), u32('segLen'), u32('inlineLen')]);

// ---------------------------------------------------------------- CSCD descriptors

export const CscdType = {
  FC_N_PORT_NAME: 0xe0,
  FC_N_PORT_ID: 0xe1,
  FC_N_PORT_ID_WITH_NAME: 0xe2,
  SPI_T_L: 0xe3,
  IDENTIFICATION: 0xe4,
  ISCSI_IPV4: 0xe5,
  ALIAS: 0xe6,
  RDMA: 0xe7,
  IEEE1394: 0xe8,
  SAS: 0xe9,
  ISCSI_IPV6: 0xea,
  IP_COPY_SERVICE: 0xeb,
  ROD: 0xfe,
} as const;

/** Descriptor types that are 64 bytes long (the second half starts with extension code FFh). */
const LONG_CSCD = new Set<number>([CscdType.ISCSI_IPV6, CscdType.IP_COPY_SERVICE]);
const cscdLength = (type: number): number => (LONG_CSCD.has(type) ? 64 : 32);

export const BLOCK_PDTS: ReadonlySet<number> = new Set([0x00, 0x04, 0x05, 0x07, 0x0e]);
export const STREAM_PDT = 0x01;
const PROCESSOR_PDT = 0x03;

/** Bytes 28–31, by the CSCD's PERIPHERAL DEVICE TYPE. */
export type DeviceTypeParams =
  | { kind: 'block'; pad: boolean; blockLength: number }
  | { kind: 'stream'; pad: boolean; fixed: boolean; blockLength: number }
  | { kind: 'processor'; pad: boolean }
  /** reserved PDT: kept raw so a decode/encode round trip is exact */
  | { kind: 'raw'; bytes: Buffer };

/** E4h designator: bytes 4–7 are bytes 0–3 of a VPD 83h designation descriptor. */
export interface CscdDesignator {
  codeSet: number;
  association: number;
  designatorType: number;
  /** The designator, unpadded (DESIGNATOR LENGTH bytes). */
  value: Buffer;
}

export interface CscdDescriptor {
  type: number;
  /** Parameter-list offset of byte 0 (filled by decode). */
  offset?: number;
  luIdType: number;
  /** SPC-2/3 null device bit (byte 1 bit 5). */
  nul: boolean;
  pdt: number;
  relativeInitiatorPort: number;
  /** LU IDENTIFIER, 8-byte SAM LUN (E0h–E3h and the rejected port types). */
  lun?: Buffer;
  /** E0h/E2h: WWPN as 16 lowercase hex digits. */
  nPortName?: string;
  /** E1h/E2h: 24-bit N_Port_ID. */
  nPortId?: number;
  /** E3h: SPI TARGET IDENTIFIER (byte 13) and vendor-specific byte 12. */
  targetId?: number;
  vendorSpecific?: number;
  /** E4h. */
  designator?: CscdDesignator;
  params: DeviceTypeParams;
  /** Types without a structured form here: bytes 4–27 (and 32–63 of 64-byte types, at [24..]). */
  body?: Buffer;
}

/** Simple SAM LUN (peripheral addressing < 256, flat addressing up to 16383) as the 8-byte LU IDENTIFIER. */
export function encodeLun(lun: number): Buffer {
  const b = Buffer.alloc(8);
  if (lun < 256) b[1] = lun;
  else b.writeUInt16BE(0x4000 | (lun & 0x3fff), 0);
  return b;
}

/** The flat LUN an 8-byte SAM LUN names, or undefined for addressing methods dmsim does not use. */
export function decodeLun(b: Buffer): number | undefined {
  if (b.subarray(2).some((x) => x !== 0)) return undefined;
  const method = b[0]! >> 6;
  if (method === 0 && b[0] === 0) return b[1]!;
  if (method === 1) return b.readUInt16BE(0) & 0x3fff;
  return undefined;
}

function paramsKind(pdt: number): DeviceTypeParams['kind'] {
  if (BLOCK_PDTS.has(pdt)) return 'block';
  if (pdt === STREAM_PDT) return 'stream';
  if (pdt === PROCESSOR_PDT) return 'processor';
  return 'raw';
}

function encodeParams(p: DeviceTypeParams, out: Buffer, at: number): void {
  switch (p.kind) {
    case 'block':
      out[at] = pack([p.pad, 2]);
      out.writeUIntBE(p.blockLength, at + 1, 3);
      break;
    case 'stream':
      out[at] = pack([p.pad, 2], [p.fixed, 0]);
      out.writeUIntBE(p.blockLength, at + 1, 3);
      break;
    case 'processor':
      out[at] = pack([p.pad, 2]);
      break;
    case 'raw':
      p.bytes.copy(out, at, 0, 4);
  }
}

function decodeParams(pdt: number, b: Buffer, at: number): DeviceTypeParams {
  const kind = paramsKind(pdt);
  const flags = b[at]!;
  if (kind === 'block') return { kind, pad: bit(flags, 2), blockLength: b.readUIntBE(at + 1, 3) };
  if (kind === 'stream') return { kind, pad: bit(flags, 2), fixed: bit(flags, 0), blockLength: b.readUIntBE(at + 1, 3) };
  if (kind === 'processor') return { kind, pad: bit(flags, 2) };
  return { kind, bytes: Buffer.from(b.subarray(at, at + 4)) };
}

export function encodeCscd(d: CscdDescriptor): Buffer {
  const b = Buffer.alloc(cscdLength(d.type));
  b[0] = d.type;
  b[1] = pack([d.luIdType, 6, 2], [d.nul, 5], [d.pdt, 0, 5]);
  b.writeUInt16BE(d.relativeInitiatorPort, 2);
  switch (d.type) {
    case CscdType.IDENTIFICATION: {
      const g = d.designator;
      if (!g) throw new RangeError('E4h CSCD needs a designator');
      if (g.value.length > 20) throw new RangeError('designator longer than 20 bytes');
      b[4] = field(g.codeSet, 0, 4);
      b[5] = pack([g.association, 4, 2], [g.designatorType, 0, 4]);
      b[7] = g.value.length;
      g.value.copy(b, 8);
      break;
    }
    case CscdType.FC_N_PORT_NAME:
    case CscdType.FC_N_PORT_ID:
    case CscdType.FC_N_PORT_ID_WITH_NAME:
    case CscdType.SPI_T_L:
      (d.lun ?? Buffer.alloc(8)).copy(b, 4, 0, 8);
      if (d.type !== CscdType.FC_N_PORT_ID && d.type !== CscdType.SPI_T_L) Buffer.from(d.nPortName ?? '0'.repeat(16), 'hex').copy(b, 12);
      if (d.type === CscdType.FC_N_PORT_ID || d.type === CscdType.FC_N_PORT_ID_WITH_NAME) b.writeUIntBE(d.nPortId ?? 0, 25, 3);
      if (d.type === CscdType.SPI_T_L) {
        b[12] = d.vendorSpecific ?? 0;
        b[13] = d.targetId ?? 0;
      }
      break;
    default:
      if (d.body) {
        d.body.copy(b, 4, 0, 24);
        if (b.length === 64 && d.body.length > 24) d.body.copy(b, 32, 24);
      }
  }
  encodeParams(d.params, b, 28);
  return b;
}

/** Decode one CSCD descriptor without checks (the checks live in decodeParameterList). */
export function decodeCscd(b: Buffer, offset = 0): CscdDescriptor {
  const type = b[offset]!;
  const f1 = b[offset + 1]!;
  const pdt = field(f1, 0, 5);
  const d: CscdDescriptor = {
    type,
    offset,
    luIdType: field(f1, 6, 2),
    nul: bit(f1, 5),
    pdt,
    relativeInitiatorPort: b.readUInt16BE(offset + 2),
    params: decodeParams(pdt, b, offset + 28),
  };
  switch (type) {
    case CscdType.IDENTIFICATION: {
      const len = Math.min(b[offset + 7]!, 20);
      d.designator = {
        codeSet: field(b[offset + 4]!, 0, 4),
        association: field(b[offset + 5]!, 4, 2),
        designatorType: field(b[offset + 5]!, 0, 4),
        value: Buffer.from(b.subarray(offset + 8, offset + 8 + len)),
      };
      break;
    }
    case CscdType.FC_N_PORT_NAME:
    case CscdType.FC_N_PORT_ID:
    case CscdType.FC_N_PORT_ID_WITH_NAME:
    case CscdType.SPI_T_L:
      d.lun = Buffer.from(b.subarray(offset + 4, offset + 12));
      if (type !== CscdType.FC_N_PORT_ID && type !== CscdType.SPI_T_L) d.nPortName = b.subarray(offset + 12, offset + 20).toString('hex');
      if (type === CscdType.FC_N_PORT_ID || type === CscdType.FC_N_PORT_ID_WITH_NAME) d.nPortId = b.readUIntBE(offset + 25, 3);
      if (type === CscdType.SPI_T_L) {
        d.vendorSpecific = b[offset + 12]!;
        d.targetId = b[offset + 13]!;
      }
      break;
    default: {
      const len = cscdLength(type);
      d.body = Buffer.concat([b.subarray(offset + 4, offset + 28), len === 64 ? b.subarray(offset + 32, offset + 64) : Buffer.alloc(0)]);
      if (type >= 0xe5 && type <= 0xea) d.lun = Buffer.from(b.subarray(offset + 4, offset + 12));
    }
  }
  return d;
}

// ---------------------------------------------------------------- segment descriptors

export const SegmentType = {
  BLOCK_TO_STREAM: 0x00,
  STREAM_TO_BLOCK: 0x01,
  BLOCK_TO_BLOCK: 0x02,
  STREAM_TO_STREAM: 0x03,
  INLINE_TO_STREAM: 0x04,
  EMBEDDED_TO_STREAM: 0x05,
  STREAM_TO_DISCARD: 0x06,
  VERIFY_CSCD: 0x07,
  BLOCK_OFFSET_TO_STREAM: 0x08,
  STREAM_TO_BLOCK_OFFSET: 0x09,
  BLOCK_OFFSET_TO_BLOCK_OFFSET: 0x0a,
  BLOCK_TO_STREAM_HOLD: 0x0b,
  STREAM_TO_BLOCK_HOLD: 0x0c,
  BLOCK_TO_BLOCK_HOLD: 0x0d,
  STREAM_TO_STREAM_HOLD: 0x0e,
  STREAM_TO_DISCARD_HOLD: 0x0f,
  WRITE_FILEMARKS: 0x10,
  SPACE: 0x11,
  LOCATE: 0x12,
  TAPE_IMAGE_COPY: 0x13,
  REGISTER_KEY: 0x14,
  THIRD_PARTY_PR_SOURCE: 0x15,
  BLOCK_IMAGE_COPY: 0x16,
  POPULATE_ROD_RANGES: 0xbe,
  POPULATE_ROD_RANGE: 0xbf,
} as const;

export type SegmentTypeName = keyof typeof SegmentType;
type Code<N extends SegmentTypeName> = (typeof SegmentType)[N];

/** Fields every segment descriptor has. */
interface SegmentBase {
  /** Parameter-list offset of byte 0 (filled by decode). */
  offset?: number;
}

/** 00h/01h/0Bh/0Ch: block ↔ stream, in whole blocks. */
export interface BlockStreamSegment extends SegmentBase {
  type: Code<'BLOCK_TO_STREAM' | 'STREAM_TO_BLOCK' | 'BLOCK_TO_STREAM_HOLD' | 'STREAM_TO_BLOCK_HOLD'>;
  cat?: boolean;
  src: number;
  dst: number;
  /** STREAM DEVICE TRANSFER LENGTH. */
  streamTransferLength: number;
  /** BLOCK DEVICE NUMBER OF BLOCKS. */
  blocks: number;
  lba: number;
}

/** 02h/0Dh: block → block. */
export interface BlockBlockSegment extends SegmentBase {
  type: Code<'BLOCK_TO_BLOCK' | 'BLOCK_TO_BLOCK_HOLD'>;
  cat?: boolean;
  dc?: boolean;
  src: number;
  dst: number;
  blocks: number;
  srcLba: number;
  dstLba: number;
}

/** 03h/0Eh: stream → stream. */
export interface StreamStreamSegment extends SegmentBase {
  type: Code<'STREAM_TO_STREAM' | 'STREAM_TO_STREAM_HOLD'>;
  cat?: boolean;
  src: number;
  dst: number;
  srcTransferLength: number;
  dstTransferLength: number;
  byteCount: number;
}

/** 04h: inline data → stream. */
export interface InlineStreamSegment extends SegmentBase {
  type: Code<'INLINE_TO_STREAM'>;
  cat?: boolean;
  dst: number;
  streamTransferLength: number;
  inlineOffset: number;
  /** INLINE DATA NUMBER OF BYTES. */
  byteCount: number;
}

/** 05h: embedded data → stream. */
export interface EmbeddedStreamSegment extends SegmentBase {
  type: Code<'EMBEDDED_TO_STREAM'>;
  cat?: boolean;
  dst: number;
  streamTransferLength: number;
  /** Filled by decode; encode writes the length of `embedded`. */
  byteCount?: number;
  /** The embedded bytes (encode pads to a multiple of 4). */
  embedded: Buffer;
}

/** 06h/0Fh: stream → discard. */
export interface StreamDiscardSegment extends SegmentBase {
  type: Code<'STREAM_TO_DISCARD' | 'STREAM_TO_DISCARD_HOLD'>;
  cat?: boolean;
  src: number;
  streamTransferLength: number;
  byteCount: number;
}

/** 07h: verify CSCD. */
export interface VerifySegment extends SegmentBase {
  type: Code<'VERIFY_CSCD'>;
  tur?: boolean;
  src: number;
}

/** 08h/09h: block with byte offset ↔ stream. */
export interface OffsetStreamSegment extends SegmentBase {
  type: Code<'BLOCK_OFFSET_TO_STREAM' | 'STREAM_TO_BLOCK_OFFSET'>;
  cat?: boolean;
  src: number;
  dst: number;
  streamTransferLength: number;
  byteCount: number;
  lba: number;
  byteOffset: number;
}

/** 0Ah: block with byte offset → block with byte offset. */
export interface OffsetOffsetSegment extends SegmentBase {
  type: Code<'BLOCK_OFFSET_TO_BLOCK_OFFSET'>;
  cat?: boolean;
  src: number;
  dst: number;
  byteCount: number;
  srcLba: number;
  dstLba: number;
  srcByteOffset: number;
  dstByteOffset: number;
}

/** 10h: write filemarks. */
export interface WriteFilemarksSegment extends SegmentBase {
  type: Code<'WRITE_FILEMARKS'>;
  immed?: boolean;
  wsmk?: boolean;
  dst: number;
  /** FILEMARK COUNT. */
  count: number;
}

/** 11h: space. */
export interface SpaceSegment extends SegmentBase {
  type: Code<'SPACE'>;
  dst: number;
  code: number;
  /** Signed COUNT. */
  count: number;
}

/** 12h: locate. */
export interface LocateSegment extends SegmentBase {
  type: Code<'LOCATE'>;
  dst: number;
  logicalObjectId: number;
}

/** 13h: tape image copy. */
export interface TapeImageSegment extends SegmentBase {
  type: Code<'TAPE_IMAGE_COPY'>;
  src: number;
  dst: number;
  count: number;
}

/** 14h: register persistent reservation key (keys 8 bytes each). */
export interface RegisterKeySegment extends SegmentBase {
  type: Code<'REGISTER_KEY'>;
  dst: number;
  reservationKey: Buffer;
  serviceActionKey: Buffer;
}

/** 15h: third-party persistent reservations source I_T nexus. */
export interface ThirdPartyPrSegment extends SegmentBase {
  type: Code<'THIRD_PARTY_PR_SOURCE'>;
  dst: number;
  reservationKey: Buffer;
  serviceActionKey: Buffer;
  unreg?: boolean;
  aptpl?: boolean;
  relativeTargetPort: number;
  transportId: Buffer;
}

/** 16h: block image copy. */
export interface BlockImageSegment extends SegmentBase {
  type: Code<'BLOCK_IMAGE_COPY'>;
  src: number;
  dst: number;
  srcLba: number;
  dstLba: number;
  /** NUMBER OF LOGICAL BLOCKS. */
  blocks: number;
}

/** BEh/BFh (and any other type without a layout, from decodeSegment): raw bytes after the 4-byte header. */
export interface RawSegment extends SegmentBase {
  type: Code<'POPULATE_ROD_RANGES' | 'POPULATE_ROD_RANGE'>;
  body: Buffer;
}

/** One segment descriptor, discriminated by `type`: the fields its layout has, and only those. */
export type Segment =
  | BlockStreamSegment
  | BlockBlockSegment
  | StreamStreamSegment
  | InlineStreamSegment
  | EmbeddedStreamSegment
  | StreamDiscardSegment
  | VerifySegment
  | OffsetStreamSegment
  | OffsetOffsetSegment
  | WriteFilemarksSegment
  | SpaceSegment
  | LocateSegment
  | TapeImageSegment
  | RegisterKeySegment
  | ThirdPartyPrSegment
  | BlockImageSegment
  | RawSegment;

/** The descriptor shape of segment type `N` (the member whose type codes include N's). */
export type SegmentOf<N extends SegmentTypeName> = Segment extends infer S ? (S extends { type: infer T } ? (Code<N> extends T ? S : never) : never) : never;

/**
 * A segment descriptor in its wire form: every field any type has, which of them are meaningful
 * depending on `type` (see SEGMENT_LAYOUTS). What the codec reads and writes (it is driven by that
 * table so each type's byte positions are written down once) and what tests build by hand. Code
 * that acts on a segment reads it as a `Segment` (segmentOf), the union discriminated by type.
 */
export interface SegmentDescriptor {
  type: number;
  /** Parameter-list offset of byte 0 (filled by decode). */
  offset?: number;
  cat?: boolean;
  dc?: boolean;
  src?: number;
  dst?: number;
  /** STREAM DEVICE TRANSFER LENGTH (00h/01h/04h–06h/08h/09h/0Bh/0Ch/0Fh). */
  streamTransferLength?: number;
  /** 03h/0Eh. */
  srcTransferLength?: number;
  dstTransferLength?: number;
  /** BLOCK DEVICE NUMBER OF BLOCKS (00h–02h, 0Bh–0Dh) or NUMBER OF LOGICAL BLOCKS (16h). */
  blocks?: number;
  lba?: number;
  srcLba?: number;
  dstLba?: number;
  /** BYTE COUNT / NUMBER OF BYTES / INLINE DATA NUMBER OF BYTES. */
  byteCount?: number;
  byteOffset?: number;
  srcByteOffset?: number;
  dstByteOffset?: number;
  inlineOffset?: number;
  /** 05h: the embedded bytes (byteCount of them; encode pads to a multiple of 4). */
  embedded?: Buffer;
  tur?: boolean;
  /** 10h. */
  immed?: boolean;
  wsmk?: boolean;
  /** 11h CODE, 13h COUNT, 10h FILEMARK COUNT, 11h signed COUNT. */
  code?: number;
  count?: number;
  /** 12h LOGICAL OBJECT IDENTIFIER. */
  logicalObjectId?: number;
  /** 14h/15h keys, 8 bytes each. */
  reservationKey?: Buffer;
  serviceActionKey?: Buffer;
  unreg?: boolean;
  aptpl?: boolean;
  relativeTargetPort?: number;
  transportId?: Buffer;
  /** BEh/BFh and other types kept as raw bytes after the 4-byte header. */
  body?: Buffer;
}

type NumField =
  | 'src'
  | 'dst'
  | 'streamTransferLength'
  | 'srcTransferLength'
  | 'dstTransferLength'
  | 'blocks'
  | 'lba'
  | 'srcLba'
  | 'dstLba'
  | 'byteCount'
  | 'byteOffset'
  | 'srcByteOffset'
  | 'dstByteOffset'
  | 'inlineOffset'
  | 'count'
  | 'logicalObjectId'
  | 'code'
  | 'relativeTargetPort';
type FlagField = 'cat' | 'dc' | 'tur' | 'immed' | 'wsmk' | 'unreg' | 'aptpl';
type KeyField = 'reservationKey' | 'serviceActionKey';

export interface SegmentLayout {
  name: SegmentTypeName;
  /** Total length (header included) for fixed types; variable types give the minimum. */
  length: number;
  variable?: boolean;
  nums: Array<[NumField, number, number]>;
  flags: Array<[FlagField, number, number]>;
  keys?: Array<[KeyField, number]>;
  /** The segment keeps what it moves as held data for RECEIVE COPY RESULTS (0Bh–0Fh). */
  holdsData: boolean;
}

type Shape = Omit<SegmentLayout, 'name' | 'holdsData'>;

const CAT: [FlagField, number, number] = ['cat', 1, 0];
const SRC: [NumField, number, number] = ['src', 4, 2];
const DST: [NumField, number, number] = ['dst', 6, 2];

const blockStream: Shape = { length: 24, nums: [SRC, DST, ['streamTransferLength', 9, 3], ['blocks', 14, 2], ['lba', 16, 8]], flags: [CAT] };
const blockBlock: Shape = { length: 28, nums: [SRC, DST, ['blocks', 10, 2], ['srcLba', 12, 8], ['dstLba', 20, 8]], flags: [CAT, ['dc', 1, 1]] };
const streamStream: Shape = {
  length: 20,
  nums: [SRC, DST, ['srcTransferLength', 9, 3], ['dstTransferLength', 13, 3], ['byteCount', 16, 4]],
  flags: [CAT],
};
const streamDiscard: Shape = { length: 16, nums: [SRC, ['streamTransferLength', 9, 3], ['byteCount', 12, 4]], flags: [CAT] };
const offsetStream: Shape = {
  length: 28,
  nums: [SRC, DST, ['streamTransferLength', 9, 3], ['byteCount', 12, 4], ['lba', 16, 8], ['byteOffset', 26, 2]],
  flags: [CAT],
};
const keys: Array<[KeyField, number]> = [
  ['reservationKey', 8],
  ['serviceActionKey', 16],
];

/** Byte positions of every segment type dmsim knows, by name (extended-copy.md §5). */
const SHAPES: { readonly [N in SegmentTypeName]?: Shape } = {
  BLOCK_TO_STREAM: blockStream,
  STREAM_TO_BLOCK: blockStream,
  BLOCK_TO_BLOCK: blockBlock,
  STREAM_TO_STREAM: streamStream,
  INLINE_TO_STREAM: { length: 20, nums: [DST, ['streamTransferLength', 9, 3], ['inlineOffset', 12, 4], ['byteCount', 16, 4]], flags: [CAT] },
  EMBEDDED_TO_STREAM: { length: 16, variable: true, nums: [DST, ['streamTransferLength', 9, 3], ['byteCount', 12, 2]], flags: [CAT] },
  STREAM_TO_DISCARD: streamDiscard,
  VERIFY_CSCD: { length: 12, nums: [SRC], flags: [['tur', 8, 0]] },
  BLOCK_OFFSET_TO_STREAM: offsetStream,
  STREAM_TO_BLOCK_OFFSET: offsetStream,
  BLOCK_OFFSET_TO_BLOCK_OFFSET: {
    length: 32,
    nums: [SRC, DST, ['byteCount', 8, 4], ['srcLba', 12, 8], ['dstLba', 20, 8], ['srcByteOffset', 28, 2], ['dstByteOffset', 30, 2]],
    flags: [CAT],
  },
  BLOCK_TO_STREAM_HOLD: blockStream,
  STREAM_TO_BLOCK_HOLD: blockStream,
  BLOCK_TO_BLOCK_HOLD: blockBlock,
  STREAM_TO_STREAM_HOLD: streamStream,
  STREAM_TO_DISCARD_HOLD: streamDiscard,
  WRITE_FILEMARKS: { length: 12, nums: [DST, ['count', 9, 3]], flags: [['immed', 8, 0], ['wsmk', 8, 1]] },
  SPACE: { length: 12, nums: [DST, ['code', 8, 1], ['count', 9, 3]], flags: [] },
  LOCATE: { length: 12, nums: [DST, ['logicalObjectId', 8, 4]], flags: [] },
  TAPE_IMAGE_COPY: { length: 12, nums: [SRC, DST, ['count', 8, 4]], flags: [] },
  REGISTER_KEY: { length: 28, nums: [DST], flags: [], keys },
  THIRD_PARTY_PR_SOURCE: { length: 32, variable: true, nums: [DST, ['relativeTargetPort', 26, 2]], flags: [['unreg', 25, 1], ['aptpl', 25, 0]], keys },
  BLOCK_IMAGE_COPY: { length: 28, nums: [SRC, DST, ['srcLba', 8, 8], ['dstLba', 16, 8], ['blocks', 24, 4]], flags: [] },
};

const HOLDING: ReadonlySet<SegmentTypeName> = new Set<SegmentTypeName>([
  'BLOCK_TO_STREAM_HOLD',
  'STREAM_TO_BLOCK_HOLD',
  'BLOCK_TO_BLOCK_HOLD',
  'STREAM_TO_STREAM_HOLD',
  'STREAM_TO_DISCARD_HOLD',
]);

/** The layouts by type code, for the codec (which meets codes on the wire). */
export const SEGMENT_LAYOUTS: ReadonlyMap<number, SegmentLayout> = new Map(
  (Object.entries(SHAPES) as Array<[SegmentTypeName, Shape]>).map(([name, shape]) => [SegmentType[name], { ...shape, name, holdsData: HOLDING.has(name) }]),
);

/** Whether segment type `type` keeps its data as held data. */
export const holdsData = (type: number): boolean => SEGMENT_LAYOUTS.get(type)?.holdsData ?? false;

/**
 * The typed view of a descriptor that decodeParameterList accepted: it checked the length against
 * the layout and decodeSegment filled every field the layout has, so the wire form is that type's
 * shape. (Hand-built descriptors are encoded, not read through here.)
 */
export const segmentOf = (s: SegmentDescriptor): Segment => s as Segment;

const readNum = (b: Buffer, at: number, w: number): number => (w === 8 ? Number(b.readBigUInt64BE(at)) : b.readUIntBE(at, w));
function writeNum(b: Buffer, at: number, w: number, v: number): void {
  if (w === 8) b.writeBigUInt64BE(BigInt(v), at);
  // Modulo 2^(8w): signed counts (SPACE) are written two's complement.
  else b.writeUIntBE(((v % 2 ** (8 * w)) + 2 ** (8 * w)) % 2 ** (8 * w), at, w);
}
const signExtend24 = (v: number) => (v & 0x800000 ? v - 0x1000000 : v);

function segmentLength(s: SegmentDescriptor): number {
  const l = SEGMENT_LAYOUTS.get(s.type);
  if (!l) return 4 + (s.body?.length ?? 0);
  if (s.type === 0x05) return 16 + roundUp4(s.embedded?.length ?? 0);
  if (s.type === 0x15) return 32 + roundUp4(s.transportId?.length ?? 0);
  return l.length;
}

const roundUp4 = (n: number) => (n + 3) & ~3;

export function encodeSegment(s: SegmentDescriptor): Buffer {
  const l = SEGMENT_LAYOUTS.get(s.type);
  const b = Buffer.alloc(segmentLength(s));
  b[0] = s.type;
  b.writeUInt16BE(b.length - 4, 2);
  if (!l) {
    s.body?.copy(b, 4);
    return b;
  }
  for (const [name, at, w] of l.nums) {
    let v = s[name] ?? 0;
    if (name === 'byteCount' && s.type === 0x05) v = s.embedded?.length ?? 0;
    writeNum(b, at, w, v);
  }
  for (const [name, at, bitNo] of l.flags) if (s[name]) b[at]! |= 1 << bitNo;
  for (const [name, at] of l.keys ?? []) (s[name] ?? Buffer.alloc(8)).copy(b, at, 0, 8);
  if (s.type === 0x05) s.embedded?.copy(b, 16);
  if (s.type === 0x15) {
    b.writeUInt32BE(s.transportId?.length ?? 0, 28);
    s.transportId?.copy(b, 32);
  }
  return b;
}

/** Decode one segment descriptor (no checks; `b` must hold all of it). */
export function decodeSegment(b: Buffer, offset = 0): SegmentDescriptor {
  const type = b[offset]!;
  const len = 4 + b.readUInt16BE(offset + 2);
  const d = b.subarray(offset, offset + len);
  const s: SegmentDescriptor = { type, offset };
  const l = SEGMENT_LAYOUTS.get(type);
  if (!l) {
    s.body = Buffer.from(d.subarray(4));
    return s;
  }
  for (const [name, at, w] of l.nums) if (at + w <= d.length) s[name] = readNum(d, at, w);
  for (const [name, at, bitNo] of l.flags) if (at < d.length) s[name] = bit(d[at]!, bitNo);
  for (const [name, at] of l.keys ?? []) if (at + 8 <= d.length) s[name] = Buffer.from(d.subarray(at, at + 8));
  if (type === 0x11 && s.count !== undefined) {
    s.count = signExtend24(s.count);
    s.code = field(s.code ?? 0, 0, 3);
  }
  if (type === 0x05) s.embedded = Buffer.from(d.subarray(16, 16 + Math.min(s.byteCount ?? 0, Math.max(0, d.length - 16))));
  if (type === 0x15 && d.length >= 32) s.transportId = Buffer.from(d.subarray(32, 32 + d.readUInt32BE(28)));
  return s;
}

// ---------------------------------------------------------------- whole parameter list

export interface XcopyParameterList {
  header: XcopyHeader;
  cscds: CscdDescriptor[];
  segments: SegmentDescriptor[];
  inline: Buffer;
}

export function encodeParameterList(p: XcopyParameterList): Buffer {
  const cscd = Buffer.concat(p.cscds.map(encodeCscd));
  const seg = Buffer.concat(p.segments.map(encodeSegment));
  const h = header.encode({
    listId: p.header.listId,
    flags: pack([p.header.str, 5], [p.header.listIdUsage, 3, 2], [p.header.priority, 0, 3]),
    cscdLen: cscd.length,
    segLen: seg.length,
    inlineLen: p.inline.length,
  });
  return Buffer.concat([h, cscd, seg, p.inline]);
}

/** What the decoder accepts: the copy manager's advertised limits and implemented codes. */
export interface XcopyPolicy {
  maxCscdCount: number;
  maxSegmentCount: number;
  maxDescriptorListLength: number;
  maxInlineDataLength: number;
  heldDataLimit: number;
  /** Implemented descriptor type codes (segment and CSCD mixed), as OPERATING PARAMETERS lists them. */
  supported: ReadonlySet<number>;
}

/** Everything the codec can represent: for the backup server's own checks and for tests. */
export const PERMISSIVE_POLICY: XcopyPolicy = {
  maxCscdCount: 0xffff,
  maxSegmentCount: 0xffff,
  maxDescriptorListLength: 0xffffffff,
  maxInlineDataLength: 0xffffffff,
  heldDataLimit: 0xffffffff,
  supported: new Set([...SEGMENT_LAYOUTS.keys(), 0xe0, 0xe1, 0xe2, 0xe3, 0xe4]),
};

const illegal = (asc: number, ascq: number, byte?: number, bitNo?: number) =>
  new ScsiError({
    key: SenseKey.ILLEGAL_REQUEST,
    asc,
    ascq,
    ...(byte !== undefined ? { sks: { kind: 'field' as const, cd: false, byte, ...(bitNo !== undefined ? { bit: bitNo } : {}) } } : {}),
  });
const invalidParam = (byte: number, bitNo?: number) => illegal(0x26, 0x00, byte, bitNo);

/**
 * Decode and statically validate a parameter list (`buf` = the Data-Out, its length = PARAMETER LIST
 * LENGTH, which must be ≥ 1). Throws ScsiError (ILLEGAL REQUEST, field pointer into the parameter list)
 * at the first problem, in extended-copy.md §12.1 order.
 */
export function decodeParameterList(buf: Buffer, policy: XcopyPolicy = PERMISSIVE_POLICY): XcopyParameterList {
  if (buf.length < HEADER_LEN) throw illegal(0x1a, 0x00);
  const h = header.decode(buf);
  const usage = field(h.flags, 3, 2);
  if (usage === ListIdUsage.RESERVED) throw invalidParam(1, 4);
  if (usage === ListIdUsage.NONE && h.listId !== 0) throw invalidParam(0);
  if (h.flags & 0xc0) throw invalidParam(1, h.flags & 0x80 ? 7 : 6);
  const C = h.cscdLen;
  const S = h.segLen;
  const I = h.inlineLen;
  if (HEADER_LEN + C + S + I > buf.length) throw illegal(0x1a, 0x00);
  if (C + S > policy.maxDescriptorListLength) throw illegal(0x1a, 0x00);
  if (I > policy.maxInlineDataLength) throw illegal(0x26, 0x0b, 12);
  if (C % 32 !== 0) throw invalidParam(2);
  if (C / 32 > policy.maxCscdCount) throw illegal(0x26, 0x06, HEADER_LEN + 32 * policy.maxCscdCount);

  const cscds: CscdDescriptor[] = [];
  for (let at = HEADER_LEN; at < HEADER_LEN + C; ) {
    const type = buf[at]!;
    if (!policy.supported.has(type) || type < 0xe0 || type === 0xff) throw illegal(0x26, 0x07, at);
    const len = cscdLength(type);
    if (at + len > HEADER_LEN + C) throw invalidParam(2);
    const d = decodeCscd(buf, at);
    if (type !== CscdType.IDENTIFICATION && d.luIdType !== 0) throw invalidParam(at + 1, 7);
    if (d.params.kind === 'raw') throw invalidParam(at + 1, 4);
    if (d.params.kind === 'stream' && d.params.fixed !== (d.params.blockLength !== 0)) throw invalidParam(at + 28, 0);
    if (type === CscdType.IDENTIFICATION && buf[at + 7]! > 20) throw invalidParam(at + 7);
    if (len === 64 && buf[at + 32] !== 0xff) throw invalidParam(at + 32);
    cscds.push(d);
    // A 64-byte descriptor occupies two CSCD IDs; the second one names the extension.
    if (len === 64) cscds.push({ ...d, type: 0xff, offset: at + 32 });
    at += len;
  }

  const segments: SegmentDescriptor[] = [];
  const segStart = HEADER_LEN + C;
  const segEnd = segStart + S;
  for (let at = segStart; at < segEnd; ) {
    if (segments.length >= policy.maxSegmentCount) throw illegal(0x26, 0x08, at);
    if (at + 4 > segEnd) throw invalidParam(at);
    const type = buf[at]!;
    if (!policy.supported.has(type) || type >= 0xc0) throw illegal(0x26, 0x09, at);
    const len = 4 + buf.readUInt16BE(at + 2);
    if (at + len > segEnd) throw invalidParam(at + 2);
    const l = SEGMENT_LAYOUTS.get(type);
    if (l) {
      if (l.variable ? len < l.length || len % 4 !== 0 : len !== l.length) throw invalidParam(at + 2);
    }
    const s = decodeSegment(buf, at);
    if (type === 0x05 && (s.byteCount ?? 0) > len - 16) throw invalidParam(at + 12);
    if (type === 0x15 && 32 + (s.transportId?.length ?? 0) > len) throw invalidParam(at + 28);
    if (type === 0x04 && (s.inlineOffset ?? 0) % 4 !== 0) throw invalidParam(at + 12);
    if (holdsData(type) && (usage === ListIdUsage.NONE || policy.heldDataLimit === 0)) throw invalidParam(at);
    segments.push(s);
    at += len;
  }

  return {
    header: { listId: h.listId, str: bit(h.flags, 5), listIdUsage: usage, priority: field(h.flags, 0, 3) },
    cscds,
    segments,
    inline: Buffer.from(buf.subarray(segEnd, segEnd + I)),
  };
}

/** Parameter-list offset of CSCD ID `id` (IDs 0000h–07FFh). */
export const cscdOffset = (id: number): number => HEADER_LEN + 32 * id;

/** Special CSCD IDs (SPC-4 table 148). */
export const CscdId = { NULL_BLOCK: 0xc000, NULL_STREAM: 0xc001, ROD: 0xf800, COPY_MANAGER_LU: 0xffff } as const;
