/**
 * 32-byte directory entries, VFAT long names and FAT date/time. Shared by the reader and the
 * image builder so both agree on every byte.
 */
export const ATTR = { READ_ONLY: 0x01, HIDDEN: 0x02, SYSTEM: 0x04, VOLUME_ID: 0x08, DIRECTORY: 0x10, ARCHIVE: 0x20, LFN: 0x0f } as const;

export interface RawEntry {
  /** The 11 raw name bytes. */
  rawName: Buffer;
  shortName: string;
  attributes: number;
  ntFlags: number;
  firstCluster: number;
  size: number;
  writeTime: number;
  writeDate: number;
  createTime: number;
  createDate: number;
  accessDate: number;
}

/** LFN checksum over the 11 raw 8.3 bytes (rotate right, add). */
export function lfnChecksum(raw: Buffer): number {
  let s = 0;
  for (let i = 0; i < 11; i++) s = ((((s & 1) << 7) | (s >> 1)) + raw[i]!) & 0xff;
  return s;
}

/** Display form of an 8.3 name, honouring the NT lower-case flags (08 base, 10 extension). */
export function displayShortName(raw: Buffer, ntFlags: number): string {
  const first = raw[0] === 0x05 ? 0xe5 : raw[0]!;
  let base = (String.fromCharCode(first) + raw.toString('latin1', 1, 8)).trimEnd();
  let ext = raw.toString('latin1', 8, 11).trimEnd();
  if (ntFlags & 0x08) base = base.toLowerCase();
  if (ntFlags & 0x10) ext = ext.toLowerCase();
  return ext ? `${base}.${ext}` : base;
}

export function decodeEntry(e: Buffer, fat32: boolean): RawEntry {
  const rawName = Buffer.from(e.subarray(0, 11));
  const ntFlags = e[12]!;
  return {
    rawName,
    shortName: displayShortName(rawName, ntFlags),
    attributes: e[11]!,
    ntFlags,
    firstCluster: ((fat32 ? e.readUInt16LE(20) : 0) << 16) | e.readUInt16LE(26),
    size: e.readUInt32LE(28),
    createTime: e.readUInt16LE(14),
    createDate: e.readUInt16LE(16),
    accessDate: e.readUInt16LE(18),
    writeTime: e.readUInt16LE(22),
    writeDate: e.readUInt16LE(24),
  };
}

export interface EntryFields {
  rawName: Buffer;
  attributes: number;
  ntFlags?: number;
  firstCluster: number;
  size: number;
  date: number;
  time: number;
}

export function encodeEntry(f: EntryFields): Buffer {
  const e = Buffer.alloc(32);
  f.rawName.copy(e, 0, 0, 11);
  e[11] = f.attributes;
  e[12] = f.ntFlags ?? 0;
  e.writeUInt16LE(f.time, 14);
  e.writeUInt16LE(f.date, 16);
  e.writeUInt16LE(f.date, 18);
  e.writeUInt16LE((f.firstCluster >>> 16) & 0xffff, 20);
  e.writeUInt16LE(f.time, 22);
  e.writeUInt16LE(f.date, 24);
  e.writeUInt16LE(f.firstCluster & 0xffff, 26);
  e.writeUInt32LE(f.size >>> 0, 28);
  return e;
}

const LFN_OFFSETS = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];

/** The LFN entries for `name` in on-disk order (last piece first). */
export function encodeLfnEntries(name: string, shortRaw: Buffer): Buffer[] {
  const units: number[] = [];
  for (let i = 0; i < name.length; i++) units.push(name.charCodeAt(i));
  if (units.length > 255) throw new RangeError(`long name over 255 characters: ${name}`);
  const count = Math.ceil(units.length / 13);
  const sum = lfnChecksum(shortRaw);
  const out: Buffer[] = [];
  for (let seq = count; seq >= 1; seq--) {
    const e = Buffer.alloc(32);
    e[0] = seq | (seq === count ? 0x40 : 0);
    e[11] = ATTR.LFN;
    e[13] = sum;
    for (let k = 0; k < 13; k++) {
      const idx = (seq - 1) * 13 + k;
      const v = idx < units.length ? units[idx]! : idx === units.length ? 0 : 0xffff;
      e.writeUInt16LE(v, LFN_OFFSETS[k]!);
    }
    out.push(e);
  }
  return out;
}

/** Collects LFN pieces; yields a name only when the sequence is whole and its checksum matches. */
export class LfnCollector {
  private parts: string[] = [];
  private expect = 0;
  private sum = -1;

  reset(): void {
    this.parts = [];
    this.expect = 0;
    this.sum = -1;
  }

  add(e: Buffer): void {
    const ord = e[0]!;
    const seq = ord & 0x1f;
    if (ord & 0x40) {
      this.parts = [];
      this.expect = seq;
      this.sum = e[13]!;
    } else if (seq !== this.expect || e[13] !== this.sum || this.expect === 0) {
      this.reset();
      return;
    }
    if (seq === 0) {
      this.reset();
      return;
    }
    let s = '';
    for (const off of LFN_OFFSETS) {
      const u = e.readUInt16LE(off);
      if (u === 0 || u === 0xffff) break;
      s += String.fromCharCode(u);
    }
    this.parts[seq - 1] = s;
    this.expect = seq - 1;
  }

  /** Called at the 8.3 entry: the long name if complete and its checksum matches. */
  take(shortRaw: Buffer): string | undefined {
    const ok = this.sum >= 0 && this.expect === 0 && this.parts.length > 0 && lfnChecksum(shortRaw) === this.sum;
    const name = ok ? this.parts.join('') : undefined;
    this.reset();
    return name;
  }
}

/** FAT date/time (local to `offsetMinutes` east of UTC) → Unix seconds; undefined when unset/invalid. */
export function fatTimeToUnix(date: number, time: number, offsetMinutes = 0): number | undefined {
  const year = 1980 + (date >> 9), month = (date >> 5) & 0x0f, day = date & 0x1f;
  const hour = time >> 11, min = (time >> 5) & 0x3f, sec = (time & 0x1f) * 2;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || min > 59 || sec > 59) return undefined;
  return Date.UTC(year, month - 1, day, hour, min, sec) / 1000 - offsetMinutes * 60;
}

export function unixToFatTime(unix: number, offsetMinutes = 0): { date: number; time: number } {
  const d = new Date((unix + offsetMinutes * 60) * 1000);
  const year = Math.min(Math.max(d.getUTCFullYear(), 1980), 2107);
  return {
    date: ((year - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
  };
}
