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
import { encodeBackupRecord, type BackupHeader } from './backup-record.js';
import { TransportBlockReader } from './block-reader.js';
import type { BackupMode, Catalog, FileRow } from './catalog.js';
import { copyLimits, type DiscoveredLu } from './discovery.js';
import { describeFailure, runJob, type JobFailure, type JobResult } from './job-runner.js';
import { compile, type TapeOp } from './plan/compile.js';
import { bitmapRunsFromExtents, fullRuns, mergeRuns, runPieces, sparseRuns, type Run } from './plan/image-plan.js';
import { planTar } from './plan/tar-plan.js';
import type { ProgressSink } from './progress.js';
import type { ScsiClient } from './scsi-client.js';
import { closeTape, encodeLabel, openTape, reserveForDataMover, type ReservationMode, type TapeSession } from './tape-handling.js';
import { reservationContext } from './reservation.js';
import { objectWindow, readFailure, remainingOps } from './resume.js';

export const IMAGE_RECORD = 65536;

/** Where the change-tracking bitmap comes from: the lab in process, or the router's management API. */
export interface ChangeSource {
  /** Blocks changed since the last take, as extents; resets the epoch. */
  take(): Array<{ lba: number; count: number }> | Promise<Array<{ lba: number; count: number }>>;
}

export interface BackupParams {
  client: ScsiClient;
  catalog: Catalog;
  dataMover: DiscoveredLu;
  /** The data mover's initiator port (third-party reservation of the drive). */
  dataMoverPort?: string;
  source: DiscoveredLu;
  tape: DiscoveredLu;
  mode: BackupMode;
  barcode?: string;
  changes?: ChangeSource;
  progress?: ProgressSink;
  /** Read the source over the transport to record SHA-256 (counted separately). Default true. */
  checksums?: boolean;
  /** Re-run a failed command this many times after putting the tape back (default 0). */
  retries?: number;
  /** How the drive is kept for the data mover (default spc2: third-party RESERVE(10)). */
  reservation?: ReservationMode;
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
}

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
  return { recordSize: TAR_RECORD, pieces: plan.pieces, files, baseId: null, sha, skipped };
}

/** Image modes: the block runs to copy (all, allocated, or changed since the base) and their hash. */
async function planImage(p: BackupParams, reader: TransportBlockReader, notes: string[]): Promise<StreamPlan> {
  const { catalog, source, mode } = p;
  const bs = source.blockSize!, blocks = source.blocks!;
  let runs: Run[];
  let baseId: number | null = null;
  if (mode === 'full') runs = fullRuns(blocks);
  else if (mode === 'sparse') runs = sparseRuns((await FatVolume.open(reader)).regions());
  else {
    const base = catalog.latest(source.naa!, ['full', 'sparse']);
    if (!base) throw new Error(`${mode} backup needs a complete full or sparse backup of this source first`);
    baseId = base.id;
    if (!p.changes) throw new Error(`${mode} backup needs the disk's change tracking (over iSCSI: the router's management API, --api)`);
    let changed = bitmapRunsFromExtents(await p.changes.take());
    if (mode === 'differential') {
      for (const b of catalog.backups().filter((x) => x.id > base.id && x.source_naa === source.naa && x.status === 'complete' && (x.mode === 'incremental' || x.mode === 'differential')))
        changed = mergeRuns([...changed, ...(JSON.parse(b.map_json ?? '[]') as Run[])]);
    }
    runs = changed;
  }
  if (mode === 'full' || mode === 'sparse') await p.changes?.take(); // new change epoch starts with this base
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
  return { recordSize: IMAGE_RECORD, pieces, runs, baseId, sha, skipped: [] };
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
    disk: { naa: Buffer.from(p.source.naa!, 'hex'), blockSize: p.source.blockSize! },
    tape: { naa: Buffer.from(p.tape.naa!, 'hex'), blockSize: 0 },
    ops,
    limits,
    ...(listId !== undefined ? { listId } : {}),
  });

/** Position phase: where the job lands on tape, its catalog row (`running`) and its commands. */
async function placeJob(p: BackupParams, session: TapeSession, plan: StreamPlan, streamBytes: number, notes: string[], limits: ReturnType<typeof copyLimits>): Promise<PlacedJob> {
  const { client, catalog, source, tape, mode } = p;
  const bs = source.blockSize!, blocks = source.blocks!;
  const { recordSize, runs, baseId, files } = plan;
  const pos = await client.readPosition(tape.target, tape.lun);
  const labelObjects = session.blank ? 2 : 0;
  const headerFile = pos.fileId + (session.blank ? 1 : 0);
  const dataObject = pos.firstObject + labelObjects + 2;
  const backupId = catalog.begin({
    mode, source_target: source.target, source_lun: source.lun, source_naa: source.naa!, block_size: bs, source_blocks: blocks,
    barcode: session.barcode, drive: `${tape.target}/${tape.lun}`, header_file: headerFile, data_file: headerFile + 1, data_object: dataObject,
    record_size: recordSize, base_backup_id: baseId, map_json: runs ? JSON.stringify(runs) : null,
  });
  for (const n of notes) catalog.event(backupId, n);
  const header: BackupHeader = {
    kind: 'header', backupId, mode, created: new Date().toISOString(),
    source: { target: source.target, lun: source.lun, naa: source.naa!, blockSize: bs, blocks }, recordSize,
    ...(runs ? { map: runs } : {}), ...(baseId !== null ? { baseBackupId: baseId } : {}), ...(files ? { members: files.length } : {}),
  };
  const records = Math.ceil(streamBytes / recordSize);
  const ops: TapeOp[] = [
    ...(session.blank ? [{ op: 'record', data: encodeLabel(session.barcode) } as TapeOp, { op: 'filemarks', count: 1 } as TapeOp] : []),
    { op: 'record', data: encodeBackupRecord(header) },
    { op: 'filemarks', count: 1 },
    { op: 'stream', recordSize, pieces: plan.pieces },
    { op: 'filemarks', count: 1 },
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
  const { client, catalog, source, tape } = p;
  const { backupId, commands, ops } = job;
  const progress = p.progress ? { progress: p.progress } : {};
  let current = commands;
  let currentStart = job.startObject;
  let result = await runJob(client, p.dataMover, current, progress);
  let moved = result.bytesMoved;
  let nextListId = (commands[commands.length - 1]!.listId % 255) + 1;
  for (let attempt = 0; !result.ok && attempt < (p.retries ?? 0); attempt++) {
    const f = result.failure!;
    const cmd = current[f.commandIndex]!;
    const cmdStart = currentStart + current.slice(0, f.commandIndex).reduce((s, c) => s + c.objects, 0);
    const report = await readFailure(client, p.dataMover, f.listId);
    const seg = report.segment ?? f.segmentInCommand;
    // The drive is reserved for the data mover: give it back for one READ POSITION.
    await closeTape(client, tape, session);
    const at = await client.readPosition(tape.target, tape.lun);
    await reserveForDataMover(client, tape, session, reservationContext(client, p.reservation ?? 'spc2', p.dataMover, source, tape, p.dataMoverPort));
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
  const session = await openTape(client, tape, p.barcode);
  const notes = [...session.notes];
  let backupId = -1;
  try {
    const readStart = portBytes(client);
    // ---- plan ----
    const reader = new TransportBlockReader(client, source.target, source.lun, source.blockSize!, source.blocks!);
    const plan = mode === 'files' ? await planFiles(p, reader, notes) : await planImage(p, reader, notes);
    const { files, sha, skipped, pieces } = plan;
    const portBytesReading = portBytes(client) - readStart;
    const streamBytes = pieces.reduce((s, x) => s + (x.kind === 'inline' ? x.data.length : x.kind === 'disk' ? x.length : 0), 0);

    // ---- position ----
    const job = await placeJob(p, session, plan, streamBytes, notes, limits);
    backupId = job.backupId;
    const { commands, segments, dataObject, records } = job;

    // ---- run (with resume from the failed segment, see resume.ts) ----
    await reserveForDataMover(client, tape, session, reservationContext(client, p.reservation ?? 'spc2', p.dataMover, source, tape, p.dataMoverPort));
    for (const n of session.notes.slice(notes.length)) catalog.event(backupId, n);
    const copyStart = portBytes(client);
    const result = await runWithResume(p, session, job, limits);
    await closeTape(client, tape, session);
    const portBytesDuringCopy = portBytes(client) - copyStart;

    // ---- check ----
    const base = { backupId, mode, barcode: session.barcode, streamBytes, bytesMoved: result.bytesMoved, elapsedMs: result.elapsedMs, commands: commands.length, segments, portBytesDuringCopy, portBytesReading, files: files?.filter((f) => !f.problem).length ?? 0, skipped, notes };
    if (!result.ok) {
      const msg = describeFailure(result.failure!);
      catalog.fail(backupId, msg, result.failure!.failedSegment);
      p.progress?.done(`FAILED: ${msg}`);
      return { ...base, ok: false, failure: result.failure!, error: msg };
    }
    // The data mover must have left the tape right after the trailer's filemark.
    const end = await client.readPosition(tape.target, tape.lun);
    const expected = dataObject + records + 1 + 2;
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

