/**
 * iSCSI PDU codec, shared by the target (src/iscsi/target) and the initiator (src/iscsi/initiator).
 *
 * - constants.ts: opcodes, stages, reject reasons, login status, TMF codes.
 * - bhs.ts: typed BHS per opcode (`decodeBhs`, `encodeBhs`), buffer-layout declarations, and
 *   `OFF` field offsets for allocation-free access on the data path.
 * - parser.ts: `PduParser` turns socket chunks into PDUs (AHS, padding, digests; no concat).
 * - serializer.ts: `PduWriter` (corked writev of header + data slices), `serializePdu`.
 * - ahs.ts: Extended CDB / bidirectional AHS.  lun.ts: 8-byte SAM LUN <-> flat number.
 */
export * from './constants.js';
export * from './bhs.js';
export * from './parser.js';
export * from './serializer.js';
export * from './ahs.js';
export * from './lun.js';
export * from './fast.js';
