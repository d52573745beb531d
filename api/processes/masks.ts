import { OpenEOError } from '../../common/errors.js';
import type { IRNode } from '../../common/ir.js';
import type { LazyCube } from '../compiler/cube.js';
import { chunkDims, matchingChunk, mergePrograms } from '../compiler/cube-ops.js';
import { parseGeometries } from '../compiler/geometry.js';
import { maskByPolygons } from '../compiler/polygon-mask.js';
import { alignSpatially } from '../compiler/regrid.js';
import { CubeValue, describeValue, type Value } from '../compiler/values.js';
import { booleanArg, cubeArg, invalid } from './arguments.js';
import { GEOJSON, SPATIAL_CUBE } from './cube-common.js';
import { definition, exceptions, param } from './definition.js';
import type { EvaluationContext, ProcessImplementation } from './types.js';

/**
 * Masks replace pixels by a value (no data by default): `mask` where a raster mask is true or
 * non-zero, `mask_polygon` by the position of pixel centres relative to polygons. Both are
 * chunk-local and fuse with their inputs; a mask on another grid is first resampled (nearest)
 * onto the data's grid and tiles.
 */

/** The method a mask on another grid is resampled with (what resample_cube_spatial defaults to). */
const MASK_RESAMPLING = 'near';
/** mask_polygon replaces the pixels outside the polygons unless told otherwise. */
const DEFAULT_INSIDE = false;

/** The replacement as a pixel value: no data for null, 1/0 for booleans. */
function replacementOf(process: string, value: Value | undefined): number {
  if (value === undefined || value === null) return NaN;
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string') throw new OpenEOError('FeatureUnsupported', `${process}: the cubes here hold numbers; a text replacement is not supported`);
  throw invalid(process, 'replacement', `must be a number, a boolean or null, got ${describeValue(value)}`);
}

/** Every non-spatial dimension of the mask must be one of the data's, with the same labels. */
function checkMaskDimensions(data: LazyCube, mask: LazyCube): void {
  for (const dim of mask.dims) {
    if (dim.type === 'spatial') continue;
    const own = data.dims.find((d) => d.name === dim.name);
    const same = own && own.type === dim.type && own.labels.length === dim.labels.length && own.labels.every((l, i) => (dim.type === 'temporal' ? Date.parse(String(l)) === Date.parse(String(dim.labels[i])) : String(l) === String(dim.labels[i])));
    if (!same) throw new OpenEOError('DimensionMismatch', `mask: dimension "${dim.name}" of the mask is not a dimension of the data with the same type and labels`);
  }
}

const mask: ProcessImplementation = {
  definition: definition(
    'mask',
    'Apply a raster mask',
    'Replaces the pixels of a cube where a second cube, the mask, is true or non-zero. The mask may lack dimensions of the data (it then applies along them alike); a mask on another grid is resampled onto the data\'s by nearest neighbour. No data in the mask masks nothing.',
    ['cubes', 'masks'],
    [
      param('data', 'The data cube.', SPATIAL_CUBE),
      param('mask', 'The mask: true or non-zero where pixels are to be replaced.', SPATIAL_CUBE),
      param('replacement', 'The value put in place of masked pixels; null for no data.', { type: ['number', 'boolean', 'string', 'null'] }, { optional: true, default: null }),
    ],
    { description: 'The masked data cube.', schema: SPATIAL_CUBE },
    { exceptions: exceptions({ DimensionMismatch: 'The mask has a dimension the data lacks, or other labels along it.' }) },
  ),
  evaluate(args, context: EvaluationContext) {
    const data = cubeArg('mask', args, 'data');
    const maskCube = cubeArg('mask', args, 'mask');
    const replacement = replacementOf('mask', args.replacement);
    checkMaskDimensions(data, maskCube);
    const aligned = alignSpatially('mask', maskCube, data, MASK_RESAMPLING, context.builder);
    const order = chunkDims(data);
    const masked: LazyCube = {
      dims: data.dims,
      grid: data.grid,
      layout: data.layout,
      description: `${data.description}, masked`,
      chunk(coord) {
        const merged = mergePrograms([data.chunk(coord), matchingChunk(aligned, data, coord)]);
        const [values, flags] = merged.nodes as [IRNode, IRNode];
        // Masked where the mask is neither zero nor no data.
        const masking: IRNode = { op: 'binary', fn: 'coalesce', a: { op: 'binary', fn: 'neq', a: flags, b: { op: 'const', value: 0 } }, b: { op: 'const', value: 0 } };
        const node: IRNode = { op: 'where', cond: masking, then: { op: 'const', value: replacement }, else: values };
        return { node: { op: 'transpose', dims: order, x: node }, inputs: merged.inputs };
      },
    };
    return new CubeValue(masked);
  },
};

const maskPolygon: ProcessImplementation = {
  definition: definition(
    'mask_polygon',
    'Apply a polygon mask',
    'Replaces the pixels whose centres lie outside all polygons (or, with `inside`, inside any of them). Pixels that hold no data keep it.',
    ['cubes', 'masks'],
    [
      param('data', 'The data cube.', SPATIAL_CUBE),
      param('mask', 'GeoJSON polygons: a Polygon, MultiPolygon, Feature or FeatureCollection (vector cubes are not supported).', [
        { type: 'object', subtype: 'datacube', dimensions: [{ type: 'geometry', geometry_type: ['Polygon', 'MultiPolygon'] }] },
        GEOJSON,
      ]),
      param('replacement', 'The value put in place of masked pixels; null for no data.', [{ type: 'number' }, { type: 'boolean' }, { type: 'string' }, { type: 'null' }], { optional: true, default: null }),
      param('inside', 'Replace the pixels inside the polygons instead of those outside.', { type: 'boolean' }, { optional: true, default: DEFAULT_INSIDE }),
    ],
    { description: 'The masked data cube.', schema: SPATIAL_CUBE },
  ),
  evaluate(args) {
    const data = cubeArg('mask_polygon', args, 'data');
    const set = parseGeometries('mask_polygon', 'mask', args.mask ?? null);
    const inside = booleanArg('mask_polygon', args, 'inside', DEFAULT_INSIDE);
    const replacement = replacementOf('mask_polygon', args.replacement);
    return new CubeValue(maskByPolygons('mask_polygon', data, set, inside, replacement, `${data.description}, masked ${inside ? 'inside' : 'outside'} polygons`));
  },
};

export const MASK_PROCESSES: ProcessImplementation[] = [mask, maskPolygon];
