/**
 * Crash safety of copy-on-write (snapshot.md §2): a child process writes to the origin through the
 * snapshot's copy-on-write path and is SIGKILLed at a random moment, again and again. After every
 * kill the side store recovers to a valid snapshot that still reads the point-in-time image byte
 * for byte, and every origin write the child saw acknowledged is on the origin.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FileStore } from '../../../firmware-sim/devices/backing/index.js';
import { CowGeometry } from '../../../firmware-sim/devices/snapshot/cow-format.js';
import { SideStore } from '../../../firmware-sim/devices/snapshot/side-store.js';
import { SnapshotView } from '../../../firmware-sim/devices/snapshot/snapshot-view.js';
import { writeOf } from './cow-sequence.js';

const child = fileURLToPath(new URL('./cow-writer-child.ts', import.meta.url));
const SIZE = 4 << 20;
let dir: string;
beforeAll(async () => void (dir = await mkdtemp(path.join(tmpdir(), 'cow-crash-'))));
afterAll(async () => rm(dir, { recursive: true, force: true }));

function runUntilKilled(args: string[], killAfterMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      const was = out;
      out += d.toString();
      if (!was.includes('writing\n') && out.includes('writing\n')) setTimeout(() => p.kill('SIGKILL'), killAfterMs);
    });
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`child ended ${code} ${signal}: ${err}`));
      if (out.includes('invalidated')) return reject(new Error('snapshot invalidated in the child'));
      resolve([...out.matchAll(/^ack (\d+)$/gm)].map((m) => Number(m[1])));
    });
  });
}

it('SIGKILL during copy-on-write, repeated: the snapshot stays exact and acknowledged origin writes stay', async () => {
  const originFile = path.join(dir, 'origin.img');
  const storeFile = path.join(dir, 'snap.cow');
  const image = randomBytes(SIZE);
  await writeFile(originFile, image);
  const header = {
    chunkBytes: 4096,
    storeSize: new CowGeometry(4096).sizeFor(SIZE / 4096),
    capacityBlocks: SIZE / 512,
    blockLength: 512,
    originNaa: Buffer.alloc(16, 1),
    snapshotNaa: Buffer.alloc(16, 2),
    snapshotId: randomUUID(),
    setId: randomUUID(),
    createdMs: Date.now(),
  };
  await (await SideStore.create(storeFile, header)).close();
  const json = JSON.stringify({ ...header, originNaa: header.originNaa.toString('hex'), snapshotNaa: header.snapshotNaa.toString('hex') });
  let totalAcks = 0;
  const runs = 8;
  for (let run = 1; run <= runs; run++) {
    const acks = await runUntilKilled([originFile, storeFile, json, String(run)], 40 + ((run * 37) % 160));
    totalAcks += acks.length;
    // The snapshot: recovered valid and byte-exact.
    const store = await SideStore.open(storeFile, header);
    expect(store.valid, `run ${run}`).toBe(true);
    const inner = await FileStore.open(originFile, { size: SIZE });
    const view = new SnapshotView(inner, store, SIZE);
    expect((await view.read(0, SIZE)).equals(image), `run ${run}: snapshot differs from the point-in-time image`).toBe(true);
    // The origin: the last acknowledged write of this run is there, unless the write in flight at the kill overlapped it.
    const origin = await readFile(originFile);
    const last = acks.at(-1);
    if (last !== undefined) {
      const w = writeOf(run, last, SIZE);
      const inflight = writeOf(run, last + 1, SIZE);
      const got = origin.subarray(w.offset, w.offset + w.data.length);
      for (let p = 0; p < w.data.length; p += 512) {
        const abs = w.offset + p;
        const overlapped = abs >= inflight.offset && abs < inflight.offset + inflight.data.length;
        if (!overlapped) expect(got.subarray(p, p + 512).equals(w.data.subarray(p, p + 512)), `run ${run}: acknowledged write ${last} lost`).toBe(true);
      }
    }
    await store.close();
    await inner.close();
  }
  // The kills came during writing, not before it.
  expect(totalAcks).toBeGreaterThan(runs);
}, 120_000);
