/**
 * The backup header and trailer records: one tape record each, in their own tape file around the
 * data file ([header][FM][data…][FM][trailer][FM]), so the data file is a pure tar or image
 * stream that GNU tar or dd can read. Text: a magic line and one JSON object, zero-padded to a
 * multiple of 512 bytes.
 */
const MAGIC = 'DMSIM-BACKUP 1\n';

export interface BackupHeader {
  kind: 'header';
  backupId: number;
  mode: string;
  created: string;
  source: { target: string; lun: number; naa: string; blockSize: number; blocks: number };
  recordSize: number;
  /** Image modes: the LBA runs in stream order. */
  map?: Array<[number, number]>;
  baseBackupId?: number;
  /** Files mode: members and bytes planned. */
  members?: number;
}

export interface BackupTrailer {
  kind: 'trailer';
  backupId: number;
  streamBytes: number;
  records: number;
  finished: string;
}

export function encodeBackupRecord(r: BackupHeader | BackupTrailer): Buffer {
  const text = Buffer.from(MAGIC + JSON.stringify(r) + '\n', 'utf8');
  const out = Buffer.alloc(Math.ceil(text.length / 512) * 512);
  text.copy(out);
  return out;
}

export function decodeBackupRecord(b: Buffer): BackupHeader | BackupTrailer | undefined {
  if (b.length < MAGIC.length || b.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
  const end = b.indexOf(0);
  try {
    return JSON.parse(b.toString('utf8', MAGIC.length, end < 0 ? b.length : end)) as BackupHeader | BackupTrailer;
  } catch {
    return undefined;
  }
}
