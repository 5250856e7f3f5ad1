/**
 * The fuzz targets: the default lab built in a temporary data directory (real image files), the
 * opcode tables of its LUs, and a deadline helper so a hung command is a finding, not a stuck run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildLab, type LabRuntime } from '../../firmware-sim/lab/build.js';
import { loadDefaultLab } from '../../firmware-sim/lab/load.js';
import { ScsiLogicalUnit, type CommandDef } from '../../firmware-sim/lu/logical-unit.js';
import { silentLogger } from '../../src/log.js';

export const ARRAY_PORT = '500d5a0000010001';
export const ROUTER_PORT = '500d5a0000020001';
export const DATA_MOVER_PORT = '500d5a0000020002';

export interface FuzzLu {
  /** "device/lu" */
  name: string;
  targetPort: string;
  lun: number;
  commands: CommandDef[];
}

export interface FuzzLab {
  rt: LabRuntime;
  dataDir: string;
  lus: FuzzLu[];
  close(): Promise<void>;
}

export async function buildFuzzLab(prefix = 'dmsim-fuzz-'): Promise<FuzzLab> {
  const dataDir = await mkdtemp(path.join(tmpdir(), prefix));
  const rt = await buildLab(await loadDefaultLab(), { dataDir, log: silentLogger() });
  const lus: FuzzLu[] = [];
  for (const e of rt.lus()) {
    if (!(e.lu instanceof ScsiLogicalUnit)) continue;
    const device = e.name.split('/')[0];
    lus.push({ name: e.name, targetPort: device === 'array1' ? ARRAY_PORT : ROUTER_PORT, lun: e.lun, commands: e.lu.commands });
  }
  return {
    rt,
    dataDir,
    lus,
    async close() {
      await rt.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export class HangError extends Error {
  constructor(what: string, ms: number) {
    super(`no answer within ${ms} ms: ${what}`);
    this.name = 'HangError';
  }
}

/** Resolve with `p`, or reject with HangError after `ms` (the timer never keeps the process alive). */
export function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new HangError(what(), ms)), ms);
    t.unref();
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export const hex = (b: Uint8Array | undefined): string => (b ? Buffer.from(b).toString('hex') : '-');
