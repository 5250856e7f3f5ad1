/**
 * The data mover LU of the emulated FC-to-SCSI router: a copy manager with no medium.
 *
 * Peripheral device type 03h (processor), whatever identity the lab hands in: extended-copy.md
 * §9.1 and §4.5 decide it for dmsim (a stand-alone SPC-2 data mover is a processor device; CSCD
 * ID FFFFh naming it as a block or stream device then answers 0D/03), and a processor LU has no
 * device-specific command set an initiator could expect, unlike 0Ch (SCC-2 array controller).
 *
 * 3PC=1; TEST UNIT READY is always GOOD (nothing to become ready); the copy manager's commands use
 * the full profile: every segment type dmsim implements, E0h/E1h/E2h/E4h CSCDs.
 */
import type { ITNexus, LuIdentity } from '../router/task.js';
import { copyManagerCommands, vpd8F } from '../copy-manager/commands.js';
import type { CopyManager } from '../copy-manager/copy-manager.js';
import type { CopyProfileName } from '../copy-manager/profile.js';
import { commonCommands } from '../lu/common-commands.js';
import { ScsiLogicalUnit, type CommandDef } from '../lu/logical-unit.js';

export const DATA_MOVER_PDT = 0x03;

const testUnitReady: CommandDef = {
  opcode: 0x00,
  name: 'TEST UNIT READY',
  cdbLength: 6,
  rsv: 'other',
  data: 'none',
  usage: [0xff, 0, 0, 0, 0, 0],
  handler: () => undefined,
};

export class DataMover extends ScsiLogicalUnit {
  constructor(
    identity: LuIdentity,
    readonly copyManager: CopyManager,
    private readonly profile: CopyProfileName = 'full',
  ) {
    super({ ...identity, deviceType: DATA_MOVER_PDT }, [...commonCommands(), testUnitReady, ...copyManagerCommands(copyManager, profile)] as CommandDef[] as never);
  }

  override inquiryFlags(): { threePC: boolean } {
    return { threePC: true };
  }

  override extraVpdPages(): Map<number, () => Buffer> {
    return new Map([[0x8f, vpd8F(this.profile, DATA_MOVER_PDT)]]);
  }

  override nexusLost(nexus: ITNexus): void {
    super.nexusLost(nexus);
    this.copyManager.nexusLost(nexus);
  }

  /** Any reset: every copy on this LU is aborted and its results discarded (SPC-4 table 109). */
  protected override onReset(): void {
    this.copyManager.luReset(this.identity.name);
  }
}
