/**
 * Why the operator's request to a library (management API: move, import, export, door) was refused,
 * as a sentence: the changer checks it exactly as it checks MOVE MEDIUM, so the reason arrives as the
 * sense an initiator would get; the operator reads the meaning with the code next to it.
 */
import { hexByte, ScsiError, senseCode } from '../../src/scsi/sense.js';
import { LabChangeError } from './change-error.js';

/** ASC/ASCQ → what it means for the operator (smc.md §2.4's errors of a move). */
const REASONS: Record<string, string> = {
  '53/02': 'medium removal is prevented: an initiator holds PREVENT MEDIUM REMOVAL on the library',
  '53/03': 'the drive prevents medium removal (an initiator holds PREVENT on the drive)',
  '3B/0E': 'the source element is empty',
  '3B/0D': 'the destination element is full',
  '3B/11': 'the import/export station is open',
  '3B/90': 'the cartridge is still loaded in the drive (unload it first)',
  '21/01': 'no such element address',
  '24/00': 'the library does not move cartridges between these element types',
  '04/03': 'the library door is open',
  '53/09': 'the drive failed to load the cartridge (it went back where it came from)',
  '53/0A': 'the drive failed to unload the cartridge',
};

/** Run an operator action on library `name`; a refusal becomes a LabChangeError (409) that says why. */
export async function asOperator<T>(name: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (e) {
    if (e instanceof LabChangeError) throw e;
    if (e instanceof ScsiError) {
      const code = `${hexByte(e.sense.asc, true)}/${hexByte(e.sense.ascq, true)}`;
      throw new LabChangeError(`library ${name}: ${REASONS[code] ?? 'refused'} (sense ${senseCode(e.sense, { wide: true, upper: true })})`, 'conflict');
    }
    // The changer's own operator checks ("no empty import/export element", "not an import/export element").
    if (e instanceof Error && !(e as NodeJS.ErrnoException).code) throw new LabChangeError(`library ${name}: ${e.message}`, 'conflict');
    throw e;
  }
}
