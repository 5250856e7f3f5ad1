/**
 * What the FAT reader needs from a disk: whole logical blocks by LBA. The backup server wraps a
 * SCSI transport in it (READ(16) over the fabric); tests wrap a file or a Buffer.
 */
import { open } from 'node:fs/promises';

export interface BlockReader {
  readonly blockSize: number;
  readonly blockCount: number;
  readBlocks(lba: number, count: number): Promise<Buffer>;
}

export class BufferBlockReader implements BlockReader {
  readonly blockCount: number;
  constructor(
    private readonly image: Buffer,
    readonly blockSize = 512,
  ) {
    this.blockCount = Math.floor(image.length / blockSize);
  }
  async readBlocks(lba: number, count: number): Promise<Buffer> {
    if (lba < 0 || count < 0 || lba + count > this.blockCount) throw new RangeError(`blocks ${lba}+${count} outside the image`);
    return Buffer.from(this.image.subarray(lba * this.blockSize, (lba + count) * this.blockSize));
  }
}

/** Reads an image file directly (tests, `dmsim inspect`-style tools on a disk image). */
export async function fileBlockReader(path: string, blockSize = 512): Promise<BlockReader & { close(): Promise<void> }> {
  const fh = await open(path, 'r');
  const { size } = await fh.stat();
  const blockCount = Math.floor(size / blockSize);
  return {
    blockSize,
    blockCount,
    async readBlocks(lba, count) {
      if (lba < 0 || count < 0 || lba + count > blockCount) throw new RangeError(`blocks ${lba}+${count} outside the image`);
      const buf = Buffer.alloc(count * blockSize);
      await fh.read(buf, 0, buf.length, lba * blockSize);
      return buf;
    },
    close: () => fh.close(),
  };
}

/** Byte-addressed reads on top of a block reader (FAT structures are not block aligned on 4Kn LUs). */
export async function readBytes(reader: BlockReader, byteOffset: number, length: number): Promise<Buffer> {
  if (length === 0) return Buffer.alloc(0);
  const bs = reader.blockSize;
  const first = Math.floor(byteOffset / bs);
  const last = Math.floor((byteOffset + length - 1) / bs);
  const blocks = await reader.readBlocks(first, last - first + 1);
  const start = byteOffset - first * bs;
  return blocks.subarray(start, start + length);
}
