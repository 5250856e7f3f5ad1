/**
 * Writing a small file so that a crash leaves the old content or the new, never a mix: a fresh
 * temporary file, fsync, rename over the target, fsync of the directory so the rename survives too.
 * The lab file, the media changer's inventory and the API token all go through here.
 */
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** Write `text` to `file` atomically and durably; a newly created file gets `mode`. */
export async function writeAtomic(file: string, text: string, mode = 0o644): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  // Created fresh ('wx'), so `mode` is what the file gets (a stale temporary file could carry another).
  await rm(tmp, { force: true });
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, file);
  const dir = await open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
