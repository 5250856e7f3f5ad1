/**
 * One backup job end to end: open the tape (reserve for the data mover, label, append position),
 * plan the stream for the mode, record the backup as `running`, run the EXTENDED COPY commands,
 * check the tape position, and only then mark the backup complete with its files. Any failure
 * marks it failed with the failed segment and the copy target's sense; the drive is released in
 * every case.
 */
import { createHash } from 'node:crypto';
import { FatVolume } from '../fs/fat/volume.js';
import { TAR_RECORD } from '../fs/tar.js';
import { SenseKey, type SenseInfo } from '../scsi/sense.js';
import { encodeBackupRecord, type BackupHeader } from './backup-record.js';
import { TransportBlockReader } from './block-reader.js';
import type { BackupMode, BackupRow, Catalog, FileRow } from './catalog.js';
import { copyLimits, type DiscoveredLu } from './discovery.js';
import { describeFailure, runJob, type JobFailure, type JobResult } from './job-runner.js';
import { compile, type TapeOp } from './plan/compile.js';
import { bitmapRunsFromExtents, fullRuns, mergeRuns, runPieces, sparseRuns, type Run } from './plan/image-plan.js';
import { planTar } from './plan/tar-plan.js';
import type { ProgressSink } from './progress.js';
import type { ScsiClient } from './scsi-client.js';
import { closeTape, encodeLabel, openTape, requireDataMoverPort, reserveForDataMover, type ReservationMode, type TapeSession } from './tape-handling.js';
import { reservationContext } from './reservation.js';
import { objectWindow, readFailure, remainingOps } from './resume.js';

export const IMAGE_RECORD = 65536;

/** Where the change-tracking bitmap comes from: the lab in process, or the router's management API. */
export interface ChangeSource {
  /** Blocks changed since the last take, as extents; resets the epoch. */
  take(): Array<{ lba: number; count: number }> | Promise<Array<{ lba: number; count: number }>>;
}

/** The management API asked for change maps does not serve the disk (a tgtd LU, another process's array). */
export class NoChangeTracking extends Error {
  override name = 'NoChangeTracking';
}

export interface BackupParams {
  client: ScsiClient;
  catalog: Catalog;
  dataMover: DiscoveredLu;
  /** The data mover's initiator port (third-party reservation of the drive). */
  dataMoverPort?: string;
  /** The disk backed up: its identity is what the catalog (and incremental chains) key on. */
  source: DiscoveredLu;
  /**
   * Read the data from this snapshot LU of `source` instead of from `source` itself (snapshot.md
   * §4.7): the file system walk, the checksums and every EXTENDED COPY segment use it, so the
   * backup is the source's state at the snapshot instant. `changes` must then be the snapshot's.
   */
  snapshot?: { lu: DiscoveredLu; name: string; setId: string; instant: string };
  tape: DiscoveredLu;
  mode: BackupMode;
  barcode?: string;
  /** Why `barcode` is not known (said when a blank cartridge would need a label). */
  barcodeProblem?: string;
  /** Why `dataMoverPort` is not known (said when the job refuses to run unreserved). */
  dataMoverPortProblem?: string;
  changes?: ChangeSource;
  progress?: ProgressSink;
  /** Read the source over the transport to record SHA-256 (counted separately). Default true. */
  checksums?: boolean;
  /** Re-run a failed command this many times after putting the tape back (default 0). */
  retries?: number;
  /** How the drive is kept for the data mover (default spc2: third-party RESERVE(10)). */
  reservation?: ReservationMode;
  /**
   * After COPY ABORTED 0D/02 (a copy target the data mover could not reach), wait up to this long
   * for the source and the drive to answer TEST UNIT READY again before resuming (default 0).
   */
  retryWaitMs?: number;
}

/** COPY ABORTED, COPY TARGET DEVICE NOT REACHABLE (SPC-4 table of ASC/ASCQ, 0D/02). */
function unreachableTarget(s: SenseInfo | undefined): boolean {
  return s?.key === SenseKey.COPY_ABORTED && s.asc === 0x0d && s.ascq === 0x02;
}

/**
 * Polls TEST UNIT READY on each LU until it answers (any status: a unit attention after the
 * target's restart is an answer) or the time is up. A copy target that went away (a killed array
 * process, a restarted tgtd) is then back for the data mover too, which logs in again itself.
 */
async function waitReachable(client: ScsiClient, lus: DiscoveredLu[], ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (const lu of lus)
    for (;;) {
      try {
        await client.testUnitReady(lu.target, lu.lun);
        break;
      } catch {
        if (Date.now() >= until) return false;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  return true;
}

export interface BackupOutcome {
  backupId: number;
  ok: boolean;
  mode: BackupMode;
  barcode: string;
  streamBytes: number;
  bytesMoved: number;
  elapsedMs: number;
  commands: number;
  segments: number;
  /** Bytes over the backup server's port while the data moved (control traffic only). */
  portBytesDuringCopy: number;
  /** Bytes read over the port to compute checksums and walk the file system. */
  portBytesReading: number;
  files: number;
  skipped: string[];
  failure?: JobFailure;
  error?: string;
  notes: string[];
  /** What the operator must hear (e.g. why an incremental copied every block). */
  warnings: string[];
}

/**
 * Why the change map a take returns now cannot be trusted to hold every block changed since the
 * previous backup of this chain (undefined when it can): the previous image backup did not take
 * the map (no change tracking then: the epoch began at some older take), or a later backup took
 * it and then failed (those changes were taken away and never reached tape).
 */
function changeMapGap(catalog: Catalog, naa: string, base: BackupRow): string | undefined {
  const ofSource = catalog.backups().filter((x) => x.source_naa === naa && x.id >= base.id);
  const chain = ofSource.filter((x) => x.status === 'complete' && (x.id === base.id || x.mode === 'incremental' || x.mode === 'differential'));
  // The map holds the changes since the last take; the chain's newest backup must have made it.
  // (A differential adds the maps of the incrementals since the base, which the catalog keeps.)
  const prev = chain[chain.length - 1]!;
  const lost = ofSource.find((x) => x.id > prev.id && x.status !== 'complete' && x.change_epoch === 1);
  if (lost) return `backup ${lost.id} (${lost.mode}) took the change map and then ${lost.status === 'running' ? 'did not finish' : 'failed'}, so the changes it took reached no tape`;
  if (prev.change_epoch !== 1) return `backup ${prev.id} (${prev.mode}) was taken without change tracking, so no change epoch began with it`;
  return undefined;
}

/** The LU the data is read from: the snapshot when there is one. */
const dataLu = (p: BackupParams): DiscoveredLu => p.snapshot?.lu ?? p.source;

const portBytes = (c: ScsiClient) => c.transport.stats.bytesIn + c.transport.stats.bytesOut;

/** What the plan phase decides: the tape stream and what the catalog records of it. */
interface StreamPlan {
  recordSize: number;
  pieces: ReturnType<typeof runPieces>;
  files?: Omit<FileRow, 'backup_id'>[];
  runs?: Run[];
  baseId: number | null;
  sha: string | null;
  skipped: string[];
  /** This backup took the disk's change map: a change epoch begins with it. */
  tookChanges: boolean;
  /** Why no change map could be taken although a change source was given (the API does not serve the disk). */
  changeProblem?: string;
}

/** Files mode: walk the FAT volume, plan the tar stream and hash each file (read over the port). */
async function planFiles(p: BackupParams, reader: TransportBlockReader, notes: string[]): Promise<StreamPlan> {
  const vol = await FatVolume.open(reader);
  const walk = await vol.walk();
  const plan = planTar(walk);
  const files: Omit<FileRow, 'backup_id'>[] = [];
  const skipped: string[] = [];
  let checksumFailed = false;
  const all = createHash('sha256');
  for (const m of plan.members) {
    let fileSha: string | null = null;
    if (!m.skipped && !m.entry.isDirectory && p.checksums !== false) {
      try {
        const data = await vol.readFile(m.entry);
        fileSha = createHash('sha256').update(data).digest('hex');
        all.update(data);
      } catch (e) {
        // The data mover will meet the same error and fail the job; say why there is no hash.
        notes.push(`no checksum for ${m.entry.path}: ${(e as Error).message}`);
        checksumFailed = true;
      }
    }
    if (m.skipped) skipped.push(`${m.entry.path}: ${m.entry.problem}`);
    files.push({
      path: m.entry.path, is_dir: m.entry.isDirectory ? 1 : 0, size: m.entry.size, mtime: m.entry.mtime, attributes: m.entry.attributes,
      header_offset: m.headerOffset, data_offset: m.dataOffset, extents_json: JSON.stringify(m.entry.extents.map((x) => [x.offset, x.length])),
      sha256: fileSha, problem: m.entry.problem ?? null,
    });
  }
  const sha = p.checksums !== false && !checksumFailed ? all.digest('hex') : null;
  return { recordSize: TAR_RECORD, pieces: plan.pieces, files, baseId: null, sha, skipped, tookChanges: false };
}

/** Image modes: the block runs to copy (all, allocated, or changed since the base) and their hash. */
async function planImage(p: BackupParams, reader: TransportBlockReader, notes: string[], warnings: string[]): Promise<StreamPlan> {
  const { catalog, source, mode } = p;
  const bs = dataLu(p).blockSize!, blocks = dataLu(p).blocks!;
  let runs: Run[];
  let baseId: number | null = null;
  let tookChanges = false;
  let changeProblem: string | undefined;
  if (mode === 'full') runs = fullRuns(blocks);
  else if (mode === 'sparse') runs = sparseRuns((await FatVolume.open(reader)).regions());
  else {
    const base = catalog.latest(source.naa!, ['full', 'sparse']);
    if (!base) throw new Error(`${mode} backup needs a complete full or sparse backup of this source first`);
    baseId = base.id;
    if (!p.changes) throw new Error(`${mode} backup needs the disk's change tracking (over iSCSI: the router's management API, --api)`);
    let changed = bitmapRunsFromExtents(await p.changes.take());
    tookChanges = true;
    const untrusted = changeMapGap(catalog, source.naa!, base);
    if (untrusted) {
      // The map covers only changes since the last take, and that take did not belong to this
      // chain: copying just those blocks could leave changes out. Copy every block instead.
      changed = fullRuns(blocks);
      warnings.push(`${mode} copies every block of the source: ${untrusted}; this backup starts a change epoch, so the next ${mode} carries only changed blocks`);
    } else if (mode === 'differential') {
      for (const b of catalog.backups().filter((x) => x.id > base.id && x.source_naa === source.naa && x.status === 'complete' && (x.mode === 'incremental' || x.mode === 'differential')))
        changed = mergeRuns([...changed, ...(JSON.parse(b.map_json ?? '[]') as Run[])]);
    }
    runs = changed;
  }
  if ((mode === 'full' || mode === 'sparse') && p.changes) {
    try {
      await p.changes.take(); // new change epoch starts with this base
      tookChanges = true;
    } catch (e) {
      // A full or sparse backup needs no change map; only the chain it could start does.
      if (!(e instanceof NoChangeTracking)) throw e;
      changeProblem = e.message;
    }
  }
  const pieces = runPieces(runs, bs);
  let sha: string | null = null;
  if (p.checksums !== false) {
    try {
      const h = createHash('sha256');
      for (const [lba, n] of runs) for (let d = 0; d < n; d += 2048) h.update(await reader.readBlocks(lba + d, Math.min(2048, n - d)));
      sha = h.digest('hex');
    } catch (e) {
      notes.push(`no image checksum: ${(e as Error).message}`);
    }
  }
  return { recordSize: IMAGE_RECORD, pieces, runs, baseId, sha, skipped: [], tookChanges, ...(changeProblem ? { changeProblem } : {}) };
}

/** The job as placed on the tape: its catalog row, the tape ops and their EXTENDED COPY commands. */
interface PlacedJob {
  backupId: number;
  /** The tape's position before the job. */
  startObject: number;
  dataObject: number;
  records: number;
  ops: TapeOp[];
  commands: ReturnType<typeof compile>;
  segments: number;
}

const compileBackup = (p: BackupParams, ops: TapeOp[], limits: ReturnType<typeof copyLimits>, listId?: number) =>
  compile({
    direction: 'backup',
    disk: { naa: Buffer.from(dataLu(p).naa!, 'hex'), blockSize: dataLu(p).blockSize! },
    tape: { naa: Buffer.from(p.tape.naa!, 'hex'), blockSize: 0 },
    ops,
    limits,
    ...(listId !== undefined ? { listId } : {}),
  });

/** Position phase: where the job lands on tape, its catalog row (`running`) and its commands. */
async function placeJob(p: BackupParams, session: TapeSession, plan: StreamPlan, streamBytes: number, notes: string[], warnings: string[], limits: ReturnType<typeof copyLimits>): Promise<PlacedJob> {
  const { client, catalog, source, tape, mode } = p;
  const bs = dataLu(p).blockSize!, blocks = dataLu(p).blocks!;
  const { recordSize, runs, baseId, files } = plan;
  const pos = await client.readPosition(tape.target, tape.lun);
  const labelObjects = session.blank ? 2 : 0;
  const closing = session.torn ? 1 : 0;
  const headerFile = pos.fileId + (session.blank ? 1 : 0) + closing;
  const dataObject = pos.firstObject + labelObjects + closing + 2;
  const backupId = catalog.begin({
    mode, source_target: source.target, source_lun: source.lun, source_naa: source.naa!, block_size: bs, source_blocks: blocks,
    barcode: session.barcode, drive: `${tape.target}/${tape.lun}`, header_file: headerFile, data_file: headerFile + 1, data_object: dataObject,
    record_size: recordSize, base_backup_id: baseId, map_json: runs ? JSON.stringify(runs) : null, change_epoch: plan.tookChanges ? 1 : 0,
    ...(p.snapshot ? { snapshot_name: p.snapshot.name, snapshot_set: p.snapshot.setId, snapshot_naa: p.snapshot.lu.naa!, snapshot_instant: p.snapshot.instant } : {}),
  });
  if (p.snapshot) catalog.event(backupId, `read from snapshot ${p.snapshot.name} (set ${p.snapshot.setId}, naa.${p.snapshot.lu.naa}) taken at ${p.snapshot.instant}`);
  if (!plan.tookChanges && (mode === 'full' || mode === 'sparse')) warnings.push(`no change epoch started (${plan.changeProblem ?? `no change tracking${client.transport.initiatorId.startsWith('iqn.') ? ': over iSCSI it needs --api' : ''}`}): an incremental or differential based on this backup will copy every block`);
  if (session.torn) {
    // The job that owned the torn file: its catalog row says failed, with why.
    const f = session.torn.file;
    const owner = catalog.backups().find((b) => b.barcode === session.barcode && b.id !== backupId && (b.header_file === f || b.data_file === f || b.data_file + 1 === f));
    if (owner) {
      if (owner.status === 'running') catalog.fail(owner.id, `its tape file ${f} on ${session.barcode} was left open (the job ended mid-write)`);
      catalog.event(owner.id, `tape file ${f} on ${session.barcode} was torn (no closing filemark); backup ${backupId} closed it with a filemark`);
    }
  }
  for (const n of notes) catalog.event(backupId, n);
  for (const w of warnings) catalog.event(backupId, `warning: ${w}`);
  const header: BackupHeader = {
    kind: 'header', backupId, mode, created: new Date().toISOString(),
    source: { target: source.target, lun: source.lun, naa: source.naa!, blockSize: bs, blocks }, recordSize,
    ...(runs ? { map: runs } : {}), ...(baseId !== null ? { baseBackupId: baseId } : {}), ...(files ? { members: files.length } : {}),
  };
  const records = Math.ceil(streamBytes / recordSize);
  const ops: TapeOp[] = [
    ...(session.blank ? [{ op: 'record', data: encodeLabel(session.barcode) } as TapeOp, { op: 'filemarks', count: 1 } as TapeOp] : []),
    ...(session.torn ? [{ op: 'filemarks', count: 1 } as TapeOp] : []),
    { op: 'record', data: encodeBackupRecord(header) },
    { op: 'filemarks', count: 1 },
    // No data file when nothing changed: an empty tape file (two filemarks in a row) is end of
    // data to mtdump and most tape tools, which would hide every later backup.
    ...(streamBytes > 0 ? [{ op: 'stream', recordSize, pieces: plan.pieces } as TapeOp, { op: 'filemarks', count: 1 } as TapeOp] : []),
    { op: 'record', data: encodeBackupRecord({ kind: 'trailer', backupId, streamBytes, records, finished: new Date().toISOString() }) },
    { op: 'filemarks', count: 1 },
  ];
  const commands = compileBackup(p, ops, limits);
  const segments = commands.reduce((s, c) => s + c.segments.length, 0);
  catalog.event(backupId, `planned ${commands.length} EXTENDED COPY commands, ${segments} segments, ${streamBytes} stream bytes`);
  return { backupId, startObject: pos.firstObject, dataObject, records, ops, commands, segments };
}

/**
 * Run phase: the commands, and after a failure (up to `retries` times) the rest of the job from the
 * failed segment behind a LOCATE, when the drive's position agrees with the plan (see resume.ts).
 */
async function runWithResume(p: BackupParams, session: TapeSession, job: PlacedJob, limits: ReturnType<typeof copyLimits>): Promise<JobResult> {
  const { client, catalog, tape } = p;
  const { backupId, commands, ops } = job;
  const progress = p.progress ? { progress: p.progress } : {};
  let current = commands;
  let currentStart = job.startObject;
  let result = await runJob(client, p.dataMover, current, progress);
  let moved = result.bytesMoved;
  let nextListId = (commands[commands.length - 1]!.listId % 255) + 1;
  for (let attempt = 0; !result.ok && attempt < (p.retries ?? 0); attempt++) {
    const f = result.failure!;
    if (unreachableTarget(f.sense) && p.retryWaitMs) {
      const back = await waitReachable(client, [dataLu(p), tape], p.retryWaitMs);
      catalog.event(backupId, `attempt ${attempt + 1}: a copy target was unreachable; ${back ? 'source and drive answer again' : `still unreachable after ${p.retryWaitMs} ms, trying anyway`}`);
    }
    const cmd = current[f.commandIndex]!;
    const cmdStart = currentStart + current.slice(0, f.commandIndex).reduce((s, c) => s + c.objects, 0);
    const report = await readFailure(client, p.dataMover, f.listId);
    const seg = report.segment ?? f.segmentInCommand;
    // The drive is reserved for the data mover: give it back for one READ POSITION.
    await closeTape(client, tape, session);
    const at = await client.readPosition(tape.target, tape.lun);
    await reserveForDataMover(client, tape, session, reservationContext(client, p.reservation ?? 'spc2', p.dataMover, dataLu(p), tape, p.dataMoverPort));
    const window = seg !== undefined ? objectWindow(cmd, seg, report.residual) : { min: 0, max: cmd.objects, fromResidual: at.firstObject - cmdStart };
    const facts = `segment ${seg ?? '?'} of list ${f.listId} (job segment ${f.failedSegment}), segments processed ${report.segmentsProcessed ?? '?'}, residual ${report.residual ?? 'none'}; drive at object ${at.firstObject}, command began at ${cmdStart}, plan allows ${cmdStart + window.min}..${cmdStart + window.max}, residual implies ${cmdStart + window.fromResidual}`;
    if (at.firstObject < cmdStart + window.min || at.firstObject > cmdStart + window.max) {
      catalog.event(backupId, `attempt ${attempt + 1}: ${describeFailure(f)}; not resuming: ${facts}`);
      break;
    }
    const written = at.firstObject - job.startObject;
    const rest = remainingOps(ops, written);
    current = compileBackup(p, [{ op: 'locate', objectId: at.firstObject }, ...rest], limits, nextListId);
    nextListId = (current[current.length - 1]!.listId % 255) + 1;
    currentStart = at.firstObject;
    catalog.event(backupId, `attempt ${attempt + 1}: ${describeFailure(f)}; resuming from the failed segment: ${facts}; ${written} job objects on tape, ${current.length} new EXTENDED COPY commands from tape object ${at.firstObject}`);
    result = await runJob(client, p.dataMover, current, progress);
    moved += result.bytesMoved;
  }
  return { ...result, bytesMoved: moved };
}

export async function runBackup(p: BackupParams): Promise<BackupOutcome> {
  const { client, catalog, source, tape, mode } = p;
  if (!source.naa || !tape.naa) throw new Error('source and tape need an NAA designator (VPD 83h) to be named in a CSCD');
  const limits = copyLimits(p.dataMover.copy!);
  if (mode === 'incremental' || mode === 'differential') {
    // Cheap refusals first, before the tape moves.
    if (!catalog.latest(source.naa, ['full', 'sparse'])) throw new Error(`${mode} backup needs a complete full or sparse backup of this source first`);
    if (!p.changes) throw new Error(`${mode} backup needs the disk's change tracking (over iSCSI: the router's management API, --api)`);
  }
  const reservation = p.reservation ?? 'spc2';
  requireDataMoverPort(reservation, p.dataMoverPort, p.dataMoverPortProblem);
  const session = await openTape(client, tape, p.barcode, true, p.barcodeProblem);
  const notes = [...session.notes];
  /** What the operator must hear about this backup (printed with the result, kept as catalog events). */
  const warnings: string[] = [];
  let backupId = -1;
  try {
    const readStart = portBytes(client);
    // ---- plan ----
    const from = dataLu(p);
    if (p.snapshot && (from.blockSize !== source.blockSize || from.blocks !== source.blocks)) {
      notes.push(`snapshot ${p.snapshot.name}: ${from.blocks} blocks of ${from.blockSize} bytes at its instant (the disk now has ${source.blocks} of ${source.blockSize})`);
    }
    const reader = new TransportBlockReader(client, from.target, from.lun, from.blockSize!, from.blocks!);
    const plan = mode === 'files' ? await planFiles(p, reader, notes) : await planImage(p, reader, notes, warnings);
    const { files, sha, skipped, pieces } = plan;
    const portBytesReading = portBytes(client) - readStart;
    const streamBytes = pieces.reduce((s, x) => s + (x.kind === 'inline' ? x.data.length : x.kind === 'disk' ? x.length : 0), 0);

    // ---- position ----
    const job = await placeJob(p, session, plan, streamBytes, notes, warnings, limits);
    backupId = job.backupId;
    const { commands, segments, dataObject, records } = job;

    // ---- run (with resume from the failed segment, see resume.ts) ----
    await reserveForDataMover(client, tape, session, reservationContext(client, reservation, p.dataMover, dataLu(p), tape, p.dataMoverPort));
    for (const n of session.notes.slice(notes.length)) catalog.event(backupId, n);
    const copyStart = portBytes(client);
    const result = await runWithResume(p, session, job, limits);
    await closeTape(client, tape, session);
    const portBytesDuringCopy = portBytes(client) - copyStart;

    // ---- check ----
    const base = { backupId, mode, barcode: session.barcode, streamBytes, bytesMoved: result.bytesMoved, elapsedMs: result.elapsedMs, commands: commands.length, segments, portBytesDuringCopy, portBytesReading, files: files?.filter((f) => !f.problem).length ?? 0, skipped, notes, warnings };
    if (!result.ok) {
      const msg = describeFailure(result.failure!);
      catalog.fail(backupId, msg, result.failure!.failedSegment);
      p.progress?.done(`FAILED: ${msg}`);
      return { ...base, ok: false, failure: result.failure!, error: msg };
    }
    // The data mover must have left the tape right after the trailer's filemark.
    const end = await client.readPosition(tape.target, tape.lun);
    const expected = dataObject + (streamBytes > 0 ? records + 1 : 0) + 2;
    if (end.firstObject !== expected) {
      const msg = `tape at object ${end.firstObject} after the job, expected ${expected}`;
      catalog.fail(backupId, msg);
      return { ...base, ok: false, error: msg };
    }
    catalog.complete(backupId, { stream_bytes: streamBytes, sha256: sha, bytes_moved: result.bytesMoved, port_bytes: portBytesDuringCopy, duration_ms: result.elapsedMs, ...(files ? { files } : {}) });
    p.progress?.done(`backup ${backupId} (${mode}) complete: ${(streamBytes / 1048576).toFixed(1)} MiB in ${commands.length} commands`);
    return { ...base, ok: true };
  } catch (e) {
    if (backupId >= 0) catalog.fail(backupId, (e as Error).message);
    throw e;
  } finally {
    await closeTape(client, tape, session).catch(() => undefined);
  }
}

