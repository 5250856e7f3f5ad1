/**
 * `dmsim inspect` as a process on SIMH images written here byte by byte: --json, exit 1 on a
 * damaged image and on a tape file that does not exist, a missing image as a sentence, and a
 * reader that goes away early (`| head`) ending it quietly.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from './cli-process.js';

/** SIMH: a record is LE length, data, padding to even, LE length; a filemark is a zero word. */
function tap(files: Buffer[][]): Buffer {
  const parts: Buffer[] = [];
  const word = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  for (const f of files) {
    for (const r of f) parts.push(word(r.length), r, Buffer.alloc(r.length & 1), word(r.length));
    parts.push(word(0));
  }
  return Buffer.concat(parts);
}

describe('dmsim inspect', () => {
  let dir: string;
  let good: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dmsim-inspect-'));
    good = path.join(dir, 'good.tap');
    await writeFile(good, tap([[Buffer.from('hello')], [Buffer.alloc(100, 1), Buffer.alloc(100, 2)]]));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--json is one document; a clean image exits 0, a file number past the end exits 1', async () => {
    const r = await runCli(['inspect', good, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { ok: boolean; records: number; filemarks: number; files: Array<{ file: number; records: number; content: { what: string } }> };
    expect(doc).toMatchObject({ ok: true, records: 3, filemarks: 2 });
    expect(doc.files.map((f) => [f.file, f.records, f.content.what])).toEqual([
      [0, 1, 'data (1 records)'],
      [1, 2, 'data (2 records)'],
    ]);
    const missingFile = await runCli(['inspect', good, '--file', '7', '--raw']);
    expect(missingFile.code).toBe(1);
    expect(missingFile.stdout).toBe('');
    expect(missingFile.stderr).toMatch(/has no tape file 7: it holds files 0\.\.1/);
  });

  it('a damaged image exits 1 and says where it stops; a missing image is a sentence', async () => {
    const bytes = tap([[Buffer.alloc(64, 7)], [Buffer.alloc(64, 8)]]);
    bytes.writeUInt32LE(0x41, 4 + 64); // first record's trailer no longer matches its header
    const bad = path.join(dir, 'bad.tap');
    await writeFile(bad, bytes);
    const r = await runCli(['inspect', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.tap is damaged: record at 0: trailer 0x41 does not match header 0x40/);
    const j = await runCli(['inspect', bad, '--json']);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, end: 0 });

    const none = await runCli(['inspect', path.join(dir, 'nope.tap')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(`dmsim inspect: no tape image at ${path.join(dir, 'nope.tap')}\n`);
  });

  it('exits quietly when its reader closes the pipe (inspect | head)', async () => {
    const big = path.join(dir, 'big.tap');
    await writeFile(big, tap([Array.from({ length: 20_000 }, () => Buffer.from('x'))]));
    const child = spawnCli(['inspect', big, '--max', '100000']);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    // Like head -1: read the first chunk, then close our end.
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    child.stdout!.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
