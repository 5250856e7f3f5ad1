import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabRuntime } from '../../firmware-sim/lab/build.js';
import { tempApiLab } from '../helpers/temp-lab.js';
import { UnreachableError } from '../../firmware-sim/router/dispatch.js';
import type { Api } from '../../src/api/server.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { ScsiStatus } from '../../src/scsi/status.js';

const ARRAY_TP = '500d5a0000010001';
const ROUTER_TP = '500d5a0000020001';
const TOKEN = 'test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const read10 = (lba: number, blocks: number) => {
  const c = Buffer.alloc(10);
  c[0] = 0x28;
  c.writeUInt32BE(lba, 2);
  c.writeUInt16BE(blocks, 7);
  return c;
};

let lab: Awaited<ReturnType<typeof tempApiLab>>;
let rt: LabRuntime;
let api: Api;

beforeAll(async () => {
  lab = await tempApiLab('api', TOKEN);
  ({ rt, api } = lab);
});
afterAll(() => lab?.close());

describe('management API: reads', () => {
  it('describes the lab topology: ports, zones, devices', async () => {
    const r = await api.app.inject({ method: 'GET', url: '/api/lab' });
    expect(r.statusCode).toBe(200);
    const lab = r.json();
    expect(lab.name).toBe('default');
    expect(lab.zones.map((z: { name: string }) => z.name)).toEqual(expect.arrayContaining(['backup', 'datamover', 'app']));
    expect(lab.devices.map((d: { name: string }) => d.name)).toEqual(expect.arrayContaining(['array1', 'router1']));
    expect(lab.ports.find((p: { ref: string }) => p.ref === 'router1/dm0')?.wwpn).toBe('500d5a0000020002');
  });

  it('lists LUs with their state and answers 404 for an unknown one', async () => {
    const lus = (await api.app.inject({ method: 'GET', url: '/api/lus' })).json();
    const fat = lus.find((l: { name: string }) => l.name === 'array1/fat');
    expect(fat.disk).toMatchObject({ blockSize: 512, bytes: 64 << 20 });
    const tape = lus.find((l: { name: string }) => l.name === 'router1/tape0');
    expect(tape.tape.state).toBe('ready');
    const miss = await api.app.inject({ method: 'GET', url: '/api/lus/array1/nope' });
    expect(miss.statusCode).toBe(404);
    expect(miss.json().message).toMatch(/array1\/nope/);
  });

  it('serves an OpenAPI document generated from the route schemas', async () => {
    const doc = (await api.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/lus/{device}/{lu}/faults', '/api/zones/{name}', '/api/jobs/backup']));
  });
});

describe('management API: writes need the token and valid bodies', () => {
  it('refuses writes without or with a wrong bearer token (401)', async () => {
    const none = await api.app.inject({ method: 'PUT', url: '/api/zones/x', payload: { members: [] } });
    expect(none.statusCode).toBe(401);
    const wrong = await api.app.inject({ method: 'PUT', url: '/api/zones/x', payload: { members: [] }, headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);
  });

  it('answers 400 with a message for a body that breaks the schema', async () => {
    const r = await api.app.inject({ method: 'PATCH', url: '/api/lus/array1/blank/faults', headers: auth, payload: { latencyMs: -1 } });
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toMatch(/latencyMs/);
    const extra = await api.app.inject({ method: 'PUT', url: '/api/zones/z1', headers: auth, payload: { members: [], evil: 1 } });
    expect(extra.statusCode).toBe(400);
  });

  it('refuses a cartridge image path outside the data directory', async () => {
    const r = await api.app.inject({ method: 'POST', url: '/api/vault', headers: auth, payload: { router: 'router1', barcode: 'EVIL01', capacity: 1 << 24, image: '../../etc/evil.tap' } });
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toMatch(/outside the data directory/);
  });
});

describe('management API: fault injection reaches the devices', () => {
  it('a medium error range makes READ fail with MEDIUM ERROR 11h/00h and INFORMATION, clear removes it', async () => {
    const host = rt.port('backup1');
    await host.command(ARRAY_TP, 1, Buffer.alloc(6), { dataInLength: 0 }); // consume the power-on UA
    const r = await api.app.inject({ method: 'PATCH', url: '/api/lus/array1/blank/faults', headers: auth, payload: { mediumError: { firstLba: 100, count: 10, on: 'read' } } });
    expect(r.statusCode).toBe(200);
    expect(r.json().faults.mediumErrors).toEqual([{ firstLba: 100, count: 10, on: 'read' }]);
    const res = await host.command(ARRAY_TP, 1, read10(96, 8), { dataInLength: 4096 });
    expect(res.status).toBe(ScsiStatus.CHECK_CONDITION);
    expect(decodeSense(res.sense!)).toMatchObject({ key: 3, asc: 0x11, ascq: 0, information: 100 });
    const del = await api.app.inject({ method: 'DELETE', url: '/api/lus/array1/blank/faults', headers: auth });
    expect(del.json().faults.mediumErrors).toEqual([]);
    expect((await host.command(ARRAY_TP, 1, read10(96, 8), { dataInLength: 4096 })).status).toBe(ScsiStatus.GOOD);
  });

  it('tape-only faults are refused on a disk', async () => {
    const r = await api.app.inject({ method: 'PATCH', url: '/api/lus/array1/blank/faults', headers: auth, payload: { endOfMediumAt: 1000 } });
    expect(r.statusCode).toBe(400);
  });

  it('link down on a port makes it unreachable until brought up', async () => {
    const host = rt.port('backup1');
    const down = await api.app.inject({ method: 'PUT', url: `/api/ports/${encodeURIComponent('router1/fc0')}/link`, headers: auth, payload: { down: true } });
    expect(down.statusCode).toBe(200);
    await expect(host.command(ROUTER_TP, 0, Buffer.alloc(6))).rejects.toBeInstanceOf(UnreachableError);
    expect((await api.app.inject({ method: 'GET', url: '/api/lab' })).json().linksDown).toEqual([ROUTER_TP]);
    await api.app.inject({ method: 'PUT', url: `/api/ports/${ROUTER_TP}/link`, headers: auth, payload: { down: false } });
    const ok = await host.command(ROUTER_TP, 0, Buffer.alloc(6));
    expect([ScsiStatus.GOOD, ScsiStatus.CHECK_CONDITION]).toContain(ok.status);
    const unknown = await api.app.inject({ method: 'PUT', url: '/api/ports/1122334455667788/link', headers: auth, payload: { down: true } });
    expect(unknown.statusCode).toBe(404);
  });
});

describe('management API: zones, vault and metrics', () => {
  it('a zone change cuts and restores reach', async () => {
    const app1 = rt.port('app1');
    await app1.command(ARRAY_TP, 0, Buffer.alloc(6)).catch(() => undefined);
    const del = await api.app.inject({ method: 'DELETE', url: '/api/zones/app', headers: auth });
    expect(del.statusCode).toBe(200);
    await expect(app1.command(ARRAY_TP, 0, Buffer.alloc(6))).rejects.toBeInstanceOf(UnreachableError);
    const put = await api.app.inject({ method: 'PUT', url: '/api/zones/app', headers: auth, payload: { members: ['app1/p0', 'array1/p0'] } });
    expect(put.statusCode).toBe(200);
    expect((await app1.command(ARRAY_TP, 0, Buffer.alloc(6))).status).toBeTypeOf('number');
  });

  it('adds a cartridge, loads it after ejecting, and reports 409 for a busy one', async () => {
    const add = await api.app.inject({ method: 'POST', url: '/api/vault', headers: auth, payload: { router: 'router1', barcode: 'API001L4', capacity: 1 << 26 } });
    expect(add.statusCode).toBe(201);
    expect(add.json()).toMatchObject({ barcode: 'API001L4', writeProtected: false });
    const dup = await api.app.inject({ method: 'POST', url: '/api/vault', headers: auth, payload: { router: 'router1', barcode: 'API001L4', capacity: 1 << 26 } });
    expect(dup.statusCode).toBe(409);
    const ej = await api.app.inject({ method: 'POST', url: '/api/drives/router1/tape1/eject', headers: auth });
    expect(ej.statusCode).toBe(200);
    const ld = await api.app.inject({ method: 'POST', url: '/api/drives/router1/tape1/load', headers: auth, payload: { barcode: 'API001L4' } });
    expect(ld.statusCode).toBe(200);
    const drives = (await api.app.inject({ method: 'GET', url: '/api/drives' })).json();
    expect(drives.find((d: { name: string }) => d.name === 'router1/tape1').barcode).toBe('API001L4');
    const rm = await api.app.inject({ method: 'DELETE', url: '/api/vault/API001L4', headers: auth });
    expect(rm.statusCode).toBe(409);
  });

  it('/metrics counts commands by LU, opcode and status in Prometheus text', async () => {
    const host = rt.port('backup1');
    for (let i = 0; i < 3; i++) await host.command(ARRAY_TP, 1, read10(0, 8), { dataInLength: 4096 });
    const text = (await api.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/# TYPE dmsim_scsi_commands_total counter/);
    const m = /dmsim_scsi_commands_total\{lu="array1\/blank",opcode="0x28",status="0x00"\} (\d+)/.exec(text);
    expect(Number(m?.[1])).toBeGreaterThanOrEqual(3);
    expect(text).toMatch(/dmsim_lu_bytes_total\{lu="array1\/blank",direction="read"\} \d+/);
    expect(text).toMatch(/dmsim_scsi_command_seconds_bucket\{opcode="0x28",le="\+Inf"\} \d+/);
    expect(text).toMatch(/dmsim_copy_jobs\{state="running"\} 0/);
    // Histogram buckets are cumulative and end at the count.
    const buckets = [...text.matchAll(/dmsim_scsi_command_seconds_bucket\{opcode="0x28",le="[^"]+"\} (\d+)/g)].map((x) => Number(x[1]));
    expect(buckets.length).toBe(17);
    expect(buckets.every((v, i) => i === 0 || v >= buckets[i - 1]!)).toBe(true);
    expect(Number(/dmsim_scsi_command_seconds_count\{opcode="0x28"\} (\d+)/.exec(text)?.[1])).toBe(buckets.at(-1));
  });
});

describe('management API over a real socket', () => {
  it('streams LU state as server-sent events and reflects a fault change', async () => {
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = api.app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const ctl = new AbortController();
    const res = await fetch(`http://127.0.0.1:${port}/api/events`, { signal: ctl.signal });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const until = async (re: RegExp) => {
      const deadline = Date.now() + 10_000;
      while (!re.test(text) && Date.now() < deadline) text += new TextDecoder().decode((await reader.read()).value);
      return re.test(text);
    };
    expect(await until(/event: lu\ndata: \{"name":"array1\/fat"/)).toBe(true);
    const patch = await fetch(`http://127.0.0.1:${port}/api/lus/array1/scratch/faults`, {
      method: 'PATCH',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ latencyMs: 7 }),
    });
    expect(patch.status).toBe(200);
    expect(await until(/"name":"array1\/scratch"[^\n]*"latencyMs":7/)).toBe(true);
    ctl.abort();
  });
});
