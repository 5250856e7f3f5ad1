/**
 * The one way the backup server talks SCSI: a transport sends a CDB to (target, LUN) and returns
 * status, data-in and sense. Two implementations: the in-process fabric port
 * (transport-inprocess.ts) and the iSCSI initiator (transport-iscsi.ts). Every byte that crosses
 * the backup server's port is counted here, which is how "server-free" is measured. Requests and
 * results are the shared src/scsi/command.ts shapes.
 */
import type { CommandOptions, CommandResult } from '../scsi/command.js';

export interface TransportTarget {
  /** Target port name: a WWPN (in process) or an iSCSI target name. */
  id: string;
  /** Human label (owner node, portal). */
  label?: string;
}

export interface PortStats {
  commands: number;
  /** CDB + data-out bytes sent. */
  bytesOut: number;
  /** Data-in + sense bytes received. */
  bytesIn: number;
}

export interface ScsiTransport {
  /** The backup server's own port name (WWPN or iSCSI initiator name). */
  readonly initiatorId: string;
  readonly stats: PortStats;
  listTargets(): Promise<TransportTarget[]>;
  command(target: string, lun: number, cdb: Buffer, opts?: CommandOptions): Promise<CommandResult>;
  /**
   * A second command stream to the same targets (progress polling while an EXTENDED COPY is
   * outstanding). Transports that multiplex commands may return themselves.
   */
  secondary?(): Promise<ScsiTransport>;
  close(): Promise<void>;
}

export function newStats(): PortStats {
  return { commands: 0, bytesOut: 0, bytesIn: 0 };
}

export function countCommand(stats: PortStats, cdb: Buffer, opts: CommandOptions | undefined, r: CommandResult): void {
  stats.commands++;
  stats.bytesOut += cdb.length + (opts?.dataOut?.length ?? 0);
  stats.bytesIn += r.dataIn.length + (r.sense?.length ?? 0);
}
