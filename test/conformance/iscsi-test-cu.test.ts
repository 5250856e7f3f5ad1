/**
 * libiscsi's iscsi-test-cu against the default lab through the dmsim iSCSI target: one vitest
 * `it` per libiscsi test, so every failure is visible by name. A libiscsi [SKIPPED] is a failure
 * unless it is listed in ALLOWED_SKIPS below with the reason the feature is not meant to be there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools } from '../helpers/require-tool.js';
import { listTests, runTestCu, type CuResult } from './libiscsi.js';
import { startLabTarget, type LabTarget } from './lab-target.js';

const ok = requireTools('iscsi-test-cu conformance', 'iscsi-test-cu');

/** Disk under test: array1/scratch (LUN 2), a blank 64 MiB disk no other suite relies on. */
const DISK = { device: 'array1', lun: 2 };

/**
 * Skips that are correct for the default lab, with the skip message libiscsi must print.
 * Anything else that skips fails.
 */
const ALLOWED_SKIPS: Array<{ test: RegExp; message: RegExp; reason: string }> = [
  {
    test: /^SCSI\.PreventAllow\./,
    message: /not removable/,
    reason: 'the default lab’s disk LUs are fixed disks (RMB=0); PREVENT ALLOW MEDIUM REMOVAL applies to removable media',
  },
  {
    test: /^SCSI\.StartStopUnit\./,
    message: /not removable/,
    reason: 'START STOP UNIT load/eject tests need removable media; the disk LUs are fixed (RMB=0)',
  },
  {
    test: /^SCSI\.WriteSame(10|16)\.(UnmapUnaligned|InvalidDataOutSize)$/,
    message: /LBPPB < 2/,
    reason: 'the disk LUs have one logical block per physical block (READ CAPACITY(16) exponent 0); these tests need LBPPB ≥ 2',
  },
];

/** Family groups, each run as one iscsi-test-cu invocation per -t pattern. */
const GROUPS: Array<{ name: string; family: string; patterns: string[] }> = [
  { name: 'iSCSI protocol (cmdsn, datasn, residuals, TMF)', family: 'iSCSI', patterns: ['iSCSI.*'] },
  { name: 'basic (TestUnitReady, Inquiry, ReadCapacity, ModeSense6, ReportSupportedOpcodes)', family: 'SCSI', patterns: ['TestUnitReady', 'Inquiry', 'ReadCapacity10', 'ReadCapacity16', 'ModeSense6', 'ReportSupportedOpcodes'] },
  { name: 'reads', family: 'SCSI', patterns: ['Read6', 'Read10', 'Read12', 'Read16'] },
  { name: 'writes', family: 'SCSI', patterns: ['Write10', 'Write12', 'Write16', 'WriteVerify10', 'WriteVerify12', 'WriteVerify16'] },
  { name: 'verify', family: 'SCSI', patterns: ['Verify10', 'Verify12', 'Verify16'] },
  { name: 'provisioning (WriteSame, Unmap, GetLBAStatus)', family: 'SCSI', patterns: ['WriteSame10', 'WriteSame16', 'Unmap', 'GetLBAStatus'] },
  { name: 'media (PreventAllow, StartStopUnit)', family: 'SCSI', patterns: ['PreventAllow', 'StartStopUnit'] },
  { name: 'reservations (Reserve6, Prin*, Prout*)', family: 'SCSI', patterns: ['Reserve6', 'Prin*', 'Prout*'] },
];

const all = ok ? listTests() : [];
const testsOf = (g: (typeof GROUPS)[number]): string[] =>
  g.family === 'iSCSI'
    ? all.filter((t) => t.startsWith('iSCSI.'))
    : all.filter((t) => g.patterns.some((p) => new RegExp(`^SCSI\\.${p.replace('*', '[A-Za-z0-9]*')}\\.`).test(t)));

let lab: LabTarget;

describe.skipIf(!ok)('iscsi-test-cu against a disk LU of the default lab', () => {
  beforeAll(async () => {
    lab = await startLabTarget();
  }, 120_000);
  afterAll(async () => {
    await lab?.close();
  });

  for (const g of GROUPS) {
    describe(g.name, () => {
      const results = new Map<string, CuResult>();
      let raw = '';
      beforeAll(async () => {
        const url = lab.url(DISK.device, DISK.lun);
        for (const p of g.patterns) {
          const pattern = g.family === 'iSCSI' ? p : `SCSI.${p}.*`;
          const r = await runTestCu(url, g.family, pattern);
          raw += r.raw;
          for (const [k, v] of r.results) results.set(k, v);
        }
      }, 600_000);

      for (const name of testsOf(g)) {
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
  }
});
