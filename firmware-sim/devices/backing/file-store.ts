/**
 * Sparse raw image file: byte N of the LU is byte N of the file. Created with ftruncate so
 * untouched areas stay holes; positional reads and writes on one FileHandle; flush = fdatasync.
 * Node has no hole punching: `discard` of a megabyte or more asks util-linux `fallocate
 * --punch-hole` to give the range back to the file system (a few ms, and the image stays sparse);
 * smaller ranges, or file systems that cannot punch holes, get zeros written. Either way the range
 * reads as zeros afterwards. The disk only discards what its provisioning map says was mapped.
 *
 * Transfers up to `syncIoMax` bytes use pread/pwrite directly on the event loop thread: against
 * the page cache (tmpfs, a warm image) that is a memcpy, several times faster than a trip through
 * libuv's thread pool (measured ~100k vs ~15k 4 KiB ops/s on the 2-core CI box). Larger transfers
 * and fdatasync go through the pool so a cold, slow disk cannot stall the process for long.
 * Re-measured with bench:iscsi at QD32 (tmpfs image): sending 128 KiB transfers through the pool
 * (syncIoMax 64 KiB) doubled dmsim's CPU per command (seq read 85 -> 167 µs) and did not raise
 * its throughput against tgtd, so 256 KiB stays. An inline transfer that turns out slow sends the
 * next ones to the pool for a while (inline-io.ts).
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { open, rename, stat, mkdir, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { checkRange, ZEROES, type BlockStore } from './block-store.js';
import { InlineIo } from './inline-io.js';

export interface FileStoreOptions {
  /** Capacity in bytes; the file is extended (sparsely) when shorter. Default: the file's size. */
  size?: number;
  /** Create the file when missing (default true). */
  create?: boolean;
  readOnly?: boolean;
  /** Largest transfer done synchronously (default 256 KiB; 0 = always through the thread pool). */
  syncIoMax?: number;
}

const INLINE_IO_MAX = 256 << 10;
/** Discards at least this large try hole punching first. */
const PUNCH_MIN = 1 << 20;

function punchHole(path: string, offset: number, length: number): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('fallocate', ['--punch-hole', '--offset', String(offset), '--length', String(length), path], (err) => resolve(!err));
  });
}

export class FileStore implements BlockStore {
  readonly kind = 'file';
  private closed = false;
  /** Set once hole punching failed here (no fallocate, or the file system refuses): zeros from then on. */
  private punchUnsupported = false;
  /** Holes punched so far (for the management API and tests). */
  punchedBytes = 0;

  private readonly io: InlineIo;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly size: number,
    readonly fresh: boolean,
    syncIoMax: number,
  ) {
    this.io = new InlineIo(syncIoMax);
  }

  static async open(path: string, opts: FileStoreOptions = {}): Promise<FileStore> {
    const create = opts.create ?? true;
    let existing: Awaited<ReturnType<typeof stat>> | undefined;
    try {
      existing = await stat(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !create) throw e;
    }
    if (!existing) await mkdir(dirname(path), { recursive: true });
    const fh = await open(path, opts.readOnly ? 'r' : existing ? 'r+' : 'w+');
    try {
      const size = opts.size ?? Number(existing?.size ?? 0);
      if (!opts.readOnly && Number(existing?.size ?? 0) < size) await fh.truncate(size);
      // A file with no allocated blocks holds only holes: nothing was ever written.
      const fresh = !existing || Number(existing.blocks) === 0;
      return new FileStore(path, fh, size, fresh, opts.syncIoMax ?? INLINE_IO_MAX);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const b = Buffer.allocUnsafe(length);
    await this.readInto(b, offset);
    return b;
  }

  async readInto(target: Buffer, offset: number): Promise<void> {
    checkRange(this, offset, target.length);
    const n = await this.io.read(this.fh, target, offset);
    // Past the file's end (an image shorter than its configured size): holes read as zeros.
    if (n < target.length) target.fill(0, n);
  }

  async write(offset: number, data: Buffer): Promise<void> {
    checkRange(this, offset, data.length);
    await this.io.write(this.fh, data, offset);
  }

  async flush(): Promise<void> {
    if (!this.closed) await this.fh.datasync();
  }

  async discard(offset: number, length: number): Promise<void> {
    checkRange(this, offset, length);
    if (length >= PUNCH_MIN && !this.punchUnsupported) {
      if (await punchHole(this.path, offset, length)) {
        this.punchedBytes += length;
        return;
      }
      this.punchUnsupported = true;
    }
    let p = offset;
    const end = offset + length;
    while (p < end) {
      const n = Math.min(ZEROES.length, end - p);
      await this.write(p, n === ZEROES.length ? ZEROES : ZEROES.subarray(0, n));
      p += n;
    }
  }

  /** Side file next to the image holding the disk's maps between clean runs. */
  get metaPath(): string {
    return `${this.path}.dmsim-meta`;
  }

  takeMeta(): Buffer | undefined {
    let b: Buffer;
    try {
      b = readFileSync(this.metaPath);
    } catch {
      return undefined;
    }
    rmSync(this.metaPath, { force: true });
    return b;
  }

  async putMeta(data: Buffer): Promise<void> {
    const tmp = `${this.metaPath}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, this.metaPath);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}
