import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog, type CollectionRecord } from './catalog.js';
import { SAMPLE_MANIFEST_SUFFIX, SAMPLE_OISST_COLLECTION, SAMPLE_OISST_FOLDER, SAMPLE_S2_COLLECTION, SAMPLE_S2_FOLDER, SAMPLES_DIR } from './sample-data.js';

/**
 * Real data replaces a generated sample: the sample's items are not merged with real ones, and
 * once the catalog names the real data the sample's files are removed. The manifest goes first,
 * so that an interrupted removal leaves the remains marked as a broken sample, never as intact.
 */

const SAMPLE_FOLDERS: Readonly<Record<string, string>> = {
  [SAMPLE_S2_COLLECTION]: SAMPLE_S2_FOLDER,
  [SAMPLE_OISST_COLLECTION]: SAMPLE_OISST_FOLDER,
};

/** Whether the collection record is generated sample data (which a real ingest replaces). */
export function holdsSample(record: CollectionRecord | undefined): boolean {
  return record !== undefined && Catalog.isSample(record);
}

/** Removes the files of a collection's sample; returns the folder removed, if any. */
export async function removeSampleFiles(dataDir: string, collectionId: string): Promise<string | null> {
  const folder = SAMPLE_FOLDERS[collectionId];
  if (!folder) return null;
  const path = join(dataDir, SAMPLES_DIR, folder);
  await rm(`${path}${SAMPLE_MANIFEST_SUFFIX}`, { force: true });
  await rm(path, { recursive: true, force: true });
  return path;
}
