import { readdir, rm, stat } from 'node:fs/promises';
import { extname, join } from 'node:path/posix';
import type { ResultFile } from './job-record.js';

/** Media types of result files by extension, as the writers report them. */
export const RESULT_MEDIA_TYPES: Readonly<Record<string, string>> = {
  '.tif': 'image/tiff; application=geotiff; profile=cloud-optimized',
  '.nc': 'application/netcdf',
  '.zip': 'application/zip',
  '.json': 'application/json',
  '.png': 'image/png',
};

/** Folder of a run's results, relative to DATA_DIR: each start writes to its own. */
export function resultsDir(jobId: string, run: number): string {
  return join('jobs', jobId, 'results', `r${run}`);
}

/**
 * The files of a run written so far, for partial results of a running job. Writers publish a
 * file by renaming it from a hidden temporary name, so every visible file is complete; there
 * are no band statistics yet (the writer's report comes with the job's end).
 */
export async function writtenFiles(dataDir: string, jobId: string, run: number): Promise<ResultFile[]> {
  const dir = resultsDir(jobId, run);
  let names: string[];
  try {
    names = await readdir(join(dataDir, dir));
  } catch {
    return [];
  }
  const files: ResultFile[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue;
    try {
      const info = await stat(join(dataDir, dir, name));
      if (!info.isFile()) continue;
      files.push({ name, path: join(dir, name), bytes: info.size, type: RESULT_MEDIA_TYPES[extname(name)] ?? 'application/octet-stream' });
    } catch {
      // Gone between listing and stat (a restart discarded the results): not a result.
    }
  }
  return files;
}

/**
 * Removes what writers keep hidden in a run's folder while they work (a file's tile parts, a
 * temporary file of a writer whose worker was lost) once the run is over: nothing will publish
 * them any more, and tile parts take as much room as the files themselves.
 */
export async function removeUnpublished(dataDir: string, jobId: string, run: number): Promise<void> {
  const dir = join(dataDir, resultsDir(jobId, run));
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  await Promise.all(names.filter((name) => name.startsWith('.')).map((name) => rm(join(dir, name), { recursive: true, force: true })));
}
