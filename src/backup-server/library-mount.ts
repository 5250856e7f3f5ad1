/**
 * `dmsim backup/restore/verify` with a tape library: when the backup server sees a media changer
 * (INQUIRY peripheral device type 08h on some LU) and no `--tape` drive is named, the cartridge is
 * brought to a drive by the robot, as a backup application does, instead of being expected there.
 *
 * Per job: RESERVE(6) the changer, PREVENT MEDIUM REMOVAL (the operator's door stays shut while
 * the robot works for us), READ ELEMENT STATUS with VOLTAG/DVCID, MOVE MEDIUM slot → the first
 * empty drive, ALLOW, RELEASE(6). The drive then settles (TEST UNIT READY consumes 6/28/00, waits
 * out 2/04/01) in openTape. Afterwards the same bracket around UNLOAD and MOVE MEDIUM back home.
 *
 * Scratch rule for a backup without `--barcode`: the cartridge in the lowest-addressed storage slot
 * whose barcode the catalog holds no backup on (a blank or recycled volume); `--pool PREFIX`
 * narrows that to barcodes starting with PREFIX.
 */
import type { Catalog } from './catalog.js';
import type { DiscoveredLu } from './discovery.js';
import { LibraryClient, type CartridgeChoice, type Mounted } from './library.js';
import type { Session } from './session.js';
import { encodePreventAllowCdb } from '../scsi/sbc.js';
import { settle } from './tape-handling.js';

export const CHANGER_DEVICE_TYPE = 0x08;

export function findChanger(session: Session): DiscoveredLu | undefined {
  return session.discovery.lus.find((l) => l.deviceType === CHANGER_DEVICE_TYPE);
}

export interface LibraryMount {
  barcode: string;
  drive: DiscoveredLu;
  /** Unload the drive and move the cartridge back to the slot it came from. */
  release(): Promise<void>;
}

/** The scratch choice: no catalog backup on the barcode, optionally within a barcode prefix. */
export function scratchChoice(catalog: Catalog, pool?: string): CartridgeChoice {
  return { pool: pool ?? '', exclude: [...new Set(catalog.backups().map((b) => b.barcode))] };
}

export async function mountFromLibrary(session: Session, changer: DiscoveredLu, choice: CartridgeChoice): Promise<LibraryMount> {
  const client = session.client;
  const ref = { target: changer.target, lun: changer.lun };
  const lib = new LibraryClient(client, ref);
  // Any unit attention the changer queued for us (power on, inventory changed) is consumed first.
  await settle(client, ref);
  const bracket = async <T>(fn: () => Promise<T>): Promise<T> => {
    await client.exec('RESERVE(6)', ref.target, ref.lun, Buffer.from([0x16, 0, 0, 0, 0, 0]));
    try {
      await client.exec('PREVENT MEDIUM REMOVAL', ref.target, ref.lun, encodePreventAllowCdb(1));
      try {
        return await fn();
      } finally {
        await client.exec('ALLOW MEDIUM REMOVAL', ref.target, ref.lun, encodePreventAllowCdb(0));
      }
    } finally {
      await client.exec('RELEASE(6)', ref.target, ref.lun, Buffer.from([0x17, 0, 0, 0, 0, 0]));
    }
  };
  const m: Mounted = await bracket(() => lib.mount(choice));
  const drive = session.discovery.lus.find((l) => l.target === m.drive.target && l.lun === m.drive.lun);
  if (!drive) {
    await bracket(() => lib.dismount(m));
    throw new Error(`drive element ${m.driveElement} is LUN ${m.drive.lun} of ${m.drive.target}, which discovery did not list`);
  }
  return { barcode: m.barcode, drive, release: () => bracket(() => lib.dismount(m)) };
}
