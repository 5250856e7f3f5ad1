/**
 * Conformance tests need real clients (libiscsi-bin, simh, GNU tar...). Locally a missing tool
 * skips the suite loudly; in CI (DMSIM_REQUIRE_CONFORMANCE=1) a missing tool is a failure.
 */
import { spawnSync } from 'node:child_process';

export function haveTool(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Returns true when every tool is present. Otherwise: throws under DMSIM_REQUIRE_CONFORMANCE=1,
 * or prints a loud warning and returns false so the caller can `describe.skipIf(!ok)`.
 */
export function requireTools(suite: string, ...cmds: string[]): boolean {
  const missing = cmds.filter((c) => !haveTool(c));
  if (!missing.length) return true;
  const msg = `${suite}: missing ${missing.join(', ')} (Debian: libiscsi-bin, simh, sg3-utils, tar)`;
  if (process.env.DMSIM_REQUIRE_CONFORMANCE === '1') throw new Error(`${msg}; DMSIM_REQUIRE_CONFORMANCE=1 forbids skipping`);
  console.warn(`\n*** SKIPPING ${msg} ***\n`);
  return false;
}
