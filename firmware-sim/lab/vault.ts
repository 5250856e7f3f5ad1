/**
 * The cartridges of a lab and where each one is: on a vault shelf or in a drive. Images are created
 * on first use (blank SIMH .tap + sidecar) and reopened afterwards, so what was written survives a
 * restart. Cartridges move only through here (lab start, management API) or through a drive's own
 * LOAD UNLOAD eject, which reports back via the drive's onEject hook.
 */
import { exists } from './exists.js';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Cartridge } from '../devices/tape/cartridge.js';
import type { TapeDrive } from '../devices/tape/drive.js';
import type { Logger } from '../../src/log.js';
import { resolveInDataDir } from './schema.js';

export interface CartridgeSpec {
  barcode: string;
  capacity: number;
  writeProtected: boolean;
  /** Relative to the data directory. */
  image: string;
}

export interface CartridgeState {
  barcode: string;
  /** Router whose drives may take it. */
  router: string;
  capacity: number;
  writeProtected: boolean;
  /** Absolute image path. */
  image: string;
  /** "router/drive" holding it, or undefined when on the shelf. */
  loadedIn?: string;
}

interface Slot {
  spec: CartridgeSpec;
  router: string;
  image: string;
  loadedIn?: string;
}

export class VaultError extends Error {
  constructor(
    message: string,
    /** What an API should answer: 404 unknown name, 409 wrong state. */
    readonly kind: 'not-found' | 'conflict',
  ) {
    super(message);
    this.name = 'VaultError';
  }
}

export class Vault {
  private readonly slots = new Map<string, Slot>();
  private readonly drives = new Map<string, { router: string; drive: TapeDrive }>();

  constructor(
    private readonly dataDir: string,
    private readonly log: Logger,
  ) {}

  /** Called by the lab builder for each drive; the drive's onEject must call `returned`. */
  registerDrive(router: string, name: string, drive: TapeDrive): void {
    this.drives.set(`${router}/${name}`, { router, drive });
  }

  drive(ref: string): TapeDrive | undefined {
    return this.drives.get(ref)?.drive;
  }

  /** Put a cartridge on the shelf of `router`, creating a blank image when none exists yet. */
  async add(router: string, spec: CartridgeSpec): Promise<CartridgeState> {
    if (this.slots.has(spec.barcode)) throw new VaultError(`cartridge ${spec.barcode} already exists`, 'conflict');
    const image = resolveInDataDir(this.dataDir, spec.image);
    await mkdir(path.dirname(image), { recursive: true });
    if (!(await exists(image))) {
      const c = await Cartridge.create(image, { barcode: spec.barcode, capacity: spec.capacity, writeProtected: spec.writeProtected });
      await c.close();
      this.log.info({ barcode: spec.barcode, image, capacity: spec.capacity }, 'blank cartridge created');
    }
    this.slots.set(spec.barcode, { spec, router, image });
    return this.state(spec.barcode)!;
  }

  /** Take a cartridge on the shelf out of the lab (its image stays in the data directory). */
  remove(barcode: string): void {
    const s = this.slot(barcode);
    if (s.loadedIn) throw new VaultError(`cartridge ${barcode} is in ${s.loadedIn}; eject it first`, 'conflict');
    this.slots.delete(barcode);
  }

  list(): CartridgeState[] {
    return [...this.slots.keys()].map((b) => this.state(b)!);
  }

  state(barcode: string): CartridgeState | undefined {
    const s = this.slots.get(barcode);
    if (!s) return undefined;
    const inDrive = s.loadedIn ? this.drives.get(s.loadedIn)?.drive.cartridge : undefined;
    return {
      barcode,
      router: s.router,
      capacity: inDrive?.meta.capacity ?? s.spec.capacity,
      writeProtected: inDrive?.writeProtected ?? s.spec.writeProtected,
      image: s.image,
      ...(s.loadedIn ? { loadedIn: s.loadedIn } : {}),
    };
  }

  /** Insert a shelf cartridge into a drive ("router/drive") of its router. */
  async load(barcode: string, driveRef: string): Promise<void> {
    const s = this.slot(barcode);
    const d = this.drives.get(driveRef);
    if (!d) throw new VaultError(`no tape drive ${driveRef}`, 'not-found');
    if (d.router !== s.router) throw new VaultError(`cartridge ${barcode} belongs to ${s.router}, not ${d.router}`, 'conflict');
    if (s.loadedIn) throw new VaultError(`cartridge ${barcode} is already in ${s.loadedIn}`, 'conflict');
    if (d.drive.cartridge) throw new VaultError(`${driveRef} already holds ${d.drive.cartridge.barcode}`, 'conflict');
    const c = await Cartridge.open(s.image, { barcode, capacity: s.spec.capacity });
    try {
      // The write-protect tab is the lab's (or the API's) to set; the image keeps the rest.
      await c.setWriteProtected(s.spec.writeProtected);
      await d.drive.loadCartridge(c);
    } catch (e) {
      await c.close();
      throw e;
    }
    s.loadedIn = driveRef;
    this.log.info({ barcode, drive: driveRef }, 'cartridge loaded');
  }

  /** Unload and remove the cartridge from a drive back to the shelf. */
  async eject(driveRef: string, opts: { force?: boolean } = {}): Promise<string | undefined> {
    const d = this.drives.get(driveRef);
    if (!d) throw new VaultError(`no tape drive ${driveRef}`, 'not-found');
    const c = await d.drive.eject(opts);
    // onEject normally did this already; a drive built without the hook still ends up consistent.
    if (c) this.returned(c.barcode);
    return c?.barcode;
  }

  /** The drive let go of a cartridge (LOAD UNLOAD from an initiator, or eject above). */
  returned(barcode: string): void {
    const s = this.slots.get(barcode);
    if (!s || !s.loadedIn) return;
    this.log.info({ barcode, drive: s.loadedIn }, 'cartridge back in the vault');
    delete s.loadedIn;
  }

  /** Change the write-protect tab; takes effect in a drive on the next command. */
  async setWriteProtected(barcode: string, wp: boolean): Promise<void> {
    const s = this.slot(barcode);
    s.spec = { ...s.spec, writeProtected: wp };
    const inDrive = s.loadedIn ? this.drives.get(s.loadedIn)?.drive : undefined;
    if (inDrive) await inDrive.serial(undefined, () => inDrive.cartridge?.setWriteProtected(wp));
  }

  /** Flush and close every loaded cartridge, after the commands in flight on its drive. */
  async close(): Promise<void> {
    for (const [ref, { drive }] of this.drives) {
      await drive.serial(undefined, async () => {
        const c = drive.cartridge;
        if (c?.isOpen) {
          await c.close();
          this.log.debug({ drive: ref, barcode: c.barcode }, 'cartridge flushed');
        }
      });
    }
  }

  private slot(barcode: string): Slot {
    const s = this.slots.get(barcode);
    if (!s) throw new VaultError(`no cartridge ${barcode}`, 'not-found');
    return s;
  }
}
