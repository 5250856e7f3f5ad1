/**
 * COPY ABORTED conditions raised while segments run (extended-copy.md §7). Executors throw
 * `CopyAbort`; the copy manager adds the segment number and residual and turns it into sense data.
 */
import { SenseKey, senseCode, type ForwardedSense, type SenseInfo } from '../../src/scsi/sense.js';

export class CopyAbort extends Error {
  /**
   * The failed CSCD command still transferred its data (CHECK CONDITION with EOM and NO SENSE: early
   * warning): it counts as completed for the residual (SPC-4 §5.17.7.4 c).
   */
  completed = false;

  constructor(
    readonly asc: number,
    readonly ascq: number,
    /** Parameter-list offset for the segment pointer (SD=0), e.g. the failing CSCD descriptor's byte 0. */
    readonly fieldPointer?: number,
    readonly forwarded: ForwardedSense[] = [],
    readonly bit?: number,
  ) {
    // Key/ASC/ASCQ in hex, two digits each, as describeSense writes them: "COPY ABORTED 0A/0D/01".
    super(`COPY ABORTED ${senseCode({ key: SenseKey.COPY_ABORTED, asc, ascq }, { wide: true, upper: true })}`);
    this.name = 'CopyAbort';
  }

  toSense(segment: number, residual: number | undefined): SenseInfo {
    return {
      key: SenseKey.COPY_ABORTED,
      asc: this.asc,
      ascq: this.ascq,
      commandSpecific: segment,
      ...(residual !== undefined ? { information: residual } : {}),
      ...(this.fieldPointer !== undefined
        ? { sks: { kind: 'segment' as const, sd: false, byte: this.fieldPointer, ...(this.bit !== undefined ? { bit: this.bit } : {}) } }
        : {}),
      ...(this.forwarded.length ? { forwarded: this.forwarded } : {}),
    };
  }
}

export const Abort = {
  unreachable: (ptr?: number) => new CopyAbort(0x08, 0x04, ptr),
  thirdPartyFailure: (ptr: number | undefined, fwd: ForwardedSense[]) => new CopyAbort(0x0d, 0x01, ptr, fwd),
  notReachable: (ptr?: number, fwd: ForwardedSense[] = [], cause?: unknown) => {
    const e = new CopyAbort(0x0d, 0x02, ptr, fwd);
    if (cause !== undefined) e.cause = cause;
    return e;
  },
  wrongDeviceType: (ptr?: number) => new CopyAbort(0x0d, 0x03, ptr),
  underrun: (ptr?: number) => new CopyAbort(0x0d, 0x04, ptr),
  overrun: (ptr?: number) => new CopyAbort(0x0d, 0x05, ptr),
  invalidField: (ptr?: number, bit?: number) => new CopyAbort(0x26, 0x00, ptr, [], bit),
  inexact: (ptr?: number) => new CopyAbort(0x26, 0x0a, ptr),
  inlineExceeded: (ptr?: number) => new CopyAbort(0x26, 0x0b, ptr),
  invalidOperation: (ptr?: number) => new CopyAbort(0x26, 0x0c, ptr),
} as const;
