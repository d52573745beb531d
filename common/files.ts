import { rename, writeFile } from 'node:fs/promises';

/** Writes via a temporary name and a rename, so readers never see a half-written file. */
export async function writeAtomic(path: string, content: string | Uint8Array): Promise<void> {
  const temp = `${path}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(temp, content);
  await rename(temp, path);
}
