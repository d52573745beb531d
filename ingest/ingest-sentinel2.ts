import { rm, rmdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import type { IngestCredential } from '../common/config.js';
import { Catalog, type BandInfo, type CogAsset, type CogItem, type CogItemsSource } from './catalog.js';
import { withCollectionLock } from './collection-lock.js';
import { sentinel2Info } from './collection-info.js';
import type { Clock } from './download/clock.js';
import { redactUrl } from './download/credentials.js';
import { downloadAll } from './download/download-queue.js';
import type { DownloadRequest } from './download/download-file.js';
import type { HttpOptions } from './download/http-client.js';
import { silentProgress, type ProgressReporter } from './download/progress.js';
import { IngestError, storageError } from './ingest-error.js';
import { holdsSample, removeSampleFiles } from './replace-sample.js';
import { SAMPLE_S2_COLLECTION } from './sample-data.js';
import { sentinel2BandName } from './sentinel2-bands.js';
import { cogItemFromStac, mergeBands, StacItemError, type StacAsset } from './stac-items.js';
import { stacForCogItems, type StacProvider } from './stac-metadata.js';
import { searchStac, type Bbox } from './stac-search.js';

/**
 * Sentinel-2 L2A from STAC into the catalog collection SENTINEL2_L2A. Each item keeps its own
 * UTM zone and grids (several zones and overlapping tiles are normal for an area of any size);
 * items already in the collection are kept, and an item with the same id is replaced. With
 * `download`, every asset is first fetched into DATA_DIR/sentinel2/<item>/<band>.tif; the
 * collection is written only when all files are complete and checked, in one atomic step, so a
 * failure leaves the catalog exactly as it was.
 */

/** Catalog collection that Sentinel-2 goes into: SENTINEL2_L2A, the id the sample has. */
export const SENTINEL2_COLLECTION = SAMPLE_S2_COLLECTION;

/** STAC collection searched on an API when none is named: sentinel-2-l2a (Earth Search, the Copernicus Data Space). */
export const DEFAULT_STAC_COLLECTION = 'sentinel-2-l2a';

/** Folder of downloaded Sentinel-2 assets under DATA_DIR: sentinel2 (then <item id>/<band>.tif). */
export const SENTINEL2_DOWNLOAD_DIR = 'sentinel2';

export interface Sentinel2IngestOptions {
  dataDir: string;
  /** STAC API root or search URL, or a static catalog / collection (URL or path). */
  stac: string;
  /** STAC collection; null = any (static catalogs); undefined = DEFAULT_STAC_COLLECTION. */
  collection?: string | null;
  bbox?: Bbox | null;
  /** Inclusive ISO instants. */
  from?: string | null;
  to?: string | null;
  maxCloudCover?: number | null;
  /** Copy the assets into DATA_DIR instead of registering them where they are. */
  download?: boolean;
  credentials?: readonly IngestCredential[];
  concurrency: number;
  progress?: ProgressReporter;
  signal?: AbortSignal;
  clock?: Clock;
  maxAttempts?: number;
  retryBaseDelayMs?: number;
  idleTimeoutMs?: number;
}

export interface Sentinel2IngestResult {
  collection: string;
  /** Items the search found and the collection now holds from it. */
  ingested: number;
  /** Of those, how many replaced an item of the same id. */
  replaced: number;
  /** Items the collection holds in all. */
  total: number;
  /** Items found but not usable (no grid, no datetime…), with the reason. */
  skipped: { id: string; reason: string }[];
  downloadedFiles: number;
  downloadedBytes: number;
  /** The collection held the generated sample, which this ingest replaced (its files are gone). */
  replacedSample: boolean;
  /** EPSG codes of the items in the collection. */
  epsgs: number[];
}

export async function ingestSentinel2(options: Sentinel2IngestOptions): Promise<Sentinel2IngestResult> {
  const progress = options.progress ?? silentProgress;
  const http: HttpOptions = { credentials: options.credentials ?? [], signal: options.signal, clock: options.clock, maxAttempts: options.maxAttempts, retryBaseDelayMs: options.retryBaseDelayMs };
  const query = {
    source: options.stac,
    collection: options.collection === undefined ? DEFAULT_STAC_COLLECTION : options.collection,
    bbox: options.bbox ?? null,
    from: options.from ?? null,
    to: options.to ?? null,
    maxCloudCover: options.maxCloudCover ?? null,
  };
  const describeSource = /^https?:\/\//i.test(options.stac) ? redactUrl(options.stac) : options.stac;

  const found: FoundItems = [];
  const skipped: { id: string; reason: string }[] = [];
  for await (const { item, location } of searchStac(query, { ...http, note: (message) => progress.note(message) })) {
    try {
      const converted = cogItemFromStac(item, location, { bandName: sentinel2BandName });
      const platform = typeof item.properties.platform === 'string' ? item.properties.platform : null;
      found.push({ ...converted, platform });
    } catch (error) {
      if (!(error instanceof StacItemError)) throw error;
      skipped.push({ id: item.id, reason: error.message });
      progress.note(`skipping ${error.message}`);
    }
  }
  if (found.length === 0) {
    const why = skipped.length > 0 ? `; ${skipped.length} found but not usable (first: ${skipped[0]!.reason})` : '';
    throw new IngestError('no-data', `no Sentinel-2 items in ${describeSource} match the area, time range and cloud cover${why}`);
  }

  return withCollectionLock(options.dataDir, SENTINEL2_COLLECTION, async () => {
    let downloadedBytes = 0;
    if (options.download) {
      downloadedBytes = await downloadAssets(options, found, progress, http);
    } else {
      await checkLocalAssets(options.dataDir, found);
    }

    const catalog = new Catalog(options.dataDir);
    const existing = await catalog.get(SENTINEL2_COLLECTION);
    const replacedSample = holdsSample(existing);
    if (existing && !replacedSample && existing.source.kind !== 'cog-items') {
      throw new IngestError('invalid-data', `collection ${SENTINEL2_COLLECTION} holds a ${existing.source.kind} source, not COG items; remove it first`);
    }
    const kept = existing && !replacedSample && existing.source.kind === 'cog-items' ? existing.source : null;
    const byId = new Map<string, CogItem>((kept?.items ?? []).map((item) => [item.id, item]));
    let replaced = 0;
    const replacedItems: CogItem[] = [];
    for (const { item } of found) {
      const previous = byId.get(item.id);
      if (previous) {
        replaced++;
        replacedItems.push(previous);
      }
      byId.set(item.id, item);
    }
    const items = [...byId.values()].sort((a, b) => a.datetime.localeCompare(b.datetime) || a.id.localeCompare(b.id));
    const source: CogItemsSource = { kind: 'cog-items', bands: mergeBands([kept?.bands ?? [], ...found.map((f) => f.bands)]), items };

    const previousPlatforms = kept ? ((existing!.stac.summaries as Record<string, unknown> | undefined)?.platform as string[] | undefined) ?? [] : [];
    const platforms = [...previousPlatforms, ...found.map((f) => f.platform).filter((p): p is string => p !== null)];
    const stac = stacForCogItems(SENTINEL2_COLLECTION, source, sentinel2Info({ platforms, sources: [options.stac] }));
    if (kept) stac.providers = mergeProviders(existing!.stac.providers, stac.providers);
    try {
      await catalog.put({ id: SENTINEL2_COLLECTION, stac, source });
    } catch (error) {
      throw storageError(`writing collection ${SENTINEL2_COLLECTION}`, error);
    }

    await removeOrphanedDownloads(options.dataDir, replacedItems, items);
    if (replacedSample) await removeSampleFiles(options.dataDir, SENTINEL2_COLLECTION);
    const downloads = options.download ? found.reduce((n, f) => n + Object.keys(f.item.assets).length, 0) : 0;
    return {
      collection: SENTINEL2_COLLECTION,
      ingested: found.length,
      replaced,
      total: items.length,
      skipped,
      downloadedFiles: downloads,
      downloadedBytes,
      replacedSample,
      epsgs: [...new Set(items.map((item) => item.epsg))].sort((a, b) => a - b),
    };
  });
}

type FoundItems = { item: CogItem; bands: BandInfo[]; stacAssets: Record<string, StacAsset>; platform: string | null }[];

/**
 * Fetches every asset into DATA_DIR and, only once all are complete and checked, points the
 * items at the copies. Returns the bytes now on disk.
 */
async function downloadAssets(options: Sentinel2IngestOptions, found: FoundItems, progress: ProgressReporter, http: HttpOptions): Promise<number> {
  const requests: DownloadRequest[] = [];
  const targets: { asset: CogAsset; relative: string }[] = [];
  for (const { item, stacAssets } of found) {
    for (const [band, asset] of Object.entries(item.assets)) {
      const relative = `${SENTINEL2_DOWNLOAD_DIR}/${safeName(item.id)}/${safeName(band)}.tif`;
      const stacAsset = stacAssets[band];
      requests.push({
        url: asset.href,
        destination: join(options.dataDir, relative),
        expectedSize: typeof stacAsset?.['file:size'] === 'number' ? stacAsset['file:size'] : null,
        checksum: typeof stacAsset?.['file:checksum'] === 'string' ? stacAsset['file:checksum'] : null,
        label: `${item.id}/${band}.tif`,
      });
      targets.push({ asset, relative });
    }
  }
  const results = await downloadAll(requests, { ...http, concurrency: options.concurrency, progress, idleTimeoutMs: options.idleTimeoutMs });
  for (const { asset, relative } of targets) asset.href = relative;
  return results.reduce((sum, r) => sum + r.bytes, 0);
}

/** Every asset on a local path must exist: an item registered with a missing file would fail every job that reads it. */
async function checkLocalAssets(dataDir: string, found: { item: CogItem }[]): Promise<void> {
  for (const { item } of found) {
    for (const [band, asset] of Object.entries(item.assets)) {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(asset.href)) {
        if (!/^(https?|file):/i.test(asset.href)) {
          throw new IngestError('invalid-data', `item ${item.id} band ${band}: ${redactUrl(asset.href)} cannot be read (only http(s) and local files); try --download with an http(s) copy`);
        }
        continue;
      }
      const path = isAbsolute(asset.href) ? asset.href : join(dataDir, asset.href);
      const found = await stat(path).catch(() => undefined);
      if (!found?.isFile()) throw new IngestError('not-found', `item ${item.id} band ${band}: ${path} does not exist`);
    }
  }
}

/** Downloaded files of replaced items that the new versions no longer use. */
async function removeOrphanedDownloads(dataDir: string, replacedItems: CogItem[], items: CogItem[]): Promise<void> {
  const inUse = new Set(items.flatMap((item) => Object.values(item.assets).map((asset) => asset.href)));
  for (const item of replacedItems) {
    for (const asset of Object.values(item.assets)) {
      if (!asset.href.startsWith(`${SENTINEL2_DOWNLOAD_DIR}/`) || inUse.has(asset.href)) continue;
      await rm(join(dataDir, asset.href), { force: true });
      // The item's folder goes too once empty (rmdir refuses a folder that is not).
      await rmdir(dirname(join(dataDir, asset.href))).catch(() => undefined);
    }
  }
}

function mergeProviders(previous: unknown, current: unknown): StacProvider[] {
  const out: StacProvider[] = [];
  const seen = new Set<string>();
  for (const list of [current, previous]) {
    if (!Array.isArray(list)) continue;
    for (const provider of list as StacProvider[]) {
      if (typeof provider?.name !== 'string' || seen.has(provider.name)) continue;
      seen.add(provider.name);
      out.push(provider);
    }
  }
  return out;
}

/** A file-name-safe form of an item id or band name. */
function safeName(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]/g, '_');
}
