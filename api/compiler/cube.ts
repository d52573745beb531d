import type { IRNode } from '../../common/ir.js';
import type { GeoTransform } from '../../common/raster.js';

/**
 * A data cube at compile time: its dimensions and grid, and how to compute any one chunk.
 * Chunk arrays call the spatial dimensions y and x whatever their names in `dims` (renaming
 * them is metadata only); the first temporal dimension is the one cut into time blocks.
 */

export type CubeDimension =
  | { name: string; type: 'spatial'; axis: 'x' | 'y' }
  | { name: string; type: 'temporal'; labels: string[] }
  | {
      name: string;
      type: 'bands';
      labels: string[];
      commonNames?: (string | null)[];
      /** Centre wavelengths in micrometres, where known (filter_bands selects by them). */
      wavelengths?: (number | null)[];
    }
  | { name: string; type: 'other'; labels: (string | number)[] };

export interface SpatialGrid {
  epsg: number;
  /** North-up GDAL geotransform of pixel (0, 0) of the cube. */
  transform: GeoTransform;
  width: number;
  height: number;
}

/**
 * How the cube is cut into chunks. Tile column j covers cube columns
 * [j * tileWidth - offsetX, (j + 1) * tileWidth - offsetX) clipped to the grid, so tiles line up
 * with the source's own tiles (COG blocks, Zarr chunks) and one read serves one chunk.
 * The temporal dimension is cut the same way: block b covers labels
 * [b * timeBlock - timeOffset, (b + 1) * timeBlock - timeOffset).
 */
export interface ChunkLayout {
  tileWidth: number;
  tileHeight: number;
  offsetX: number;
  offsetY: number;
  timeBlock: number;
  timeOffset: number;
}

export interface ChunkCoord {
  tx: number;
  ty: number;
  /** Index of the time block; 0 when the cube has no temporal dimension. */
  tb: number;
}

/** The program of one chunk and the task keys its `input` nodes refer to (by index). */
export interface ChunkProgram {
  node: IRNode;
  inputs: string[];
}

export interface LazyCube {
  dims: CubeDimension[];
  grid: SpatialGrid;
  layout: ChunkLayout;
  /**
   * The program computing one chunk: an array with the cube's non-spatial dims in their order
   * (the blocked temporal dimension limited to the block), then y, x.
   */
  chunk(coord: ChunkCoord): ChunkProgram;
  /** What the cube is, for logs and estimates. */
  readonly description: string;
  /**
   * Set on cubes fresh from load_collection: loads again with a narrower request, so filters
   * applied right after loading are pushed into the reads. Null when the request cannot take
   * the narrowing (the filter then applies to the loaded cube).
   */
  reload?: (narrower: LoadNarrowing) => LazyCube | null;
}

export interface LoadNarrowing {
  bbox?: { west: number; south: number; east: number; north: number; crs: number };
  temporal?: [string | null, string | null];
  bands?: string[];
}

export interface PixelRange {
  start: number;
  end: number;
}

/** The temporal dimension cut into time blocks: the first one (a cube may have more). */
export function temporalDim(cube: Pick<LazyCube, 'dims'>): Extract<CubeDimension, { type: 'temporal' }> | undefined {
  return cube.dims.find((d): d is Extract<CubeDimension, { type: 'temporal' }> => d.type === 'temporal');
}

export function nonSpatialDims(cube: Pick<LazyCube, 'dims'>): Exclude<CubeDimension, { type: 'spatial' }>[] {
  return cube.dims.filter((d): d is Exclude<CubeDimension, { type: 'spatial' }> => d.type !== 'spatial');
}

export function tileCount(size: number, tile: number, offset: number): number {
  return Math.ceil((size + offset) / tile);
}

export function tileRange(index: number, size: number, tile: number, offset: number): PixelRange {
  return { start: Math.max(0, index * tile - offset), end: Math.min(size, (index + 1) * tile - offset) };
}

/** All tile coordinates of the cube, row by row. */
export function tiles(cube: Pick<LazyCube, 'grid' | 'layout'>): { tx: number; ty: number; cols: PixelRange; rows: PixelRange }[] {
  const { grid, layout } = cube;
  const out: { tx: number; ty: number; cols: PixelRange; rows: PixelRange }[] = [];
  const nty = tileCount(grid.height, layout.tileHeight, layout.offsetY);
  const ntx = tileCount(grid.width, layout.tileWidth, layout.offsetX);
  for (let ty = 0; ty < nty; ty++) {
    for (let tx = 0; tx < ntx; tx++) {
      out.push({ tx, ty, cols: tileRange(tx, grid.width, layout.tileWidth, layout.offsetX), rows: tileRange(ty, grid.height, layout.tileHeight, layout.offsetY) });
    }
  }
  return out;
}

/** Number of time blocks (1 when there is no temporal dimension). */
export function timeBlockCount(cube: Pick<LazyCube, 'dims' | 'layout'>): number {
  const t = temporalDim(cube);
  if (!t) return 1;
  return Math.max(1, tileCount(t.labels.length, cube.layout.timeBlock, cube.layout.timeOffset));
}

export function timeBlockRange(cube: Pick<LazyCube, 'dims' | 'layout'>, tb: number): PixelRange {
  const t = temporalDim(cube);
  if (!t) return { start: 0, end: 1 };
  return tileRange(tb, t.labels.length, cube.layout.timeBlock, cube.layout.timeOffset);
}

/** Georeferencing of the sub-grid starting at (col, row). */
export function subTransform(grid: SpatialGrid, col: number, row: number): GeoTransform {
  const [x0, dx, rx, y0, ry, dy] = grid.transform;
  return [x0 + col * dx + row * rx, dx, rx, y0 + col * ry + row * dy, ry, dy];
}
