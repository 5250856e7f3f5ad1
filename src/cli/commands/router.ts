/**
 * `dmsim router`: build a lab and serve it: the iSCSI portal for real initiators and the
 * management API. Runs until SIGINT/SIGTERM, then closes sessions and flushes media before
 * exiting 0. Readiness is one log line, msg "router ready", carrying the bound addresses (tests
 * and scripts wait for it; `--iscsi 127.0.0.1:0` picks a free port and reports it there).
 */
import { loadLabFile } from '../../../firmware-sim/lab/load.js';
import { buildLab } from '../../../firmware-sim/lab/build.js';
import type { LabConfig } from '../../../firmware-sim/lab/config.js';
import { servableNodes } from '../../../firmware-sim/lab/isns-entity.js';
import { createLogger, isLogLevel, LOG_LEVELS } from '../../log.js';
import { helpShown, parseCommandArgs, parseHostPort, UsageError } from '../command.js';
import { startFrontEnds } from '../serve.js';
import { ISNS_PORT } from '../../isns/constants.js';

const USAGE = `usage: dmsim router [options]

  --lab FILE          lab file (default: the embedded default lab, fixtures/labs/default.json)
  --iscsi HOST:PORT   iSCSI portal (default: the lab's iscsi.portal, 127.0.0.1:3260); port 0 = any free port
  --api HOST:PORT     management API and dashboard address, or "off" (default: the lab's api.listen,
                      127.0.0.1:8080; if that port is taken the router runs without the API)
  --serve NODE[,NODE] serve only these arrays and routers of the lab; the others are remote targets
                      at their lab "portal" (or where iSNS says), with the same names and designators
  --ndmp HOST:PORT    NDMP v4 server (DMAs such as ndmjob), or "off" (default: off); port 0 = any free port
  --ndmp-router NAME  router whose drives, changers and data mover view NDMP uses (default: the lab's first)
  --ndmp-user USER    NDMP TEXT/MD5 user (default: ndmp; env DMSIM_NDMP_USER)
  --ndmp-password PW  NDMP TEXT/MD5 password (default: ndmp; env DMSIM_NDMP_PASSWORD)
  --ndmp-allow-no-auth  accept AUTH_NONE
  --isns HOST[:PORT]  register the lab's targets, data movers and zones with this iSNS server
                      (default port 3205); the router starts even when the server is down
  --data DIR          data directory for disk and cartridge images (default: ./data)
  --log-level LEVEL   ${LOG_LEVELS.join(', ')} (default: info)
  --log-pretty        human-readable log lines instead of JSON
  -h, --help          this text`;

const OPTIONS = {
  lab: { type: 'string' },
  iscsi: { type: 'string' },
  api: { type: 'string' },
  ndmp: { type: 'string' },
  'ndmp-router': { type: 'string' },
  'ndmp-user': { type: 'string' },
  'ndmp-password': { type: 'string' },
  'ndmp-allow-no-auth': { type: 'boolean', default: false },
  isns: { type: 'string' },
  serve: { type: 'string' },
  data: { type: 'string', default: 'data' },
  'log-level': { type: 'string', default: 'info' },
  'log-pretty': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, OPTIONS, USAGE);
  if (helpShown(values, USAGE)) return 0;
  const level = values['log-level'];
  if (!isLogLevel(level)) throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got "${level}"`, USAGE);
  const config = await loadLabFile(values.lab);
  const iscsi = parseHostPort(values.iscsi ?? config.iscsi.portal, '--iscsi');
  const api = values.api === 'off' ? undefined : { ...parseHostPort(values.api ?? config.api.listen, '--api'), required: values.api !== undefined };

  const served = values.serve === undefined ? undefined : parseServe(values.serve, config);
  const ndmp =
    values.ndmp === undefined || values.ndmp === 'off'
      ? undefined
      : {
          ...parseHostPort(values.ndmp, '--ndmp'),
          ...(values['ndmp-router'] ? { router: values['ndmp-router'] } : {}),
          auth: {
            user: values['ndmp-user'] ?? process.env.DMSIM_NDMP_USER ?? 'ndmp',
            password: values['ndmp-password'] ?? process.env.DMSIM_NDMP_PASSWORD ?? 'ndmp',
            allowNoAuth: values['ndmp-allow-no-auth'],
          },
        };
  const isns = values.isns === undefined ? undefined : parseIsnsServer(values.isns);

  const log = createLogger({ level, pretty: values['log-pretty'], name: 'dmsim' });
  // Process warnings (an LU's internal error, a leaked listener) become log records too, so stderr
  // stays one JSON object per line.
  process.removeAllListeners('warning');
  process.on('warning', (w) => log.warn({ err: w }, `process warning: ${w.message.split('\n')[0]}`));
  // Listen for the signals from the start: a SIGTERM during a slow build still shuts down cleanly.
  const stopping = waitForSignal();
  let runtime: Awaited<ReturnType<typeof buildLab>> | undefined;
  let frontEnds: Awaited<ReturnType<typeof startFrontEnds>> | undefined;
  try {
    runtime = await buildLab(config, { dataDir: values.data, log, ...(served ? { served } : {}) });
    if (!stopping.received) {
      frontEnds = await startFrontEnds(runtime, { iscsi, api, log, ...(isns ? { isns } : {}), ...(ndmp ? { ndmp } : {}) });
      log.info({ lab: config.name, dataDir: runtime.dataDir, ...frontEnds.addresses, pid: process.pid }, 'router ready');
    }
    const signal = await stopping.promise;
    log.info({ signal }, 'stopping');
  } finally {
    stopping.dispose();
    // A second signal while closing means "now": exit without waiting for media to flush.
    const force = (s: NodeJS.Signals) => {
      log.warn({ signal: s }, 'second signal: exiting without a clean shutdown');
      process.exit(1);
    };
    process.once('SIGINT', force).once('SIGTERM', force);
    try {
      await frontEnds?.close();
      await runtime?.close();
    } finally {
      process.off('SIGINT', force).off('SIGTERM', force);
    }
  }
  log.info('stopped');
  return 0;
}

/** --serve: a comma list of the lab's arrays and routers. */
function parseServe(v: string, lab: LabConfig): string[] {
  const nodes = servableNodes(lab);
  const want = v.split(',').map((x) => x.trim()).filter(Boolean);
  const bad = want.filter((n) => !nodes.includes(n));
  if (!want.length || bad.length) throw new UsageError(`--serve: ${bad.length ? `no array or router "${bad.join('", "')}" in lab ${lab.name}` : 'name at least one node'}; the lab has: ${nodes.join(', ')}`, USAGE);
  return want;
}

/** HOST[:PORT] of an iSNS server; the port defaults to 3205 (RFC 4171). */
function parseIsnsServer(v: string): { host: string; port: number } {
  return parseHostPort(/^(\[[^\]]*\]|[^:]+):\d+$/.test(v) ? v : `${v}:${ISNS_PORT}`, '--isns');
}

function waitForSignal(): { promise: Promise<NodeJS.Signals>; readonly received: boolean; dispose(): void } {
  let received = false;
  let handler: (s: NodeJS.Signals) => void = () => {};
  const promise = new Promise<NodeJS.Signals>((resolve) => {
    handler = (s) => {
      received = true;
      resolve(s);
    };
  });
  process.once('SIGINT', handler).once('SIGTERM', handler);
  // Waiting for a signal must keep the process alive even when no socket is open.
  const keepAlive = setInterval(() => {}, 2 ** 30);
  return {
    promise,
    get received() {
      return received;
    },
    dispose: () => {
      clearInterval(keepAlive);
      process.off('SIGINT', handler).off('SIGTERM', handler);
    },
  };
}
