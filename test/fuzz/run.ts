/**
 * `npm run fuzz -- --runs N [--seed S] [--family cdb,xcopy,iscsi,lab] [--share cdb=0.6,...]`
 * Seeded and reproducible: a failure prints the seed and the fast-check path to replay it
 * (`--seed S --path P --family F`). N is the total across families, split by --share.
 */
import fc from 'fast-check';
import { FAMILIES } from './families.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const DEFAULT_SHARE: Record<string, number> = { cdb: 0.6, xcopy: 0.3, iscsi: 0.04, lab: 0.06 };

async function main(): Promise<number> {
  const total = Number(arg('runs') ?? 10_000);
  const seed = Number(arg('seed') ?? Date.now() % 2 ** 31);
  const replayPath = arg('path');
  const only = arg('family')?.split(',');
  const share = { ...DEFAULT_SHARE };
  for (const kv of arg('share')?.split(',') ?? []) {
    const [k, v] = kv.split('=');
    if (k && v) share[k] = Number(v);
  }
  const families = FAMILIES.filter((f) => !only || only.includes(f.name));
  const weight = families.reduce((a, f) => a + (share[f.name] ?? 0.1), 0);
  const unhandled: unknown[] = [];
  process.on('unhandledRejection', (e) => unhandled.push(e));
  process.on('uncaughtException', (e) => unhandled.push(e));
  console.log(JSON.stringify({ msg: 'fuzz start', seed, total, families: families.map((f) => f.name) }));
  const counts: Record<string, number> = {};
  let failed = false;
  for (const f of families) {
    const runs = Math.max(1, Math.round((total * (share[f.name] ?? 0.1)) / weight));
    const ctx: unknown = await f.setup();
    let tried = 0;
    const started = Date.now();
    const progress = setInterval(() => console.log(JSON.stringify({ msg: 'fuzz progress', family: f.name, tried, of: runs, perSec: Math.round((tried * 1000) / (Date.now() - started)) })), 30_000);
    progress.unref();
    const res = await fc.check(
      fc.asyncProperty(f.arbitrary(ctx), async (input: unknown) => {
        tried++;
        await f.check(ctx, input);
        if (unhandled.length) throw new Error(`unhandled rejection/exception: ${String(unhandled.splice(0)[0])}`);
      }),
      { numRuns: runs, seed, ...(replayPath ? { path: replayPath } : {}), endOnFailure: true },
    );
    clearInterval(progress);
    counts[f.name] = tried;
    const secs = (Date.now() - started) / 1000;
    console.log(JSON.stringify({ msg: 'fuzz family done', family: f.name, tried, seconds: secs, failed: res.failed, outcomes: f.stats?.(ctx) }));
    if (res.failed) {
      failed = true;
      console.log(fc.defaultReportMessage(res));
      console.log(`replay: npm run fuzz -- --family ${f.name} --seed ${seed} --path ${res.counterexamplePath ?? ''} --runs 1`);
    }
    await f.teardown(ctx);
  }
  const sum = Object.values(counts).reduce((a, b) => a + b, 0);
  console.log(JSON.stringify({ msg: 'fuzz done', seed, perFamily: counts, total: sum, failed }));
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(2);
  },
);
