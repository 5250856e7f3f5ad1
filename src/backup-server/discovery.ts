/**
 * Discovery: REPORT LUNS on every reachable target, INQUIRY + VPD 83h on each LU, and for copy
 * managers (3PC=1) VPD 8Fh + OPERATING PARAMETERS. Classifies LUs into data movers (3PC and
 * stream segment types), disks and tape drives.
 */
import { Association, DesignatorType, labNameOf } from '../scsi/inquiry.js';
import type { OperatingParameters } from '../scsi/receive-copy-results.js';
import type { ThirdPartyCopyVpd } from '../scsi/third-party-copy-vpd.js';
import { CommandFailed, ScsiClient } from './scsi-client.js';
import type { CopyLimits } from './plan/compile.js';

export interface DiscoveredLu {
  target: string;
  targetLabel?: string;
  lun: number;
  deviceType: number;
  vendor: string;
  product: string;
  revision: string;
  threePC: boolean;
  /** NAA designator (association LU), hex. */
  naa?: string;
  /** The router's own name for the LU ("array1/fat"), from its VPD 83h lab-name designator. */
  labName?: string;
  kind: 'disk' | 'tape' | 'data-mover' | 'other';
  blocks?: number;
  blockSize?: number;
  copy?: OperatingParameters;
  /** Third-party Copy VPD page (8Fh) as the copy manager reports it. */
  tpc?: ThirdPartyCopyVpd;
}

export interface DiscoveryReport {
  lus: DiscoveredLu[];
  errors: string[];
}

const STREAM_CODES = [0x00, 0x01, 0x04];

export async function discover(client: ScsiClient): Promise<DiscoveryReport> {
  const lus: DiscoveredLu[] = [];
  const errors: string[] = [];
  for (const t of await client.transport.listTargets()) {
    let luns: number[];
    try {
      luns = await client.reportLuns(t.id);
    } catch (e) {
      errors.push(`${t.id}: ${(e as Error).message}`);
      continue;
    }
    for (const lun of luns) {
      try {
        const inq = await client.inquiry(t.id, lun);
        if (inq.qualifier !== 0) continue;
        const ids = await client.deviceIds(t.id, lun).catch(() => []);
        const naa = ids.find((d) => d.association === Association.LU && d.type === DesignatorType.NAA)?.value.toString('hex');
        const labName = labNameOf(ids);
        const lu: DiscoveredLu = {
          target: t.id, ...(t.label !== undefined ? { targetLabel: t.label } : {}), lun, deviceType: inq.deviceType,
          vendor: inq.vendor.trim(), product: inq.product.trim(), revision: inq.revision.trim(), threePC: inq.threePC,
          ...(naa !== undefined ? { naa } : {}), ...(labName !== undefined ? { labName } : {}), kind: inq.deviceType === 0 ? 'disk' : inq.deviceType === 1 ? 'tape' : 'other',
        };
        if (inq.deviceType === 0) Object.assign(lu, await client.readCapacity(t.id, lun).catch(() => ({})));
        if (inq.threePC) {
          lu.tpc = await client.thirdPartyCopyVpd(t.id, lun).catch(() => undefined);
          try {
            lu.copy = await client.operatingParameters(t.id, lun);
            if (inq.deviceType !== 0 && STREAM_CODES.every((c) => lu.copy!.implementedCodes.includes(c))) lu.kind = 'data-mover';
          } catch (e) {
            if (!(e instanceof CommandFailed)) throw e;
            // No OPERATING PARAMETERS: the same limits come from VPD 8Fh.
            if (lu.tpc) lu.copy = operatingParametersFromVpd(lu.tpc);
          }
          if (lu.kind === 'other' && lu.copy && STREAM_CODES.every((c) => lu.copy!.implementedCodes.includes(c))) lu.kind = 'data-mover';
        }
        lus.push(lu);
      } catch (e) {
        errors.push(`${t.id} LUN ${lun}: ${(e as Error).message}`);
      }
    }
  }
  return { lus, errors };
}

export function operatingParametersFromVpd(v: ThirdPartyCopyVpd): OperatingParameters {
  return {
    snlid: false,
    maxCscdCount: v.parameterData.maxCscdCount,
    maxSegmentCount: v.parameterData.maxSegmentCount,
    maxDescriptorListLength: v.parameterData.maxDescriptorListLength,
    maxSegmentLength: v.generalCopyOperations.maxSegmentLength,
    maxInlineDataLength: v.parameterData.maxInlineDataLength,
    heldDataLimit: v.heldData?.heldDataLimit ?? 0,
    maxStreamTransferSize: v.streamCopyOperations?.maxStreamTransferSize ?? 0,
    totalConcurrentCopies: v.generalCopyOperations.totalConcurrentCopies,
    maxConcurrentCopies: v.generalCopyOperations.maxIdentifiedConcurrentCopies,
    dataSegmentGranularity: v.generalCopyOperations.dataSegmentGranularity,
    inlineDataGranularity: v.generalCopyOperations.inlineDataGranularity,
    heldDataGranularity: v.heldData?.heldDataGranularity ?? 0,
    implementedCodes: v.supportedDescriptors,
  };
}

export function copyLimits(op: OperatingParameters): CopyLimits {
  return {
    maxCscdCount: op.maxCscdCount,
    maxSegmentCount: op.maxSegmentCount,
    maxDescriptorListLength: op.maxDescriptorListLength,
    maxInlineDataLength: op.maxInlineDataLength,
    maxStreamTransferSize: op.maxStreamTransferSize,
    maxSegmentLength: op.maxSegmentLength,
    supported: new Set(op.implementedCodes),
  };
}

export function formatDiscovery(r: DiscoveryReport): string {
  const rows = r.lus.map((l) => {
    const size = l.blocks !== undefined ? ` ${((l.blocks * (l.blockSize ?? 0)) / 1048576).toFixed(0)} MiB/${l.blockSize}B` : '';
    const copy = l.copy ? ` 3PC segs≤${l.copy.maxSegmentCount} inline≤${l.copy.maxInlineDataLength}` : '';
    return `  ${l.kind.padEnd(10)} ${(l.targetLabel ?? l.target).padEnd(10)} ${l.target} LUN ${l.lun}  ${l.vendor} ${l.product}${size}${copy}${l.naa ? `  naa.${l.naa}` : ''}`;
  });
  return [...rows, ...r.errors.map((e) => `  error: ${e}`)].join('\n');
}
