/**
 * Media changer (SMC-3) wire structures: the changer CDBs (MOVE MEDIUM, EXCHANGE MEDIUM, POSITION TO
 * ELEMENT, READ ELEMENT STATUS, INITIALIZE ELEMENT STATUS [WITH RANGE], OPEN/CLOSE IMPORT/EXPORT
 * ELEMENT), the element status data (header, pages, descriptors with volume tags and DVCID device
 * identifiers) and the mode pages 1Dh Element Address Assignment, 1Eh Transport Geometry and 1Fh
 * Device Capabilities. Layouts: smc.md §2. The changer LU encodes responses and decodes CDBs with
 * these; a client (tests, a backup server driving a library) does the reverse with the same code.
 */
import { bit, field, pack, struct, u8, u16, u24 } from './layout.js';
import { ScsiError, SenseKey } from './sense.js';
import type { CdbRequest } from './cdb.js';

export const SmcOp = {
  INITIALIZE_ELEMENT_STATUS: 0x07,
  OPEN_CLOSE_IMPORT_EXPORT: 0x1b,
  PREVENT_ALLOW: 0x1e,
  POSITION_TO_ELEMENT: 0x2b,
  INITIALIZE_ELEMENT_STATUS_WITH_RANGE: 0x37,
  MOVE_MEDIUM: 0xa5,
  EXCHANGE_MEDIUM: 0xa6,
  READ_ELEMENT_STATUS: 0xb8,
  /** Vendor 12-byte form (Exabyte/Quantum DX, what mhVTL registers); dmsim reads it with the 37h field positions. */
  INITIALIZE_ELEMENT_STATUS_WITH_RANGE_VENDOR: 0xe7,
} as const;

/** ELEMENT TYPE CODE (READ ELEMENT STATUS byte 1 bits 3..0, page header byte 0). */
export const ElementType = { ALL: 0, TRANSPORT: 1, STORAGE: 2, IMPORT_EXPORT: 3, DATA_TRANSFER: 4 } as const;
export type ElementType = 1 | 2 | 3 | 4;

/** MEDIUM TYPE (descriptor byte 9 bits 2..0), smc.md §1.5. */
export const MediumType = { UNSPECIFIED: 0, DATA: 1, CLEANING: 2, DIAGNOSTIC: 3, WORM: 4 } as const;

/** OPEN/CLOSE IMPORT/EXPORT ELEMENT action codes (byte 4 bits 4..0). */
export const ImportExportAction = { OPEN: 0x00, CLOSE: 0x01 } as const;

const VOLUME_TAG_LENGTH = 36;
const VOLUME_ID_LENGTH = 32;

// ---------------------------------------------------------------- CDBs

/** MOVE MEDIUM (A5h): transport 0 = the default one; INVERT byte 10 bit 0. */
export interface MoveMediumCdb {
  transport: number;
  source: number;
  destination: number;
  invert: boolean;
  control?: number;
}

interface Move12Raw {
  opcode: number;
  b1: number;
  transport: number;
  a: number;
  b: number;
  c: number;
  flags: number;
  control: number;
}
const move12 = struct<Move12Raw>([u8('opcode'), u8('b1'), u16('transport'), u16('a'), u16('b'), u16('c'), u8('flags'), u8('control')]);

export function encodeMoveMedium(v: Partial<MoveMediumCdb> & { source: number; destination: number }): Buffer {
  return move12.encode({ opcode: SmcOp.MOVE_MEDIUM, b1: 0, transport: v.transport ?? 0, a: v.source, b: v.destination, c: 0, flags: pack([!!v.invert, 0]), control: v.control ?? 0 });
}

export function decodeMoveMedium(cdb: Buffer): MoveMediumCdb {
  const r = move12.decode(cdb);
  return { transport: r.transport, source: r.a, destination: r.b, invert: bit(r.flags, 0), control: r.control };
}

/** EXCHANGE MEDIUM (A6h): source → first destination, first destination's medium → second destination. */
export interface ExchangeMediumCdb {
  transport: number;
  source: number;
  firstDestination: number;
  secondDestination: number;
  inv1: boolean;
  inv2: boolean;
  control?: number;
}

export function encodeExchangeMedium(v: Partial<ExchangeMediumCdb> & { source: number; firstDestination: number; secondDestination: number }): Buffer {
  return move12.encode({
    opcode: SmcOp.EXCHANGE_MEDIUM,
    b1: 0,
    transport: v.transport ?? 0,
    a: v.source,
    b: v.firstDestination,
    c: v.secondDestination,
    flags: pack([!!v.inv1, 0], [!!v.inv2, 1]),
    control: v.control ?? 0,
  });
}

export function decodeExchangeMedium(cdb: Buffer): ExchangeMediumCdb {
  const r = move12.decode(cdb);
  return { transport: r.transport, source: r.a, firstDestination: r.b, secondDestination: r.c, inv1: bit(r.flags, 0), inv2: bit(r.flags, 1), control: r.control };
}

/** POSITION TO ELEMENT (2Bh, 10 bytes): bytes 2–3 transport, 4–5 destination, byte 8 bit 0 INVERT. */
export interface PositionToElementCdb {
  transport: number;
  destination: number;
  invert: boolean;
}

interface Position10Raw {
  opcode: number;
  b1: number;
  transport: number;
  destination: number;
  r6: number;
  flags: number;
  control: number;
}
const position10 = struct<Position10Raw>([u8('opcode'), u8('b1'), u16('transport'), u16('destination'), u16('r6'), u8('flags'), u8('control')]);

export function encodePositionToElement(v: Partial<PositionToElementCdb> & { destination: number }): Buffer {
  return position10.encode({ opcode: SmcOp.POSITION_TO_ELEMENT, b1: 0, transport: v.transport ?? 0, destination: v.destination, r6: 0, flags: pack([!!v.invert, 0]), control: 0 });
}

export function decodePositionToElement(cdb: Buffer): PositionToElementCdb {
  const r = position10.decode(cdb);
  return { transport: r.transport, destination: r.destination, invert: bit(r.flags, 0) };
}

/** READ ELEMENT STATUS (B8h, 12 bytes), smc.md §2.7. */
export interface ReadElementStatusCdb {
  voltag: boolean;
  /** 0 = all types. */
  elementType: number;
  start: number;
  /** NUMBER OF ELEMENTS; dmsim treats 0 as "no limit". */
  count: number;
  mixed: boolean;
  curdata: boolean;
  dvcid: boolean;
  allocationLength: number;
}

interface Res12Raw {
  opcode: number;
  b1: number;
  start: number;
  count: number;
  b6: number;
  alloc: number;
  r10: number;
  control: number;
}
const res12 = struct<Res12Raw>([u8('opcode'), u8('b1'), u16('start'), u16('count'), u8('b6'), u24('alloc'), u8('r10'), u8('control')]);

export function encodeReadElementStatus(v: Partial<ReadElementStatusCdb> & { allocationLength: number }): Buffer {
  return res12.encode({
    opcode: SmcOp.READ_ELEMENT_STATUS,
    b1: pack([!!v.voltag, 4], [v.elementType ?? 0, 0, 4]),
    start: v.start ?? 0,
    count: v.count ?? 0xffff,
    b6: pack([!!v.dvcid, 0], [!!v.curdata, 1], [!!v.mixed, 2]),
    alloc: v.allocationLength,
    r10: 0,
    control: 0,
  });
}

export const readElementStatusRequest = (v: Partial<ReadElementStatusCdb> & { allocationLength: number }): CdbRequest => ({ cdb: encodeReadElementStatus(v), direction: 'in', length: v.allocationLength });

export function decodeReadElementStatus(cdb: Buffer): ReadElementStatusCdb {
  const r = res12.decode(cdb);
  return {
    voltag: bit(r.b1, 4),
    elementType: field(r.b1, 0, 4),
    start: r.start,
    count: r.count,
    mixed: bit(r.b6, 2),
    curdata: bit(r.b6, 1),
    dvcid: bit(r.b6, 0),
    allocationLength: r.alloc,
  };
}

/** INITIALIZE ELEMENT STATUS WITH RANGE (37h, 10 bytes; E7h 12 bytes with the same fields in bytes 1–7). */
export interface InitializeElementStatusRangeCdb {
  fast: boolean;
  /** 0: all elements, the address fields are ignored. */
  range: boolean;
  start: number;
  /** 0 with RANGE=1: through the last element. */
  count: number;
}

export function encodeInitializeElementStatusWithRange(v: Partial<InitializeElementStatusRangeCdb>, opcode: number = SmcOp.INITIALIZE_ELEMENT_STATUS_WITH_RANGE): Buffer {
  const b = Buffer.alloc(opcode === SmcOp.INITIALIZE_ELEMENT_STATUS_WITH_RANGE_VENDOR ? 12 : 10);
  b[0] = opcode;
  b[1] = pack([!!v.range, 0], [!!v.fast, 1]);
  b.writeUInt16BE(v.start ?? 0, 2);
  b.writeUInt16BE(v.count ?? 0, 6);
  return b;
}

export function decodeInitializeElementStatusWithRange(cdb: Buffer): InitializeElementStatusRangeCdb {
  if (cdb.length < 10) throw new RangeError('INITIALIZE ELEMENT STATUS WITH RANGE needs 10 bytes');
  return { range: bit(cdb[1]!, 0), fast: bit(cdb[1]!, 1), start: cdb.readUInt16BE(2), count: cdb.readUInt16BE(6) };
}

export function encodeInitializeElementStatus(): Buffer {
  return Buffer.from([SmcOp.INITIALIZE_ELEMENT_STATUS, 0, 0, 0, 0, 0]);
}

/** OPEN/CLOSE IMPORT/EXPORT ELEMENT (1Bh on a changer): bytes 2–3 address, byte 4 bits 4..0 action. */
export interface OpenCloseImportExportCdb {
  address: number;
  action: number;
}

export function encodeOpenCloseImportExport(v: OpenCloseImportExportCdb): Buffer {
  const b = Buffer.alloc(6);
  b[0] = SmcOp.OPEN_CLOSE_IMPORT_EXPORT;
  b.writeUInt16BE(v.address, 2);
  b[4] = v.action & 0x1f;
  return b;
}

export function decodeOpenCloseImportExport(cdb: Buffer): OpenCloseImportExportCdb {
  if (cdb.length < 6) throw new RangeError('OPEN/CLOSE IMPORT/EXPORT ELEMENT needs 6 bytes');
  return { address: cdb.readUInt16BE(2), action: field(cdb[4]!, 0, 5) };
}

// ---------------------------------------------------------------- element status data

/** The identification descriptor of a data transfer element (DVCID, smc.md §1.6). */
export interface DeviceIdentifier {
  /** 2 = ASCII. */
  codeSet: number;
  /** 0 vendor specific (serial only), 1 T10 vendor ID based (vendor 8 + product 16 + serial). */
  identifierType: number;
  identifier: Buffer;
}

export interface ElementDescriptor {
  address: number;
  full: boolean;
  /** IE only: placed by the operator. */
  impexp?: boolean;
  except?: boolean;
  /** ST/IE/DT: the transport can reach the element now. */
  access?: boolean;
  exenab?: boolean;
  inenab?: boolean;
  cmc?: boolean;
  oir?: boolean;
  asc?: number;
  ascq?: number;
  /** DT byte 6 (obsolete SCSI-2 fields): NOT BUS, ID VALID, LU VALID, LUN. */
  notBus?: boolean;
  idValid?: boolean;
  luValid?: boolean;
  lun?: number;
  /** DT byte 7. */
  busAddress?: number;
  svalid?: boolean;
  invert?: boolean;
  ed?: boolean;
  mediumType?: number;
  /** SOURCE STORAGE ELEMENT ADDRESS. */
  source?: number;
  /** Primary volume tag: the barcode (space-padded to 32); undefined/'' = 36 zero bytes (no label). */
  volumeTag?: string;
  volumeSequence?: number;
  /** DT with DVCID only. */
  deviceId?: DeviceIdentifier;
}

export interface ElementStatusPage {
  type: ElementType;
  /** Descriptors carry a primary volume tag (CDB VOLTAG). */
  pvoltag: boolean;
  /** Alternate tags: tape libraries never have them; decoded, encoded as 36 zero bytes. */
  avoltag?: boolean;
  /**
   * DT pages only: length of the DVCID identifier every descriptor carries (0 = no DVCID).
   * Identifiers shorter than this are padded with spaces, so all descriptors have one length.
   */
  identifierLength?: number;
  descriptors: ElementDescriptor[];
}

export interface ElementStatusData {
  firstAddress: number;
  /** NUMBER OF ELEMENTS AVAILABLE. */
  available: number;
  /** BYTE COUNT OF REPORT AVAILABLE (page headers + descriptors, not this header). */
  byteCount: number;
  pages: Array<ElementStatusPage & { descriptorLength: number; byteCount: number }>;
}

const STATUS_HEADER = 8;
const PAGE_HEADER = 8;

/** Descriptor length of a page: 12 fixed bytes, tags, 4 reserved/identification bytes, identifier. */
export function descriptorLength(p: Pick<ElementStatusPage, 'pvoltag' | 'avoltag' | 'identifierLength'>): number {
  return 12 + (p.pvoltag ? VOLUME_TAG_LENGTH : 0) + (p.avoltag ? VOLUME_TAG_LENGTH : 0) + 4 + (p.identifierLength ?? 0);
}

/** The 36-byte volume tag field: barcode space-padded to 32, 2 reserved, sequence; empty = all zero. */
export function encodeVolumeTag(barcode: string | undefined, sequence = 0): Buffer {
  const b = Buffer.alloc(VOLUME_TAG_LENGTH);
  if (!barcode) return b;
  b.fill(0x20, 0, VOLUME_ID_LENGTH);
  b.write(barcode.slice(0, VOLUME_ID_LENGTH), 0, 'ascii');
  b.writeUInt16BE(sequence, 34);
  return b;
}

function decodeVolumeTag(b: Buffer): { volumeTag: string; volumeSequence: number } {
  const id = b.subarray(0, VOLUME_ID_LENGTH);
  // All-zero = no label (smc.md §1.4); otherwise trailing spaces are padding.
  const volumeTag = id.every((x) => x === 0) ? '' : id.toString('ascii').replace(/[ \0]+$/, '');
  return { volumeTag, volumeSequence: b.readUInt16BE(34) };
}

function encodeDescriptor(type: ElementType, d: ElementDescriptor, p: ElementStatusPage, len: number, out: Buffer, off: number): void {
  out.writeUInt16BE(d.address, off);
  out[off + 2] = pack([d.full, 0], [!!d.impexp, 1], [!!d.except, 2], [!!d.access, 3], [!!d.exenab, 4], [!!d.inenab, 5], [!!d.cmc, 6], [!!d.oir, 7]);
  out[off + 4] = d.asc ?? 0;
  out[off + 5] = d.ascq ?? 0;
  if (type === ElementType.DATA_TRANSFER) {
    out[off + 6] = pack([!!d.notBus, 7], [!!d.idValid, 5], [!!d.luValid, 4], [d.lun ?? 0, 0, 3]);
    out[off + 7] = d.busAddress ?? 0;
  }
  out[off + 9] = pack([!!d.svalid, 7], [!!d.invert, 6], [!!d.ed, 3], [d.mediumType ?? 0, 0, 3]);
  out.writeUInt16BE(d.source ?? 0, off + 10);
  let q = off + 12;
  if (p.pvoltag) {
    encodeVolumeTag(d.volumeTag, d.volumeSequence).copy(out, q);
    q += VOLUME_TAG_LENGTH;
  }
  if (p.avoltag) q += VOLUME_TAG_LENGTH;
  const idLen = p.identifierLength ?? 0;
  if (idLen && d.deviceId) {
    out[q] = field(d.deviceId.codeSet, 0, 4);
    out[q + 1] = field(d.deviceId.identifierType, 0, 4);
    out[q + 3] = idLen;
    out.fill(0x20, q + 4, q + 4 + idLen);
    d.deviceId.identifier.copy(out, q + 4, 0, Math.min(idLen, d.deviceId.identifier.length));
  }
  q += 4 + idLen;
  if (q !== off + len) throw new Error(`descriptor layout ${q - off} != ${len}`);
}

/**
 * READ ELEMENT STATUS data in full: header, then each page (header + descriptors). The caller cuts
 * it at the allocation length; the counts here are those of the whole report (smc.md §2.7).
 */
export function encodeElementStatus(pages: ElementStatusPage[]): Buffer {
  const lens = pages.map((p) => descriptorLength(p));
  const body = pages.reduce((n, p, i) => n + PAGE_HEADER + p.descriptors.length * lens[i]!, 0);
  const out = Buffer.alloc(STATUS_HEADER + body);
  const all = pages.flatMap((p) => p.descriptors);
  out.writeUInt16BE(all.length ? Math.min(...all.map((d) => d.address)) : 0, 0);
  out.writeUInt16BE(all.length, 2);
  out.writeUIntBE(body, 5, 3);
  let off = STATUS_HEADER;
  pages.forEach((p, i) => {
    const len = lens[i]!;
    out[off] = p.type;
    out[off + 1] = pack([p.pvoltag, 7], [!!p.avoltag, 6]);
    out.writeUInt16BE(len, off + 2);
    out.writeUIntBE(p.descriptors.length * len, off + 5, 3);
    off += PAGE_HEADER;
    for (const d of p.descriptors) {
      encodeDescriptor(p.type, d, p, len, out, off);
      off += len;
    }
  });
  return out;
}

/**
 * Parse READ ELEMENT STATUS data as received: a report cut at the allocation length keeps the
 * header counts; pages and descriptors are parsed only as far as whole ones arrived.
 */
export function decodeElementStatus(b: Buffer): ElementStatusData {
  if (b.length < STATUS_HEADER) throw new RangeError(`element status header needs 8 bytes, have ${b.length}`);
  const data: ElementStatusData = { firstAddress: b.readUInt16BE(0), available: b.readUInt16BE(2), byteCount: b.readUIntBE(5, 3), pages: [] };
  const end = Math.min(b.length, STATUS_HEADER + data.byteCount);
  let off = STATUS_HEADER;
  while (off + PAGE_HEADER <= end) {
    const type = field(b[off]!, 0, 4) as ElementType;
    const pvoltag = bit(b[off + 1]!, 7);
    const avoltag = bit(b[off + 1]!, 6);
    const len = b.readUInt16BE(off + 2);
    const byteCount = b.readUIntBE(off + 5, 3);
    off += PAGE_HEADER;
    const descriptors: ElementDescriptor[] = [];
    let identifierLength = 0;
    const pageEnd = Math.min(end, off + byteCount);
    for (let q = off; len >= 12 && q + len <= pageEnd; q += len) {
      const d = decodeDescriptor(b.subarray(q, q + len), type, pvoltag, avoltag);
      if (d.deviceId) identifierLength = Math.max(identifierLength, d.deviceId.identifier.length);
      descriptors.push(d);
    }
    data.pages.push({ type, pvoltag, avoltag, descriptorLength: len, byteCount, identifierLength, descriptors });
    off += byteCount;
  }
  return data;
}

function decodeDescriptor(d: Buffer, type: ElementType, pvoltag: boolean, avoltag: boolean): ElementDescriptor {
  const f = d[2]!;
  const out: ElementDescriptor = {
    address: d.readUInt16BE(0),
    full: bit(f, 0),
    impexp: bit(f, 1),
    except: bit(f, 2),
    access: bit(f, 3),
    exenab: bit(f, 4),
    inenab: bit(f, 5),
    cmc: bit(f, 6),
    oir: bit(f, 7),
    asc: d[4]!,
    ascq: d[5]!,
    svalid: bit(d[9]!, 7),
    invert: bit(d[9]!, 6),
    ed: bit(d[9]!, 3),
    mediumType: field(d[9]!, 0, 3),
    source: d.readUInt16BE(10),
  };
  if (type === ElementType.DATA_TRANSFER) {
    Object.assign(out, { notBus: bit(d[6]!, 7), idValid: bit(d[6]!, 5), luValid: bit(d[6]!, 4), lun: field(d[6]!, 0, 3), busAddress: d[7]! });
  }
  let q = 12;
  if (pvoltag && d.length >= q + VOLUME_TAG_LENGTH) {
    Object.assign(out, decodeVolumeTag(d.subarray(q, q + VOLUME_TAG_LENGTH)));
    q += VOLUME_TAG_LENGTH;
  }
  if (avoltag) q += VOLUME_TAG_LENGTH;
  if (type === ElementType.DATA_TRANSFER && d.length >= q + 4 && d[q + 3]! > 0) {
    const n = d[q + 3]!;
    out.deviceId = { codeSet: field(d[q]!, 0, 4), identifierType: field(d[q + 1]!, 0, 4), identifier: Buffer.from(d.subarray(q + 4, q + 4 + n)) };
  }
  return out;
}

// ---------------------------------------------------------------- mode pages

export const SmcModePage = { ELEMENT_ADDRESS_ASSIGNMENT: 0x1d, TRANSPORT_GEOMETRY: 0x1e, DEVICE_CAPABILITIES: 0x1f } as const;

export interface ElementRun {
  first: number;
  count: number;
}

/** Element Address Assignment (1Dh): the four runs, 20 bytes with the page header. */
export interface ElementAddressAssignment {
  transport: ElementRun;
  storage: ElementRun;
  importExport: ElementRun;
  dataTransfer: ElementRun;
}

interface EaaRaw {
  code: number;
  length: number;
  mtFirst: number;
  mtCount: number;
  stFirst: number;
  stCount: number;
  ieFirst: number;
  ieCount: number;
  dtFirst: number;
  dtCount: number;
  r18: number;
}
const eaa = struct<EaaRaw>([
  u8('code'), u8('length'), u16('mtFirst'), u16('mtCount'), u16('stFirst'), u16('stCount'), u16('ieFirst'), u16('ieCount'), u16('dtFirst'), u16('dtCount'), u16('r18'),
]);

export function encodeElementAddressPage(v: ElementAddressAssignment, ps = false): Buffer {
  return eaa.encode({
    code: pack([SmcModePage.ELEMENT_ADDRESS_ASSIGNMENT, 0, 6], [ps, 7]),
    length: 0x12,
    mtFirst: v.transport.first,
    mtCount: v.transport.count,
    stFirst: v.storage.first,
    stCount: v.storage.count,
    ieFirst: v.importExport.first,
    ieCount: v.importExport.count,
    dtFirst: v.dataTransfer.first,
    dtCount: v.dataTransfer.count,
    r18: 0,
  });
}

export function decodeElementAddressPage(b: Buffer): ElementAddressAssignment {
  const r = eaa.decode(b);
  if (field(r.code, 0, 6) !== SmcModePage.ELEMENT_ADDRESS_ASSIGNMENT) throw new RangeError(`not page 1Dh: ${r.code.toString(16)}`);
  return {
    transport: { first: r.mtFirst, count: r.mtCount },
    storage: { first: r.stFirst, count: r.stCount },
    importExport: { first: r.ieFirst, count: r.ieCount },
    dataTransfer: { first: r.dtFirst, count: r.dtCount },
  };
}

/** Transport Geometry Parameters (1Eh): per transport, ROTATE and MEMBER NUMBER IN TRANSPORT ELEMENT SET. */
export function encodeTransportGeometryPage(transports: Array<{ rotate: boolean; member: number }>, ps = false): Buffer {
  const b = Buffer.alloc(2 + 2 * transports.length);
  b[0] = pack([SmcModePage.TRANSPORT_GEOMETRY, 0, 6], [ps, 7]);
  b[1] = 2 * transports.length;
  transports.forEach((t, k) => {
    b[2 + 2 * k] = pack([t.rotate, 0]);
    b[3 + 2 * k] = t.member;
  });
  return b;
}

export function decodeTransportGeometryPage(b: Buffer): Array<{ rotate: boolean; member: number }> {
  const n = Math.floor(Math.min(b[1]!, b.length - 2) / 2);
  return Array.from({ length: n }, (_, k) => ({ rotate: bit(b[2 + 2 * k]!, 0), member: b[3 + 2 * k]! }));
}

/** The element types in the bit order of page 1Fh's nibbles: bit 0 MT, 1 ST, 2 I/E, 3 DT. */
export type CapabilityTypes = { transport?: boolean; storage?: boolean; importExport?: boolean; dataTransfer?: boolean };
type Row = 'transport' | 'storage' | 'importExport' | 'dataTransfer';
const ROWS: Row[] = ['transport', 'storage', 'importExport', 'dataTransfer'];

/** Device Capabilities (1Fh), 20 bytes: StorXX, S2C/VTRP/ACE, the move (XX→YY) and exchange (XX↔YY) matrices. */
export interface DeviceCapabilities {
  stor: CapabilityTypes;
  s2c: boolean;
  vtrp: boolean;
  ace: boolean;
  /** move[from] = destination types MOVE MEDIUM accepts; `readAttribute` = XX→RA. */
  move: Record<Row, CapabilityTypes & { readAttribute?: boolean }>;
  /** exchange[from] = types EXCHANGE MEDIUM accepts; `writeAttribute` = XX→WA. */
  exchange: Record<Row, CapabilityTypes & { writeAttribute?: boolean }>;
}

const nibble = (t: CapabilityTypes) => pack([!!t.transport, 0], [!!t.storage, 1], [!!t.importExport, 2], [!!t.dataTransfer, 3]);
const unnibble = (v: number): Required<CapabilityTypes> => ({ transport: bit(v, 0), storage: bit(v, 1), importExport: bit(v, 2), dataTransfer: bit(v, 3) });
const DEVICE_CAPABILITIES_PAGE_LENGTH = 20;

export function encodeDeviceCapabilitiesPage(v: DeviceCapabilities, ps = false): Buffer {
  const b = Buffer.alloc(DEVICE_CAPABILITIES_PAGE_LENGTH);
  b[0] = pack([SmcModePage.DEVICE_CAPABILITIES, 0, 6], [ps, 7]);
  b[1] = 0x12;
  b[2] = nibble(v.stor);
  b[3] = pack([v.s2c, 0], [v.vtrp, 1], [v.ace, 2]);
  ROWS.forEach((r, i) => {
    b[4 + i] = nibble(v.move[r]) | pack([!!v.move[r].readAttribute, 7]);
    b[12 + i] = nibble(v.exchange[r]) | pack([!!v.exchange[r].writeAttribute, 7]);
  });
  return b;
}

export function decodeDeviceCapabilitiesPage(b: Buffer): DeviceCapabilities {
  if (b.length < DEVICE_CAPABILITIES_PAGE_LENGTH) throw new RangeError('page 1Fh needs 20 bytes');
  const move = {} as DeviceCapabilities['move'];
  const exchange = {} as DeviceCapabilities['exchange'];
  ROWS.forEach((r, i) => {
    move[r] = { ...unnibble(b[4 + i]!), readAttribute: bit(b[4 + i]!, 7) };
    exchange[r] = { ...unnibble(b[12 + i]!), writeAttribute: bit(b[12 + i]!, 7) };
  });
  return { stor: unnibble(b[2]!), s2c: bit(b[3]!, 0), vtrp: bit(b[3]!, 1), ace: bit(b[3]!, 2), move, exchange };
}

/** Which page-1Fh row/column an element type is. */
export const capabilityRow = (t: ElementType): Row => ROWS[t - 1]!;

// ---------------------------------------------------------------- changer sense (smc.md §2.4, §3)

const illegal = (asc: number, ascq: number, sks?: { byte: number; bit?: number }) =>
  new ScsiError({ key: SenseKey.ILLEGAL_REQUEST, asc, ascq, ...(sks ? { sks: { kind: 'field' as const, cd: true, ...sks } } : {}) });

/** The changer's error answers, named once (the tables in smc.md §2.4 and §3.1). */
export const ChangerSense = {
  /** 5/21/01 INVALID ELEMENT ADDRESS, field pointer on the address field. */
  invalidElementAddress: (byte: number) => illegal(0x21, 0x01, { byte }),
  /** 5/3B/0E MEDIUM SOURCE ELEMENT EMPTY. */
  sourceEmpty: () => illegal(0x3b, 0x0e),
  /** 5/3B/0D MEDIUM DESTINATION ELEMENT FULL. */
  destinationFull: () => illegal(0x3b, 0x0d),
  /** 5/3B/11 MEDIUM MAGAZINE NOT ACCESSIBLE (I/E station open to the operator). */
  magazineNotAccessible: () => illegal(0x3b, 0x11),
  /** 5/53/03 MEDIUM REMOVAL PREVENTED BY DATA TRANSFER ELEMENT. */
  removalPreventedByDrive: () => illegal(0x53, 0x03),
  /** 5/3B/90 (vendor): cartridge still loaded in the drive, library without auto-unload. */
  loadedInDrive: () => illegal(0x3b, 0x90),
  /** 4/53/09 DATA TRANSFER DEVICE ERROR - LOAD FAILED. */
  loadFailed: () => new ScsiError({ key: SenseKey.HARDWARE_ERROR, asc: 0x53, ascq: 0x09 }),
  /** 4/53/0A DATA TRANSFER DEVICE ERROR - UNLOAD FAILED. */
  unloadFailed: () => new ScsiError({ key: SenseKey.HARDWARE_ERROR, asc: 0x53, ascq: 0x0a }),
  /** 2/04/03 NOT READY, MANUAL INTERVENTION REQUIRED (door open). */
  doorOpen: () => new ScsiError({ key: SenseKey.NOT_READY, asc: 0x04, ascq: 0x03 }),
} as const;

/** Unit attentions of the changer (smc.md §3.3). */
export const ChangerUA = {
  MEDIUM_MAY_HAVE_CHANGED: [0x28, 0x00],
  IMPORT_EXPORT_ACCESSED: [0x28, 0x01],
} as const satisfies Record<string, readonly [number, number]>;
