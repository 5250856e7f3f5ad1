/**
 * The backup catalog (SQLite via better-sqlite3): backups, media and where each backup sits on
 * them, files with their tape position and disk extents. A backup row is created `running`
 * before the first byte moves and becomes `complete` only in the same transaction that records
 * its trailer position and files, so a crash or failure never leaves a half-recorded backup
 * marked complete.
 */
import Database from 'better-sqlite3';

export type BackupMode = 'full' | 'sparse' | 'files' | 'incremental' | 'differential';
export type BackupStatus = 'running' | 'complete' | 'failed';

export interface BackupRow {
  id: number;
  mode: BackupMode;
  status: BackupStatus;
  source_target: string;
  source_lun: number;
  source_naa: string;
  block_size: number;
  source_blocks: number;
  barcode: string;
  drive: string;
  /** Tape file number (filemarks before it) of the header record, the data and the trailer. */
  header_file: number;
  data_file: number;
  /** Logical object id of the first data record (LOCATE target). */
  data_object: number;
  record_size: number;
  stream_bytes: number;
  base_backup_id: number | null;
  /** JSON: stream-order LBA runs for image modes [[lba, blocks], ...]. */
  map_json: string | null;
  sha256: string | null;
  bytes_moved: number;
  port_bytes: number;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  error: string | null;
  failed_segment: number | null;
  files_count: number;
  skipped_count: number;
  /** Process that ran the backup (orphan detection). */
  pid: number | null;
  /** 1 when this backup took the disk's change map (a change epoch began with it); 0/null when not. */
  change_epoch: number | null;
  /** Backed up from this snapshot LU ("array/lu@set"), of this set, with this NAA, taken at this instant (ISO); null when read from the live disk. */
  snapshot_name: string | null;
  snapshot_set: string | null;
  snapshot_naa: string | null;
  snapshot_instant: string | null;
}

export interface FileRow {
  backup_id: number;
  path: string;
  is_dir: number;
  size: number;
  mtime: number;
  attributes: number;
  /** Byte offset of the member's first header block in the tar stream. */
  header_offset: number;
  /** Byte offset of the member's data in the tar stream. */
  data_offset: number;
  /** JSON [[luByteOffset, length], ...]. */
  extents_json: string;
  sha256: string | null;
  problem: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS media (
  barcode TEXT PRIMARY KEY,
  first_seen TEXT NOT NULL,
  last_drive TEXT
);
CREATE TABLE IF NOT EXISTS backups (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  mode TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running','complete','failed')),
  source_target TEXT NOT NULL,
  source_lun INTEGER NOT NULL,
  source_naa TEXT NOT NULL,
  block_size INTEGER NOT NULL,
  source_blocks INTEGER NOT NULL,
  barcode TEXT NOT NULL REFERENCES media(barcode),
  drive TEXT NOT NULL,
  header_file INTEGER NOT NULL,
  data_file INTEGER NOT NULL,
  data_object INTEGER NOT NULL,
  record_size INTEGER NOT NULL,
  stream_bytes INTEGER NOT NULL DEFAULT 0,
  base_backup_id INTEGER REFERENCES backups(id),
  map_json TEXT,
  sha256 TEXT,
  bytes_moved INTEGER NOT NULL DEFAULT 0,
  port_bytes INTEGER NOT NULL DEFAULT 0,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  duration_ms INTEGER,
  error TEXT,
  failed_segment INTEGER,
  files_count INTEGER NOT NULL DEFAULT 0,
  skipped_count INTEGER NOT NULL DEFAULT 0,
  pid INTEGER,
  change_epoch INTEGER,
  snapshot_name TEXT,
  snapshot_set TEXT,
  snapshot_naa TEXT,
  snapshot_instant TEXT
);
CREATE TABLE IF NOT EXISTS files (
  backup_id INTEGER NOT NULL REFERENCES backups(id),
  path TEXT NOT NULL,
  is_dir INTEGER NOT NULL,
  size INTEGER NOT NULL,
  mtime INTEGER NOT NULL,
  attributes INTEGER NOT NULL,
  header_offset INTEGER NOT NULL,
  data_offset INTEGER NOT NULL,
  extents_json TEXT NOT NULL,
  sha256 TEXT,
  problem TEXT,
  PRIMARY KEY (backup_id, path)
);
CREATE TABLE IF NOT EXISTS events (
  backup_id INTEGER NOT NULL REFERENCES backups(id),
  at TEXT NOT NULL,
  message TEXT NOT NULL
);
`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export type NewBackup = Pick<BackupRow, 'mode' | 'source_target' | 'source_lun' | 'source_naa' | 'block_size' | 'source_blocks' | 'barcode' | 'drive' | 'header_file' | 'data_file' | 'data_object' | 'record_size' | 'base_backup_id' | 'map_json'> &
  Partial<Pick<BackupRow, 'change_epoch' | 'snapshot_name' | 'snapshot_set' | 'snapshot_naa' | 'snapshot_instant'>>;

export class Catalog {
  readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    // Catalogs written before change_epoch existed: their backups count as not having taken the map.
    const cols = this.db.prepare('PRAGMA table_info(backups)').all() as Array<{ name: string }>;
    if (!cols.some((c) => c.name === 'change_epoch')) this.db.exec('ALTER TABLE backups ADD COLUMN change_epoch INTEGER');
    // Catalogs written before backups from snapshots: none of theirs was.
    for (const c of ['snapshot_name', 'snapshot_set', 'snapshot_naa', 'snapshot_instant']) if (!cols.some((x) => x.name === c)) this.db.exec(`ALTER TABLE backups ADD COLUMN ${c} TEXT`);
  }

  close(): void {
    this.db.close();
  }

  begin(b: NewBackup): number {
    const now = new Date().toISOString();
    this.db.prepare('INSERT INTO media (barcode, first_seen, last_drive) VALUES (?, ?, ?) ON CONFLICT(barcode) DO UPDATE SET last_drive = excluded.last_drive').run(b.barcode, now, b.drive);
    const r = this.db
      .prepare(`INSERT INTO backups (mode, status, source_target, source_lun, source_naa, block_size, source_blocks, barcode, drive, header_file, data_file, data_object, record_size, base_backup_id, map_json, started_at, pid, change_epoch, snapshot_name, snapshot_set, snapshot_naa, snapshot_instant)
                VALUES (@mode, 'running', @source_target, @source_lun, @source_naa, @block_size, @source_blocks, @barcode, @drive, @header_file, @data_file, @data_object, @record_size, @base_backup_id, @map_json, @started_at, @pid, @change_epoch, @snapshot_name, @snapshot_set, @snapshot_naa, @snapshot_instant)`)
      .run({ ...b, change_epoch: b.change_epoch ?? null, snapshot_name: b.snapshot_name ?? null, snapshot_set: b.snapshot_set ?? null, snapshot_naa: b.snapshot_naa ?? null, snapshot_instant: b.snapshot_instant ?? null, started_at: now, pid: process.pid });
    return Number(r.lastInsertRowid);
  }

  event(id: number, message: string): void {
    this.db.prepare('INSERT INTO events (backup_id, at, message) VALUES (?, ?, ?)').run(id, new Date().toISOString(), message);
  }

  /** Records files and marks the backup complete, atomically. */
  complete(id: number, v: { stream_bytes: number; sha256: string | null; bytes_moved: number; port_bytes: number; duration_ms: number; files?: Omit<FileRow, 'backup_id'>[] }): void {
    const insert = this.db.prepare(`INSERT INTO files (backup_id, path, is_dir, size, mtime, attributes, header_offset, data_offset, extents_json, sha256, problem)
      VALUES (@backup_id, @path, @is_dir, @size, @mtime, @attributes, @header_offset, @data_offset, @extents_json, @sha256, @problem)`);
    this.db.transaction(() => {
      const files = v.files ?? [];
      for (const f of files) insert.run({ ...f, backup_id: id });
      const skipped = files.filter((f) => f.problem).length;
      const r = this.db
        .prepare(`UPDATE backups SET status = 'complete', stream_bytes = ?, sha256 = ?, bytes_moved = ?, port_bytes = ?, duration_ms = ?, finished_at = ?, files_count = ?, skipped_count = ? WHERE id = ? AND status = 'running'`)
        .run(v.stream_bytes, v.sha256, v.bytes_moved, v.port_bytes, v.duration_ms, new Date().toISOString(), files.length - skipped, skipped, id);
      if (r.changes !== 1) throw new Error(`backup ${id} is not running`);
    })();
  }

  fail(id: number, error: string, failedSegment?: number): void {
    this.db
      .prepare(`UPDATE backups SET status = 'failed', error = ?, failed_segment = ?, finished_at = ? WHERE id = ? AND status = 'running'`)
      .run(error, failedSegment ?? null, new Date().toISOString(), id);
    this.event(id, `failed: ${error}`);
  }

  /** Backups left `running` by a process that is gone: mark them failed (called at open by the CLI). */
  failOrphans(): number {
    const running = this.db.prepare(`SELECT id, pid FROM backups WHERE status = 'running'`).all() as Array<{ id: number; pid: number | null }>;
    let n = 0;
    for (const r of running) {
      if (r.pid !== null && r.pid !== process.pid && alive(r.pid)) continue;
      if (r.pid === process.pid) continue;
      this.fail(r.id, 'interrupted (the process running it ended before completion)');
      n++;
    }
    return n;
  }

  backups(): BackupRow[] {
    return this.db.prepare('SELECT * FROM backups ORDER BY id').all() as BackupRow[];
  }

  backup(id: number): BackupRow | undefined {
    return this.db.prepare('SELECT * FROM backups WHERE id = ?').get(id) as BackupRow | undefined;
  }

  files(id: number): FileRow[] {
    return this.db.prepare('SELECT * FROM files WHERE backup_id = ? ORDER BY header_offset').all(id) as FileRow[];
  }

  file(id: number, path: string): FileRow | undefined {
    return this.db.prepare('SELECT * FROM files WHERE backup_id = ? AND path = ?').get(id, path) as FileRow | undefined;
  }

  events(id: number): Array<{ at: string; message: string }> {
    return this.db.prepare('SELECT at, message FROM events WHERE backup_id = ? ORDER BY rowid').all(id) as Array<{ at: string; message: string }>;
  }

  /** Latest complete backup of a source in one of the given modes. */
  latest(sourceNaa: string, modes: BackupMode[]): BackupRow | undefined {
    return this.db
      .prepare(`SELECT * FROM backups WHERE source_naa = ? AND status = 'complete' AND mode IN (${modes.map(() => '?').join(',')}) ORDER BY id DESC LIMIT 1`)
      .get(sourceNaa, ...modes) as BackupRow | undefined;
  }
}
