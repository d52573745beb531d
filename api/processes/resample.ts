import { OpenEOError } from '../../common/errors.js';
import { WARP_METHODS, type WarpMethod } from '../../common/ir.js';
import { envelopeOf } from '../compiler/geometry.js';
import { type GridAlignment, gridExtent, gridOver, resampledTiles, sameGrid, warpCube } from '../compiler/regrid.js';
import { CubeValue, type Value } from '../compiler/values.js';
import { cubeArg, invalid, optionalString } from './arguments.js';
import { epsgOfCrs, RESAMPLING_METHODS, SPATIAL_CUBE } from './cube-common.js';
import { definition, param } from './definition.js';
import type { ProcessImplementation } from './types.js';

/**
 * Resampling: onto a resolution and/or CRS of the user's choice, or onto another cube's grid.
 * Methods: near and bilinear around each target pixel centre; average, min, max, med, mode and
 * sum over the source pixels in each target pixel (see worker/ir/warp.ts).
 */

/** Defaults of the resampling processes: nearest neighbour, grids anchored at their upper-left corner. */
const DEFAULT_METHOD = 'near';
const DEFAULT_ALIGN: GridAlignment = 'upper-left';
const ALIGNMENTS: GridAlignment[] = ['lower-left', 'upper-left', 'lower-right', 'upper-right'];

function methodArg(process: string, value: Value | undefined): WarpMethod {
  const method = value ?? DEFAULT_METHOD;
  if (typeof method !== 'string' || !RESAMPLING_METHODS.includes(method)) throw invalid(process, 'method', `must be one of ${RESAMPLING_METHODS.join(', ')}`);
  if (!(WARP_METHODS as readonly string[]).includes(method)) throw new OpenEOError('FeatureUnsupported', `${process}: the ${method} method is not implemented; use one of ${WARP_METHODS.join(', ')}`);
  return method as WarpMethod;
}

function resolutionArg(value: Value | undefined): [number, number] | null {
  if (value === undefined || value === null || value === 0) return null;
  if (typeof value === 'number' && value > 0) return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number' && v >= 0)) {
    const [x, y] = value as [number, number];
    if (x === 0 && y === 0) return null;
    if (x === 0 || y === 0) throw invalid('resample_spatial', 'resolution', 'must give both resolutions, or neither (0)');
    return [x, y];
  }
  throw invalid('resample_spatial', 'resolution', 'must be a positive number, a pair [x, y] of them, or 0 to keep the resolution');
}

const resampleSpatial: ProcessImplementation = {
  definition: definition(
    'resample_spatial',
    'Resample to a resolution or CRS',
    'Puts the cube on a new grid: another pixel size, another coordinate reference system, or both. The new grid covers the cube\'s extent (reprojected when the CRS changes) and is anchored at the corner `align` names.',
    ['cubes', 'reproject'],
    [
      param('data', 'A raster data cube.', SPATIAL_CUBE),
      param('resolution', 'The new pixel size in units of the target CRS, one for both axes or [x, y]; 0 keeps the resolution (estimated anew when the CRS changes).', [
        { type: 'number', minimum: 0 },
        { type: 'array', minItems: 2, maxItems: 2, items: { type: 'number', minimum: 0 } },
      ], { optional: true, default: 0 }),
      param('projection', 'The target CRS as an EPSG code (or WKT2 naming one); null keeps the CRS.', [{ type: 'integer', subtype: 'epsg-code', minimum: 1000 }, { type: 'string', subtype: 'wkt2-definition' }, { type: 'null' }], { optional: true, default: null }),
      param('method', 'How values are resampled; near, bilinear, average, min, max, med, mode and sum are implemented.', { type: 'string', enum: RESAMPLING_METHODS }, { optional: true, default: DEFAULT_METHOD }),
      param('align', 'The corner of the extent the new grid starts from.', { type: 'string', enum: ALIGNMENTS }, { optional: true, default: DEFAULT_ALIGN }),
    ],
    { description: 'The data cube on the new grid.', schema: SPATIAL_CUBE },
  ),
  evaluate(args, context) {
    const cube = cubeArg('resample_spatial', args, 'data');
    const method = methodArg('resample_spatial', args.method);
    const epsg = args.projection === undefined || args.projection === null ? cube.grid.epsg : epsgOfCrs('resample_spatial', 'projection', args.projection);
    const align = (optionalString('resample_spatial', args, 'align') ?? DEFAULT_ALIGN) as GridAlignment;
    if (!ALIGNMENTS.includes(align)) throw invalid('resample_spatial', 'align', `must be one of ${ALIGNMENTS.join(', ')}`);
    let resolution = resolutionArg(args.resolution);
    const [minX, minY, maxX, maxY] = gridExtent(cube.grid);
    const extent = epsg === cube.grid.epsg ? ([minX, minY, maxX, maxY] as [number, number, number, number]) : envelopeOf('resample_spatial', [[[[minX, minY], [maxX, minY], [maxX, maxY], [minX, maxY], [minX, minY]]]], cube.grid.epsg, epsg);
    if (!extent) throw invalid('resample_spatial', 'projection', `cannot hold the cube's extent (EPSG:${epsg})`);
    if (!resolution) {
      if (epsg === cube.grid.epsg) resolution = [Math.abs(cube.grid.transform[1]), Math.abs(cube.grid.transform[5])];
      else {
        // As many pixels as before over the reprojected extent.
        const size = Math.sqrt(((extent[2] - extent[0]) * (extent[3] - extent[1])) / Math.max(1, cube.grid.width * cube.grid.height));
        resolution = [size, size];
      }
    }
    const grid = gridOver(epsg, extent, resolution, align);
    if (sameGrid(grid, cube.grid)) return new CubeValue(cube);
    return new CubeValue(warpCube('resample_spatial', cube, grid, resampledTiles(cube, grid), method, context.builder));
  },
};

const resampleCubeSpatial: ProcessImplementation = {
  definition: definition(
    'resample_cube_spatial',
    'Resample onto another cube\'s grid',
    'Puts the cube on the grid of another cube: its CRS, resolution, extent and tiling, so the two line up pixel for pixel (and chunk for chunk) for masking or merging.',
    ['cubes', 'reproject'],
    [
      param('data', 'The raster data cube to resample.', SPATIAL_CUBE),
      param('target', 'The cube whose grid to take.', SPATIAL_CUBE),
      param('method', 'How values are resampled; near, bilinear, average, min, max, med, mode and sum are implemented.', { type: 'string', enum: RESAMPLING_METHODS }, { optional: true, default: DEFAULT_METHOD }),
    ],
    { description: 'The data cube on the target\'s grid.', schema: SPATIAL_CUBE },
  ),
  evaluate(args, context) {
    const cube = cubeArg('resample_cube_spatial', args, 'data');
    const target = cubeArg('resample_cube_spatial', args, 'target');
    const method = methodArg('resample_cube_spatial', args.method);
    const tiles = { tileWidth: target.layout.tileWidth, tileHeight: target.layout.tileHeight, offsetX: target.layout.offsetX, offsetY: target.layout.offsetY };
    return new CubeValue(warpCube('resample_cube_spatial', cube, target.grid, tiles, method, context.builder));
  },
};

export const RESAMPLE_PROCESSES: ProcessImplementation[] = [resampleSpatial, resampleCubeSpatial];
