/**
 * The NDMP `tar` backup image (ndmp.md §5.2, §5.3): a FAT volume (or a directory of it) as the
 * ustar stream the backup planner builds (fat.md §11), with file history entries whose fh_info
 * is the stream offset of each member's first header block; and the streaming reader that
 * rebuilds the same history from an image (START_RECOVER_FILEHIST) or extracts members.
 */
import type { FatEntry } from '../fs/fat/volume.js';
import { headerFields, headerKind, padTo512, parsePax, TAR_BLOCK } from '../fs/tar.js';
import { planTar } from '../backup-server/plan/tar-plan.js';
import type { StreamPiece } from '../backup-server/plan/compile.js';
import { FileStatUns, FileType, FsType } from './constants.js';
import type { FileStat } from './messages.js';

export interface HistoryEntry {
  /** "/" + path relative to FILESYSTEM; the root is "/". */
  name: string;
  stat: FileStat;
  node: bigint;
  fhInfo: bigint;
}

export function statOf(isDir: boolean, mode: number, mtime: number, size: number): FileStat {
  return {
    unsupported: FileStatUns.ATIME | FileStatUns.CTIME,
    fs_type: FsType.UNIX,
    ftype: isDir ? FileType.DIR : FileType.REG,
    mtime: mtime >>> 0,
    atime: 0xffffffff,
    ctime: 0xffffffff,
    owner: 0,
    group: 0,
    fattr: mode & 0o7777,
    size: BigInt(isDir ? 0 : size),
    links: 1,
  };
}

export const rootEntry = (): HistoryEntry => ({ name: '/', stat: statOf(true, 0o755, 0, 0), node: 1n, fhInfo: 0n });

export interface ImagePlan {
  pieces: StreamPiece[];
  history: HistoryEntry[];
  files: number;
  bytes: number;
}

/** Entries below `sub` (a relative directory, '' for the whole volume), re-rooted there. */
export function planImage(entries: FatEntry[], sub: string): ImagePlan {
  const chosen = sub ? entries.filter((e) => e.path.startsWith(`${sub}/`)).map((e) => ({ ...e, path: e.path.slice(sub.length + 1) })) : entries;
  const plan = planTar(chosen);
  const history: HistoryEntry[] = [rootEntry()];
  let node = 2n;
  for (const m of plan.members) {
    if (m.skipped) continue;
    const e = m.entry;
    const mode = e.isDirectory ? (e.attributes & 1 ? 0o555 : 0o755) : e.attributes & 1 ? 0o444 : 0o644;
    history.push({ name: `/${e.path}`, stat: statOf(e.isDirectory, mode, e.mtime, e.size), node: node++, fhInfo: BigInt(m.headerOffset) });
  }
  return { pieces: plan.pieces, history, files: history.length - 1, bytes: plan.archiveBytes };
}

export interface StreamMember {
  path: string;
  isDir: boolean;
  size: number;
  mode: number;
  mtime: number;
  headerOffset: number;
}

/**
 * Walks a tar stream from a byte source: calls `onMember` for each member with a reader for its
 * body (which the callback may consume or ignore). Stops at end-of-archive or end of stream.
 */
export async function readTarStream(
  take: (n: number) => Promise<Buffer>,
  onMember: (m: StreamMember, body: (n: number) => Promise<Buffer>) => Promise<void>,
): Promise<{ members: number; bytes: number }> {
  let off = 0;
  let members = 0;
  let pending: Record<string, string> | undefined;
  let pendingStart = -1;
  for (;;) {
    const h = await take(TAR_BLOCK);
    if (h.length < TAR_BLOCK) break;
    const start = off;
    off += TAR_BLOCK;
    if (h.every((b) => b === 0)) break;
    const { typeflag, size: rawSize } = headerKind(h, start);
    if (typeflag === 'x' || typeflag === 'g') {
      const body = await take(padTo512(rawSize));
      off += body.length;
      if (typeflag === 'x') {
        pending = parsePax(body.subarray(0, rawSize));
        pendingStart = start;
      }
      continue;
    }
    const f = headerFields(h, pending);
    const isDir = typeflag === '5';
    const size = isDir ? 0 : f.size;
    const m: StreamMember = { path: f.path.replace(/\/$/, ''), isDir, size, mode: f.mode, mtime: f.mtime, headerOffset: pendingStart >= 0 ? pendingStart : start };
    pending = undefined;
    pendingStart = -1;
    members++;
    let left = padTo512(size);
    let dataLeft = size;
    const body = async (n: number): Promise<Buffer> => {
      const want = Math.min(n, dataLeft);
      if (want <= 0) return Buffer.alloc(0);
      const b = await take(want);
      left -= b.length;
      dataLeft -= b.length;
      off += b.length;
      return b;
    };
    await onMember(m, body);
    while (left > 0) {
      const b = await take(Math.min(left, 1 << 20));
      if (!b.length) return { members, bytes: off };
      left -= b.length;
      off += b.length;
    }
  }
  return { members, bytes: off };
}
