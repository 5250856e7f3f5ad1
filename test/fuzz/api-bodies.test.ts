/**
 * API bodies and parameters, fuzzed: every write route gets random JSON (and random path
 * segments) with a valid token. Invariant: a 2xx or a 4xx with a message — never a 500, never a
 * thrown error, and the lab keeps answering afterwards.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempApiLab } from '../helpers/temp-lab.js';
import type { Api } from '../../src/api/server.js';

const TOKEN = 'fuzz-token';
const ROUTES: Array<[method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: (seg: string) => string]> = [
  ['POST', () => '/api/vault'],
  ['PUT', (s) => `/api/vault/${s}/write-protect`],
  ['DELETE', (s) => `/api/vault/${s}`],
  ['POST', (s) => `/api/drives/router1/${s}/load`],
  ['POST', (s) => `/api/drives/${s}/tape1/eject`],
  ['POST', (s) => `/api/arrays/${s}/lus`],
  ['POST', () => '/api/arrays/array1/lus'],
  ['DELETE', (s) => `/api/lus/array1/${s}`],
  ['PUT', (s) => `/api/zones/${s}`],
  ['DELETE', (s) => `/api/zones/${s}`],
  ['PUT', (s) => `/api/masking/${s}`],
  ['POST', () => '/api/copies/abort'],
  ['PATCH', (s) => `/api/lus/array1/${s}/faults`],
  ['PATCH', () => '/api/lus/router1/tape1/faults'],
  ['PUT', (s) => `/api/ports/${s}/link`],
  ['POST', () => '/api/jobs/backup'],
];

let lab: Awaited<ReturnType<typeof tempApiLab>>;
let api: Api;

beforeAll(async () => {
  lab = await tempApiLab('apifuzz', TOKEN);
  ({ api } = lab);
});
afterAll(() => lab?.close());

const segment = fc.oneof(
  fc.constantFrom('blank', 'scratch', 'tape0', 'router1', 'array1', 'DM0001L3', 'router1%2Ffc0', '..', '%2e%2e', 'x'.repeat(300), ''),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
);
const body = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.record(
    {
      router: fc.constantFrom('router1', 'nope', '../x'),
      barcode: fc.string({ maxLength: 40 }),
      capacity: fc.oneof(fc.integer(), fc.double()),
      image: fc.constantFrom('tapes/x.tap', '../../etc/passwd', '/abs.tap', 'a\u0000b'),
      members: fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }),
      lus: fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }),
      name: fc.string({ maxLength: 20 }),
      size: fc.oneof(fc.string({ maxLength: 8 }), fc.integer()),
      mediumError: fc.record({ firstLba: fc.integer({ min: -5, max: 1 << 20 }), count: fc.integer({ min: -1, max: 1 << 20 }) }),
      latencyMs: fc.integer({ min: -10, max: 10 }),
      down: fc.boolean(),
      source: fc.constantFrom('array1/blank', 'nope'),
      tape: fc.constantFrom('router1/tape1', 'nope'),
      mode: fc.constantFrom('full', 'bogus'),
      listId: fc.integer({ min: -1, max: 300 }),
    },
    { requiredKeys: [] },
  ),
);

describe('API fuzz', () => {
  it('answers every random write with 2xx or 4xx and a message, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: ROUTES.length - 1 }), segment, body, async (i, seg, b) => {
        const [method, url] = ROUTES[i]!;
        const r = await api.app.inject({ method, url: url(seg), payload: b === undefined ? undefined : JSON.stringify(b), headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } });
        expect(r.statusCode, `${method} ${url(seg)} ${JSON.stringify(b)} -> ${r.body}`).toBeLessThan(500);
        if (r.statusCode >= 400) expect(r.json().message).toBeTypeOf('string');
      }),
      { numRuns: Number(process.env.DMSIM_FUZZ_API_RUNS ?? 400), seed: 0x5eed },
    );
    // Let any backup job a random body started finish before checking the lab still answers.
    const lus = await api.app.inject({ method: 'GET', url: '/api/lus' });
    expect(lus.statusCode).toBe(200);
  }, 120_000);
});
