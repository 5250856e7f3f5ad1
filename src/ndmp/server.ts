/**
 * The NDMP v4 server of one router (ndmp.md §6): a TCP listener, one Session per control
 * connection; sessions share only device ownership (NdmpDevices). close() ends every session,
 * which aborts DATA/MOVER, closes data connections and releases the drives.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { LabRuntime } from '../../firmware-sim/lab/build.js';
import type { Logger } from '../log.js';
import { NdmpDevices } from './devices.js';
import { Session, type NdmpAuthConfig } from './session.js';

export interface NdmpServerOptions {
  runtime: LabRuntime;
  /** Router whose drives, changers and data mover view the server uses (default: the lab's first). */
  router?: string;
  host: string;
  port: number;
  auth?: Partial<NdmpAuthConfig>;
  version?: string;
  log: Logger;
}

export interface NdmpServer {
  readonly host: string;
  readonly port: number;
  readonly sessions: ReadonlySet<Session>;
  close(): Promise<void>;
}

export async function startNdmpServer(opts: NdmpServerOptions): Promise<NdmpServer> {
  const router = opts.router ?? opts.runtime.config.routers[0]?.name;
  if (!router) throw new Error('NDMP: the lab has no router');
  const devices = new NdmpDevices(opts.runtime, router);
  const auth: NdmpAuthConfig = { user: opts.auth?.user ?? 'ndmp', password: opts.auth?.password ?? 'ndmp', allowNoAuth: opts.auth?.allowNoAuth ?? false };
  const sessions = new Set<Session>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const log = opts.log.child({ ndmpPeer: `${socket.remoteAddress}:${socket.remotePort}` });
    const s = new Session(socket, { devices, auth, labName: opts.runtime.config.name, version: opts.version ?? '0.1.0', logger: log });
    sessions.add(s);
    socket.on('close', () => {
      sessions.delete(s);
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : opts.port;
  return {
    host: opts.host,
    port,
    sessions,
    async close() {
      const closed = new Promise<void>((res) => server.close(() => res()));
      for (const s of [...sessions]) await s.dispose();
      for (const so of sockets) so.destroy();
      await closed;
    },
  };
}
