/**
 * What the management API changes survives a restart (issue 13 item 15), through a real router
 * process and HTTP: the generated API token (kept in the data directory, 0600), LUs and
 * cartridges created through the API (written back to <data>/lab.json, loaded by the next start),
 * and `/api/vault` capacities with units.
 */
import { chmod, mkdtemp, readFile, rm, stat, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, envWithout, LAB, startRouter } from './router-process.js';

describe('management API state across router restarts', () => {
  let dir: string;
  let labFile: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dmsim-persist-'));
    labFile = path.join(dir, 'lab.json');
    await writeFile(labFile, JSON.stringify(LAB, null, 2));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a generated token is kept in the data directory (0600) and works after a restart; the environment overrides it', async () => {
    const data = path.join(dir, 'data-token');
    const r1 = await startRouter(labFile, data);
    let token: string;
    try {
      // Printed once, on the start that generated it, with the file it lives in.
      token = String(r1.listening.token);
      expect(token.length).toBeGreaterThanOrEqual(16);
      const file = String(r1.listening.tokenFile);
      expect(file).toBe(path.join(data, 'api-token'));
      expect((await readFile(file, 'utf8')).trim()).toBe(token);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await call(r1.base, 'PUT', '/api/vault/DM0001L3/write-protect', token, { writeProtected: false })).status).toBe(200);
    } finally {
      await r1.stop();
    }

    const r2 = await startRouter(labFile, data);
    try {
      // Not printed again: the operator already has it, and logs are not the place for secrets.
      expect(r2.listening.token).toBeUndefined();
      expect(r2.listening.tokenFile).toBe(path.join(data, 'api-token'));
      expect((await call(r2.base, 'PUT', '/api/vault/DM0001L3/write-protect', token, { writeProtected: false })).status).toBe(200);
      expect((await call(r2.base, 'PUT', '/api/vault/DM0001L3/write-protect', 'not-the-token-at-all', { writeProtected: false })).status).toBe(401);
    } finally {
      await r2.stop();
    }

    // DMSIM_API_TOKEN wins over the stored one, and the file is left alone.
    const envToken = 'from-the-environment-123';
    const r3 = await startRouter(labFile, data, envWithout({ DMSIM_API_TOKEN: envToken }));
    try {
      expect(r3.listening.token).toBeUndefined();
      expect((await call(r3.base, 'PUT', '/api/vault/DM0001L3/write-protect', envToken, { writeProtected: false })).status).toBe(200);
      expect((await call(r3.base, 'PUT', '/api/vault/DM0001L3/write-protect', token, { writeProtected: false })).status).toBe(401);
      expect((await readFile(path.join(data, 'api-token'), 'utf8')).trim()).toBe(token);
    } finally {
      await r3.stop();
    }
  }, 90_000);

  it('a token file others can read is tightened to 0600 with a warning', async () => {
    const data = path.join(dir, 'data-loose');
    const r1 = await startRouter(labFile, data);
    const token = String(r1.listening.token);
    await r1.stop();
    await chmod(path.join(data, 'api-token'), 0o644);
    const r2 = await startRouter(labFile, data);
    try {
      expect(r2.stderr()).toMatch(/readable by others \(mode 644\); now 0600/);
      expect((await stat(path.join(data, 'api-token'))).mode & 0o777).toBe(0o600);
      expect((await call(r2.base, 'PUT', '/api/vault/DM0001L3/write-protect', token, { writeProtected: false })).status).toBe(200);
    } finally {
      await r2.stop();
    }
  }, 60_000);

  it('LUs and cartridges created through the API, and write-protect tabs, are there after a restart; capacities take units', async () => {
    const data = path.join(dir, 'data-lab');
    const token = 'persist-test-token-0001';
    const env = envWithout({ DMSIM_API_TOKEN: token });
    const r1 = await startRouter(labFile, data, env);
    try {
      expect(r1.ready.labFile).toBe(labFile);
      const lu = await call(r1.base, 'POST', '/api/arrays/array1/lus', token, { name: 'fresh', lun: 3, size: '3MiB', blockSize: 512 });
      expect(lu.status, JSON.stringify(lu.json)).toBe(201);
      const c = await call(r1.base, 'POST', '/api/vault', token, { router: 'router1', barcode: 'NEW001L3', capacity: '8 MiB' });
      expect(c.status, JSON.stringify(c.json)).toBe(201);
      expect(c.json.capacity).toBe(8 << 20);
      const c2 = await call(r1.base, 'POST', '/api/vault', token, { router: 'router1', barcode: 'NEW002L3', capacity: 2 << 20, writeProtected: true });
      expect(c2.status, JSON.stringify(c2.json)).toBe(201);
      expect((await call(r1.base, 'PUT', '/api/vault/DM0001L3/write-protect', token, { writeProtected: true })).status).toBe(200);

      // Bad input: 400 with a message, nothing added.
      const bad = await call(r1.base, 'POST', '/api/vault', token, { router: 'router1', barcode: 'BAD001L3', capacity: '12 parsecs' });
      expect(bad.status).toBe(400);
      expect(String(bad.json.message)).toMatch(/capacity/);
      const small = await call(r1.base, 'POST', '/api/vault', token, { router: 'router1', barcode: 'BAD002L3', capacity: '512KiB' });
      expect(small.status).toBe(400);
      expect(String(small.json.message)).toMatch(/capacity "512KiB" must be between 1 MiB and 16 TiB/);
      const dup = await call(r1.base, 'POST', '/api/vault', token, { router: 'router1', barcode: 'NEW001L3', capacity: '8MiB' });
      expect(dup.status).toBe(409);
      expect(String(dup.json.message)).toMatch(/NEW001L3 already exists/);
      const noRouter = await call(r1.base, 'POST', '/api/vault', token, { router: 'router9', barcode: 'BAD003L3', capacity: '8MiB' });
      expect(noRouter.status).toBe(404);

      // A shelved cartridge's fill comes from its image; the blank one holds nothing yet.
      const vault = (await call(r1.base, 'GET', '/api/vault')).json as unknown as { barcode: string; bytesUsed: number }[];
      expect(vault.find((v) => v.barcode === 'NEW001L3')?.bytesUsed).toBe(0);
    } finally {
      await r1.stop();
    }
    const saved = JSON.parse(await readFile(path.join(data, 'lab.json'), 'utf8')) as typeof LAB;
    expect(saved.arrays[0]!.lus.map((l) => l.name)).toEqual(['src', 'fresh']);
    expect(saved.routers[0]!.vault.map((v) => v.barcode)).toEqual(['DM0001L3', 'NEW001L3', 'NEW002L3']);

    const r2 = await startRouter(labFile, data, env);
    try {
      expect(r2.ready.labFile).toBe(path.join(data, 'lab.json'));
      const lus = (await call(r2.base, 'GET', '/api/lus')).json as unknown as { name: string; disk?: { bytes: number } }[];
      expect(lus.find((l) => l.name === 'array1/fresh')?.disk?.bytes).toBe(3 << 20);
      const vault = (await call(r2.base, 'GET', '/api/vault')).json as unknown as { barcode: string; capacity: number; writeProtected: boolean }[];
      const by = new Map(vault.map((v) => [v.barcode, v]));
      expect(by.get('NEW001L3')).toMatchObject({ capacity: 8 << 20, writeProtected: false });
      expect(by.get('NEW002L3')).toMatchObject({ capacity: 2 << 20, writeProtected: true });
      expect(by.get('DM0001L3')).toMatchObject({ writeProtected: true });
      // Deleting through the API persists as well.
      expect((await call(r2.base, 'DELETE', '/api/vault/NEW002L3', token)).status).toBe(200);
      expect((await call(r2.base, 'DELETE', '/api/lus/array1/fresh', token)).status).toBe(200);
    } finally {
      await r2.stop();
    }

    const r3 = await startRouter(labFile, data, env);
    try {
      const vault = (await call(r3.base, 'GET', '/api/vault')).json as unknown as { barcode: string }[];
      expect(vault.map((v) => v.barcode).sort()).toEqual(['DM0001L3', 'NEW001L3']);
      const lus = (await call(r3.base, 'GET', '/api/lus')).json as unknown as { name: string }[];
      expect(lus.some((l) => l.name === 'array1/fresh')).toBe(false);
    } finally {
      await r3.stop();
    }

    // The source lab edited since: it wins, the saved lab is set aside (kept) with a warning.
    await writeFile(labFile, JSON.stringify({ ...LAB, description: 'edited' }, null, 2));
    const r4 = await startRouter(labFile, data, env);
    try {
      expect(r4.ready.labFile).toBe(labFile);
      expect(r4.stderr()).toMatch(/grew from another version of the lab/);
      const vault = (await call(r4.base, 'GET', '/api/vault')).json as unknown as { barcode: string }[];
      expect(vault.map((v) => v.barcode)).toEqual(['DM0001L3']);
      expect((await readdir(data)).some((f) => /^lab\.json\..*\.old$/.test(f))).toBe(true);
    } finally {
      await r4.stop();
    }
  }, 120_000);
});
