/** `dmsim verify`: read a backup back from tape and compare with the SHA-256 recorded at backup time. */
import { driveForBackup, openFromOptions, SESSION_OPTIONS, SESSION_USAGE } from '../../backup-server/cli-options.js';
import { verifyBackup } from '../../backup-server/verify.js';
import { parseCommandArgs, UsageError } from '../command.js';
import { writeJson } from '../json.js';

const USAGE = `usage: dmsim verify --backup ID [--tape DRIVE]
  --tape DRIVE   tape drive holding the cartridge (default: the drive that holds the catalog's
                 cartridge for the backup, as the lab or the router's management API reports)
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
  try {
    const v = await verifyBackup(session.client, catalog, await driveForBackup(session, catalog, id, values.tape), id);
    if (values.json) writeJson({ backupId: id, ...v });
    else process.stdout.write(`backup ${id}: ${v.ok ? 'OK' : 'FAILED'}, ${v.checked} checked, ${v.bytesRead} bytes read back${v.mismatches.length ? `\n  ${v.mismatches.join('\n  ')}` : ''}\n`);
    return v.ok ? 0 : 1;
  } finally {
    catalog.close();
    await session.close();
  }
}
