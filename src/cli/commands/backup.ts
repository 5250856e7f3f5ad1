/** `dmsim backup`: one server-free backup of a disk LU to a tape drive through the data mover. */
import { runBackup } from '../../backup-server/backup.js';
import type { BackupMode } from '../../backup-server/catalog.js';
import { openFromOptions, SESSION_OPTIONS, SESSION_USAGE } from '../../backup-server/cli-options.js';
import { findChanger, mountFromLibrary, scratchChoice, type LibraryMount } from '../../backup-server/library-mount.js';
import { progressSink } from '../../backup-server/progress.js';
import { discover } from '../../backup-server/discovery.js';
import { DEFAULT_INITIATOR_NAME } from '../../backup-server/session.js';
import { apiSnapshots, runtimeSnapshots, type SnapshotProvider, type TakenSnapshot } from '../../backup-server/snapshot-source.js';
import type { ReservationMode } from '../../backup-server/tape-handling.js';
import { parseCommandArgs, UsageError } from '../command.js';
import { writeJson } from '../json.js';

const MODES: BackupMode[] = ['full', 'sparse', 'files', 'incremental', 'differential'];
const USAGE = `usage: dmsim backup --source LU [--tape DRIVE] [options]
  --source LU        disk LU ("array1/fat" or "fat")
  --tape DRIVE       tape drive ("router1/tape0" or "tape0"); required unless the backup server sees a
                     tape library (a media changer LU): then the robot moves a cartridge (--barcode, or
                     the scratch rule: the lowest slot whose barcode has no backup in the catalog, within
                     --pool) into a free drive, and back to its slot after the job
  --pool PREFIX      with a library and no --barcode: scratch cartridges are those whose barcode starts with PREFIX
  --mode MODE        ${MODES.join(' | ')} (default: files)
  --no-checksums     do not read the source to record SHA-256
  --retries N        resume a failed copy N times from the failed command (default 0)
  --retry-wait S     with --retries: after a copy target was unreachable (COPY ABORTED 0D/02), wait up to S
                     seconds for the source and the drive to answer again before resuming (default 60)
  --reservation R    spc2 (third-party RESERVE(10)), pr (persistent, data mover registered by a 14h segment) or none
  --barcode CODE     the cartridge's barcode (a blank cartridge is labelled with it); default: what the lab or,
                     with --router, the router's management API reports for the drive; --label CODE is the same
  --snapshot         back up from a snapshot of the source taken by the array (with --router: needs --api and
                     $DMSIM_API_TOKEN), so a disk in use is copied as it was at one instant, in any mode
  --keep-snapshot    keep that snapshot afterwards (default: deleted once the backup ended)
${SESSION_USAGE}`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { ...SESSION_OPTIONS, source: { type: 'string' }, tape: { type: 'string' }, mode: { type: 'string', default: 'files' }, 'no-checksums': { type: 'boolean', default: false }, retries: { type: 'string', default: '0' }, 'retry-wait': { type: 'string', default: '60' }, barcode: { type: 'string' }, pool: { type: 'string' }, label: { type: 'string' }, reservation: { type: 'string', default: 'spc2' }, snapshot: { type: 'boolean', default: false }, 'keep-snapshot': { type: 'boolean', default: false } }, USAGE);
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (!values.source) throw new UsageError('--source is required', USAGE);
  const mode = values.mode as BackupMode;
  if (!MODES.includes(mode)) throw new UsageError(`--mode: expected one of ${MODES.join(', ')}`, USAGE);
  const retries = Number(values.retries);
  if (!Number.isInteger(retries) || retries < 0) throw new UsageError('--retries: expected a non-negative integer', USAGE);
  const retryWait = Number(values['retry-wait']);
  if (!Number.isFinite(retryWait) || retryWait < 0) throw new UsageError('--retry-wait: expected a non-negative number of seconds', USAGE);
  const reservation = values.reservation as ReservationMode;
  if (!['spc2', 'pr', 'none'].includes(reservation)) throw new UsageError('--reservation: expected spc2, pr or none', USAGE);
  if (values.snapshot && values.router && !values.api) throw new UsageError('--snapshot with --router needs --api (the array takes snapshots through its management API)', USAGE);
  const { session, catalog } = await openFromOptions(values);
  let provider: SnapshotProvider | undefined;
  let snap: TakenSnapshot | undefined;
  let mounted: LibraryMount | undefined;
  try {
    const source = session.find(values.source, 'disk');
    let snapLu: typeof source | undefined;
    if (values.snapshot) {
      if (!source.naa) throw new Error(`--snapshot: ${values.source} reports no NAA designator`);
      provider = session.runtime
        ? runtimeSnapshots(session.runtime, [values.host ?? session.runtime.config.hosts[0]!.name])
        : apiSnapshots(values.api!, process.env.DMSIM_API_TOKEN, [values['initiator-name'] ?? DEFAULT_INITIATOR_NAME]);
      snap = await provider.take(source.naa);
      process.stderr.write(`snapshot ${snap.name} (LUN ${snap.lun}, naa.${snap.naa}) taken at ${snap.instant}\n`);
      // The snapshot LU is new: discover again and back up from it.
      const again = await discover(session.client);
      const lu = again.lus.find((l) => l.naa === snap!.naa);
      if (!lu) throw new Error(`--snapshot: the snapshot LU naa.${snap.naa} is not visible to this backup server`);
      snapLu = lu;
    }
    const changer = values.tape ? undefined : findChanger(session);
    if (!values.tape && !changer) throw new UsageError('--tape is required: this backup server sees no tape library (no LU of peripheral device type 08h)', USAGE);
    const wantBarcode = values.barcode ?? values.label;
    if (changer) {
      mounted = await mountFromLibrary(session, changer, wantBarcode ? { barcode: wantBarcode } : scratchChoice(catalog, values.pool));
      process.stderr.write(`library: cartridge ${mounted.barcode} moved into ${session.nameOf(mounted.drive) ?? `${mounted.drive.target} LUN ${mounted.drive.lun}`}\n`);
    }
    const tape = mounted ? mounted.drive : session.find(values.tape!, 'tape');
    // The barcode as real software learns it (the library's VOLTAG, the lab, or the router's API); never invented.
    const learned = mounted ? { barcode: mounted.barcode } : wantBarcode ? { barcode: wantBarcode } : await session.cartridgeIn(tape);
    const barcode = learned.barcode;
    // From a snapshot, the change map is the one cut at its instant: writes after it belong to the next backup.
    const changes = snap && provider ? provider.changes(snap.id) : session.changes(source);
    const r = await runBackup({
      client: session.client, catalog, dataMover: session.dataMover(), ...(session.dataMoverPort ? { dataMoverPort: session.dataMoverPort } : {}),
      source, ...(snap && snapLu ? { snapshot: { lu: snapLu, name: snap.name, setId: snap.setId, instant: snap.instant } } : {}), tape, mode, ...(barcode ? { barcode } : {}), ...(learned.problem ? { barcodeProblem: learned.problem } : {}), ...(session.dataMoverPortProblem ? { dataMoverPortProblem: session.dataMoverPortProblem } : {}), ...(changes ? { changes } : {}), checksums: !values['no-checksums'], retries, retryWaitMs: retryWait * 1000, reservation,
      progress: progressSink(mode, process.stderr, values.quiet),
    });
    if (values.json) {
      writeJson({
        ...r,
        source: session.nameOf(source) ?? values.source,
        tape: session.nameOf(tape) ?? values.tape ?? `${tape.target}/${tape.lun}`,
        ...(snap ? { snapshot: { name: snap.name, setId: snap.setId, instant: snap.instant } } : {}),
      });
    } else {
      process.stdout.write(
        `backup ${r.backupId} ${r.ok ? 'complete' : 'FAILED'}: ${mode}, ${r.streamBytes} bytes on ${r.barcode}, ${r.commands} EXTENDED COPY commands, ${r.segments} segments, ${r.elapsedMs} ms; ` +
          `data mover moved ${r.bytesMoved} bytes, server port ${r.portBytesDuringCopy} bytes during the copy${snap ? `; from snapshot ${snap.name} (set ${snap.setId}) at ${snap.instant}` : ''}${r.skipped.length ? `; skipped: ${r.skipped.join('; ')}` : ''}${r.error ? `
${r.error}` : ''}
${r.warnings.map((w) => `warning: ${w}\n`).join('')}`,
      );
    }
    return r.ok ? 0 : 1;
  } finally {
    // The robot puts the cartridge back in its slot, whatever the job's outcome.
    if (mounted) await mounted.release().catch((e: unknown) => process.stderr.write(`cartridge ${mounted!.barcode} not moved home: ${String(e)}\n`));
    if (snap && provider && !values['keep-snapshot']) await provider.delete(snap.id).catch((e: unknown) => process.stderr.write(`snapshot ${snap!.name} not deleted: ${String(e)}\n`));
    catalog.close();
    await session.close();
  }
}
