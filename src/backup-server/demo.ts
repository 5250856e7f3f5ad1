/**
 * The `npm start` demo on an embedded lab: discovery; a sparse image backup and a file-level
 * (tar) backup of the FAT disk to tape, both server-free; a few files changed through the disk LU;
 * an incremental from the disk's change tracking; one file and the whole image restored to the
 * scratch LU; everything verified by SHA-256; and a report of what moved where.
 */
import { FatVolume } from '../fs/fat/volume.js';
import { runBackup, type BackupOutcome } from './backup.js';
import { TransportBlockReader } from './block-reader.js';
import { Catalog } from './catalog.js';
import { formatDiscovery } from './discovery.js';
import { progressSink } from './progress.js';
import { restoreFile, restoreImage } from './restore.js';
import type { Session } from './session.js';
import { hashLu, verifyBackup } from './verify.js';

export interface DemoOptions {
  source?: string;
  tape?: string;
  scratch?: string;
  out?: NodeJS.WritableStream;
  quiet?: boolean;
}

export interface DemoReport {
  ok: boolean;
  backups: BackupOutcome[];
  changedFiles: string[];
  fileRestore: { path: string; verified: boolean };
  imageRestore: { identical: boolean; sourceSha: string; restoredSha: string };
  verified: Array<{ backupId: number; ok: boolean; checked: number }>;
  dataMoverBytes: number;
  portBytesDuringCopies: number;
  problems: string[];
}

const MiB = (n: number) => (n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);

export async function runDemo(s: Session, catalog: Catalog, o: DemoOptions = {}): Promise<DemoReport> {
  const out = o.out ?? process.stdout;
  const say = (t: string) => out.write(t + '\n');
  const problems: string[] = [];
  const client = s.client;
  const dm = s.dataMover();
  const source = s.find(o.source ?? 'fat', 'disk');
  const tape = s.find(o.tape ?? 'tape0', 'tape');
  const scratch = s.find(o.scratch ?? 'scratch', 'disk');
  const barcode = s.barcodeIn(tape);
  say('== discovery');
  say(formatDiscovery(s.discovery));
  say(`   source ${s.nameOf(source)}, tape ${s.nameOf(tape)} (${barcode ?? 'unknown cartridge'}), data mover ${s.nameOf(dm)}, scratch ${s.nameOf(scratch)}`);

  const common = { client, catalog, dataMover: dm, ...(s.dataMoverPort ? { dataMoverPort: s.dataMoverPort } : {}), source, tape, ...(barcode ? { barcode } : {}) };
  const changes = s.changes(source);
  const backups: BackupOutcome[] = [];
  const backup = async (mode: 'sparse' | 'files' | 'incremental') => {
    say(`== ${mode} backup (server-free)`);
    const r = await runBackup({ ...common, mode, ...(changes ? { changes } : {}), progress: progressSink(`   ${mode}`, process.stderr, o.quiet) });
    backups.push(r);
    if (!r.ok) throw new Error(`${mode} backup failed: ${r.error}`);
    say(`   backup ${r.backupId}: ${MiB(r.streamBytes)} on ${r.barcode} in ${r.commands} EXTENDED COPY commands (${r.segments} segments), ${(r.streamBytes / 1048576 / Math.max(r.elapsedMs / 1000, 1e-3)).toFixed(1)} MiB/s; ${r.portBytesDuringCopy} bytes crossed the server's port meanwhile${r.files ? `; ${r.files} files` : ''}`);
    return r;
  };
  await backup('sparse');
  const files = await backup('files');

  say('== changing a few files through the disk LU');
  const vol = await FatVolume.open(new TransportBlockReader(client, source.target, source.lun, source.blockSize!, source.blocks!));
  const walk = (await vol.walk()).filter((e) => !e.isDirectory && e.size > 4096 && !e.problem);
  const picks = [walk[3]!, walk[Math.floor(walk.length / 2)]!, walk[walk.length - 2]!];
  for (const [i, e] of picks.entries()) {
    const x = e.extents[0]!;
    const data = Buffer.alloc(Math.min(4096, x.length), `changed by the dmsim demo, file ${i}\n`);
    await client.write(source.target, source.lun, x.offset / source.blockSize!, data, source.blockSize!);
    say(`   rewrote the first ${data.length} bytes of ${e.path}`);
  }
  await backup('incremental');

  say('== restore one file from the file-level backup (tape → scratch LU, server-free)');
  const target = walk.find((e) => e.extents.length > 1 && e.size % 512 !== 0) ?? walk[0]!;
  const rf = await restoreFile({ client, catalog, dataMover: dm, ...(s.dataMoverPort ? { dataMoverPort: s.dataMoverPort } : {}), tape, target: scratch }, files.backupId, target.path, 0);
  if (!rf.ok || !rf.verified) problems.push(`single-file restore of ${target.path}: ${rf.error ?? 'SHA-256 mismatch'}`);
  say(`   ${target.path} (${target.size} bytes, ${target.extents.length} extents on disk) → scratch LBA 0: SHA-256 ${rf.verified ? 'matches the catalog' : 'MISMATCH'}`);

  say('== restore the whole image (sparse base + incremental) to the scratch LU');
  const inc = backups[backups.length - 1]!;
  const ri = await restoreImage({ client, catalog, dataMover: dm, ...(s.dataMoverPort ? { dataMoverPort: s.dataMoverPort } : {}), tape, target: scratch, progress: progressSink('   restore', process.stderr, o.quiet) }, inc.backupId);
  if (!ri.ok) problems.push(`image restore: ${ri.error}`);
  const sourceSha = await hashLu(client, source);
  const restoredSha = await hashLu(client, scratch);
  say(`   chain ${ri.backups.join(' → ')}: ${MiB(ri.bytesMoved)} in ${ri.elapsedMs} ms; scratch ${restoredSha === sourceSha ? 'is identical to' : 'DIFFERS from'} the source (SHA-256 ${sourceSha.slice(0, 16)}…)`);
  if (restoredSha !== sourceSha) problems.push('restored image differs from the source');

  say('== verify every backup by reading it back from tape');
  const verified: DemoReport['verified'] = [];
  for (const b of backups) {
    const v = await verifyBackup(client, catalog, tape, b.backupId);
    verified.push({ backupId: b.backupId, ok: v.ok, checked: v.checked });
    say(`   backup ${b.backupId} (${b.mode}): ${v.ok ? 'OK' : 'FAILED'} — ${v.checked} ${b.mode === 'files' ? 'files' : 'image'} checked${v.mismatches.length ? `: ${v.mismatches.slice(0, 3).join('; ')}` : ''}`);
    if (!v.ok) problems.push(`verify backup ${b.backupId}: ${v.mismatches.join('; ')}`);
  }

  const dataMoverBytes = backups.reduce((t, b) => t + b.bytesMoved, 0) + ri.bytesMoved + rf.bytesMoved;
  const portBytesDuringCopies = backups.reduce((t, b) => t + b.portBytesDuringCopy, 0) + ri.portBytes + rf.portBytes - (rf.verified !== undefined ? Math.ceil(target.size / 512) * 512 : 0);
  say('== report');
  say(`   copied: ${backups.map((b) => `${b.mode} ${MiB(b.streamBytes)}`).join(', ')}; restored ${MiB(ri.bytesMoved)} image + ${target.size} bytes file`);
  say(`   data mover moved ${MiB(dataMoverBytes)}; the backup server's port carried ${(portBytesDuringCopies / 1024).toFixed(1)} KiB of commands and status during those copies (${((portBytesDuringCopies / Math.max(dataMoverBytes, 1)) * 100).toFixed(3)}% of the data)`);
  say(`   outside the copies the server read ${MiB(backups.reduce((t, b) => t + b.portBytesReading, 0))} to walk the FAT and record checksums, plus what verification read back`);
  say(problems.length ? `   PROBLEMS: ${problems.join('; ')}` : '   all restores and verifications match: OK');
  return {
    ok: problems.length === 0,
    backups,
    changedFiles: picks.map((p) => p.path),
    fileRestore: { path: target.path, verified: !!rf.verified },
    imageRestore: { identical: restoredSha === sourceSha, sourceSha, restoredSha },
    verified,
    dataMoverBytes,
    portBytesDuringCopies,
    problems,
  };
}
