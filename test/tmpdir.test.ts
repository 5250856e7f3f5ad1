import { tmpdir } from 'node:os';
import { basename } from 'node:path';
import { expect, it } from 'vitest';

it('test files see the run directory as their tmpdir, so the run removes what they leave', () => {
  expect(basename(tmpdir())).toMatch(/^dmsim-test-run-/);
});
