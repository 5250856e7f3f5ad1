/**
 * PREVENT ALLOW MEDIUM REMOVAL state of one LU (SPC-4 §6.13): held per I_T nexus, any holder blocks
 * removal; a reset or power on ends every hold, a lost nexus ends its own. Disk, tape drive and media
 * changer keep the same state and answer the CDB the same way, so it lives here once.
 */
import { decodePreventAllowCdb } from '../../src/scsi/sbc.js';
import { Sense } from '../../src/scsi/sense.js';
import type { ITNexus } from '../router/task.js';

export class RemovalPrevention {
  private readonly holders = new Set<string>();

  /** Any nexus holds PREVENT. */
  get held(): boolean {
    return this.holders.size > 0;
  }

  set(nexus: ITNexus, on: boolean): void {
    if (on) this.holders.add(nexus.key);
    else this.holders.delete(nexus.key);
  }

  /**
   * Apply a PREVENT ALLOW MEDIUM REMOVAL CDB for its nexus. PREVENT 10b/11b (obsolete for disks,
   * medium-changer-only in SSC/SMC's older forms) are refused as 05/24/00 on byte 4 bit 1.
   */
  apply(cdb: Buffer, nexus: ITNexus): void {
    const { prevent } = decodePreventAllowCdb(cdb);
    if (prevent > 1) throw Sense.invalidFieldInCdb(4, 1);
    this.set(nexus, prevent === 1);
  }

  nexusLost(nexus: ITNexus): void {
    this.holders.delete(nexus.key);
  }

  clear(): void {
    this.holders.clear();
  }
}
