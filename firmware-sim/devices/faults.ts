/**
 * Fault injection plan of one LU, set through the management API (and by tests): medium errors on
 * an LBA range, a not-ready window, added latency, a throughput cap. Devices consult it on the data
 * path; with nothing armed every check is a field test and no await, so the fast path stays fast.
 * Device modules may extend this plan additively (the tape drive adds early warning / EOM hooks).
 */
import { Sense, SenseKey, ScsiError } from '../../src/scsi/sense.js';

export type FaultDirection = 'read' | 'write' | 'both';

export interface MediumErrorFault {
  firstLba: number;
  count: number;
  on: FaultDirection;
  /** Sticky by default; `once` faults disarm after the first hit (a transient error). */
  once?: boolean;
}

export interface FaultPlanView {
  mediumErrors: MediumErrorFault[];
  /** Epoch ms until which the LU reports NOT READY (becoming ready); 0 = ready. */
  notReadyUntil: number;
  latencyMs: number;
  /** Bytes per second; 0 = unlimited. */
  throughputBytesPerSec: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export class FaultPlan {
  private mediumErrors: MediumErrorFault[] = [];
  private notReadyUntil = 0;
  private latencyMs = 0;
  private bps = 0;
  /** Time (ms, performance clock) at which the throughput cap lets the next transfer start. */
  private pipeFreeAt = 0;
  /** True when anything is armed; the data path checks only this when idle. */
  armed = false;

  private rearm(): void {
    this.armed = this.mediumErrors.length > 0 || this.notReadyUntil > 0 || this.latencyMs > 0 || this.bps > 0;
  }

  addMediumError(f: MediumErrorFault): void {
    if (!Number.isSafeInteger(f.firstLba) || f.firstLba < 0 || !Number.isSafeInteger(f.count) || f.count <= 0) {
      throw new RangeError('medium error range must be a non-negative LBA and a positive count');
    }
    this.mediumErrors.push({ ...f });
    this.rearm();
  }

  /** NOT READY, LOGICAL UNIT IS IN PROCESS OF BECOMING READY for the next `ms` milliseconds. */
  notReadyFor(ms: number): void {
    this.notReadyUntil = ms > 0 ? Date.now() + ms : 0;
    this.rearm();
  }

  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
    this.rearm();
  }

  setThroughput(bytesPerSec: number): void {
    this.bps = Math.max(0, bytesPerSec);
    this.pipeFreeAt = 0;
    this.rearm();
  }

  clear(): void {
    this.mediumErrors = [];
    this.notReadyUntil = 0;
    this.latencyMs = 0;
    this.bps = 0;
    this.rearm();
  }

  view(): FaultPlanView {
    return {
      mediumErrors: this.mediumErrors.map((f) => ({ ...f })),
      notReadyUntil: this.notReadyUntil,
      latencyMs: this.latencyMs,
      throughputBytesPerSec: this.bps,
    };
  }

  /** Throws NOT READY 04/01 inside the not-ready window. */
  checkReady(): void {
    if (!this.notReadyUntil) return;
    if (Date.now() < this.notReadyUntil) throw Sense.becomingReady();
    this.notReadyUntil = 0;
    this.rearm();
  }

  /** First faulty LBA in [lba, lba+count) for this direction, or undefined. Disarms `once` faults hit. */
  mediumErrorIn(dir: 'read' | 'write', lba: number, count: number): number | undefined {
    let first: number | undefined;
    for (let i = 0; i < this.mediumErrors.length; i++) {
      const f = this.mediumErrors[i]!;
      if (f.on !== 'both' && f.on !== dir) continue;
      const lo = Math.max(lba, f.firstLba);
      const hi = Math.min(lba + count, f.firstLba + f.count);
      if (lo >= hi) continue;
      if (first === undefined || lo < first) first = lo;
      if (f.once) {
        this.mediumErrors.splice(i--, 1);
        this.rearm();
      }
    }
    return first;
  }

  /** MEDIUM ERROR sense for a faulty LBA: UNRECOVERED READ ERROR or WRITE ERROR, INFORMATION = LBA. */
  static mediumError(dir: 'read' | 'write', lba: number): ScsiError {
    return dir === 'read' ? Sense.unrecoveredReadError(lba) : Sense.writeError(lba);
  }

  /** Wait out the added latency and the throughput cap for a transfer of `bytes`. */
  async pace(bytes: number, signal?: AbortSignal): Promise<void> {
    let wait = this.latencyMs;
    if (this.bps > 0 && bytes > 0) {
      const now = performance.now();
      const start = Math.max(now, this.pipeFreeAt);
      this.pipeFreeAt = start + (bytes * 1000) / this.bps;
      wait += this.pipeFreeAt - now;
    }
    if (wait > 0) await sleep(wait, signal);
  }
}

export const isMediumError = (e: unknown): boolean => e instanceof ScsiError && e.sense.key === SenseKey.MEDIUM_ERROR;
