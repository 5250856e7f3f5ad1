import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempApiLab } from '../helpers/temp-lab.js';

const ARRAY_TP = '500d5a0000010001';
const read10 = Buffer.from([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]);

let lab: Awaited<ReturnType<typeof tempApiLab>>;

beforeAll(async () => {
  lab = await tempApiLab('api-metrics');
});
afterAll(() => lab?.close());

const count = async (lu: string): Promise<number> => {
  const text = (await lab.api.app.inject({ method: 'GET', url: '/metrics' })).body;
  const m = new RegExp(`dmsim_scsi_commands_total\\{lu="${lu.replace('/', '\\/')}",opcode="0x28",status="0x00"\\} (\\d+)`).exec(text);
  return Number(m?.[1] ?? 0);
};

// Until the UA for the changed LUN inventory has been reported, READ answers CHECK CONDITION.
const readGood = async (lun: number) => {
  const host = lab.rt.port('backup1');
  for (let i = 0; i < 4; i++) if ((await host.command(ARRAY_TP, lun, read10, { dataInLength: 512 })).status === 0) return;
  throw new Error('READ never succeeded');
};

it('/metrics names the LU behind a LUN as it is now: a LUN given to a new LU counts under the new name', async () => {
  await readGood(1);
  expect(await count('array1/blank')).toBe(1);

  expect((await lab.api.app.inject({ method: 'DELETE', url: '/api/lus/array1/blank?deleteImage=true', headers: lab.auth })).statusCode).toBe(200);
  const made = await lab.api.app.inject({ method: 'POST', url: '/api/arrays/array1/lus', headers: lab.auth, payload: { name: 'fresh', lun: 1, size: '1MiB', blockSize: 512 } });
  expect(made.statusCode).toBe(201);
  const mask = await lab.api.app.inject({ method: 'PUT', url: '/api/masking/backup1%2Fp0', headers: lab.auth, payload: { lus: ['array1/fat', 'array1/fresh', 'array1/scratch'] } });
  expect(mask.statusCode).toBe(200);

  await readGood(1);
  expect(await count('array1/fresh')).toBe(1);
  expect(await count('array1/blank')).toBe(1);
});
