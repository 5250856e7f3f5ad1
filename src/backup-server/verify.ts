/**
 * Verification against the SHA-256 recorded at backup time: read a backup's data file back from
 * tape over the transport (per-file hashes for tar, the stream hash for images), or hash a
 * restored LU's runs. Verification deliberately moves data through the server; its bytes are
 * reported apart from the server-free copy.
 */
import { createHash } from 'node:crypto';
import { parseArchive } from '../fs/tar.js';
import { ScsiStatus } from '../scsi/status.js';
import type { Catalog } from './catalog.js';
import type { DiscoveredLu } from './discovery.js';
import type { Run } from './plan/image-plan.js';
import { CommandFailed, type ScsiClient } from './scsi-client.js';
import { closeTape, openTape } from './tape-handling.js';

export interface VerifyOutcome {
  ok: boolean;
  checked: number;
  mismatches: string[];
  bytesRead: number;
}

/** All records of the tape file starting at `object`, concatenated (stops at the filemark). */
export async function readTapeFile(client: ScsiClient, tape: DiscoveredLu, object: number, recordSize: number): Promise<Buffer> {
  await client.locate(tape.target, tape.lun, object);
  const parts: Buffer[] = [];
  while (true) {
    const r = await client.readRecord(tape.target, tape.lun, recordSize);
    if (r.status === ScsiStatus.GOOD) {
      parts.push(r.dataIn);
      continue;
    }
    const f = new CommandFailed('READ(6)', r);
    if (f.sense?.filemark) break;
    throw f;
  }
  return Buffer.concat(parts);
}

export async function verifyBackup(client: ScsiClient, catalog: Catalog, tape: DiscoveredLu, backupId: number): Promise<VerifyOutcome> {
  const b = catalog.backup(backupId);
  if (!b || b.status !== 'complete') throw new Error(`backup ${backupId} is not complete`);
  const session = await openTape(client, tape, b.barcode, false);
  try {
    // A backup with no changed blocks wrote no data file (its header and trailer only).
    const stream = b.stream_bytes === 0 && b.mode !== 'files' ? Buffer.alloc(0) : await readTapeFile(client, tape, b.data_object, b.record_size);
    const mismatches: string[] = [];
    let checked = 0;
    if (b.mode === 'files') {
      const members = new Map(parseArchive(stream).map((m) => [m.path, m]));
      for (const f of catalog.files(backupId)) {
        if (f.problem) continue;
        const m = members.get(f.path);
        checked++;
        if (!m) mismatches.push(`${f.path}: missing from the archive`);
        else if (m.size !== f.size) mismatches.push(`${f.path}: size ${m.size} on tape, ${f.size} in the catalog`);
        else if (f.sha256 && createHash('sha256').update(stream.subarray(m.dataOffset, m.dataOffset + m.size)).digest('hex') !== f.sha256) mismatches.push(`${f.path}: SHA-256 differs`);
      }
    } else {
      checked = 1;
      if (stream.length < b.stream_bytes) mismatches.push(`stream is ${stream.length} bytes on tape, ${b.stream_bytes} recorded`);
      else if (b.sha256 && createHash('sha256').update(stream.subarray(0, b.stream_bytes)).digest('hex') !== b.sha256) mismatches.push('image SHA-256 differs');
    }
    return { ok: mismatches.length === 0, checked, mismatches, bytesRead: stream.length };
  } finally {
    await closeTape(client, tape, session).catch(() => undefined);
  }
}

export async function hashRuns(client: ScsiClient, lu: DiscoveredLu, runs: Run[]): Promise<string> {
  const h = createHash('sha256');
  for (const [lba, n] of runs) for (let d = 0; d < n; d += 2048) h.update(await client.read(lu.target, lu.lun, lba + d, Math.min(2048, n - d), lu.blockSize!));
  return h.digest('hex');
}

export const hashLu = (client: ScsiClient, lu: DiscoveredLu): Promise<string> => hashRuns(client, lu, [[0, lu.blocks!]]);
