/**
 * Byte-addressed backing store of a disk LU. The disk checks LBA ranges before calling, so stores
 * only guard against programming errors (RangeError). Buffers pass through without copies: `read`
 * returns a fresh buffer the caller owns (it goes straight out as data-in), `write` takes the
 * initiator's data-out buffer as is.
 */
export interface BlockStore {
  /** Capacity in bytes. */
  readonly size: number;
  /** 'file' or 'memory', for the management API. */
  readonly kind: string;
  /** True when the store was created empty (nothing mapped yet): the disk starts fully deallocated. */
  readonly fresh: boolean;
  /**
   * Byte ranges that may hold data, when the store can tell (memory chunks); the disk seeds its
   * provisioning map from them. Stores that cannot tell leave it out and the disk assumes
   * everything is mapped unless `fresh`.
   */
  allocatedRanges?(): Array<{ offset: number; length: number }>;
  /**
   * Side data the disk keeps with its image across restarts (provisioning and change maps): read
   * and removed at open (so a crash leaves none rather than a stale one), written at clean close.
   */
  takeMeta?(): Buffer | undefined;
  putMeta?(data: Buffer): Promise<void>;
  read(offset: number, length: number): Promise<Buffer>;
  /** Read into `target` (its whole length) at `offset`; lets callers reuse buffers. */
  readInto(target: Buffer, offset: number): Promise<void>;
  write(offset: number, data: Buffer): Promise<void>;
  /** Make every completed write durable (fsync for files). */
  flush(): Promise<void>;
  /** Deallocate: reads of the range return zeros afterwards. */
  discard(offset: number, length: number): Promise<void>;
  close(): Promise<void>;
}

export function checkRange(store: { size: number }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > store.size) {
    throw new RangeError(`range ${offset}+${length} outside store of ${store.size} bytes`);
  }
}

/** A shared zero buffer for discards and zero fills; never written to. */
export const ZEROES = Buffer.alloc(1 << 20);
