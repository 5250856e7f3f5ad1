/**
 * Abort state of one task whose AbortSignal is built only when something asks for it. Building
 * an AbortSignal costs tens of microseconds on Node 20 (about as much as the rest of a 4 KiB
 * READ), yet almost no task is ever aborted and a disk READ/WRITE never looks at its signal. So
 * the transport and the router share one TaskAbort per task: aborting it sets a flag (and aborts
 * the signal if one was built); `signal` built after the abort comes out already aborted, so a
 * reader sees the same thing either way.
 */
export class TaskAbort {
  private ctrl: AbortController | undefined;
  aborted = false;
  reason: unknown;

  get signal(): AbortSignal {
    if (!this.ctrl) {
      this.ctrl = new AbortController();
      if (this.aborted) this.ctrl.abort(this.reason);
    }
    return this.ctrl.signal;
  }

  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason ?? new DOMException('This operation was aborted', 'AbortError');
    this.ctrl?.abort(this.reason);
  }

  /** Like AbortSignal.throwIfAborted, without building the signal. */
  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }
}
