/**
 * The tape drive's LOG SENSE / LOG SELECT (smc.md §5.3 and the §6 decisions): pages 00h, 02h, 03h,
 * 0Ch, 12h, 17h, 2Eh, 31h, parameter control byte 40h, and the TapeAlert flags with the rule that
 * decides which sense raises which flag. Table-driven: one builder per page code.
 */
import { Sense, SenseKey, type SenseInfo } from '../../../src/scsi/sense.js';
import { decodeLogSelectCdb, decodeLogSenseCdb, encodeLogPage, encodeSupportedLogPages, encodeSupportedLogSubpages, TapeLogPage, TapeOp, tapeUsage, type LogParameter } from '../../../src/scsi/tape.js';
import type { CommandContext, CommandDef, HandlerOutput, ScsiLogicalUnit } from '../../lu/logical-unit.js';
import type { TapeDrive } from './drive.js';

/** Parameter control byte of every parameter dmsim reports: DS=1 (not saveable), rest 0. */
const CONTROL = 0x40;
const MiB = 1 << 20;
const MB = 1_000_000;

/** Which TapeAlert flags a reported sense raises (smc.md §5.3 "Flags dmsim raises"). */
const ALERTS_BY_SENSE: ReadonlyArray<{ key: number; asc: number; ascq?: number; flags: readonly number[] }> = [
  { key: SenseKey.MEDIUM_ERROR, asc: 0x11, ascq: 0x00, flags: [0x03, 0x05] },
  { key: SenseKey.MEDIUM_ERROR, asc: 0x0c, ascq: 0x00, flags: [0x03, 0x06] },
  { key: SenseKey.DATA_PROTECT, asc: 0x27, flags: [0x09] },
  { key: SenseKey.ILLEGAL_REQUEST, asc: 0x53, ascq: 0x02, flags: [0x0a] },
  { key: SenseKey.MEDIUM_ERROR, asc: 0x30, ascq: 0x01, flags: [0x0c] },
  { key: SenseKey.MEDIUM_ERROR, asc: 0x11, ascq: 0x12, flags: [0x0f] },
  { key: SenseKey.MEDIUM_ERROR, asc: 0x0c, ascq: 0x0b, flags: [0x0f] },
];

/** TapeAlert flag 0Bh: a cleaning cartridge is loaded (a state, not an event). */
const CLEANING_MEDIA = 0x0b;

/**
 * The 64 TapeAlert flags. `pending` feeds page 2Eh and clears when that page is read whole;
 * `sticky` feeds page 12h and MAM 0002h and clears only at load, power-on and reset.
 */
export class TapeAlerts {
  private readonly pending = new Set<number>();
  private readonly sticky = new Set<number>();
  private cleaning = false;

  raise(...flags: number[]): void {
    for (const f of flags) {
      this.pending.add(f);
      this.sticky.add(f);
    }
  }

  fromSense(s: SenseInfo): void {
    for (const r of ALERTS_BY_SENSE) {
      if (r.key === s.key && r.asc === s.asc && (r.ascq === undefined || r.ascq === s.ascq)) this.raise(...r.flags);
    }
  }

  /** A new cartridge threads: its predecessor's conditions are gone. */
  loaded(cleaning: boolean): void {
    this.sticky.clear();
    this.cleaning = cleaning;
    if (cleaning) this.raise(CLEANING_MEDIA);
  }

  unloaded(): void {
    this.cleaning = false;
  }

  clear(): void {
    this.pending.clear();
    this.sticky.clear();
    if (this.cleaning) this.raise(CLEANING_MEDIA);
  }

  /** Page 2Eh content; `consume` = the read clears the flags (a state flag is set again at once). */
  readPending(consume: boolean): Set<number> {
    const now = new Set(this.pending);
    if (this.cleaning) now.add(CLEANING_MEDIA);
    if (consume) this.pending.clear();
    return now;
  }

  /** The flags as SSC-4's 64-bit string: flag 01h in bit 7 of byte 0 … flag 40h in bit 0 of byte 7. */
  bits(): Buffer {
    const b = Buffer.alloc(8);
    const all = new Set(this.sticky);
    if (this.cleaning) all.add(CLEANING_MEDIA);
    for (const f of all) b[(f - 1) >> 3]! |= 0x80 >> ((f - 1) & 7);
    return b;
  }
}

const uint = (n: number, len: number): Buffer => {
  const b = Buffer.alloc(len);
  let x = BigInt(Math.max(0, Math.floor(n)));
  for (let i = len - 1; i >= 0; i--) {
    b[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return b;
};
const ascii = (s: string, len: number): Buffer => {
  const b = Buffer.alloc(len, 0x20);
  b.write(s.slice(0, len), 'ascii');
  return b;
};
const param = (code: number, value: Buffer): LogParameter => ({ code, control: CONTROL, value });

/** One log page of an LU: its code and how its parameters are built (no builder: page 00h). */
export interface LogPageDef<L> {
  code: number;
  build?: (lu: L, zero: boolean, consume: boolean) => LogParameter[];
}

/** Page 2Eh from a set of flags: 64 parameters `code 40h 01h value`. */
export function tapeAlertParams(on: ReadonlySet<number>): LogParameter[] {
  return Array.from({ length: 64 }, (_, i) => param(i + 1, Buffer.from([on.has(i + 1) ? 1 : 0])));
}

/** The pages in page 00h order; each builds its parameters from the drive (zero = PC other than current cumulative). */
const PAGES: ReadonlyArray<LogPageDef<TapeDrive>> = [
  { code: TapeLogPage.SUPPORTED },
  { code: TapeLogPage.WRITE_ERRORS, build: (d, z) => errorCounters(z ? 0 : d.counters.hostWritten, z ? 0 : d.counters.writeErrors) },
  { code: TapeLogPage.READ_ERRORS, build: (d, z) => errorCounters(z ? 0 : d.counters.hostRead, z ? 0 : d.counters.readErrors) },
  { code: TapeLogPage.SEQUENTIAL_ACCESS, build: sequentialAccess },
  { code: TapeLogPage.TAPE_ALERT_RESPONSE, build: (d, z) => [param(0, z ? Buffer.alloc(8) : d.alerts.bits())] },
  { code: TapeLogPage.VOLUME_STATISTICS, build: volumeStatistics },
  {
    code: TapeLogPage.TAPE_ALERT,
    build: (d, z, consume) => tapeAlertParams(z ? new Set<number>() : d.alerts.readPending(consume)),
  },
  { code: TapeLogPage.TAPE_CAPACITY, build: tapeCapacity },
];

/** 02h / 03h: codes 0000h–0006h, 4-byte counters; only bytes processed (0005h) and uncorrected errors (0006h) move. */
function errorCounters(bytes: number, uncorrected: number): LogParameter[] {
  return [0, 0, 0, 0, 0, bytes, uncorrected].map((v, code) => param(code, uint(code === 5 ? bytes : v, code === 5 ? 8 : 4)));
}

function sequentialAccess(d: TapeDrive, zero: boolean): LogParameter[] {
  const k = d.counters;
  const c = d.cartridge;
  const pts = c ? d.points(c) : undefined;
  const mib = (n: number) => uint(zero ? 0 : n / MiB, 4);
  const here = c && d.isReady ? c.offsetOf(Math.min(d.position, c.count)) : 0;
  return [
    ...[k.hostWritten, k.mediaWritten, k.mediaRead, k.hostRead].map((n, code) => param(code, uint(zero ? 0 : n, 8))),
    // Native capacities in MiB (no compression: written = received).
    param(0x0004, mib(c ? c.length : 0)),
    param(0x0005, mib(pts ? pts.ew : 0)),
    param(0x0006, mib(pts ? pts.peop - pts.ew : 0)),
    param(0x0007, mib(here)),
    param(0x0008, uint(0, 4)),
    param(0x0100, uint(0, 8)),
  ];
}

function volumeStatistics(d: TapeDrive, zero: boolean): LogParameter[] {
  const c = d.cartridge;
  const m = c?.meta;
  const k = d.counters;
  const v = (n: number) => (zero || !m ? 0 : n);
  // "MB" in this page is 10^6 bytes: Proxmox multiplies by 10^6 (smc.md §5.3).
  return [
    param(0x0000, uint(m && !zero ? 1 : 0, 1)),
    param(0x0001, uint(v(m?.loadCount ?? 0), 4)),
    param(0x0002, uint(v(k.blocksWritten), 8)),
    param(0x0003, uint(0, 4)),
    param(0x0004, uint(v(k.writeErrors), 2)),
    param(0x0007, uint(v(k.blocksRead), 8)),
    param(0x0008, uint(0, 4)),
    param(0x0009, uint(v(k.readErrors), 2)),
    param(0x000c, uint(v(k.writeErrors), 2)),
    param(0x000d, uint(v(k.readErrors), 2)),
    param(0x000e, uint(v(k.hostWritten / MB), 4)),
    param(0x000f, uint(v(k.hostRead / MB), 4)),
    param(0x0010, uint(v((m?.lifetimeWritten ?? 0) / MB), 8)),
    param(0x0011, uint(v((m?.lifetimeRead ?? 0) / MB), 8)),
    param(0x0016, uint(v((m?.capacity ?? 0) / MB), 4)),
    param(0x0017, uint(v((c?.length ?? 0) / MB), 4)),
    param(0x0040, ascii(m && !zero ? m.serial : '', 32)),
    param(0x0042, ascii(m && !zero ? m.barcode : '', 32)),
    param(0x0043, ascii(m && !zero ? 'DMSIM' : '', 8)),
    param(0x0080, uint(v(m?.writeProtected ? 1 : 0), 1)),
    param(0x0081, uint(0, 1)),
    param(0x0101, uint(v(m?.loadCount ?? 0), 4)),
    param(0x0102, uint(0, 4)),
  ];
}

/** 31h: remaining / maximum of partition 0 in MiB (0001h, 0003h); the alternate partition does not exist (0). */
function tapeCapacity(d: TapeDrive, zero: boolean): LogParameter[] {
  const c = d.cartridge;
  const peop = c && !zero ? d.points(c).peop : 0;
  const used = c && !zero ? c.length : 0;
  return [param(1, uint(Math.max(0, peop - used) / MiB, 4)), param(2, uint(0, 4)), param(3, uint(peop / MiB, 4)), param(4, uint(0, 4))];
}

/** LOG SENSE over a page table (smc.md §5.3 dmsim rules), shared by the tape drive and the changer. */
export function logSense<L>(PAGES: ReadonlyArray<LogPageDef<L>>, ctx: CommandContext<L & ScsiLogicalUnit>): HandlerOutput {
  const v = decodeLogSenseCdb(ctx.cdb);
  if (v.sp) throw Sense.invalidFieldInCdb(1, 0);
  const page = PAGES.find((p) => p.code === v.pageCode);
  if (!page) throw Sense.invalidFieldInCdb(2, 5);
  let out: Buffer;
  if (!page.build) {
    if (v.subpage === 0xff) out = encodeSupportedLogSubpages([[0, 0], [0, 0xff], ...PAGES.filter((p) => p.code !== 0).map((p) => [p.code, 0] as const)]);
    else if (v.subpage !== 0) throw Sense.invalidFieldInCdb(3);
    else out = encodeSupportedLogPages(PAGES.map((p) => p.code));
  } else {
    if (v.subpage !== 0) throw Sense.invalidFieldInCdb(3);
    // Thresholds (PC 00b/10b) are not kept and read as zero; default cumulative (11b) = reset values.
    const zero = v.pc !== 1;
    // 2Eh clears only when the initiator took the whole page (smc.md §6).
    const consume = v.pageCode === TapeLogPage.TAPE_ALERT && v.allocationLength >= 4 + 64 * 5;
    const params = page.build(ctx.lu, zero, consume).filter((p) => p.code >= v.parameterPointer);
    if (!params.length) throw Sense.invalidFieldInCdb(5);
    out = encodeLogPage(v.pageCode, params);
  }
  return out.subarray(0, v.allocationLength);
}

/**
 * LOG SELECT: only PCR=1 with an empty list (reset the cumulative counters) is meaningful; dmsim
 * keeps no thresholds, so any parameter list is refused (smc.md §6).
 */
export function logSelect<L>(PAGES: ReadonlyArray<LogPageDef<L>>, ctx: CommandContext<L & ScsiLogicalUnit>, reset: () => void): HandlerOutput {
  const v = decodeLogSelectCdb(ctx.cdb);
  if (v.sp) throw Sense.invalidFieldInCdb(1, 0);
  if (v.pcr && v.parameterListLength !== 0) throw Sense.invalidFieldInCdb(7);
  if (v.parameterListLength !== 0) throw Sense.invalidFieldInParam(0);
  if (v.pageCode !== 0 && !PAGES.some((p) => p.code === v.pageCode && p.build)) throw Sense.invalidFieldInCdb(2, 5);
  if (v.pcr) reset();
  return undefined;
}

/** LOG SELECT and LOG SENSE entries for an LU's command table. */
export function logCommands<L extends ScsiLogicalUnit>(pages: ReadonlyArray<LogPageDef<L>>, reset: (lu: L) => void): CommandDef<L>[] {
  return [
    { opcode: TapeOp.LOG_SELECT, name: 'LOG SELECT', cdbLength: 10, rsv: 'other', data: 'out', usage: [...tapeUsage.logSelect], handler: (c) => logSelect(pages, c, () => reset(c.lu)) },
    { opcode: TapeOp.LOG_SENSE, name: 'LOG SENSE', cdbLength: 10, rsv: 'always', data: 'in', allocation: [7, 2], usage: [...tapeUsage.logSense], handler: (c) => logSense(pages, c) },
  ];
}

export function tapeLogCommands(): CommandDef<TapeDrive>[] {
  return logCommands<TapeDrive>(PAGES, (d) => d.resetCounters());
}
