/**
 * CSCD resolution: CSCD ID → an LU the data mover may use (extended-copy.md §4, §12.1 step 13, §12.4).
 * Only `CscdScope.candidates()` is searched — the LUs both the application client and the data
 * mover's port may access — so naming anything else answers COPY ABORTED 0D/02 exactly as a
 * non-existent LU does.
 */
import { ScsiStatus } from '../../src/scsi/status.js';
import { decodeDeviceIdPage, inquiryRequest, VpdPage } from '../../src/scsi/inquiry.js';
import {
  BLOCK_PDTS,
  CscdId,
  CscdType,
  STREAM_PDT,
  cscdOffset,
  decodeLun,
  type CscdDescriptor,
  type CscdDesignator,
  type DeviceTypeParams,
} from '../../src/scsi/xcopy.js';
import type { ITNexus, LuIdentity } from '../router/task.js';
import { CscdDevice } from './cscd-device.js';
import type { CscdCandidate, CscdScope, InitiatorPort } from './environment.js';
import { Abort } from './errors.js';

export type CscdKind = 'block' | 'stream';

/** Designators an LU answers to: its VPD 83h page (INQUIRY through the data mover's port), else the NAA of its identity. */
async function designatorsOf(port: InitiatorPort, c: CscdCandidate, signal: AbortSignal): Promise<CscdDesignator[]> {
  const fromIdentity: CscdDesignator[] = [{ codeSet: 1, association: 0, designatorType: 3, value: c.identity.naa }];
  const req = inquiryRequest({ evpd: true, pageCode: VpdPage.DEVICE_ID, allocationLength: 0x1000 });
  const r = await port.command(c.targetPort, c.lun, req.cdb, { dataInLength: req.length, signal }).catch(() => undefined);
  if (!r || r.status !== ScsiStatus.GOOD) return fromIdentity;
  try {
    const ds = decodeDeviceIdPage(r.dataIn).map((d) => ({ codeSet: d.codeSet, association: d.association, designatorType: d.type, value: d.value }));
    return ds.length ? ds : fromIdentity;
  } catch {
    return fromIdentity;
  }
}

const sameDesignator = (a: CscdDesignator, b: CscdDesignator) =>
  a.codeSet === b.codeSet && a.association === b.association && a.designatorType === b.designatorType && a.value.equals(b.value);

export class CscdResolver {
  private candidates: CscdCandidate[] | undefined;
  private readonly designators = new Map<CscdCandidate, Promise<CscdDesignator[]>>();
  private readonly devices = new Map<number, Promise<CscdDevice>>();

  constructor(
    private readonly port: InitiatorPort,
    private readonly scope: CscdScope,
    private readonly appClient: ITNexus,
    private readonly cscds: readonly CscdDescriptor[],
    /** The LU that received the EXTENDED COPY (CSCD ID FFFFh). */
    private readonly self: LuIdentity,
    private readonly signal: AbortSignal,
  ) {}

  /** PAD of a CSCD ID without resolving it (null LUs count as PAD=1, the SPC-4 flush idiom). */
  pad(id: number): boolean {
    if (id === CscdId.NULL_BLOCK || id === CscdId.NULL_STREAM) return true;
    const d = this.cscds[id];
    return !!d && d.params.kind !== 'raw' && d.params.pad;
  }

  /** The PERIPHERAL DEVICE TYPE a CSCD ID claims (for segment/device-type compatibility). */
  kindOf(id: number): CscdKind | 'other' {
    if (id === CscdId.NULL_BLOCK) return 'block';
    if (id === CscdId.NULL_STREAM) return 'stream';
    if (id === CscdId.COPY_MANAGER_LU) return BLOCK_PDTS.has(this.self.deviceType) ? 'block' : this.self.deviceType === STREAM_PDT ? 'stream' : 'other';
    const d = this.cscds[id];
    if (!d) return 'other';
    return d.params.kind === 'block' ? 'block' : d.params.kind === 'stream' ? 'stream' : 'other';
  }

  /** The descriptor offset to point at for CSCD `id`. */
  pointer(id: number): number | undefined {
    return id < 0x800 && id < this.cscds.length ? cscdOffset(id) : undefined;
  }

  /** Static part of the checks (no I/O): the ID names something (08/04) of a fitting type (26/0C). */
  check(id: number, kind: CscdKind | 'any', segPtr: number): void {
    const special = id === CscdId.NULL_BLOCK || id === CscdId.NULL_STREAM || id === CscdId.COPY_MANAGER_LU;
    if (!special && (id >= 0x800 || !this.cscds[id])) throw Abort.unreachable(segPtr);
    if (kind !== 'any' && this.kindOf(id) !== kind) throw Abort.invalidOperation(segPtr);
  }

  /**
   * Check that CSCD `id` exists and is usable as `kind` (without I/O for null LUs when `io` is false).
   * Order as §12.1 step 13: ID → 08/04, lookup → 0D/02, PDT → 0D/03, segment fit → 26/0C.
   */
  async device(id: number, kind: CscdKind | 'any', segPtr: number): Promise<CscdDevice> {
    if (id === CscdId.NULL_BLOCK || id === CscdId.NULL_STREAM) throw Abort.unreachable(segPtr);
    const d = this.cscds[id];
    if (id !== CscdId.COPY_MANAGER_LU && (!d || id >= 0x800)) throw Abort.unreachable(segPtr);
    if (d && d.type === 0xff) throw Abort.invalidField(segPtr);
    let dev = this.devices.get(id);
    if (!dev) {
      dev = this.open(id, d);
      this.devices.set(id, dev);
    }
    const device = await dev;
    if (kind !== 'any' && this.kindOf(id) !== kind) throw Abort.invalidOperation(segPtr);
    return device;
  }

  private async open(id: number, d: CscdDescriptor | undefined): Promise<CscdDevice> {
    const ptr = this.pointer(id);
    const cands = (this.candidates ??= await this.scope.candidates(this.appClient));
    let found: CscdCandidate | undefined;
    let params: DeviceTypeParams;
    if (!d) {
      // FFFFh: the LU that received the command, if the data mover may reach it at all.
      if (!BLOCK_PDTS.has(this.self.deviceType) && this.self.deviceType !== STREAM_PDT) throw Abort.wrongDeviceType(ptr);
      found = cands.find((c) => c.identity.name === this.self.name);
      params = BLOCK_PDTS.has(this.self.deviceType) ? { kind: 'block', pad: false, blockLength: 0 } : { kind: 'stream', pad: false, fixed: false, blockLength: 0 };
    } else {
      if (d.nul) throw Abort.notReachable(ptr);
      found = await this.match(d, cands, ptr);
      params = d.params;
    }
    if (!found) throw Abort.notReachable(ptr);
    const claimed = d ? d.pdt : found.identity.deviceType;
    if (found.identity.deviceType !== claimed) throw Abort.wrongDeviceType(ptr);
    const dev = new CscdDevice(this.port, found, ptr, params, this.signal);
    if (BLOCK_PDTS.has(claimed)) {
      await dev.readCapacity();
      if (params.kind === 'block' && params.blockLength !== 0 && params.blockLength !== dev.blockLength) {
        throw Abort.invalidField(ptr !== undefined ? ptr + 29 : undefined);
      }
    }
    return dev;
  }

  private async match(d: CscdDescriptor, cands: CscdCandidate[], ptr: number | undefined): Promise<CscdCandidate | undefined> {
    const lun = d.lun ? decodeLun(d.lun) : undefined;
    switch (d.type) {
      case CscdType.IDENTIFICATION: {
        const want = d.designator!;
        for (const c of cands) {
          let p = this.designators.get(c);
          if (!p) {
            p = designatorsOf(this.port, c, this.signal);
            this.designators.set(c, p);
          }
          if ((await p).some((g) => sameDesignator(g, want))) return c;
        }
        return undefined;
      }
      case CscdType.FC_N_PORT_NAME:
        return cands.find((c) => c.targetPort === d.nPortName && c.lun === lun);
      case CscdType.FC_N_PORT_ID:
        return cands.find((c) => c.nportId === d.nPortId && c.lun === lun);
      case CscdType.FC_N_PORT_ID_WITH_NAME: {
        const byId = cands.filter((c) => c.nportId === d.nPortId);
        // The D_ID must belong to the named N_Port; a mismatch is an unreachable CSCD.
        if (byId.length && !byId.some((c) => c.targetPort === d.nPortName)) throw Abort.notReachable(ptr);
        return byId.find((c) => c.lun === lun);
      }
      default:
        return undefined;
    }
  }
}
