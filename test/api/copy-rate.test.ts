import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempApiLab } from '../helpers/temp-lab.js';

const CAP = 8 << 20;

let lab: Awaited<ReturnType<typeof tempApiLab>>;

beforeAll(async () => {
  lab = await tempApiLab('api-rate');
});
afterAll(() => lab?.close());

it('a copy rate is the copy\'s progress over the last second, however often /api/copies is asked (polled every few ms)', async () => {
  const cap = await lab.api.app.inject({ method: 'PATCH', url: '/api/lus/router1/tape0/faults', headers: lab.auth, payload: { throughputBytesPerSec: CAP } });
  expect(cap.statusCode).toBe(200);
  const job = await lab.api.app.inject({ method: 'POST', url: '/api/jobs/backup', headers: lab.auth, payload: { source: 'fat', tape: 'tape0', mode: 'full', checksums: false } });
  expect(job.statusCode).toBeLessThan(300);

  // Poll hard, as several dashboards and a Prometheus scraper together might, and keep what each
  // answer said the copy had written, so the test knows the real progress over any window.
  const polls: Array<{ at: number; bytes: number; rate: number }> = [];
  const until = performance.now() + 4000;
  while (performance.now() < until && polls.length < 400) {
    const copies = (await lab.api.app.inject({ method: 'GET', url: '/api/copies' })).json() as Array<{ state: string; rate: number; bytesWritten: number }>;
    const running = copies.find((c) => c.state === 'running');
    if (running) polls.push({ at: performance.now(), bytes: running.bytesWritten, rate: running.rate });
    await new Promise((r) => setTimeout(r, 5));
  }
  await lab.api.app.inject({ method: 'DELETE', url: '/api/lus/router1/tape0/faults', headers: lab.auth });
  // Let the backup finish before the lab closes under it.
  for (let i = 0; i < 600; i++) {
    const jobs = (await lab.api.app.inject({ method: 'GET', url: '/api/jobs' })).json() as Array<{ state: string }>;
    if (jobs.every((j) => j.state !== 'running')) break;
    await new Promise((r) => setTimeout(r, 50));
  }

  let checked = 0;
  for (const p of polls) {
    // The progress over the second before this answer, from the test's own earlier answers; the
    // first second has no full window behind it. However loaded the machine, the rate follows it.
    const from = polls.filter((q) => q.at <= p.at - 1000).at(-1);
    if (!from) continue;
    const actual = (p.bytes - from.bytes) / ((p.at - from.at) / 1000);
    expect(Math.abs(p.rate - actual)).toBeLessThanOrEqual(0.25 * actual + 128 * 1024);
    expect(p.rate).toBeLessThan(CAP * 1.5);
    checked++;
  }
  expect(checked).toBeGreaterThan(20);
});
