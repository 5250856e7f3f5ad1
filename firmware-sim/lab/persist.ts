/**
 * The lab a data directory holds: changes made to a running lab (LUs and cartridges created
 * through the management API, zones, masking, write-protect tabs) are written back to
 * `<data>/lab.json`, a lab file like any other, which the next start on that data directory loads.
 *
 * The saved lab remembers which lab it grew from (`lab.json.base`: the SHA-256 of that file's
 * text). It is loaded only while that source is unchanged: a lab file edited since (or another
 * `--lab`) wins, and the saved one is moved aside with a warning rather than silently mixed in.
 * Every write is a temporary file, fsync, rename, fsync of the directory: a crash leaves the old
 * file or the new one, never half of one.
 */
import { createHash } from 'node:crypto';
import { readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { writeAtomic } from '../../src/atomic-write.js';
import type { LabConfig } from './config.js';
import { defaultLabPath, parseLabText } from './load.js';
import { LabError } from './schema.js';

export const SAVED_LAB = 'lab.json';
const BASE = `${SAVED_LAB}.base`;

export interface DataDirLab {
  config: LabConfig;
  /** Where the lab came from: the saved file or the source lab file. */
  from: string;
  /** What the operator should know about the choice (a saved lab set aside), one sentence each. */
  notes: string[];
  /** Writes a changed lab back to the data directory; call flush() before exiting. */
  saver: LabSaver;
}

/**
 * The lab to build for `dataDir`: its saved lab when that grew from the same `labFile` (default:
 * the embedded default lab) as it reads now, else `labFile`.
 */
export async function loadDataDirLab(dataDir: string, labFile: string = defaultLabPath): Promise<DataDirLab> {
  let text: string;
  try {
    text = await readFile(labFile, 'utf8');
  } catch (e) {
    throw new LabError([{ path: '$', message: `cannot read: ${(e as Error).message}` }], labFile);
  }
  const base = createHash('sha256').update(text).digest('hex');
  const savedPath = path.join(path.resolve(dataDir), SAVED_LAB);
  const saver = new LabSaver(savedPath, base);
  const notes: string[] = [];
  const saved = await readIfThere(savedPath);
  if (saved !== undefined) {
    const savedBase = (await readIfThere(path.join(path.dirname(savedPath), BASE)))?.trim();
    if (savedBase === base) return { config: parseLabText(saved, savedPath), from: savedPath, notes, saver };
    const aside = `${savedPath}.${new Date().toISOString().replace(/[:.]/g, '-')}.old`;
    await rename(savedPath, aside);
    notes.push(`${savedPath} (changes made through the API) grew from another version of the lab than ${labFile}; starting from ${labFile}, the saved lab is kept as ${aside}`);
  }
  return { config: parseLabText(text, labFile), from: labFile, notes, saver };
}

/** Serialized, crash-safe writer of a data directory's lab.json (newest state wins; no write is torn). */
export class LabSaver {
  private chain: Promise<void> = Promise.resolve();
  private pending: LabConfig | undefined;
  private baseWritten = false;
  /** Told of a write that failed (the caller logs it; the next change tries again). */
  onError: (e: Error) => void = () => {};

  constructor(
    readonly file: string,
    private readonly base: string,
  ) {}

  /** Queue `config` to be written; writes coalesce, so a burst of changes costs one or two writes. */
  save(config: LabConfig): void {
    const idle = this.pending === undefined;
    this.pending = config;
    if (!idle) return;
    this.chain = this.chain.then(async () => {
      const c = this.pending!;
      this.pending = undefined;
      try {
        // The lab first, then what it grew from: a crash in between makes the next start set the
        // new lab aside (kept, with a warning) instead of loading it on top of the wrong source.
        await writeAtomic(this.file, JSON.stringify(c, null, 2) + '\n');
        if (!this.baseWritten) {
          await writeAtomic(path.join(path.dirname(this.file), BASE), this.base + '\n');
          this.baseWritten = true;
        }
      } catch (e) {
        this.onError(e as Error);
      }
    });
  }

  /** Wait until every queued state is on disk. */
  async flush(): Promise<void> {
    while (this.pending !== undefined) await this.chain;
    await this.chain;
  }
}

async function readIfThere(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
