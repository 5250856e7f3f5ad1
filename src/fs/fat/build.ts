/**
 * Deterministic FAT12/16/32 image builder in pure TypeScript: `npm start` on a fresh machine has
 * no mkfs.fat or mtools, and fixtures must be byte-identical every run. Output passes
 * `fsck.fat -n` and lists with mtools (tested). Long names get VFAT entries with generated
 * NAME~N.EXT short names; optional fragmentation leaves one-cluster gaps that later files fill.
 */
import { FatFormatError, type FatType } from './boot-sector.js';
import { ATTR, encodeEntry, encodeLfnEntries, unixToFatTime } from './directory.js';

export interface BuildFile {
  /** Slash-separated, no leading slash; parent directories are created as needed. */
  path: string;
  data: Buffer;
  /** Unix seconds; defaults to the spec's mtime. */
  mtime?: number;
  attributes?: number;
  /** Allocate in runs of `fragmentRun` clusters separated by free one-cluster gaps. */
  fragmented?: boolean;
}

export interface BuildSpec {
  type: FatType;
  /** Size of the whole image (LU), bytes. */
  sizeBytes: number;
  /** MBR with one partition starting here (512-byte sectors); undefined = superfloppy. */
  partitionStartLba?: number;
  sectorsPerCluster?: number;
  rootEntryCount?: number;
  label?: string;
  serial?: number;
  /** Default timestamp (Unix seconds) of directories and files. */
  mtime: number;
  utcOffsetMinutes?: number;
  directories?: string[];
  files: BuildFile[];
  fragmentRun?: number;
}

const BPS = 512;
const SHORT_OK = /^[A-Z0-9!#$%&'()@^_`{}~-]+$/;

interface DirNode {
  path: string;
  name: string;
  children: Array<DirNode | FileNode>;
  cluster: number;
  clusters: number[];
  mtime: number;
  shortRaw: Buffer;
  lfn: boolean;
  kind: 'dir';
}
interface FileNode {
  name: string;
  file: BuildFile;
  clusters: number[];
  shortRaw: Buffer;
  lfn: boolean;
  kind: 'file';
}

function pad83(base: string, ext: string): Buffer {
  return Buffer.from(base.padEnd(8, ' ') + ext.padEnd(3, ' '), 'latin1');
}

/** Valid upper-case 8.3 names are stored as-is; anything else gets a long name and NAME~N.EXT. */
function shortNameFor(name: string, taken: Set<string>): { raw: Buffer; lfn: boolean } {
  const dot = name.lastIndexOf('.');
  const base = dot > 0 ? name.slice(0, dot) : name;
  const ext = dot > 0 ? name.slice(dot + 1) : '';
  if (base.length <= 8 && ext.length <= 3 && SHORT_OK.test(base) && (ext === '' || SHORT_OK.test(ext))) {
    const raw = pad83(base, ext);
    const key = raw.toString('latin1');
    if (!taken.has(key)) {
      taken.add(key);
      return { raw, lfn: false };
    }
  }
  const clean = (s: string) => s.toUpperCase().replace(/[^A-Z0-9!#$%&'()@^_`{}~-]/g, '');
  const b = clean(base) || 'FILE';
  const e = clean(ext).slice(0, 3);
  for (let n = 1; n < 1_000_000; n++) {
    const tail = `~${n}`;
    const raw = pad83(b.slice(0, 8 - tail.length) + tail, e);
    const key = raw.toString('latin1');
    if (!taken.has(key)) {
      taken.add(key);
      return { raw, lfn: true };
    }
  }
  throw new FatFormatError(`no short name left for ${name}`);
}

interface Layout {
  type: FatType;
  spc: number;
  reserved: number;
  rootEntries: number;
  fatSize: number;
  totalSectors: number;
  clusterCount: number;
  firstDataSector: number;
}

function layout(spec: BuildSpec, totalSectors: number): Layout {
  const type = spec.type;
  const reserved = type === 32 ? 32 : type === 16 ? 4 : 1;
  const rootEntries = type === 32 ? 0 : (spec.rootEntryCount ?? 512);
  const rootSectors = (rootEntries * 32) / BPS;
  const tryLayout = (spc: number): Layout => {
    let fatSize = 1;
    for (let i = 0; i < 20; i++) {
      const clusters = Math.floor((totalSectors - reserved - 2 * fatSize - rootSectors) / spc);
      const need = Math.ceil(((clusters + 2) * type) / 8 / BPS);
      if (need <= fatSize) break;
      fatSize = need;
    }
    const firstDataSector = reserved + 2 * fatSize + rootSectors;
    return { type, spc, reserved, rootEntries, fatSize, totalSectors, clusterCount: Math.floor((totalSectors - firstDataSector) / spc), firstDataSector };
  };
  const fits = (l: Layout) => (type === 12 ? l.clusterCount < 4085 : type === 16 ? l.clusterCount >= 4085 && l.clusterCount < 65525 : l.clusterCount >= 65525);
  if (spec.sectorsPerCluster) {
    const l = tryLayout(spec.sectorsPerCluster);
    if (!fits(l)) throw new FatFormatError(`FAT${type} impossible with ${l.clusterCount} clusters`);
    return l;
  }
  for (let spc = 1; spc <= 128; spc *= 2) {
    const l = tryLayout(spc);
    if (fits(l)) return l;
  }
  throw new FatFormatError(`FAT${type} impossible on ${totalSectors} sectors`);
}

export function buildFatImage(spec: BuildSpec): Buffer {
  const partStart = spec.partitionStartLba ?? 0;
  const image = Buffer.alloc(spec.sizeBytes);
  const totalSectors = Math.floor(spec.sizeBytes / BPS) - partStart;
  const L = layout(spec, totalSectors);
  const tz = spec.utcOffsetMinutes ?? 0;
  const vol = partStart * BPS;
  const clusterBytes = L.spc * BPS;
  const eoc = L.type === 12 ? 0xfff : L.type === 16 ? 0xffff : 0x0fffffff;

  // ---- tree ----
  const root: DirNode = { path: '', name: '', children: [], cluster: 0, clusters: [], mtime: spec.mtime, shortRaw: Buffer.alloc(11), lfn: false, kind: 'dir' };
  const dirs = new Map<string, DirNode>([['', root]]);
  const taken = new Map<DirNode, Set<string>>([[root, new Set()]]);
  const ensureDir = (path: string): DirNode => {
    const have = dirs.get(path);
    if (have) return have;
    const slash = path.lastIndexOf('/');
    const parent = ensureDir(slash < 0 ? '' : path.slice(0, slash));
    const name = path.slice(slash + 1);
    const sn = shortNameFor(name, taken.get(parent)!);
    const node: DirNode = { path, name, children: [], cluster: 0, clusters: [], mtime: spec.mtime, shortRaw: sn.raw, lfn: sn.lfn, kind: 'dir' };
    parent.children.push(node);
    dirs.set(path, node);
    taken.set(node, new Set());
    return node;
  };
  for (const d of spec.directories ?? []) ensureDir(d.replace(/\/+$/, ''));
  const files: FileNode[] = [];
  for (const f of spec.files) {
    const slash = f.path.lastIndexOf('/');
    const parent = ensureDir(slash < 0 ? '' : f.path.slice(0, slash));
    const name = f.path.slice(slash + 1);
    if (parent.children.some((c) => c.name.toUpperCase() === name.toUpperCase())) throw new FatFormatError(`duplicate name ${f.path}`);
    const sn = shortNameFor(name, taken.get(parent)!);
    const node: FileNode = { name, file: f, clusters: [], shortRaw: sn.raw, lfn: sn.lfn, kind: 'file' };
    parent.children.push(node);
    files.push(node);
  }

  // ---- allocation ----
  const used = new Uint8Array(L.clusterCount + 2);
  const fatVals = new Uint32Array(L.clusterCount + 2);
  let cursor = 2;
  const allocate = (n: number, fragmented = false): number[] => {
    const out: number[] = [];
    const run = spec.fragmentRun ?? 2;
    let c = fragmented ? cursor : 2;
    let inRun = 0;
    while (out.length < n) {
      if (c > L.clusterCount + 1) throw new FatFormatError('volume full');
      if (!used[c]) {
        if (fragmented && inRun === run) {
          inRun = 0;
          c++; // leave a gap
          continue;
        }
        used[c] = 1;
        out.push(c);
        inRun++;
      }
      c++;
    }
    if (fragmented) cursor = c;
    for (let i = 0; i < out.length; i++) fatVals[out[i]!] = i + 1 < out.length ? out[i + 1]! : eoc;
    cursor = Math.max(cursor, out[out.length - 1]! + 1);
    return out;
  };
  const entriesFor = (n: { name: string; lfn: boolean }) => 1 + (n.lfn ? Math.ceil(n.name.length / 13) : 0);
  const dirEntryCount = (d: DirNode) => (d === root ? (spec.label ? 1 : 0) : 2) + d.children.reduce((s, c) => s + entriesFor(c), 0);
  const orderedDirs: DirNode[] = [];
  const collect = (d: DirNode) => {
    orderedDirs.push(d);
    for (const c of d.children) if (c.kind === 'dir') collect(c);
  };
  collect(root);
  for (const d of orderedDirs) {
    const bytes = dirEntryCount(d) * 32;
    if (d === root && L.type !== 32) {
      if (dirEntryCount(d) > L.rootEntries) throw new FatFormatError(`root directory needs ${dirEntryCount(d)} entries, has ${L.rootEntries}`);
      continue;
    }
    d.clusters = allocate(Math.max(1, Math.ceil(bytes / clusterBytes)));
    d.cluster = d.clusters[0]!;
  }
  for (const f of files) {
    if (f.file.data.length > 0) f.clusters = allocate(Math.ceil(f.file.data.length / clusterBytes), f.file.fragmented);
  }

  // ---- data ----
  const clusterOff = (c: number) => vol + (L.firstDataSector + (c - 2) * L.spc) * BPS;
  for (const f of files) {
    const data = f.file.data;
    f.clusters.forEach((c, i) => data.copy(image, clusterOff(c), i * clusterBytes, Math.min(data.length, (i + 1) * clusterBytes)));
  }
  const stamp = (t: number) => unixToFatTime(t, tz);
  for (const d of orderedDirs) {
    const ents: Buffer[] = [];
    const dt = stamp(d.mtime);
    if (d === root) {
      if (spec.label) ents.push(encodeEntry({ rawName: pad83(spec.label.toUpperCase().slice(0, 8), spec.label.toUpperCase().slice(8, 11)), attributes: ATTR.VOLUME_ID, firstCluster: 0, size: 0, ...dt }));
    } else {
      const slash = d.path.lastIndexOf('/');
      const parent = dirs.get(slash < 0 ? '' : d.path.slice(0, slash))!;
      ents.push(encodeEntry({ rawName: pad83('.', ''), attributes: ATTR.DIRECTORY, firstCluster: d.cluster, size: 0, ...dt }));
      ents.push(encodeEntry({ rawName: pad83('..', ''), attributes: ATTR.DIRECTORY, firstCluster: parent === root ? 0 : parent.cluster, size: 0, ...dt }));
    }
    for (const c of d.children) {
      if (c.lfn) ents.push(...encodeLfnEntries(c.name, c.shortRaw));
      if (c.kind === 'dir') ents.push(encodeEntry({ rawName: c.shortRaw, attributes: ATTR.DIRECTORY, firstCluster: c.cluster, size: 0, ...stamp(c.mtime) }));
      else ents.push(encodeEntry({ rawName: c.shortRaw, attributes: c.file.attributes ?? ATTR.ARCHIVE, firstCluster: c.clusters[0] ?? 0, size: c.file.data.length, ...stamp(c.file.mtime ?? spec.mtime) }));
    }
    const buf = Buffer.concat(ents);
    if (d === root && L.type !== 32) buf.copy(image, vol + (L.reserved + 2 * L.fatSize) * BPS);
    else d.clusters.forEach((c, i) => buf.copy(image, clusterOff(c), i * clusterBytes, Math.min(buf.length, (i + 1) * clusterBytes)));
  }

  // ---- FATs ----
  const fat = Buffer.alloc(L.fatSize * BPS);
  const put = (n: number, v: number) => {
    if (L.type === 12) {
      const off = n + (n >> 1);
      const w = fat.readUInt16LE(off);
      fat.writeUInt16LE(n & 1 ? (w & 0x000f) | ((v & 0xfff) << 4) : (w & 0xf000) | (v & 0xfff), off);
    } else if (L.type === 16) fat.writeUInt16LE(v & 0xffff, n * 2);
    else fat.writeUInt32LE(v & 0x0fffffff, n * 4);
  };
  put(0, L.type === 12 ? 0xff8 : L.type === 16 ? 0xfff8 : 0x0ffffff8);
  put(1, eoc);
  for (let c = 2; c < fatVals.length; c++) if (fatVals[c]) put(c, fatVals[c]!);
  for (let k = 0; k < 2; k++) fat.copy(image, vol + (L.reserved + k * L.fatSize) * BPS);

  // ---- boot sector(s) ----
  const bs = Buffer.alloc(BPS);
  bs.set(L.type === 32 ? [0xeb, 0x58, 0x90] : [0xeb, 0x3c, 0x90], 0);
  bs.write('DMSIM   ', 3, 'latin1');
  bs.writeUInt16LE(BPS, 11);
  bs[13] = L.spc;
  bs.writeUInt16LE(L.reserved, 14);
  bs[16] = 2;
  bs.writeUInt16LE(L.rootEntries, 17);
  bs.writeUInt16LE(totalSectors < 0x10000 && L.type !== 32 ? totalSectors : 0, 19);
  bs[21] = 0xf8;
  bs.writeUInt16LE(L.type === 32 ? 0 : L.fatSize, 22);
  bs.writeUInt16LE(32, 24);
  bs.writeUInt16LE(64, 26);
  bs.writeUInt32LE(partStart, 28);
  bs.writeUInt32LE(totalSectors < 0x10000 && L.type !== 32 ? 0 : totalSectors, 32);
  let ext = 36;
  if (L.type === 32) {
    bs.writeUInt32LE(L.fatSize, 36);
    bs.writeUInt32LE(root.cluster, 44);
    bs.writeUInt16LE(1, 48);
    bs.writeUInt16LE(6, 50);
    ext = 64;
  }
  bs[ext] = 0x80;
  bs[ext + 2] = 0x29;
  bs.writeUInt32LE((spec.serial ?? 0x1234abcd) >>> 0, ext + 3);
  bs.write((spec.label ?? 'NO NAME').toUpperCase().padEnd(11, ' ').slice(0, 11), ext + 7, 'latin1');
  bs.write(`FAT${L.type}   `, ext + 18, 'latin1');
  bs[510] = 0x55;
  bs[511] = 0xaa;
  bs.copy(image, vol);
  if (L.type === 32) {
    const fsi = Buffer.alloc(BPS);
    fsi.writeUInt32LE(0x41615252, 0);
    fsi.writeUInt32LE(0x61417272, 484);
    let free = 0;
    for (let c = 2; c <= L.clusterCount + 1; c++) if (!used[c]) free++;
    fsi.writeUInt32LE(free, 488);
    fsi.writeUInt32LE(Math.min(cursor, L.clusterCount + 1), 492);
    fsi.writeUInt32LE(0xaa550000, 508);
    fsi.copy(image, vol + BPS);
    bs.copy(image, vol + 6 * BPS);
    fsi.copy(image, vol + 7 * BPS);
  }

  // ---- MBR ----
  if (spec.partitionStartLba !== undefined) {
    const mbr = image.subarray(0, BPS);
    mbr.writeUInt32LE((spec.serial ?? 0x1234abcd) >>> 0, 440);
    const e = mbr.subarray(446, 462);
    e[0] = 0x00;
    e.set([0xfe, 0xff, 0xff], 1);
    e[4] = L.type === 12 ? 0x01 : L.type === 16 ? 0x0e : 0x0c;
    e.set([0xfe, 0xff, 0xff], 5);
    e.writeUInt32LE(partStart, 8);
    e.writeUInt32LE(totalSectors, 12);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
  }
  return image;
}
