import { transformBounds, WGS84 } from '../common/crs.js';
import { TaskError } from '../common/errors.js';
import type { BandInfo, CogAsset, CogItemsSource, ZarrCubeSource } from './catalog.js';

/**
 * The public STAC 1.0.0 Collection of a collection, built from its catalog source so that the
 * extents, grids and bands it advertises are those of the data the back-end actually serves.
 * The API adds the self/root/parent links when it serves the document.
 */

export const STAC_VERSION = '1.0.0';

/** Datacube extension v2.2.0, for `cube:dimensions` (and `cube:variables`). */
export const DATACUBE_EXTENSION = 'https://stac-extensions.github.io/datacube/v2.2.0/schema.json';

/** Electro-optical extension v1.1.0, for `eo:bands` and `eo:cloud_cover`. */
export const EO_EXTENSION = 'https://stac-extensions.github.io/eo/v1.1.0/schema.json';

/** Projection extension v1.1.0, for the `proj:epsg` summary of collections whose items keep their own CRS. */
export const PROJECTION_EXTENSION = 'https://stac-extensions.github.io/projection/v1.1.0/schema.json';

/** Field marking a collection of generated sample data, which a real ingest replaces. */
export const SAMPLE_DATA_FIELD = 'openeo:sample_data';

export type StacProviderRole = 'licensor' | 'producer' | 'processor' | 'host';

export interface StacProvider {
  name: string;
  description?: string;
  roles?: StacProviderRole[];
  url?: string;
}

export interface CollectionInfo {
  title: string;
  description: string;
  /** SPDX identifier, or "proprietary" / "various" as STAC allows. */
  license: string;
  providers?: StacProvider[];
  keywords?: string[];
  /** Whether the collection holds generated sample data. */
  sample: boolean;
  /** Satellites (STAC `platform`), e.g. sentinel-2a. */
  platforms?: string[];
  constellation?: string;
  instruments?: string[];
}

export type StacCollection = Record<string, unknown>;

type Bbox = [number, number, number, number];

/** A collection of per-date COG items (Sentinel-2 and the like). */
export function stacForCogItems(id: string, source: CogItemsSource, info: CollectionInfo): StacCollection {
  const { items } = source;
  if (items.length === 0) throw new TaskError('user', `collection ${id} has no items: its extent cannot be described`);

  const bbox = items.map((item) => item.bbox).reduce(unionBbox);
  const times = items.map((item) => new Date(item.datetime).toISOString()).sort();
  const first = times[0]!;
  const last = times[times.length - 1]!;

  // One CRS per cube: the zone most items are in, as load_collection chooses it.
  const epsgCounts = new Map<number, number>();
  for (const item of items) epsgCounts.set(item.epsg, (epsgCounts.get(item.epsg) ?? 0) + 1);
  const epsg = [...epsgCounts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
  let gridExtent: Bbox | undefined;
  for (const item of items) {
    for (const asset of Object.values(item.assets)) {
      const own = assetBounds(asset);
      const bounds = item.epsg === epsg ? own : transformBounds(own, item.epsg, epsg);
      gridExtent = gridExtent ? unionBbox(gridExtent, bounds) : bounds;
    }
  }
  const pixelSizes = [...new Set(items.flatMap((item) => Object.values(item.assets).map((asset) => Math.abs(asset.transform[1]))))].sort((a, b) => a - b);
  const step = pixelSizes[0]!;
  const [west, south, east, north] = gridExtent!;

  const cloudCovers = items.map((item) => item.cloudCover).filter((value): value is number => value !== null);
  const summaries: Record<string, unknown> = {
    'eo:bands': source.bands.map(eoBand),
  };
  // Ground sample distance is in metres, which only projected grids give directly.
  if (epsg !== WGS84) summaries.gsd = pixelSizes;
  // Every zone the items are in: the cube grid above uses one, the items keep their own.
  summaries['proj:epsg'] = [...epsgCounts.keys()].sort((a, b) => a - b);
  if (cloudCovers.length > 0) summaries['eo:cloud_cover'] = { minimum: Math.min(...cloudCovers), maximum: Math.max(...cloudCovers) };
  Object.assign(summaries, platformSummaries(info));

  const stac = collection(id, info, {
    bbox,
    interval: [first, last],
    dimensions: {
      x: { type: 'spatial', axis: 'x', extent: [west, east], step, reference_system: epsg },
      y: { type: 'spatial', axis: 'y', extent: [south, north], step, reference_system: epsg },
      t: { type: 'temporal', extent: [first, last], step: null },
      bands: { type: 'bands', values: source.bands.map((band) => band.name) },
    },
    summaries,
  });
  (stac.stac_extensions as string[]).push(PROJECTION_EXTENSION);
  return stac;
}

/** A (time, lat, lon) cube on a regular global lat/lon grid (OISST and the like). */
export function stacForZarrCube(id: string, source: ZarrCubeSource, info: CollectionInfo): StacCollection {
  if (source.dates.length === 0) throw new TaskError('user', `collection ${id} has no time steps: its extent cannot be described`);
  const res = source.resolution;
  const latLast = source.latFirst + (source.latAscending ? 1 : -1) * (source.height - 1) * res;
  const south = Math.max(-90, Math.min(source.latFirst, latLast) - res / 2);
  const north = Math.min(90, Math.max(source.latFirst, latLast) + res / 2);
  const [west, east] = longitudeSpan(source.lonFirst - res / 2, source.width * res);

  const dates = [...source.dates].sort();
  const first = `${dates[0]}T00:00:00Z`;
  const last = `${dates[dates.length - 1]}T00:00:00Z`;
  const band = source.band;

  const variable: Record<string, unknown> = { dimensions: ['t', 'y', 'x'], type: 'data' };
  if (band.description) variable.description = band.description;
  if (band.unit) variable.unit = band.unit;

  return collection(id, info, {
    bbox: [west, south, east, north],
    interval: [first, last],
    dimensions: {
      x: { type: 'spatial', axis: 'x', extent: [west, east], step: res, reference_system: WGS84 },
      y: { type: 'spatial', axis: 'y', extent: [south, north], step: res, reference_system: WGS84 },
      t: { type: 'temporal', extent: [first, last], step: isDaily(dates) ? 'P1D' : null },
      bands: { type: 'bands', values: [band.name] },
    },
    variables: { [band.name]: variable },
    summaries: { 'eo:bands': [eoBand(band)], ...platformSummaries(info) },
  });
}

function collection(
  id: string,
  info: CollectionInfo,
  parts: { bbox: Bbox; interval: [string, string]; dimensions: Record<string, unknown>; variables?: Record<string, unknown>; summaries: Record<string, unknown> },
): StacCollection {
  const stac: StacCollection = {
    type: 'Collection',
    stac_version: STAC_VERSION,
    stac_extensions: [DATACUBE_EXTENSION, EO_EXTENSION],
    id,
    title: info.title,
    description: info.description,
    license: info.license,
    keywords: info.keywords ?? [],
    providers: info.providers ?? [],
    extent: {
      spatial: { bbox: [parts.bbox] },
      temporal: { interval: [parts.interval] },
    },
    'cube:dimensions': parts.dimensions,
  };
  if (parts.variables) stac['cube:variables'] = parts.variables;
  stac.summaries = parts.summaries;
  stac.links = [];
  if (info.sample) stac[SAMPLE_DATA_FIELD] = true;
  return stac;
}

function eoBand(band: BandInfo): Record<string, unknown> {
  const out: Record<string, unknown> = { name: band.name };
  if (band.commonName) out.common_name = band.commonName;
  if (band.description) out.description = band.description;
  if (band.centerWavelength !== undefined) out.center_wavelength = band.centerWavelength;
  if (band.fullWidthHalfMax !== undefined) out.full_width_half_max = band.fullWidthHalfMax;
  return out;
}

function platformSummaries(info: CollectionInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (info.platforms?.length) out.platform = info.platforms;
  if (info.constellation) out.constellation = [info.constellation];
  if (info.instruments?.length) out.instruments = info.instruments;
  return out;
}

/** [west, south, east, north] of an asset's grid in its own CRS. */
function assetBounds(asset: CogAsset): Bbox {
  const [x0, dx, rx, y0, ry, dy] = asset.transform;
  const [height, width] = asset.shape;
  const xs = [x0, x0 + width * dx, x0 + height * rx, x0 + width * dx + height * rx];
  const ys = [y0, y0 + width * ry, y0 + height * dy, y0 + width * ry + height * dy];
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

function unionBbox(a: Bbox, b: Bbox): Bbox {
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
}

/**
 * [west, east] in -180..180 of a span of longitudes; a span round the globe is [-180, 180], and
 * one crossing the antimeridian has west > east, as STAC writes it.
 */
function longitudeSpan(start: number, extent: number): [number, number] {
  if (extent >= 360 - 1e-9) return [-180, 180];
  const wrap = (lon: number): number => ((((lon + 180) % 360) + 360) % 360) - 180;
  return [wrap(start), wrap(start + extent) === -180 ? 180 : wrap(start + extent)];
}

function isDaily(dates: string[]): boolean {
  for (let i = 1; i < dates.length; i++) {
    if (Date.parse(`${dates[i]}T00:00:00Z`) - Date.parse(`${dates[i - 1]}T00:00:00Z`) !== 86_400_000) return false;
  }
  return true;
}
