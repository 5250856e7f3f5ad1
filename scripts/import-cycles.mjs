#!/usr/bin/env node
// Finds import cycles among the TypeScript sources (issue #14): every strongly
// connected component of the module graph with more than one file is a cycle.
// Type-only imports count too: they still tie the modules' designs together.
// No dependency on the TypeScript compiler: a static `import`/`export ... from`
// regex is enough for this code base's style (one specifier per statement).
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join, dirname, resolve, relative } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dirs = process.argv.length > 2 ? process.argv.slice(2) : ['src', 'firmware-sim'];

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

// Statement-start anchored so a word "import" in prose does not match; the body
// may span lines (multi-line braces) but never a quote or semicolon.
const STATIC = /^\s*(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]/gm;
const BARE = /^\s*import\s*['"]([^'"]+)['"]/gm;

function resolveSpec(from, spec) {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(dirname(from), spec);
  const candidates = [base.replace(/\.js$/, '.ts'), base + '.ts', join(base, 'index.ts'), base];
  return candidates.find((c) => c.endsWith('.ts') && existsSync(c));
}

const files = dirs.flatMap((d) => (existsSync(resolve(root, d)) ? walk(resolve(root, d), []) : []));
const known = new Set(files);
const edges = new Map();
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const to = new Set();
  for (const re of [STATIC, BARE]) {
    for (const m of text.matchAll(re)) {
      const target = resolveSpec(f, m[1]);
      if (target && known.has(target) && target !== f) to.add(target);
    }
  }
  edges.set(f, [...to].sort());
}

// Tarjan's SCC algorithm, iterative so deep chains cannot overflow the stack.
let counter = 0;
const index = new Map();
const low = new Map();
const onStack = new Set();
const stack = [];
const sccs = [];
for (const start of files) {
  if (index.has(start)) continue;
  const work = [[start, 0]];
  index.set(start, counter); low.set(start, counter); counter++;
  stack.push(start); onStack.add(start);
  while (work.length > 0) {
    const frame = work[work.length - 1];
    const [v, i] = frame;
    const succ = edges.get(v);
    if (i < succ.length) {
      frame[1]++;
      const w = succ[i];
      if (!index.has(w)) {
        index.set(w, counter); low.set(w, counter); counter++;
        stack.push(w); onStack.add(w);
        work.push([w, 0]);
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), index.get(w)));
      }
      continue;
    }
    work.pop();
    if (work.length > 0) {
      const parent = work[work.length - 1][0];
      low.set(parent, Math.min(low.get(parent), low.get(v)));
    }
    if (low.get(v) === index.get(v)) {
      const comp = [];
      let w;
      do { w = stack.pop(); onStack.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1) sccs.push(comp.sort());
    }
  }
}

const rel = (p) => relative(root, p);
sccs.sort((a, b) => a.length - b.length || rel(a[0]).localeCompare(rel(b[0])));
for (const [n, comp] of sccs.entries()) {
  const members = new Set(comp);
  process.stdout.write(`cycle ${n + 1} (${comp.length} files):\n`);
  for (const f of comp) {
    const inside = edges.get(f).filter((t) => members.has(t)).map(rel);
    process.stdout.write(`  ${rel(f)} -> ${inside.join(', ')}\n`);
  }
}
process.stdout.write(`${files.length} files, ${sccs.length} import cycle(s)\n`);
process.exit(sccs.length > 0 ? 1 : 0);
