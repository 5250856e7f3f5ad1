/**
 * Every planner end to end through the router: the backup server (in-process port) drives the
 * data mover, which reads the FAT disk LU and writes the tape LU; the tape's bytes are read back
 * from the cartridge image, restores are hashed against the source, and failures leave a catalog
 * that says what happened.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tapeFileRecords } from '../../firmware-sim/devices/tape/inspect.js';
import { normalizeWwn } from '../../firmware-sim/fabric/wwn.js';
import { runBackup, type BackupParams } from '../../src/backup-server/backup.js';
import { Catalog, type BackupMode } from '../../src/backup-server/catalog.js';
import type { Run } from '../../src/backup-server/plan/image-plan.js';
import { restoreFile, restoreImage } from '../../src/backup-server/restore.js';
import { openSession, type Session } from '../../src/backup-server/session.js';
import { hashLu, verifyBackup } from '../../src/backup-server/verify.js';
import { BufferBlockReader } from '../../src/fs/fat/block-reader.js';
import { FatVolume } from '../../src/fs/fat/volume.js';
import { parseArchive } from '../../src/fs/tar.js';
import { buildDefaultFatImage } from '../../fixtures/make-fat.js';
import { requireTools } from '../helpers/require-tool.js';
import { decodeReadKeys, encodePrInCdb } from '../../src/scsi/persistent-reservations.js';

const IMAGE = buildDefaultFatImage();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Env {
  s: Session;
  cat: Catalog;
  dir: string;
  params(mode: BackupMode, extra?: Partial<BackupParams>): BackupParams;
  tapeFile(barcode: string, file: number): Promise<Buffer>;
}

let open: Env | undefined;
afterEach(async () => {
  open?.cat.close();
  await open?.s.close();
  open = undefined;
});

async function env(labEdit?: (lab: Record<string, unknown>) => void): Promise<Env> {
  if (open) {
    open.cat.close();
    await open.s.close();
    open = undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'dmsim-bs-'));
  let lab: string | undefined;
  if (labEdit) {
    const cfg = JSON.parse(readFileSync('fixtures/labs/default.json', 'utf8')) as Record<string, unknown>;
    labEdit(cfg);
    lab = join(dir, 'lab.json');
    writeFileSync(lab, JSON.stringify(cfg));
  }
  const s = await openSession({ dataDir: join(dir, 'data'), ...(lab ? { lab } : {}) });
  const cat = new Catalog(join(dir, 'catalog.sqlite'));
  const source = s.find('fat', 'disk');
  const tape = s.find('tape0', 'tape');
  const e: Env = {
    s, cat, dir,
    params: (mode, extra = {}) => ({
      client: s.client, catalog: cat, dataMover: s.dataMover(), ...(s.dataMoverPort ? { dataMoverPort: s.dataMoverPort } : {}),
      source, tape, mode, barcode: s.barcodeIn(tape)!, changes: s.changes(source)!, ...extra,
    }),
    async tapeFile(barcode, file) {
      const parts: Buffer[] = [];
      for await (const r of tapeFileRecords(join(dir, 'data', 'tapes', `${barcode}.tap`), file)) parts.push(r);
      return Buffer.concat(parts);
    },
  };
  open = e;
  return e;
}

const runsBytes = (img: Buffer, runs: Run[]) => Buffer.concat(runs.map(([l, n]) => img.subarray(l * 512, (l + n) * 512)));

describe('server-free backup through the router', () => {
  it('full image: the tape data file is the disk, records of 64 KiB; restore to scratch is identical', async () => {
    const e = await env();
    const r = await runBackup(e.params('full'));
    expect(r.ok).toBe(true);
    expect(r.portBytesDuringCopy).toBeLessThan(r.bytesMoved / 1000);
    const b = e.cat.backup(r.backupId)!;
    expect(b.status).toBe('complete');
    expect([b.header_file, b.data_file]).toEqual([1, 2]); // file 0 is the label
    const data = await e.tapeFile(b.barcode, b.data_file);
    expect(data.length).toBe(IMAGE.length);
    expect(data.equals(IMAGE)).toBe(true);
    expect((await e.tapeFile(b.barcode, 0)).toString('latin1', 0, 13)).toBe('DMSIM-LABEL 1');
    expect((await e.tapeFile(b.barcode, 1)).toString('latin1', 0, 14)).toBe('DMSIM-BACKUP 1');
    const rr = await restoreImage({ client: e.s.client, catalog: e.cat, dataMover: e.s.dataMover(), tape: e.s.find('tape0', 'tape'), target: e.s.find('scratch', 'disk'), ...(e.s.dataMoverPort ? { dataMoverPort: e.s.dataMoverPort } : {}) }, r.backupId);
    expect(rr.ok).toBe(true);
    expect(await hashLu(e.s.client, e.s.find('scratch', 'disk'))).toBe(sha(IMAGE));
    expect((await verifyBackup(e.s.client, e.cat, e.s.find('tape0', 'tape'), r.backupId)).ok).toBe(true);
  });

  it('sparse image: only metadata and used clusters on tape; restore over junk rebuilds the holes', async () => {
    const e = await env();
    const r = await runBackup(e.params('sparse'));
    expect(r.ok).toBe(true);
    const b = e.cat.backup(r.backupId)!;
    const runs = JSON.parse(b.map_json!) as Run[];
    const data = await e.tapeFile(b.barcode, b.data_file);
    const expected = runsBytes(IMAGE, runs);
    expect(expected.length).toBeLessThan(IMAGE.length / 2);
    expect(data.subarray(0, expected.length).equals(expected)).toBe(true);
    expect(data.subarray(expected.length).every((x) => x === 0)).toBe(true);
    const scratch = e.s.find('scratch', 'disk');
    for (let lba = 0; lba < scratch.blocks!; lba += 8192) await e.s.client.write(scratch.target, scratch.lun, lba, Buffer.alloc(8192 * 512, 0xa5), 512);
    const rr = await restoreImage({ client: e.s.client, catalog: e.cat, dataMover: e.s.dataMover(), tape: e.s.find('tape0', 'tape'), target: scratch, ...(e.s.dataMoverPort ? { dataMoverPort: e.s.dataMoverPort } : {}) }, r.backupId);
    expect(rr.ok).toBe(true);
    expect(await hashLu(e.s.client, scratch)).toBe(sha(IMAGE));
  });

  it.skipIf(!requireTools('file-level backup vs GNU tar', 'tar'))('files: GNU tar extracts every FAT file from the tape; single-file restore matches', async () => {
    const e = await env();
    const r = await runBackup(e.params('files'));
    expect(r.ok).toBe(true);
    const b = e.cat.backup(r.backupId)!;
    expect(b.files_count).toBeGreaterThan(300);
    const data = await e.tapeFile(b.barcode, b.data_file);
    expect(data.length % 10240).toBe(0);
    const tarFile = join(e.dir, 'tape.tar');
    writeFileSync(tarFile, data);
    const out = join(e.dir, 'x');
    execFileSync('mkdir', [out]);
    execFileSync('tar', ['-xf', tarFile, '-C', out], { env: { ...process.env, LC_ALL: 'C.UTF-8' } });
    const vol = await FatVolume.open(new BufferBlockReader(IMAGE));
    const walk = await vol.walk();
    const listed = execFileSync('tar', ['-tf', tarFile], { env: { ...process.env, LC_ALL: 'C.UTF-8' } }).toString().trim().split('\n');
    expect(listed.length).toBe(walk.length);
    for (const f of walk.filter((x) => !x.isDirectory)) expect(readFileSync(join(out, f.path)).equals(await vol.readFile(f))).toBe(true);
    // catalog offsets point at the right tar members
    const members = parseArchive(data);
    for (const row of e.cat.files(r.backupId)) expect(members.find((m) => m.path === row.path)!.dataOffset).toBe(row.data_offset);
    const pick = walk.find((x) => !x.isDirectory && x.extents.length > 1 && x.size % 512 !== 0)!;
    const local = join(e.dir, 'one.bin');
    const rf = await restoreFile({ client: e.s.client, catalog: e.cat, dataMover: e.s.dataMover(), tape: e.s.find('tape0', 'tape'), target: e.s.find('scratch', 'disk'), ...(e.s.dataMoverPort ? { dataMoverPort: e.s.dataMoverPort } : {}) }, r.backupId, pick.path, 100, local);
    expect(rf.ok && rf.verified).toBe(true);
    expect(readFileSync(local).equals(await vol.readFile(pick))).toBe(true);
  });

  it('incremental and differential carry only changed blocks; the chain restores the current source', async () => {
    const e = await env();
    const source = e.s.find('fat', 'disk');
    expect((await runBackup(e.params('full'))).ok).toBe(true);
    await e.s.client.write(source.target, source.lun, 30000, Buffer.alloc(2048, 1), 512);
    const inc1 = await runBackup(e.params('incremental'));
    await e.s.client.write(source.target, source.lun, 40000, Buffer.alloc(512, 2), 512);
    const inc2 = await runBackup(e.params('incremental'));
    await e.s.client.write(source.target, source.lun, 50000, Buffer.alloc(1024, 3), 512);
    const diff = await runBackup(e.params('differential'));
    expect([inc1.ok, inc2.ok, diff.ok]).toEqual([true, true, true]);
    expect(JSON.parse(e.cat.backup(inc1.backupId)!.map_json!)).toEqual([[30000, 4]]);
    expect(JSON.parse(e.cat.backup(inc2.backupId)!.map_json!)).toEqual([[40000, 1]]);
    expect(JSON.parse(e.cat.backup(diff.backupId)!.map_json!)).toEqual([[30000, 4], [40000, 1], [50000, 2]]);
    const b = e.cat.backup(inc2.backupId)!;
    expect((await e.tapeFile(b.barcode, b.data_file)).subarray(0, 512).equals(Buffer.alloc(512, 2))).toBe(true);
    const scratch = e.s.find('scratch', 'disk');
    const p = { client: e.s.client, catalog: e.cat, dataMover: e.s.dataMover(), tape: e.s.find('tape0', 'tape'), target: scratch, ...(e.s.dataMoverPort ? { dataMoverPort: e.s.dataMoverPort } : {}) };
    const chain = await restoreImage(p, diff.backupId);
    expect(chain.backups).toEqual([1, diff.backupId]);
    expect(await hashLu(e.s.client, scratch)).toBe(await hashLu(e.s.client, source));
    const chain2 = await restoreImage(p, inc2.backupId);
    expect(chain2.backups).toEqual([1, inc1.backupId, inc2.backupId]);
  });
});

describe('persistent reservations', () => {
  it('PR mode: server registers and reserves, the data mover registers itself by a 14h segment; all keys gone afterwards', async () => {
    const e = await env();
    const r = await runBackup(e.params('full', { reservation: 'pr', checksums: false }));
    expect(r.ok).toBe(true);
    expect(e.cat.events(r.backupId).some((x) => /persistent, Exclusive Access/.test(x.message))).toBe(true);
    const b = e.cat.backup(r.backupId)!;
    expect((await e.tapeFile(b.barcode, b.data_file)).equals(IMAGE)).toBe(true);
    const tape = e.s.find('tape0', 'tape');
    const keys = await e.s.client.exec('PR IN READ KEYS', tape.target, tape.lun, encodePrInCdb({ serviceAction: 0, allocationLength: 1024 }), 1024);
    expect(decodeReadKeys(keys).keys).toEqual([]);
  });
});

describe('failures leave an honest catalog', () => {
  it('medium error on the source: backup failed with the segment and the disk sense', async () => {
    const e = await env();
    const disk = e.s.runtime!.lu('array1/fat')!.disk!;
    disk.faults.addMediumError({ firstLba: 60000, count: 8, on: 'read' });
    const r = await runBackup(e.params('full'));
    expect(r.ok).toBe(false);
    const b = e.cat.backup(r.backupId)!;
    expect(b.status).toBe('failed');
    expect(b.sha256).toBeNull();
    expect(e.cat.events(r.backupId).some((x) => /no image checksum: READ\(16\).*03\/11\/00/.test(x.message))).toBe(true);
    expect(b.failed_segment).toBeGreaterThanOrEqual(0);
    expect(b.error).toMatch(/0A\/0D\/01.*source sense 03\/11\/00/);
    expect(e.cat.backups().filter((x) => x.status === 'complete')).toEqual([]);

  });

  async function records(e: Env, barcode: string, file: number): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for await (const r of tapeFileRecords(join(e.dir, 'data', 'tapes', `${barcode}.tap`), file)) out.push(Buffer.from(r));
    return out;
  }

  for (const mode of ['full', 'files'] as const) {
    it(`${mode}: a one-shot medium error is resumed from the failed segment; tape records equal a clean backup's; restore hashes`, async () => {
      const clean = await env();
      const rc = await runBackup(clean.params(mode, { checksums: false }));
      expect(rc.ok).toBe(true);
      const bc = clean.cat.backup(rc.backupId)!;
      const want = await records(clean, bc.barcode, bc.data_file);

      // An LBA inside the file data (files mode) or far into the image (full): mid-command either way.
      const files = mode === 'files' ? JSON.parse(clean.cat.files(rc.backupId).filter((f) => !f.is_dir && f.size > 200000)[0]!.extents_json) as Array<[number, number]> : undefined;
      const e = await env();
      const lba = files ? Math.floor((files[0]![0] + 150000) / 512) : 60003;
      e.s.runtime!.lu('array1/fat')!.disk!.faults.addMediumError({ firstLba: lba, count: 1, on: 'read', once: true });
      // checksums off: the server's own read would consume the one-shot fault before the data mover
      const r = await runBackup(e.params(mode, { retries: 1, checksums: false }));
      expect(r.ok).toBe(true);
      const b = e.cat.backup(r.backupId)!;
      expect(b.status).toBe('complete');
      const ev = e.cat.events(r.backupId).map((x) => x.message).find((m) => /resuming from the failed segment/.test(m));
      expect(ev).toMatch(/0A\/0D\/01.*source sense 03\/11\/00/);
      // The drive stood past where the failed command began: the resume did not restart it.
      const m = /drive at object (\d+), command began at (\d+)/.exec(ev!)!;
      expect(Number(m[1])).toBeGreaterThan(Number(m[2]));
      // FAILED SEGMENT DETAILS' residual (or VALID=0) points at the same record as READ POSITION.
      expect(/residual implies (\d+)/.exec(ev!)![1]).toBe(m[1]);
      const got = await records(e, b.barcode, b.data_file);
      expect(got.length).toBe(want.length);
      expect(got.every((x, i) => x.equals(want[i]!))).toBe(true);
      // Header/trailer records differ only in ids and times; the file structure is the same.
      expect([b.header_file, b.data_file]).toEqual([bc.header_file, bc.data_file]);
      if (mode === 'full') {
        const scratch = e.s.find('scratch', 'disk');
        const rr = await restoreImage({ client: e.s.client, catalog: e.cat, dataMover: e.s.dataMover(), tape: e.s.find('tape0', 'tape'), target: scratch, ...(e.s.dataMoverPort ? { dataMoverPort: e.s.dataMoverPort } : {}) }, r.backupId);
        expect(rr.ok).toBe(true);
        expect(await hashLu(e.s.client, scratch)).toBe(sha(IMAGE));
      } else {
        expect(Buffer.concat(got).equals(Buffer.concat(want))).toBe(true);
        const members = parseArchive(Buffer.concat(got));
        expect(members.length).toBeGreaterThan(0);
      }
    });
  }

  it('full: a one-shot tape write error is resumed at the record the drive did not write; records equal a clean backup\'s', async () => {
    const clean = await env();
    const rc = await runBackup(clean.params('full', { checksums: false }));
    const bc = clean.cat.backup(rc.backupId)!;
    const want = await records(clean, bc.barcode, bc.data_file);
    const e = await env();
    const drive = e.s.runtime!.lus().find((x) => x.drive && x.name.endsWith('/tape0'))!.drive!;
    // Object 300 of a blank cartridge: label, FM, header, FM, then data record 296.
    drive.faults.addMediumError({ firstLba: 300, count: 1, on: 'write', once: true });
    const r = await runBackup(e.params('full', { retries: 1, checksums: false }));
    expect(r.ok).toBe(true);
    const ev = e.cat.events(r.backupId).map((x) => x.message).find((m) => /resuming from the failed segment/.test(m));
    expect(ev).toMatch(/destination sense 03\/0C\/00.*drive at object 300, command began at 0/);
    const b = e.cat.backup(r.backupId)!;
    const got = await records(e, b.barcode, b.data_file);
    expect(got.length).toBe(want.length);
    expect(got.every((x, i) => x.equals(want[i]!))).toBe(true);
  });

  it('end of medium mid-backup: failed, with the tape EOM sense; the cartridge keeps the partial data', async () => {
    const e = await env((lab) => {
      const routers = lab.routers as Array<{ vault: Array<{ barcode: string; capacity: string }> }>;
      routers[0]!.vault[0]!.capacity = '8MiB';
    });
    const r = await runBackup(e.params('files'));
    expect(r.ok).toBe(false);
    const b = e.cat.backup(r.backupId)!;
    expect(b.status).toBe('failed');
    expect(b.error).toMatch(/destination sense .*(EOM|0D\/00\/02)/);
    expect(e.cat.files(r.backupId)).toEqual([]);
  });

  it('reservation lost during the copy: failed with RESERVATION CONFLICT from the tape', async () => {
    const e = await env();
    const tape = e.s.find('tape0', 'tape');
    const rt = e.s.runtime!;
    const intruderWwpn = '21:00:00:24:ff:00:09:09';
    rt.fabric.zoning.addMember('backup', intruderWwpn);
    const { InProcessPort } = await import('../../firmware-sim/fabric/in-process-port.js');
    const intruder = new InProcessPort(rt.fabric, { wwpn: intruderWwpn, wwnn: '20:00:00:24:ff:00:09:09' });
    let stolen = false;
    // After the data mover's first record reaches the tape, a LUN reset clears the SPC-2
    // reservation and another host grabs the drive at once: the data mover's next WRITE conflicts.
    const tapePort = normalizeWwn(tape.target);
    const untap = rt.fabric.onTask((task, result) => {
      if (stolen || task.nexus.targetPort !== tapePort || task.cdb[0] !== 0x0a || result.status !== 0) return;
      stolen = true;
      void rt.fabric.lunReset(intruder.nexusTo(tape.target), tape.lun).then(async () => {
        // The reset leaves the intruder's new nexus a unit attention first.
        for (let k = 0; k < 3; k++) if ((await intruder.command(tape.target, tape.lun, Buffer.from([0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).status === 0) return;
      });
    });
    const r = await runBackup(e.params('files')).finally(untap);
    expect(stolen).toBe(true);
    expect(r.ok).toBe(false);
    expect(e.cat.backup(r.backupId)!.status).toBe('failed');
    expect(e.cat.backup(r.backupId)!.error).toMatch(/RESERVATION CONFLICT|status 18h|0A\/0D\/01/);
  });
});
