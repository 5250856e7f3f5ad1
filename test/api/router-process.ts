/** A `dmsim router` process with its management API for API tests, and plain HTTP calls to it. */
import type { ChildProcess } from 'node:child_process';
import { expect } from 'vitest';
import { collect, spawnCliWatched, waitForLog } from '../cli/cli-process.js';

/** A small lab: one array LU of 2 MiB, a router with a data mover, one drive and one cartridge; no api.token. */
export const LAB = {
  name: 'persist',
  fabric: { name: 'fab', defaultZone: 'no-access' },
  hosts: [{ name: 'backup1', wwnn: '20:00:00:24:ff:00:01:01', ports: [{ name: 'p0', wwpn: '21:00:00:24:ff:00:01:01', iscsiNames: ['iqn.2026-11.dev.dmsim.hosts:backup1'] }] }],
  arrays: [{ name: 'array1', wwnn: '50:0d:5a:00:00:01:00:00', ports: [{ name: 'p0', wwpn: '50:0d:5a:00:00:01:00:01' }], lus: [{ name: 'src', lun: 0, size: '2MiB', blockSize: 512 }] }],
  routers: [
    {
      name: 'router1',
      wwnn: '50:0d:5a:00:00:02:00:00',
      ports: [{ name: 'fc0', wwpn: '50:0d:5a:00:00:02:00:01' }],
      dataMover: { name: 'datamover', lun: 0, initiator: { name: 'dm0', wwpn: '50:0d:5a:00:00:02:00:02' } },
      buses: [{ name: 'bus0', drives: [{ name: 'tape0', lun: 1 }] }],
      vault: [{ barcode: 'DM0001L3', capacity: '4MiB', loadedIn: 'tape0' }],
    },
  ],
  zones: [{ name: 'backup', members: ['backup1/p0', 'router1/fc0', 'array1/p0'] }],
  masking: [{ initiator: 'backup1/p0', lus: ['array1/src'] }],
  iscsi: { portal: '127.0.0.1:3260', unknownInitiators: 'default-zone' },
  api: { listen: '127.0.0.1:8080' },
};

export const envWithout = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const { DMSIM_API_TOKEN: _t, ...rest } = process.env;
  return { ...rest, ...extra };
};

export interface Running {
  child: ChildProcess;
  base: string;
  ready: Record<string, unknown>;
  listening: Record<string, unknown>;
  stderr: () => string;
  stop(): Promise<void>;
}

export async function startRouter(labFile: string, dataDir: string, env = envWithout()): Promise<Running> {
  const child = spawnCliWatched(['router', '--lab', labFile, '--iscsi', '127.0.0.1:0', '--api', '127.0.0.1:0', '--data', dataDir, '--log-level', 'info'], { env });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = collect(child);
  const ready = await waitForLog(child, 'router ready');
  const listening = await waitForLog(child, 'management API listening');
  return {
    child,
    base: `http://${String(ready.api)}`,
    ready,
    listening,
    stderr: () => err,
    async stop() {
      child.kill('SIGTERM');
      const r = await done;
      expect(r.code, err).toBe(0);
    },
  };
}

export async function call(base: string, method: string, url: string, token?: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> & unknown[] }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(base + url, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> & unknown[] };
}
