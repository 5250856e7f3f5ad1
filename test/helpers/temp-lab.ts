/** The default lab built in a fresh temporary data directory, and how to tear it down. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildLab, type LabRuntime } from '../../firmware-sim/lab/build.js';
import { loadDefaultLab } from '../../firmware-sim/lab/load.js';
import { buildApi, type Api } from '../../src/api/server.js';
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

/** tempDefaultLab with the management API built on it (not listening: tests use inject or listen themselves). */
export async function tempApiLab(prefix: string, token = 'test-token-0123456789'): Promise<{ rt: LabRuntime; api: Api; auth: { authorization: string }; close(): Promise<void> }> {
  const lab = await tempDefaultLab(prefix);
  const api = await buildApi(lab.rt, { token });
  return {
    rt: lab.rt,
    api,
    auth: { authorization: `Bearer ${token}` },
    async close() {
      await api.close();
      await lab.close();
    },
  };
}
