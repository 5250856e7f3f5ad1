/**
 * A FAT12/16/32 volume on a block device: finds the volume (superfloppy or MBR partition), reads
 * the FAT, walks directories (long names, defensive against loops and cross-links), and maps
 * files and allocation to LU byte ranges — what the backup planners turn into segments.
 */
import { readBytes, type BlockReader } from './block-reader.js';
import { clusterSector, FatFormatError, parseBootSector, parseMbr, type Geometry } from './boot-sector.js';
import { ATTR, decodeEntry, fatTimeToUnix, LfnCollector } from './directory.js';

export interface ByteExtent {
  /** Absolute byte offset on the LU. */
  offset: number;
  /** Bytes of file data in this extent (the last one is trimmed to the file size). */
  length: number;
  /** Bytes the cluster run occupies (whole clusters). */
  allocated: number;
}

export interface FatEntry {
  /** Slash-separated path from the root, no leading slash. */
  path: string;
  shortName: string;
  isDirectory: boolean;
  size: number;
  /** Unix seconds (FAT write time in the volume's zone), 0 when unset. */
  mtime: number;
  attributes: number;
  firstCluster: number;
  /** The clusters carrying data (files) or the whole chain (directories). */
  clusters: number[];
  extents: ByteExtent[];
  /** Set when the entry was not usable (short chain, loop, bad link); the walk skips its data. */
  problem?: string;
}

export type RegionKind = 'metadata' | 'data' | 'free' | 'bad';
export interface Region {
  lba: number;
  blocks: number;
  kind: RegionKind;
}

export interface OpenOptions {
  /** Zone of FAT timestamps, minutes east of UTC (default 0 = UTC, the dmsim default). */
  utcOffsetMinutes?: number;
}

export class FatVolume {
  private constructor(
    readonly reader: BlockReader,
    readonly geometry: Geometry,
    /** LU byte offset of the volume's sector 0. */
    readonly volumeOffset: number,
    readonly partition: number | undefined,
    private readonly fat: Buffer,
    private readonly tz: number,
  ) {}

  static async open(reader: BlockReader, opts: OpenOptions = {}): Promise<FatVolume> {
    const sec0 = await readBytes(reader, 0, 512);
    let geometry: Geometry | undefined;
    let volumeOffset = 0;
    let partition: number | undefined;
    let firstError: Error | undefined;
    try {
      geometry = parseBootSector(sec0);
    } catch (e) {
      firstError = e as Error;
      for (const p of parseMbr(sec0)) {
        try {
          const off = p.firstLba * reader.blockSize;
          geometry = parseBootSector(await readBytes(reader, off, 512));
          volumeOffset = off;
          partition = p.index;
          break;
        } catch {
          /* try the next entry */
        }
      }
    }
    if (!geometry) throw new FatFormatError(`no FAT volume: ${firstError?.message ?? 'unknown'}`);
    const volBytes = geometry.totalSectors * geometry.bytesPerSector;
    if (volumeOffset + volBytes > reader.blockCount * reader.blockSize) throw new FatFormatError('volume extends past the end of the LU');
    const g = geometry;
    const fatOffset = volumeOffset + (g.reservedSectors + g.activeFat * g.fatSize) * g.bytesPerSector;
    const fatBytes = Math.min(g.fatSize * g.bytesPerSector, Math.ceil(((g.clusterCount + 2) * g.type) / 8) + 4);
    const fat = await readBytes(reader, fatOffset, Math.min(fatBytes, g.fatSize * g.bytesPerSector));
    return new FatVolume(reader, g, volumeOffset, partition, Buffer.from(fat), opts.utcOffsetMinutes ?? 0);
  }

  get maxCluster(): number {
    return this.geometry.clusterCount + 1;
  }

  /** Raw FAT entry (FAT32 masked to 28 bits). */
  entry(n: number): number {
    const t = this.geometry.type;
    if (t === 12) {
      const w = this.fat.readUInt16LE(n + (n >> 1));
      return n & 1 ? w >> 4 : w & 0x0fff;
    }
    if (t === 16) return this.fat.readUInt16LE(n * 2);
    return this.fat.readUInt32LE(n * 4) & 0x0fffffff;
  }

  isEndOfChain(v: number): boolean {
    return v >= (this.geometry.type === 12 ? 0xff8 : this.geometry.type === 16 ? 0xfff8 : 0x0ffffff8);
  }

  isBad(v: number): boolean {
    return v === (this.geometry.type === 12 ? 0xff7 : this.geometry.type === 16 ? 0xfff7 : 0x0ffffff7);
  }

  /** Follows a chain; stops at end-of-chain, or reports the first corruption it meets. */
  chain(start: number, limit = this.geometry.clusterCount): { clusters: number[]; problem?: string } {
    const clusters: number[] = [];
    const seen = new Set<number>();
    let c = start;
    while (true) {
      if (c < 2 || c > this.maxCluster) return { clusters, problem: `link to invalid cluster ${c}` };
      if (seen.has(c)) return { clusters, problem: `loop at cluster ${c}` };
      seen.add(c);
      clusters.push(c);
      if (clusters.length > limit) return { clusters, problem: 'chain longer than needed' };
      const next = this.entry(c);
      if (this.isEndOfChain(next)) return { clusters };
      if (next === 0 || this.isBad(next)) return { clusters, problem: `cluster ${c} links to ${next === 0 ? 'a free' : 'a bad'} cluster` };
      c = next;
    }
  }

  clusterOffset(c: number): number {
    return this.volumeOffset + clusterSector(this.geometry, c) * this.geometry.bytesPerSector;
  }

  /** Contiguous cluster runs → LU byte extents, the last trimmed to `size` (undefined = whole clusters). */
  extentsOf(clusters: number[], size?: number): ByteExtent[] {
    const cb = this.geometry.clusterBytes;
    const out: ByteExtent[] = [];
    let remaining = size ?? clusters.length * cb;
    for (let i = 0; i < clusters.length && remaining > 0; ) {
      let j = i + 1;
      while (j < clusters.length && clusters[j] === clusters[j - 1]! + 1) j++;
      const allocated = (j - i) * cb;
      const length = Math.min(allocated, remaining);
      out.push({ offset: this.clusterOffset(clusters[i]!), length, allocated });
      remaining -= length;
      i = j;
    }
    return out;
  }

  private async readDirectory(firstCluster: number): Promise<{ data: Buffer; clusters: number[]; problem?: string }> {
    const g = this.geometry;
    if (firstCluster === 0 && g.type !== 32) {
      const data = await readBytes(this.reader, this.volumeOffset + g.rootDirSector * g.bytesPerSector, g.rootEntryCount * 32);
      return { data, clusters: [] };
    }
    const start = firstCluster === 0 ? g.rootCluster : firstCluster;
    // Linux caps a directory at 65,536 entries (2 MiB).
    const { clusters, problem } = this.chain(start, Math.ceil((65536 * 32) / g.clusterBytes));
    const parts: Buffer[] = [];
    for (const ext of this.extentsOf(clusters)) parts.push(await readBytes(this.reader, ext.offset, ext.allocated));
    return { data: Buffer.concat(parts), clusters, problem };
  }

  /** Every file and directory in directory order (a directory precedes its contents). */
  async walk(): Promise<FatEntry[]> {
    const out: FatEntry[] = [];
    const visited = new Set<number>();
    const fat32 = this.geometry.type === 32;
    const cb = this.geometry.clusterBytes;
    const visit = async (dirCluster: number, prefix: string): Promise<void> => {
      const { data } = await this.readDirectory(dirCluster);
      const lfn = new LfnCollector();
      const subdirs: Array<[number, string]> = [];
      for (let off = 0; off + 32 <= data.length; off += 32) {
        const e = data.subarray(off, off + 32);
        if (e[0] === 0x00) break;
        if (e[0] === 0xe5) {
          lfn.reset();
          continue;
        }
        if ((e[11]! & 0x3f) === ATTR.LFN) {
          lfn.add(e);
          continue;
        }
        const d = decodeEntry(e, fat32);
        const longName = lfn.take(d.rawName);
        if (d.attributes & ATTR.VOLUME_ID) continue;
        if (d.shortName === '.' || d.shortName === '..') continue;
        const nm = longName ?? d.shortName;
        const path = prefix ? `${prefix}/${nm}` : nm;
        const isDirectory = (d.attributes & ATTR.DIRECTORY) !== 0;
        const entry: FatEntry = {
          path, shortName: d.shortName, isDirectory, size: isDirectory ? 0 : d.size,
          mtime: fatTimeToUnix(d.writeDate, d.writeTime, this.tz) ?? 0,
          attributes: d.attributes, firstCluster: d.firstCluster, clusters: [], extents: [],
        };
        if (isDirectory) {
          if (d.firstCluster < 2 || d.firstCluster > this.maxCluster) entry.problem = `directory at invalid cluster ${d.firstCluster}`;
          else if (visited.has(d.firstCluster)) entry.problem = `directory cluster ${d.firstCluster} already visited (loop or cross-link)`;
          else {
            const ch = this.chain(d.firstCluster, Math.ceil((65536 * 32) / cb));
            entry.clusters = ch.clusters;
            entry.extents = this.extentsOf(ch.clusters);
            if (ch.problem) entry.problem = ch.problem;
            visited.add(d.firstCluster);
            subdirs.push([d.firstCluster, path]);
          }
        } else if (d.size === 0) {
          if (d.firstCluster !== 0) entry.problem = 'empty file with clusters allocated';
        } else {
          const need = Math.ceil(d.size / cb);
          const ch = this.chain(d.firstCluster, need);
          if (ch.clusters.length < need || (ch.problem && ch.problem !== 'chain longer than needed')) {
            entry.problem = ch.problem ?? `chain of ${ch.clusters.length} clusters is shorter than the size needs (${need})`;
          } else {
            entry.clusters = ch.clusters.slice(0, need);
            entry.extents = this.extentsOf(entry.clusters, d.size);
          }
        }
        out.push(entry);
      }
      for (const [c, p] of subdirs) await visit(c, p);
    };
    await visit(0, '');
    return out;
  }

  /** Reads a file's bytes (tests, verify, single-file restore to a local file). */
  async readFile(entry: FatEntry): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (const x of entry.extents) parts.push(await readBytes(this.reader, x.offset, x.length));
    return Buffer.concat(parts);
  }

  /** Counts of used/free/bad clusters, recomputed from the FAT (FSInfo is never trusted). */
  usage(): { used: number; free: number; bad: number } {
    let used = 0, free = 0, bad = 0;
    for (let c = 2; c <= this.maxCluster; c++) {
      const v = this.entry(c);
      if (v === 0) free++;
      else if (this.isBad(v)) bad++;
      else used++;
    }
    return { used, free, bad };
  }

  /**
   * The whole LU as runs of LU blocks: metadata (everything outside the cluster area, incl. the
   * MBR, gaps and the tail), data (allocated clusters), free, bad. A block shared by two kinds
   * takes the one that must be copied (data/metadata beat free and bad).
   */
  regions(): Region[] {
    // Built from cluster runs, never from a per-block table: the cost follows the FAT's runs, not
    // the LU's block count (a byte per block was 256 MiB for a 1 TiB LU of 4 KiB blocks).
    const L = this.reader.blockSize;
    const total = this.reader.blockCount;
    const clusterStart = this.clusterOffset(2);
    const cb = this.geometry.clusterBytes;
    const max = this.maxCluster;
    // Cluster runs in LBA order become block intervals: a data run claims every block it touches
    // (a partial block must be copied), free and bad runs only the blocks wholly inside them. So
    // the intervals never overlap; gaps between them are metadata.
    const spans: Region[] = [];
    const push = (lba: number, end: number, kind: RegionKind) => {
      end = Math.min(end, total);
      if (end <= lba) return;
      const last = spans[spans.length - 1];
      if (last && last.kind === kind && last.lba + last.blocks === lba) last.blocks += end - lba;
      else spans.push({ lba, blocks: end - lba, kind });
    };
    let c = 2;
    while (c <= max) {
      const v = this.entry(c);
      const k: RegionKind = v === 0 ? 'free' : this.isBad(v) ? 'bad' : 'data';
      let d = c + 1;
      while (d <= max) {
        const w = this.entry(d);
        if ((w === 0 ? 'free' : this.isBad(w) ? 'bad' : 'data') !== k) break;
        d++;
      }
      const s = clusterStart + (c - 2) * cb, e = clusterStart + (d - 2) * cb;
      if (k === 'data') {
        const first = Math.floor(s / L);
        // A previous free/bad span can not reach into this block (it held only whole blocks).
        push(first, Math.ceil(e / L), 'data');
      } else push(Math.ceil(s / L), Math.floor(e / L), k);
      c = d;
    }
    const out: Region[] = [];
    let at = 0;
    const emit = (r: Region) => {
      const last = out[out.length - 1];
      if (last && last.kind === r.kind && last.lba + last.blocks === r.lba) last.blocks += r.blocks;
      else out.push({ ...r });
    };
    for (const r of spans) {
      // Data spans may share their first block with the data span before (merged by push); a
      // data span after a data span that ended in the same partial block starts inside it.
      const lba = Math.max(r.lba, at);
      if (lba > at) emit({ lba: at, blocks: lba - at, kind: 'metadata' });
      if (r.lba + r.blocks > lba) emit({ lba, blocks: r.lba + r.blocks - lba, kind: r.kind });
      at = Math.max(at, r.lba + r.blocks);
    }
    if (at < total) emit({ lba: at, blocks: total - at, kind: 'metadata' });
    return out;
  }
}
