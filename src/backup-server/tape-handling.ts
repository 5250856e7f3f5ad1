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
  /**
   * Appending, and the last object before end of data is a record, not a filemark: a job ended
   * mid-write (crash, lost router) and left its tape file open. The next job closes it first.
   */
  torn?: { file: number; object: number };
  reserved: boolean;
  notes: string[];
  /** Set while a reservation is held: how to give it back. */
  release?: (() => Promise<void>) | undefined;
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

/**
 * `whyUnknown`: why the caller has no barcode for the cartridge, said when a blank one would need
 * a label: dmsim never invents one (a label that is not the cartridge's barcode breaks every later
 * job that checks it).
 */
export async function openTape(client: ScsiClient, t: TapeRef, expectBarcode?: string, append = true, whyUnknown?: string): Promise<TapeSession> {
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
  if (blank && !expectBarcode) throw new Error(`the cartridge is blank and its barcode is unknown${whyUnknown ? ` (${whyUnknown})` : ''}: give --barcode CODE (the barcode on the cartridge) to label it`);
  if (blank) barcode = expectBarcode;
  if (expectBarcode && barcode !== expectBarcode) throw new Error(`cartridge label ${barcode} is not the expected ${expectBarcode}`);
  let torn: TapeSession['torn'];
  if (!blank && append) {
    await client.spaceToEod(t.target, t.lun);
    // Every finished job ends with a filemark. Read the last object back: a record there means a
    // torn tape file, which the next backup must not extend (its header would land inside it).
    const eod = await client.readPosition(t.target, t.lun);
    if (eod.firstObject > 0) {
      await client.locate(t.target, t.lun, eod.firstObject - 1);
      const last = await client.readRecord(t.target, t.lun, 65536);
      const f = last.status === ScsiStatus.GOOD ? undefined : new CommandFailed('READ last object', last);
      if (!f?.sense?.filemark) {
        torn = { file: eod.fileId, object: eod.firstObject };
        notes.push(`tape file ${eod.fileId} on ${barcode} ends without a filemark (a job ended mid-write): closing it with a filemark first`);
      }
      await client.spaceToEod(t.target, t.lun);
    }
  }
  return { barcode: barcode!, blank, reserved: false, notes, ...(torn ? { torn } : {}) };
}

export type ReservationMode = 'spc2' | 'pr' | 'none';

/** Persistent reservation keys: the backup server's and the one it registers for the data mover. */
export const SERVER_KEY = 0x444d_5349_4d00_0001n;
export const DATA_MOVER_KEY = 0x444d_5349_4d00_0002n;
const EXCLUSIVE_ACCESS_REGISTRANTS_ONLY = 6;

export interface ReservationContext {
  mode: ReservationMode;
  /** The data mover's initiator port (SPC-2 third-party reservation). */
  dataMoverPort?: string;
  /** PR mode: has the copy manager send REGISTER for its own nexus (a 14h segment). */
  registerDataMover?: (reservationKey: bigint, serviceActionKey: bigint) => Promise<void>;
}

/**
 * Reserve the drive for the data mover. SPC-2: third-party RESERVE(10) naming its port; from then
 * until release the backup server's own tape commands would get RESERVATION CONFLICT, so all
 * positioning inside a job happens through LOCATE segments. PR: the server registers and takes
 * an Exclusive Access – Registrants Only reservation, then has the copy manager register its own
 * nexus through a 14h segment, so exactly the two of them can use the drive.
 */
export async function reserveForDataMover(client: ScsiClient, t: TapeRef, s: TapeSession, r: ReservationContext | string | undefined): Promise<void> {
  const ctx: ReservationContext = typeof r === 'object' ? r : { mode: r ? 'spc2' : 'none', ...(r ? { dataMoverPort: r } : {}) };
  s.release = undefined;
  if (ctx.mode === 'pr') {
    if (!ctx.registerDataMover) throw new Error('persistent reservation mode needs a way to register the data mover');
    await client.prOut(t.target, t.lun, 6 /* REGISTER AND IGNORE EXISTING KEY */, 0, 0n, SERVER_KEY);
    await client.prOut(t.target, t.lun, 1 /* RESERVE */, EXCLUSIVE_ACCESS_REGISTRANTS_ONLY, SERVER_KEY);
    await ctx.registerDataMover(0n, DATA_MOVER_KEY);
    s.reserved = true;
    s.notes.push('drive reserved (persistent, Exclusive Access – Registrants Only); data mover registered through a 14h segment');
    s.release = async () => {
      await ctx.registerDataMover!(DATA_MOVER_KEY, 0n).catch(() => undefined);
      await client.prOut(t.target, t.lun, 2 /* RELEASE */, EXCLUSIVE_ACCESS_REGISTRANTS_ONLY, SERVER_KEY).catch(() => undefined);
      await client.prOut(t.target, t.lun, 0 /* REGISTER: unregister */, 0, SERVER_KEY, 0n);
    };
    return;
  }
  if (ctx.mode === 'none') return;
  if (!ctx.dataMoverPort) throw new ReservationImpossible('the data mover\'s initiator port is unknown');
  const port = ctx.dataMoverPort;
  try {
    await client.reserve10(t.target, t.lun, port);
    s.reserved = true;
    s.notes.push(`drive reserved (third-party RESERVE(10)) for data mover port ${port}`);
    s.release = () => client.release10(t.target, t.lun, port);
  } catch (e) {
    if (!(e instanceof CommandFailed && e.sense?.key === SenseKey.ILLEGAL_REQUEST)) throw e;
    throw new ReservationImpossible(`the drive refused the third-party RESERVE(10) (${e.message})`);
  }
}

/** Refuse before the tape moves: an unreserved drive is open to every other initiator mid-job. */
export function requireDataMoverPort(mode: ReservationMode, port: string | undefined, problem: string | undefined): void {
  if (mode === 'spc2' && !port) throw new ReservationImpossible(`the data mover's initiator port is unknown (${problem ?? 'not given'})`);
}

/** The drive cannot be reserved for the data mover: the job refuses rather than run unreserved. */
export class ReservationImpossible extends Error {
  override name = 'ReservationImpossible';
  constructor(why: string) {
    super(`cannot reserve the tape drive for the data mover: ${why}; give --data-mover-port WWPN (the data mover's initiator port), or --reservation none to run without a reservation`);
  }
}

/** Undo whatever reserveForDataMover did (safe to call twice). */
export async function closeTape(_client: ScsiClient, _t: TapeRef, s: TapeSession): Promise<void> {
  const release = s.release;
  s.release = undefined;
  s.reserved = false;
  await release?.();
}
