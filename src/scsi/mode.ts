/**
 * MODE SENSE / MODE SELECT (6 and 10), SPC-4 §6.11-6.14 and §7.5: the CDBs, the mode parameter
 * header, short (general and direct-access) and long LBA block descriptors, page framing (PS, SPF,
 * subpage), the common pages (Read-Write Error Recovery 01h, Caching 08h, Control 0Ah,
 * Informational Exceptions Control 1Ch), and `ModePageSet`, the table a device declares its pages in
 * (current / changeable / default / saved values) that answers MODE SENSE and validates MODE SELECT.
 * Disk and tape share all of it; only the device-specific header byte and the descriptor values
 * differ, and those come from the device.
 */
import { Sense } from './sense.js';
import { bit, field, pack, struct, u8, u16, u24, u32, u64 } from './layout.js';
import { SpcOp } from './spc.js';
import type { CdbRequest } from './cdb.js';

/** PC field (MODE SENSE byte 2 bits 7..6). */
export const PageControl = { CURRENT: 0, CHANGEABLE: 1, DEFAULT: 2, SAVED: 3 } as const;
export type PageControl = (typeof PageControl)[keyof typeof PageControl];

export const ALL_PAGES = 0x3f;
export const ALL_SUBPAGES = 0xff;

export const ModePage = {
  READ_WRITE_ERROR_RECOVERY: 0x01,
  DISCONNECT_RECONNECT: 0x02,
  CACHING: 0x08,
  CONTROL: 0x0a,
  DATA_COMPRESSION: 0x0f,
  DEVICE_CONFIGURATION: 0x10,
  MEDIUM_PARTITION: 0x11,
  POWER_CONDITION: 0x1a,
  INFORMATIONAL_EXCEPTIONS: 0x1c,
} as const;

// ---------------------------------------------------------------- CDBs

export interface ModeSenseCdb {
  /** true for MODE SENSE(10). */
  ten: boolean;
  dbd: boolean;
  /** LLBAA (MODE SENSE(10) only): long LBA block descriptors accepted. */
  llbaa: boolean;
  pc: PageControl;
  pageCode: number;
  subpage: number;
  allocationLength: number;
}

interface Sense6Raw { opcode: number; b1: number; b2: number; subpage: number; alloc: number; control: number }
const sense6 = struct<Sense6Raw>([u8('opcode'), u8('b1'), u8('b2'), u8('subpage'), u8('alloc'), u8('control')]);
interface Sense10Raw {
  opcode: number; b1: number; b2: number; subpage: number; r4: number; r5: number; r6: number; alloc: number; control: number;
}
const sense10 = struct<Sense10Raw>([
  u8('opcode'), u8('b1'), u8('b2'), u8('subpage'), u8('r4'), u8('r5'), u8('r6'), u16('alloc'), u8('control'),
]);

export function decodeModeSense(cdb: Buffer): ModeSenseCdb {
  const ten = cdb[0] === SpcOp.MODE_SENSE_10;
  const r = ten ? sense10.decode(cdb) : sense6.decode(cdb);
  return {
    ten,
    dbd: bit(r.b1, 3),
    llbaa: ten && bit(r.b1, 4),
    pc: field(r.b2, 6, 2) as PageControl,
    pageCode: field(r.b2, 0, 6),
    subpage: r.subpage,
    allocationLength: r.alloc,
  };
}

export function encodeModeSense(v: Omit<ModeSenseCdb, 'llbaa'> & { llbaa?: boolean }): Buffer {
  const b1 = pack([v.dbd, 3], [v.ten && !!v.llbaa, 4]);
  const b2 = pack([v.pc, 6, 2], [v.pageCode, 0, 6]);
  return v.ten
    ? sense10.encode({ opcode: SpcOp.MODE_SENSE_10, b1, b2, subpage: v.subpage, r4: 0, r5: 0, r6: 0, alloc: v.allocationLength, control: 0 })
    : sense6.encode({ opcode: SpcOp.MODE_SENSE_6, b1, b2, subpage: v.subpage, alloc: v.allocationLength & 0xff, control: 0 });
}

/** MODE SENSE with its data-in: the ALLOCATION LENGTH (one byte in the 6-byte form). */
export const modeSenseRequest = (v: Omit<ModeSenseCdb, 'llbaa'> & { llbaa?: boolean }): CdbRequest => ({
  cdb: encodeModeSense(v),
  direction: 'in',
  length: v.ten ? v.allocationLength : v.allocationLength & 0xff,
});

export interface ModeSelectCdb {
  ten: boolean;
  /** PF: the pages follow the standard page format. */
  pf: boolean;
  /** SP: save the pages too. */
  sp: boolean;
  parameterListLength: number;
}

interface Select6Raw { opcode: number; b1: number; r2: number; r3: number; len: number; control: number }
const select6 = struct<Select6Raw>([u8('opcode'), u8('b1'), u8('r2'), u8('r3'), u8('len'), u8('control')]);
interface Select10Raw { opcode: number; b1: number; r2: number; r3: number; r4: number; r5: number; r6: number; len: number; control: number }
const select10 = struct<Select10Raw>([
  u8('opcode'), u8('b1'), u8('r2'), u8('r3'), u8('r4'), u8('r5'), u8('r6'), u16('len'), u8('control'),
]);

export function decodeModeSelect(cdb: Buffer): ModeSelectCdb {
  const ten = cdb[0] === SpcOp.MODE_SELECT_10;
  const r = ten ? select10.decode(cdb) : select6.decode(cdb);
  return { ten, pf: bit(r.b1, 4), sp: bit(r.b1, 0), parameterListLength: r.len };
}

export function encodeModeSelect(v: ModeSelectCdb): Buffer {
  const b1 = pack([v.pf, 4], [v.sp, 0]);
  return v.ten
    ? select10.encode({ opcode: SpcOp.MODE_SELECT_10, b1, r2: 0, r3: 0, r4: 0, r5: 0, r6: 0, len: v.parameterListLength, control: 0 })
    : select6.encode({ opcode: SpcOp.MODE_SELECT_6, b1, r2: 0, r3: 0, len: v.parameterListLength & 0xff, control: 0 });
}

/** CDB usage masks (REPORT SUPPORTED OPERATION CODES + reserved-bit check) for the four commands. */
export const modeUsage = {
  sense6: [0xff, 0x08, 0xff, 0xff, 0xff, 0xff],
  sense10: [0xff, 0x18, 0xff, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff],
  select6: [0xff, 0x11, 0x00, 0x00, 0xff, 0xff],
  select10: [0xff, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff],
} as const;

// ---------------------------------------------------------------- header

export interface ModeHeader {
  /** MODE DATA LENGTH as sent (bytes after the field itself); reserved in MODE SELECT. */
  modeDataLength: number;
  mediumType: number;
  /** Device-specific parameter: disk WP (bit 7) + DPOFUA (bit 4); tape WP, buffered mode, speed. */
  deviceSpecific: number;
  /** LONGLBA (10-byte header only). */
  longLba: boolean;
  blockDescriptorLength: number;
}

interface Hdr6Raw { len: number; medium: number; dsp: number; bdl: number }
const hdr6 = struct<Hdr6Raw>([u8('len'), u8('medium'), u8('dsp'), u8('bdl')]);
interface Hdr10Raw { len: number; medium: number; dsp: number; flags: number; r5: number; bdl: number }
const hdr10 = struct<Hdr10Raw>([u16('len'), u8('medium'), u8('dsp'), u8('flags'), u8('r5'), u16('bdl')]);

export const headerLength = (ten: boolean): number => (ten ? 8 : 4);

export function decodeModeHeader(b: Buffer, ten: boolean): ModeHeader {
  if (ten) {
    const r = hdr10.decode(b);
    return { modeDataLength: r.len, mediumType: r.medium, deviceSpecific: r.dsp, longLba: bit(r.flags, 0), blockDescriptorLength: r.bdl };
  }
  const r = hdr6.decode(b);
  return { modeDataLength: r.len, mediumType: r.medium, deviceSpecific: r.dsp, longLba: false, blockDescriptorLength: r.bdl };
}

export function encodeModeHeader(h: ModeHeader, ten: boolean, out?: Buffer, offset = 0): Buffer {
  return ten
    ? hdr10.encode({ len: h.modeDataLength, medium: h.mediumType, dsp: h.deviceSpecific, flags: pack([h.longLba, 0]), r5: 0, bdl: h.blockDescriptorLength }, out, offset)
    : hdr6.encode({ len: h.modeDataLength, medium: h.mediumType, dsp: h.deviceSpecific, bdl: h.blockDescriptorLength }, out, offset);
}

/** Disk device-specific parameter (SBC-3 §6.4.1). */
export const diskDeviceSpecific = (v: { wp: boolean; dpofua: boolean }): number => pack([v.wp, 7], [v.dpofua, 4]);

// ---------------------------------------------------------------- block descriptors

/**
 * A block descriptor. `densityCode` is meaningful only in the general short form (tape) and in the
 * long form; SBC's short form spends the density byte on a 32-bit NUMBER OF LOGICAL BLOCKS.
 */
export interface BlockDescriptor {
  densityCode: number;
  blocks: number;
  blockLength: number;
}

/** 'general': SPC short form (density, 24-bit blocks); 'direct': SBC short form (32-bit blocks); 'long': LONGLBA. */
export type DescriptorForm = 'general' | 'direct' | 'long';

interface GenRaw { density: number; blocks: number; r4: number; len: number }
const generalBd = struct<GenRaw>([u8('density'), u24('blocks'), u8('r4'), u24('len')]);
interface DirRaw { blocks: number; r4: number; len: number }
const directBd = struct<DirRaw>([u32('blocks'), u8('r4'), u24('len')]);
interface LongRaw { blocks: number; density: number; r9: number; r10: number; r11: number; len: number }
const longBd = struct<LongRaw>([u64('blocks'), u8('density'), u8('r9'), u8('r10'), u8('r11'), u32('len')]);

export const descriptorLength = (form: DescriptorForm): number => (form === 'long' ? 16 : 8);

/** Encode one descriptor. Counts too large for the field are reported as all ones (SBC-3 6.4.2). */
export function encodeBlockDescriptor(d: BlockDescriptor, form: DescriptorForm, out?: Buffer, offset = 0): Buffer {
  switch (form) {
    case 'general':
      return generalBd.encode({ density: d.densityCode, blocks: Math.min(d.blocks, 0xffffff), r4: 0, len: d.blockLength }, out, offset);
    case 'direct':
      return directBd.encode({ blocks: Math.min(d.blocks, 0xffffffff), r4: 0, len: d.blockLength }, out, offset);
    case 'long':
      return longBd.encode({ blocks: d.blocks, density: d.densityCode, r9: 0, r10: 0, r11: 0, len: d.blockLength }, out, offset);
  }
}

export function decodeBlockDescriptor(b: Buffer, form: DescriptorForm, offset = 0): BlockDescriptor {
  switch (form) {
    case 'general': {
      const r = generalBd.decode(b, offset);
      return { densityCode: r.density, blocks: r.blocks, blockLength: r.len };
    }
    case 'direct': {
      const r = directBd.decode(b, offset);
      return { densityCode: 0, blocks: r.blocks, blockLength: r.len };
    }
    case 'long': {
      const r = longBd.decode(b, offset);
      return { densityCode: r.density, blocks: r.blocks, blockLength: r.len };
    }
  }
}

// ---------------------------------------------------------------- page framing

export interface PageFrame {
  pageCode: number;
  subpage: number;
  spf: boolean;
  ps: boolean;
  /** Offset of the page's first byte in the buffer it was found in. */
  offset: number;
  /** PAGE LENGTH as sent (bytes after the page header). */
  pageLength: number;
  /** The whole page, header included (a view, not a copy). */
  bytes: Buffer;
}

const pageHeaderLength = (spf: boolean): number => (spf ? 4 : 2);

/** Write the page header in place (PS, SPF, code, subpage, length from the buffer size). */
function framePage(page: Buffer, code: number, subpage: number, ps: boolean): Buffer {
  const spf = subpage !== 0;
  page[0] = pack([ps, 7], [spf, 6], [code, 0, 6]);
  if (spf) {
    page[1] = subpage;
    page.writeUInt16BE(page.length - 4, 2);
  } else {
    page[1] = page.length - 2;
  }
  return page;
}

/**
 * Split the page area of a parameter list into frames. `base` is the offset of `area` in the whole
 * list so field pointers come out relative to the list. A page cut short by the list end is a
 * PARAMETER LIST LENGTH ERROR (SPC-4 6.13).
 */
export function splitPages(area: Buffer, base = 0): PageFrame[] {
  const out: PageFrame[] = [];
  let p = 0;
  while (p < area.length) {
    const b0 = area[p]!;
    const spf = bit(b0, 6);
    const hl = pageHeaderLength(spf);
    if (p + hl > area.length) throw Sense.paramListLengthError(base + p);
    const pageLength = spf ? area.readUInt16BE(p + 2) : area[p + 1]!;
    if (p + hl + pageLength > area.length) throw Sense.paramListLengthError(base + p + (spf ? 2 : 1));
    out.push({
      pageCode: field(b0, 0, 6),
      subpage: spf ? area[p + 1]! : 0,
      spf,
      ps: bit(b0, 7),
      offset: base + p,
      pageLength,
      bytes: area.subarray(p, p + hl + pageLength),
    });
    p += hl + pageLength;
  }
  return out;
}

// ---------------------------------------------------------------- whole parameter lists

export interface ModeParameterList {
  header: ModeHeader;
  descriptors: BlockDescriptor[];
  pages: PageFrame[];
}

export interface EncodeModeData {
  ten: boolean;
  mediumType?: number;
  deviceSpecific: number;
  descriptorForm: DescriptorForm;
  descriptors: BlockDescriptor[];
  pages: Buffer[];
}

/** Build MODE SENSE data-in (MODE DATA LENGTH filled in) or a MODE SELECT list (`forSelect`: length 0). */
export function encodeModeData(v: EncodeModeData, forSelect = false): Buffer {
  const hl = headerLength(v.ten);
  const dl = descriptorLength(v.descriptorForm);
  const bdl = v.descriptors.length * dl;
  let total = hl + bdl;
  for (const p of v.pages) total += p.length;
  const lenField = v.ten ? 2 : 1;
  const max = v.ten ? 0xffff + lenField : 0xff + lenField;
  if (total > max) total = max;
  const out = Buffer.alloc(total);
  encodeModeHeader(
    {
      modeDataLength: forSelect ? 0 : total - lenField,
      mediumType: v.mediumType ?? 0,
      deviceSpecific: v.deviceSpecific,
      longLba: v.descriptorForm === 'long',
      blockDescriptorLength: bdl,
    },
    v.ten,
    out,
  );
  let p = hl;
  for (const d of v.descriptors) {
    encodeBlockDescriptor(d, v.descriptorForm, out, p);
    p += dl;
  }
  for (const pg of v.pages) {
    if (p >= total) break;
    pg.copy(out, p, 0, Math.min(pg.length, total - p));
    p += pg.length;
  }
  return out;
}

/**
 * Parse a MODE SELECT parameter list (or MODE SENSE data). `form` picks the short descriptor form
 * the device uses. Malformed framing becomes the SPC answer: 1A/00 for a list too short for what
 * it announces, 26/00 with a field pointer for a bad block descriptor length.
 */
export function decodeModeData(list: Buffer, ten: boolean, form: Exclude<DescriptorForm, 'long'>): ModeParameterList {
  const hl = headerLength(ten);
  if (list.length < hl) throw Sense.paramListLengthError();
  const header = decodeModeHeader(list, ten);
  const dform: DescriptorForm = header.longLba ? 'long' : form;
  const dl = descriptorLength(dform);
  const bdlOffset = ten ? 6 : 3;
  if (header.blockDescriptorLength % dl !== 0) throw Sense.invalidFieldInParam(bdlOffset);
  if (hl + header.blockDescriptorLength > list.length) throw Sense.paramListLengthError(bdlOffset);
  const descriptors: BlockDescriptor[] = [];
  for (let p = hl; p < hl + header.blockDescriptorLength; p += dl) descriptors.push(decodeBlockDescriptor(list, dform, p));
  const start = hl + header.blockDescriptorLength;
  return { header, descriptors, pages: splitPages(list.subarray(start), start) };
}

// ---------------------------------------------------------------- page bodies

/** Control mode page 0Ah (SPC-4 7.5.8). Fields not listed are encoded 0. */
export interface ControlPage {
  tst: number;
  tmfOnly: boolean;
  dpicz: boolean;
  dSense: boolean;
  gltsd: boolean;
  rlec: boolean;
  queueAlgorithmModifier: number;
  nuar: boolean;
  qerr: number;
  rac: boolean;
  uaIntlckCtrl: number;
  swp: boolean;
  ato: boolean;
  tas: boolean;
  atmpe: boolean;
  rwwp: boolean;
  autoloadMode: number;
  busyTimeoutPeriod: number;
  extendedSelfTestCompletionTime: number;
}

interface ControlRaw { code: number; len: number; b2: number; b3: number; b4: number; b5: number; r6: number; r7: number; busy: number; selftest: number }
const controlLayout = struct<ControlRaw>([
  u8('code'), u8('len'), u8('b2'), u8('b3'), u8('b4'), u8('b5'), u8('r6'), u8('r7'), u16('busy'), u16('selftest'),
]);

export function encodeControlPage(v: Partial<ControlPage>, ps = false): Buffer {
  const b = controlLayout.encode({
    code: 0, len: 0,
    b2: pack([v.tst ?? 0, 5, 3], [!!v.tmfOnly, 4], [!!v.dpicz, 3], [!!v.dSense, 2], [!!v.gltsd, 1], [!!v.rlec, 0]),
    b3: pack([v.queueAlgorithmModifier ?? 0, 4, 4], [!!v.nuar, 3], [v.qerr ?? 0, 1, 2]),
    b4: pack([!!v.rac, 6], [v.uaIntlckCtrl ?? 0, 4, 2], [!!v.swp, 3]),
    b5: pack([!!v.ato, 7], [!!v.tas, 6], [!!v.atmpe, 5], [!!v.rwwp, 4], [v.autoloadMode ?? 0, 0, 3]),
    r6: 0, r7: 0,
    busy: v.busyTimeoutPeriod ?? 0,
    selftest: v.extendedSelfTestCompletionTime ?? 0,
  });
  return framePage(b, ModePage.CONTROL, 0, ps);
}

export function decodeControlPage(b: Buffer): ControlPage {
  const r = controlLayout.decode(b);
  return {
    tst: field(r.b2, 5, 3), tmfOnly: bit(r.b2, 4), dpicz: bit(r.b2, 3), dSense: bit(r.b2, 2), gltsd: bit(r.b2, 1), rlec: bit(r.b2, 0),
    queueAlgorithmModifier: field(r.b3, 4, 4), nuar: bit(r.b3, 3), qerr: field(r.b3, 1, 2),
    rac: bit(r.b4, 6), uaIntlckCtrl: field(r.b4, 4, 2), swp: bit(r.b4, 3),
    ato: bit(r.b5, 7), tas: bit(r.b5, 6), atmpe: bit(r.b5, 5), rwwp: bit(r.b5, 4), autoloadMode: field(r.b5, 0, 3),
    busyTimeoutPeriod: r.busy, extendedSelfTestCompletionTime: r.selftest,
  };
}

/** Caching mode page 08h (SBC-3 6.4.5): the bits a block device acts on. */
export interface CachingPage {
  ic: boolean;
  abpf: boolean;
  cap: boolean;
  disc: boolean;
  size: boolean;
  /** Write cache enable. */
  wce: boolean;
  mf: boolean;
  /** Read cache disable. */
  rcd: boolean;
  demandReadRetentionPriority: number;
  writeRetentionPriority: number;
  disablePrefetchTransferLength: number;
  minimumPrefetch: number;
  maximumPrefetch: number;
  maximumPrefetchCeiling: number;
  fsw: boolean;
  lbcss: boolean;
  dra: boolean;
  nvDis: boolean;
  numberOfCacheSegments: number;
  cacheSegmentSize: number;
}

interface CachingRaw {
  code: number; len: number; b2: number; b3: number; dpf: number; minp: number; maxp: number; ceil: number;
  b12: number; segs: number; segsize: number; r16: number; r17: number; r18: number; r19: number;
}
const cachingLayout = struct<CachingRaw>([
  u8('code'), u8('len'), u8('b2'), u8('b3'), u16('dpf'), u16('minp'), u16('maxp'), u16('ceil'),
  u8('b12'), u8('segs'), u16('segsize'), u8('r16'), u8('r17'), u8('r18'), u8('r19'),
]);

export function encodeCachingPage(v: Partial<CachingPage>, ps = false): Buffer {
  const b = cachingLayout.encode({
    code: 0, len: 0,
    b2: pack([!!v.ic, 7], [!!v.abpf, 6], [!!v.cap, 5], [!!v.disc, 4], [!!v.size, 3], [!!v.wce, 2], [!!v.mf, 1], [!!v.rcd, 0]),
    b3: pack([v.demandReadRetentionPriority ?? 0, 4, 4], [v.writeRetentionPriority ?? 0, 0, 4]),
    dpf: v.disablePrefetchTransferLength ?? 0, minp: v.minimumPrefetch ?? 0, maxp: v.maximumPrefetch ?? 0, ceil: v.maximumPrefetchCeiling ?? 0,
    b12: pack([!!v.fsw, 7], [!!v.lbcss, 6], [!!v.dra, 5], [!!v.nvDis, 0]),
    segs: v.numberOfCacheSegments ?? 0, segsize: v.cacheSegmentSize ?? 0, r16: 0, r17: 0, r18: 0, r19: 0,
  });
  return framePage(b, ModePage.CACHING, 0, ps);
}

export function decodeCachingPage(b: Buffer): CachingPage {
  const r = cachingLayout.decode(b);
  return {
    ic: bit(r.b2, 7), abpf: bit(r.b2, 6), cap: bit(r.b2, 5), disc: bit(r.b2, 4), size: bit(r.b2, 3), wce: bit(r.b2, 2), mf: bit(r.b2, 1), rcd: bit(r.b2, 0),
    demandReadRetentionPriority: field(r.b3, 4, 4), writeRetentionPriority: field(r.b3, 0, 4),
    disablePrefetchTransferLength: r.dpf, minimumPrefetch: r.minp, maximumPrefetch: r.maxp, maximumPrefetchCeiling: r.ceil,
    fsw: bit(r.b12, 7), lbcss: bit(r.b12, 6), dra: bit(r.b12, 5), nvDis: bit(r.b12, 0),
    numberOfCacheSegments: r.segs, cacheSegmentSize: r.segsize,
  };
}

/** Read-Write Error Recovery mode page 01h (SBC-3 6.4.8). */
export interface ReadWriteErrorRecoveryPage {
  awre: boolean;
  arre: boolean;
  tb: boolean;
  rc: boolean;
  eer: boolean;
  per: boolean;
  dte: boolean;
  dcr: boolean;
  readRetryCount: number;
  writeRetryCount: number;
  recoveryTimeLimit: number;
}

interface RwerRaw { code: number; len: number; b2: number; rrc: number; r4: number; r5: number; r6: number; r7: number; wrc: number; r9: number; rtl: number }
const rwerLayout = struct<RwerRaw>([
  u8('code'), u8('len'), u8('b2'), u8('rrc'), u8('r4'), u8('r5'), u8('r6'), u8('r7'), u8('wrc'), u8('r9'), u16('rtl'),
]);

export function encodeReadWriteErrorRecoveryPage(v: Partial<ReadWriteErrorRecoveryPage>, ps = false): Buffer {
  const b = rwerLayout.encode({
    code: 0, len: 0,
    b2: pack([!!v.awre, 7], [!!v.arre, 6], [!!v.tb, 5], [!!v.rc, 4], [!!v.eer, 3], [!!v.per, 2], [!!v.dte, 1], [!!v.dcr, 0]),
    rrc: v.readRetryCount ?? 0, r4: 0, r5: 0, r6: 0, r7: 0, wrc: v.writeRetryCount ?? 0, r9: 0, rtl: v.recoveryTimeLimit ?? 0,
  });
  return framePage(b, ModePage.READ_WRITE_ERROR_RECOVERY, 0, ps);
}

export function decodeReadWriteErrorRecoveryPage(b: Buffer): ReadWriteErrorRecoveryPage {
  const r = rwerLayout.decode(b);
  return {
    awre: bit(r.b2, 7), arre: bit(r.b2, 6), tb: bit(r.b2, 5), rc: bit(r.b2, 4), eer: bit(r.b2, 3), per: bit(r.b2, 2), dte: bit(r.b2, 1), dcr: bit(r.b2, 0),
    readRetryCount: r.rrc, writeRetryCount: r.wrc, recoveryTimeLimit: r.rtl,
  };
}

/** Informational Exceptions Control mode page 1Ch (SPC-4 7.5.9). */
export interface InformationalExceptionsPage {
  perf: boolean;
  ebf: boolean;
  ewasc: boolean;
  dexcpt: boolean;
  test: boolean;
  ebackerr: boolean;
  logerr: boolean;
  mrie: number;
  intervalTimer: number;
  reportCount: number;
}

interface IecRaw { code: number; len: number; b2: number; b3: number; timer: number; count: number }
const iecLayout = struct<IecRaw>([u8('code'), u8('len'), u8('b2'), u8('b3'), u32('timer'), u32('count')]);

export function encodeInformationalExceptionsPage(v: Partial<InformationalExceptionsPage>, ps = false): Buffer {
  const b = iecLayout.encode({
    code: 0, len: 0,
    b2: pack([!!v.perf, 7], [!!v.ebf, 5], [!!v.ewasc, 4], [!!v.dexcpt, 3], [!!v.test, 2], [!!v.ebackerr, 1], [!!v.logerr, 0]),
    b3: pack([v.mrie ?? 0, 0, 4]),
    timer: v.intervalTimer ?? 0,
    count: v.reportCount ?? 0,
  });
  return framePage(b, ModePage.INFORMATIONAL_EXCEPTIONS, 0, ps);
}

export function decodeInformationalExceptionsPage(b: Buffer): InformationalExceptionsPage {
  const r = iecLayout.decode(b);
  return {
    perf: bit(r.b2, 7), ebf: bit(r.b2, 5), ewasc: bit(r.b2, 4), dexcpt: bit(r.b2, 3), test: bit(r.b2, 2), ebackerr: bit(r.b2, 1), logerr: bit(r.b2, 0),
    mrie: field(r.b3, 0, 4), intervalTimer: r.timer, reportCount: r.count,
  };
}

// ---------------------------------------------------------------- the device's page table

export interface ModePageDef {
  code: number;
  /** 0 for a page_0 format page; otherwise the subpage (sub_page format, SPF=1). */
  subpage?: number;
  /** Default values: the whole page, header included (PS bit ignored). */
  defaults: Buffer;
  /** Changeable mask, same size; 1 bits may be changed by MODE SELECT. Header bytes ignored. */
  changeable: Buffer;
  /** Whether the page can be saved (PS=1; SP=1 and PC=11b accepted). Values are kept in memory. */
  saveable?: boolean;
  /**
   * Checks a new page value beyond the changeable mask (reserved codes in a changeable field...).
   * Throw ScsiError; `offset` is the page's offset in the parameter list for field pointers.
   */
  validate?(next: Buffer, current: Buffer, offset: number): void;
  /** Called after MODE SELECT changed the current values, so the device acts on them. */
  apply?(current: Buffer): void;
}

interface PageState {
  def: ModePageDef;
  current: Buffer;
  saved: Buffer;
  changeable: Buffer;
  defaults: Buffer;
}

const pageKey = (code: number, subpage: number) => (code << 8) | subpage;

/**
 * The pages a device supports and their four value sets. MODE SENSE asks `sense()`; MODE SELECT
 * hands the page area to `select()`, which validates every page before changing any.
 */
export class ModePageSet {
  private readonly pages = new Map<number, PageState>();
  private readonly order: PageState[] = [];

  constructor(defs: ModePageDef[]) {
    for (const def of defs) {
      const sub = def.subpage ?? 0;
      if (def.changeable.length !== def.defaults.length) throw new Error(`mode page ${def.code}/${sub}: mask size differs`);
      const frame = (b: Buffer, ps: boolean) => framePage(Buffer.from(b), def.code, sub, ps);
      const st: PageState = {
        def,
        defaults: frame(def.defaults, !!def.saveable),
        current: frame(def.defaults, !!def.saveable),
        saved: frame(def.defaults, !!def.saveable),
        changeable: frame(def.changeable, !!def.saveable),
      };
      this.pages.set(pageKey(def.code, sub), st);
      this.order.push(st);
    }
    this.order.sort((a, b) => a.def.code - b.def.code || (a.def.subpage ?? 0) - (b.def.subpage ?? 0));
  }

  get anySaveable(): boolean {
    return this.order.some((p) => p.def.saveable);
  }

  has(code: number, subpage = 0): boolean {
    return this.pages.has(pageKey(code, subpage));
  }

  /** Live current values of a page (header included); devices may update them in place. */
  current(code: number, subpage = 0): Buffer {
    const st = this.pages.get(pageKey(code, subpage));
    if (!st) throw new Error(`no mode page ${code}/${subpage}`);
    return st.current;
  }

  /**
   * The pages MODE SENSE returns for a page code / subpage code pair, in the value set PC asks for
   * (SPC-4 6.11: 3Fh/00h all page_0 pages, 3Fh/FFh every page and subpage, xx/FFh all subpages of
   * xx). Unsupported combinations: INVALID FIELD IN CDB at byte 2 (page code) or 3 (subpage).
   * PC=11b without saveable pages: SAVING PARAMETERS NOT SUPPORTED pointing at PC.
   */
  sense(pc: PageControl, pageCode: number, subpage: number): Buffer[] {
    if (pc === PageControl.SAVED && !this.anySaveable) throw Sense.savingNotSupported(2, 7);
    let picked: PageState[];
    if (pageCode === ALL_PAGES) {
      if (subpage === 0) picked = this.order.filter((p) => !p.def.subpage);
      else if (subpage === ALL_SUBPAGES) picked = this.order;
      else throw Sense.invalidFieldInCdb(3);
    } else if (subpage === ALL_SUBPAGES) {
      picked = this.order.filter((p) => p.def.code === pageCode);
      if (!picked.length) throw Sense.invalidFieldInCdb(2, 5);
    } else {
      const st = this.pages.get(pageKey(pageCode, subpage));
      if (!st) {
        if (this.order.some((p) => p.def.code === pageCode)) throw Sense.invalidFieldInCdb(3);
        throw Sense.invalidFieldInCdb(2, 5);
      }
      picked = [st];
    }
    return picked.map((st) => {
      switch (pc) {
        case PageControl.CURRENT:
          return st.current;
        case PageControl.CHANGEABLE:
          return st.changeable;
        case PageControl.DEFAULT:
          return st.defaults;
        default:
          return st.saved;
      }
    });
  }

  /**
   * Apply the pages of a MODE SELECT parameter list (already split by `splitPages`/`decodeModeData`).
   * Every page is validated first (supported, PAGE LENGTH as this device has it, no change to an
   * unchangeable bit, device checks), then all are applied, then saved when `sp`.
   * Returns the pages whose current values changed.
   */
  select(frames: PageFrame[], sp: boolean): Array<{ code: number; subpage: number }> {
    if (sp && !this.anySaveable) throw Sense.invalidFieldInCdb(1, 0);
    const plan: Array<{ st: PageState; frame: PageFrame }> = [];
    for (const f of frames) {
      const st = this.pages.get(pageKey(f.pageCode, f.subpage));
      if (!st || f.spf !== !!st.def.subpage) throw Sense.invalidFieldInParam(f.offset, f.spf ? undefined : 5);
      if (f.bytes.length !== st.current.length) throw Sense.invalidFieldInParam(f.offset + (f.spf ? 2 : 1));
      if (sp && !st.def.saveable) throw Sense.invalidFieldInParam(f.offset, 7);
      const hl = pageHeaderLength(f.spf);
      for (let i = hl; i < f.bytes.length; i++) {
        const diff = (f.bytes[i]! ^ st.current[i]!) & ~st.changeable[i]! & 0xff;
        if (diff) throw Sense.invalidFieldInParam(f.offset + i, 31 - Math.clz32(diff));
      }
      st.def.validate?.(f.bytes, st.current, f.offset);
      plan.push({ st, frame: f });
    }
    const changed: Array<{ code: number; subpage: number }> = [];
    for (const { st, frame } of plan) {
      const hl = pageHeaderLength(frame.spf);
      const differs = !frame.bytes.subarray(hl).equals(st.current.subarray(hl));
      frame.bytes.copy(st.current, hl, hl);
      if (sp) st.current.copy(st.saved);
      if (differs) {
        changed.push({ code: st.def.code, subpage: st.def.subpage ?? 0 });
        st.def.apply?.(st.current);
      }
    }
    return changed;
  }
}

// ---------------------------------------------------------------- command-level helpers

export interface ModeSenseDevice {
  pages: ModePageSet;
  /** Device-specific parameter byte of the header. */
  deviceSpecific(): number;
  mediumType?(): number;
  /** Short descriptor form the device uses ('direct' for SBC, 'general' for SSC). */
  descriptorForm: Exclude<DescriptorForm, 'long'>;
  /** Block descriptors for a value set; [] for none. Long form is used only when LLBAA=1 asks and `preferLong` says so. */
  descriptors(pc: PageControl): BlockDescriptor[];
  /** Use long LBA descriptors when the initiator set LLBAA (e.g. a disk beyond 2^32 blocks). */
  preferLong?(): boolean;
}

/** Build MODE SENSE(6/10) data-in for a decoded CDB (untruncated; the router cuts to the allocation length). */
export function modeSenseData(c: ModeSenseCdb, dev: ModeSenseDevice): Buffer {
  const pages = dev.pages.sense(c.pc, c.pageCode, c.subpage);
  const form: DescriptorForm = c.ten && c.llbaa && dev.preferLong?.() ? 'long' : dev.descriptorForm;
  return encodeModeData({
    ten: c.ten,
    mediumType: dev.mediumType?.() ?? 0,
    deviceSpecific: dev.deviceSpecific(),
    descriptorForm: form,
    descriptors: c.dbd ? [] : dev.descriptors(c.pc),
    pages,
  });
}

export interface ModeSelectDevice {
  pages: ModePageSet;
  descriptorForm: Exclude<DescriptorForm, 'long'>;
  mediumType?(): number;
  /**
   * Check and take a block descriptor; `offset` is its place in the parameter list. Runs before any
   * page is applied; the device must not change state until `commit` (so a bad page leaves it untouched).
   */
  checkDescriptor?(d: BlockDescriptor, offset: number, form: DescriptorForm): void;
  /** Validate the header's device-specific byte (tape: buffered mode); disk ignores it. */
  checkDeviceSpecific?(value: number, offset: number): void;
  /** Apply the checked descriptors (after pages validated). */
  commitDescriptors?(ds: BlockDescriptor[]): void;
}

/**
 * Run MODE SELECT(6/10): parameter list length checks, header (medium type must match), block
 * descriptors via the device, pages via the page set. PF=0 with pages present is rejected (dmsim
 * only speaks the standard page format) with INVALID FIELD IN CDB at PF.
 */
export function modeSelect(c: ModeSelectCdb, dataOut: Buffer | undefined, dev: ModeSelectDevice): Array<{ code: number; subpage: number }> {
  // SPC-4 MODE SELECT: SP=1 on a logical unit without saved pages is INVALID FIELD IN CDB (at SP);
  // SAVING PARAMETERS NOT SUPPORTED (39h/00h) is MODE SENSE's answer to PC=11b, not this one.
  if (c.sp && !dev.pages.anySaveable) throw Sense.invalidFieldInCdb(1, 0);
  if (c.parameterListLength === 0) return [];
  const list = (dataOut ?? Buffer.alloc(0)).subarray(0, c.parameterListLength);
  if (list.length < c.parameterListLength) throw Sense.paramListLengthError();
  const parsed = decodeModeData(list, c.ten, dev.descriptorForm);
  if (parsed.header.mediumType !== (dev.mediumType?.() ?? 0)) throw Sense.invalidFieldInParam(c.ten ? 2 : 1);
  dev.checkDeviceSpecific?.(parsed.header.deviceSpecific, c.ten ? 3 : 2);
  const form: DescriptorForm = parsed.header.longLba ? 'long' : dev.descriptorForm;
  const dl = descriptorLength(form);
  const hl = headerLength(c.ten);
  if (parsed.descriptors.length && !dev.checkDescriptor) throw Sense.invalidFieldInParam(c.ten ? 6 : 3);
  parsed.descriptors.forEach((d, i) => dev.checkDescriptor!(d, hl + i * dl, form));
  if (parsed.pages.length && !c.pf) throw Sense.invalidFieldInCdb(1, 4);
  const changed = dev.pages.select(parsed.pages, c.sp);
  if (parsed.descriptors.length) dev.commitDescriptors?.(parsed.descriptors);
  return changed;
}
