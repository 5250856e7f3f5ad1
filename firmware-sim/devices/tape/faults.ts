/**
 * Tape-specific fault hooks (kept beside the drive: the shared devices/faults.ts did not exist when
 * this was written). Tests and the lab flip these on a live drive; the drive consults them on every
 * command, so a fault takes effect on the next command.
 */

export interface TapeFaults {
  /** Object numbers whose READ answers 3/11/00 UNRECOVERED READ ERROR (image untouched). */
  mediumErrorAt: Set<number>;
  /** Medium-access commands answer 2/04/01 BECOMING READY until this Date.now() value. */
  notReadyUntil?: number;
  /** Override the early-warning point, as an image offset. */
  earlyWarningAt?: number;
  /** Override the physical end of partition (capacity), as an image offset. */
  endOfMediumAt?: number;
  /** Emulate a drive's streaming speed: bytes per second through READ/WRITE; undefined = unlimited. */
  throughputBytesPerSec?: number;
  /** The next medium-access command loses the position (3/3B/00, READ POSITION LOLU) until REWIND/LOCATE/LOAD. */
  losePosition?: boolean;
}

export function noFaults(): TapeFaults {
  return { mediumErrorAt: new Set() };
}

/** A token-bucket-free pacing clock: each transfer is scheduled after the previous one ends. */
export class ThroughputPacer {
  private nextFree = 0;

  async pace(bytes: number, bytesPerSec: number | undefined): Promise<void> {
    if (!bytesPerSec || bytesPerSec <= 0) return;
    const now = performance.now();
    const start = Math.max(now, this.nextFree);
    this.nextFree = start + (bytes / bytesPerSec) * 1000;
    const wait = this.nextFree - now;
    if (wait >= 1) await new Promise((r) => setTimeout(r, wait));
  }
}
