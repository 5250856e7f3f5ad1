import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, formatPretty, isLogLevel } from '../../src/log.js';

function capture() {
  const out = new PassThrough();
  const lines: string[] = [];
  let buf = '';
  out.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  return { out, lines };
}

describe('logger factory', () => {
  it('writes one JSON object per line with child bindings (ids) and honours the level', async () => {
    const { out, lines } = capture();
    const log = createLogger({ level: 'info', destination: out, name: 'dmsim' });
    log.debug('hidden');
    log.child({ session: 7 }).child({ task: 42 }).info({ lun: 1 }, 'command done');
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(rec).toMatchObject({ level: 30, name: 'dmsim', session: 7, task: 42, lun: 1, msg: 'command done' });
    expect(typeof rec.time).toBe('string');
  });

  it('pretty output only when asked: time, level, message, fields', async () => {
    const { out, lines } = capture();
    const log = createLogger({ level: 'debug', destination: out, pretty: true });
    log.child({ part: 'vault' }).warn({ barcode: 'DM0001L3', n: 2 }, 'cartridge loaded');
    await new Promise((r) => setImmediate(r));
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}cartridge loaded part=vault barcode=DM0001L3 n=2$/);
    expect(formatPretty('not json')).toBe('not json');
  });

  it('knows its levels', () => {
    expect(isLogLevel('trace')).toBe(true);
    expect(isLogLevel('silent')).toBe(true);
    expect(isLogLevel('loud')).toBe(false);
  });
});
