/**
 * Backup jobs started from the API (and the dashboard): the backup server runs in process against
 * the same running lab, as the lab's first host, and drives the data mover like any other client.
 */
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { runBackup, type BackupOutcome } from '../../backup-server/backup.js';
import { Catalog, type BackupMode } from '../../backup-server/catalog.js';
import { discover } from '../../backup-server/discovery.js';
import { openSession } from '../../backup-server/session.js';
import { runtimeSnapshots } from '../../backup-server/snapshot-source.js';
import { secure } from '../schemas.js';

interface Job {
  id: number;
  source: string;
  tape: string;
  mode: BackupMode;
  state: 'running' | 'complete' | 'failed';
  startedAt: string;
  backupId?: number;
  error?: string;
  /** The snapshot the job read from (snapshot: true). */
  snapshot?: { name: string; setId: string; instant: string; kept: boolean };
}


export async function jobRoutes(app: FastifyInstance): Promise<void> {
  const { runtime, events } = app.lab;
  const catalogPath = app.lab.catalogPath ?? path.join(runtime.dataDir, 'catalog.sqlite');
  app.lab.catalogPath = catalogPath;
  const jobs = new Map<number, Job>();
  const running = new Set<Promise<void>>();
  let next = 1;

  app.addHook('onClose', async () => {
    await Promise.allSettled([...running]);
  });

  app.get('/api/jobs', { schema: { summary: 'Backup jobs started through the API' } }, async () => [...jobs.values()]);

  app.post<{ Body: { source: string; tape: string; mode?: BackupMode; checksums?: boolean; snapshot?: boolean; keepSnapshot?: boolean } }>(
    '/api/jobs/backup',
    {
      schema: {
        summary: 'Start a server-free backup of a disk LU to a tape drive (runs in the background; follow it on /api/copies or /api/events)',
        security: secure,
        body: {
          type: 'object',
          required: ['source', 'tape'],
          additionalProperties: false,
          properties: {
            source: { type: 'string', minLength: 1, maxLength: 260 },
            tape: { type: 'string', minLength: 1, maxLength: 260 },
            mode: { enum: ['full', 'sparse', 'files', 'incremental', 'differential'] },
            checksums: { type: 'boolean', description: 'read the source first to record SHA-256 (default true)' },
            snapshot: { type: 'boolean', description: 'back up from a snapshot of the source taken at the start (as dmsim backup --snapshot; default false)' },
            keepSnapshot: { type: 'boolean', description: 'keep that snapshot after the job (default false: deleted)' },
          },
        },
      },
    },
    async (req, reply) => {
      const { source: srcName, tape: tapeName, mode = 'full', checksums = true, snapshot = false, keepSnapshot = false } = req.body;
      const session = await openSession({ runtime });
      let source, tape;
      try {
        source = session.find(srcName, 'disk');
        tape = session.find(tapeName, 'tape');
      } catch (e) {
        await session.close();
        return reply.code(404).send({ error: 'Not Found', message: (e as Error).message });
      }
      const job: Job = { id: next++, source: srcName, tape: tapeName, mode, state: 'running', startedAt: new Date().toISOString() };
      jobs.set(job.id, job);
      // The job's copies come from the session's host port: the dashboard links them to the job.
      const release = events.claim(runtime.port(runtime.config.hosts[0]!.name).wwpn, job.id);
      const catalog = new Catalog(catalogPath);
      const barcode = session.barcodeIn(tape);
      const provider = runtimeSnapshots(runtime, [runtime.config.hosts[0]!.name]);
      let taken: Awaited<ReturnType<typeof provider.take>> | undefined;
      const start = async (): Promise<BackupOutcome> => {
        let from: { lu: typeof source; name: string; setId: string; instant: string } | undefined;
        if (snapshot) {
          if (!source.naa) throw new Error(`${srcName} reports no NAA designator`);
          taken = await provider.take(source.naa);
          job.snapshot = { name: taken.name, setId: taken.setId, instant: taken.instant, kept: keepSnapshot };
          const lu = (await discover(session.client)).lus.find((l) => l.naa === taken!.naa);
          if (!lu) throw new Error(`the snapshot LU naa.${taken.naa} is not visible to the backup server`);
          from = { lu, name: taken.name, setId: taken.setId, instant: taken.instant };
        }
        const changes = taken ? provider.changes(taken.id) : session.changes(source);
        return runBackup({
          client: session.client,
          catalog,
          dataMover: session.dataMover(),
          ...(session.dataMoverPort ? { dataMoverPort: session.dataMoverPort } : {}),
          source,
          ...(from ? { snapshot: from } : {}),
          tape,
          mode,
          checksums,
          ...(barcode ? { barcode } : {}),
          ...(changes ? { changes } : {}),
        });
      };
      const work = start()
        .then((r: BackupOutcome) => {
          job.backupId = r.backupId;
          job.state = r.ok ? 'complete' : 'failed';
          if (!r.ok) job.error = r.error ?? 'failed';
        })
        .catch((e: unknown) => {
          job.state = 'failed';
          job.error = e instanceof Error ? e.message : String(e);
          req.log.warn({ err: e, job: job.id }, 'backup job failed');
        })
        .finally(async () => {
          if (taken && !keepSnapshot) await provider.delete(taken.id).catch((e: unknown) => req.log.warn({ err: e, job: job.id }, 'snapshot not deleted'));
          release();
          catalog.close();
          await session.close();
          events.changed(`job ${job.id} ${job.state}`);
          running.delete(work);
        });
      running.add(work);
      events.changed(`job ${job.id} started`);
      return reply.code(202).send({ job: job.id, state: job.state });
    },
  );
}
