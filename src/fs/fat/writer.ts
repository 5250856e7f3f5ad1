/**
 * Writes files and directories into an existing FAT12/16/32 volume on a block device (NDMP
 * recover): first-fit cluster allocation, every FAT copy updated, 8.3 entries with LFN entries
 * when the name needs them, directories created with "." and "..", a directory grown by one
 * cluster when it has no free slots (the FAT12/16 root cannot grow). An existing file of the same
 * name is replaced (its old chain freed). Not journalled: a crash mid-write can leave lost
 * clusters, as with any FAT driver.
 */
import { readBytes, type BlockReader } from './block-reader.js';
import { ATTR, decodeEntry, encodeEntry, encodeLfnEntries, LfnCollector, unixToFatTime } from './directory.js';
import { FatVolume } from './volume.js';

export interface BlockDevice extends BlockReader {
  writeBlocks(lba: number, data: Buffer): Promise<void>;
}

interface Found {
  slot: number;
  lfnSlots: number[];
  attributes: number;
  firstCluster: number;
}

export class FatWriter {
  private constructor(
    private readonly dev: BlockDevice,
    readonly volume: FatVolume,
    private readonly fat: Buffer,
    private readonly fatOffsets: number[],
  ) {}

  static async open(dev: BlockDevice): Promise<FatWriter> {
    const volume = await FatVolume.open(dev);
    const g = volume.geometry;
    const bytes = g.fatSize * g.bytesPerSector;
    const offsets = Array.from({ length: g.numFats }, (_, i) => volume.volumeOffset + (g.reservedSectors + i * g.fatSize) * g.bytesPerSector);
    const fat = Buffer.from(await readBytes(dev, offsets[g.activeFat] ?? offsets[0]!, bytes));
    return new FatWriter(dev, volume, fat, offsets);
  }

  private get g() {
    return this.volume.geometry;
  }

  private get(n: number): number {
    const t = this.g.type;
    if (t === 12) {
      const w = this.fat.readUInt16LE(n + (n >> 1));
      return n & 1 ? w >> 4 : w & 0x0fff;
    }
    if (t === 16) return this.fat.readUInt16LE(n * 2);
    return this.fat.readUInt32LE(n * 4) & 0x0fffffff;
  }

  private set(n: number, v: number): void {
    const t = this.g.type;
    if (t === 12) {
      const o = n + (n >> 1);
      const w = this.fat.readUInt16LE(o);
      this.fat.writeUInt16LE(n & 1 ? (w & 0x000f) | ((v & 0xfff) << 4) : (w & 0xf000) | (v & 0xfff), o);
    } else if (t === 16) this.fat.writeUInt16LE(v & 0xffff, n * 2);
    else this.fat.writeUInt32LE(((this.fat.readUInt32LE(n * 4) & 0xf0000000) | (v & 0x0fffffff)) >>> 0, n * 4);
  }

  private get eoc(): number {
    return this.g.type === 12 ? 0xfff : this.g.type === 16 ? 0xffff : 0x0fffffff;
  }

  private chainOf(start: number): number[] {
    const out: number[] = [];
    const seen = new Set<number>();
    for (let c = start; c >= 2 && c <= this.volume.maxCluster && !seen.has(c); c = this.get(c)) {
      seen.add(c);
      out.push(c);
    }
    return out;
  }

  /** First-fit allocation of n clusters, linked and terminated. */
  private allocate(n: number): number[] {
    const out: number[] = [];
    for (let c = 2; c <= this.volume.maxCluster && out.length < n; c++) if (this.get(c) === 0) out.push(c);
    if (out.length < n) throw new Error(`volume full: ${n} clusters needed, ${out.length} free`);
    out.forEach((c, i) => this.set(c, i + 1 < out.length ? out[i + 1]! : this.eoc));
    return out;
  }

  private async writeAt(off: number, data: Buffer): Promise<void> {
    const bs = this.dev.blockSize;
    const first = Math.floor(off / bs);
    const last = Math.floor((off + data.length - 1) / bs);
    const buf = off % bs === 0 && data.length % bs === 0 ? data : Buffer.from(await this.dev.readBlocks(first, last - first + 1));
    if (buf !== data) data.copy(buf, off - first * bs);
    for (let done = 0; done < buf.length; ) {
      const n = Math.min(buf.length - done, 1 << 20);
      await this.dev.writeBlocks(first + done / bs, buf.subarray(done, done + n));
      done += n;
    }
  }

  private async flushFat(): Promise<void> {
    for (const o of this.fatOffsets) await this.writeAt(o, this.fat);
    const g = this.g;
    if (g.type === 32 && g.fsInfoSector > 0 && g.fsInfoSector < g.reservedSectors) {
      // FAT32 FSInfo: keep the free-cluster count true (offset 488), next-free hint unknown (492).
      let free = 0;
      for (let c = 2; c <= this.volume.maxCluster; c++) if (this.get(c) === 0) free++;
      const at = this.volume.volumeOffset + g.fsInfoSector * g.bytesPerSector;
      const sec = Buffer.from(await readBytes(this.dev, at, 512));
      if (sec.readUInt32LE(0) === 0x41615252) {
        sec.writeUInt32LE(free, 488);
        sec.writeUInt32LE(0xffffffff, 492);
        await this.writeAt(at, sec);
      }
    }
  }

  /** LU byte offsets of every 32-byte slot of a directory (0 = root). */
  private slotsOf(dirCluster: number): number[] {
    const g = this.g;
    if (dirCluster === 0 && g.type !== 32) {
      const base = this.volume.volumeOffset + g.rootDirSector * g.bytesPerSector;
      return Array.from({ length: g.rootEntryCount }, (_, i) => base + i * 32);
    }
    const out: number[] = [];
    for (const c of this.chainOf(dirCluster === 0 ? g.rootCluster : dirCluster)) {
      const base = this.volume.clusterOffset(c);
      for (let i = 0; i < g.clusterBytes / 32; i++) out.push(base + i * 32);
    }
    return out;
  }

  private async readSlots(slots: number[]): Promise<Buffer[]> {
    const out: Buffer[] = [];
    // Slots come in runs (a cluster or the fixed root): read each run at once.
    for (let i = 0; i < slots.length; ) {
      let j = i + 1;
      while (j < slots.length && slots[j] === slots[j - 1]! + 32) j++;
      const data = await readBytes(this.dev, slots[i]!, (j - i) * 32);
      for (let k = 0; k < j - i; k++) out.push(Buffer.from(data.subarray(k * 32, k * 32 + 32)));
      i = j;
    }
    return out;
  }

  private async find(dirCluster: number, name: string): Promise<{ found?: Found; slots: number[]; entries: Buffer[] }> {
    const slots = this.slotsOf(dirCluster);
    const entries = await this.readSlots(slots);
    const lfn = new LfnCollector();
    let lfnStart = -1;
    const want = name.toUpperCase();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e[0] === 0) break;
      if (e[0] === 0xe5) {
        lfn.reset();
        lfnStart = -1;
        continue;
      }
      if ((e[11]! & 0x3f) === ATTR.LFN) {
        if (e[0]! & 0x40) lfnStart = i;
        lfn.add(e);
        continue;
      }
      const d = decodeEntry(e, this.g.type === 32);
      const long = lfn.take(d.rawName);
      const start = long !== undefined ? lfnStart : i;
      lfnStart = -1;
      if (d.attributes & ATTR.VOLUME_ID) continue;
      if ((long ?? d.shortName).toUpperCase() === want || d.shortName.toUpperCase() === want) {
        return { found: { slot: i, lfnSlots: Array.from({ length: i - start }, (_, k) => start + k), attributes: d.attributes, firstCluster: d.firstCluster }, slots, entries };
      }
    }
    return { slots, entries };
  }

  private shortName(name: string, entries: Buffer[]): { raw: Buffer; needsLfn: boolean } {
    const m = /^([A-Z0-9!#$%&'()@^_`{}~-]{1,8})(?:\.([A-Z0-9!#$%&'()@^_`{}~-]{1,3}))?$/.exec(name);
    if (m) return { raw: Buffer.from(m[1]!.padEnd(8) + (m[2] ?? '').padEnd(3), 'latin1'), needsLfn: false };
    const clean = (s: string) => s.toUpperCase().replace(/[^A-Z0-9!#$%&'()@^_`{}~-]/g, '');
    const dot = name.lastIndexOf('.');
    const base = clean(dot > 0 ? name.slice(0, dot) : name) || 'FILE';
    const ext = dot > 0 ? clean(name.slice(dot + 1)).slice(0, 3) : '';
    const taken = new Set(entries.map((e) => e.toString('latin1', 0, 11)));
    for (let n = 1; n < 1000000; n++) {
      const tail = `~${n}`;
      const raw = base.slice(0, 8 - tail.length) + tail;
      const key = raw.padEnd(8) + ext.padEnd(3);
      if (!taken.has(key)) return { raw: Buffer.from(key, 'latin1'), needsLfn: true };
    }
    throw new Error(`no free short name for ${name}`);
  }

  private async addEntry(dirCluster: number, name: string, fields: { attributes: number; firstCluster: number; size: number; mtime: number }): Promise<void> {
    const { slots, entries } = await this.find(dirCluster, name);
    const { raw, needsLfn } = this.shortName(name, entries);
    const { date, time } = unixToFatTime(fields.mtime);
    const pieces = [...(needsLfn ? encodeLfnEntries(name, raw) : []), encodeEntry({ rawName: raw, attributes: fields.attributes, firstCluster: fields.firstCluster, size: fields.size, date, time })];
    let at = -1;
    for (let i = 0, run = 0; i < entries.length; i++) {
      const free = entries[i]![0] === 0 || entries[i]![0] === 0xe5;
      run = free ? run + 1 : 0;
      if (run === pieces.length) {
        at = i - run + 1;
        break;
      }
    }
    if (at < 0) {
      if (dirCluster === 0 && this.g.type !== 32) throw new Error('root directory full');
      const chain = this.chainOf(dirCluster === 0 ? this.g.rootCluster : dirCluster);
      const [c] = this.allocate(1);
      this.set(chain[chain.length - 1]!, c!);
      await this.writeAt(this.volume.clusterOffset(c!), Buffer.alloc(this.g.clusterBytes));
      return this.addEntry(dirCluster, name, fields);
    }
    for (let k = 0; k < pieces.length; k++) await this.writeAt(slots[at + k]!, pieces[k]!);
  }

  /** Directory cluster of a path (created with parents as needed; '' = root). */
  async mkdirp(path: string, mtime = Math.floor(Date.now() / 1000)): Promise<number> {
    let dir = 0;
    for (const part of path.split('/').filter(Boolean)) {
      const { found } = await this.find(dir, part);
      if (found) {
        if (!(found.attributes & ATTR.DIRECTORY)) throw new Error(`${part} is a file, not a directory`);
        dir = found.firstCluster;
        continue;
      }
      const [c] = this.allocate(1);
      const { date, time } = unixToFatTime(mtime);
      const block = Buffer.alloc(this.g.clusterBytes);
      encodeEntry({ rawName: Buffer.from('.          ', 'latin1'), attributes: ATTR.DIRECTORY, firstCluster: c!, size: 0, date, time }).copy(block, 0);
      const parent = dir === (this.g.type === 32 ? this.g.rootCluster : 0) ? 0 : dir;
      encodeEntry({ rawName: Buffer.from('..         ', 'latin1'), attributes: ATTR.DIRECTORY, firstCluster: parent, size: 0, date, time }).copy(block, 32);
      await this.writeAt(this.volume.clusterOffset(c!), block);
      await this.addEntry(dir, part, { attributes: ATTR.DIRECTORY, firstCluster: c!, size: 0, mtime });
      await this.flushFat();
      dir = c!;
    }
    return dir;
  }

  /** Write (or replace) a file; parents are created. */
  async writeFile(path: string, data: Buffer, opts: { mtime: number; readOnly?: boolean }): Promise<void> {
    const parts = path.split('/').filter(Boolean);
    const name = parts.pop();
    if (!name) throw new Error('empty file name');
    const dir = await this.mkdirp(parts.join('/'));
    const { found, slots } = await this.find(dir, name);
    if (found) {
      if (found.attributes & ATTR.DIRECTORY) throw new Error(`${path} is a directory`);
      for (const c of this.chainOf(found.firstCluster)) this.set(c, 0);
      for (const s of [...found.lfnSlots, found.slot]) await this.writeAt(slots[s]!, Buffer.from([0xe5]));
    }
    const clusters = data.length ? this.allocate(Math.ceil(data.length / this.g.clusterBytes)) : [];
    for (const x of this.volume.extentsOf(clusters)) {
      const start = clusters.indexOf(this.clusterAt(x.offset)) * this.g.clusterBytes;
      const chunk = Buffer.alloc(x.allocated);
      data.copy(chunk, 0, start, Math.min(data.length, start + x.allocated));
      await this.writeAt(x.offset, chunk);
    }
    await this.addEntry(dir, name, { attributes: ATTR.ARCHIVE | (opts.readOnly ? ATTR.READ_ONLY : 0), firstCluster: clusters[0] ?? 0, size: data.length, mtime: opts.mtime });
    await this.flushFat();
  }

  private clusterAt(off: number): number {
    const g = this.g;
    return Math.floor(((off - this.volume.volumeOffset) / g.bytesPerSector - g.firstDataSector) / g.sectorsPerCluster) + 2;
  }
}
