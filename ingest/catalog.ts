import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { writeAtomic } from '../common/files.js';
import { join } from 'node:path';
import type { DType, GeoTransform } from '../common/raster.js';

/**
 * The catalog of collections under DATA_DIR/collections/<id>/: `collection.json` is the public
 * STAC Collection, `source.json` says where each chunk's bytes live. A server re-reads a
 * collection when its files change, so what ingest writes is served without a restart.
 */

export const COLLECTIONS_DIR = 'collections';
export const COLLECTION_FILE = 'collection.json';
export const SOURCE_FILE = 'source.json';

export interface BandInfo {
  name: string;
  commonName?: string;
  description?: string;
  centerWavelength?: number;
  fullWidthHalfMax?: number;
  unit?: string;
}

/** One band of one item: a single-band COG with its own grid. */
export interface CogAsset {
  /** Absolute URL, absolute path, or path relative to DATA_DIR. */
  href: string;
  transform: GeoTransform;
  /** [height, width] */
  shape: [number, number];
  dtype: DType;
  nodata: number | null;
  scale: number;
  offset: number;
}

export interface CogItem {
  id: string;
  /** ISO 8601 acquisition time. */
  datetime: string;
  cloudCover: number | null;
  epsg: number;
  /** lon/lat footprint [west, south, east, north]. */
  bbox: [number, number, number, number];
  /** Band name → asset. */
  assets: Record<string, CogAsset>;
}

export interface CogItemsSource {
  kind: 'cog-items';
  bands: BandInfo[];
  items: CogItem[];
}

/**
 * A (time, lat, lon) Zarr array on a regular global lat/lon grid, as ingested from OISST:
 * cell centres from `lonFirst`/`latFirst` by `resolution`, rows south to north when `latAscending`.
 */
export interface ZarrCubeSource {
  kind: 'zarr-cube';
  /** Zarr store directory, relative to DATA_DIR or absolute. */
  store: string;
  array: string;
  band: BandInfo;
  /** Calendar date of each time index (YYYY-MM-DD). */
  dates: string[];
  height: number;
  width: number;
  resolution: number;
  latFirst: number;
  lonFirst: number;
  latAscending: boolean;
  /** Chunk shape of the array: [time, lat, lon]. */
  chunks: [number, number, number];
  scale: number;
  offset: number;
  fill: number | null;
  validRange: [number, number] | null;
}

export type CollectionSource = CogItemsSource | ZarrCubeSource;

export interface CollectionRecord {
  id: string;
  /** The STAC Collection served at /collections/{id}. */
  stac: Record<string, unknown>;
  source: CollectionSource;
}

interface Cached {
  mtimeMs: number;
  record: CollectionRecord;
}

export class Catalog {
  private readonly cache = new Map<string, Cached>();

  constructor(readonly dataDir: string) {}

  get root(): string {
    return join(this.dataDir, COLLECTIONS_DIR);
  }

  async list(): Promise<CollectionRecord[]> {
    let ids: string[];
    try {
      ids = await readdir(this.root);
    } catch {
      return [];
    }
    const records: CollectionRecord[] = [];
    for (const id of ids.sort()) {
      const record = await this.get(id);
      if (record) records.push(record);
    }
    return records;
  }

  async get(id: string): Promise<CollectionRecord | undefined> {
    if (!/^[A-Za-z0-9_.-]+$/.test(id)) return undefined;
    const dir = join(this.root, id);
    let mtimeMs: number;
    try {
      const [a, b] = await Promise.all([stat(join(dir, COLLECTION_FILE)), stat(join(dir, SOURCE_FILE))]);
      mtimeMs = Math.max(a.mtimeMs, b.mtimeMs);
    } catch {
      this.cache.delete(id);
      return undefined;
    }
    const cached = this.cache.get(id);
    if (cached && cached.mtimeMs === mtimeMs) return cached.record;
    try {
      const [stac, source] = await Promise.all([
        readFile(join(dir, COLLECTION_FILE), 'utf8').then((t) => JSON.parse(t) as Record<string, unknown>),
        readFile(join(dir, SOURCE_FILE), 'utf8').then((t) => JSON.parse(t) as CollectionSource),
      ]);
      const record: CollectionRecord = { id, stac, source };
      this.cache.set(id, { mtimeMs, record });
      return record;
    } catch {
      // A collection being rewritten right now: serve the previous version if there is one.
      return cached?.record;
    }
  }

  /** Writes a collection atomically (each file via a temporary name). */
  async put(record: CollectionRecord): Promise<void> {
    const dir = join(this.root, record.id);
    await mkdir(dir, { recursive: true });
    await writeAtomic(join(dir, SOURCE_FILE), JSON.stringify(record.source));
    await writeAtomic(join(dir, COLLECTION_FILE), JSON.stringify(record.stac, null, 2));
    this.cache.delete(record.id);
  }

  async remove(id: string): Promise<void> {
    await rm(join(this.root, id), { recursive: true, force: true });
    this.cache.delete(id);
  }

  /** Whether a collection holds only generated sample data (real ingests replace it). */
  static isSample(record: CollectionRecord): boolean {
    return record.stac['openeo:sample_data'] === true;
  }
}
