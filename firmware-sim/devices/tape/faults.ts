/**
 * Tape-only fault hooks, beside the shared per-LU FaultPlan (devices/faults.ts: medium errors,
 * not-ready window, latency, throughput cap), which the drive uses for everything they have in
 * common with a disk. On a tape the plan's "LBA" is the logical object number.
 */

export interface TapeFaults {
  /** Override the early-warning point, as an image offset. */
  earlyWarningAt?: number;
  /** Override the physical end of partition (capacity), as an image offset. */
  endOfMediumAt?: number;
  /** The next medium-access command loses the position (3/3B/00, READ POSITION LOLU) until REWIND/LOCATE/LOAD. */
  losePosition?: boolean;
  /** The cartridge memory fails: READ ATTRIBUTE 3/11/12, WRITE ATTRIBUTE 3/0C/0B, TapeAlert 0Fh. */
  mamFailure?: boolean;
}
