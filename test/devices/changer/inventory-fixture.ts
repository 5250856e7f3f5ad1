import type { ElementMap, Placement } from '../../../firmware-sim/devices/changer/inventory.js';

/** A small library: 1 picker, 2 I/E, 2 drives, 6 slots, in the IBM TS3100 address layout. */
export const MAP: ElementMap = {
  transport: { first: 0x0001, count: 1 },
  importExport: { first: 0x0010, count: 2 },
  dataTransfer: { first: 0x0100, count: 2 },
  storage: { first: 0x1000, count: 6 },
};

export const BARCODES = ['A00001L4', 'A00002L4', 'A00003L4', 'A00004L4', 'A00005L4'];

export function initialPlacements(): Map<number, Placement> {
  return new Map(BARCODES.map((barcode, i) => [0x1000 + i, { barcode }]));
}
