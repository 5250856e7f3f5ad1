/** The default lab built in a fresh temporary data directory, and how to tear it down. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildLab, type LabRuntime } from '../../firmware-sim/lab/build.js';
import { loadDefaultLab } from '../../firmware-sim/lab/load.js';
import { silentLogger } from '../../src/log.js';

export async function tempDefaultLab(prefix: string): Promise<{ rt: LabRuntime; dataDir: string; close(): Promise<void> }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), `dmsim-${prefix}-`));
  const rt = await buildLab(await loadDefaultLab(), { dataDir, log: silentLogger() });
  return {
    rt,
    dataDir,
    async close() {
      await rt.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
