/** Tape drives and the vault: load, eject, add and remove cartridges, write-protect tabs. */
import { stat } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { isInsideDataDir, parseSize, SIZE_PATTERN } from '../../../firmware-sim/lab/schema.js';
import { HttpError } from '../http-error.js';
import { name, secure } from '../schemas.js';

const barcode = { type: 'string', minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9._-]+$' } as const;
/** A new cartridge's barcode follows the lab file's rule (it is written back to lab.json). */
const newBarcode = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,32}$' } as const;
const driveParams = { type: 'object', required: ['router', 'drive'], properties: { router: name, drive: name } } as const;

export async function tapeRoutes(app: FastifyInstance): Promise<void> {
  const { runtime, events } = app.lab;
  const driveRef = (router: string, drive: string) => {
    const ref = `${router}/${drive}`;
    if (!runtime.drive(ref)) throw new HttpError(404, `no tape drive "${ref}"`);
    return ref;
  };

  app.get('/api/drives', { schema: { summary: 'Tape drives with their cartridge, position and state' } }, async () =>
    runtime.drives().map((d) => ({ name: d.name, router: d.router, bus: d.bus, lun: d.lun, ...d.drive.status() })),
  );

  app.get('/api/vault', { schema: { summary: 'Cartridges in the vault: where each is, capacity and bytes used (of the image, as capacity counts them)' } }, async () =>
    Promise.all(
      runtime.vault.list().map(async ({ image, ...c }) => {
        // A loaded cartridge's drive knows its length; a shelved one is as long as its image file.
        const loaded = c.loadedIn ? runtime.drive(c.loadedIn)?.drive.status().bytesUsed : undefined;
        const bytesUsed = loaded ?? (await stat(image).then((s) => s.size, () => 0));
        return { ...c, bytesUsed };
      }),
    ),
  );

  app.post<{ Body: { router: string; barcode: string; capacity: number | string; writeProtected?: boolean; image?: string } }>(
    '/api/vault',
    {
      schema: {
        summary: 'Add a blank (or existing) cartridge to a router’s vault; it is kept in the data directory’s lab.json',
        security: secure,
        body: {
          type: 'object',
          required: ['router', 'barcode', 'capacity'],
          additionalProperties: false,
          properties: {
            router: name,
            barcode: newBarcode,
            // Bytes, or a size with a unit as in the lab file ("400GB", "1 GiB"); parsed by the lab's own parser.
            // anyOf, not oneOf: the API coerces types, so an integer also passes as a string.
            capacity: { anyOf: [{ type: 'integer', minimum: 1 << 20, maximum: 2 ** 44 }, { type: 'string', maxLength: 32, pattern: SIZE_PATTERN }] },
            writeProtected: { type: 'boolean' },
            image: { type: 'string', minLength: 1, maxLength: 255 },
          },
        },
      },
    },
    async (req, reply) => {
      const { router, barcode: bc, writeProtected = false, image } = req.body;
      if (!runtime.device(router)) throw new HttpError(404, `no router "${router}"`);
      if (image !== undefined && !isInsideDataDir(image)) throw new HttpError(400, `image "${image}" is outside the data directory`);
      const capacity = parseSize(req.body.capacity);
      if (!Number.isSafeInteger(capacity) || capacity < 1 << 20 || capacity > 2 ** 44) {
        throw new HttpError(400, `capacity ${JSON.stringify(req.body.capacity)} must be between 1 MiB and 16 TiB`);
      }
      const c = await runtime.addCartridge(router, { barcode: bc, capacity, writeProtected, ...(image !== undefined ? { image } : {}) });
      events.changed(`cartridge ${bc} added`);
      const { image: _i, ...view } = c;
      return reply.code(201).send(view);
    },
  );

  app.delete<{ Params: { barcode: string } }>(
    '/api/vault/:barcode',
    { schema: { summary: 'Take a cartridge out of the lab (image kept)', security: secure, params: { type: 'object', required: ['barcode'], properties: { barcode } } } },
    async (req) => {
      runtime.removeCartridge(req.params.barcode);
      events.changed(`cartridge ${req.params.barcode} removed`);
      return { ok: true };
    },
  );

  app.put<{ Params: { barcode: string }; Body: { writeProtected: boolean } }>(
    '/api/vault/:barcode/write-protect',
    {
      schema: {
        security: secure,
        params: { type: 'object', required: ['barcode'], properties: { barcode } },
        body: { type: 'object', required: ['writeProtected'], additionalProperties: false, properties: { writeProtected: { type: 'boolean' } } },
      },
    },
    async (req) => {
      await runtime.setWriteProtected(req.params.barcode, req.body.writeProtected);
      events.changed(`cartridge ${req.params.barcode} write-protect`);
      return { ok: true };
    },
  );

  app.post<{ Params: { router: string; drive: string }; Body: { barcode: string } }>(
    '/api/drives/:router/:drive/load',
    {
      schema: {
        summary: 'Load a cartridge from the vault (initiators then see UA 28h/00h)',
        security: secure,
        params: driveParams,
        body: { type: 'object', required: ['barcode'], additionalProperties: false, properties: { barcode } },
      },
    },
    async (req) => {
      const ref = driveRef(req.params.router, req.params.drive);
      await runtime.vault.load(req.body.barcode, ref);
      events.changed(`${ref} loaded ${req.body.barcode}`);
      return { ok: true };
    },
  );

  app.post<{ Params: { router: string; drive: string }; Querystring: { force?: boolean } }>(
    '/api/drives/:router/:drive/eject',
    {
      schema: {
        summary: 'Unload and eject the cartridge back to the vault (refused while removal is prevented unless force)',
        security: secure,
        params: driveParams,
        querystring: { type: 'object', additionalProperties: false, properties: { force: { type: 'boolean' } } },
      },
    },
    async (req) => {
      const ref = driveRef(req.params.router, req.params.drive);
      const bc = await runtime.vault.eject(ref, { force: req.query.force === true });
      events.changed(`${ref} ejected`);
      return { ok: true, barcode: bc ?? null };
    },
  );
}
