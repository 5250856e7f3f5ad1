import { describe, expect, it } from 'vitest';
import { parseTestCu } from './libiscsi.js';

const SAMPLE = `Suite: iSCSIResiduals
  Test: Read10Invalid ...passed
  Test: Read12Residuals ...    [SKIPPED] READ12 is not implemented on this target.
passed
  Test: Write10Residuals ...    First block did not contain expected 'b'
FAILED
    1. test_write10_residuals.c:89  - CU_ASSERT_EQUAL(task->status,SCSI_STATUS_GOOD)
    2. test_write10_residuals.c:378  - CU_FAIL("Block was not written correctly")
  Test: DataSn ...    [FAILED] WRITE10 command failed with status 251658241
    [FAILED] WRITE10 command failed with status 251658241
passed    [SKIPPED] PERSISTENT RESERVE IN is not implemented.
Suite: Reserve6
  Test: LUNReset ...passed    [FAILED] PRIN command: failed with sense.
  Test: Last ...FAILED
    1. x.c:1 - CU_FAIL
Run Summary:    Type  Total    Ran Passed Failed Inactive
`;

describe('iscsi-test-cu output parser', () => {
  it('reads verdicts, skips and failed asserts per test', () => {
    const r = parseTestCu(SAMPLE, 'iSCSI');
    expect([...r.entries()].map(([k, v]) => [k, v.status])).toEqual([
      ['iSCSI.iSCSIResiduals.Read10Invalid', 'passed'],
      ['iSCSI.iSCSIResiduals.Read12Residuals', 'skipped'],
      ['iSCSI.iSCSIResiduals.Write10Residuals', 'failed'],
      ['iSCSI.iSCSIResiduals.DataSn', 'passed'],
      ['iSCSI.Reserve6.LUNReset', 'passed'],
      ['iSCSI.Reserve6.Last', 'failed'],
    ]);
    expect(r.get('iSCSI.iSCSIResiduals.Write10Residuals')!.log).toContain('Block was not written correctly');
  });
});
