/**
 * Tape preparation around a job: reserve the drive for the data mover (RESERVE(10) third-party
 * naming the data mover's initiator port), load, check or write the cartridge label, position at
 * end of data for append, and release at the end even when the job failed.
 */
import { SenseKey } from '../scsi/sense.js';
import { ScsiStatus } from '../scsi/status.js';
import { CommandFailed, type ScsiClient } from './scsi-client.js';

const LABEL_MAGIC = 'DMSIM-LABEL 1\n';

export interface TapeRef {
  target: string;
  lun: number;
}

export interface TapeSession {
  barcode: string;
  /** True when the cartridge is blank: the first job must write the label first. */
  blank: boolean;
  reserved: boolean;
  notes: string[];
}

export function encodeLabel(barcode: string): Buffer {
  const b = Buffer.alloc(512);
  b.write(`${LABEL_MAGIC}${JSON.stringify({ barcode })}\n`, 'utf8');
  return b;
}

export function decodeLabel(b: Buffer): string | undefined {
  if (b.toString('latin1', 0, LABEL_MAGIC.length) !== LABEL_MAGIC) return undefined;
  try {
    const end = b.indexOf(0);
    return (JSON.parse(b.toString('utf8', LABEL_MAGIC.length, end < 0 ? b.length : end)) as { barcode: string }).barcode;
  } catch {
    return undefined;
  }
}

/** TEST UNIT READY until a unit attention (medium changed, reset) is consumed. */
export async function settle(client: ScsiClient, t: TapeRef): Promise<void> {
  for (let i = 0; i < 4; i++) {
    const r = await client.testUnitReady(t.target, t.lun);
    if (r.status === ScsiStatus.GOOD) return;
    if (r.status === ScsiStatus.CHECK_CONDITION && i < 3) continue;
    if (r.status !== ScsiStatus.CHECK_CONDITION) throw new CommandFailed('TEST UNIT READY', r);
  }
}

export async function openTape(client: ScsiClient, t: TapeRef, expectBarcode?: string, append = true): Promise<TapeSession> {
  const notes: string[] = [];
  await settle(client, t);
  await client.load(t.target, t.lun);
  await settle(client, t);
  await client.rewind(t.target, t.lun);
  const first = await client.readRecord(t.target, t.lun, 65536);
  let barcode: string | undefined;
  let blank = false;
  if (first.status === ScsiStatus.GOOD) barcode = decodeLabel(first.dataIn);
  else {
    const f = new CommandFailed('READ label', first);
    if (f.sense?.key === SenseKey.BLANK_CHECK) blank = true;
    else if (f.sense?.ili && first.dataIn.length > 0) barcode = decodeLabel(first.dataIn);
    else throw f;
  }
  if (!blank && barcode === undefined) throw new Error('cartridge has data but no dmsim label: refusing to use it');
  if (blank) barcode = expectBarcode ?? 'UNLABELED';
  if (expectBarcode && barcode !== expectBarcode) throw new Error(`cartridge label ${barcode} is not the expected ${expectBarcode}`);
  if (!blank && append) await client.spaceToEod(t.target, t.lun);
  return { barcode: barcode!, blank, reserved: false, notes };
}

/**
 * Reserve the drive for the data mover (third-party RESERVE(10)). From here until release, the
 * backup server's own tape commands would get RESERVATION CONFLICT, so all positioning inside a
 * job happens through LOCATE segments in the EXTENDED COPY itself.
 */
export async function reserveForDataMover(client: ScsiClient, t: TapeRef, s: TapeSession, dataMoverPort: string | undefined): Promise<void> {
  if (!dataMoverPort) return;
  try {
    await client.reserve10(t.target, t.lun, dataMoverPort);
    s.reserved = true;
    s.notes.push(`drive reserved (third-party RESERVE(10)) for data mover port ${dataMoverPort}`);
  } catch (e) {
    if (!(e instanceof CommandFailed && e.sense?.key === SenseKey.ILLEGAL_REQUEST)) throw e;
    s.notes.push(`third-party RESERVE(10) refused by the drive (${e.message}); continuing unreserved`);
  }
}

export async function closeTape(client: ScsiClient, t: TapeRef, s: TapeSession, dataMoverPort: string | undefined): Promise<void> {
  if (s.reserved && dataMoverPort) {
    s.reserved = false;
    await client.release10(t.target, t.lun, dataMoverPort);
  }
}
