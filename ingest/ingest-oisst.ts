import { rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { IngestCredential } from '../common/config.js';
import { isTaskError } from '../common/errors.js';
import { Catalog } from './catalog.js';
import { consecutiveDates } from './calendar.js';
import { withCollectionLock } from './collection-lock.js';
import { oisstInfo } from './collection-info.js';
import type { Clock } from './download/clock.js';
import { downloadInOrder } from './download/download-queue.js';
import type { HttpOptions } from './download/http-client.js';
import { silentProgress, type ProgressReporter } from './download/progress.js';
import { IngestError, storageError } from './ingest-error.js';
import { OISST_CUBE_FOLDER, OisstCube } from './oisst-cube.js';
import { NCEI_BASE_URL, nceiFiles, OISST_PRODUCT_NAMES, parseOisstFileName, PSL_BASE_URL, pslFiles, type OisstProduct, type OisstRemoteFile } from './oisst-sources.js';
import { holdsSample, removeSampleFiles } from './replace-sample.js';
import { SAMPLE_OISST_COLLECTION } from './sample-data.js';
import { stacForZarrCube } from './stac-metadata.js';

/**
 * NOAA OISST into the catalog collection OISST: the NetCDF files are downloaded (a bounded
 * number at a time, a bounded number ahead of the conversion), each converted into the Zarr
 * cube DATA_DIR/oisst.zarr as soon as it and the files before it are there, and the catalog is
 * updated after each file, so a long ingest serves what it has so far. Downloads go to
 * DATA_DIR/downloads/oisst and are removed once converted; with a cache folder (INGEST_CACHE_DIR)
 * they go there and stay, and a later run reuses them instead of downloading again.
 */

/** Catalog collection OISST goes into: OISST, the id the sample has. */
export const OISST_COLLECTION = SAMPLE_OISST_COLLECTION;

/** Where NetCDF files wait for their conversion when no cache folder is set: DATA_DIR/downloads/oisst. */
export const OISST_DOWNLOAD_DIR = join('downloads', 'oisst');

/** Most days one NCEI ingest asks for: 36,600 (a century), a guard against a mistyped year. */
export const MAX_NCEI_DAYS = 36_600;

export interface OisstIngestOptions {
  dataDir: string;
  product: OisstProduct;
  /** PSL: the years. */
  years?: readonly number[];
  /** NCEI: the first and last day, YYYY-MM-DD, inclusive. */
  from?: string;
  to?: string;
  /** Folder of the provider's files; defaults to NOAA's. */
  baseUrl?: string;
  /** Keep downloaded files here for later runs; null = remove them once converted. */
  cacheDir?: string | null;
  credentials?: readonly IngestCredential[];
  concurrency: number;
  progress?: ProgressReporter;
  signal?: AbortSignal;
  clock?: Clock;
  maxAttempts?: number;
  retryBaseDelayMs?: number;
  idleTimeoutMs?: number;
}

export interface OisstIngestResult {
  collection: string;
  appendedDays: number;
  /** Days in the files asked for that the cube already held. */
  skippedDays: number;
  files: number;
  /** The days the cube holds now: first, last, count. */
  firstDate: string | null;
  lastDate: string | null;
  totalDays: number;
  replacedSample: boolean;
  /** Where the downloaded files are kept, or null when they were removed. */
  cacheDir: string | null;
}

export async function ingestOisst(options: OisstIngestOptions): Promise<OisstIngestResult> {
  const files = planFiles(options);
  const progress = options.progress ?? silentProgress;
  return withCollectionLock(options.dataDir, OISST_COLLECTION, async () => {
    const register = await OisstRegistration.open(options.dataDir, [OISST_PRODUCT_NAMES[options.product]], [options.baseUrl ?? defaultBaseUrl(options.product)]);
    const cube = register.cube;
    // Nothing is downloaded for days the cube holds; days it cannot take are refused before any download.
    const wanted = files.filter((file) => !coveredBy(cube, file));
    for (const file of wanted) cube.checkOrder(daysOf(file), file.name);
    let skippedDays = files.filter((file) => !wanted.includes(file)).reduce((n, file) => n + daysOf(file).length, 0);

    const folder = options.cacheDir ?? join(options.dataDir, OISST_DOWNLOAD_DIR);
    const requests = wanted.map((file) => ({ url: file.url, destination: join(folder, file.name), label: file.name }));
    const http: HttpOptions = { credentials: options.credentials ?? [], signal: options.signal, clock: options.clock, maxAttempts: options.maxAttempts, retryBaseDelayMs: options.retryBaseDelayMs };
    let appendedDays = 0;
    for await (const downloaded of downloadInOrder(requests, { ...http, concurrency: options.concurrency, lookahead: options.concurrency, progress, idleTimeoutMs: options.idleTimeoutMs })) {
      const { destination, label } = downloaded.request;
      const outcome = await register.append(destination, label ?? destination);
      appendedDays += outcome.appended.length;
      skippedDays += outcome.skipped.length;
      if (options.cacheDir == null) await rm(destination, { force: true });
      progress.note(`${label}: ${outcome.appended.length} days read${outcome.skipped.length ? `, ${outcome.skipped.length} already in the cube` : ''}`);
    }
    await register.finish();
    return { ...register.summary(), appendedDays, skippedDays, files: wanted.length, cacheDir: options.cacheDir ?? null };
  });
}

/** Appends OISST NetCDF files that are already on disk (ordered by their first day), as `ingest local` does. */
export async function ingestOisstFiles(dataDir: string, paths: readonly string[], progress: ProgressReporter = silentProgress): Promise<OisstIngestResult> {
  return withCollectionLock(dataDir, OISST_COLLECTION, async () => {
    const register = await OisstRegistration.open(dataDir, ['local NetCDF files'], paths.length > 0 ? [paths[0]!] : []);
    // Files named as NOAA names them are checked before anything is appended.
    for (const path of paths) {
      const named = parseOisstFileName(basename(path));
      if (named) register.cube.checkOrder(daysOf({ ...named, url: path, name: basename(path) }), path);
    }
    let appendedDays = 0;
    let skippedDays = 0;
    for (const path of paths) {
      const outcome = await register.append(path, path);
      appendedDays += outcome.appended.length;
      skippedDays += outcome.skipped.length;
      progress.note(`${path}: ${outcome.appended.length} days read${outcome.skipped.length ? `, ${outcome.skipped.length} already in the cube` : ''}`);
    }
    await register.finish();
    return { ...register.summary(), appendedDays, skippedDays, files: paths.length, cacheDir: null };
  });
}

/** The cube and its catalog entry, kept in step: whenever days reach the cube, the collection is written again. */
class OisstRegistration {
  private replacedSample = false;

  private constructor(
    private readonly dataDir: string,
    readonly cube: OisstCube,
    private readonly catalog: Catalog,
    private readonly products: string[],
    private readonly sources: string[],
  ) {}

  static async open(dataDir: string, products: string[], sources: string[]): Promise<OisstRegistration> {
    const catalog = new Catalog(dataDir);
    const existing = await catalog.get(OISST_COLLECTION);
    if (existing && !holdsSample(existing) && (existing.source.kind !== 'zarr-cube' || existing.source.store !== OISST_CUBE_FOLDER)) {
      throw new IngestError('invalid-data', `collection ${OISST_COLLECTION} holds other data than ${OISST_CUBE_FOLDER}; remove it first`);
    }
    const cube = await asIngestError(OISST_CUBE_FOLDER, () => OisstCube.open(join(dataDir, OISST_CUBE_FOLDER)));
    // Products and sources named by earlier ingests stay named.
    const previous = existing && !holdsSample(existing) ? existing.stac : null;
    const previousProducts = typeof previous?.['openeo:ingested_from'] === 'object' ? (previous['openeo:ingested_from'] as string[]) : [];
    return new OisstRegistration(dataDir, cube, catalog, [...new Set([...previousProducts, ...products])], sources);
  }

  /** Reads a file into the cube; the collection is written again whenever days reached the cube. */
  async append(path: string, label: string): Promise<{ appended: string[]; skipped: string[] }> {
    const before = this.cube.dates.length;
    const outcome = await asIngestError(label, () => this.cube.addFile(path, label));
    if (this.cube.dates.length > before) await this.write();
    return outcome;
  }

  /** Writes the days still waiting and the collection. */
  async finish(): Promise<void> {
    if ((await asIngestError(OISST_CUBE_FOLDER, () => this.cube.flush())) > 0) await this.write();
  }

  summary(): Pick<OisstIngestResult, 'collection' | 'firstDate' | 'lastDate' | 'totalDays' | 'replacedSample'> {
    return { collection: OISST_COLLECTION, firstDate: this.cube.dates[0] ?? null, lastDate: this.cube.lastDate, totalDays: this.cube.dates.length, replacedSample: this.replacedSample };
  }

  private async write(): Promise<void> {
    const existing = await this.catalog.get(OISST_COLLECTION);
    const sample = holdsSample(existing);
    const source = this.cube.source(OISST_CUBE_FOLDER);
    const stac = stacForZarrCube(OISST_COLLECTION, source, oisstInfo({ products: this.products, sources: this.sources }));
    stac['openeo:ingested_from'] = this.products;
    try {
      await this.catalog.put({ id: OISST_COLLECTION, stac, source });
    } catch (error) {
      throw storageError(`writing collection ${OISST_COLLECTION}`, error);
    }
    if (sample) {
      await removeSampleFiles(this.dataDir, OISST_COLLECTION);
      this.replacedSample = true;
    }
  }
}

function defaultBaseUrl(product: OisstProduct): string {
  return product === 'psl' ? PSL_BASE_URL : NCEI_BASE_URL;
}

function planFiles(options: OisstIngestOptions): OisstRemoteFile[] {
  const base = options.baseUrl ?? defaultBaseUrl(options.product);
  if (options.product === 'psl') {
    const years = options.years ?? [];
    if (years.length === 0) throw new IngestError('usage', 'oisst --source psl needs --years, e.g. --years 2012,2013');
    for (const year of years) if (!Number.isInteger(year) || year < 1981 || year > 9999) throw new IngestError('usage', `--years: ${year} is not a year of OISST (1981 on)`);
    return pslFiles(base, years);
  }
  const { from, to } = options;
  if (!from || !to) throw new IngestError('usage', 'oisst --source ncei needs --from and --to, e.g. --from 2020-01-01 --to 2020-03-31');
  for (const date of [from, to]) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`)) || new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) !== date) {
      throw new IngestError('usage', `${date} is not a date (YYYY-MM-DD)`);
    }
  }
  if (to < from) throw new IngestError('usage', `--to ${to} is before --from ${from}`);
  const count = Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1;
  if (count > MAX_NCEI_DAYS) throw new IngestError('usage', `${count} days asked for; at most ${MAX_NCEI_DAYS} at once`);
  return nceiFiles(base, consecutiveDates(from, count));
}

/** Every calendar day a file is expected to hold. */
function daysOf(file: OisstRemoteFile): string[] {
  const count = Math.round((Date.parse(`${file.lastDate}T00:00:00Z`) - Date.parse(`${file.firstDate}T00:00:00Z`)) / 86_400_000) + 1;
  return consecutiveDates(file.firstDate, count);
}

/** Whether the cube already holds every day the file can hold, so that it need not be downloaded. */
function coveredBy(cube: OisstCube, file: OisstRemoteFile): boolean {
  return daysOf(file).every((date) => cube.has(date));
}

/** Reader failures (TaskErrors from the NetCDF and Zarr code) as IngestErrors naming the file. */
async function asIngestError<T>(label: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof IngestError) throw error;
    if (isTaskError(error)) {
      if (error.kind === 'transient') throw storageError(label, error.cause ?? error);
      throw new IngestError('invalid-data', error.message.startsWith(label) ? error.message : `${label}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}
