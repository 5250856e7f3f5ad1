/**
 * iSNSP numbers (RFC 4171): function IDs (§4.1.3), flags (§5.1), status codes (§5.4), attribute
 * tags (§6) and the SCN bitmap (§6.4.4). Only the names dmsim speaks or decodes are listed; other
 * tags still pass through the TLV codec as plain numbers.
 */

export const ISNS_VERSION = 1;
export const ISNS_PORT = 3205;
/** PDU LENGTH is 16 bits: the largest payload one PDU can carry. */
export const MAX_PDU_PAYLOAD = 0xfffc;

export const Fn = {
  DevAttrReg: 0x0001,
  DevAttrQry: 0x0002,
  DevGetNext: 0x0003,
  DevDereg: 0x0004,
  SCNReg: 0x0005,
  SCNDereg: 0x0006,
  SCNEvent: 0x0007,
  SCN: 0x0008,
  DDReg: 0x0009,
  DDDereg: 0x000a,
  DDSReg: 0x000b,
  DDSDereg: 0x000c,
  ESI: 0x000d,
  Heartbeat: 0x000e,
} as const;

/** A response's function ID is its request's with the top bit set. */
export const RESPONSE = 0x8000;

export const Flag = {
  CLIENT: 0x8000,
  SERVER: 0x4000,
  AUTH: 0x2000,
  REPLACE: 0x1000,
  LAST: 0x0800,
  FIRST: 0x0400,
} as const;

export const Status = {
  Successful: 0,
  UnknownError: 1,
  MessageFormatError: 2,
  InvalidRegistration: 3,
  InvalidQuery: 5,
  SourceUnknown: 6,
  SourceAbsent: 7,
  SourceUnauthorized: 8,
  NoSuchEntry: 9,
  VersionNotSupported: 10,
  InternalError: 11,
  Busy: 12,
  OptionNotUnderstood: 13,
  InvalidUpdate: 14,
  MessageNotSupported: 15,
  ScnEventRejected: 16,
  ScnRegistrationRejected: 17,
  AttributeNotImplemented: 18,
  EsiNotAvailable: 21,
  InvalidDeregistration: 22,
  RegistrationFeatureNotSupported: 23,
} as const;

const statusNames = new Map<number, string>(Object.entries(Status).map(([k, v]) => [v, k.replace(/([a-z])([A-Z])/g, '$1 $2')]));

/** "9 (No Such Entry)" for logs and errors. */
export function statusText(code: number): string {
  return `${code} (${statusNames.get(code) ?? 'reserved'})`;
}

export const Tag = {
  Delimiter: 0,
  EntityIdentifier: 1,
  EntityProtocol: 2,
  Timestamp: 4,
  RegistrationPeriod: 6,
  EntityIndex: 7,
  PortalIpAddress: 16,
  PortalPort: 17,
  PortalSymbolicName: 18,
  EsiInterval: 19,
  EsiPort: 20,
  PortalIndex: 22,
  ScnPort: 23,
  IscsiName: 32,
  IscsiNodeType: 33,
  IscsiAlias: 34,
  IscsiScnBitmap: 35,
  IscsiNodeIndex: 36,
  WwnnToken: 37,
  PgIscsiName: 48,
  PgPortalIpAddr: 49,
  PgPortalPort: 50,
  PgTag: 51,
  PgIndex: 52,
  DdId: 2065,
  DdSymbolicName: 2066,
  DdMemberIscsiIndex: 2067,
  DdMemberIscsiName: 2068,
  DdFeatures: 2078,
} as const;

export const EntityProtocol = { None: 1, Iscsi: 2, Ifcp: 3 } as const;

export const NodeType = { Target: 0x1, Initiator: 0x2, Control: 0x4 } as const;

export const ScnBit = {
  MemberAdded: 0x01,
  MemberRemoved: 0x02,
  ObjectUpdated: 0x04,
  ObjectAdded: 0x08,
  ObjectRemoved: 0x10,
  Management: 0x20,
  TargetAndSelfOnly: 0x40,
  InitiatorAndSelfOnly: 0x80,
} as const;
