import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog, type NewBackup } from '../../src/backup-server/catalog.js';

const row: NewBackup = {
  mode: 'files', source_target: 't', source_lun: 0, source_naa: 'aa', block_size: 512, source_blocks: 100, barcode: 'B1', drive: 'd',
  header_file: 1, data_file: 2, data_object: 4, record_size: 10240, base_backup_id: null, map_json: null,
};

describe('catalog', () => {
  it('a backup is complete only with its files, atomically; failed ones keep their error', () => {
    const c = new Catalog(join(mkdtempSync(join(tmpdir(), 'dmsim-cat-')), 'c.sqlite'));
    const id = c.begin(row);
    expect(c.backup(id)!.status).toBe('running');
    const file = { path: 'a', is_dir: 0, size: 1, mtime: 0, attributes: 0, header_offset: 0, data_offset: 512, extents_json: '[]', sha256: null, problem: null };
    // a duplicate path aborts the transaction: still running, no files
    expect(() => c.complete(id, { stream_bytes: 1, sha256: null, bytes_moved: 1, port_bytes: 1, duration_ms: 1, files: [file, file] })).toThrow();
    expect(c.backup(id)!.status).toBe('running');
    expect(c.files(id)).toEqual([]);
    c.complete(id, { stream_bytes: 1, sha256: null, bytes_moved: 1, port_bytes: 1, duration_ms: 1, files: [file] });
    expect(c.backup(id)!.status).toBe('complete');
    expect(c.backup(id)!.files_count).toBe(1);
    const id2 = c.begin(row);
    c.fail(id2, 'boom', 7);
    expect(c.backup(id2)).toMatchObject({ status: 'failed', error: 'boom', failed_segment: 7 });
    expect(() => c.complete(id2, { stream_bytes: 1, sha256: null, bytes_moved: 1, port_bytes: 1, duration_ms: 1 })).toThrow(/not running/);
    expect(c.latest('aa', ['files'])!.id).toBe(id);
    c.close();
  });

  it('a running backup whose process died is marked failed; one of a live process is left alone', () => {
    const c = new Catalog(join(mkdtempSync(join(tmpdir(), 'dmsim-cat-')), 'c.sqlite'));
    const dead = c.begin(row);
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    c.db.prepare('UPDATE backups SET pid = ? WHERE id = ?').run(Number(gone), dead);
    const mine = c.begin(row);
    expect(c.failOrphans()).toBe(1);
    expect(c.backup(dead)).toMatchObject({ status: 'failed' });
    expect(c.backup(dead)!.error).toMatch(/interrupted/);
    expect(c.backup(mine)!.status).toBe('running');
    c.close();
  });
});
