import { describe, expect, it } from 'vitest';
import { FaultPlan } from '../../firmware-sim/devices/faults.js';
import { ScsiError } from '../../src/scsi/sense.js';

describe('fault plan', () => {
  it('is disarmed when empty and armed by any fault', () => {
    const f = new FaultPlan();
    expect(f.armed).toBe(false);
    f.setLatency(1);
    expect(f.armed).toBe(true);
    f.clear();
    expect(f.armed).toBe(false);
  });

  it('finds the first faulty LBA in a range per direction; once-faults disarm', () => {
    const f = new FaultPlan();
    f.addMediumError({ firstLba: 100, count: 10, on: 'read' });
    f.addMediumError({ firstLba: 50, count: 1, on: 'write', once: true });
    expect(f.mediumErrorIn('read', 90, 20)).toBe(100);
    expect(f.mediumErrorIn('read', 105, 100)).toBe(105);
    expect(f.mediumErrorIn('read', 110, 5)).toBeUndefined();
    expect(f.mediumErrorIn('write', 100, 5)).toBeUndefined();
    expect(f.mediumErrorIn('write', 0, 100)).toBe(50);
    expect(f.mediumErrorIn('write', 0, 100)).toBeUndefined();
    const e = FaultPlan.mediumError('read', 100);
    expect(e.sense).toMatchObject({ key: 3, asc: 0x11, ascq: 0, information: 100 });
    expect(() => f.addMediumError({ firstLba: -1, count: 1, on: 'both' })).toThrow(RangeError);
  });

  it('reports NOT READY 04/01 during the window and ready after', async () => {
    const f = new FaultPlan();
    f.notReadyFor(30);
    let s: unknown;
    try {
      f.checkReady();
    } catch (e) {
      s = e;
    }
    expect(s).toBeInstanceOf(ScsiError);
    expect((s as ScsiError).sense).toMatchObject({ key: 2, asc: 4, ascq: 1 });
    await new Promise((r) => setTimeout(r, 40));
    expect(() => f.checkReady()).not.toThrow();
    expect(f.armed).toBe(false);
  });

  it('paces transfers to the throughput cap and adds latency', async () => {
    const f = new FaultPlan();
    f.setThroughput(1_000_000);
    const t0 = performance.now();
    await f.pace(50_000);
    await f.pace(50_000);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
    f.setThroughput(0);
    f.setLatency(20);
    const t1 = performance.now();
    await f.pace(1);
    expect(performance.now() - t1).toBeGreaterThanOrEqual(18);
  });

  it('an aborted pacing wait rejects', async () => {
    const f = new FaultPlan();
    f.setLatency(10_000);
    const ac = new AbortController();
    const p = f.pace(0, ac.signal);
    ac.abort(new Error('abort'));
    await expect(p).rejects.toThrow('abort');
  });
});
