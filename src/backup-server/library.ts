/**
 * The backup server's side of a tape library (SMC-3 media changer): find a cartridge by barcode
 * or media pool in READ ELEMENT STATUS, pick a free drive, MOVE MEDIUM it in, and after the job
 * unload the drive and MOVE it back to the slot it came from. The drive is then used exactly as a
 * `--tape DRIVE` drive is (tape-handling.ts); a drive without a library needs none of this.
 *
 * Drives are matched to their LUs as NetBackup and Proxmox do: the DT descriptor's LU VALID/LUN
 * when the drive sits on the changer's target, else the DVCID serial against each tape LU's VPD 80h.
 */
import { inquiryRequest, VpdPage } from '../scsi/inquiry.js';
import * as S from '../scsi/smc.js';
import { encodeLoadUnload } from '../scsi/tape.js';
import type { ScsiClient } from './scsi-client.js';
import type { TapeRef } from './tape-handling.js';

export interface LibraryRef {
  target: string;
  lun: number;
}

/** Which cartridge to mount: an exact barcode, or the first cartridge of a pool (barcode prefix) not excluded. */
export interface CartridgeChoice {
  barcode?: string;
  pool?: string;
  exclude?: readonly string[];
}

export interface Mounted {
  barcode: string;
  /** Storage element the cartridge came from, where dismount puts it back. */
  home: number;
  /** Data transfer element address of the drive. */
  driveElement: number;
  drive: TapeRef;
}

export interface LibraryView {
  slots: Array<{ address: number; barcode?: string }>;
  drives: Array<{ address: number; barcode?: string; source?: number; lun?: number; serial?: string }>;
}

export class LibraryClient {
  constructor(
    private readonly client: ScsiClient,
    readonly library: LibraryRef,
  ) {}

  /** Storage and drive elements with their tags (VOLTAG) and drive identifiers (DVCID). */
  async status(): Promise<LibraryView> {
    const ask = async (elementType: number, dvcid: boolean) => {
      const req = S.readElementStatusRequest({ elementType, voltag: true, dvcid, allocationLength: 65535 });
      return S.decodeElementStatus(await this.client.request('READ ELEMENT STATUS', this.library.target, this.library.lun, req)).pages.flatMap((p) => p.descriptors);
    };
    const tag = (d: S.ElementDescriptor) => (d.full && d.volumeTag ? d.volumeTag.trim() : undefined);
    const slots = (await ask(S.ElementType.STORAGE, false)).map((d) => ({ address: d.address, ...(tag(d) ? { barcode: tag(d)! } : {}) }));
    const drives = (await ask(S.ElementType.DATA_TRANSFER, true)).map((d) => ({
      address: d.address,
      ...(tag(d) ? { barcode: tag(d)! } : {}),
      ...(d.svalid && d.source !== undefined ? { source: d.source } : {}),
      ...(d.luValid && d.lun !== undefined ? { lun: d.lun } : {}),
      // Type-1 identifier: vendor (8) + product (16) + serial (10), smc.md §1.6.
      ...(d.deviceId ? { serial: d.deviceId.identifier.subarray(24).toString('ascii').trim() } : {}),
    }));
    return { slots, drives };
  }

  private async lunOfSerial(serial: string): Promise<number | undefined> {
    for (const lun of await this.client.reportLuns(this.library.target)) {
      if (lun === this.library.lun) continue;
      try {
        const page = await this.client.request('INQUIRY VPD 80h', this.library.target, lun, inquiryRequest({ evpd: true, pageCode: VpdPage.UNIT_SERIAL, allocationLength: 255 }));
        if (page.length >= 4 && page[1] === 0x80 && page.toString('ascii', 4, 4 + page.readUInt16BE(2)).trim() === serial) return lun;
      } catch {
        // an LU without VPD 80h is not the drive
      }
    }
    return undefined;
  }

  /** Move the chosen cartridge into the first empty drive; GOOD from the library means the drive has threaded it. */
  async mount(choice: CartridgeChoice): Promise<Mounted> {
    const view = await this.status();
    const wanted = (b: string | undefined) => !!b && (choice.barcode ? b === choice.barcode : choice.pool !== undefined && b.startsWith(choice.pool) && !choice.exclude?.includes(b));
    const slot = view.slots.find((s) => wanted(s.barcode));
    if (!slot) {
      const inDrive = view.drives.find((d) => wanted(d.barcode));
      if (inDrive) throw new Error(`cartridge ${inDrive.barcode} is already in drive element ${inDrive.address}`);
      throw new Error(choice.barcode ? `no cartridge ${choice.barcode} in the library's slots` : `no cartridge of pool "${choice.pool}" left in the library's slots`);
    }
    const free = view.drives.find((d) => !d.barcode);
    if (!free) throw new Error('no empty drive in the library');
    const lun = free.lun ?? (free.serial ? await this.lunOfSerial(free.serial) : undefined);
    if (lun === undefined) throw new Error(`drive element ${free.address}: no LU on ${this.library.target} matches its identifier`);
    await this.client.exec('MOVE MEDIUM', this.library.target, this.library.lun, S.encodeMoveMedium({ source: slot.address, destination: free.address }));
    return { barcode: slot.barcode!, home: slot.address, driveElement: free.address, drive: { target: this.library.target, lun } };
  }

  /**
   * Rewind and unthread the drive (LOAD UNLOAD with HOLD=1: the cartridge stays in the drive's
   * throat for the picker, as a library drive's eject does), then move it back to its slot.
   */
  async dismount(m: Mounted): Promise<void> {
    await this.client.exec('UNLOAD', m.drive.target, m.drive.lun, encodeLoadUnload({ immed: false, hold: true, eot: false, reten: false, load: false }));
    await this.client.exec('MOVE MEDIUM', this.library.target, this.library.lun, S.encodeMoveMedium({ source: m.driveElement, destination: m.home }));
  }
}
