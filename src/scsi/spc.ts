/**
 * The SPC-4 opcodes (primary commands, every device type): the one place their numbers are
 * written. The device command sets (SbcOp in sbc.ts, TapeOp in tape.ts, SmcOp in smc.ts) hold
 * their own; the codecs and command tables name opcodes through these objects.
 */
export const SpcOp = {
  TEST_UNIT_READY: 0x00,
  REQUEST_SENSE: 0x03,
  INQUIRY: 0x12,
  MODE_SELECT_6: 0x15,
  RESERVE_6: 0x16,
  RELEASE_6: 0x17,
  MODE_SENSE_6: 0x1a,
  LOG_SELECT: 0x4c,
  LOG_SENSE: 0x4d,
  MODE_SELECT_10: 0x55,
  RESERVE_10: 0x56,
  RELEASE_10: 0x57,
  MODE_SENSE_10: 0x5a,
  PERSISTENT_RESERVE_IN: 0x5e,
  PERSISTENT_RESERVE_OUT: 0x5f,
  /** Variable-length CDBs (SPC-4 §4.2.3): the service action is in bytes 8..9. */
  VARIABLE_LENGTH: 0x7f,
  /** EXTENDED COPY (LID1, or LID4 / POPULATE TOKEN by service action). */
  EXTENDED_COPY: 0x83,
  RECEIVE_COPY_RESULTS: 0x84,
  READ_ATTRIBUTE: 0x8c,
  WRITE_ATTRIBUTE: 0x8d,
  REPORT_LUNS: 0xa0,
  /** MAINTENANCE IN; SA 0Ch = REPORT SUPPORTED OPERATION CODES. */
  MAINTENANCE_IN: 0xa3,
  MAINTENANCE_OUT: 0xa4,
} as const;

/** TEST UNIT READY (SPC-4 §6.47): six bytes, nothing but the opcode (00h) and CONTROL (0). */
export const encodeTestUnitReadyCdb = (): Buffer => Buffer.alloc(6);
