import { transformBounds, WGS84 } from '../../common/crs.js';
import { OpenEOError } from '../../common/errors.js';
import type { IRNode, ReadCogNode } from '../../common/ir.js';
import type { GeoTransform } from '../../common/raster.js';
import type { CogAsset, CogItem, CogItemsSource, CollectionRecord, ZarrCubeSource } from '../../ingest/catalog.js';
import { type ChunkLayout, type CubeDimension, type LazyCube, type LoadNarrowing, type SpatialGrid, subTransform, tileRange, timeBlockRange } from './cube.js';

/** Tile size assumed for COG sources: GDAL's COG default, and what Sentinel-2 COGs use. */
export const COG_TILE_SIZE = 512;

export interface BoundingBox {
  west: number;
  south: number;
  east: number;
  north: number;
  /** EPSG code of the bbox; 4326 when absent. */
  crs: number;
}

export interface LoadRequest {
  spatialExtent: BoundingBox | null;
  /** [start, end): ISO instants, null for open ends. */
  temporalExtent: [string | null, string | null] | null;
  bands: string[] | null;
  /** Upper bound of `eo:cloud_cover` (percent). */
  maxCloudCover: number | null;
  /** Items that passed the `properties` filters of load_collection; null = all. */
  allowedItems: Set<string> | null;
}

/** Whether an ISO date-time or date falls in [start, end). */
export function inInterval(instant: string, interval: LoadRequest['temporalExtent']): boolean {
  if (!interval) return true;
  const t = Date.parse(instant);
  const [start, end] = interval;
  if (start !== null && t < Date.parse(start)) return false;
  if (end !== null && t >= Date.parse(end)) return false;
  return true;
}

function resolveBands(record: CollectionRecord, available: { name: string; commonName?: string }[], requested: string[] | null): string[] {
  if (requested === null) return available.map((b) => b.name);
  return requested.map((wanted) => {
    const band = available.find((b) => b.name === wanted) ?? available.find((b) => b.commonName === wanted);
    if (!band) {
      throw new OpenEOError('ProcessParameterInvalid', `load_collection: collection ${record.id} has no band "${wanted}"; available: ${available.map((b) => b.name).join(', ')}`);
    }
    return band.name;
  });
}

function emptySelection(record: CollectionRecord, what: string): OpenEOError {
  return new OpenEOError('ProcessParameterInvalid', `load_collection: no data of collection ${record.id} ${what}`);
}

/** Cube columns [start, end) of pixel centres inside [min, max] on an axis starting at `origin` with step `step`. */
function centresWithin(min: number, max: number, origin: number, step: number): [number, number] {
  const a = (min - origin) / step - 0.5;
  const b = (max - origin) / step - 0.5;
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  return [Math.ceil(lo - 1e-9), Math.floor(hi + 1e-9) + 1];
}

// ---------------------------------------------------------------- COG items (Sentinel-2)

export function loadCogItems(record: CollectionRecord, source: CogItemsSource, request: LoadRequest): LazyCube {
  const bands = resolveBands(record, source.bands, request.bands);
  const bboxLonLat = request.spatialExtent
    ? request.spatialExtent.crs === WGS84
      ? ([request.spatialExtent.west, request.spatialExtent.south, request.spatialExtent.east, request.spatialExtent.north] as [number, number, number, number])
      : transformBounds([request.spatialExtent.west, request.spatialExtent.south, request.spatialExtent.east, request.spatialExtent.north], request.spatialExtent.crs, WGS84)
    : null;
  const items = source.items.filter((item) => {
    if (!inInterval(item.datetime, request.temporalExtent)) return false;
    if (request.maxCloudCover !== null && item.cloudCover !== null && item.cloudCover > request.maxCloudCover) return false;
    if (request.allowedItems && !request.allowedItems.has(item.id)) return false;
    if (bboxLonLat && (item.bbox[0] > bboxLonLat[2] || item.bbox[2] < bboxLonLat[0] || item.bbox[1] > bboxLonLat[3] || item.bbox[3] < bboxLonLat[1])) return false;
    return bands.every((b) => b in item.assets);
  });
  if (items.length === 0) throw emptySelection(record, 'matches the requested extent, time range and cloud cover');

  // The cube's grid is in the UTM zone most items are in; items of other zones are reprojected onto it.
  const zoneCounts = new Map<number, number>();
  for (const item of items) zoneCounts.set(item.epsg, (zoneCounts.get(item.epsg) ?? 0) + 1);
  const epsg = [...zoneCounts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
  const inZone = items.filter((item) => item.epsg === epsg);

  // The finest requested band sets the grid; its origin anchors the cube.
  const anchorAsset = bands.map((b) => inZone[0]!.assets[b]!).sort((a, b) => a.transform[1] - b.transform[1])[0]!;
  const [ax0, dx, , ay0, , dy] = anchorAsset.transform;
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const item of items) {
    const [x0, y0, x1, y1] = transformBounds(assetBounds(item.assets[bands[0]!]!), item.epsg, epsg);
    minX = Math.min(minX, x0);
    maxX = Math.max(maxX, x1);
    minY = Math.min(minY, y0);
    maxY = Math.max(maxY, y1);
  }
  let [c0, c1] = centresWithin(minX, maxX, ax0, dx);
  let [r0, r1] = centresWithin(maxY, minY, ay0, dy);
  if (request.spatialExtent) {
    const env = request.spatialExtent.crs === epsg
      ? [request.spatialExtent.west, request.spatialExtent.south, request.spatialExtent.east, request.spatialExtent.north]
      : transformBounds([request.spatialExtent.west, request.spatialExtent.south, request.spatialExtent.east, request.spatialExtent.north], request.spatialExtent.crs, epsg);
    const [bc0, bc1] = centresWithin(env[0]!, env[2]!, ax0, dx);
    const [br0, br1] = centresWithin(env[3]!, env[1]!, ay0, dy);
    c0 = Math.max(c0, bc0);
    c1 = Math.min(c1, bc1);
    r0 = Math.max(r0, br0);
    r1 = Math.min(r1, br1);
  }
  if (c1 <= c0 || r1 <= r0) throw emptySelection(record, 'lies inside the requested spatial extent');
  const grid: SpatialGrid = { epsg, transform: [ax0 + c0 * dx, dx, 0, ay0 + r0 * dy, 0, dy], width: c1 - c0, height: r1 - r0 };
  const layout: ChunkLayout = {
    tileWidth: COG_TILE_SIZE,
    tileHeight: COG_TILE_SIZE,
    offsetX: ((c0 % COG_TILE_SIZE) + COG_TILE_SIZE) % COG_TILE_SIZE,
    offsetY: ((r0 % COG_TILE_SIZE) + COG_TILE_SIZE) % COG_TILE_SIZE,
    timeBlock: 1,
    timeOffset: 0,
  };

  // One time label per acquisition date; items of one date (neighbouring tiles) are mosaicked,
  // those in the cube's zone first: where tiles overlap, pixels that need no reprojection win.
  const byDate = new Map<string, CogItem[]>();
  const mosaicOrder = (a: CogItem, b: CogItem): number => a.datetime.localeCompare(b.datetime) || Number(a.epsg !== epsg) - Number(b.epsg !== epsg) || a.id.localeCompare(b.id);
  for (const item of [...items].sort(mosaicOrder)) {
    const date = item.datetime.slice(0, 10);
    const list = byDate.get(date) ?? [];
    list.push(item);
    byDate.set(date, list);
  }
  const dates = [...byDate.keys()];
  const timeLabels = dates.map((d) => byDate.get(d)![0]!.datetime);
  const dims: CubeDimension[] = [
    { name: 't', type: 'temporal', labels: timeLabels },
    {
      name: 'bands',
      type: 'bands',
      labels: bands,
      commonNames: bands.map((b) => source.bands.find((info) => info.name === b)?.commonName ?? null),
      wavelengths: bands.map((b) => source.bands.find((info) => info.name === b)?.centerWavelength ?? null),
    },
    { name: 'y', type: 'spatial', axis: 'y' },
    { name: 'x', type: 'spatial', axis: 'x' },
  ];
  const pixelCentreMask = request.spatialExtent && request.spatialExtent.crs !== epsg ? request.spatialExtent : null;

  const cube: LazyCube = {
    dims,
    grid,
    layout,
    description: `${record.id} ${grid.width}x${grid.height} px, ${dates.length} dates, bands ${bands.join(', ')}`,
    chunk(coord) {
      const cols = tileRange(coord.tx, grid.width, layout.tileWidth, layout.offsetX);
      const rows = tileRange(coord.ty, grid.height, layout.tileHeight, layout.offsetY);
      const { start } = timeBlockRange(cube, coord.tb);
      const dateItems = byDate.get(dates[start]!)!;
      const height = rows.end - rows.start;
      const width = cols.end - cols.start;
      const tileTransform = subTransform(grid, cols.start, rows.start);
      const bandNodes = bands.map((band) => {
        const reads = dateItems
          .map((item) => (item.epsg === epsg ? readAsset(item.assets[band]!, tileTransform, width, height) : readAssetReprojected(item.assets[band]!, item.epsg, { epsg, transform: tileTransform, width, height })))
          .filter((node): node is IRNode => node !== null);
        if (reads.length === 0) return { op: 'full', value: NaN, dims: ['y', 'x'], shape: [height, width] } as IRNode;
        return reads.reduce((acc, next) => ({ op: 'binary', fn: 'coalesce', a: acc, b: next }) as IRNode);
      });
      let node: IRNode = { op: 'expand', dim: 't', x: { op: 'stack', dim: 'bands', parts: bandNodes } };
      if (pixelCentreMask) {
        node = {
          op: 'mask_bbox',
          bbox: [pixelCentreMask.west, pixelCentreMask.south, pixelCentreMask.east, pixelCentreMask.north],
          epsg,
          transform: tileTransform,
          x: node,
        };
        if (pixelCentreMask.crs !== WGS84) throw new OpenEOError('ProcessParameterInvalid', 'load_collection: spatial_extent must be in EPSG:4326 or in the collection\'s CRS');
      }
      return { node, inputs: [] };
    },
  };
  return cube;
}

/**
 * The program reading the part of one asset under a tile of the cube grid, resampled by
 * nearest neighbour when the asset is coarser by an integer factor (20 m SCL on a 10 m grid).
 * Null when the asset does not reach the tile.
 */
function readAsset(asset: CogAsset, tile: GeoTransform, width: number, height: number): IRNode | null {
  const [tx0, tdx, , ty0, , tdy] = tile;
  const [ax0, adx, , ay0, , ady] = asset.transform;
  const factor = Math.round(adx / tdx);
  if (factor < 1 || Math.abs(adx - factor * tdx) > 1e-6 * adx || Math.abs(ady - factor * tdy) > 1e-6 * Math.abs(ady)) {
    throw new OpenEOError('FeatureUnsupported', `load_collection: asset ${asset.href} has a resolution (${adx}) that is not a multiple of the cube's (${tdx})`);
  }
  // Tile pixel (0, 0) in units of the tile grid, relative to the asset origin.
  const shiftX = Math.round((tx0 - ax0) / tdx);
  const shiftY = Math.round((ty0 - ay0) / tdy);
  const x = Math.floor(shiftX / factor);
  const y = Math.floor(shiftY / factor);
  const xEnd = Math.floor((shiftX + width - 1) / factor) + 1;
  const yEnd = Math.floor((shiftY + height - 1) / factor) + 1;
  if (xEnd <= 0 || yEnd <= 0 || x >= asset.shape[1] || y >= asset.shape[0]) return null;
  const read = readWindow(asset, { x, y, width: xEnd - x, height: yEnd - y });
  if (factor === 1) return read;
  return { op: 'upsample', factor, offsetX: shiftX - x * factor, offsetY: shiftY - y * factor, height, width, x: read };
}

/** A full-resolution read of `window` of an asset's first band, with its scaling and no-data. */
function readWindow(asset: CogAsset, window: ReadCogNode['window']): ReadCogNode {
  return { op: 'read_cog', href: asset.href, level: 0, window, band: 0, scale: asset.scale, offset: asset.offset, nodata: asset.nodata };
}

/** [west, south, east, north] of an asset in its own CRS. */
function assetBounds(asset: CogAsset): [number, number, number, number] {
  const [x0, dx, , y0, , dy] = asset.transform;
  const x1 = x0 + asset.shape[1] * dx;
  const y1 = y0 + asset.shape[0] * dy;
  return [Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)];
}

/** Source pixels read around a reprojected tile's footprint, so every target pixel centre has its nearest source pixel. */
export const REPROJECTION_MARGIN_PX = 2;

/**
 * The program reading the part of an asset in another CRS (a neighbouring UTM zone) under a
 * tile of the cube grid, reprojected onto it by nearest neighbour, as loading resamples by
 * default (categorical bands such as SCL keep their classes). Null when it does not reach the tile.
 */
function readAssetReprojected(asset: CogAsset, assetEpsg: number, tile: { epsg: number; transform: GeoTransform; width: number; height: number }): IRNode | null {
  const [tx0, tdx, , ty0, , tdy] = tile.transform;
  const footprint: [number, number, number, number] = [
    Math.min(tx0, tx0 + tile.width * tdx),
    Math.min(ty0, ty0 + tile.height * tdy),
    Math.max(tx0, tx0 + tile.width * tdx),
    Math.max(ty0, ty0 + tile.height * tdy),
  ];
  const [w, s, e, n] = transformBounds(footprint, tile.epsg, assetEpsg);
  const [ax0, adx, , ay0, , ady] = asset.transform;
  const x = Math.max(0, Math.floor((w - ax0) / adx) - REPROJECTION_MARGIN_PX);
  const xEnd = Math.min(asset.shape[1], Math.ceil((e - ax0) / adx) + REPROJECTION_MARGIN_PX);
  const y = Math.max(0, Math.floor((n - ay0) / ady) - REPROJECTION_MARGIN_PX);
  const yEnd = Math.min(asset.shape[0], Math.ceil((s - ay0) / ady) + REPROJECTION_MARGIN_PX);
  if (xEnd <= x || yEnd <= y) return null;
  const read = readWindow(asset, { x, y, width: xEnd - x, height: yEnd - y });
  return {
    op: 'warp',
    source: { epsg: assetEpsg, transform: [ax0 + x * adx, adx, 0, ay0 + y * ady, 0, ady] },
    target: { epsg: tile.epsg, transform: [...tile.transform] as GeoTransform, width: tile.width, height: tile.height },
    method: 'near',
    x: read,
  };
}

// ---------------------------------------------------------------- Zarr cube (OISST)

export function loadZarrCube(record: CollectionRecord, source: ZarrCubeSource, request: LoadRequest): LazyCube {
  resolveBands(record, [source.band], request.bands);
  const res = source.resolution;
  // The cube is north-up, longitudes from -180: cube column c has its centre at -180 + (c + 0.5) * res.
  const width = source.width;
  const height = source.height;
  const colShift = ((Math.round((-180 + res / 2 - source.lonFirst) / res) % width) + width) % width;
  let [c0, c1] = [0, width];
  let [r0, r1] = [0, height];
  if (request.spatialExtent) {
    const { west, south, east, north, crs } = request.spatialExtent;
    if (crs !== WGS84) throw new OpenEOError('ProcessParameterInvalid', `load_collection: spatial_extent of ${record.id} must be in EPSG:4326`);
    // A box across the antimeridian (west > east) continues past 180°: the grid wraps around.
    [c0, c1] = centresWithin(west, west > east ? east + 360 : east, -180, res);
    [r0, r1] = centresWithin(north, south, 90, -res);
    c0 = Math.max(0, c0);
    c1 = Math.min(west > east ? c0 + width : width, c1);
    r0 = Math.max(0, r0);
    r1 = Math.min(height, r1);
    if (c1 <= c0 || r1 <= r0) throw emptySelection(record, 'lies inside the requested spatial extent');
  }
  const indices = source.dates.map((d, i) => [d, i] as const).filter(([d]) => inInterval(`${d}T12:00:00Z`, request.temporalExtent) || inInterval(d, request.temporalExtent));
  if (indices.length === 0) throw emptySelection(record, 'lies inside the requested time range');
  const t0 = indices[0]![1];
  const t1 = indices[indices.length - 1]![1] + 1;
  const dates = source.dates.slice(t0, t1);
  const [tc, th, tw] = source.chunks;
  const grid: SpatialGrid = { epsg: WGS84, transform: [-180 + c0 * res, res, 0, 90 - r0 * res, 0, -res], width: c1 - c0, height: r1 - r0 };
  const mod = (a: number, m: number): number => ((a % m) + m) % m;
  const layout: ChunkLayout = {
    tileWidth: tw,
    tileHeight: th,
    offsetX: mod(colShift + c0, tw),
    offsetY: source.latAscending ? mod(r0 - height, th) : mod(r0, th),
    timeBlock: tc,
    timeOffset: mod(t0, tc),
  };
  const dims: CubeDimension[] = [
    { name: 't', type: 'temporal', labels: dates.map((d) => `${d}T00:00:00Z`) },
    { name: 'bands', type: 'bands', labels: [source.band.name], commonNames: [source.band.commonName ?? null] },
    { name: 'y', type: 'spatial', axis: 'y' },
    { name: 'x', type: 'spatial', axis: 'x' },
  ];
  const cube: LazyCube = {
    dims,
    grid,
    layout,
    description: `${record.id} ${grid.width}x${grid.height} cells, ${dates.length} days`,
    chunk(coord) {
      const cols = tileRange(coord.tx, grid.width, layout.tileWidth, layout.offsetX);
      const rows = tileRange(coord.ty, grid.height, layout.tileHeight, layout.offsetY);
      const times = timeBlockRange(cube, coord.tb);
      const read: IRNode = {
        op: 'read_zarr',
        store: source.store,
        array: source.array,
        t: [t0 + times.start, t0 + times.end],
        rows: [r0 + rows.start, r0 + rows.end],
        cols: [c0 + cols.start, c0 + cols.end],
        flipY: source.latAscending,
        colShift,
        storageHeight: height,
        storageWidth: width,
        scale: source.scale,
        offset: source.offset,
        fill: source.fill,
        validRange: source.validRange,
      };
      return { node: { op: 'transpose', dims: ['t', 'bands', 'y', 'x'], x: { op: 'expand', dim: 'bands', x: read } }, inputs: [] };
    },
  };
  return cube;
}

export function loadCollection(record: CollectionRecord, request: LoadRequest): LazyCube {
  const cube = record.source.kind === 'cog-items' ? loadCogItems(record, record.source, request) : loadZarrCube(record, record.source, request);
  cube.reload = (narrower) => {
    const narrowed = narrowRequest(request, narrower);
    return narrowed ? loadCollection(record, narrowed) : null;
  };
  return cube;
}

/** A request narrowed by filters applied right after loading, or null when it cannot express them. */
export function narrowRequest(request: LoadRequest, narrower: LoadNarrowing): LoadRequest | null {
  const next: LoadRequest = { ...request };
  if (narrower.bands) {
    if (request.bands && !narrower.bands.every((b) => request.bands!.includes(b))) {
      throw new OpenEOError('ProcessParameterInvalid', `filter_bands: bands ${narrower.bands.filter((b) => !request.bands!.includes(b)).join(', ')} were not loaded`);
    }
    next.bands = narrower.bands;
  }
  if (narrower.temporal) {
    const [a, b] = narrower.temporal;
    const [c, d] = request.temporalExtent ?? [null, null];
    const later = (x: string | null, y: string | null): string | null => (x === null ? y : y === null ? x : Date.parse(x) >= Date.parse(y) ? x : y);
    const earlier = (x: string | null, y: string | null): string | null => (x === null ? y : y === null ? x : Date.parse(x) <= Date.parse(y) ? x : y);
    next.temporalExtent = [later(a, c), earlier(b, d)];
  }
  if (narrower.bbox) {
    const previous = request.spatialExtent;
    if (!previous) next.spatialExtent = narrower.bbox;
    else if (previous.crs === narrower.bbox.crs) {
      next.spatialExtent = {
        crs: previous.crs,
        west: Math.max(previous.west, narrower.bbox.west),
        south: Math.max(previous.south, narrower.bbox.south),
        east: Math.min(previous.east, narrower.bbox.east),
        north: Math.min(previous.north, narrower.bbox.north),
      };
    } else {
      // Boxes in two CRSs do not intersect into a box: the filter applies to the loaded cube.
      return null;
    }
  }
  return next;
}
