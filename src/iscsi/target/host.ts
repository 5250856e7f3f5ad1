/**
 * What a connection, its task management and its Text answers need of the portal that accepted
 * it. The portal implements it; the modules below the portal depend on this, not on the portal.
 */
import type { TaskDispatcher } from '../../../firmware-sim/router/dispatch.js';
import type { Logger } from '../../log.js';
import type { BufferPool } from './buffer-pool.js';
import type { LoginContext, LoginNegotiator, TargetNode } from './login.js';
import type { TaskConnection } from './scsi-task.js';
import type { Session } from './session.js';

export interface TargetHost extends LoginContext {
  readonly log: Logger | undefined;
  readonly dispatcher: TaskDispatcher;
  readonly pool: BufferPool;
  /** Command window per session. */
  readonly depth: number;
  readonly host: string;
  readonly port: number;
  targetNodes(): TargetNode[];
  allSessions(): Session[];
  /** The session a completed login joins or creates, or undefined when it cannot. */
  establish(conn: TaskConnection, lg: LoginNegotiator): Session | undefined;
  connectionClosed(conn: TaskConnection): void;
  endSession(s: Session, why: string): void;
}
