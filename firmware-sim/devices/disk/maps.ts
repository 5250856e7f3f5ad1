/**
 * The disk's two block maps at start-up and across clean restarts: what is mapped (thin
 * provisioning) and what changed since the last backup epoch. Saved beside the image at close,
 * taken (and so removed) at open, so a crash leaves no stale maps behind.
 */
import type { BlockStore } from '../backing/block-store.js';
import { BlockBitmap } from './block-bitmap.js';

export interface SavedMaps {
  version: 1;
  blockSize: number;
  blocks: number;
  mapped: Array<[number, number]>;
  changed: Array<[number, number]>;
}

/** The maps saved at the last clean close, if they exist and fit this LU; anything odd is ignored. */
export function loadMaps(store: BlockStore, bs: number, blocks: number): { mapped: BlockBitmap; changed: BlockBitmap } | undefined {
  const raw = store.takeMeta?.();
  if (!raw) return undefined;
  try {
    const m = JSON.parse(raw.toString('utf8')) as Partial<SavedMaps>;
    if (m.version !== 1 || m.blockSize !== bs || m.blocks !== blocks || !Array.isArray(m.mapped) || !Array.isArray(m.changed)) return undefined;
    const build = (xs: unknown[]) => {
      const b = new BlockBitmap(blocks);
      for (const x of xs) {
        if (!Array.isArray(x) || !Number.isSafeInteger(x[0]) || !Number.isSafeInteger(x[1]) || x[0] < 0 || x[1] < 0 || x[0] + x[1] > blocks) throw new RangeError('bad extent');
        b.set(x[0] as number, x[1] as number);
      }
      return b;
    };
    return { mapped: build(m.mapped), changed: build(m.changed) };
  } catch {
    return undefined;
  }
}

/** What is mapped when the LU starts: what the store knows it holds, else all or nothing. */
export function initialMap(store: BlockStore, bs: number, blocks: number): BlockBitmap {
  if (store.allocatedRanges) {
    const m = new BlockBitmap(blocks);
    for (const r of store.allocatedRanges()) m.set(Math.floor(r.offset / bs), Math.ceil((r.offset + r.length) / bs) - Math.floor(r.offset / bs));
    return m;
  }
  return store.fresh ? new BlockBitmap(blocks) : BlockBitmap.full(blocks);
}


export function saveMaps(mapped: BlockBitmap, changed: BlockBitmap, blockSize: number, blocks: number): Buffer {
  const m: SavedMaps = {
    version: 1,
    blockSize,
    blocks,
    mapped: [...mapped.extents()].map((e) => [e.lba, e.count]),
    changed: [...changed.extents()].map((e) => [e.lba, e.count]),
  };
  return Buffer.from(JSON.stringify(m));
}
