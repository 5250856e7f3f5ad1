/**
 * Every login/text key dmsim knows (RFC 7143 §12-13, RFC 7144, obsolete RFC 3720 markers, iSER),
 * with who may send it, when, its value type, default and result function. negotiation.ts
 * applies these rules for both the target (responder) and the initiator (offerer).
 */

/** When a key may be negotiated: IO initialize-only (login of a connection), LO leading login only, ALL any time, FFPO full feature phase only, SEC security stage. */
type KeyUse = 'IO' | 'LO' | 'ALL' | 'FFPO' | 'SEC';
type KeySender = 'I' | 'T' | 'IT';
/**
 * Result functions: list (first of the offer the responder supports), min, max (numerical), and/or
 * (boolean), declarative (each side states its own value, no negotiation), reject (obsolete key:
 * always answered Reject), irrelevant (answered Irrelevant).
 */
type KeyKind = 'list' | 'min' | 'max' | 'and' | 'or' | 'declarative' | 'reject' | 'irrelevant';
type ValueType = 'number' | 'boolean' | 'list' | 'text' | 'name';

export interface KeyDef {
  name: string;
  use: KeyUse;
  sender: KeySender;
  scope: 'SW' | 'CO';
  kind: KeyKind;
  type: ValueType;
  /** RFC default (as text), when the key has one. */
  default?: string;
  min?: number;
  max?: number;
  /** Values a list key may take. */
  values?: readonly string[];
}

const k = (d: KeyDef): KeyDef => d;

export const KEYS: ReadonlyMap<string, KeyDef> = new Map(
  [
    k({ name: 'AuthMethod', use: 'SEC', sender: 'IT', scope: 'CO', kind: 'list', type: 'list', default: 'None', values: ['CHAP', 'None', 'SRP', 'KRB5', 'SPKM1', 'SPKM2'] }),
    k({ name: 'HeaderDigest', use: 'IO', sender: 'IT', scope: 'CO', kind: 'list', type: 'list', default: 'None', values: ['None', 'CRC32C'] }),
    k({ name: 'DataDigest', use: 'IO', sender: 'IT', scope: 'CO', kind: 'list', type: 'list', default: 'None', values: ['None', 'CRC32C'] }),
    k({ name: 'MaxConnections', use: 'LO', sender: 'IT', scope: 'SW', kind: 'min', type: 'number', default: '1', min: 1, max: 65535 }),
    k({ name: 'SendTargets', use: 'FFPO', sender: 'I', scope: 'SW', kind: 'declarative', type: 'text' }),
    k({ name: 'TargetName', use: 'IO', sender: 'IT', scope: 'SW', kind: 'declarative', type: 'name' }),
    k({ name: 'InitiatorName', use: 'IO', sender: 'I', scope: 'SW', kind: 'declarative', type: 'name' }),
    k({ name: 'TargetAlias', use: 'ALL', sender: 'T', scope: 'SW', kind: 'declarative', type: 'text' }),
    k({ name: 'InitiatorAlias', use: 'ALL', sender: 'I', scope: 'SW', kind: 'declarative', type: 'text' }),
    k({ name: 'TargetAddress', use: 'ALL', sender: 'T', scope: 'SW', kind: 'declarative', type: 'text' }),
    k({ name: 'TargetPortalGroupTag', use: 'IO', sender: 'T', scope: 'SW', kind: 'declarative', type: 'number', min: 0, max: 65535 }),
    k({ name: 'InitialR2T', use: 'LO', sender: 'IT', scope: 'SW', kind: 'or', type: 'boolean', default: 'Yes' }),
    k({ name: 'ImmediateData', use: 'LO', sender: 'IT', scope: 'SW', kind: 'and', type: 'boolean', default: 'Yes' }),
    k({ name: 'MaxRecvDataSegmentLength', use: 'ALL', sender: 'IT', scope: 'CO', kind: 'declarative', type: 'number', default: '8192', min: 512, max: 16777215 }),
    k({ name: 'MaxBurstLength', use: 'LO', sender: 'IT', scope: 'SW', kind: 'min', type: 'number', default: '262144', min: 512, max: 16777215 }),
    k({ name: 'FirstBurstLength', use: 'LO', sender: 'IT', scope: 'SW', kind: 'min', type: 'number', default: '65536', min: 512, max: 16777215 }),
    k({ name: 'DefaultTime2Wait', use: 'LO', sender: 'IT', scope: 'SW', kind: 'max', type: 'number', default: '2', min: 0, max: 3600 }),
    k({ name: 'DefaultTime2Retain', use: 'LO', sender: 'IT', scope: 'SW', kind: 'min', type: 'number', default: '20', min: 0, max: 3600 }),
    k({ name: 'MaxOutstandingR2T', use: 'LO', sender: 'IT', scope: 'SW', kind: 'min', type: 'number', default: '1', min: 1, max: 65535 }),
    k({ name: 'DataPDUInOrder', use: 'LO', sender: 'IT', scope: 'SW', kind: 'or', type: 'boolean', default: 'Yes' }),
    k({ name: 'DataSequenceInOrder', use: 'LO', sender: 'IT', scope: 'SW', kind: 'or', type: 'boolean', default: 'Yes' }),
    k({ name: 'ErrorRecoveryLevel', use: 'LO', sender: 'IT', scope: 'SW', kind: 'min', type: 'number', default: '0', min: 0, max: 2 }),
    k({ name: 'SessionType', use: 'LO', sender: 'I', scope: 'SW', kind: 'declarative', type: 'text', default: 'Normal', values: ['Discovery', 'Normal'] }),
    k({ name: 'TaskReporting', use: 'LO', sender: 'IT', scope: 'SW', kind: 'list', type: 'list', default: 'RFC3720', values: ['RFC3720', 'ResponseFence', 'FastAbort'] }),
    k({ name: 'iSCSIProtocolLevel', use: 'LO', sender: 'IT', scope: 'SW', kind: 'min', type: 'number', default: '1', min: 0, max: 31 }),
    k({ name: 'OFMarker', use: 'IO', sender: 'IT', scope: 'CO', kind: 'and', type: 'boolean', default: 'No' }),
    k({ name: 'IFMarker', use: 'IO', sender: 'IT', scope: 'CO', kind: 'and', type: 'boolean', default: 'No' }),
    k({ name: 'OFMarkInt', use: 'IO', sender: 'IT', scope: 'CO', kind: 'reject', type: 'text' }),
    k({ name: 'IFMarkInt', use: 'IO', sender: 'IT', scope: 'CO', kind: 'reject', type: 'text' }),
    k({ name: 'RDMAExtensions', use: 'LO', sender: 'IT', scope: 'SW', kind: 'and', type: 'boolean', default: 'No' }),
    k({ name: 'InitiatorRecvDataSegmentLength', use: 'IO', sender: 'IT', scope: 'CO', kind: 'irrelevant', type: 'number' }),
    k({ name: 'TargetRecvDataSegmentLength', use: 'IO', sender: 'IT', scope: 'CO', kind: 'irrelevant', type: 'number' }),
    k({ name: 'MaxOutstandingUnexpectedPDUs', use: 'LO', sender: 'IT', scope: 'SW', kind: 'irrelevant', type: 'number' }),
    // CHAP keys live in the security stage; chap.ts gives them meaning.
    k({ name: 'CHAP_A', use: 'SEC', sender: 'IT', scope: 'CO', kind: 'list', type: 'list' }),
    k({ name: 'CHAP_I', use: 'SEC', sender: 'IT', scope: 'CO', kind: 'declarative', type: 'number' }),
    k({ name: 'CHAP_C', use: 'SEC', sender: 'IT', scope: 'CO', kind: 'declarative', type: 'text' }),
    k({ name: 'CHAP_N', use: 'SEC', sender: 'IT', scope: 'CO', kind: 'declarative', type: 'text' }),
    k({ name: 'CHAP_R', use: 'SEC', sender: 'IT', scope: 'CO', kind: 'declarative', type: 'text' }),
  ].map((d) => [d.name, d]),
);

/** Keys whose value is negotiated in the operational stage and shape the data path. */
export interface OperationalParams {
  headerDigest: boolean;
  dataDigest: boolean;
  maxConnections: number;
  initialR2T: boolean;
  immediateData: boolean;
  /** What the target receives per PDU (declared by the target). */
  targetMaxRecvDataSegmentLength: number;
  /** What the initiator receives per PDU (declared by the initiator). */
  initiatorMaxRecvDataSegmentLength: number;
  maxBurstLength: number;
  firstBurstLength: number;
  defaultTime2Wait: number;
  defaultTime2Retain: number;
  maxOutstandingR2T: number;
  dataPDUInOrder: boolean;
  dataSequenceInOrder: boolean;
  errorRecoveryLevel: number;
  taskReporting: string;
  iscsiProtocolLevel: number;
}

/** RFC defaults: what applies to any key neither side sent. */
export function defaultParams(): OperationalParams {
  return {
    headerDigest: false,
    dataDigest: false,
    maxConnections: 1,
    initialR2T: true,
    immediateData: true,
    targetMaxRecvDataSegmentLength: 8192,
    initiatorMaxRecvDataSegmentLength: 8192,
    maxBurstLength: 262144,
    firstBurstLength: 65536,
    defaultTime2Wait: 2,
    defaultTime2Retain: 20,
    maxOutstandingR2T: 1,
    dataPDUInOrder: true,
    dataSequenceInOrder: true,
    errorRecoveryLevel: 0,
    taskReporting: 'RFC3720',
    iscsiProtocolLevel: 1,
  };
}
