/** `dmsim restore`: server-free restore of an image chain or of one file from a file-level backup. */
import { driveForJob, openFromOptions, SESSION_OPTIONS, SESSION_USAGE } from '../../backup-server/cli-options.js';
import { progressSink } from '../../backup-server/progress.js';
import type { ReservationMode } from '../../backup-server/tape-handling.js';
import { restoreFile, restoreImage } from '../../backup-server/restore.js';
import { parseCommandArgs, UsageError } from '../command.js';
import { writeJson } from '../json.js';

const USAGE = `usage: dmsim restore --backup ID --target LU [--tape DRIVE] [--file PATH [--lba N] [--out FILE]]
  --backup ID     catalog backup id (an image backup; incrementals replay their chain)
  --target LU     disk LU to write ("array1/scratch" or "scratch")
  --tape DRIVE    tape drive holding the cartridge (default: the drive that holds the catalog's
                  cartridge for the backup, as the lab or the router's management API reports; with a
                  tape library the robot moves the catalog's cartridge into a free drive and back)
  --no-verify     do not read the target back to compare with the catalog's SHA-256
  --file PATH     restore only this file of a file-level backup, at --lba (default 0) of the target
  --out FILE      also read the restored file out over the transport into FILE
  --reservation R spc2 (default), pr or none
${SESSION_USAGE}`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { ...SESSION_OPTIONS, backup: { type: 'string' }, target: { type: 'string' }, tape: { type: 'string' }, file: { type: 'string' }, lba: { type: 'string', default: '0' }, out: { type: 'string' }, 'no-verify': { type: 'boolean', default: false }, reservation: { type: 'string', default: 'spc2' } }, USAGE);
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const id = Number(values.backup);
  if (!values.backup || !Number.isInteger(id)  || !values.target) throw new UsageError('--backup ID and --target are required', USAGE);
  const lba = Number(values.lba);
  if (!Number.isInteger(lba) || lba < 0) throw new UsageError('--lba: expected a non-negative integer', USAGE);
  const reservation = values.reservation as ReservationMode;
  if (!['spc2', 'pr', 'none'].includes(reservation)) throw new UsageError('--reservation: expected spc2, pr or none', USAGE);
  const { session, catalog } = await openFromOptions(values);
  let release: (() => Promise<void>) | undefined;
  try {
    const target = session.find(values.target, 'disk');
    const job = await driveForJob(session, catalog, id, values.tape);
    release = job.release;
    const tape = job.drive;
    const p = {
      client: session.client, catalog, dataMover: session.dataMover(), ...(session.dataMoverPort ? { dataMoverPort: session.dataMoverPort } : {}),
      ...(session.dataMoverPortProblem ? { dataMoverPortProblem: session.dataMoverPortProblem } : {}),
      tape, target, progress: progressSink('restore', process.stderr, values.quiet), reservation, verify: !values['no-verify'],
    };
    if (values.file) {
      const r = await restoreFile(p, id, values.file, lba, values.out);
      if (values.json) writeJson({ ...r, backupId: id, target: values.target, ...(values.out ? { out: values.out } : {}) });
      else process.stdout.write(`${r.ok ? 'restored' : 'FAILED'} ${r.file.path} (${r.file.size} bytes) to LBA ${lba}${r.verified !== undefined ? `, SHA-256 ${r.verified ? 'matches' : 'DIFFERS from'} the catalog` : ''}${values.out ? `, written to ${values.out}` : ''}${r.error ? `\n${r.error}` : ''}\n`);
      return r.ok && r.verified !== false ? 0 : 1;
    }
    const r = await restoreImage(p, id);
    if (values.json) writeJson({ ...r, backupId: id, target: values.target });
    else {
      const check = r.verified ? `; read back ${r.verifyBytes} bytes, SHA-256 matches the catalog` : r.verified === false ? '; READ BACK DIFFERS from the catalog' : values['no-verify'] ? '; not verified (--no-verify)' : '';
      process.stdout.write(`${r.ok ? 'restored' : 'FAILED'} backup chain ${r.backups.join(' → ')}: ${r.bytesMoved} bytes in ${r.elapsedMs} ms, server port ${r.portBytes} bytes${check}${r.error ? `\n${r.error}` : ''}${r.unverified?.length ? `\nnot verified: ${r.unverified.join('; ')}` : ''}\n`);
    }
    return r.ok ? 0 : 1;
  } finally {
    // The robot puts the cartridge back in its slot, whatever the job's outcome.
    if (release) await release().catch((e: unknown) => process.stderr.write(`cartridge not moved home: ${String(e)}\n`));
    catalog.close();
    await session.close();
  }
}
