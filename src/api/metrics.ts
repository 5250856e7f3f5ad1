/**
 * Prometheus text exposition (format 0.0.4) for the lab: fed by the fabric's task tap, so every
 * command from every front end (iSCSI, in-process ports, the copy manager's own port) is counted
 * where it is dispatched, once.
 */
import type { Fabric } from '../../firmware-sim/fabric/fabric.js';
import type { ITNexus, ScsiTask, ScsiResult } from '../../firmware-sim/router/task.js';
import { hexByte } from '../scsi/sense.js';

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Opcodes that move medium data (disk READ/WRITE families, tape READ(6)/WRITE(6)), for byte counts. */
const READS = new Set([0x08, 0x28, 0xa8, 0x88]);
const WRITES = new Set([0x0a, 0x2a, 0xaa, 0x8a, 0x2e, 0xae, 0x8e]);

type Labels = Record<string, string>;
const EMPTY: Labels = {};
const hex2 = (n: number) => `0x${hexByte(n)}`;

class Family {
  readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
  ) {}
  /** `key` identifies the label set; callers on the hot path pass a cheap one they build themselves. */
  add(labels: Labels, v = 1, key = JSON.stringify(labels)): void {
    const e = this.values.get(key);
    if (e) e.value += v;
    else this.values.set(key, { labels, value: v });
  }
  set(labels: Labels, v: number): void {
    this.values.set(JSON.stringify(labels), { labels, value: v });
  }
}

class Histogram {
  readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {}
  /** Counts are kept per bucket (not cumulative) so an observation touches one slot; render sums them. */
  observe(labels: Labels, v: number, key = JSON.stringify(labels)): void {
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    let i = 0;
    while (i < this.buckets.length && v > this.buckets[i]!) i++;
    if (i < this.buckets.length) s.counts[i]!++;
    s.sum += v;
    s.count++;
  }
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const fmtLabels = (l: Labels) => {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};

export class LabMetrics {
  readonly commands = new Family('dmsim_scsi_commands_total', 'SCSI commands completed, by target LU, opcode and status', 'counter');
  readonly bytes = new Family('dmsim_lu_bytes_total', 'Medium bytes read or written per LU (GOOD commands)', 'counter');
  readonly latency = new Histogram('dmsim_scsi_command_seconds', 'SCSI command latency by opcode', LATENCY_BUCKETS);
  readonly gauges = new Map<string, Family>();
  private readonly off: () => void;

  constructor(
    fabric: Fabric,
    private readonly luName: (nexus: ITNexus, lun: number) => string,
  ) {
    this.off = fabric.onTask((t, r, ns) => this.record(t, r, ns));
  }

  close(): void {
    this.off();
  }

  private record(task: ScsiTask, r: ScsiResult, ns: number): void {
    const op = task.cdb[0] ?? 0;
    const lu = this.luName(task.nexus, task.lun);
    const k = `${lu}|${op}|${r.status}`;
    if (this.commands.values.has(k)) this.commands.add(EMPTY, 1, k);
    else this.commands.add({ lu, opcode: hex2(op), status: hex2(r.status) }, 1, k);
    const hk = `${op}`;
    this.latency.observe(this.latency.series.has(hk) ? EMPTY : { opcode: hex2(op) }, ns / 1e9, hk);
    if (r.status !== 0) return;
    if (READS.has(op)) this.bytes.add({ lu, direction: 'read' }, r.dataIn?.length ?? 0, `${lu}|r`);
    else if (WRITES.has(op)) this.bytes.add({ lu, direction: 'write' }, task.dataOut?.length ?? 0, `${lu}|w`);
  }

  gauge(name: string, help: string): Family {
    let g = this.gauges.get(name);
    if (!g) this.gauges.set(name, (g = new Family(name, help, 'gauge')));
    return g;
  }

  /** Render the exposition text (callers set point-in-time gauges first). */
  render(): string {
    const out: string[] = [];
    for (const f of [this.commands, this.bytes, ...this.gauges.values()]) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      for (const { labels, value } of f.values.values()) out.push(`${f.name}${fmtLabels(labels)} ${value}`);
    }
    const h = this.latency;
    out.push(`# HELP ${h.name} ${h.help}`, `# TYPE ${h.name} histogram`);
    for (const s of h.series.values()) {
      let cum = 0;
      h.buckets.forEach((b, i) => {
        cum += s.counts[i]!;
        out.push(`${h.name}_bucket${fmtLabels({ ...s.labels, le: String(b) })} ${cum}`);
      });
      out.push(`${h.name}_bucket${fmtLabels({ ...s.labels, le: '+Inf' })} ${s.count}`);
      out.push(`${h.name}_sum${fmtLabels(s.labels)} ${s.sum}`, `${h.name}_count${fmtLabels(s.labels)} ${s.count}`);
    }
    return out.join('\n') + '\n';
  }
}
