/**
 * `dmsim router --isns` against a real open-isns isnsd (reference isns.md §6): the router process
 * registers its entity, portal, target nodes, the data mover's initiator node and the lab zones as
 * discovery domains; isnsadm lists them; a clean stop deregisters; a router started before the
 * server registers once the server appears.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnCliWatched, waitForLog } from '../cli/cli-process.js';
import { startIsnsd, type Isnsd } from '../helpers/isnsd.js';
import { requireTools } from '../helpers/require-tool.js';

const ok = requireTools('iSNS with isnsd', 'isnsd', 'isnsadm');

let router: ChildProcess | undefined;
let isnsd: Isnsd | undefined;
afterEach(async () => {
  if (router && router.exitCode === null) {
    const gone = new Promise((r) => router!.once('exit', r));
    router.kill('SIGKILL');
    await gone;
  }
  router = undefined;
  await isnsd?.stop();
  isnsd = undefined;
});

/** Values of one attribute over every object isnsadm lists, e.g. 'iSCSI name'. */
function values(listing: string, attr: string): string[] {
  const re = new RegExp(`: ${attr} = "?([^"\\n]*)"?`, 'g');
  return [...listing.matchAll(re)].map((m) => m[1]!);
}

async function until(f: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

function startRouter(isnsPort: number): ChildProcess {
  const data = mkdtempSync(path.join(os.tmpdir(), 'isns-router-'));
  return spawnCliWatched(['router', '--iscsi', '127.0.0.1:0', '--api', 'off', '--data', data, '--isns', `127.0.0.1:${isnsPort}`]);
}

describe.skipIf(!ok)('router registered with isnsd', () => {
  it('registers targets, the data mover, the portal and zones as DDs; SIGTERM deregisters them', async () => {
    isnsd = await startIsnsd();
    router = startRouter(isnsd.port);
    const ready = await waitForLog(router, 'router ready');
    const iscsiPort = Number(String(ready.iscsi).split(':').pop());
    await waitForLog(router, 'registered with iSNS server');

    const nodes = isnsd.list('nodes');
    expect(values(nodes, 'iSCSI name').sort()).toEqual(
      ['iqn.2026-11.dev.dmsim:array1', 'iqn.2026-11.dev.dmsim:router1', 'iqn.2026-11.dev.dmsim:router1.dm', 'isns.control'].sort(),
    );
    expect(values(nodes, 'iSCSI alias')).toEqual(expect.arrayContaining(['array1/p0', 'router1/fc0', 'router1 data mover']));
    expect(values(isnsd.list('entities'), 'Entity identifier')).toContain('array1-router1.default.dmsim');
    const portals = isnsd.list('portals');
    expect(portals).toContain(`Portal TCP/UDP port = ${iscsiPort}/tcp`);
    expect(values(isnsd.list('portal-groups'), 'Portal group name')).toEqual(expect.arrayContaining(['iqn.2026-11.dev.dmsim:array1', 'iqn.2026-11.dev.dmsim:router1']));
    const dds = isnsd.list('dds');
    expect(values(dds, 'DD name').sort()).toEqual(['default:app', 'default:backup', 'default:datamover']);
    // Every DD holds all its zone's members, also those already in another DD (isnsd drops those
    // from a DD's creation; they are added by DD_ID afterwards).
    const dd = (name: string) => values(dds.split(/^Object \d+:$/m).find((o) => o.includes(`DD name = "${name}"`)) ?? '', 'DD member iSCSI name').sort();
    expect(dd('default:backup')).toEqual(['iqn.2026-11.dev.dmsim.hosts:backup1', 'iqn.2026-11.dev.dmsim:array1', 'iqn.2026-11.dev.dmsim:router1']);
    expect(dd('default:datamover')).toEqual(['iqn.2026-11.dev.dmsim:array1', 'iqn.2026-11.dev.dmsim:router1', 'iqn.2026-11.dev.dmsim:router1.dm']);
    expect(dd('default:app')).toEqual(['iqn.2026-11.dev.dmsim.hosts:app1', 'iqn.2026-11.dev.dmsim:array1']);

    const exited = new Promise<number | null>((r) => router!.once('exit', r));
    router.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(values(isnsd.list('nodes'), 'iSCSI name')).toEqual(['isns.control']);
    // DDs stay (no process deletes them; reference §6).
    expect(values(isnsd.list('dds'), 'DD name')).toHaveLength(3);
  }, 60_000);

  it('starts while the server is down and registers once it is up', async () => {
    // Pick the port isnsd will use, start the router against it first.
    const first = await startIsnsd();
    const port = first.port;
    await first.stop();
    router = startRouter(port);
    await waitForLog(router, 'router ready');
    await waitForLog(router, 'iSNS server unreachable; retrying');
    isnsd = await startIsnsd({ port });
    await waitForLog(router, 'registered with iSNS server', 20_000);
    await until(() => values(isnsd!.list('nodes'), 'iSCSI name').includes('iqn.2026-11.dev.dmsim:router1'), 5000);
  }, 60_000);
});
