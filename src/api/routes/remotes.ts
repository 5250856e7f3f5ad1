/**
 * Remote targets the data movers use (issue 17): the lab's remoteTargets and the lab nodes another
 * process serves (`--serve`), per data mover session, with their state (unknown until first used,
 * up, down) and why the last attempt failed; plus which nodes this process serves.
 */
import type { FastifyInstance } from 'fastify';

const remoteSchema = {
  type: 'object',
  required: ['name', 'iqn', 'wwpn', 'state'],
  properties: {
    name: { type: 'string' },
    iqn: { type: 'string' },
    wwpn: { type: 'string' },
    portal: { type: 'string' },
    initiator: { type: 'string' },
    state: { enum: ['unknown', 'up', 'down'] },
    lastError: { type: 'string' },
  },
} as const;

export async function remoteRoutes(app: FastifyInstance): Promise<void> {
  const { runtime } = app.lab;
  app.get(
    '/api/remotes',
    {
      schema: {
        summary: 'Remote targets the data movers log in to, with their state, and the nodes this process serves',
        response: { 200: { type: 'object', required: ['served', 'targets'], properties: { served: { type: 'array', items: { type: 'string' } }, targets: { type: 'array', items: remoteSchema } } } },
      },
    },
    async () => ({
      served: [...runtime.served],
      targets: runtime.remoteTargets.map((t) => ({
        name: t.name,
        iqn: t.iqn,
        wwpn: t.wwpn,
        ...(t.portal ? { portal: `${t.portal.host}:${t.portal.port}` } : {}),
        initiator: t.opts.initiatorName,
        state: t.state,
        ...(t.lastError ? { lastError: t.lastError } : {}),
      })),
    }),
  );
}
