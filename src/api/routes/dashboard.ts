/** The dashboard: static files read once at start-up (no build step), served by the API itself. */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

const dir = new URL('../public/', import.meta.url);
const files: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/dashboard.js': ['dashboard.js', 'text/javascript; charset=utf-8'],
  '/dashboard.css': ['dashboard.css', 'text/css; charset=utf-8'],
  '/favicon.svg': ['favicon.svg', 'image/svg+xml'],
};

export async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  for (const [url, [file, type]] of Object.entries(files)) {
    const body = readFileSync(new URL(file, dir));
    app.get(url, { schema: { hide: true } }, async (_req, reply) => reply.type(type).header('cache-control', 'no-cache').send(body));
  }
}
