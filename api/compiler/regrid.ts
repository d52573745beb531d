import type { WarpMethod } from '../../common/ir.js';
import { type ChunkLayout, type LazyCube, type PixelRange, type SpatialGrid, subTransform, tileRange } from './cube.js';
import { chunkDims, chunkShape, materialize } from './cube-ops.js';
import type { DagBuilder } from './dag-builder.js';
import { boxPolygon, envelopeOf } from './geometry.js';
import { retile, windowProgram } from './window.js';

/**
 * Moving a cube onto another grid: a different CRS, resolution or extent. The source is
 * materialized once; each target tile reads the source window under it (the tiles it touches,
 * as inputs) and resamples it in one task, so target tiles never recompute the source.
 */

/** Largest tile side of grids made by resampling (no source tiling to follow). */
export const RESAMPLED_TILE_SIZE = 512;
/** Smallest tile side of such grids, so strong coarsening still makes tiles worth a task. */
export const MIN_RESAMPLED_TILE_SIZE = 16;
/** Extra source pixels read around a target tile's footprint, for interpolation and rounding. */
const SOURCE_MARGIN_PX = 2;
/** Relative difference under which two grid coordinates count as the same. */
const GRID_TOLERANCE = 1e-9;

function close(a: number, b: number, scale: number): boolean {
  return Math.abs(a - b) <= GRID_TOLERANCE * Math.max(1, Math.abs(scale));
}

export function sameGrid(a: SpatialGrid, b: SpatialGrid): boolean {
  if (a.epsg !== b.epsg || a.width !== b.width || a.height !== b.height) return false;
  const scale = Math.max(...a.transform.map(Math.abs));
  return a.transform.every((v, i) => close(v, b.transform[i]!, scale));
}

/** The extent [minX, minY, maxX, maxY] of a north-up grid. */
export function gridExtent(grid: SpatialGrid): [number, number, number, number] {
  const [x0, dx, , y0, , dy] = grid.transform;
  const xs = [x0, x0 + grid.width * dx];
  const ys = [y0, y0 + grid.height * dy];
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

export type GridAlignment = 'upper-left' | 'upper-right' | 'lower-left' | 'lower-right';

/**
 * A grid covering `extent` with pixels of `resolution`, anchored at the corner named by `align`
 * (the opposite edges grow to a whole number of pixels).
 */
export function gridOver(epsg: number, extent: [number, number, number, number], resolution: [number, number], align: GridAlignment): SpatialGrid {
  const [minX, minY, maxX, maxY] = extent;
  const [rx, ry] = resolution;
  const width = Math.max(1, Math.ceil((maxX - minX) / rx - GRID_TOLERANCE));
  const height = Math.max(1, Math.ceil((maxY - minY) / ry - GRID_TOLERANCE));
  const left = align.endsWith('left') ? minX : maxX - width * rx;
  const top = align.startsWith('upper') ? maxY : minY + height * ry;
  return { epsg, transform: [left, rx, 0, top, 0, -ry], width, height };
}

/** The source columns and rows (with a margin, clipped) under a target window. */
function sourceWindow(process: string, source: SpatialGrid, target: SpatialGrid, cols: PixelRange, rows: PixelRange): { cols: PixelRange; rows: PixelRange } | null {
  const [tx0, tdx, , ty0, , tdy] = target.transform;
  const xs = [tx0 + cols.start * tdx, tx0 + cols.end * tdx];
  const ys = [ty0 + rows.start * tdy, ty0 + rows.end * tdy];
  const envelope = envelopeOf(process, [boxPolygon(Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys))], target.epsg, source.epsg);
  if (!envelope) return null;
  const [sx0, sdx, , sy0, , sdy] = source.transform;
  const u = [(envelope[0] - sx0) / sdx, (envelope[2] - sx0) / sdx];
  const v = [(envelope[1] - sy0) / sdy, (envelope[3] - sy0) / sdy];
  const c0 = Math.max(0, Math.floor(Math.min(...u)) - SOURCE_MARGIN_PX);
  const c1 = Math.min(source.width, Math.ceil(Math.max(...u)) + SOURCE_MARGIN_PX);
  const r0 = Math.max(0, Math.floor(Math.min(...v)) - SOURCE_MARGIN_PX);
  const r1 = Math.min(source.height, Math.ceil(Math.max(...v)) + SOURCE_MARGIN_PX);
  if (c1 <= c0 || r1 <= r0) return null;
  return { cols: { start: c0, end: c1 }, rows: { start: r0, end: r1 } };
}

/**
 * `cube` resampled onto `grid`, cut into the tiles of `tiles`; time blocks stay the source's.
 * Pixels the source does not cover are no data.
 */
export function warpCube(process: string, cube: LazyCube, grid: SpatialGrid, tiles: Pick<ChunkLayout, 'tileWidth' | 'tileHeight' | 'offsetX' | 'offsetY'>, method: WarpMethod, builder: DagBuilder): LazyCube {
  if (sameGrid(cube.grid, grid)) return retile(cube, tiles, builder);
  const source = materialize(cube, builder);
  const layout: ChunkLayout = { ...cube.layout, ...tiles };
  const warped: LazyCube = {
    dims: cube.dims,
    grid,
    layout,
    description: `${cube.description}, resampled (${method}) to EPSG:${grid.epsg} ${grid.width}x${grid.height}`,
    chunk(coord) {
      const cols = tileRange(coord.tx, grid.width, layout.tileWidth, layout.offsetX);
      const rows = tileRange(coord.ty, grid.height, layout.tileHeight, layout.offsetY);
      const window = sourceWindow(process, cube.grid, grid, cols, rows);
      if (!window) return { node: { op: 'full', value: NaN, dims: chunkDims(warped), shape: chunkShape(warped, coord) }, inputs: [] };
      const program = windowProgram(source, coord.tb, window.rows, window.cols);
      return {
        node: {
          op: 'warp',
          source: { epsg: cube.grid.epsg, transform: subTransform(cube.grid, window.cols.start, window.rows.start) },
          target: { epsg: grid.epsg, transform: subTransform(grid, cols.start, rows.start), width: cols.end - cols.start, height: rows.end - rows.start },
          method,
          x: program.node,
        },
        inputs: program.inputs,
      };
    },
  };
  return warped;
}

/**
 * Tiles for a grid made by resampling `source`: each target tile reads about as many source
 * pixels as a source tile holds, so coarsening a cube a hundredfold does not put a hundred
 * source tiles into one task.
 */
export function resampledTiles(source: Pick<LazyCube, 'grid' | 'layout'>, grid: SpatialGrid): Pick<ChunkLayout, 'tileWidth' | 'tileHeight' | 'offsetX' | 'offsetY'> {
  // Target pixels per source pixel along an axis, from the pixel counts over (about) the same extent.
  const scale = Math.sqrt((grid.width * grid.height) / Math.max(1, source.grid.width * source.grid.height));
  const side = (sourceTile: number): number => Math.max(MIN_RESAMPLED_TILE_SIZE, Math.min(RESAMPLED_TILE_SIZE, Math.floor(sourceTile * scale)));
  return { tileWidth: side(source.layout.tileWidth), tileHeight: side(source.layout.tileHeight), offsetX: 0, offsetY: 0 };
}

/** `cube` on the grid and tiles of `target` (resampled or re-tiled as needed); time is untouched. */
export function alignSpatially(process: string, cube: LazyCube, target: Pick<LazyCube, 'grid' | 'layout'>, method: WarpMethod, builder: DagBuilder): LazyCube {
  const tiles = { tileWidth: target.layout.tileWidth, tileHeight: target.layout.tileHeight, offsetX: target.layout.offsetX, offsetY: target.layout.offsetY };
  return warpCube(process, cube, target.grid, tiles, method, builder);
}
