/**
 * INQUIRY identity of the lab's LUs, derived from the lab so it is the same on every start:
 * catalogs and backup software recognise an LU by its VPD 83h designator and serial number.
 */
import { createHash } from 'node:crypto';
import type { LuIdentity } from '../router/task.js';
import type { LuKind } from './topology.js';

/** OUI in the NAA designators: 02-D5-A0 has the locally-administered bit set, so it claims no real vendor. */
export const DMSIM_OUI = 0x02d5a0;

const DEFAULTS: Record<LuKind, { deviceType: number; product: string }> = {
  disk: { deviceType: 0x00, product: 'VDISK' },
  tape: { deviceType: 0x01, product: 'VTAPE-LTO4' },
  // Processor (03h), as the data mover LU itself reports (devices/data-mover.ts, extended-copy.md §9.1).
  'data-mover': { deviceType: 0x03, product: 'DATA MOVER' },
  // Medium changer (08h), smc.md §6.
  changer: { deviceType: 0x08, product: 'TAPE LIBRARY' },
};

export const DMSIM_VENDOR = 'DMSIM';
export const DMSIM_REVISION = '0100';

/**
 * NAA IEEE Registered Extended (6h) designator, 16 bytes: NAA + OUI + 36-bit vendor specific id +
 * 64-bit extension, all taken from a hash of the device's WWNN and the LU name.
 */
export function naaFor(deviceWwnn: string, luName: string): Buffer {
  const h = createHash('sha256').update(`${deviceWwnn}/${luName}`).digest();
  const b = Buffer.alloc(16);
  b[0] = 0x60 | ((DMSIM_OUI >> 20) & 0x0f);
  b[1] = (DMSIM_OUI >> 12) & 0xff;
  b[2] = (DMSIM_OUI >> 4) & 0xff;
  b[3] = ((DMSIM_OUI & 0x0f) << 4) | (h[0]! & 0x0f);
  h.copy(b, 4, 1, 13);
  return b;
}

/** 16 uppercase hex digits: unique per LU, stable across restarts. */
export function serialFor(deviceWwnn: string, luName: string): string {
  return createHash('sha256').update(`serial:${deviceWwnn}/${luName}`).digest('hex').slice(0, 16).toUpperCase();
}

export function luIdentity(kind: LuKind, name: string, deviceWwnn: string, opts: { vendor?: string; product?: string } = {}): LuIdentity {
  const d = DEFAULTS[kind];
  return {
    deviceType: d.deviceType,
    vendor: opts.vendor ?? DMSIM_VENDOR,
    product: opts.product ?? d.product,
    revision: DMSIM_REVISION,
    serial: serialFor(deviceWwnn, name),
    naa: naaFor(deviceWwnn, name),
    name,
  };
}
