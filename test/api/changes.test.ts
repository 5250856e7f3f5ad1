import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempApiLab } from '../helpers/temp-lab.js';

const ARRAY_TP = '500d5a0000010001';
const write10 = (lba: number, blocks: number) => {
  const c = Buffer.alloc(10);
  c[0] = 0x2a;
  c.writeUInt32BE(lba, 2);
  c.writeUInt16BE(blocks, 7);
  return c;
};

let lab: Awaited<ReturnType<typeof tempApiLab>>;

beforeAll(async () => {
  lab = await tempApiLab('api-changes');
});
afterAll(() => lab?.close());

const take = (lu: string, headers: Record<string, string> = lab.auth) => lab.api.app.inject({ method: 'POST', url: `/api/lus/${lu}/changes/take`, headers });

it('POST /api/lus/:device/:lu/changes/take: the blocks written since the last take, then a new epoch', async () => {
  await take('array1/blank');
  const host = lab.rt.port('backup1');
  for (let i = 0; i < 4; i++) if ((await host.command(ARRAY_TP, 1, write10(100, 4), { dataOut: Buffer.alloc(2048, 1) })).status === 0) break;
  await host.command(ARRAY_TP, 1, write10(104, 2), { dataOut: Buffer.alloc(1024, 2) });
  await host.command(ARRAY_TP, 1, write10(7000, 1), { dataOut: Buffer.alloc(512, 3) });
  const r = await take('array1/blank');
  expect(r.statusCode).toBe(200);
  expect(r.json()).toEqual({ blockSize: 512, extents: [{ lba: 100, count: 6 }, { lba: 7000, count: 1 }] });
  expect((await take('array1/blank')).json()).toEqual({ blockSize: 512, extents: [] });
});

it('refuses without the token (401), on a tape LU (409) and for an unknown LU (404)', async () => {
  expect((await take('array1/blank', {})).statusCode).toBe(401);
  const tape = await take('router1/tape0');
  expect(tape.statusCode).toBe(409);
  expect(tape.json().message).toMatch(/only disk LUs track changes/);
  expect((await take('array1/nope')).statusCode).toBe(404);
});
