import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isTaskError } from '../common/errors.js';
import { silentProgress, type ProgressReporter } from './download/progress.js';
import { IngestError } from './ingest-error.js';
import { ingestOisstFiles, type OisstIngestResult } from './ingest-oisst.js';
import { ingestSentinel2, type Sentinel2IngestOptions, type Sentinel2IngestResult } from './ingest-sentinel2.js';
import { inspectOisstFile } from './netcdf-oisst.js';
import { parseOisstFileName } from './oisst-sources.js';

/**
 * Data already on disk: a static STAC catalog or collection of COGs (its JSON file, or a folder
 * holding catalog.json or collection.json) goes into SENTINEL2_L2A with every item it links,
 * registered where the files are (or copied into DATA_DIR with `download`); a folder of OISST
 * NetCDF files (PSL yearly or NCEI daily, in subfolders too, as NCEI's YYYYMM/ ones) goes into
 * the OISST cube in the order of their days. The files themselves are left in place.
 */

/** STAC documents looked for in a folder, in this order. */
export const STAC_ROOT_FILES = ['catalog.json', 'collection.json'] as const;

/** Folder levels searched for NetCDF files: 3, enough for NCEI's YYYYMM/ and a folder per year above it. */
export const NETCDF_SEARCH_DEPTH = 3;

export type LocalIngestResult = { kind: 'sentinel2'; result: Sentinel2IngestResult } | { kind: 'oisst'; result: OisstIngestResult };

export interface LocalIngestOptions extends Omit<Sentinel2IngestOptions, 'stac' | 'collection' | 'bbox' | 'from' | 'to' | 'maxCloudCover'> {
  progress?: ProgressReporter;
}

export async function ingestLocal(path: string, options: LocalIngestOptions): Promise<LocalIngestResult> {
  const target = resolve(path);
  const found = await stat(target).catch(() => undefined);
  if (!found) throw new IngestError('not-found', `${target}: no such file or folder`);
  if (found.isFile()) {
    if (/\.json$/i.test(target)) return { kind: 'sentinel2', result: await ingestStatic(target, options) };
    if (/\.nc$/i.test(target)) return { kind: 'oisst', result: await ingestOisstFiles(options.dataDir, [target], options.progress ?? silentProgress) };
    throw new IngestError('invalid-data', `${target}: expected a STAC catalog or collection (.json) or an OISST NetCDF file (.nc)`);
  }
  const names = await readdir(target);
  const root = STAC_ROOT_FILES.find((name) => names.includes(name));
  if (root) return { kind: 'sentinel2', result: await ingestStatic(join(target, root), options) };
  const netcdf = await findNetcdf(target, NETCDF_SEARCH_DEPTH);
  if (netcdf.length > 0) return { kind: 'oisst', result: await ingestOisstFiles(options.dataDir, await orderByFirstDay(netcdf), options.progress ?? silentProgress) };
  throw new IngestError('no-data', `${target} holds neither a STAC catalog or collection (${STAC_ROOT_FILES.join(', ')}) nor OISST NetCDF files (*.nc)`);
}

function ingestStatic(document: string, options: LocalIngestOptions): Promise<Sentinel2IngestResult> {
  // Every item of the catalog: no area, time or cloud filter, and any collection id.
  return ingestSentinel2({ ...options, stac: document, collection: null, bbox: null, from: null, to: null, maxCloudCover: null });
}

async function findNetcdf(dir: string, depth: number): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isFile() && /\.nc$/i.test(entry.name)) out.push(path);
    else if (entry.isDirectory() && depth > 1 && !entry.name.startsWith('.')) out.push(...(await findNetcdf(path, depth - 1)));
  }
  return out;
}

/** Files by their first day: from the provider's file name when it has one, else from the file's time axis. */
async function orderByFirstDay(paths: string[]): Promise<string[]> {
  const keyed: { path: string; first: string }[] = [];
  for (const path of paths) {
    const named = parseOisstFileName(path.split(/[\\/]/).pop()!);
    let first = named?.firstDate;
    if (!first) {
      try {
        first = (await inspectOisstFile(path)).dates[0] ?? '';
      } catch (error) {
        if (isTaskError(error)) throw new IngestError('invalid-data', error.message, { cause: error });
        throw error;
      }
    }
    keyed.push({ path, first });
  }
  return keyed.sort((a, b) => a.first.localeCompare(b.first) || a.path.localeCompare(b.path)).map((k) => k.path);
}
