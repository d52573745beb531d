import { transformBounds, WGS84 } from '../../common/crs.js';
import type { JobRecord } from './job-record.js';

/** STAC extensions the results document uses. */
export const RESULT_STAC_EXTENSIONS = ['https://stac-extensions.github.io/projection/v1.1.0/schema.json', 'https://stac-extensions.github.io/file/v2.1.0/schema.json'];

export interface AssetLink {
  file: { name: string; bytes: number; type: string };
  href: string;
}

/** lon/lat bbox of the first output grid, or null. */
function outputBbox(record: JobRecord): [number, number, number, number] | null {
  const grid = record.outputs?.find((o) => o.grid)?.grid;
  if (!grid) return null;
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

/**
 * The job's results as a STAC Item (openEO API `GET /jobs/{id}/results`): one asset per file
 * with its signed link, media type, size and projection.
 */
export function resultsDocument(record: JobRecord, assets: AssetLink[], links: { self: string; canonical: string }, expires: string): Record<string, unknown> {
  const bbox = outputBbox(record);
  const output = record.outputs?.find((o) => o.grid) ?? null;
  const timeRange = record.outputs?.find((o) => o.timeRange)?.timeRange ?? null;
  const properties: Record<string, unknown> = { datetime: timeRange ? null : (record.finishedAt ?? record.updated), title: record.title, description: record.description, created: record.created, updated: record.updated };
  if (timeRange) {
    properties.start_datetime = timeRange[0];
    properties.end_datetime = timeRange[1];
  }
  if (output?.grid) properties['proj:epsg'] = output.grid.epsg;
  const assetEntries: Record<string, unknown> = {};
  for (const { file, href } of assets) {
    const asset: Record<string, unknown> = { href, type: file.type, roles: ['data'], title: file.name, 'file:size': file.bytes };
    if (output?.grid) {
      asset['proj:epsg'] = output.grid.epsg;
      asset['proj:shape'] = [output.grid.height, output.grid.width];
      // STAC's proj:transform is the affine in rasterio order, not GDAL's geotransform order.
      const [x0, dx, rx, y0, ry, dy] = output.grid.transform;
      asset['proj:transform'] = [dx, rx, x0, ry, dy, y0];
    }
    assetEntries[file.name] = asset;
  }
  return {
    type: 'Feature',
    stac_version: '1.0.0',
    stac_extensions: RESULT_STAC_EXTENSIONS,
    id: record.id,
    geometry: bbox
      ? { type: 'Polygon', coordinates: [[[bbox[0], bbox[1]], [bbox[2], bbox[1]], [bbox[2], bbox[3]], [bbox[0], bbox[3]], [bbox[0], bbox[1]]]] }
      : null,
    ...(bbox ? { bbox } : {}),
    properties,
    assets: assetEntries,
    links: [
      { rel: 'self', href: links.self, type: 'application/geo+json' },
      { rel: 'canonical', href: links.canonical, type: 'application/geo+json' },
    ],
    'openeo:status': record.status,
    expires,
  };
}
