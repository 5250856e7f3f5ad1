/**
 * What the NDMP server reaches on its router: the tape drives (TAPE service), the media changers
 * (SCSI service) and the disk LUs holding FAT volumes (DATA service). All commands go through
 * the router's NDMP initiator port (LabRuntime.ndmpPort), so zoning, masking, reservations and
 * unit attentions apply as to any initiator. A device belongs to at most one session at a time.
 */
import type { TapeDrive } from '../../firmware-sim/devices/tape/drive.js';
import type { InProcessPort } from '../../firmware-sim/fabric/in-process-port.js';
import type { LabRuntime } from '../../firmware-sim/lab/build.js';
import type { ScsiResult } from '../../firmware-sim/router/task.js';

export interface NdmpTape {
  /** NDMP device name: the lab drive name (`tape0`). */
  name: string;
  lun: number;
  drive: TapeDrive;
  model: string;
}
export interface NdmpChanger {
  name: string;
  lun: number;
  model: string;
}
export interface NdmpDisk {
  /** LU name within its device (`fat`). */
  name: string;
  /** "device/lu" */
  ref: string;
  targetPort: string;
  lun: number;
}

export class NdmpDevices {
  readonly port: InProcessPort;
  /** The router's first target port: the drives and changers answer behind it. */
  readonly routerPort: string;
  private readonly owners = new Map<string, object>();

  constructor(
    readonly runtime: LabRuntime,
    readonly router: string,
  ) {
    this.port = runtime.ndmpPort(router);
    const r = runtime.config.routers.find((x) => x.name === router)!;
    this.routerPort = r.ports[0]!.wwpn;
  }

  tapes(): NdmpTape[] {
    return this.runtime
      .drives()
      .filter((d) => d.router === this.router)
      .map((d) => ({ name: d.name.slice(this.router.length + 1), lun: d.lun, drive: d.drive, model: `${d.drive.identity.vendor.trim()} ${d.drive.identity.product.trim()}` }));
  }

  changers(): NdmpChanger[] {
    return this.runtime
      .lus()
      .filter((l) => l.device === this.router && l.kind === 'changer')
      .map((l) => ({ name: l.name.slice(this.router.length + 1), lun: l.lun, model: `${l.lu.identity.vendor.trim()} ${l.lu.identity.product.trim()}` }));
  }

  /** Disk LUs this port may see (masking decides), in lab order. */
  disks(): NdmpDisk[] {
    return this.runtime
      .lus()
      .filter((l) => l.kind === 'disk' && l.targetPorts.some((t) => this.runtime.fabric.canReach(this.port.wwpn, t)))
      .map((l) => ({ name: l.name.slice(l.device.length + 1), ref: l.name, targetPort: l.targetPorts[0]!, lun: l.lun }));
  }

  /** Claim a device for a session; false when another session holds it. */
  claim(name: string, owner: object): boolean {
    const cur = this.owners.get(name);
    if (cur && cur !== owner) return false;
    this.owners.set(name, owner);
    return true;
  }
  release(name: string, owner: object): void {
    if (this.owners.get(name) === owner) this.owners.delete(name);
  }

  exec(lun: number, cdb: Buffer, opts: { dataOut?: Buffer; dataInLength?: number; targetPort?: string } = {}): Promise<ScsiResult> {
    return this.port.command(opts.targetPort ?? this.routerPort, lun, cdb, {
      dataInLength: opts.dataInLength ?? 0,
      ...(opts.dataOut ? { dataOut: opts.dataOut } : {}),
    });
  }
}
