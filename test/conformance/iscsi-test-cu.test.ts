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

/**
 * Disks under test, all on array1 and blank, no other suite relies on them:
 * - scratch (LUN 2): a fixed 64 MiB disk, one logical block per physical block;
 * - removable (LUN 5): RMB=1, for PREVENT ALLOW MEDIUM REMOVAL and START STOP UNIT (LOEJ);
 * - e512 (LUN 6): READ CAPACITY(16) LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT 3 (a 512e drive),
 *   for the WRITE SAME tests that need LBPPB >= 2.
 */
const DEVICE = 'array1';
const LUN = { scratch: 2, removable: 5, e512: 6 } as const;

/**
 * Skips that are correct for the default lab, with the skip message libiscsi must print.
 * Anything else that skips fails.
 */
const ALLOWED_SKIPS: Array<{ test: RegExp; message: RegExp; reason: string }> = [];

/**
 * Family groups, each run as one iscsi-test-cu invocation per -t pattern against one LU.
 *
 * GetLBAStatus runs on the exponent-0 disk only. libiscsi's GetLBAStatus.UnmapSingle (second
 * loop of test_get_lba_status_unmap_single.c) unmaps LBAs 0..i-1, sends GET LBA STATUS with
 * STARTING LOGICAL BLOCK ADDRESS i + 1 and expects the first descriptor to start at i + LBPPB.
 * SBC-3 requires the first LBA status descriptor to start at the LBA the CDB asked for, so a
 * conforming device answers i + 1, and the two agree only when LBPPB = 1. On the 512e disk
 * (LBPPB 8) Debian's libiscsi 1.19.0 fails exactly there ("lba offset in first descriptor does
 * not match request", line 135) while dmsim answers i + 1; Simple and BeyondEol pass on it.
 */
const GROUPS: Array<{ name: string; family: string; patterns: string[]; lun: number }> = [
  { name: 'iSCSI protocol (cmdsn, datasn, residuals, TMF)', family: 'iSCSI', patterns: ['iSCSI.*'], lun: LUN.scratch },
  { name: 'basic (TestUnitReady, Inquiry, ReadCapacity, ModeSense6, ReportSupportedOpcodes)', family: 'SCSI', patterns: ['TestUnitReady', 'Inquiry', 'ReadCapacity10', 'ReadCapacity16', 'ModeSense6', 'ReportSupportedOpcodes'], lun: LUN.scratch },
  { name: 'reads', family: 'SCSI', patterns: ['Read6', 'Read10', 'Read12', 'Read16'], lun: LUN.scratch },
  { name: 'writes', family: 'SCSI', patterns: ['Write10', 'Write12', 'Write16', 'WriteVerify10', 'WriteVerify12', 'WriteVerify16'], lun: LUN.scratch },
  { name: 'verify', family: 'SCSI', patterns: ['Verify10', 'Verify12', 'Verify16'], lun: LUN.scratch },
  { name: 'provisioning on a 512e disk, LBPPB 8 (WriteSame, Unmap)', family: 'SCSI', patterns: ['WriteSame10', 'WriteSame16', 'Unmap'], lun: LUN.e512 },
  { name: 'provisioning on a 1:1 disk (GetLBAStatus)', family: 'SCSI', patterns: ['GetLBAStatus'], lun: LUN.scratch },
  { name: 'media on a removable disk (PreventAllow, StartStopUnit)', family: 'SCSI', patterns: ['PreventAllow', 'StartStopUnit'], lun: LUN.removable },
  { name: 'reservations (Reserve6, Prin*, Prout*)', family: 'SCSI', patterns: ['Reserve6', 'Prin*', 'Prout*'], lun: LUN.scratch },
];

const all = ok ? listTests() : [];
const testsOf = (g: (typeof GROUPS)[number]): string[] =>
  g.family === 'iSCSI'
    ? all.filter((t) => t.startsWith('iSCSI.'))
    : all.filter((t) => g.patterns.some((p) => new RegExp(`^SCSI\\.${p.replace('*', '[A-Za-z0-9]*')}\\.`).test(t)));

let lab: LabTarget;

describe.skipIf(!ok)('iscsi-test-cu against disk LUs of the default lab', () => {
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
        const url = lab.url(DEVICE, g.lun);
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
