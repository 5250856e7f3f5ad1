/**
 * Copy-manager profiles: what one LU's copy manager advertises and accepts. The implemented-code set
 * here is the single source for the parser (XcopyPolicy), OPERATING PARAMETERS and VPD 8Fh, so the
 * three can never disagree (extended-copy.md §12.5).
 *
 * - full:   the data mover LU. Every segment type dmsim implements, FC and identification CSCDs.
 * - disk:   a disk LU that is its own copy manager (VAAI / libiscsi style): disk↔disk only
 *           (02h, 07h, 0Ah, E4h) with a non-zero MAXIMUM SEGMENT LENGTH so libiscsi's
 *           ExtendedCopy.Large runs; E0h/03h therefore answer 26/07 and 26/09 (libiscsi DescrType).
 * - vmware: the narrow profile of LIO-era arrays that ESXi's "Full Copy" expects: E4h + 02h only,
 *           two CSCDs and one segment per command, no inline or held data. For initiators that
 *           probe OPERATING PARAMETERS and fall back when anything unusual is listed.
 */
import type { OperatingParameters } from '../../src/scsi/receive-copy-results.js';
import type { XcopyPolicy } from '../../src/scsi/xcopy.js';
import type { ThirdPartyCopyVpd } from '../../src/scsi/third-party-copy-vpd.js';
import { CscdId } from '../../src/scsi/xcopy.js';
import { SpcOp } from '../../src/scsi/spc.js';

export type CopyProfileName = 'full' | 'disk' | 'vmware';

export interface CopyProfile extends XcopyPolicy {
  name: CopyProfileName;
  maxSegmentLength: number;
  maxStreamTransferSize: number;
  totalConcurrentCopies: number;
  maxConcurrentCopies: number;
  /** RECEIVE COPY RESULTS service actions offered (RECEIVE DATA only with held data). */
  rcrServiceActions: number[];
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

const FULL_CODES = [...range(0x00, 0x15), 0xe0, 0xe1, 0xe2, 0xe4];

/** The disk and vmware profiles' shared limits: block segments only, no inline, held or stream data. */
const BLOCK_ONLY_LIMITS = {
  maxSegmentLength: 268435456,
  maxInlineDataLength: 0,
  heldDataLimit: 0,
  maxStreamTransferSize: 0,
  totalConcurrentCopies: 16,
  maxConcurrentCopies: 16,
} as const;

export const PROFILES: Record<CopyProfileName, CopyProfile> = {
  full: {
    name: 'full',
    maxCscdCount: 16,
    maxSegmentCount: 256,
    maxDescriptorListLength: 16384,
    maxSegmentLength: 0,
    maxInlineDataLength: 65536,
    heldDataLimit: 65536,
    maxStreamTransferSize: 1048576,
    totalConcurrentCopies: 16,
    maxConcurrentCopies: 16,
    supported: new Set(FULL_CODES),
    rcrServiceActions: [0x00, 0x01, 0x03, 0x04],
  },
  disk: {
    name: 'disk',
    maxCscdCount: 16,
    maxSegmentCount: 256,
    maxDescriptorListLength: 16384,
    ...BLOCK_ONLY_LIMITS,
    supported: new Set([0x02, 0x07, 0x0a, 0xe4]),
    rcrServiceActions: [0x00, 0x03, 0x04],
  },
  vmware: {
    name: 'vmware',
    maxCscdCount: 2,
    maxSegmentCount: 1,
    maxDescriptorListLength: 1024,
    ...BLOCK_ONLY_LIMITS,
    supported: new Set([0x02, 0xe4]),
    rcrServiceActions: [0x00, 0x03, 0x04],
  },
};

export const SUPPORTED_CSCD_IDS = [CscdId.NULL_BLOCK, CscdId.NULL_STREAM, CscdId.COPY_MANAGER_LU];

export function hasStreamTypes(p: CopyProfile): boolean {
  return [0x00, 0x01, 0x03, 0x04, 0x05, 0x06, 0x08, 0x09].some((c) => p.supported.has(c));
}

export function operatingParameters(p: CopyProfile): OperatingParameters {
  return {
    snlid: true,
    maxCscdCount: p.maxCscdCount,
    maxSegmentCount: p.maxSegmentCount,
    maxDescriptorListLength: p.maxDescriptorListLength,
    maxSegmentLength: p.maxSegmentLength,
    maxInlineDataLength: p.maxInlineDataLength,
    heldDataLimit: p.heldDataLimit,
    maxStreamTransferSize: p.maxStreamTransferSize,
    totalConcurrentCopies: p.totalConcurrentCopies,
    maxConcurrentCopies: p.maxConcurrentCopies,
    dataSegmentGranularity: 0,
    inlineDataGranularity: 0,
    heldDataGranularity: 0,
    implementedCodes: [...p.supported].sort((a, b) => a - b),
  };
}

export function thirdPartyCopyVpd(p: CopyProfile, peripheral: number): ThirdPartyCopyVpd {
  return {
    peripheral,
    supportedCommands: [
      { opcode: SpcOp.EXTENDED_COPY, serviceActions: [0x00] },
      { opcode: SpcOp.RECEIVE_COPY_RESULTS, serviceActions: p.rcrServiceActions },
    ],
    parameterData: {
      maxCscdCount: p.maxCscdCount,
      maxSegmentCount: p.maxSegmentCount,
      maxDescriptorListLength: p.maxDescriptorListLength,
      maxInlineDataLength: p.maxInlineDataLength,
    },
    supportedDescriptors: [...p.supported].sort((a, b) => a - b),
    supportedCscdIds: SUPPORTED_CSCD_IDS,
    generalCopyOperations: {
      totalConcurrentCopies: p.totalConcurrentCopies,
      maxIdentifiedConcurrentCopies: p.maxConcurrentCopies,
      maxSegmentLength: p.maxSegmentLength,
      dataSegmentGranularity: 0,
      inlineDataGranularity: 0,
    },
    ...(hasStreamTypes(p) ? { streamCopyOperations: { maxStreamTransferSize: p.maxStreamTransferSize } } : {}),
    ...(p.heldDataLimit > 0 ? { heldData: { heldDataLimit: p.heldDataLimit, heldDataGranularity: 0 } } : {}),
  };
}
