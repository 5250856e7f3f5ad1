/** Tape mode parameters (block descriptor, pages 0Fh/10h/11h) and MODE SENSE/SELECT for the drive. */
import type { CommandDef } from '../logical-unit.js';
import type { TapeDrive } from './drive.js';

export class TapeModeState {
  /** Mode block length: 0 = variable-block mode. */
  blockLength = 0;
  /** Density code selected by MODE SELECT; 0 = the medium's own. */
  density = 0;
  bufferedMode = 1;
  softwareWriteProtect = false;
}

export function tapeModeCommands(): CommandDef<TapeDrive>[] {
  return [];
}
