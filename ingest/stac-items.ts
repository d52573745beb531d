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

export interface StacEoBand {
  name?: string;
  common_name?: string;
  center_wavelength?: number;
  full_width_half_max?: number;
  description?: string;
}

export interface StacRasterBand {
  nodata?: number | string;
  data_type?: string;
  scale?: number;
  offset?: number;
  spatial_resolution?: number;
}

/** A band in STAC 1.1's common `bands` field, which carries the eo and raster fields with their prefixes. */
export interface StacCommonBand {
  name?: string;
  description?: string;
  nodata?: number | string;
  data_type?: string;
  'eo:common_name'?: string;
  'eo:center_wavelength'?: number;
  'eo:full_width_half_max'?: number;
  'raster:scale'?: number;
  'raster:offset'?: number;
}

export interface StacAsset {
  href: string;
  type?: string;
  title?: string;
  roles?: string[];
  'eo:bands'?: StacEoBand[];
  'raster:bands'?: StacRasterBand[];
  bands?: StacCommonBand[];
  'proj:shape'?: [number, number];
  'proj:transform'?: number[];
  'proj:epsg'?: number;
  /** STAC projection extension v2: "EPSG:32632". */
  'proj:code'?: string;
  gsd?: number;
  /** File extension: size in bytes and a multihash of the content. */
  'file:size'?: number;
  'file:checksum'?: string;
  /** Alternate locations (alternate-assets extension), e.g. an https copy of an s3:// href. */
  alternate?: Record<string, { href?: string }>;
}

export interface StacItem {
  type: 'Feature';
  id: string;
  bbox?: [number, number, number, number];
  properties: Record<string, unknown> & { datetime?: string | null; 'eo:cloud_cover'?: number; 'proj:epsg'?: number; 'proj:code'?: string };
  assets: Record<string, StacAsset>;
}

const RASTER_MEDIA = /image\/tiff|image\/vnd\.stac\.geotiff|geotiff/i;
const DTYPES: Record<string, DType> = { uint8: 'uint8', int8: 'int8', uint16: 'uint16', int16: 'int16', uint32: 'uint32', int32: 'int32', float32: 'float32', float64: 'float64' };

/** The single band an asset describes, from eo:bands or STAC 1.1 `bands`, as eo:bands fields; undefined when none. */
export function eoBandOf(asset: StacAsset): StacEoBand | undefined {
  const eo = asset['eo:bands'];
  if (eo && eo.length === 1) return eo[0];
  const common = asset.bands;
  if (common && common.length === 1) {
    const band = common[0]!;
    const out: StacEoBand = {};
    if (band.name) out.name = band.name;
    if (band['eo:common_name']) out.common_name = band['eo:common_name'];
    if (band['eo:center_wavelength'] !== undefined) out.center_wavelength = band['eo:center_wavelength'];
    if (band['eo:full_width_half_max'] !== undefined) out.full_width_half_max = band['eo:full_width_half_max'];
    if (band.description) out.description = band.description;
    return out;
  }
  return undefined;
}

/** The raster fields of an asset's single band, from raster:bands or STAC 1.1 `bands`. */
function rasterBandOf(asset: StacAsset): StacRasterBand {
  const raster = asset['raster:bands']?.[0];
  if (raster) return raster;
  const band = asset.bands?.[0];
  if (!band) return {};
  const out: StacRasterBand = {};
  if (band.nodata !== undefined) out.nodata = band.nodata;
  if (band.data_type) out.data_type = band.data_type;
  if (band['raster:scale'] !== undefined) out.scale = band['raster:scale'];
  if (band['raster:offset'] !== undefined) out.offset = band['raster:offset'];
  return out;
}

/** How many bands an asset holds, as its metadata says (1 when it says nothing). */
function bandCountOf(asset: StacAsset): number {
  return Math.max(asset['eo:bands']?.length ?? 0, asset['raster:bands']?.length ?? 0, asset.bands?.length ?? 0, 1);
}

/** The band name of an asset: its eo:bands name, else its key without a resolution suffix (`SCL_20m` → `SCL`). */
export function bandNameOf(key: string, asset: StacAsset): string {
  const eo = eoBandOf(asset);
  if (eo?.name) return eo.name;
  return key.replace(/_\d+m$/i, '').toUpperCase();
}

/** EPSG code from `proj:epsg` or a `proj:code` of the form "EPSG:n". */
function epsgOf(fields: { 'proj:epsg'?: number; 'proj:code'?: string }): number | undefined {
  if (typeof fields['proj:epsg'] === 'number') return fields['proj:epsg'];
  const match = typeof fields['proj:code'] === 'string' ? /^EPSG:(\d+)$/i.exec(fields['proj:code']) : null;
  return match ? Number(match[1]) : undefined;
}

/** Where an asset's bytes can be read: its href, or an http(s) alternate when the href is an object-store URL the readers cannot open. */
function readableHref(asset: StacAsset): string {
  if (/^(https?|file):/i.test(asset.href) || !/^[a-z][a-z0-9+.-]*:\/\//i.test(asset.href)) return asset.href;
  const alternate = Object.values(asset.alternate ?? {}).find((a) => a.href && /^https?:\/\//i.test(a.href));
  return alternate?.href ?? asset.href;
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

export interface CogItemOptions {
  /** Names the band of an asset (default: bandNameOf), e.g. to give every provider's Sentinel-2 assets the same names. */
  bandName?: (key: string, asset: StacAsset) => string;
}

export interface ConvertedItem {
  item: CogItem;
  bands: BandInfo[];
  /** The STAC asset behind each band, by band name (its file:size and file:checksum, for downloads). */
  stacAssets: Record<string, StacAsset>;
}

/**
 * One STAC item as a catalog item: only single-band raster assets with a grid (proj:shape and
 * proj:transform) become bands; a multi-band asset (a true-colour preview) does not fit the
 * one-band-per-asset model and is left out.
 */
export function cogItemFromStac(item: StacItem, documentLocation: string, options: CogItemOptions = {}): ConvertedItem {
  const nameOf = options.bandName ?? bandNameOf;
  const epsg = epsgOf(item.properties) ?? Object.values(item.assets).map(epsgOf).find((code) => code !== undefined);
  if (typeof epsg !== 'number') throw new StacItemError(item.id, 'has no proj:epsg');
  const datetime = item.properties.datetime ?? (item.properties.start_datetime as string | undefined);
  if (!datetime) throw new StacItemError(item.id, 'has no datetime');
  if (!item.bbox) throw new StacItemError(item.id, 'has no bbox');
  const box = item.bbox as number[];
  const bbox: [number, number, number, number] = box.length === 6 ? [box[0]!, box[1]!, box[3]!, box[4]!] : [box[0]!, box[1]!, box[2]!, box[3]!];
  const assets: Record<string, CogAsset> = {};
  const bands: BandInfo[] = [];
  const stacAssets: Record<string, StacAsset> = {};
  for (const [key, asset] of Object.entries(item.assets)) {
    if (asset.type && !RASTER_MEDIA.test(asset.type)) continue;
    if (!asset.type && !/\.tiff?$/i.test(asset.href)) continue;
    // Item-level grid fields describe every asset that has none of its own.
    const shape = asset['proj:shape'] ?? (item.properties['proj:shape'] as [number, number] | undefined);
    const transform = asset['proj:transform'] ?? (item.properties['proj:transform'] as number[] | undefined);
    if (!shape || !transform) continue;
    if (bandCountOf(asset) !== 1) continue;
    const assetEpsg = epsgOf(asset);
    if (assetEpsg !== undefined && assetEpsg !== epsg) throw new StacItemError(item.id, `asset ${key} is in EPSG:${assetEpsg}, the item in EPSG:${epsg}`);
    const raster = rasterBandOf(asset);
    const name = nameOf(key, asset);
    // A band offered at several resolutions (B04_10m, B04_20m, B04_60m) is read at the finest.
    const previous = assets[name];
    if (previous && Math.abs(previous.transform[1]) <= Math.abs(geoTransformOf(transform)[1])) continue;
    stacAssets[name] = asset;
    assets[name] = {
      href: resolveHref(readableHref(asset), documentLocation),
      transform: geoTransformOf(transform),
      shape: [shape[0], shape[1]],
      dtype: DTYPES[raster.data_type ?? 'uint16'] ?? 'uint16',
      nodata: nodataOf(raster.nodata),
      scale: raster.scale ?? 1,
      offset: raster.offset ?? 0,
    };
    const eo = eoBandOf(asset);
    const info: BandInfo = { name };
    if (eo?.common_name) info.commonName = eo.common_name;
    if (eo?.center_wavelength !== undefined) info.centerWavelength = eo.center_wavelength;
    if (eo?.full_width_half_max !== undefined) info.fullWidthHalfMax = eo.full_width_half_max;
    if (eo?.description) info.description = eo.description;
    if (name === 'SCL' && !info.description) info.description = 'scene classification';
    if (!previous) bands.push(info);
  }
  if (Object.keys(assets).length === 0) throw new StacItemError(item.id, 'has no single-band GeoTIFF assets with proj:shape and proj:transform (JPEG 2000 and multi-band assets are not read)');
  return {
    item: {
      id: item.id,
      datetime: new Date(datetime).toISOString(),
      cloudCover: typeof item.properties['eo:cloud_cover'] === 'number' ? item.properties['eo:cloud_cover'] : null,
      epsg,
      bbox,
      assets,
    },
    bands,
    stacAssets,
  };
}

/** Bands of several items, each named once, in first-seen order. */
export function mergeBands(lists: BandInfo[][]): BandInfo[] {
  const byName = new Map<string, BandInfo>();
  for (const list of lists) for (const band of list) if (!byName.has(band.name)) byName.set(band.name, band);
  return [...byName.values()];
}
