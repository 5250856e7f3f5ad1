import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TapeDrive } from '../../firmware-sim/devices/tape/drive.js';
import { luIdentity } from '../../firmware-sim/lab/identity.js';
import { Vault, VaultError } from '../../firmware-sim/lab/vault.js';
import { makeNexus } from '../../firmware-sim/router/task.js';
import { silentLogger } from '../../src/log.js';

describe('lab vault', () => {
  let dataDir: string;
  let vault: Vault;
  let drive: TapeDrive;
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-vault-'));
    vault = new Vault(dataDir, silentLogger());
    drive = new TapeDrive(luIdentity('tape', 'r1/tape0', '500d5a0000020000'), { onEject: (c) => vault.returned(c.barcode) });
    vault.registerDrive('r1', 'tape0', drive);
  });
  afterEach(async () => {
    await vault.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates blank images inside the data directory and tracks where each cartridge is', async () => {
    const s = await vault.add('r1', { barcode: 'T00001', capacity: 2 ** 20, writeProtected: false, image: 'tapes/T00001.tap' });
    expect(s).toEqual({ barcode: 'T00001', router: 'r1', capacity: 2 ** 20, writeProtected: false, image: path.join(dataDir, 'tapes/T00001.tap') });
    expect((await stat(s.image)).size).toBe(0);
    await vault.load('T00001', 'r1/tape0');
    expect(drive.cartridge?.barcode).toBe('T00001');
    expect(vault.state('T00001')?.loadedIn).toBe('r1/tape0');
    expect(await vault.eject('r1/tape0')).toBe('T00001');
    expect(drive.cartridge).toBeUndefined();
    expect(vault.state('T00001')?.loadedIn).toBeUndefined();
  });

  it('an initiator’s LOAD UNLOAD (eject) puts the cartridge back on the shelf', async () => {
    await vault.add('r1', { barcode: 'T00002', capacity: 2 ** 20, writeProtected: false, image: 'tapes/T00002.tap' });
    await vault.load('T00002', 'r1/tape0');
    const nexus = makeNexus('21000024ff000001', '500d5a0000020001');
    // First command collects the power-on unit attention.
    await drive.execute({ nexus, lun: 1, cdb: Buffer.from([0x00, 0, 0, 0, 0, 0]), dataInLength: 0 });
    await drive.execute({ nexus, lun: 1, cdb: Buffer.from([0x00, 0, 0, 0, 0, 0]), dataInLength: 0 });
    const r = await drive.execute({ nexus, lun: 1, cdb: Buffer.from([0x1b, 0, 0, 0, 0x00, 0]), dataInLength: 0 });
    expect(r.status).toBe(0);
    expect(vault.state('T00002')?.loadedIn).toBeUndefined();
  });

  it('refuses impossible moves with a reason', async () => {
    await vault.add('r1', { barcode: 'A', capacity: 2 ** 20, writeProtected: false, image: 'tapes/A.tap' });
    await vault.add('r2', { barcode: 'B', capacity: 2 ** 20, writeProtected: false, image: 'tapes/B.tap' });
    await expect(vault.add('r1', { barcode: 'A', capacity: 1, writeProtected: false, image: 'x.tap' })).rejects.toThrow(/already exists/);
    await expect(vault.load('Z', 'r1/tape0')).rejects.toMatchObject({ kind: 'not-found' });
    await expect(vault.load('A', 'r1/tape9')).rejects.toMatchObject({ kind: 'not-found' });
    await expect(vault.load('B', 'r1/tape0')).rejects.toThrow(/belongs to r2/);
    await vault.load('A', 'r1/tape0');
    expect(() => vault.remove('A')).toThrow(VaultError);
    await expect(vault.add('r1', { barcode: 'C', capacity: 1, writeProtected: false, image: '../escape.tap' })).rejects.toThrow(/outside the data directory/);
  });

  it('the write-protect tab reaches the drive', async () => {
    await vault.add('r1', { barcode: 'W', capacity: 2 ** 20, writeProtected: true, image: 'tapes/W.tap' });
    await vault.load('W', 'r1/tape0');
    expect(drive.cartridge?.writeProtected).toBe(true);
    await vault.setWriteProtected('W', false);
    expect(drive.cartridge?.writeProtected).toBe(false);
    expect(vault.state('W')?.writeProtected).toBe(false);
  });
});
