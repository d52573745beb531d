import { transformBounds, WGS84 } from '../../common/crs.js';
import type { JobRecord, ResultFile } from './job-record.js';

/** STAC extensions the results document uses. */
export const RESULT_STAC_EXTENSIONS = [
  'https://stac-extensions.github.io/projection/v1.1.0/schema.json',
  'https://stac-extensions.github.io/file/v2.1.0/schema.json',
  'https://stac-extensions.github.io/raster/v1.1.0/schema.json',
  'https://stac-extensions.github.io/eo/v1.1.0/schema.json',
];

/** STAC version of the results document (the version openEO API 1.2 refers to). */
export const RESULT_STAC_VERSION = '1.0.0';

export interface AssetLink {
  file: ResultFile;
  href: string;
}

type Grid = NonNullable<ResultFile['grid']>;

/** lon/lat bbox of a grid, or null when its CRS cannot be transformed. */
function gridBbox(grid: Grid): [number, number, number, number] | null {
  const [x0, dx, , y0, , dy] = grid.transform as [number, number, number, number, number, number];
  const x1 = x0 + grid.width * dx;
  const y1 = y0 + grid.height * dy;
  const box: [number, number, number, number] = [Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)];
  try {
    return grid.epsg === WGS84 ? box : transformBounds(box, grid.epsg, WGS84);
  } catch {
    return null;
  }
}

/** STAC's proj:transform: the affine in rasterio order, not GDAL's geotransform order. */
function stacTransform(transform: number[]): number[] {
  const [x0, dx, rx, y0, ry, dy] = transform as [number, number, number, number, number, number];
  return [dx, rx, x0, ry, dy, y0];
}

function asset(file: ResultFile, href: string, grid: Grid | null): Record<string, unknown> {
  const entry: Record<string, unknown> = { href, type: file.type, roles: file.roles ?? ['data'], title: file.name, 'file:size': file.bytes };
  if (file.description) entry.description = file.description;
  const own = file.grid ?? grid;
  if (own) {
    entry['proj:epsg'] = own.epsg;
    entry['proj:shape'] = [own.height, own.width];
    entry['proj:transform'] = stacTransform(own.transform);
  }
  if (file.bands && file.bands.length > 0) {
    entry['eo:bands'] = file.bands.map((b) => ({ name: b.name }));
    entry['raster:bands'] = file.bands.map((b) => ({ data_type: b.data_type, ...(b.nodata !== null ? { nodata: b.nodata } : {}), ...(b.statistics ? { statistics: b.statistics } : {}) }));
  }
  return entry;
}

/**
 * The job's results as a STAC Item (openEO API `GET /jobs/{id}/results`): one asset per file
 * with its signed link, media type, size, projection and band statistics; `expires` and
 * `openeo:status` among the properties, where the API places them for Items.
 */
export function resultsDocument(record: JobRecord, assets: AssetLink[], links: { self: string; canonical: string }, expires: string): Record<string, unknown> {
  const grid = (record.outputs?.find((o) => o.grid)?.grid as Grid | undefined) ?? null;
  const bbox = grid ? gridBbox(grid) : null;
  const timeRange = record.outputs?.find((o) => o.timeRange)?.timeRange ?? null;
  const properties: Record<string, unknown> = {
    datetime: timeRange ? null : (record.finishedAt ?? record.updated),
    ...(timeRange ? { start_datetime: timeRange[0], end_datetime: timeRange[1] } : {}),
    title: record.title,
    description: record.description,
    created: record.created,
    updated: record.updated,
    expires,
    'openeo:status': record.status === 'queued' ? 'running' : record.status,
  };
  if (grid) properties['proj:epsg'] = grid.epsg;
  const assetEntries: Record<string, unknown> = {};
  for (const { file, href } of assets) assetEntries[file.name] = asset(file, href, grid);
  return {
    type: 'Feature',
    stac_version: RESULT_STAC_VERSION,
    stac_extensions: RESULT_STAC_EXTENSIONS,
    id: record.id,
    geometry: bbox ? { type: 'Polygon', coordinates: [[[bbox[0], bbox[1]], [bbox[2], bbox[1]], [bbox[2], bbox[3]], [bbox[0], bbox[3]], [bbox[0], bbox[1]]]] } : null,
    ...(bbox ? { bbox } : {}),
    properties,
    assets: assetEntries,
    links: [
      { rel: 'self', href: links.self, type: 'application/geo+json' },
      { rel: 'canonical', href: links.canonical, type: 'application/geo+json' },
    ],
  };
}
