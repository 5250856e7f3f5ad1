/** Topology, LUs, zones and LUN masking: read, and change with the unit attentions SPC asks for. */
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../http-error.js';
import { luView, topologyView } from '../state.js';
import { name, luParams, secure } from '../schemas.js';

const wwpnOrRef = { type: 'string', minLength: 1, maxLength: 160 } as const;
const ok = { type: 'object', properties: { ok: { type: 'boolean' } } } as const;

export async function labRoutes(app: FastifyInstance): Promise<void> {
  const { runtime, events } = app.lab;
  const entry = (device: string, lu: string) => {
    const e = runtime.lu(`${device}/${lu}`);
    if (!e) throw new HttpError(404, `no LU "${device}/${lu}"`);
    return e;
  };

  // Which initiator ports are logged in now: an iSCSI session (by port or initiator name), a
  // running API backup job (the in-process backup server), or a router's/array's own port.
  const wwn = (w: string | undefined) => (w ?? '').replace(/:/g, '').toLowerCase();
  const loggedIn = (p: ReturnType<typeof topologyView>['ports'][number]): boolean => {
    if (p.owner === 'data-mover' || p.owner === 'array') return true;
    const names = new Set(runtime.config.hosts.flatMap((h) => h.ports.filter((hp) => wwn(hp.wwpn) === wwn(p.wwpn)).flatMap((hp) => hp.iscsiNames)));
    if (p.owner === 'iscsi-default') names.add(p.node);
    return (app.lab.iscsi?.sessions() ?? []).some((s) => (s.initiatorPort && wwn(s.initiatorPort) === wwn(p.wwpn)) || names.has(s.initiatorName)) || events.claimed(p.wwpn);
  };

  app.get('/api/lab', { schema: { summary: 'Lab topology: fabric, ports (initiators with loggedIn), zones, target devices' } }, async () => {
    const t = topologyView(runtime);
    return { ...t, ports: t.ports.map((p) => (p.role === 'initiator' ? { ...p, loggedIn: loggedIn(p) } : p)) };
  });

  app.get('/api/lus', { schema: { summary: 'Every LU with its state' } }, async () => runtime.lus().map(luView));

  app.get<{ Params: { device: string; lu: string } }>('/api/lus/:device/:lu', { schema: { params: luParams } }, async (req) =>
    luView(entry(req.params.device, req.params.lu)),
  );

  app.post<{ Params: { array: string }; Body: Record<string, unknown> }>(
    '/api/arrays/:array/lus',
    {
      schema: {
        summary: 'Create a disk LU (same fields as a lus[] entry of the lab file)',
        security: secure,
        params: { type: 'object', required: ['array'], properties: { array: name } },
        body: { type: 'object', required: ['name'], properties: { name } },
      },
    },
    async (req, reply) => {
      const e = await runtime.addDisk(req.params.array, req.body);
      events.changed(`lu ${e.name} created`);
      return reply.code(201).send(luView(e));
    },
  );

  app.post<{ Params: { device: string; lu: string } }>(
    '/api/lus/:device/:lu/changes/take',
    {
      schema: {
        summary:
          'Blocks of a disk LU changed since the last take, as extents, and start a new change epoch (what incremental and differential backups read; SCSI has no standard command for it)',
        security: secure,
        params: luParams,
        response: {
          200: {
            type: 'object',
            properties: {
              blockSize: { type: 'integer' },
              extents: { type: 'array', items: { type: 'object', properties: { lba: { type: 'integer' }, count: { type: 'integer' } } } },
            },
          },
        },
      },
    },
    async (req) => {
      const e = entry(req.params.device, req.params.lu);
      if (!e.disk) throw new HttpError(409, `"${e.name}" is a ${e.kind} LU: only disk LUs track changes`);
      // Through the snapshot provider: changes cut at snapshot instants since the last take count too.
      const extents = runtime.snapshots.isOrigin(e.name) ? await runtime.snapshots.takeChanges(e.name) : e.disk.takeChanges();
      return { blockSize: e.disk.blockSize, extents };
    },
  );

  app.delete<{ Params: { device: string; lu: string }; Querystring: { deleteImage?: boolean } }>(
    '/api/lus/:device/:lu',
    {
      schema: {
        summary: 'Remove a disk LU (its image stays unless deleteImage=true)',
        security: secure,
        params: luParams,
        querystring: { type: 'object', properties: { deleteImage: { type: 'boolean' } } },
        response: { 200: ok },
      },
    },
    async (req) => {
      const e = entry(req.params.device, req.params.lu);
      if (e.kind !== 'disk') throw new HttpError(409, `"${e.name}" is a ${e.kind} LU: only disk LUs can be removed`);
      await runtime.removeDisk(e.name, { deleteImage: req.query.deleteImage === true });
      events.changed(`lu ${e.name} removed`);
      return { ok: true };
    },
  );

  app.put<{ Params: { name: string }; Body: { members: string[] } }>(
    '/api/zones/:name',
    {
      schema: {
        summary: 'Define or replace a zone (members: port references "node/port" or WWPNs)',
        security: secure,
        params: { type: 'object', required: ['name'], properties: { name } },
        body: { type: 'object', required: ['members'], additionalProperties: false, properties: { members: { type: 'array', maxItems: 1024, items: wwpnOrRef } } },
        response: { 200: ok },
      },
    },
    async (req) => {
      runtime.setZone(req.params.name, req.body.members);
      events.changed(`zone ${req.params.name}`);
      return { ok: true };
    },
  );

  app.delete<{ Params: { name: string } }>(
    '/api/zones/:name',
    { schema: { security: secure, params: { type: 'object', required: ['name'], properties: { name } }, response: { 200: ok } } },
    async (req) => {
      runtime.deleteZone(req.params.name);
      events.changed(`zone ${req.params.name} deleted`);
      return { ok: true };
    },
  );

  app.put<{ Params: { initiator: string }; Body: { lus: string[] } }>(
    '/api/masking/:initiator',
    {
      schema: {
        summary: 'Set the LUs an initiator port may see (UA 3Fh/0Eh to initiators whose view changes)',
        security: secure,
        params: { type: 'object', required: ['initiator'], properties: { initiator: wwpnOrRef } },
        body: { type: 'object', required: ['lus'], additionalProperties: false, properties: { lus: { type: 'array', maxItems: 4096, items: { type: 'string', minLength: 3, maxLength: 260 } } } },
        response: { 200: ok },
      },
    },
    async (req) => {
      runtime.setMasking(req.params.initiator, req.body.lus);
      events.changed(`masking ${req.params.initiator}`);
      return { ok: true };
    },
  );

  app.delete<{ Params: { initiator: string } }>(
    '/api/masking/:initiator',
    { schema: { security: secure, params: { type: 'object', required: ['initiator'], properties: { initiator: wwpnOrRef } }, response: { 200: ok } } },
    async (req) => {
      runtime.setMasking(req.params.initiator, undefined);
      events.changed(`masking ${req.params.initiator} removed`);
      return { ok: true };
    },
  );
}
