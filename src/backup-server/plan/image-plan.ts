/**
 * Image planners: the LU (full), its allocated part (sparse: FAT metadata + used clusters,
 * free and bad clusters left as holes) or its changed blocks (incremental/differential) as one
 * raw stream. The stream-order LBA runs go into the backup header so restore knows where every
 * byte belongs and which blocks are holes.
 */
import type { Region } from '../../fs/fat/volume.js';
import type { StreamPiece } from './compile.js';

export type Run = [lba: number, blocks: number];

export function fullRuns(blocks: number): Run[] {
  return blocks > 0 ? [[0, blocks]] : [];
}

export function sparseRuns(regions: Region[]): Run[] {
  return mergeRuns(regions.filter((r) => r.kind === 'metadata' || r.kind === 'data').map((r) => [r.lba, r.blocks] as Run));
}

/** Runs of set bits in a change bitmap (bit n = LBA n, LSB first in each byte). */
export function bitmapRuns(bitmap: Uint8Array, blocks: number): Run[] {
  const out: Run[] = [];
  let start = -1;
  for (let b = 0; b <= blocks; b++) {
    const set = b < blocks && (bitmap[b >> 3]! >> (b & 7)) & 1;
    if (set && start < 0) start = b;
    if (!set && start >= 0) {
      out.push([start, b - start]);
      start = -1;
    }
  }
  return out;
}

export function mergeRuns(runs: Run[]): Run[] {
  const sorted = [...runs].sort((a, b) => a[0] - b[0]);
  const out: Run[] = [];
  for (const [l, n] of sorted) {
    const last = out[out.length - 1];
    if (last && last[0] + last[1] >= l) last[1] = Math.max(last[1], l + n - last[0]);
    else out.push([l, n]);
  }
  return out;
}

export function runPieces(runs: Run[], blockSize: number): StreamPiece[] {
  return runs.map(([lba, n]) => ({ kind: 'disk', offset: lba * blockSize, length: n * blockSize }));
}

export const runBlocks = (runs: Run[]) => runs.reduce((s, r) => s + r[1], 0);

export function bitmapRunsFromExtents(extents: Array<{ lba: number; count: number }>): Run[] {
  return mergeRuns(extents.map((e) => [e.lba, e.count] as Run));
}
