import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const script = join(import.meta.dirname, '../../scripts/import-cycles.mjs');

async function check(files: Record<string, string>): Promise<{ code: number; out: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'cycles-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  try {
    const r = await run(process.execPath, [script, dir]);
    return { code: 0, out: r.stdout };
  } catch (e) {
    const err = e as { code: number; stdout: string };
    return { code: err.code, out: err.stdout };
  }
}

describe('scripts/import-cycles.mjs (issue #14)', () => {
  it('reports a cycle made of a type-only import and a multi-line export-from, exit 1', async () => {
    const r = await check({
      'a.ts': "import type { B } from './b.js';\nexport interface A { b: B }\n",
      'b.ts': "export {\n  helper,\n} from './sub/c.js';\nexport interface B { n: number }\n",
      'sub/c.ts': "import type { A } from '../a.js';\nexport const helper = (a: A) => a;\n",
      'd.ts': "import { helper } from './sub/c.js';\nexport const d = helper;\n",
    });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/cycle 1 \(3 files\):/);
    expect(r.out).toMatch(/a\.ts -> .*b\.ts/);
    expect(r.out).not.toMatch(/d\.ts ->/);
    expect(r.out).toMatch(/4 files, 1 import cycle\(s\)/);
  });

  it('exits 0 on an acyclic graph and ignores package imports and prose', async () => {
    const r = await check({
      'a.ts': "import { x } from 'node:fs';\nimport { b } from './b.js';\n// the import from './a.js' in prose is no edge\nexport const a = b + String(x);\n",
      'b.ts': "export const b = 'b';\n",
    });
    expect(r).toEqual({ code: 0, out: '2 files, 0 import cycle(s)\n' });
  });

  it('finds no cycle in src and firmware-sim', async () => {
    const r = await run(process.execPath, [script]);
    expect(r.stdout).toMatch(/, 0 import cycle\(s\)\n$/);
  });
});
