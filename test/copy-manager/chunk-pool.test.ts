import { describe, expect, it } from 'vitest';
import { ByteQueue, ChunkPool } from '../../firmware-sim/copy-manager/engine.js';

describe('ChunkPool: the copy manager recycles a read buffer only when nothing refers to it', () => {
  it('hands out new buffers up to its limit, then reuses unreferenced ones', () => {
    const pool = new ChunkPool(4096, 2);
    const a = pool.take(() => true);
    const b = pool.take(() => true);
    expect(a.length).toBe(4096);
    expect(a.buffer).not.toBe(b.buffer);
    // Both still referenced and the pool full: a buffer of its own, not one of the two.
    const c = pool.take(() => true);
    expect([a.buffer, b.buffer]).not.toContain(c.buffer);
    // Only b is free again.
    const d = pool.take((ab) => ab === a.buffer);
    expect(d.buffer).toBe(b.buffer);
  });

  it('never reuses a buffer still queued as residual data', () => {
    const pool = new ChunkPool(1024, 1);
    const q = new ByteQueue();
    const a = pool.take(() => false);
    q.push(a.subarray(1000));
    const b = pool.take((ab) => q.holds(ab));
    expect(b.buffer).not.toBe(a.buffer);
    q.take(q.length);
    expect(pool.take((ab) => q.holds(ab)).buffer).toBe(a.buffer);
  });

  it('forgets a buffer a cancelled read may still fill', () => {
    const pool = new ChunkPool(512, 1);
    const a = pool.take(() => false);
    pool.forget(a);
    const b = pool.take(() => false);
    expect(b.buffer).not.toBe(a.buffer);
    expect(pool.take(() => false).buffer).toBe(b.buffer);
  });
});
