/** Builds the ReservationContext of a job: the mode, and (PR) how the data mover registers itself. */
import type { DiscoveredLu } from './discovery.js';
import { copyLimits } from './discovery.js';
import { describeFailure, runJob } from './job-runner.js';
import { compile } from './plan/compile.js';
import type { ScsiClient } from './scsi-client.js';
import type { ReservationContext, ReservationMode } from './tape-handling.js';

export function reservationContext(client: ScsiClient, mode: ReservationMode, dm: DiscoveredLu, disk: DiscoveredLu, tape: DiscoveredLu, dataMoverPort?: string): ReservationContext {
  return {
    mode,
    ...(dataMoverPort ? { dataMoverPort } : {}),
    registerDataMover: async (reservationKey, serviceActionKey) => {
      const cmds = compile({
        direction: 'backup',
        disk: { naa: Buffer.from(disk.naa!, 'hex'), blockSize: disk.blockSize! },
        tape: { naa: Buffer.from(tape.naa!, 'hex'), blockSize: 0 },
        ops: [{ op: 'register', reservationKey, serviceActionKey }],
        limits: copyLimits(dm.copy!),
      });
      const r = await runJob(client, dm, cmds);
      if (!r.ok) throw new Error(`registering the data mover with the drive: ${describeFailure(r.failure!)}`);
    },
  };
}
