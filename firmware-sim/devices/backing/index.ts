/** Opening a disk LU's backing store from its lab description. */
import { FileStore } from './file-store.js';
import { MemoryStore } from './memory-store.js';
import type { BlockStore } from './block-store.js';

export type { BlockStore } from './block-store.js';
export { FileStore } from './file-store.js';
export { MemoryStore } from './memory-store.js';

export type BackingSpec = { kind: 'memory'; size: number } | { kind: 'file'; path: string; size: number; readOnly?: boolean };

export async function openBlockStore(spec: BackingSpec): Promise<BlockStore> {
  if (spec.kind === 'memory') return new MemoryStore(spec.size);
  return FileStore.open(spec.path, { size: spec.size, ...(spec.readOnly ? { readOnly: true } : {}) });
}
