/**
 * Job progress: a redrawn bar with throughput and ETA on a terminal, plain periodic lines
 * otherwise (logs, CI, the demo test's pipe).
 *
 * The rate is measured from the first update, not from when the sink was made: a backup hashes
 * its source and checks the label before the copy starts, and counting that time made the first
 * ETA absurd. No ETA is shown until the copy has run for a second. Sizes below 1 MiB are in KiB.
 * The line for 100% is always written (the periodic lines would otherwise skip it when the copy
 * ends within a second of the last one).
 */
export interface ProgressSink {
  update(doneBytes: number, totalBytes: number): void;
  done(message: string): void;
}

const MiB = 1048576;

/** Both numbers in the unit the larger one needs: "512.0/1024.0 KiB", "3.5/64.0 MiB". */
export function formatSizes(done: number, total: number): string {
  const [div, unit] = Math.max(done, total) < MiB ? [1024, 'KiB'] : [MiB, 'MiB'];
  return `${(done / div).toFixed(1)}/${(total / div).toFixed(1)} ${unit}`;
}

export function formatRate(bytesPerSecond: number): string {
  return bytesPerSecond < MiB ? `${(bytesPerSecond / 1024).toFixed(1)} KiB/s` : `${(bytesPerSecond / MiB).toFixed(1)} MiB/s`;
}

/** Seconds until the rest is done at this rate, once there is a rate worth extrapolating. */
export function formatEta(remaining: number, bytesPerSecond: number, measuredMs: number): string {
  if (remaining <= 0) return 'ETA 0s';
  if (measuredMs < 1000 || bytesPerSecond <= 0) return 'ETA --';
  const s = Math.ceil(remaining / bytesPerSecond);
  return s >= 3600 ? `ETA ${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `ETA ${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `ETA ${s}s`;
}

export function progressSink(label: string, out: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr, quiet = false): ProgressSink {
  let first: { at: number; bytes: number } | undefined;
  let lastLine = 0;
  let last: { done: number; total: number } | undefined;
  let printedFull = false;
  const tty = !!out.isTTY;
  const line = (done: number, total: number) => {
    const now = Date.now();
    first ??= { at: now, bytes: done };
    const ms = now - first.at;
    const rate = ms > 0 ? ((done - first.bytes) * 1000) / ms : 0;
    const pct = total ? Math.min(100, (done / total) * 100) : 100;
    return { pct, text: `${formatSizes(done, total)} ${pct.toFixed(0).padStart(3)}% ${formatRate(rate)} ${formatEta(total - done, rate, ms)}` };
  };
  return {
    update(done, total) {
      if (quiet) return;
      const now = Date.now();
      const { pct, text } = line(done, total);
      last = { done, total };
      const full = done >= total;
      if (tty) {
        const width = 30;
        const fill = Math.round((pct / 100) * width);
        out.write(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${text}\x1b[K`);
      } else if (now - lastLine >= 1000 || (full && !printedFull)) {
        lastLine = now;
        out.write(`${label}: ${text}\n`);
      }
      // A chained restore runs one job per backup: each may reach 100% once.
      printedFull = full;
    },
    done(message) {
      if (quiet) return;
      // Keep the finished bar on a terminal: its last state is what the user wants to see.
      out.write(`${tty ? (last ? '\n' : '\r\x1b[K') : ''}${label}: ${message}\n`);
    },
  };
}
