/**
 * vitest globalSetup: every temporary file of a test run goes under one directory, removed when the
 * run ends. Suites make images, cartridges, catalogs and labs with mkdtemp(tmpdir()), some of them
 * hundreds of megabytes; a run that fails or is stopped half way must not leave them behind in /tmp
 * either, so the next run sweeps up what an interrupted one left.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PREFIX = 'dmsim-test-run-';
/** A run directory older than this belongs to a run that did not finish (CI stops at 90 min). */
const STALE_MS = 3 * 60 * 60 * 1000;

export default function setup(): () => void {
  const base = tmpdir();
  for (const name of readdirSync(base)) {
    if (!name.startsWith(PREFIX)) continue;
    try {
      if (Date.now() - statSync(join(base, name)).mtimeMs > STALE_MS) rmSync(join(base, name), { recursive: true, force: true });
    } catch {
      /* another run's directory going away under us */
    }
  }
  const dir = mkdtempSync(join(base, PREFIX));
  // Workers and the CLI processes tests spawn inherit it; os.tmpdir() reads TMPDIR on every call.
  process.env.TMPDIR = dir;
  return () => {
    process.env.TMPDIR = base;
    rmSync(dir, { recursive: true, force: true });
  };
}
