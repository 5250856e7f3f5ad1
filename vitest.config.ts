import { defineConfig } from 'vitest/config';

// Two cores on CI: keep forks at 2 so socket- and child-process-heavy suites do not starve each other.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-tmp.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
