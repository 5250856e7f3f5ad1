/**
 * Commands every LU type answers the same way (INQUIRY + VPD, REQUEST SENSE, REPORT SUPPORTED
 * OPERATION CODES, RESERVE/RELEASE(6/10), PERSISTENT RESERVE IN/OUT). Device tables spread
 * `commonCommands()` into their own table. (Owner: router/reservations work; stub until it lands.)
 */
import type { CommandTable } from './logical-unit.js';

export function commonCommands(): CommandTable {
  return [];
}
