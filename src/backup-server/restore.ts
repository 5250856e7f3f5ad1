/**
 * Server-free restore: the data mover reads the tape and writes the disk (01h stream→block).
 * Whole images: the backup's chain (base full/sparse image, then each incremental in order) is
 * replayed onto the target LU, holes of a sparse image are deallocated with WRITE SAME(16) UNMAP
 * (no data crosses the server). A single file: LOCATE to the record holding its tar data, discard
 * up to the data, write roundUp(size, 512) bytes into a scratch LU; optionally read it out over
 * the transport into a local file.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { padTo512 } from '../fs/tar.js';
import { decodeBlockLimitsVpd, writeSame16 } from '../scsi/sbc.js';
import type { BackupRow, Catalog, FileRow } from './catalog.js';
import { copyLimits, type DiscoveredLu } from './discovery.js';
import { describeFailure, runJob } from './job-runner.js';
import { compile, type StreamPiece } from './plan/compile.js';
import type { Run } from './plan/image-plan.js';
import type { ProgressSink } from './progress.js';
import type { ScsiClient } from './scsi-client.js';
import { closeTape, openTape, reserveForDataMover, type ReservationMode } from './tape-handling.js';
import { reservationContext } from './reservation.js';

export interface RestoreParams {
  client: ScsiClient;
  catalog: Catalog;
  dataMover: DiscoveredLu;
  dataMoverPort?: string;
  tape: DiscoveredLu;
  target: DiscoveredLu;
  progress?: ProgressSink;
  reservation?: ReservationMode;
}

export interface RestoreOutcome {
  ok: boolean;
  bytesMoved: number;
  elapsedMs: number;
  portBytes: number;
  backups: number[];
  error?: string;
}

const formatBytes = (n: number) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

const portBytes = (c: ScsiClient) => c.transport.stats.bytesIn + c.transport.stats.bytesOut;

/** The backups to replay for an image restore of `id`: its base image and incrementals up to it. */
export function restoreChain(catalog: Catalog, id: number): BackupRow[] {
  const b = catalog.backup(id);
  if (!b || b.status !== 'complete') throw new Error(`backup ${id} is not a complete backup`);
  if (b.mode === 'files') throw new Error(`backup ${id} is file-level: restore single files from it, or an image backup`);
  if (b.mode === 'full' || b.mode === 'sparse') return [b];
  const base = catalog.backup(b.base_backup_id!)!;
  if (b.mode === 'differential') return [base, b];
  // Every change epoch since the base is in exactly one incremental or differential: replay them all.
  const incs = catalog.backups().filter((x) => x.id > base.id && x.id < b.id && x.source_naa === b.source_naa && x.status === 'complete' && (x.mode === 'incremental' || x.mode === 'differential'));
  return [base, ...incs, b];
}

async function runStreamRestore(p: RestoreParams, dataObject: number, recordSize: number, pieces: StreamPiece[]): Promise<{ ok: boolean; moved: number; ms: number; error?: string }> {
  const cmds = compile({
    direction: 'restore',
    disk: { naa: Buffer.from(p.target.naa!, 'hex'), blockSize: p.target.blockSize! },
    tape: { naa: Buffer.from(p.tape.naa!, 'hex'), blockSize: 0 },
    ops: [{ op: 'locate', objectId: dataObject }, { op: 'stream', recordSize, pieces }],
    limits: copyLimits(p.dataMover.copy!),
  });
  const r = await runJob(p.client, p.dataMover, cmds, p.progress ? { progress: p.progress } : {});
  return { ok: r.ok, moved: r.bytesMoved, ms: r.elapsedMs, ...(r.failure ? { error: describeFailure(r.failure) } : {}) };
}

/** Deallocate (zero) LBA runs with WRITE SAME(16) UNMAP: one block of zeros per command. */
async function zeroRuns(client: ScsiClient, lu: DiscoveredLu, runs: Run[]): Promise<void> {
  const zero = Buffer.alloc(lu.blockSize!);
  // MAXIMUM WRITE SAME LENGTH from the Block Limits VPD page (0 = no limit reported).
  const mwsl = (await client.vpd(lu.target, lu.lun, 0xb0).then(decodeBlockLimitsVpd).catch(() => undefined))?.maximumWriteSameLength || 8192;
  for (const [lba, n] of runs) {
    for (let d = 0; d < n; d += mwsl) {
      await client.request('WRITE SAME(16)', lu.target, lu.lun, writeSame16({ lba: lba + d, blocks: Math.min(n - d, mwsl), unmap: true }, zero.length), zero);
    }
  }
}

function holesOf(runs: Run[], blocks: number): Run[] {
  const out: Run[] = [];
  let at = 0;
  for (const [l, n] of [...runs].sort((a, b) => a[0] - b[0])) {
    if (l > at) out.push([at, l - at]);
    at = Math.max(at, l + n);
  }
  if (at < blocks) out.push([at, blocks - at]);
  return out;
}

export async function restoreImage(p: RestoreParams, backupId: number): Promise<RestoreOutcome> {
  const chain = restoreChain(p.catalog, backupId);
  const t0 = Date.now();
  const port0 = portBytes(p.client);
  const src = chain[0]!;
  const bytes = (blocks: number, bs: number) => `${blocks} blocks of ${bs} bytes (${formatBytes(blocks * bs)})`;
  if (src.block_size !== p.target.blockSize) throw new Error(`target LU has ${p.target.blockSize}-byte blocks, the backup's source had ${src.block_size}-byte blocks: restore to an LU with the source's block size`);
  if (src.source_blocks > p.target.blocks!) throw new Error(`target LU is smaller than the source: it has ${bytes(p.target.blocks!, p.target.blockSize!)}, backup ${src.id} needs ${bytes(src.source_blocks, src.block_size)}`);
  const session = await openTape(p.client, p.tape, chain[0]!.barcode, false);
  await reserveForDataMover(p.client, p.tape, session, reservationContext(p.client, p.reservation ?? 'spc2', p.dataMover, p.target, p.tape, p.dataMoverPort));
  let moved = 0;
  try {
    for (const [i, b] of chain.entries()) {
      if (b.barcode !== session.barcode) throw new Error(`backup ${b.id} is on ${b.barcode}, the drive holds ${session.barcode}`);
      const runs = JSON.parse(b.map_json ?? '[]') as Run[];
      if (i === 0 && b.mode === 'sparse') await zeroRuns(p.client, p.target, holesOf(runs, b.source_blocks));
      const pieces: StreamPiece[] = runs.map(([l, n]) => ({ kind: 'disk', offset: l * b.block_size, length: n * b.block_size }));
      const r = await runStreamRestore(p, b.data_object, b.record_size, pieces);
      moved += r.moved;
      if (!r.ok) return { ok: false, bytesMoved: moved, elapsedMs: Date.now() - t0, portBytes: portBytes(p.client) - port0, backups: chain.map((x) => x.id), error: `restoring backup ${b.id}: ${r.error}` };
    }
  } finally {
    await closeTape(p.client, p.tape, session).catch(() => undefined);
  }
  p.progress?.done(`restored backup ${backupId} (chain ${chain.map((x) => x.id).join('→')}) to ${p.target.target} LUN ${p.target.lun}`);
  return { ok: true, bytesMoved: moved, elapsedMs: Date.now() - t0, portBytes: portBytes(p.client) - port0, backups: chain.map((x) => x.id) };
}

export interface FileRestoreOutcome extends RestoreOutcome {
  file: FileRow;
  lba: number;
  sha256?: string;
  verified?: boolean;
}

/** One file from a file-level backup into `target` at `lba`; `localPath` also reads it out. */
export async function restoreFile(p: RestoreParams, backupId: number, path: string, lba = 0, localPath?: string): Promise<FileRestoreOutcome> {
  const b = p.catalog.backup(backupId);
  if (!b || b.status !== 'complete' || b.mode !== 'files') throw new Error(`backup ${backupId} is not a complete file-level backup`);
  const f = p.catalog.file(backupId, path.replace(/^\/+/, ''));
  if (!f || f.is_dir || f.problem) throw new Error(`no restorable file "${path}" in backup ${backupId}`);
  const L = p.target.blockSize!;
  const t0 = Date.now();
  const port0 = portBytes(p.client);
  const session = await openTape(p.client, p.tape, b.barcode, false);
  await reserveForDataMover(p.client, p.tape, session, reservationContext(p.client, p.reservation ?? 'spc2', p.dataMover, p.target, p.tape, p.dataMoverPort));
  let r;
  try {
    const R = b.record_size;
    const first = Math.floor(f.data_offset / R);
    const pieces: StreamPiece[] = [];
    if (f.data_offset % R) pieces.push({ kind: 'discard', length: f.data_offset % R });
    const bytes = padTo512(f.size);
    if (L !== 512 && bytes % L) throw new Error('single-file restore to a LU whose block size is not 512 needs byte-offset segments: not supported');
    if (bytes) pieces.push({ kind: 'disk', offset: lba * L, length: bytes });
    r = bytes ? await runStreamRestore(p, b.data_object + first, R, pieces) : { ok: true, moved: 0, ms: 0 };
  } finally {
    await closeTape(p.client, p.tape, session).catch(() => undefined);
  }
  const out: FileRestoreOutcome = { ok: r.ok, bytesMoved: r.moved, elapsedMs: Date.now() - t0, portBytes: portBytes(p.client) - port0, backups: [backupId], file: f, lba, ...(r.error ? { error: r.error } : {}) };
  if (!r.ok) return out;
  if (localPath || f.sha256) {
    const blocks = Math.ceil(f.size / L);
    const data = blocks ? (await p.client.read(p.target.target, p.target.lun, lba, blocks, L)).subarray(0, f.size) : Buffer.alloc(0);
    out.sha256 = createHash('sha256').update(data).digest('hex');
    if (f.sha256) out.verified = out.sha256 === f.sha256;
    if (localPath) await writeFile(localPath, data);
  }
  return out;
}
