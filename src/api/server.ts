/**
 * The management API: one fastify instance, a plugin per area (fastify encapsulation), JSON schemas
 * on every route (validation answers 400 with a message; the OpenAPI document at /openapi.json is
 * generated from the same schemas). Reads are open; every write needs the bearer token.
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyError } from 'fastify';
import swagger from '@fastify/swagger';
import type { LabRuntime } from '../../firmware-sim/lab/build.js';
import type { ITNexus } from '../../firmware-sim/router/task.js';
import { LabChangeError } from '../../firmware-sim/lab/build.js';
import { LabError } from '../../firmware-sim/lab/schema.js';
import { VaultError } from '../../firmware-sim/lab/vault.js';
import type { IscsiTarget } from '../iscsi/target/types.js';
import type { Logger } from '../log.js';
import { LabMetrics } from './metrics.js';
import { LabEvents } from './events.js';
import { labRoutes } from './routes/lab.js';
import { tapeRoutes } from './routes/tapes.js';
import { copyRoutes } from './routes/copies.js';
import { faultRoutes } from './routes/faults.js';
import { observeRoutes } from './routes/observe.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { jobRoutes } from './routes/jobs.js';
import { HttpError } from './http-error.js';
import { snapshotRoutes } from './routes/snapshots.js';
import { remoteRoutes } from './routes/remotes.js';
import { libraryRoutes } from './routes/library.js';
import { resolveToken, type ResolvedToken } from './token.js';

export interface ApiOptions {
  /** Bearer token for writes; default: the lab's api.token, then DMSIM_API_TOKEN, then the one in `tokenFile`, else a random one. */
  token?: string;
  /** Where the token is kept across restarts when neither the lab nor the environment sets one (token.ts). */
  tokenFile?: string;
  log?: Logger;
  /** The running iSCSI target, for /api/sessions. */
  iscsi?: IscsiTarget;
  /** Catalog database path, for /api/backups. */
  catalogPath?: string;
}

export interface ApiContext {
  runtime: LabRuntime;
  metrics: LabMetrics;
  events: LabEvents;
  iscsi?: IscsiTarget;
  catalogPath?: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    lab: ApiContext;
  }
}

export interface Api {
  app: FastifyInstance;
  token: string;
  /** Where the token came from, and the file it lives in (for the operator's log line). */
  tokenSource: ResolvedToken;
  close(): Promise<void>;
}

/** An error a route throws to answer with a status and message. */
export async function buildApi(runtime: LabRuntime, opts: ApiOptions = {}): Promise<Api> {
  const resolved = await resolveToken({ option: opts.token, lab: runtime.config.api.token, env: process.env.DMSIM_API_TOKEN, file: opts.tokenFile });
  const token = resolved.token;
  const app = Fastify({
    ...(opts.log ? { loggerInstance: opts.log.child({ part: 'api' }) as FastifyBaseLogger } : { logger: false }),
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
    bodyLimit: 1 << 20,
  });
  // The LU the initiator addressed, through the target's own view of its LUN map (cached there and
  // dropped on every map change), so a LUN re-used by another LU is counted under the new name.
  const luName = (nexus: ITNexus, lun: number) => runtime.fabric.deviceOf(nexus)?.visibleLus(nexus.initiatorPort).get(lun)?.identity.name ?? `${nexus.targetPort}/${lun}`;
  const metrics = new LabMetrics(runtime.fabric, luName);
  const events = new LabEvents(runtime);
  const target = opts.iscsi;
  if (target) events.sessionSource = () => target.sessions();
  app.decorate('lab', { runtime, metrics, events, iscsi: opts.iscsi, catalogPath: opts.catalogPath });

  await app.register(swagger, {
    openapi: {
      info: { title: 'dmsim management API', version: '0.1.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });

  const expected = Buffer.from(token);
  app.addHook('onRequest', async (req, reply) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return;
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const got = Buffer.from(m?.[1] ?? '');
    if (!m || got.length !== expected.length || !timingSafeEqual(got, expected)) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'Unauthorized', message: 'a bearer token is required for writes' });
    }
  });

  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err.validation) return reply.code(400).send({ error: 'Bad Request', message: err.message });
    if (err instanceof HttpError) return reply.code(err.statusCode).send({ error: err.statusCode === 404 ? 'Not Found' : 'Error', message: err.message });
    if (err instanceof LabChangeError || err instanceof VaultError) {
      const code = err.kind === 'not-found' ? 404 : 409;
      return reply.code(code).send({ error: code === 404 ? 'Not Found' : 'Conflict', message: err.message });
    }
    if (err instanceof LabError) return reply.code(400).send({ error: 'Bad Request', message: err.message, issues: err.issues });
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return reply.code(err.statusCode).send({ error: 'Bad Request', message: err.message });
    reply.log.error({ err }, 'api error');
    return reply.code(500).send({ error: 'Internal Server Error', message: err.message });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'Not Found', message: `no route ${req.method} ${req.url}` }));

  await app.register(labRoutes);
  await app.register(tapeRoutes);
  await app.register(copyRoutes);
  await app.register(faultRoutes);
  await app.register(jobRoutes);
  await app.register(snapshotRoutes);
  await app.register(remoteRoutes);
  await app.register(libraryRoutes);
  await app.register(observeRoutes);
  await app.register(dashboardRoutes);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.ready();

  return {
    app,
    token,
    tokenSource: resolved,
    async close() {
      events.close();
      metrics.close();
      await app.close();
    },
  };
}
