/**
 * A snapshot LU's fault plan: besides what the management API may arm, an invalid snapshot is not
 * ready for medium access — NOT READY 04/03 LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED
 * (snapshot.md §4.5): a standard code saying the LU will not become usable by itself. The disk
 * checks `armed` on every medium access, so marking the snapshot invalid arms the plan.
 */
import { Sense } from '../../../src/scsi/sense.js';
import { FaultPlan } from '../faults.js';

export class SnapshotFaults extends FaultPlan {
  private invalid = false;
  private plain = false;

  constructor() {
    super();
    // The base class keeps `armed` as a plain field (set by its rearm()); keep its value apart and
    // answer true while the snapshot is invalid.
    Object.defineProperty(this, 'armed', {
      get: () => this.invalid || this.plain,
      set: (v: boolean) => (this.plain = v),
      configurable: true,
      enumerable: true,
    });
  }

  markInvalid(): void {
    this.invalid = true;
  }

  override checkReady(): void {
    if (this.invalid) throw Sense.notReady(0x03);
    super.checkReady();
  }
}
