// After `tsc -p tsconfig.build.json`: the files the compiled code reads next to itself (the
// dashboard's static files and the embedded default lab), at the same relative paths as in src.
import { cpSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
for (const dir of ['src/api/public', 'fixtures/labs']) cpSync(root + dir, root + 'dist/' + dir, { recursive: true });
