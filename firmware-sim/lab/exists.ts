import { access } from 'node:fs/promises';

/** Whether a path exists (anything access(2) can see: file, directory, link target). */
export async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}
