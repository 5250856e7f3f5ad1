/**
 * FAT boot sector (BPB) decoding and volume geometry. The FAT type is decided by cluster count
 * (Microsoft's rule); a volume whose FATSz16 = 0 disagrees with that count is rejected, as the
 * dmsim reference asks. Sanity rules double as the MBR-vs-BPB test on LBA 0.
 */
export type FatType = 12 | 16 | 32;

export interface BootSector {
  bytesPerSector: number;
  sectorsPerCluster: number;
  reservedSectors: number;
  numFats: number;
  rootEntryCount: number;
  totalSectors: number;
  media: number;
  fatSize: number;
  hiddenSectors: number;
  /** FAT32 only. */
  rootCluster: number;
  fsInfoSector: number;
  backupBootSector: number;
  /** FAT32 ExtFlags: index of the FAT to read (0 when mirrored). */
  activeFat: number;
  volumeSerial: number;
  volumeLabel: string;
}

export interface Geometry extends BootSector {
  type: FatType;
  clusterBytes: number;
  rootDirSectors: number;
  /** Sector (volume-relative) of the fixed root directory (FAT12/16). */
  rootDirSector: number;
  firstDataSector: number;
  clusterCount: number;
}

export class FatFormatError extends Error {
  override name = 'FatFormatError';
}

const isPow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;

/** Decodes sector 0 of a volume; throws FatFormatError when it is not a sane FAT boot sector. */
export function parseBootSector(sec: Buffer): Geometry {
  if (sec.length < 512) throw new FatFormatError('boot sector shorter than 512 bytes');
  if (sec[510] !== 0x55 || sec[511] !== 0xaa) throw new FatFormatError('no 55AA signature');
  const bytesPerSector = sec.readUInt16LE(11);
  const sectorsPerCluster = sec[13]!;
  const reservedSectors = sec.readUInt16LE(14);
  const numFats = sec[16]!;
  const rootEntryCount = sec.readUInt16LE(17);
  const tot16 = sec.readUInt16LE(19);
  const media = sec[21]!;
  const fatSz16 = sec.readUInt16LE(22);
  const hiddenSectors = sec.readUInt32LE(28);
  const tot32 = sec.readUInt32LE(32);
  const fatSz32 = sec.readUInt32LE(36);
  if (![512, 1024, 2048, 4096].includes(bytesPerSector)) throw new FatFormatError(`bytes per sector ${bytesPerSector}`);
  if (!isPow2(sectorsPerCluster) || sectorsPerCluster > 128) throw new FatFormatError(`sectors per cluster ${sectorsPerCluster}`);
  if (reservedSectors < 1) throw new FatFormatError('no reserved sectors');
  if (numFats < 1) throw new FatFormatError('no FATs');
  const fatSize = fatSz16 !== 0 ? fatSz16 : fatSz32;
  if (fatSize === 0) throw new FatFormatError('FAT size 0');
  const totalSectors = tot16 !== 0 ? tot16 : tot32;
  if (totalSectors === 0) throw new FatFormatError('total sectors 0');
  if ((rootEntryCount * 32) % bytesPerSector !== 0) throw new FatFormatError('root entry count not a whole number of sectors');
  const rootDirSectors = (rootEntryCount * 32) / bytesPerSector;
  const firstDataSector = reservedSectors + numFats * fatSize + rootDirSectors;
  if (firstDataSector >= totalSectors) throw new FatFormatError('no data region');
  const clusterCount = Math.floor((totalSectors - firstDataSector) / sectorsPerCluster);
  const type: FatType = clusterCount < 4085 ? 12 : clusterCount < 65525 ? 16 : 32;
  if ((fatSz16 === 0) !== (type === 32)) throw new FatFormatError(`FATSz16=${fatSz16} contradicts ${clusterCount} clusters (FAT${type})`);
  const bits = type;
  if (Math.floor((fatSize * bytesPerSector * 8) / bits) < clusterCount + 2) throw new FatFormatError('FAT too small for its clusters');
  let rootCluster = 0, fsInfoSector = 0, backupBootSector = 0, activeFat = 0, ext = 38;
  if (type === 32) {
    if (rootEntryCount !== 0) throw new FatFormatError('FAT32 with a fixed root directory');
    const extFlags = sec.readUInt16LE(40);
    activeFat = extFlags & 0x80 ? extFlags & 0x0f : 0;
    if (activeFat >= numFats) throw new FatFormatError('active FAT out of range');
    rootCluster = sec.readUInt32LE(44);
    if (rootCluster < 2 || rootCluster > clusterCount + 1) throw new FatFormatError(`root cluster ${rootCluster} out of range`);
    fsInfoSector = sec.readUInt16LE(48);
    backupBootSector = sec.readUInt16LE(50);
    ext = 66;
  }
  const hasExt = sec[ext] === 0x29;
  return {
    bytesPerSector, sectorsPerCluster, reservedSectors, numFats, rootEntryCount, totalSectors, media, fatSize,
    hiddenSectors, rootCluster, fsInfoSector, backupBootSector, activeFat,
    volumeSerial: hasExt ? sec.readUInt32LE(ext + 1) : 0,
    volumeLabel: hasExt ? sec.toString('latin1', ext + 5, ext + 16).trimEnd() : '',
    type,
    clusterBytes: bytesPerSector * sectorsPerCluster,
    rootDirSectors,
    rootDirSector: reservedSectors + numFats * fatSize,
    firstDataSector,
    clusterCount,
  };
}

export function clusterSector(g: Geometry, cluster: number): number {
  return g.firstDataSector + (cluster - 2) * g.sectorsPerCluster;
}

export interface PartitionEntry {
  index: number;
  bootable: boolean;
  type: number;
  firstLba: number;
  sectors: number;
}

const FAT_PARTITION_TYPES = new Set([0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e]);

/** Primary MBR entries that hold a FAT type (extended partitions are out of scope). */
export function parseMbr(sec: Buffer): PartitionEntry[] {
  if (sec.length < 512 || sec[510] !== 0x55 || sec[511] !== 0xaa) return [];
  const out: PartitionEntry[] = [];
  for (let i = 0; i < 4; i++) {
    const e = sec.subarray(446 + i * 16, 462 + i * 16);
    const type = e[4]!;
    if (!FAT_PARTITION_TYPES.has(type)) continue;
    out.push({ index: i, bootable: e[0] === 0x80, type, firstLba: e.readUInt32LE(8), sectors: e.readUInt32LE(12) });
  }
  return out;
}
