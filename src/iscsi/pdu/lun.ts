/**
 * 8-byte SAM LUN field <-> flat LUN number: single-level peripheral addressing for 0..255, flat
 * addressing for 256..16383, and well-known LUNs (C1h xx) as 0xc100 | xx, which is how
 * firmware-sim/router/task.ts numbers W-LUNs.
 */

/** Flat LUN number from the 8-byte field, or undefined for a form dmsim does not address. */
export function decodeSamLun(b: Uint8Array, offset = 0): number | undefined {
  for (let i = 2; i < 8; i++) if (b[offset + i] !== 0) return undefined;
  const b0 = b[offset]!;
  const b1 = b[offset + 1]!;
  switch (b0 >> 6) {
    case 0: // peripheral device addressing, bus 0 only
      return b0 === 0 ? b1 : undefined;
    case 1: // flat space
      return ((b0 & 0x3f) << 8) | b1;
    case 3: // extended: well-known LUN
      return b0 === 0xc1 ? 0xc100 | b1 : undefined;
    default:
      return undefined;
  }
}

/** The 8-byte SAM LUN field for a flat LUN number. */
export function encodeSamLun(lun: number, out: Buffer = Buffer.alloc(8), offset = 0): Buffer {
  out.fill(0, offset, offset + 8);
  if ((lun & 0xff00) === 0xc100) {
    out[offset] = 0xc1;
    out[offset + 1] = lun & 0xff;
  } else if (lun < 256) {
    out[offset + 1] = lun;
  } else if (lun < 0x4000) {
    out[offset] = 0x40 | (lun >> 8);
    out[offset + 1] = lun & 0xff;
  } else throw new RangeError(`LUN ${lun} out of range`);
  return out;
}
