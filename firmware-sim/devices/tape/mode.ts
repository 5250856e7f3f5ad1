/**
 * The drive's mode parameters: the general block descriptor (density + block length, the one thing
 * Linux `st` changes), the tape device-specific header byte (WP, BUFFERED MODE, SPEED), and the pages
 * 0Ah Control, 0Fh Data Compression, 10h Device Configuration, 11h Medium Partition (read-only, one
 * partition), 1Ch Informational Exceptions. Header, descriptor and page framing come from the shared
 * codec in src/scsi/mode.ts; this file only declares the tape's values and what MODE SELECT may change.
 */
import { Sense, UA } from '../../../src/scsi/sense.js';
import {
  encodeControlPage,
  encodeModeData,
  encodeInformationalExceptionsPage,
  ModePage,
  ModePageSet,
  modeSelect,
  modeSenseData,
  PageControl,
  type BlockDescriptor,
  type ModeSelectCdb,
  type ModeSenseCdb,
  type DescriptorForm,
} from '../../../src/scsi/mode.js';
import {
  DeviceConfigBits,
  encodeDataCompressionPage,
  encodeDeviceConfigurationPage,
  encodeMediumPartitionPage,
  encodeTapeDeviceSpecific,
  decodeTapeDeviceSpecific,
} from '../../../src/scsi/tape.js';
import type { CommandDef, ScsiLogicalUnit } from '../../lu/logical-unit.js';
import { modeCommands } from '../../lu/mode-commands.js';
import type { Cartridge } from './cartridge.js';

/** A mask buffer of the page's size with the given byte → changeable-bits entries. */
function mask(len: number, bits: Record<number, number>): Buffer {
  const b = Buffer.alloc(len);
  for (const [i, v] of Object.entries(bits)) b[Number(i)] = v;
  return b;
}

export class TapeModeState {
  /** Mode block length: 0 = variable-block mode. */
  blockLength = 0;
  /** Density code chosen by MODE SELECT; 0 = the medium's own. */
  density = 0;
  /** BUFFERED MODE reported in the header (1: tape-ssc.md §1). */
  bufferedMode = 1;
  readonly pages: ModePageSet;

  constructor(private readonly onDSense: (on: boolean) => void) {
    const control = encodeControlPage({});
    const dc = encodeDataCompressionPage({ dce: false, dcc: true, dde: true, red: 0, compressionAlgorithm: 1, decompressionAlgorithm: 1 });
    const cfg = encodeDeviceConfigurationPage({
      activePartition: 0,
      writeBufferFullRatio: 0x80,
      readBufferEmptyRatio: 0x80,
      writeDelayTime: 0x64,
      byte8: DeviceConfigBits.LOIS,
      gapSize: 0,
      byte10: DeviceConfigBits.EEG | DeviceConfigBits.SEW,
      bufferSizeAtEw: 0,
      selectCompression: 0,
      byte15: 0,
    });
    const part = encodeMediumPartitionPage({ maxAdditionalPartitions: 0, additionalPartitionsDefined: 0, flags: 0, mediumFormatRecognition: 0x03, partitionUnits: 0, partitionSizes: [0] });
    const iec = encodeInformationalExceptionsPage({});
    this.pages = new ModePageSet([
      { code: ModePage.CONTROL, defaults: control, changeable: mask(control.length, { 2: 0x04 }), apply: (cur) => this.onDSense((cur[2]! & 0x04) !== 0) },
      // DCE may be switched; dmsim records it and never compresses.
      { code: ModePage.DATA_COMPRESSION, defaults: dc, changeable: mask(dc.length, { 2: 0x80 }) },
      // REW (byte 8 bit 0), SWP (byte 10 bit 2) and WRITE DELAY TIME are settable.
      { code: ModePage.DEVICE_CONFIGURATION, defaults: cfg, changeable: mask(cfg.length, { 6: 0xff, 7: 0xff, 8: DeviceConfigBits.REW, 10: DeviceConfigBits.SWP }) },
      { code: ModePage.MEDIUM_PARTITION, defaults: part, changeable: Buffer.alloc(part.length) },
      { code: ModePage.INFORMATIONAL_EXCEPTIONS, defaults: iec, changeable: Buffer.alloc(iec.length) },
    ]);
  }

  /** SWP in the device configuration page: the host's software write protect. */
  get softwareWriteProtect(): boolean {
    return (this.pages.current(ModePage.DEVICE_CONFIGURATION)[10]! & DeviceConfigBits.SWP) !== 0;
  }

  /** REW in the device configuration page: report EW on READ and SPACE too. */
  get reportEarlyWarning(): boolean {
    return (this.pages.current(ModePage.DEVICE_CONFIGURATION)[8]! & DeviceConfigBits.REW) !== 0;
  }

  /** DCE in the data compression page. */
  get compression(): boolean {
    return (this.pages.current(ModePage.DATA_COMPRESSION)[2]! & 0x80) !== 0;
  }
}

/** What MODE SENSE/SELECT use of the drive (TapeDrive implements it); declared here so mode.ts need not import drive.ts (#14). */
export interface TapeModeView extends ScsiLogicalUnit {
  readonly mode: TapeModeState;
  readonly cartridge: Cartridge | undefined;
  readonly maxBlockLength: number;
  densitySupported(code: number): boolean;
}

type Ctx = Parameters<CommandDef<TapeModeView>['handler']>[0];

function descriptorFor(drive: TapeModeView, pc: PageControl): BlockDescriptor[] {
  switch (pc) {
    case PageControl.CHANGEABLE:
      return [{ densityCode: 0xff, blocks: 0, blockLength: 0xffffff }];
    case PageControl.DEFAULT:
      return [{ densityCode: 0, blocks: 0, blockLength: 0 }];
    default:
      return [{ densityCode: drive.mode.density || (drive.cartridge?.meta.density ?? 0), blocks: 0, blockLength: drive.mode.blockLength }];
  }
}

function modeSense(ctx: Ctx, c: ModeSenseCdb): Buffer {
  const drive = ctx.lu;
  const wp = !!drive.cartridge?.writeProtected || drive.mode.softwareWriteProtect;
  const deviceSpecific = encodeTapeDeviceSpecific({ wp, bufferedMode: drive.mode.bufferedMode, speed: 0 });
  if (c.pageCode === 0 && c.subpage === 0) {
    // Page 00h (what Linux st asks for on open): header and block descriptor, no pages.
    if (c.pc === PageControl.SAVED) throw Sense.savingNotSupported(2, 7);
    return encodeModeData({ ten: c.ten, deviceSpecific, descriptorForm: 'general', descriptors: c.dbd ? [] : descriptorFor(drive, c.pc), pages: [] });
  }
  return modeSenseData(c, {
    pages: drive.mode.pages,
    descriptorForm: 'general',
    deviceSpecific: () => deviceSpecific,
    descriptors: (pc) => descriptorFor(drive, pc),
  });
}

function modeSelectCmd(ctx: Ctx, c: ModeSelectCdb): undefined {
  const drive = ctx.lu;
  // No saved pages on the drive: SPC-4 MODE SELECT answers SP=1 with INVALID FIELD IN CDB.
  if (c.sp) throw Sense.invalidFieldInCdb(1, 0);
  let next: { bl: number; density: number; buffered: number } | undefined;
  let buffered = drive.mode.bufferedMode;
  const changed = modeSelect(c, ctx.task.dataOut, {
    pages: drive.mode.pages,
    descriptorForm: 'general',
    checkDeviceSpecific: (v, off) => {
      const d = decodeTapeDeviceSpecific(v);
      if (d.bufferedMode > 1) throw Sense.invalidFieldInParam(off, 6);
      if (d.speed !== 0) throw Sense.invalidFieldInParam(off, 3);
      buffered = d.bufferedMode;
    },
    checkDescriptor: (d: BlockDescriptor, off: number, form: DescriptorForm) => {
      if (form === 'long') throw Sense.invalidFieldInParam(c.ten ? 4 : 3);
      if (d.densityCode !== 0 && d.densityCode !== 0x7f && !drive.densitySupported(d.densityCode)) throw Sense.invalidFieldInParam(off);
      if (d.blockLength !== 0 && (d.blockLength < 1 || d.blockLength > drive.maxBlockLength)) throw Sense.invalidFieldInParam(off + 5);
      // 7Fh = "no change" (SSC-3 §8.3.3); 0 = default (the medium's own).
      next = { bl: d.blockLength, density: d.densityCode === 0x7f ? drive.mode.density : d.densityCode, buffered };
    },
    commitDescriptors: () => {
      if (!next) return;
      drive.mode.blockLength = next.bl;
      drive.mode.density = next.density;
    },
  });
  const modeChanged = changed.length > 0 || drive.mode.bufferedMode !== buffered || !!next;
  drive.mode.bufferedMode = buffered;
  if (modeChanged) drive.queueUnitAttention(UA.MODE_PARAMETERS_CHANGED, { except: ctx.nexus.key });
  return undefined;
}

export function tapeModeCommands(): CommandDef<TapeModeView>[] {
  return modeCommands<TapeModeView>({ senseRsv: 'read', sense: modeSense, select: modeSelectCmd });
}
