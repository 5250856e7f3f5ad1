/** What the DATA and MOVER services of a session need from it (posts, the control socket's address). */
import type { Logger } from '../log.js';
import type { ImageConn } from './image-conn.js';
import type { Addr } from './messages.js';

/**
 * The part of the session's DATA service the MOVER looks at (DataService implements it). Declared here
 * rather than importing DataService so the modules stay acyclic: data.ts -> mover.ts -> session-context.ts (#14).
 */
export interface DataPeer {
  readonly state: number;
  readonly addr: Addr;
  /** MOVER_CONNECT LOCAL: hand the listening DATA service its end of the pipe. */
  connected(conn: ImageConn, a: Addr): void;
}

export interface SessionContext {
  readonly data: DataPeer;
  /** Local address of the control connection: TCP data connections listen there (ndmp.md §6). */
  readonly localHost: string;
  readonly logger: Logger;
  /** Send a NOTIFY/LOG/FH post (no reply) with the body of that message's request codec. */
  post(code: number, body: unknown): void;
  /** LOG_MESSAGE post. */
  log(type: number, text: string): void;
}
