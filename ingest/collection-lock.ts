import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { COLLECTIONS_DIR } from './catalog.js';
import { IngestError, storageError } from './ingest-error.js';

/**
 * One ingest at a time per collection: two would each read the collection, add their items and
 * write it back, and the later write would drop the earlier one's items (or two appends would
 * interleave in one Zarr cube). The lock is a file holding the owner's pid, created exclusively;
 * a lock whose process is gone is taken over.
 */

/** Suffix of a collection's lock file beside its folder: `<id>.ingest.lock`. */
export const LOCK_SUFFIX = '.ingest.lock';

export async function withCollectionLock<T>(dataDir: string, collectionId: string, action: () => Promise<T>): Promise<T> {
  const dir = join(dataDir, COLLECTIONS_DIR);
  const path = join(dir, `${collectionId}${LOCK_SUFFIX}`);
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw storageError(`creating ${dir}`, error);
  }
  await acquire(path, collectionId);
  try {
    return await action();
  } finally {
    await rm(path, { force: true });
  }
}

async function acquire(path: string, collectionId: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw storageError(`creating ${path}`, error);
    }
    const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) {
      throw new IngestError('usage', `another ingest into ${collectionId} is running (process ${owner}); wait for it to finish`);
    }
    // The owner is gone (or the file is empty from a crash right after creating it): take over.
    await rm(path, { force: true });
  }
  throw new IngestError('usage', `cannot take the ingest lock ${path}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}
