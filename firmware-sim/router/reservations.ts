/**
 * SPC-2 reservations and SPC-4 persistent reservations (in progress).
 */
import type { CommandDef } from '../devices/logical-unit.js';

export function reservationCommands(): CommandDef[] {
  return [];
}
