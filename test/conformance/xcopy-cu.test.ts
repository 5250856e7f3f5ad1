/**
 * libiscsi's iscsi-test-cu ExtendedCopy.* and ReceiveCopyResults.* families over iSCSI against a
 * disk LU of the default lab that is its own copy manager (copy profile "disk": 02h, 07h, 0Ah,
 * E4h, MAXIMUM SEGMENT LENGTH 256 MiB), as VAAI initiators and libiscsi expect (extended-copy.md
 * §10.3). The full router profile lives on the data mover LU (PDT 03h), which cannot run these
 * SBC-based tests; on a disk LU the disk↔disk-only profile is also what makes DescrType's E0h
 * and 03h answer 26/07 and 26/09.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools } from '../helpers/require-tool.js';
import { listTests, runTestCu, type CuResult } from './libiscsi.js';
import { startLabTarget, type LabTarget } from './lab-target.js';

const ok = requireTools('iscsi-test-cu ExtendedCopy/ReceiveCopyResults', 'iscsi-test-cu');

/** array1/scratch (LUN 2): a blank 64 MiB disk with copy profile "disk". */
const DISK = { device: 'array1', lun: 2 };

const ALLOWED_SKIPS: Array<{ test: RegExp; message: RegExp; reason: string }> = [];

const all = ok ? listTests() : [];
const names = all.filter((t) => /^SCSI\.(ExtendedCopy|ReceiveCopyResults)\./.test(t));

let lab: LabTarget;

describe.skipIf(!ok)('iscsi-test-cu ExtendedCopy / ReceiveCopyResults against a disk LU', () => {
  const results = new Map<string, CuResult>();
  let raw = '';
  beforeAll(async () => {
    lab = await startLabTarget();
    const url = lab.url(DISK.device, DISK.lun);
    for (const p of ['SCSI.ExtendedCopy.*', 'SCSI.ReceiveCopyResults.*']) {
      const r = await runTestCu(url, 'SCSI', p);
      raw += r.raw;
      for (const [k, v] of r.results) results.set(k, v);
    }
  }, 600_000);
  afterAll(async () => {
    await lab?.close();
  });

  for (const name of names) {
    it(name, () => {
      const r = results.get(name);
      if (!r) throw new Error(`${name} did not run; iscsi-test-cu said:\n${raw.slice(-2000)}`);
      if (r.status === 'skipped') {
        const allowed = ALLOWED_SKIPS.find((a) => a.test.test(name) && a.message.test(r.log));
        expect(allowed, `unexpected skip:\n${r.log}`).toBeDefined();
        return;
      }
      expect(r.status, r.log).toBe('passed');
    });
  }
});
