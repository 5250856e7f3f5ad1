/**
 * `npm run bench`: every benchmark, one after another (they would skew each other in parallel on a
 * 2-core box), each as its own process with its own baseline measured in the same run:
 * bench:disk (SCSI disk path vs bare pread/pwrite), bench:iscsi (dmsim vs tgtd, same libiscsi
 * client), bench:xcopy (server-free disk-to-tape copy vs dd). Environment variables pass through.
 */
import { spawnSync } from 'node:child_process';

const benches = ['bench/disk.ts', 'bench/iscsi.ts', 'bench/xcopy.ts', 'bench/library.ts'];
let failed = 0;
for (const b of benches) {
  console.log(`\n===== ${b}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', b], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`===== ${b} failed (exit ${r.status ?? r.signal})`);
  }
}
process.exit(failed ? 1 : 0);
