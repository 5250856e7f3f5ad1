/**
 * An initiator port living in the same process as the fabric: it logs into the name server with
 * its own WWPN/WWNN and sends ScsiTasks through Fabric.dispatch, so zoning, LUN masking and
 * reservations apply to it exactly as to an iSCSI initiator. The copy manager's data mover port,
 * the backup server's in-process transport and tests use it.
 */
import type { CommandOptions, CommandResult } from '../../src/scsi/command.js';
import { makeNexus, type ITNexus } from '../router/task.js';
import type { Fabric } from './fabric.js';
import type { PortEntry } from './name-server.js';
import { normalizeWwn } from './wwn.js';

export interface PortCommandOptions extends CommandOptions {
  /** Task tag (ABORT TASK addresses tasks by it); the port numbers tasks itself when omitted. */
  tag?: number;
}

const EMPTY = Buffer.alloc(0);

export class InProcessPort {
  readonly wwpn: string;
  readonly wwnn: string;
  readonly entry: PortEntry;
  private nextTag = 1;

  constructor(
    readonly fabric: Fabric,
    opts: { wwpn: string; wwnn: string; owner?: string },
  ) {
    this.wwpn = normalizeWwn(opts.wwpn);
    this.wwnn = normalizeWwn(opts.wwnn);
    this.entry = fabric.loginInitiator({ wwpn: this.wwpn, wwnn: this.wwnn, ...(opts.owner !== undefined ? { owner: opts.owner } : {}) });
  }

  /** Built once per target port: normalizing the WWN and the key per command is measurable at 1 µs a command. */
  private readonly nexuses = new Map<string, ITNexus>();

  /** The I_T nexus from this port to a target port (the same object every time). */
  nexusTo(targetPortWwpn: string): ITNexus {
    let n = this.nexuses.get(targetPortWwpn);
    if (!n) {
      n = makeNexus(this.wwpn, normalizeWwn(targetPortWwpn));
      if (this.nexuses.size >= 1024) this.nexuses.clear();
      this.nexuses.set(targetPortWwpn, n);
    }
    return n;
  }

  /**
   * Send one command. Resolves with the SCSI result (data-in already cut to dataInLength);
   * rejects with UnreachableError when zoning keeps this port from the target port.
   */
  async command(targetPortWwpn: string, lun: number, cdb: Buffer, opts: PortCommandOptions = {}): Promise<CommandResult> {
    const r = await this.fabric.dispatch({
      ...opts,
      nexus: this.nexusTo(targetPortWwpn),
      lun,
      cdb,
      dataInLength: opts.dataInLength ?? 0,
      tag: opts.tag ?? this.nextTag++,
    });
    // The initiator's view: data-in always present (empty when none), no target-side SPDTL.
    const out: CommandResult = { status: r.status, dataIn: r.dataIn ?? EMPTY };
    if (r.sense) out.sense = r.sense;
    return out;
  }

  /** ABORT TASK for a task this port sent (by the tag given in PortCommandOptions). */
  abortTask(targetPortWwpn: string, lun: number, tag: number): Promise<boolean> {
    return this.fabric.abortTask(this.nexusTo(targetPortWwpn), lun, tag);
  }

  /** LOGICAL UNIT RESET of the LU this port sees at `lun` behind the target port. */
  lunReset(targetPortWwpn: string, lun: number): Promise<void> {
    return this.fabric.lunReset(this.nexusTo(targetPortWwpn), lun);
  }

  /** Target ports this port can reach through zoning. */
  targets(): PortEntry[] {
    return this.fabric.reachableTargets(this.wwpn);
  }

  /** Tell the fabric this port's nexus to a target port is gone (like an iSCSI logout). */
  logoutFrom(targetPortWwpn: string): void {
    this.fabric.nexusLost(this.nexusTo(targetPortWwpn));
  }
}
