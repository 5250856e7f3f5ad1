/**
 * Job progress: a redrawn bar with throughput and ETA on a terminal, plain periodic lines
 * otherwise (logs, CI, the demo test's pipe).
 */
export interface ProgressSink {
  update(doneBytes: number, totalBytes: number): void;
  done(message: string): void;
}

const mib = (n: number) => (n / 1048576).toFixed(1);

export function progressSink(label: string, out: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr, quiet = false): ProgressSink {
  const start = Date.now();
  let lastLine = 0;
  const tty = !!out.isTTY;
  const line = (done: number, total: number) => {
    const secs = Math.max((Date.now() - start) / 1000, 1e-3);
    const rate = done / secs;
    const eta = rate > 0 ? Math.max(0, (total - done) / rate) : 0;
    const pct = total ? Math.min(100, (done / total) * 100) : 100;
    return { pct, text: `${mib(done)}/${mib(total)} MiB ${pct.toFixed(0).padStart(3)}% ${mib(rate)} MiB/s ETA ${eta.toFixed(0)}s` };
  };
  return {
    update(done, total) {
      if (quiet) return;
      const now = Date.now();
      const { pct, text } = line(done, total);
      if (tty) {
        const width = 30;
        const fill = Math.round((pct / 100) * width);
        out.write(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${text}\x1b[K`);
      } else if (now - lastLine >= 1000) {
        lastLine = now;
        out.write(`${label}: ${text}\n`);
      }
    },
    done(message) {
      if (quiet) return;
      out.write(`${tty ? '\r\x1b[K' : ''}${label}: ${message}\n`);
    },
  };
}
