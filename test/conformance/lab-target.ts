/**
 * The real thing for conformance runs: the default lab's runtime (fabric, router, array, disks,
 * tapes) behind the iSCSI target on a free port, data in a temporary directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildLab, type LabRuntime } from '../../firmware-sim/lab/build.js';
import { loadDefaultLab } from '../../firmware-sim/lab/load.js';
import { startIscsiTarget, type IscsiTarget } from '../../src/iscsi/target/index.js';

export interface LabTarget {
  runtime: LabRuntime;
  target: IscsiTarget;
  portal: string;
  /** iSCSI URL of "device/lun", e.g. url('array1', 2). */
  url(device: string, lun: number): string;
  iqn(device: string): string;
  close(): Promise<void>;
}

export async function startLabTarget(): Promise<LabTarget> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'dmsim-conformance-'));
  const runtime = await buildLab(await loadDefaultLab(), { dataDir });
  const target = await startIscsiTarget({ dispatcher: runtime.fabric, directory: runtime.directory, host: '127.0.0.1', port: 0 });
  const portal = `127.0.0.1:${target.port}`;
  const iqn = (device: string): string => {
    const n = runtime.directory.targetNodes().find((t) => t.iqn.endsWith(`:${device}`));
    if (!n) throw new Error(`no target node for ${device}`);
    return n.iqn;
  };
  return {
    runtime,
    target,
    portal,
    iqn,
    url: (device, lun) => `iscsi://${portal}/${iqn(device)}/${lun}`,
    async close() {
      await target.close();
      await runtime.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
