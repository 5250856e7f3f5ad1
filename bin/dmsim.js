#!/usr/bin/env node
// The installed `dmsim`: runs the JavaScript compiled at install time (npm's `prepare` runs
// `npm run build`, tsc into dist/) in this same process, so it works from any directory, starts
// without a TypeScript loader and receives signals itself (no child left running under init).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('dmsim: the compiled CLI (dist/) is missing; run `npm run build` (or `npm install`) in the dmsim checkout\n');
  process.exit(1);
}
const { runAsProcess } = await import(entry.href);
await runAsProcess(process.argv.slice(2));
