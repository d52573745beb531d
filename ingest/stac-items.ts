import { isAbsolute, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DType, GeoTransform } from '../common/raster.js';
import type { BandInfo, CogAsset, CogItem } from './catalog.js';

/**
 * STAC Items → catalog items. Assets become bands by their `eo:bands` metadata (Earth Search
 * names them `red`/`nir`, the Copernicus Data Space `B04_10m`/`B08_10m`: both carry
 * eo:bands name B04/B08), never by their order; assets without eo:bands (SCL) are named by their
 * key without the resolution suffix.
 */

export interface StacAsset {
  href: string;
  type?: string;
  roles?: string[];
  'eo:bands'?: { name?: string; common_name?: string; center_wavelength?: number; full_width_half_max?: number; description?: string }[];
  'raster:bands'?: { nodata?: number | string; data_type?: string; scale?: number; offset?: number; spatial_resolution?: number }[];
  'proj:shape'?: [number, number];
  'proj:transform'?: number[];
  'proj:epsg'?: number;
  gsd?: number;
}

export interface StacItem {
  type: 'Feature';
  id: string;
  bbox?: [number, number, number, number];
  properties: Record<string, unknown> & { datetime?: string | null; 'eo:cloud_cover'?: number; 'proj:epsg'?: number };
  assets: Record<string, StacAsset>;
}

const RASTER_MEDIA = /image\/tiff|image\/vnd\.stac\.geotiff|geotiff/i;
const DTYPES: Record<string, DType> = { uint8: 'uint8', int8: 'int8', uint16: 'uint16', int16: 'int16', uint32: 'uint32', int32: 'int32', float32: 'float32', float64: 'float64' };

/** The band name of an asset: its eo:bands name, else its key without a resolution suffix (`SCL_20m` → `SCL`). */
export function bandNameOf(key: string, asset: StacAsset): string {
  const eo = asset['eo:bands'];
  if (eo && eo.length === 1 && eo[0]!.name) return eo[0]!.name;
  return key.replace(/_\d+m$/i, '').toUpperCase();
}

/** Resolves a relative href against the document it came from (a URL or a file path). */
export function resolveHref(href: string, documentLocation: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(href)) return href.startsWith('file://') ? fileURLToPath(href) : href;
  if (isAbsolute(href)) return href;
  if (/^https?:\/\//i.test(documentLocation)) return new URL(href, documentLocation).toString();
  const base = documentLocation.startsWith('file://') ? fileURLToPath(documentLocation) : documentLocation;
  return resolvePath(base, '..', href);
}

/** STAC's proj:transform (affine, rasterio order) → GDAL geotransform. */
export function geoTransformOf(transform: number[]): GeoTransform {
  const [a, b, c, d, e, f] = transform as [number, number, number, number, number, number];
  return [c, a, b, f, d, e];
}

function nodataOf(value: number | string | undefined): number | null {
  if (value === undefined) return null;
  if (typeof value === 'number') return value;
  if (value.toLowerCase() === 'nan') return NaN;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

export class StacItemError extends Error {
  constructor(
    readonly itemId: string,
    message: string,
  ) {
    super(`item ${itemId}: ${message}`);
    this.name = 'StacItemError';
  }
}

/** One STAC item as a catalog item: only raster assets with a grid (proj:shape and proj:transform) become bands. */
export function cogItemFromStac(item: StacItem, documentLocation: string): { item: CogItem; bands: BandInfo[] } {
  const epsg = item.properties['proj:epsg'] ?? Object.values(item.assets).find((a) => a['proj:epsg'])?.['proj:epsg'];
  if (typeof epsg !== 'number') throw new StacItemError(item.id, 'has no proj:epsg');
  const datetime = item.properties.datetime ?? (item.properties.start_datetime as string | undefined);
  if (!datetime) throw new StacItemError(item.id, 'has no datetime');
  if (!item.bbox) throw new StacItemError(item.id, 'has no bbox');
  const assets: Record<string, CogAsset> = {};
  const bands: BandInfo[] = [];
  for (const [key, asset] of Object.entries(item.assets)) {
    if (asset.type && !RASTER_MEDIA.test(asset.type)) continue;
    if (!asset.type && !/\.tiff?$/i.test(asset.href)) continue;
    const shape = asset['proj:shape'];
    const transform = asset['proj:transform'];
    if (!shape || !transform) continue;
    const raster = asset['raster:bands']?.[0] ?? {};
    const name = bandNameOf(key, asset);
    assets[name] = {
      href: resolveHref(asset.href, documentLocation),
      transform: geoTransformOf(transform),
      shape: [shape[0], shape[1]],
      dtype: DTYPES[raster.data_type ?? 'uint16'] ?? 'uint16',
      nodata: nodataOf(raster.nodata),
      scale: raster.scale ?? 1,
      offset: raster.offset ?? 0,
    };
    const eo = asset['eo:bands']?.[0];
    const info: BandInfo = { name };
    if (eo?.common_name) info.commonName = eo.common_name;
    if (eo?.center_wavelength !== undefined) info.centerWavelength = eo.center_wavelength;
    if (eo?.full_width_half_max !== undefined) info.fullWidthHalfMax = eo.full_width_half_max;
    if (eo?.description) info.description = eo.description;
    if (name === 'SCL' && !info.description) info.description = 'scene classification';
    bands.push(info);
  }
  if (Object.keys(assets).length === 0) throw new StacItemError(item.id, 'has no raster assets with proj:shape and proj:transform');
  return {
    item: {
      id: item.id,
      datetime: new Date(datetime).toISOString(),
      cloudCover: typeof item.properties['eo:cloud_cover'] === 'number' ? item.properties['eo:cloud_cover'] : null,
      epsg,
      bbox: item.bbox,
      assets,
    },
    bands,
  };
}

/** Bands of several items, each named once, in first-seen order. */
export function mergeBands(lists: BandInfo[][]): BandInfo[] {
  const byName = new Map<string, BandInfo>();
  for (const list of lists) for (const band of list) if (!byName.has(band.name)) byName.set(band.name, band);
  return [...byName.values()];
}
