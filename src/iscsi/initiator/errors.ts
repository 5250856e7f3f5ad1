/**
 * Errors the initiator reports. Login failures carry the target's Status-Class/Status-Detail and
 * say in words what they mean, so "login failed" is never the whole story.
 */
import { LoginStatus, RejectReason } from '../pdu/constants.js';

const LOGIN_STATUS_TEXT: Record<number, string> = {
  [LoginStatus.TARGET_MOVED_TEMPORARILY]: 'target moved temporarily',
  [LoginStatus.TARGET_MOVED_PERMANENTLY]: 'target moved permanently',
  [LoginStatus.INITIATOR_ERROR]: 'initiator error (malformed request or negotiation failure)',
  [LoginStatus.AUTHENTICATION_FAILURE]: 'authentication failure (wrong CHAP name or secret)',
  [LoginStatus.AUTHORIZATION_FAILURE]: 'authorization failure (initiator not allowed to access this target)',
  [LoginStatus.NOT_FOUND]: 'target not found',
  [LoginStatus.TARGET_REMOVED]: 'target removed',
  [LoginStatus.UNSUPPORTED_VERSION]: 'unsupported iSCSI version',
  [LoginStatus.TOO_MANY_CONNECTIONS]: 'too many connections',
  [LoginStatus.MISSING_PARAMETER]: 'missing parameter (InitiatorName or TargetName)',
  [LoginStatus.CANT_INCLUDE_IN_SESSION]: 'connection cannot be included in the session',
  [LoginStatus.SESSION_TYPE_NOT_SUPPORTED]: 'session type not supported',
  [LoginStatus.SESSION_DOES_NOT_EXIST]: 'session does not exist',
  [LoginStatus.INVALID_DURING_LOGIN]: 'invalid request during login',
  [LoginStatus.TARGET_ERROR]: 'target error',
  [LoginStatus.SERVICE_UNAVAILABLE]: 'service unavailable',
  [LoginStatus.OUT_OF_RESOURCES]: 'target out of resources',
};

const CLASS_TEXT = ['success', 'redirection', 'initiator error', 'target error'];

export function describeLoginStatus(statusClass: number, statusDetail: number): string {
  const code = (statusClass << 8) | statusDetail;
  const hex = `0x${code.toString(16).padStart(4, '0')}`;
  const text = LOGIN_STATUS_TEXT[code] ?? `${CLASS_TEXT[statusClass] ?? `class ${statusClass}`}, detail ${statusDetail}`;
  return `${text} (status ${hex})`;
}

export class IscsiError extends Error {}

/** The target refused the login (non-zero Status-Class) or the login exchange broke the rules. */
export class LoginError extends IscsiError {
  constructor(
    message: string,
    readonly statusClass?: number,
    readonly statusDetail?: number,
    /** TargetAddress of a redirection, when the target sent one. */
    readonly targetAddress?: string,
  ) {
    super(message);
  }
  get isAuthenticationFailure(): boolean {
    return this.statusClass === 2 && this.statusDetail === 1;
  }
}

/** The target broke the protocol (bad tags, out-of-order data, ...); the connection is dropped. */
export class ProtocolError extends IscsiError {}

export class ConnectionClosedError extends IscsiError {
  constructor(reason = 'connection closed') {
    super(reason);
  }
}

/** A task ended by task management (ABORT TASK, LUN RESET, ...) rather than with a status. */
export class TaskAbortedError extends IscsiError {}

/** The command failed at the iSCSI layer (Response ≠ 0 "target failure"). */
export class TargetFailureError extends IscsiError {
  constructor(readonly response: number) {
    super(`target failure: iSCSI response 0x${response.toString(16)}`);
  }
}

const REJECT_TEXT: Record<number, string> = {
  [RejectReason.DATA_DIGEST_ERROR]: 'data digest error',
  [RejectReason.SNACK_REJECT]: 'SNACK reject',
  [RejectReason.PROTOCOL_ERROR]: 'protocol error',
  [RejectReason.COMMAND_NOT_SUPPORTED]: 'command not supported',
  [RejectReason.IMMEDIATE_COMMAND_REJECT]: 'immediate command rejected',
  [RejectReason.TASK_IN_PROGRESS]: 'task in progress',
  [RejectReason.INVALID_DATA_ACK]: 'invalid data ack',
  [RejectReason.INVALID_PDU_FIELD]: 'invalid PDU field',
  [RejectReason.LONG_OP_REJECT]: 'long operation reject (out of resources)',
  [RejectReason.WAITING_FOR_LOGOUT]: 'waiting for logout',
};

/** The target answered one of our PDUs with Reject. */
export class RejectError extends IscsiError {
  constructor(
    readonly reason: number,
    readonly opcode: number,
  ) {
    super(`target rejected PDU opcode 0x${opcode.toString(16)}: ${REJECT_TEXT[reason] ?? `reason 0x${reason.toString(16)}`}`);
  }
}

export class TimeoutError extends IscsiError {}
