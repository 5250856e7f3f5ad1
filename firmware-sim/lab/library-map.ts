/**
 * Element address maps of a lab library per personality (smc.md §1.8 and §6): the IBM TS3100 /
 * Spectra / Scalar layout by default (MT 0001h, IE 0010h, DT 0100h, ST 1000h: drives before slots in
 * address order), the StorageTek L-series layout for `stk-l700`; and the INQUIRY names they imply.
 */
import type { ElementMap } from '../devices/changer/inventory.js';
import type { LibraryConfig, LibraryPersonality } from './config.js';

const FIRST: Record<LibraryPersonality, { mt: number; st: number; ie: number; dt: number; vendor: string; product: string }> = {
  dmsim: { mt: 0x0001, st: 0x1000, ie: 0x0010, dt: 0x0100, vendor: 'DMSIM', product: 'TAPE LIBRARY' },
  'ibm-ts3100': { mt: 0x0001, st: 0x1000, ie: 0x0010, dt: 0x0100, vendor: 'IBM', product: '3573-TL' },
  'spectra-t': { mt: 0x0001, st: 0x1000, ie: 0x0010, dt: 0x0100, vendor: 'SPECTRA', product: 'PYTHON' },
  'stk-l700': { mt: 0x0001, st: 0x03e8, ie: 0x000a, dt: 0x01f4, vendor: 'STK', product: 'L700' },
};

type MapInput = Pick<LibraryConfig, 'slots' | 'importExport' | 'drives'> & { personality?: LibraryPersonality };

export function libraryMap(l: MapInput): ElementMap {
  const f = FIRST[l.personality ?? 'dmsim'];
  return {
    transport: { first: f.mt, count: 1 },
    storage: { first: f.st, count: l.slots },
    importExport: { first: f.ie, count: l.importExport },
    dataTransfer: { first: f.dt, count: l.drives.length },
  };
}

export function libraryInquiry(l: Pick<LibraryConfig, 'personality' | 'vendor' | 'product'>): { vendor: string; product: string } {
  const f = FIRST[l.personality];
  return { vendor: l.vendor ?? f.vendor, product: l.product ?? f.product };
}
