import { describe, expect, it } from 'vitest';
import { decodeAllCommands, decodeOneCommand, decodeRsocCdb, encodeAllCommands, encodeOneCommand, encodeRsocCdb, Support } from '../../src/scsi/rsoc.js';
import { loadVectors } from './vectors.js';

const V = loadVectors<{ hex: string }>('rsoc.json');
const T = { commandSpecific: 0, nominal: 0, recommended: 60 };

describe('REPORT SUPPORTED OPERATION CODES', () => {
  it('CDB both ways', () => {
    const v = { rctd: true, reportingOptions: 1, opcode: 0x12, serviceAction: 0, allocationLength: 512 };
    expect(encodeRsocCdb(v).equals(V.hex('cdb-one-command-rctd-inquiry'))).toBe(true);
    expect(decodeRsocCdb(V.hex('cdb-one-command-rctd-inquiry'))).toEqual(v);
  });
  it('all_commands both ways', () => {
    const cmds = [{ opcode: 0x12, cdbLength: 6 }, { opcode: 0xa3, serviceAction: 0x0c, cdbLength: 12 }];
    expect(encodeAllCommands(cmds, false).toString('hex')).toBe(V.hex('all-commands-inquiry-rsoc').toString('hex'));
    expect(decodeAllCommands(V.hex('all-commands-inquiry-rsoc'))).toEqual(cmds);
  });
  it('all_commands with command timeouts descriptors', () => {
    const cmds = [{ opcode: 0x12, cdbLength: 6, timeouts: T }];
    expect(encodeAllCommands(cmds, true).toString('hex')).toBe(V.hex('all-commands-inquiry-rctd').toString('hex'));
    expect(decodeAllCommands(V.hex('all-commands-inquiry-rctd'))).toEqual(cmds);
  });
  it('one_command both ways', () => {
    const v = { support: Support.STANDARD, usage: Buffer.from([0x12, 0x01, 0xff, 0xff, 0xff, 0x00]) };
    expect(encodeOneCommand(v).equals(V.hex('one-command-inquiry'))).toBe(true);
    expect(decodeOneCommand(V.hex('one-command-inquiry'))).toEqual(v);
    expect(encodeOneCommand({ support: Support.NOT_SUPPORTED, usage: Buffer.alloc(0) }).equals(V.hex('one-command-not-supported'))).toBe(true);
  });
});
