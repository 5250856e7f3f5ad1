/** The FAT reader's BlockReader over the transport: READ(16) in chunks of at most 1 MiB. */
import type { BlockReader } from '../fs/fat/block-reader.js';
import type { ScsiClient } from './scsi-client.js';

export class TransportBlockReader implements BlockReader {
  constructor(
    private readonly client: ScsiClient,
    private readonly target: string,
    private readonly lun: number,
    readonly blockSize: number,
    readonly blockCount: number,
  ) {}

  async readBlocks(lba: number, count: number): Promise<Buffer> {
    if (lba < 0 || count < 0 || lba + count > this.blockCount) throw new RangeError(`blocks ${lba}+${count} outside the LU`);
    const per = Math.max(1, Math.floor(1048576 / this.blockSize));
    const parts: Buffer[] = [];
    for (let done = 0; done < count; ) {
      const n = Math.min(per, count - done);
      parts.push(await this.client.read(this.target, this.lun, lba + done, n, this.blockSize));
      done += n;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}
