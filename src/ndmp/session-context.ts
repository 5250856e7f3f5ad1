/** What the DATA and MOVER services of a session need from it (posts, the control socket's address). */
import type { Logger } from '../log.js';
import type { DataService } from './data.js';

export interface SessionContext {
  readonly data: DataService;
  /** Local address of the control connection: TCP data connections listen there (ndmp.md §6). */
  readonly localHost: string;
  readonly logger: Logger;
  /** Send a NOTIFY/LOG/FH post (no reply) with the body of that message's request codec. */
  post(code: number, body: unknown): void;
  /** LOG_MESSAGE post. */
  log(type: number, text: string): void;
}
