/**
 * Reading a lab file from disk: JSON syntax errors and schema problems both come back as a
 * LabError, so the CLI has one kind of failure to print.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { LabConfig } from './config.js';
import { LabError, validateLab } from './schema.js';

/** fixtures/labs/default.json, the lab `dmsim router` and `npm start` use when given none. */
export const defaultLabPath = fileURLToPath(new URL('../../fixtures/labs/default.json', import.meta.url));

export async function loadLabFile(file: string = defaultLabPath): Promise<LabConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new LabError([{ path: '$', message: `cannot read: ${(e as Error).message}` }], file);
  }
  return parseLabText(text, file);
}

export function parseLabText(text: string, source = 'lab'): LabConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new LabError([{ path: '$', message: `not valid JSON: ${(e as Error).message}${lineOf(text, e as Error)}` }], source);
  }
  return validateLab(json, source);
}

/** Node reports JSON syntax errors by character offset; a line number is what a person looks for. */
function lineOf(text: string, e: Error): string {
  const m = /position (\d+)/.exec(e.message);
  if (!m) return '';
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - before.lastIndexOf('\n');
  return ` (line ${line}, column ${col})`;
}

export function loadDefaultLab(): Promise<LabConfig> {
  return loadLabFile(defaultLabPath);
}
