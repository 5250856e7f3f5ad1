/**
 * Turns a validated lab into a running one (work in progress: waits for the fabric module).
 */
import path from 'node:path';
import type { Logger } from '../../src/log.js';
import type { LabConfig } from './config.js';

export interface BuildOptions {
  dataDir?: string;
  log?: Logger;
}

export interface LabRuntime {
  readonly config: LabConfig;
  readonly dataDir: string;
  close(): Promise<void>;
}

export async function buildLab(config: LabConfig, opts: BuildOptions = {}): Promise<LabRuntime> {
  const dataDir = path.resolve(opts.dataDir ?? 'data');
  return { config, dataDir, close: async () => {} };
}
