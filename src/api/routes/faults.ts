/**
 * Fault injection per LU (the devices' FaultPlan and the tape's own hooks) and per port (link
 * down). Each PATCH adds to what is armed; DELETE clears everything on the LU.
 */
import type { FastifyInstance } from 'fastify';
import type { FaultPlan } from '../../../firmware-sim/devices/faults.js';
import { HttpError } from '../http-error.js';
import { luView } from '../state.js';
import { luParams, secure } from '../schemas.js';

const u = (max: number) => ({ type: 'integer', minimum: 0, maximum: max }) as const;

interface FaultBody {
  mediumError?: { firstLba: number; count: number; on?: 'read' | 'write' | 'both'; once?: boolean };
  notReadyMs?: number;
  latencyMs?: number;
  throughputBytesPerSec?: number;
  earlyWarningAt?: number;
  endOfMediumAt?: number;
  losePosition?: boolean;
}

export async function faultRoutes(app: FastifyInstance): Promise<void> {
  const { runtime, events } = app.lab;
  const target = (device: string, lu: string) => {
    const e = runtime.lu(`${device}/${lu}`);
    if (!e) throw new HttpError(404, `no LU "${device}/${lu}"`);
    const plan: FaultPlan | undefined = e.disk?.faults ?? e.drive?.faults;
    if (!plan) throw new HttpError(409, `"${e.name}" is a ${e.kind} LU: it has no medium to fault`);
    return { e, plan };
  };

  app.get<{ Params: { device: string; lu: string } }>('/api/lus/:device/:lu/faults', { schema: { params: luParams } }, async (req) => {
    const { e, plan } = target(req.params.device, req.params.lu);
    return { ...plan.view(), ...(e.drive ? e.drive.tapeFaults : {}) };
  });

  app.patch<{ Params: { device: string; lu: string }; Body: FaultBody }>(
    '/api/lus/:device/:lu/faults',
    {
      schema: {
        summary: 'Arm faults: medium error range (LBA, or logical object on tape), not ready, latency, throughput cap; tape early warning / end of medium / lost position',
        security: secure,
        params: luParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            mediumError: {
              type: 'object',
              required: ['firstLba', 'count'],
              additionalProperties: false,
              properties: { firstLba: u(2 ** 53 - 1), count: { type: 'integer', minimum: 1, maximum: 2 ** 32 }, on: { enum: ['read', 'write', 'both'] }, once: { type: 'boolean' } },
            },
            notReadyMs: u(3_600_000),
            latencyMs: u(60_000),
            throughputBytesPerSec: u(2 ** 40),
            earlyWarningAt: u(2 ** 50),
            endOfMediumAt: u(2 ** 50),
            losePosition: { type: 'boolean' },
          },
        },
      },
    },
    async (req) => {
      const { e, plan } = target(req.params.device, req.params.lu);
      const b = req.body;
      const tapeOnly = b.earlyWarningAt !== undefined || b.endOfMediumAt !== undefined || b.losePosition !== undefined;
      if (tapeOnly && !e.drive) throw new HttpError(400, 'earlyWarningAt, endOfMediumAt and losePosition apply to tape LUs only');
      if (b.mediumError) plan.addMediumError({ on: 'both', ...b.mediumError });
      if (b.notReadyMs !== undefined) plan.notReadyFor(b.notReadyMs);
      if (b.latencyMs !== undefined) plan.setLatency(b.latencyMs);
      if (b.throughputBytesPerSec !== undefined) plan.setThroughput(b.throughputBytesPerSec);
      if (e.drive) {
        if (b.earlyWarningAt !== undefined) e.drive.tapeFaults.earlyWarningAt = b.earlyWarningAt;
        if (b.endOfMediumAt !== undefined) e.drive.tapeFaults.endOfMediumAt = b.endOfMediumAt;
        if (b.losePosition !== undefined) e.drive.tapeFaults.losePosition = b.losePosition;
      }
      events.changed(`faults ${e.name}`);
      return luView(e);
    },
  );

  app.delete<{ Params: { device: string; lu: string } }>('/api/lus/:device/:lu/faults', { schema: { security: secure, params: luParams } }, async (req) => {
    const { e, plan } = target(req.params.device, req.params.lu);
    plan.clear();
    if (e.drive) for (const k of Object.keys(e.drive.tapeFaults) as Array<keyof typeof e.drive.tapeFaults>) delete e.drive.tapeFaults[k];
    events.changed(`faults ${e.name} cleared`);
    return luView(e);
  });

  app.put<{ Params: { port: string }; Body: { down: boolean } }>(
    '/api/ports/:port/link',
    {
      schema: {
        summary: 'Take a port’s link down or bring it up (WWPN or "node/port")',
        security: secure,
        params: { type: 'object', required: ['port'], properties: { port: { type: 'string', minLength: 1, maxLength: 160 } } },
        body: { type: 'object', required: ['down'], additionalProperties: false, properties: { down: { type: 'boolean' } } },
      },
    },
    async (req) => {
      const ref = req.params.port;
      const p = runtime.ports().find((x) => x.ref === ref || x.wwpn === ref.replace(/:/g, '').toLowerCase());
      if (!p) throw new HttpError(404, `no port "${ref}" on the fabric`);
      runtime.fabric.setLinkDown(p.wwpn, req.body.down);
      events.changed(`link ${p.ref} ${req.body.down ? 'down' : 'up'}`);
      return { ok: true, port: p.ref, wwpn: p.wwpn, down: req.body.down };
    },
  );
}
