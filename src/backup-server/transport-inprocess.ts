/**
 * ScsiTransport over an InProcessPort on the virtual fabric: the backup server logs in as its own
 * host port, so zoning, masking and reservations treat it like any other initiator.
 */
import type { Fabric } from '../../firmware-sim/fabric/fabric.js';
import { InProcessPort } from '../../firmware-sim/fabric/in-process-port.js';
import type { CommandOptions, CommandResult } from '../scsi/command.js';
import { countCommand, newStats, type PortStats, type ScsiTransport, type TransportTarget } from './transport.js';

export class InProcessTransport implements ScsiTransport {
  readonly stats: PortStats = newStats();
  readonly initiatorId: string;

  constructor(readonly port: InProcessPort) {
    this.initiatorId = port.wwpn;
  }

  static login(fabric: Fabric, wwpn: string, wwnn: string): InProcessTransport {
    return new InProcessTransport(new InProcessPort(fabric, { wwpn, wwnn, owner: 'backup-server' }));
  }

  async listTargets(): Promise<TransportTarget[]> {
    return this.port.targets().map((t) => ({ id: t.wwpn, ...(t.owner !== undefined ? { label: t.owner } : {}) }));
  }

  async command(target: string, lun: number, cdb: Buffer, opts: CommandOptions = {}): Promise<CommandResult> {
    const r = await this.port.command(target, lun, cdb, opts);
    countCommand(this.stats, cdb, opts, r);
    return r;
  }

  /** The fabric runs tasks concurrently, so one port serves as both command streams. */
  async secondary(): Promise<ScsiTransport> {
    return this;
  }

  async close(): Promise<void> {
    for (const t of this.port.targets()) this.port.logoutFrom(t.wwpn);
  }
}
