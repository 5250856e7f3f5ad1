/**
 * File-level planner: a FAT volume walk becomes a tar stream whose headers are inline data and
 * whose bodies are the files' own disk extents. On tape each body occupies roundUp(size, 512)
 * bytes, so the last extent is rounded up to the sector (the slack is disk bytes GNU tar never
 * looks at); clusters are whole sectors, so the rounded range stays inside the file's cluster.
 */
import type { FatEntry } from '../../fs/fat/volume.js';
import { buildHeader, endOfArchive, padTo512 } from '../../fs/tar.js';
import type { StreamPiece } from './compile.js';

export interface PlannedMember {
  entry: FatEntry;
  headerOffset: number;
  dataOffset: number;
  /** Skipped entries (corrupt chains) are not in the stream. */
  skipped: boolean;
}

export interface TarPlan {
  pieces: StreamPiece[];
  members: PlannedMember[];
  /** Archive bytes before record padding. */
  archiveBytes: number;
}

export function planTar(entries: FatEntry[]): TarPlan {
  const pieces: StreamPiece[] = [];
  const members: PlannedMember[] = [];
  let off = 0;
  for (const e of entries) {
    if (e.problem && !e.isDirectory) {
      members.push({ entry: e, headerOffset: -1, dataOffset: -1, skipped: true });
      continue;
    }
    const mode = e.isDirectory ? (e.attributes & 1 ? 0o555 : 0o755) : e.attributes & 1 ? 0o444 : 0o644;
    const header = buildHeader({ path: e.path, type: e.isDirectory ? 'directory' : 'file', size: e.size, mtime: e.mtime, mode });
    pieces.push({ kind: 'inline', data: header });
    const headerOffset = off;
    off += header.length;
    members.push({ entry: e, headerOffset, dataOffset: off, skipped: false });
    if (e.isDirectory || e.size === 0) continue;
    let remaining = padTo512(e.size);
    for (const x of e.extents) {
      const len = Math.min(remaining, padTo512(x.length));
      pieces.push({ kind: 'disk', offset: x.offset, length: len });
      remaining -= len;
    }
    off += padTo512(e.size);
  }
  const eoa = endOfArchive();
  pieces.push({ kind: 'inline', data: eoa });
  off += eoa.length;
  return { pieces, members, archiveBytes: off };
}
