/**
 * Snapshot sets and snapshot LUs (snapshot.md §6): create a set all-or-none, list snapshots with
 * their state and side store fill, delete one or a whole set. Errors: 404 unknown LU or snapshot,
 * 409 a limit or another set being created, 422 a bad field value, 504 the commit window expired.
 */
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../http-error.js';
import { secure } from '../schemas.js';
import { SnapshotError, type SnapshotRequest } from '../../../firmware-sim/lab/snapshots.js';

const ref = { type: 'string', minLength: 1, maxLength: 260 } as const;
const STATUS: Record<SnapshotError['kind'], number> = { 'not-found': 404, conflict: 409, invalid: 422, timeout: 504 };

interface SetBody {
  lus: Array<string | { array: string; lun: number }>;
  mapTo?: string[];
  name?: string;
  chunkSize?: number;
  storeSize?: number | string;
  commitWindowMs?: number;
  writers?: 'registered' | 'none';
}

export async function snapshotRoutes(app: FastifyInstance): Promise<void> {
  const { runtime, events } = app.lab;
  const snaps = runtime.snapshots;
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof SnapshotError) throw new HttpError(STATUS[e.kind], e.message);
      throw e;
    }
  };
  const luName = (l: SetBody['lus'][number]): string => {
    if (typeof l === 'string') return l;
    const e = runtime.lus().find((x) => x.device === l.array && x.lun === l.lun && x.kind === 'disk');
    if (!e) throw new HttpError(404, `no disk LU at LUN ${l.lun} of "${l.array}"`);
    return e.name;
  };

  app.post<{ Body: SetBody }>(
    '/api/snapshot-sets',
    {
      schema: {
        summary: 'Take a snapshot set: every LU gets a read-only snapshot LU at one instant, or none does',
        security: secure,
        body: {
          type: 'object',
          required: ['lus'],
          additionalProperties: false,
          properties: {
            lus: {
              type: 'array',
              minItems: 1,
              maxItems: 64,
              items: {
                anyOf: [ref, { type: 'object', required: ['array', 'lun'], additionalProperties: false, properties: { array: ref, lun: { type: 'integer', minimum: 0, maximum: 16383 } } }],
              },
            },
            mapTo: { type: 'array', maxItems: 64, items: ref },
            name: { type: 'string', minLength: 1, maxLength: 63 },
            chunkSize: { type: 'integer' },
            storeSize: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', minLength: 1, maxLength: 32 }] },
            commitWindowMs: { type: 'integer', minimum: 1, maximum: 600_000 },
            writers: { enum: ['registered', 'none'] },
          },
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const r: SnapshotRequest = { lus: b.lus.map(luName) };
      if (b.mapTo) r.mapTo = b.mapTo;
      if (b.name !== undefined) r.name = b.name;
      if (b.chunkSize !== undefined) r.chunkSize = b.chunkSize;
      if (b.storeSize !== undefined) r.storeSize = b.storeSize;
      if (b.commitWindowMs !== undefined) r.commitWindowMs = b.commitWindowMs;
      const set = await run(() => snaps.createSet(r));
      events.changed(`snapshot set ${set.setId} created`);
      return reply.code(201).send(set);
    },
  );

  app.get('/api/snapshot-sets', { schema: { summary: 'Snapshot sets with their snapshots' } }, async () => {
    const sets = new Map<string, { setId: string; name: string; instant: string; snapshots: ReturnType<typeof snaps.list> }>();
    for (const s of snaps.list()) {
      let set = sets.get(s.setId);
      if (!set) sets.set(s.setId, (set = { setId: s.setId, name: s.setName, instant: s.instant, snapshots: [] }));
      set.snapshots.push(s);
    }
    return [...sets.values()];
  });

  app.get('/api/snapshots', { schema: { summary: 'Every snapshot LU: state (valid or invalid and why), side store fill' } }, async () => snaps.list());

  app.get<{ Params: { id: string } }>('/api/snapshots/:id', { schema: { params: { type: 'object', required: ['id'], properties: { id: ref } } } }, async (req) => {
    const e = snaps.get(req.params.id);
    if (!e) throw new HttpError(404, `no snapshot "${req.params.id}"`);
    return snaps.stateOf(e);
  });

  app.post<{ Params: { id: string } }>(
    '/api/snapshots/:id/changes/take',
    {
      schema: {
        summary:
          "Blocks of the snapshot's origin changed since the origin's last change take up to the snapshot's instant, and a new change epoch from that instant (what an incremental or differential backup read from the snapshot copies)",
        security: secure,
        params: { type: 'object', required: ['id'], properties: { id: ref } },
      },
    },
    async (req) => {
      const e = snaps.get(req.params.id);
      if (!e) throw new HttpError(404, `no snapshot "${req.params.id}"`);
      const extents = await run(() => snaps.takeChanges(e.meta.origin, e.meta.id));
      return { blockSize: e.meta.blockLength, extents };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/snapshots/:id',
    { schema: { summary: 'Delete a snapshot (its LU vanishes, its side store is released)', security: secure, params: { type: 'object', required: ['id'], properties: { id: ref } } } },
    async (req) => {
      await run(() => snaps.delete(req.params.id));
      events.changed(`snapshot ${req.params.id} deleted`);
      return { ok: true };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/snapshot-sets/:id',
    { schema: { summary: 'Delete every snapshot of a set', security: secure, params: { type: 'object', required: ['id'], properties: { id: ref } } } },
    async (req) => {
      const n = await run(() => snaps.deleteSet(req.params.id));
      events.changed(`snapshot set ${req.params.id} deleted`);
      return { ok: true, deleted: n };
    },
  );
}
