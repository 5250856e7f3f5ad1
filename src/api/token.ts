/**
 * The management API's bearer token: the lab's `api.token`, else DMSIM_API_TOKEN, else the one
 * stored in the data directory (`api-token`, mode 0600), generated there on the first start. So a
 * token handed to scripts or pasted into a dashboard keeps working after a restart.
 */
import { randomBytes } from 'node:crypto';
import { chmod, readFile, stat } from 'node:fs/promises';
import { writeAtomic } from '../atomic-write.js';

export const TOKEN_FILE = 'api-token';
/** The lab schema's minimum for api.token; a stored token must be as strong. */
const MIN_LENGTH = 16;

export type TokenSource = 'option' | 'lab' | 'env' | 'file' | 'generated';

export interface ResolvedToken {
  token: string;
  source: TokenSource;
  /** Set for 'file' and 'generated'. */
  file?: string;
  /** Something the operator should hear about (loose permissions fixed). */
  warning?: string;
}

export async function resolveToken(opts: { option?: string; lab?: string; env?: string; file?: string }): Promise<ResolvedToken> {
  if (opts.option) return { token: opts.option, source: 'option' };
  if (opts.lab) return { token: opts.lab, source: 'lab' };
  if (opts.env) return { token: opts.env, source: 'env' };
  const token = randomBytes(18).toString('base64url');
  if (!opts.file) return { token, source: 'generated' };
  const file = opts.file;
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read the API token file ${file}: ${(e as Error).message}`);
  }
  if (text === undefined) {
    await writeAtomic(file, token + '\n', 0o600);
    return { token, source: 'generated', file };
  }
  const stored = text.trim();
  if (stored.length < MIN_LENGTH || /\s/.test(stored)) {
    throw new Error(`the API token file ${file} must hold one token of at least ${MIN_LENGTH} characters without spaces (delete it to have a new one generated)`);
  }
  // A token others can read is no secret: tighten it, and say so.
  const mode = (await stat(file)).mode & 0o777;
  if (mode & 0o077) {
    await chmod(file, 0o600);
    return { token: stored, source: 'file', file, warning: `the API token file ${file} was readable by others (mode ${mode.toString(8)}); now 0600` };
  }
  return { token: stored, source: 'file', file };
}
