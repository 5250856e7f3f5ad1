/** Sessions, catalog backups, server-sent events and Prometheus metrics. */
import { existsSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { Catalog } from '../../backup-server/catalog.js';
import { HttpError } from '../http-error.js';
import { luView } from '../state.js';
import type { LabEvent } from '../events.js';

export async function observeRoutes(app: FastifyInstance): Promise<void> {
  const { runtime, events, metrics, iscsi, catalogPath } = app.lab;

  app.get('/api/sessions', { schema: { summary: 'iSCSI sessions with their initiator ports' } }, async () => iscsi?.sessions() ?? []);

  const withCatalog = <T>(fn: (c: Catalog) => T): T => {
    if (!catalogPath || !existsSync(catalogPath)) return fn(undefined as never);
    const c = new Catalog(catalogPath);
    try {
      return fn(c);
    } finally {
      c.close();
    }
  };

  app.get('/api/backups', { schema: { summary: 'Backups recorded in the catalog' } }, async () => withCatalog((c) => c?.backups() ?? []));

  app.get<{ Params: { id: number } }>(
    '/api/backups/:id',
    { schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } } } },
    async (req) =>
      withCatalog((c) => {
        const b = c?.backup(req.params.id);
        if (!b) throw new HttpError(404, `no backup ${req.params.id} in the catalog`);
        return { ...b, events: c.events(b.id), files: c.files(b.id).length };
      }),
  );

  app.get('/api/events', { schema: { summary: 'Server-sent events: copies (progress), lu (state changes), lab (changes made through the API)' } }, (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = (e: LabEvent) => res.write(`event: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`);
    // A fresh subscriber gets the whole current state first, then only changes.
    send({ type: 'copies', data: events.sampleCopies() });
    for (const l of runtime.lus()) send({ type: 'lu', data: luView(l) });
    const off = events.subscribe(send);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.raw.on('close', () => {
      clearInterval(ping);
      off();
    });
  });

  app.get('/metrics', { schema: { summary: 'Prometheus text format' } }, async (_req, reply) => {
    const copies = events.sampleCopies();
    const jobs = metrics.gauge('dmsim_copy_jobs', 'Copy lists by state');
    jobs.values.clear();
    for (const s of ['running', 'done', 'failed']) jobs.set({ state: s }, copies.filter((c) => c.state === s).length);
    const seg = metrics.gauge('dmsim_copy_segments_processed', 'Segments processed per copy list');
    const rate = metrics.gauge('dmsim_copy_bytes_per_second', 'Copy throughput over the last second, per copy list');
    seg.values.clear();
    rate.values.clear();
    for (const c of copies) {
      const l = { lu: c.lu, list_id: String(c.listId) };
      seg.set(l, c.segmentsProcessed);
      rate.set(l, c.rate);
    }
    const sessions = metrics.gauge('dmsim_iscsi_sessions', 'Open iSCSI sessions by type');
    const list = iscsi?.sessions() ?? [];
    sessions.set({ type: 'Normal' }, list.filter((s) => s.type === 'Normal').length);
    sessions.set({ type: 'Discovery' }, list.filter((s) => s.type === 'Discovery').length);
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(metrics.render());
  });
}
