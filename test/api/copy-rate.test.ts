import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDefaultLab } from '../helpers/temp-lab.js';
import { buildApi, type Api } from '../../src/api/server.js';

const TOKEN = 'test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const CAP = 8 << 20;

let lab: Awaited<ReturnType<typeof tempDefaultLab>>;
let api: Api;

beforeAll(async () => {
  lab = await tempDefaultLab('api-rate');
  api = await buildApi(lab.rt, { token: TOKEN });
});
afterAll(async () => {
  await api?.close();
  await lab?.close();
});

it('a copy rate does not depend on how often /api/copies is asked: polled every few ms it stays near the tape cap', async () => {
  const cap = await api.app.inject({ method: 'PATCH', url: '/api/lus/router1/tape0/faults', headers: auth, payload: { throughputBytesPerSec: CAP } });
  expect(cap.statusCode).toBe(200);
  const job = await api.app.inject({ method: 'POST', url: '/api/jobs/backup', headers: auth, payload: { source: 'fat', tape: 'tape0', mode: 'full', checksums: false } });
  expect(job.statusCode).toBeLessThan(300);

  // Poll hard, as several dashboards and a Prometheus scraper together might.
  const rates: number[] = [];
  let firstRunning: number | undefined;
  const until = performance.now() + 4000;
  while (performance.now() < until && rates.length < 200) {
    const copies = (await api.app.inject({ method: 'GET', url: '/api/copies' })).json() as Array<{ state: string; rate: number }>;
    const running = copies.find((c) => c.state === 'running');
    if (running) {
      firstRunning ??= performance.now();
      // The first second has no full window behind it yet.
      if (performance.now() - firstRunning > 1200) rates.push(running.rate);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await api.app.inject({ method: 'DELETE', url: '/api/lus/router1/tape0/faults', headers: auth });
  // Let the backup finish before the lab closes under it.
  for (let i = 0; i < 600; i++) {
    const jobs = (await api.app.inject({ method: 'GET', url: '/api/jobs' })).json() as Array<{ state: string }>;
    if (jobs.every((j) => j.state !== 'running')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(rates.length).toBeGreaterThan(20);
  for (const r of rates) {
    expect(r).toBeGreaterThan(CAP * 0.5);
    expect(r).toBeLessThan(CAP * 1.5);
  }
});
