import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSense, type SenseInfo } from '../../../src/scsi/sense.js';
import { makeNexus, type ITNexus, type ScsiResult } from '../../../firmware-sim/router/task.js';
import { TapeDrive, type TapeDriveOptions } from '../../../firmware-sim/devices/tape/drive.js';
import { Cartridge } from '../../../firmware-sim/devices/tape/cartridge.js';

export const I1 = makeNexus('21000024ff000001', '50000000000000a1');
export const I2 = makeNexus('21000024ff000002', '50000000000000a1');

export function tmp(): { dir: string; done(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'dmsim-tape-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

export function newDrive(opts: TapeDriveOptions = {}): TapeDrive {
  return new TapeDrive(
    {
      deviceType: 0x01,
      vendor: 'DMSIM',
      product: 'VIRTUAL LTO4',
      revision: '0001',
      serial: 'TAPE0001',
      naa: Buffer.from('6001405000000000000000000000a001', 'hex'),
      name: 'router1/tape0',
    },
    opts,
  );
}

export interface Run {
  status: number;
  data: Buffer;
  sense?: SenseInfo;
  senseBytes?: Buffer;
}

export async function run(drive: TapeDrive, cdb: Buffer | number[], opts: { dataOut?: Buffer; nexus?: ITNexus; alloc?: number } = {}): Promise<Run> {
  const r: ScsiResult = await drive.execute({
    nexus: opts.nexus ?? I1,
    lun: 0,
    cdb: Buffer.isBuffer(cdb) ? cdb : Buffer.from(cdb),
    dataOut: opts.dataOut,
    dataInLength: opts.alloc ?? 0xffffff,
  });
  return {
    status: r.status,
    data: r.dataIn ?? Buffer.alloc(0),
    ...(r.sense ? { sense: decodeSense(r.sense), senseBytes: r.sense } : {}),
  };
}

/** A drive with a blank cartridge loaded and the power-on / medium-changed UAs consumed for I1. */
export async function readyDrive(dir: string, meta: { capacity?: number; earlyWarning?: number; writeProtected?: boolean; programmableEarlyWarning?: number } = {}, opts: TapeDriveOptions = {}): Promise<{ drive: TapeDrive; cart: Cartridge; path: string }> {
  const drive = newDrive(opts);
  const path = join(dir, 'T00001.tap');
  const cart = await Cartridge.create(path, { capacity: meta.capacity ?? 64 << 20, barcode: 'T00001L4', ...meta });
  await drive.loadCartridge(cart);
  for (let k = 0; k < 4; k++) {
    const r = await run(drive, [0, 0, 0, 0, 0, 0]);
    if (r.status === 0) break;
  }
  return { drive, cart, path };
}

export const write6 = (n: number, fixed = false) => Buffer.from([0x0a, fixed ? 1 : 0, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, 0]);
export const read6 = (n: number, opts: { fixed?: boolean; sili?: boolean } = {}) =>
  Buffer.from([0x08, (opts.fixed ? 1 : 0) | (opts.sili ? 2 : 0), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, 0]);
export const wfm = (n: number, immed = false) => Buffer.from([0x10, immed ? 1 : 0, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, 0]);
export const space6 = (code: number, count: number) => Buffer.from([0x11, code, (count >> 16) & 0xff, (count >> 8) & 0xff, count & 0xff, 0]);
export const rewind = () => Buffer.from([0x01, 0, 0, 0, 0, 0]);

export function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}
