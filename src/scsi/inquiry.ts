/**
 * INQUIRY (SPC-4 §6.6): the CDB, standard INQUIRY data, and the VPD pages every dmsim LU serves:
 * 00h Supported VPD Pages, 80h Unit Serial Number, 83h Device Identification (designator list)
 * and 86h Extended INQUIRY Data. Other device-specific pages (B0h, 8Fh) live with their device
 * families and are framed here by `vpdPage`.
 */
import { asciiField, bit, field, pack, struct, u8, u16, blob } from './layout.js';
import { SpcOp } from './spc.js';
import type { CdbRequest } from './cdb.js';

export const VpdPage = { SUPPORTED: 0x00, UNIT_SERIAL: 0x80, DEVICE_ID: 0x83, EXTENDED_INQUIRY: 0x86 } as const;

/** SPC-4 (VERSION 06h). */
export const SPC4_VERSION = 0x06;

/** Peripheral qualifier values (standard data byte 0 bits 7..5). */

/** Version descriptors (SPC-4 Table 30 area): the ones dmsim claims. */
export const VersionDescriptor = {
  SAM5: 0x00a0,
  SPC4: 0x0460,
  SBC3: 0x04c0,
  SSC3: 0x0400,
  ISCSI: 0x0960,
  FCP4: 0x0a40,
} as const;

// ---------------------------------------------------------------- CDB

export interface InquiryCdb {
  evpd: boolean;
  pageCode: number;
  allocationLength: number;
}

interface CdbRaw { opcode: number; b1: number; page: number; alloc: number; control: number }
const cdb6 = struct<CdbRaw>([u8('opcode'), u8('b1'), u8('page'), u16('alloc'), u8('control')]);

export function decodeInquiryCdb(cdb: Buffer): InquiryCdb {
  const r = cdb6.decode(cdb);
  return { evpd: bit(r.b1, 0), pageCode: r.page, allocationLength: r.alloc };
}

export function encodeInquiryCdb(v: InquiryCdb): Buffer {
  return cdb6.encode({ opcode: SpcOp.INQUIRY, b1: pack([v.evpd, 0]), page: v.pageCode, alloc: v.allocationLength, control: 0 });
}

/** INQUIRY with its data-in: the ALLOCATION LENGTH is what the initiator accepts. */
export const inquiryRequest = (v: InquiryCdb): CdbRequest => ({ cdb: encodeInquiryCdb(v), direction: 'in', length: v.allocationLength });

// ---------------------------------------------------------------- standard data

export interface StandardInquiry {
  qualifier: number;
  deviceType: number;
  rmb: boolean;
  version: number;
  normaca: boolean;
  hisup: boolean;
  responseDataFormat: number;
  sccs: boolean;
  acc: boolean;
  tpgs: number;
  threePC: boolean;
  protect: boolean;
  encserv: boolean;
  multip: boolean;
  cmdque: boolean;
  vendor: string;
  product: string;
  revision: string;
  versionDescriptors: number[];
}

interface StdRaw {
  b0: number; b1: number; version: number; b3: number; addl: number; b5: number; b6: number; b7: number;
  vendor: Buffer; product: Buffer; revision: Buffer; vs: Buffer; b56: number; r57: number; vd: Buffer; r74: Buffer;
}
const std = struct<StdRaw>([
  u8('b0'), u8('b1'), u8('version'), u8('b3'), u8('addl'), u8('b5'), u8('b6'), u8('b7'),
  blob(8, 'vendor'), blob(16, 'product'), blob(4, 'revision'), blob(20, 'vs'), u8('b56'), u8('r57'), blob(16, 'vd'), blob(22, 'r74'),
]);
/** Standard data is 96 bytes: through the eight version descriptors and the reserved tail. */
export const STANDARD_INQUIRY_LENGTH = std.span;

export function encodeStandardInquiry(v: Partial<StandardInquiry> & Pick<StandardInquiry, 'deviceType' | 'vendor' | 'product' | 'revision'>): Buffer {
  const vd = Buffer.alloc(16);
  (v.versionDescriptors ?? []).slice(0, 8).forEach((d, i) => vd.writeUInt16BE(d, 2 * i));
  return std.encode({
    b0: pack([v.qualifier ?? 0, 5, 3], [v.deviceType, 0, 5]),
    b1: pack([!!v.rmb, 7]),
    version: v.version ?? SPC4_VERSION,
    b3: pack([!!v.normaca, 5], [v.hisup ?? true, 4], [v.responseDataFormat ?? 2, 0, 4]),
    addl: std.span - 5,
    b5: pack([!!v.sccs, 7], [!!v.acc, 6], [v.tpgs ?? 0, 4, 2], [!!v.threePC, 3], [!!v.protect, 0]),
    b6: pack([!!v.encserv, 6], [!!v.multip, 4]),
    b7: pack([v.cmdque ?? true, 1]),
    vendor: asciiField(v.vendor, 8),
    product: asciiField(v.product, 16),
    revision: asciiField(v.revision, 4),
    vs: Buffer.alloc(20),
    b56: 0,
    r57: 0,
    vd,
    r74: Buffer.alloc(22),
  });
}

/** Decode standard data; accepts the 36-byte minimum (version descriptors then read as absent). */
export function decodeStandardInquiry(b: Buffer): StandardInquiry {
  if (b.length < 36) throw new RangeError('standard INQUIRY data shorter than 36 bytes');
  const full = b.length >= std.span ? b : Buffer.concat([b, Buffer.alloc(std.span - b.length)]);
  const r = std.decode(full);
  const vds: number[] = [];
  const vdEnd = Math.min(b.length, 5 + r.addl);
  for (let p = 58; p + 2 <= Math.min(74, vdEnd); p += 2) {
    const d = b.readUInt16BE(p);
    if (d) vds.push(d);
  }
  const text = (x: Buffer) => x.toString('ascii').replace(/[ \0]+$/, '');
  return {
    qualifier: field(r.b0, 5, 3),
    deviceType: field(r.b0, 0, 5),
    rmb: bit(r.b1, 7),
    version: r.version,
    normaca: bit(r.b3, 5),
    hisup: bit(r.b3, 4),
    responseDataFormat: field(r.b3, 0, 4),
    sccs: bit(r.b5, 7),
    acc: bit(r.b5, 6),
    tpgs: field(r.b5, 4, 2),
    threePC: bit(r.b5, 3),
    protect: bit(r.b5, 0),
    encserv: bit(r.b6, 6),
    multip: bit(r.b6, 4),
    cmdque: bit(r.b7, 1),
    vendor: text(r.vendor),
    product: text(r.product),
    revision: text(r.revision),
    versionDescriptors: vds,
  };
}

// ---------------------------------------------------------------- VPD framing

/** A VPD page: byte 0 peripheral qualifier/type, byte 1 page code, bytes 2..3 page length. */
export function vpdPage(deviceType: number, pageCode: number, body: Buffer, qualifier = 0): Buffer {
  const h = Buffer.alloc(4);
  h[0] = pack([qualifier, 5, 3], [deviceType, 0, 5]);
  h[1] = pageCode;
  h.writeUInt16BE(body.length, 2);
  return Buffer.concat([h, body]);
}

export interface VpdHeader {
  qualifier: number;
  deviceType: number;
  pageCode: number;
  pageLength: number;
  body: Buffer;
}

export function decodeVpdPage(b: Buffer): VpdHeader {
  if (b.length < 4) throw new RangeError('VPD page shorter than 4 bytes');
  const pageLength = b.readUInt16BE(2);
  return { qualifier: field(b[0]!, 5, 3), deviceType: field(b[0]!, 0, 5), pageCode: b[1]!, pageLength, body: b.subarray(4, 4 + pageLength) };
}

export const encodeSupportedPages = (deviceType: number, pages: Iterable<number>): Buffer =>
  vpdPage(deviceType, VpdPage.SUPPORTED, Buffer.from([...new Set(pages)].sort((a, b) => a - b)));

export const decodeSupportedPages = (b: Buffer): number[] => [...decodeVpdPage(b).body];

export const encodeUnitSerial = (deviceType: number, serial: string): Buffer =>
  vpdPage(deviceType, VpdPage.UNIT_SERIAL, Buffer.from(serial, 'ascii'));

export const decodeUnitSerial = (b: Buffer): string => decodeVpdPage(b).body.toString('ascii').replace(/[ \0]+$/, '');

// ---------------------------------------------------------------- 83h designators

export const CodeSet = { BINARY: 1, ASCII: 2, UTF8: 3 } as const;
export const Association = { LU: 0, TARGET_PORT: 1, TARGET_DEVICE: 2 } as const;
export const DesignatorType = {
  VENDOR_SPECIFIC: 0,
  T10_VENDOR_ID: 1,
  EUI64: 2,
  NAA: 3,
  RELATIVE_TARGET_PORT: 4,
  TARGET_PORT_GROUP: 5,
  LU_GROUP: 6,
  MD5_LU: 7,
  SCSI_NAME: 8,
} as const;
/** PROTOCOL IDENTIFIER values (SPC-4 §7.6.1) dmsim uses. */
export const ProtocolId = { FC: 0x0, ISCSI: 0x5 } as const;

export interface Designator {
  codeSet: number;
  association: number;
  type: number;
  value: Buffer;
  /** Set with PIV=1 (meaningful for target port / target device association). */
  protocol?: number;
}

export function encodeDesignator(d: Designator): Buffer {
  const h = Buffer.alloc(4);
  h[0] = pack([d.protocol ?? 0, 4, 4], [d.codeSet, 0, 4]);
  h[1] = pack([d.protocol !== undefined, 7], [d.association, 4, 2], [d.type, 0, 4]);
  h[3] = d.value.length;
  return Buffer.concat([h, d.value]);
}

export const encodeDeviceIdPage = (deviceType: number, ds: readonly Designator[]): Buffer =>
  vpdPage(deviceType, VpdPage.DEVICE_ID, Buffer.concat(ds.map(encodeDesignator)));

export function decodeDeviceIdPage(b: Buffer): Designator[] {
  const body = decodeVpdPage(b).body;
  const out: Designator[] = [];
  for (let p = 0; p + 4 <= body.length; ) {
    const len = body[p + 3]!;
    const piv = bit(body[p + 1]!, 7);
    const d: Designator = {
      codeSet: field(body[p]!, 0, 4),
      association: field(body[p + 1]!, 4, 2),
      type: field(body[p + 1]!, 0, 4),
      value: Buffer.from(body.subarray(p + 4, p + 4 + len)),
    };
    if (piv) d.protocol = field(body[p]!, 4, 4);
    out.push(d);
    p += 4 + len;
  }
  return out;
}

/** Designator constructors for the forms dmsim reports. */
export const designators = {
  /** The LU's NAA name (association LU). */
  luNaa: (naa: Buffer): Designator => ({ codeSet: CodeSet.BINARY, association: Association.LU, type: DesignatorType.NAA, value: naa }),
  /** T10 vendor ID: 8-byte vendor field then a vendor-specific part (product + serial here). */
  t10VendorId: (vendor: string, specific: string): Designator => ({
    codeSet: CodeSet.ASCII,
    association: Association.LU,
    type: DesignatorType.T10_VENDOR_ID,
    value: Buffer.concat([asciiField(vendor, 8), Buffer.from(specific, 'ascii')]),
  }),
  relativeTargetPort: (id: number, protocol?: number): Designator => {
    const v = Buffer.alloc(4);
    v.writeUInt16BE(id, 2);
    return { codeSet: CodeSet.BINARY, association: Association.TARGET_PORT, type: DesignatorType.RELATIVE_TARGET_PORT, value: v, ...(protocol !== undefined ? { protocol } : {}) };
  },
  targetPortGroup: (group: number): Designator => {
    const v = Buffer.alloc(4);
    v.writeUInt16BE(group, 2);
    return { codeSet: CodeSet.BINARY, association: Association.TARGET_PORT, type: DesignatorType.TARGET_PORT_GROUP, value: v };
  },
  /** A port or device WWN as an NAA designator (FC names are NAA format already). */
  wwnNaa: (wwn: Buffer, association: number, protocol: number = ProtocolId.FC): Designator => ({
    codeSet: CodeSet.BINARY,
    association,
    type: DesignatorType.NAA,
    value: wwn,
    protocol,
  }),
} as const;

/**
 * dmsim's lab name of an LU ("array1/fat", "router1/tape0") as a T10 vendor ID based designator
 * (SPC-4 §7.8.6.4, association LU, ASCII): T10 VENDOR IDENTIFICATION "DMSIM", then a vendor
 * specific identifier "lab:" + the name. A second designator of that type beside the
 * "PRODUCT SERIAL" one, so an initiator over iSCSI can call LUs by the names the lab uses.
 */
const LAB_NAME_VENDOR = 'DMSIM';
const LAB_NAME_PREFIX = 'lab:';

export const labNameDesignator = (name: string): Designator => designators.t10VendorId(LAB_NAME_VENDOR, `${LAB_NAME_PREFIX}${name}`);

/** The lab name among an LU's designators, if the device reports one. */
export function labNameOf(ds: readonly Designator[]): string | undefined {
  for (const d of ds) {
    if (d.type !== DesignatorType.T10_VENDOR_ID || d.association !== Association.LU || d.value.length < 8) continue;
    if (d.value.subarray(0, 8).toString('ascii').trimEnd() !== LAB_NAME_VENDOR) continue;
    const rest = d.value.subarray(8).toString('ascii');
    if (rest.startsWith(LAB_NAME_PREFIX)) return rest.slice(LAB_NAME_PREFIX.length);
  }
  return undefined;
}

// ---------------------------------------------------------------- 86h Extended INQUIRY Data

export interface ExtendedInquiry {
  headsup: boolean;
  ordsup: boolean;
  simpsup: boolean;
  /** NV_SUP / V_SUP: non-volatile / volatile cache present. */
  nvSup: boolean;
  vSup: boolean;
  /** LUICLR: unit attentions are cleared per LU (SPC-4 requires 1). */
  luiclr: boolean;
}

export function encodeExtendedInquiry(deviceType: number, v: Partial<ExtendedInquiry> = {}): Buffer {
  const body = Buffer.alloc(0x3c);
  body[1] = pack([!!v.headsup, 2], [!!v.ordsup, 1], [v.simpsup ?? true, 0]);
  body[2] = pack([!!v.nvSup, 1], [!!v.vSup, 0]);
  body[3] = pack([v.luiclr ?? true, 0]);
  return vpdPage(deviceType, VpdPage.EXTENDED_INQUIRY, body);
}

export function decodeExtendedInquiry(b: Buffer): ExtendedInquiry {
  const body = decodeVpdPage(b).body;
  const at = (i: number) => body[i] ?? 0;
  return {
    headsup: bit(at(1), 2),
    ordsup: bit(at(1), 1),
    simpsup: bit(at(1), 0),
    nvSup: bit(at(2), 1),
    vSup: bit(at(2), 0),
    luiclr: bit(at(3), 0),
  };
}
