import { readFileSync } from 'node:fs';

/** Golden vectors from fixtures/vectors/<file>.json; hex may contain spaces for readability. */
export function loadVectors<T extends { hex: string }>(file: string): { get(name: string): T; hex(name: string): Buffer } {
  const all = JSON.parse(readFileSync(new URL(`../../fixtures/vectors/${file}`, import.meta.url), 'utf8')) as Record<string, T>;
  const get = (name: string): T => {
    const v = all[name];
    if (!v) throw new Error(`no vector ${name} in ${file}`);
    return v;
  };
  return { get, hex: (name) => Buffer.from(get(name).hex.replace(/\s+/g, ''), 'hex') };
}
