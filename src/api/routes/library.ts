/**
 * Tape libraries (the routers' SMC media changers) for the operator: every element with what it
 * holds, the door and the import/export station; robot moves, imports (a shelf cartridge into an
 * import/export element: the operator's door) and exports (out to the shelf) as actions; the
 * timeline of robot, drive and copy activity. A refused action answers 409 with the reason the
 * changer gave, as it would refuse an initiator's MOVE MEDIUM.
 */
import type { FastifyInstance } from 'fastify';
import type { LabRuntime } from '../../../firmware-sim/lab/build.js';
import { ElementType } from '../../scsi/smc.js';
import { name, secure } from '../schemas.js';

const TYPE_NAMES: Record<number, string> = {
  [ElementType.TRANSPORT]: 'transport',
  [ElementType.STORAGE]: 'storage',
  [ElementType.IMPORT_EXPORT]: 'import-export',
  [ElementType.DATA_TRANSFER]: 'drive',
};

const address = { type: 'integer', minimum: 0, maximum: 0xffff } as const;
const barcode = { type: 'string', minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9._-]+$' } as const;
const libParams = { type: 'object', required: ['router', 'library'], properties: { router: name, library: name } } as const;
const ok = { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } } as const;
const errorReply = { type: 'object', required: ['message'], properties: { error: { type: 'string' }, message: { type: 'string' } } } as const;
const refusals = { 400: errorReply, 401: errorReply, 404: errorReply, 409: errorReply } as const;

const elementSchema = {
  type: 'object',
  required: ['address', 'type', 'index'],
  properties: {
    address,
    type: { enum: Object.values(TYPE_NAMES) },
    /** 1-based as operators count slots ("slot 3"). */
    index: { type: 'integer' },
    barcode: { type: 'string' },
    /** The storage element the cartridge last came from. */
    source: { type: 'integer' },
    /** Placed by the operator (import/export elements). */
    imported: { type: 'boolean' },
    /** Data transfer elements: the drive ("router/drive") and whether a tape is threaded in it. */
    drive: { type: 'string' },
    threaded: { type: 'boolean' },
  },
} as const;

const librarySchema = {
  type: 'object',
  required: ['name', 'router', 'library', 'lun', 'doorOpen', 'ioStationOpen', 'locked', 'elements'],
  properties: {
    name: { type: 'string' },
    router: { type: 'string' },
    library: { type: 'string' },
    lun: { type: 'integer' },
    vendor: { type: 'string' },
    product: { type: 'string' },
    doorOpen: { type: 'boolean' },
    ioStationOpen: { type: 'boolean' },
    /** An initiator holds PREVENT MEDIUM REMOVAL: the operator cannot use the door. */
    locked: { type: 'boolean' },
    elements: { type: 'array', items: elementSchema },
  },
} as const;

export function libraryViews(runtime: LabRuntime) {
  const out = [];
  for (const e of runtime.lus()) {
    const c = e.changer;
    if (!c) continue;
    const [router, library] = e.name.split('/') as [string, string];
    const drives = runtime.config.routers.find((r) => r.name === router)?.libraries.find((l) => l.name === library)?.drives ?? [];
    out.push({
      name: e.name,
      router,
      library,
      lun: e.lun,
      vendor: c.identity.vendor,
      product: c.identity.product,
      doorOpen: c.doorOpen,
      ioStationOpen: c.ioStationOpen,
      locked: c.locked,
      elements: c.inventory.elements().map((el) => {
        const drive = el.type === ElementType.DATA_TRANSFER && drives[el.index] ? `${router}/${drives[el.index]}` : undefined;
        return {
          address: el.address,
          type: TYPE_NAMES[el.type] ?? String(el.type),
          index: el.index + 1,
          ...(el.content ? { barcode: el.content.barcode } : {}),
          ...(el.content?.source !== undefined ? { source: el.content.source } : {}),
          ...(el.content?.impexp ? { imported: true } : {}),
          ...(drive ? { drive, threaded: !!runtime.drive(drive)?.drive.cartridge } : {}),
        };
      }),
    });
  }
  return out;
}

export async function libraryRoutes(app: FastifyInstance): Promise<void> {
  const { runtime, events } = app.lab;
  const lib = (p: { router: string; library: string }) => `${p.router}/${p.library}`;

  app.get('/api/libraries', { schema: { summary: 'Tape libraries: every element (slots, import/export, drives, robot) with its cartridge, the door', response: { 200: { type: 'array', items: librarySchema } } } }, async () =>
    libraryViews(runtime),
  );

  app.get(
    '/api/timeline',
    {
      schema: {
        summary: 'Recent robot, drive, door and copy activity and API changes, oldest first (live on /api/events as "activity")',
        response: {
          200: {
            type: 'array',
            items: { type: 'object', required: ['at', 'kind', 'source', 'what'], properties: { at: { type: 'number' }, kind: { type: 'string' }, source: { type: 'string' }, what: { type: 'string' } } },
          },
        },
      },
    },
    async () => events.timeline,
  );

  app.post<{ Params: { router: string; library: string }; Body: { from: number; to: number } }>(
    '/api/libraries/:router/:library/move',
    {
      schema: {
        summary: 'Have the robot move a cartridge between two element addresses (checked as MOVE MEDIUM is; takes the robot and drive times)',
        security: secure,
        params: libParams,
        body: { type: 'object', required: ['from', 'to'], additionalProperties: false, properties: { from: address, to: address } },
        response: { 200: ok, ...refusals },
      },
    },
    async (req) => {
      await runtime.moveCartridge(lib(req.params), req.body.from, req.body.to);
      events.changed(`${lib(req.params)}: moved ${req.body.from} → ${req.body.to}`);
      return { ok: true };
    },
  );

  app.post<{ Params: { router: string; library: string }; Body: { barcode: string; address?: number } }>(
    '/api/libraries/:router/:library/import',
    {
      schema: {
        summary: 'Put a cartridge from the shelf into an import/export element (the first empty one unless named); initiators get UA 28h/01h',
        security: secure,
        params: libParams,
        body: { type: 'object', required: ['barcode'], additionalProperties: false, properties: { barcode, address } },
        response: { 200: { type: 'object', required: ['ok', 'address'], properties: { ok: { type: 'boolean' }, address } }, ...refusals },
      },
    },
    async (req) => {
      const at = await runtime.importCartridge(lib(req.params), req.body.barcode, req.body.address);
      events.changed(`${lib(req.params)}: imported ${req.body.barcode}`);
      return { ok: true, address: at };
    },
  );

  app.post<{ Params: { router: string; library: string }; Body: { address?: number; barcode?: string } }>(
    '/api/libraries/:router/:library/export',
    {
      schema: {
        summary: 'Take the cartridge out of an import/export element (by address or barcode) to the shelf; initiators get UA 28h/01h',
        security: secure,
        params: libParams,
        body: { type: 'object', additionalProperties: false, minProperties: 1, maxProperties: 1, properties: { address, barcode } },
        response: { 200: { type: 'object', required: ['ok', 'barcode'], properties: { ok: { type: 'boolean' }, barcode: { type: 'string' } } }, ...refusals },
      },
    },
    async (req, reply) => {
      const name = lib(req.params);
      let at = req.body.address;
      if (at === undefined) {
        const e = runtime.lu(name)?.changer;
        at = e?.inventory.where(req.body.barcode!);
        if (e && at === undefined) return reply.code(404).send({ error: 'Not Found', message: `cartridge ${req.body.barcode} is not in library ${name}` });
      }
      const bc = await runtime.exportCartridge(name, at ?? 0);
      events.changed(`${name}: exported ${bc}`);
      return { ok: true, barcode: bc };
    },
  );

  app.put<{ Params: { router: string; library: string }; Body: { open: boolean } }>(
    '/api/libraries/:router/:library/door',
    {
      schema: {
        summary: 'Open or close the main door (closing re-inventories: UA 28h/00h); refused while an initiator prevents removal',
        security: secure,
        params: libParams,
        body: { type: 'object', required: ['open'], additionalProperties: false, properties: { open: { type: 'boolean' } } },
        response: { 200: ok, ...refusals },
      },
    },
    async (req) => {
      runtime.setDoor(lib(req.params), req.body.open);
      events.changed(`${lib(req.params)}: door ${req.body.open ? 'opened' : 'closed'}`);
      return { ok: true };
    },
  );
}
