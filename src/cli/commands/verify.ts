/** `dmsim verify`: read a backup back from tape and compare with the SHA-256 recorded at backup time. */
import { driveForJob, openFromOptions, SESSION_OPTIONS, SESSION_USAGE } from '../../backup-server/cli-options.js';
import { verifyBackup } from '../../backup-server/verify.js';
import { parseCommandArgs, UsageError } from '../command.js';
import { writeJson } from '../json.js';

const USAGE = `usage: dmsim verify --backup ID [--tape DRIVE]
  --tape DRIVE   tape drive holding the cartridge (default: the drive that holds the catalog's
                 cartridge for the backup, as the lab or the router's management API reports; with a
                 tape library the robot moves the catalog's cartridge into a free drive and back)
${SESSION_USAGE}`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { ...SESSION_OPTIONS, backup: { type: 'string' }, tape: { type: 'string' } }, USAGE);
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const id = Number(values.backup);
  if (!values.backup || !Number.isInteger(id)) throw new UsageError('--backup ID is required', USAGE);
  const { session, catalog } = await openFromOptions(values);
  let release: (() => Promise<void>) | undefined;
  try {
    const job = await driveForJob(session, catalog, id, values.tape);
    release = job.release;
    const v = await verifyBackup(session.client, catalog, job.drive, id);
    if (values.json) writeJson({ backupId: id, ...v });
    else process.stdout.write(`backup ${id}: ${v.ok ? 'OK' : 'FAILED'}, ${v.checked} checked, ${v.bytesRead} bytes read back${v.mismatches.length ? `\n  ${v.mismatches.join('\n  ')}` : ''}\n`);
    return v.ok ? 0 : 1;
  } finally {
    // The robot puts the cartridge back in its slot, whatever the job's outcome.
    if (release) await release().catch((e: unknown) => process.stderr.write(`cartridge not moved home: ${String(e)}\n`));
    catalog.close();
    await session.close();
  }
}
