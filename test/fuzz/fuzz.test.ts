/**
 * Bounded CI run of the fuzz families (`npm run fuzz` runs the same at scale). Fixed seed, so a
 * failure reproduces; fast-check prints the shrunk input and the path to replay it.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { cdbFamily, FAMILIES, iscsiFamily, labFamily, xcopyFamily, type Family } from './families.js';

const SEED = 7;

async function run<C, I>(f: Family<C, I>, numRuns: number): Promise<void> {
  const ctx = await f.setup();
  try {
    await fc.assert(
      fc.asyncProperty(f.arbitrary(ctx), (input) => f.check(ctx, input)),
      { numRuns, seed: SEED },
    );
  } finally {
    await f.teardown(ctx);
  }
}

describe('fuzz (bounded)', () => {
  it('covers every family the driver runs', () => {
    if (FAMILIES.length !== 4) throw new Error('a family was added: give it a bounded run here');
  });
  it('CDBs of every opcode of every LU type get a SCSI answer (never 4/44/00, never a hang)', () => run(cdbFamily, 4000), 60_000);
  it('EXTENDED COPY parameter lists: a SCSI answer, and refused lists move no data', () => run(xcopyFamily, 2000), 60_000);
  it('iSCSI PDUs of every opcode, lying lengths, bad digests, out-of-window CmdSN: the target keeps serving', () => run(iscsiFamily, 100), 60_000);
  it('mutated lab files: a LabConfig or a LabError with paths', () => run(labFamily, 2000), 30_000);
});
