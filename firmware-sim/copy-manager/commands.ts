/**
 * The command definitions an LU spreads into its table to host a copy manager: EXTENDED COPY
 * (83h SA 00h, LID1) and RECEIVE COPY RESULTS (84h SAs of the profile). Other SAs of 83h/84h (LID4,
 * ROD tokens) are not in the table, so the LU base answers them 5/24/00 pointing at CDB byte 1 bit 4.
 * `vpd8F` builds the Third-party Copy VPD page from the same profile.
 */
import { encodeThirdPartyCopyVpd } from '../../src/scsi/third-party-copy-vpd.js';
import { RCR_OPCODE } from '../../src/scsi/receive-copy-results.js';
import { XCOPY_OPCODE } from '../../src/scsi/xcopy.js';
import type { CommandDef } from '../lu/logical-unit.js';
import type { CopyManager } from './copy-manager.js';
import { PROFILES, thirdPartyCopyVpd, type CopyProfileName } from './profile.js';

const RCR_NAMES: Record<number, string> = {
  0x00: 'RECEIVE COPY STATUS(LID1)',
  0x01: 'RECEIVE COPY DATA(LID1)',
  0x03: 'RECEIVE COPY OPERATING PARAMETERS',
  0x04: 'RECEIVE COPY FAILURE DETAILS(LID1)',
};

export function copyManagerCommands(cm: CopyManager, profileName: CopyProfileName = 'full'): CommandDef[] {
  const profile = PROFILES[profileName];
  return [
    {
      opcode: XCOPY_OPCODE,
      serviceAction: 0x00,
      name: 'EXTENDED COPY(LID1)',
      cdbLength: 16,
      rsv: 'other',
      data: 'out',
      usage: [0xff, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0],
      handler: (ctx) => cm.extendedCopy(ctx, profile),
    },
    ...profile.rcrServiceActions.map(
      (sa): CommandDef => ({
        opcode: RCR_OPCODE,
        serviceAction: sa,
        name: RCR_NAMES[sa]!,
        cdbLength: 16,
        rsv: 'always',
        // The handler cuts to ALLOCATION LENGTH itself: whether the whole answer fitted decides what it keeps.
        data: 'in',
        // LIST IDENTIFIER is reserved for OPERATING PARAMETERS, but a non-zero value is tolerated there.
        usage: [0xff, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0],
        handler: (ctx) => cm.receiveCopyResults(ctx, profile),
      }),
    ),
  ];
}

/** VPD 8Fh for an LU of peripheral device type `pdt` hosting a copy manager with this profile. */
export function vpd8F(profileName: CopyProfileName, pdt: number): () => Buffer {
  const page = encodeThirdPartyCopyVpd(thirdPartyCopyVpd(PROFILES[profileName], pdt));
  return () => page;
}
