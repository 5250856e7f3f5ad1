/**
 * libiscsi's iscsi-test-cu on a snapshot LU (snapshot.md §4): the read-side families pass on it as
 * on any disk (MODE SENSE says WP = 1, so libiscsi knows it is read-only), and ReadOnly.ReadOnlySBC
 * sends every medium-changing command and accepts only DATA PROTECT 27h.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools } from '../helpers/require-tool.js';
import { INITIATOR_1, INITIATOR_2, listTests, runTestCu, type CuResult } from './libiscsi.js';
import { startLabTarget, type LabTarget } from './lab-target.js';

const ok = requireTools('iscsi-test-cu on a snapshot LU', 'iscsi-test-cu');
const PATTERNS = ['TestUnitReady', 'Inquiry', 'ReadCapacity10', 'ReadCapacity16', 'ModeSense6', 'Read6', 'Read10', 'Read12', 'Read16', 'Verify10', 'Verify12', 'Verify16', 'ReadOnly'];
const all = ok ? listTests() : [];
const names = all.filter((t) => PATTERNS.some((p) => new RegExp(`^SCSI\\.${p}\\.`).test(t)));

/**
 * Skips that are right for a snapshot LU, with libiscsi's message. A snapshot is fully provisioned
 * by decision (READ CAPACITY(16) LBPME = 0, snapshot.md §6): libiscsi then skips the Block Limits
 * provisioning checks, and ReadOnlySBC leaves out UNMAP (it sends UNMAP only to a thin LU) while
 * every other write-side command it sends must get DATA PROTECT 27h (a wrong answer is FAILED).
 */
const ALLOWED_SKIPS: Array<{ test: string; message: RegExp }> = [
  { test: 'SCSI.Inquiry.BlockLimits', message: /^\s*\[SKIPPED\] Logical unit is fully provisioned\. Skipping test\s*$/ },
  { test: 'SCSI.ReadOnly.ReadOnlySBC', message: /^(\s*\[SKIPPED\] UNMAP is not implemented\.\s*)+$/ },
];

let lab: LabTarget;
const results = new Map<string, CuResult>();
let raw = '';

describe.skipIf(!ok)('iscsi-test-cu on a snapshot LU of array1/scratch', () => {
  beforeAll(async () => {
    lab = await startLabTarget();
    const set = await lab.runtime.snapshots.createSet({ lus: ['array1/scratch'], mapTo: [INITIATOR_1, INITIATOR_2], name: 'cu' });
    const url = lab.url('array1', set.snapshots[0]!.lun);
    for (const p of PATTERNS) {
      const r = await runTestCu(url, 'SCSI', `SCSI.${p}.*`);
      raw += r.raw;
      for (const [k, v] of r.results) results.set(k, v);
    }
  }, 600_000);
  afterAll(async () => {
    await lab?.close();
  });

  it('runs the ReadOnly suite (it needs WP = 1 to run at all)', () => {
    expect(names.some((n) => n.startsWith('SCSI.ReadOnly.'))).toBe(true);
  });
  for (const name of names) {
    it(name, () => {
      const r = results.get(name);
      if (!r) throw new Error(`${name} did not run; iscsi-test-cu said:\n${raw.slice(-2000)}`);
      if (r.status === 'skipped') {
        const allowed = ALLOWED_SKIPS.find((a) => a.test === name && a.message.test(r.log));
        expect(allowed, `unexpected skip:\n${r.log}`).toBeDefined();
        return;
      }
      expect(r.status, r.log).toBe('passed');
    });
  }
});
