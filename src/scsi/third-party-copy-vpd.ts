/**
 * Third-party Copy VPD page (8Fh, SPC-4 §7.8.17) with the descriptors a LID1 copy manager reports:
 * Supported Commands, Parameter Data, Supported Descriptors, Supported CSCD IDs, General Copy
 * Operations, Stream Copy Operations, Held Data. Encode (device) and decode (initiator).
 */

export const TPC_VPD_PAGE = 0x8f;
export const TpcDescriptorType = {
  SUPPORTED_COMMANDS: 0x0001,
  PARAMETER_DATA: 0x0004,
  SUPPORTED_DESCRIPTORS: 0x0008,
  SUPPORTED_CSCD_IDS: 0x000c,
  GENERAL_COPY_OPERATIONS: 0x8001,
  STREAM_COPY_OPERATIONS: 0x9101,
  HELD_DATA: 0xc001,
} as const;

export interface ThirdPartyCopyVpd {
  peripheral: number;
  /** opcode → service actions, ascending. */
  supportedCommands: Array<{ opcode: number; serviceActions: number[] }>;
  parameterData: { maxCscdCount: number; maxSegmentCount: number; maxDescriptorListLength: number; maxInlineDataLength: number };
  supportedDescriptors: number[];
  supportedCscdIds: number[];
  generalCopyOperations: {
    totalConcurrentCopies: number;
    maxIdentifiedConcurrentCopies: number;
    maxSegmentLength: number;
    dataSegmentGranularity: number;
    inlineDataGranularity: number;
  };
  /** Present when a stream segment type is supported. */
  streamCopyOperations?: { maxStreamTransferSize: number };
  /** Present when RECEIVE COPY DATA is supported. */
  heldData?: { heldDataLimit: number; heldDataGranularity: number };
}

/** A descriptor with its header, total length padded to a multiple of 4. */
function desc(type: number, body: Buffer): Buffer {
  const padded = (body.length + 3) & ~3;
  const b = Buffer.alloc(4 + padded);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(padded, 2);
  body.copy(b, 4);
  return b;
}

export function encodeThirdPartyCopyVpd(v: ThirdPartyCopyVpd): Buffer {
  const descs: Buffer[] = [];
  const cmds = [...v.supportedCommands].sort((a, b) => a.opcode - b.opcode);
  const cmdBytes = Buffer.from(cmds.flatMap((c) => [c.opcode, c.serviceActions.length, ...[...c.serviceActions].sort((a, b) => a - b)]));
  descs.push(desc(TpcDescriptorType.SUPPORTED_COMMANDS, Buffer.concat([Buffer.from([cmdBytes.length]), cmdBytes])));

  const pd = Buffer.alloc(28);
  pd.writeUInt16BE(v.parameterData.maxCscdCount, 4);
  pd.writeUInt16BE(v.parameterData.maxSegmentCount, 6);
  pd.writeUInt32BE(v.parameterData.maxDescriptorListLength, 8);
  pd.writeUInt32BE(v.parameterData.maxInlineDataLength, 12);
  descs.push(desc(TpcDescriptorType.PARAMETER_DATA, pd));

  const codes = [...v.supportedDescriptors].sort((a, b) => a - b);
  descs.push(desc(TpcDescriptorType.SUPPORTED_DESCRIPTORS, Buffer.from([codes.length, ...codes])));

  const ids = [...v.supportedCscdIds].sort((a, b) => a - b);
  const idb = Buffer.alloc(2 + 2 * ids.length);
  idb.writeUInt16BE(2 * ids.length, 0);
  ids.forEach((id, i) => idb.writeUInt16BE(id, 2 + 2 * i));
  descs.push(desc(TpcDescriptorType.SUPPORTED_CSCD_IDS, idb));

  const g = Buffer.alloc(32);
  g.writeUInt32BE(v.generalCopyOperations.totalConcurrentCopies, 0);
  g.writeUInt32BE(v.generalCopyOperations.maxIdentifiedConcurrentCopies, 4);
  g.writeUInt32BE(v.generalCopyOperations.maxSegmentLength, 8);
  g[12] = v.generalCopyOperations.dataSegmentGranularity;
  g[13] = v.generalCopyOperations.inlineDataGranularity;
  descs.push(desc(TpcDescriptorType.GENERAL_COPY_OPERATIONS, g));

  if (v.streamCopyOperations) {
    const s = Buffer.alloc(12);
    s.writeUInt32BE(v.streamCopyOperations.maxStreamTransferSize, 0);
    descs.push(desc(TpcDescriptorType.STREAM_COPY_OPERATIONS, s));
  }
  if (v.heldData) {
    const h = Buffer.alloc(28);
    h.writeUInt32BE(v.heldData.heldDataLimit, 0);
    h[4] = v.heldData.heldDataGranularity;
    descs.push(desc(TpcDescriptorType.HELD_DATA, h));
  }
  const body = Buffer.concat(descs);
  const head = Buffer.from([v.peripheral, TPC_VPD_PAGE, 0, 0]);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([head, body]);
}

export function decodeThirdPartyCopyVpd(b: Buffer): ThirdPartyCopyVpd {
  if (b.length < 4 || b[1] !== TPC_VPD_PAGE) throw new RangeError('not a Third-party Copy VPD page');
  const end = Math.min(b.length, 4 + b.readUInt16BE(2));
  const v: ThirdPartyCopyVpd = {
    peripheral: b[0]!,
    supportedCommands: [],
    parameterData: { maxCscdCount: 0, maxSegmentCount: 0, maxDescriptorListLength: 0, maxInlineDataLength: 0 },
    supportedDescriptors: [],
    supportedCscdIds: [],
    generalCopyOperations: { totalConcurrentCopies: 0, maxIdentifiedConcurrentCopies: 0, maxSegmentLength: 0, dataSegmentGranularity: 0, inlineDataGranularity: 0 },
  };
  for (let p = 4; p + 4 <= end; ) {
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    const d = b.subarray(p + 4, Math.min(end, p + 4 + len));
    switch (type) {
      case TpcDescriptorType.SUPPORTED_COMMANDS: {
        const listEnd = 1 + d[0]!;
        for (let q = 1; q + 2 <= listEnd; ) {
          const n = d[q + 1]!;
          v.supportedCommands.push({ opcode: d[q]!, serviceActions: [...d.subarray(q + 2, q + 2 + n)] });
          q += 2 + n;
        }
        break;
      }
      case TpcDescriptorType.PARAMETER_DATA:
        v.parameterData = { maxCscdCount: d.readUInt16BE(4), maxSegmentCount: d.readUInt16BE(6), maxDescriptorListLength: d.readUInt32BE(8), maxInlineDataLength: d.readUInt32BE(12) };
        break;
      case TpcDescriptorType.SUPPORTED_DESCRIPTORS:
        v.supportedDescriptors = [...d.subarray(1, 1 + d[0]!)];
        break;
      case TpcDescriptorType.SUPPORTED_CSCD_IDS: {
        const n = d.readUInt16BE(0) / 2;
        for (let i = 0; i < n; i++) v.supportedCscdIds.push(d.readUInt16BE(2 + 2 * i));
        break;
      }
      case TpcDescriptorType.GENERAL_COPY_OPERATIONS:
        v.generalCopyOperations = {
          totalConcurrentCopies: d.readUInt32BE(0),
          maxIdentifiedConcurrentCopies: d.readUInt32BE(4),
          maxSegmentLength: d.readUInt32BE(8),
          dataSegmentGranularity: d[12]!,
          inlineDataGranularity: d[13]!,
        };
        break;
      case TpcDescriptorType.STREAM_COPY_OPERATIONS:
        v.streamCopyOperations = { maxStreamTransferSize: d.readUInt32BE(0) };
        break;
      case TpcDescriptorType.HELD_DATA:
        v.heldData = { heldDataLimit: d.readUInt32BE(0), heldDataGranularity: d[4]! };
        break;
    }
    p += 4 + len;
  }
  return v;
}
