/**
 * Medium auxiliary memory of the loaded cartridge: READ ATTRIBUTE (8Ch, service actions 00h, 01h,
 * 02h, 03h, 05h), WRITE ATTRIBUTE (8Dh) and READ MEDIA SERIAL NUMBER (ABh/01h), smc.md §5.4–5.5.
 * Device and medium attributes are computed from the drive and the cartridge sidecar and are
 * read-only; host attributes live in the sidecar (`meta.attributes`) so they travel with the
 * cartridge through unloads, library moves and restarts.
 */
import { ScsiError, Sense, SenseKey } from '../../../src/scsi/sense.js';
import {
  attributeDef,
  attributeValue,
  AttributeListError,
  decodeAttributes,
  decodeReadAttributeCdb,
  decodeWriteAttributeCdb,
  encodeAttributeIdList,
  encodeAttributeValues,
  encodeNumberList,
  MAM_ATTRIBUTES,
  MamFormat,
  ReadAttributeSA,
  type Attribute,
} from '../../../src/scsi/mam.js';
import { decodeReadMediaSerialCdb, encodeMediaSerial, READ_MEDIA_SERIAL_NUMBER_SA, TapeOp, tapeUsage } from '../../../src/scsi/tape.js';
import type { CommandContext, CommandDef, HandlerOutput } from '../../lu/logical-unit.js';
import type { Cartridge } from './cartridge.js';
import type { TapeDrive } from './drive.js';

/** MAM chip size reported in 0407h, and the part of it host attributes may fill (0004h counts down from it). */
export const MAM_CAPACITY = 8192;
export const MAM_HOST_SPACE = 4096;

const MiB = 1 << 20;
const hex4 = (id: number) => id.toString(16).padStart(4, '0');

/** Bytes the host attributes take in MAM (5-byte header + value each). */
function hostUsage(c: Cartridge): number {
  return Object.values(c.meta.attributes).reduce((n, a) => n + 5 + a.value.length / 2, 0);
}

/** Every attribute present on the loaded cartridge, ascending by identifier. */
export function attributesOf(d: TapeDrive, c: Cartridge): Attribute[] {
  const m = c.meta;
  const { peop } = d.points(c);
  const cleaning = m.barcode.startsWith('CLN');
  const computed: Record<number, string | number | bigint | Buffer> = {
    0x0000: Math.floor(Math.max(0, peop - c.length) / MiB),
    0x0001: Math.floor(peop / MiB),
    0x0002: d.alerts.bits(),
    0x0003: m.loadCount,
    0x0004: MAM_HOST_SPACE - hostUsage(c),
    0x0005: 'LTO-CVE',
    0x0006: m.density,
    0x0007: 0,
    0x0008: m.barcode,
    0x0009: m.volumeChangeRef,
    0x0220: Math.floor(m.lifetimeWritten / MiB),
    0x0221: Math.floor(m.lifetimeRead / MiB),
    0x0222: Math.floor(d.counters.hostWritten / MiB),
    0x0223: Math.floor(d.counters.hostRead / MiB),
    0x0224: 0,
    0x0225: 0,
    0x0400: 'DMSIM',
    0x0401: m.serial,
    0x0402: 820,
    0x0403: 127,
    0x0404: 'LTO-CVE',
    0x0405: m.density,
    0x0406: m.manufactured,
    0x0407: MAM_CAPACITY,
    0x0408: cleaning ? 1 : 0,
    0x0409: cleaning ? 50 : 0,
  };
  m.loadHistory.forEach((h, i) => (computed[0x020a + i] = h));
  const out: Attribute[] = [];
  for (const def of MAM_ATTRIBUTES) {
    if (def.readOnly) {
      const v = computed[def.id];
      if (v !== undefined) out.push({ id: def.id, readOnly: true, format: def.format, value: attributeValue(def, v) });
    }
  }
  for (const [k, a] of Object.entries(m.attributes)) out.push({ id: parseInt(k, 16), readOnly: false, format: a.format, value: Buffer.from(a.value, 'hex') });
  return out.sort((a, b) => a.id - b.id);
}

type Ctx = CommandContext<TapeDrive>;

/** The checks READ and WRITE ATTRIBUTE share: a cartridge, volume 0, partition 0, MAM readable. */
function mamCartridge(ctx: Ctx, volume: number, partition: number, op: 'read' | 'write'): Cartridge {
  const c = ctx.lu.medium();
  if (volume !== 0) throw Sense.invalidFieldInCdb(5);
  if (partition !== 0) throw Sense.invalidFieldInCdb(7);
  if (ctx.lu.tapeFaults.mamFailure) {
    throw new ScsiError(op === 'read' ? { key: SenseKey.MEDIUM_ERROR, asc: 0x11, ascq: 0x12 } : { key: SenseKey.MEDIUM_ERROR, asc: 0x0c, ascq: 0x0b });
  }
  return c;
}

function readAttribute(ctx: Ctx): HandlerOutput {
  const v = decodeReadAttributeCdb(ctx.cdb);
  const c = mamCartridge(ctx, v.volume, v.partition, 'read');
  const all = attributesOf(ctx.lu, c);
  let out: Buffer;
  switch (v.serviceAction) {
    case ReadAttributeSA.VALUES: {
      const from = all.filter((a) => a.id >= v.firstAttribute);
      // LTFS-style readers ask for one identifier and check that it comes back first.
      if (!all.some((a) => a.id === v.firstAttribute)) throw Sense.invalidFieldInCdb(8);
      return encodeAttributeValues(from, v.allocationLength);
    }
    case ReadAttributeSA.LIST:
      out = encodeAttributeIdList(all.filter((a) => a.id >= v.firstAttribute).map((a) => a.id));
      break;
    case ReadAttributeSA.SUPPORTED:
      out = encodeAttributeIdList(MAM_ATTRIBUTES.map((d) => d.id).filter((id) => id >= v.firstAttribute));
      break;
    case ReadAttributeSA.VOLUME_LIST:
    case ReadAttributeSA.PARTITION_LIST:
      out = encodeNumberList(0, 1);
      break;
    default:
      throw Sense.invalidFieldInCdb(1, 4);
  }
  return out.subarray(0, v.allocationLength);
}

/**
 * WRITE ATTRIBUTE: every attribute of the list is checked before any is stored, so a list with
 * one bad entry changes nothing (5/26/00, field pointer at that attribute's identifier).
 */
async function writeAttribute(ctx: Ctx): Promise<HandlerOutput> {
  const v = decodeWriteAttributeCdb(ctx.cdb);
  const c = mamCartridge(ctx, v.volume, v.partition, 'write');
  if (v.parameterListLength === 0) return undefined;
  const data = ctx.task.dataOut ?? Buffer.alloc(0);
  if (v.parameterListLength < 4 || data.length < 4) throw Sense.invalidFieldInParam(0);
  const declared = data.readUInt32BE(0);
  if (declared + 4 > Math.min(data.length, v.parameterListLength)) throw Sense.invalidFieldInParam(0);
  let list;
  try {
    list = decodeAttributes(data.subarray(4, 4 + declared), 4);
  } catch (e) {
    if (e instanceof AttributeListError) throw Sense.invalidFieldInParam(e.offset);
    throw e;
  }
  const next = { ...c.meta.attributes };
  for (const a of list) {
    const def = attributeDef(a.id);
    if (!def || def.readOnly) throw Sense.invalidFieldInParam(a.offset);
    if (a.value.length === 0) {
      delete next[hex4(a.id)];
      continue;
    }
    if (def.length !== undefined && a.format !== def.format) throw Sense.invalidFieldInParam(a.offset + 2, 1);
    let value = a.value;
    if (def.length !== undefined) {
      if (value.length > def.length || (def.format === MamFormat.BINARY && value.length !== def.length)) throw Sense.invalidFieldInParam(a.offset + 3);
      // Shorter ASCII values are space-padded, TEXT values NUL-padded (smc.md §5.4).
      if (value.length < def.length) value = Buffer.concat([value, Buffer.alloc(def.length - value.length, def.format === MamFormat.ASCII ? 0x20 : 0)]);
    } else if (value.length > (def.max ?? 1024)) throw Sense.invalidFieldInParam(a.offset + 3);
    next[hex4(a.id)] = { format: def.length === undefined ? a.format : def.format, value: value.toString('hex') };
  }
  const used = Object.values(next).reduce((n, a) => n + 5 + a.value.length / 2, 0);
  if (used > MAM_HOST_SPACE) throw new ScsiError({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x55, ascq: 0x06 });
  await c.updateMeta((m) => (m.attributes = next));
  return undefined;
}

/** READ MEDIA SERIAL NUMBER: MAM 0401h, 32 bytes, length field 20h (smc.md §5.5 dmsim decision). */
function readMediaSerial(ctx: Ctx): HandlerOutput {
  const { allocationLength } = decodeReadMediaSerialCdb(ctx.cdb);
  const c = ctx.lu.medium();
  return encodeMediaSerial(c.meta.serial.padEnd(32).slice(0, 32)).subarray(0, allocationLength);
}

export function mamCommands(): CommandDef<TapeDrive>[] {
  const ra = (serviceAction: number, what: string): CommandDef<TapeDrive> => ({
    opcode: TapeOp.READ_ATTRIBUTE,
    serviceAction,
    name: `READ ATTRIBUTE (${what})`,
    cdbLength: 16,
    rsv: 'read',
    data: 'in',
    allocation: [10, 4],
    usage: [...tapeUsage.readAttribute],
    handler: readAttribute,
  });
  return [
    ra(ReadAttributeSA.VALUES, 'values'),
    ra(ReadAttributeSA.LIST, 'attribute list'),
    ra(ReadAttributeSA.VOLUME_LIST, 'logical volume list'),
    ra(ReadAttributeSA.PARTITION_LIST, 'partition list'),
    ra(ReadAttributeSA.SUPPORTED, 'supported attributes'),
    {
      opcode: TapeOp.WRITE_ATTRIBUTE,
      name: 'WRITE ATTRIBUTE',
      cdbLength: 16,
      rsv: 'write',
      data: 'out',
      usage: [...tapeUsage.writeAttribute],
      handler: writeAttribute,
    },
    {
      opcode: TapeOp.SERVICE_ACTION_IN_12,
      serviceAction: READ_MEDIA_SERIAL_NUMBER_SA,
      name: 'READ MEDIA SERIAL NUMBER',
      cdbLength: 12,
      rsv: 'read',
      data: 'in',
      allocation: [6, 4],
      usage: [...tapeUsage.readMediaSerialNumber],
      handler: readMediaSerial,
    },
  ];
}
