/** Copy jobs (EXTENDED COPY lists) with live progress, and aborting one. */
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../http-error.js';
import { secure } from '../schemas.js';


export async function copyRoutes(app: FastifyInstance): Promise<void> {
  const { runtime, events } = app.lab;

  app.get('/api/copies', { schema: { summary: 'Copy lists of every copy manager: state, segments, bytes, rate' } }, async () => events.sampleCopies());

  app.post<{ Body: { copyManager: string; lu: string; initiator: string; listId: number } }>(
    '/api/copies/abort',
    {
      schema: {
        summary: 'Abort a running copy as COPY OPERATION ABORT would (the EXTENDED COPY ends aborted)',
        security: secure,
        body: {
          type: 'object',
          required: ['copyManager', 'lu', 'initiator', 'listId'],
          additionalProperties: false,
          properties: {
            copyManager: { type: 'string', minLength: 1, maxLength: 260 },
            lu: { type: 'string', minLength: 1, maxLength: 260 },
            initiator: { type: 'string', minLength: 1, maxLength: 600 },
            listId: { type: 'integer', minimum: 0, maximum: 255 },
          },
        },
      },
    },
    async (req) => {
      const { copyManager, lu, initiator, listId } = req.body;
      const cm = runtime.copyManagers.get(copyManager);
      if (!cm) throw new HttpError(404, `no copy manager "${copyManager}"`);
      const state = cm.abort(lu, initiator, listId, 'aborted through the management API');
      if (!state) throw new HttpError(404, `no copy list ${listId} of ${initiator} on ${lu}`);
      if (state !== 'running') throw new HttpError(409, `copy list ${listId} is ${state}, not running`);
      events.changed(`copy ${listId} aborted`);
      return { ok: true };
    },
  );
}
