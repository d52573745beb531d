import { OpenEOError } from '../../common/errors.js';
import { type IRNode, PLACEHOLDER } from '../../common/ir.js';
import type { CubeDimension, LazyCube } from '../compiler/cube.js';
import type { BoundingBox } from '../compiler/load.js';
import { CubeValue, describeValue, isSymbolic, SymbolicValue, type Value } from '../compiler/values.js';
import { callbackArg, invalid } from './arguments.js';
import type { EvaluationContext, JsonSchema } from './types.js';

/** Schemas, argument parsing and callback compilation shared by the processes on data cubes. */

export const RASTER_CUBE = { type: 'object', subtype: 'datacube' };
export const SPATIAL_DIMENSIONS = { type: 'spatial', axis: ['x', 'y'] };
export const SPATIAL_CUBE = { ...RASTER_CUBE, dimensions: [SPATIAL_DIMENSIONS] };
export const TEMPORAL_CUBE = { ...RASTER_CUBE, dimensions: [{ type: 'temporal' }] };
export const VECTOR_CUBE = { type: 'object', subtype: 'datacube', dimensions: [{ type: 'geometry' }] };
export const GEOJSON = { type: 'object', subtype: 'geojson', deprecated: true };
export const BBOX_SCHEMA = {
  type: 'object',
  subtype: 'bounding-box',
  required: ['west', 'south', 'east', 'north'],
  properties: {
    west: { type: 'number', description: 'Western edge.' },
    south: { type: 'number', description: 'Southern edge.' },
    east: { type: 'number', description: 'Eastern edge.' },
    north: { type: 'number', description: 'Northern edge.' },
    base: { type: ['number', 'null'], default: null, description: 'Lower height bound (unused: the data are two-dimensional).' },
    height: { type: ['number', 'null'], default: null, description: 'Upper height bound (unused: the data are two-dimensional).' },
    crs: {
      description: 'Coordinate reference system of the edges: an EPSG code, or a WKT2 text that names its EPSG code.',
      anyOf: [{ type: 'integer', subtype: 'epsg-code', minimum: 1000 }, { type: 'string', subtype: 'wkt2-definition' }],
      default: 4326,
    },
  },
};
const TEMPORAL_BOUNDS = { anyOf: [{ type: 'string', format: 'date-time', subtype: 'date-time' }, { type: 'string', format: 'date', subtype: 'date' }, { type: 'null' }] };
export const TEMPORAL_INTERVAL = { type: 'array', subtype: 'temporal-interval', minItems: 2, maxItems: 2, items: TEMPORAL_BOUNDS };
export const RESAMPLING_METHODS = ['average', 'bilinear', 'cubic', 'cubicspline', 'lanczos', 'max', 'med', 'min', 'mode', 'near', 'q1', 'q3', 'rms', 'sum'];

/** A `context` parameter of a callback, in the official shape. */
export function contextParameter(description: string): Record<string, unknown> {
  return { name: 'context', description, schema: {}, optional: true, default: null };
}

/** The schema of a callback receiving the values along a dimension (reducers). */
export function reducerSchema(dataDescription: string, contextDescription: string, returns: { description: string; schema: JsonSchema }, labeled = true): Record<string, unknown> {
  return {
    type: 'object',
    subtype: 'process-graph',
    parameters: [
      { name: 'data', description: dataDescription, schema: labeled ? { type: 'array', subtype: 'labeled-array', items: {} } : { type: 'array', items: {} } },
      contextParameter(contextDescription),
    ],
    returns,
  };
}

export function dimensionOf(process: string, cube: LazyCube, name: string): CubeDimension {
  const dim = cube.dims.find((d) => d.name === name);
  if (!dim) throw new OpenEOError('DimensionNotAvailable', `${process}: the data cube has no dimension "${name}" (dimensions: ${cube.dims.map((d) => d.name).join(', ')})`);
  return dim;
}

export type BandsDimension = Extract<CubeDimension, { type: 'bands' }>;
export type TemporalDimension = Extract<CubeDimension, { type: 'temporal' }>;

export function bandsOf(cube: LazyCube): BandsDimension | undefined {
  return cube.dims.find((d): d is BandsDimension => d.type === 'bands');
}

/**
 * The temporal dimension a process works on: the named one, or the only one. Several temporal
 * dimensions without a name are ambiguous (TooManyDimensions).
 */
export function temporalDimensionArg(process: string, cube: LazyCube, name: string | null): TemporalDimension {
  const temporal = cube.dims.filter((d): d is TemporalDimension => d.type === 'temporal');
  if (name !== null) {
    const dim = temporal.find((d) => d.name === name);
    if (!dim) throw new OpenEOError('DimensionNotAvailable', `${process}: the data cube has no temporal dimension "${name}" (dimensions: ${cube.dims.map((d) => d.name).join(', ')})`);
    return dim;
  }
  if (temporal.length === 0) throw new OpenEOError('DimensionNotAvailable', `${process}: the data cube has no temporal dimension`);
  if (temporal.length > 1) throw new OpenEOError('TooManyDimensions', `${process}: the data cube has ${temporal.length} temporal dimensions (${temporal.map((d) => d.name).join(', ')}); name one with "dimension"`);
  return temporal[0]!;
}

/**
 * Compiles a callback over the pixel values of a chunk; the placeholder stands for the chunk's
 * data. A callback that returns a constant still yields an array of the chunk's layout:
 * `template` (a program of that layout without no data) times zero plus the constant.
 */
export async function compileCallback(
  process: string,
  context: EvaluationContext,
  args: Record<string, Value>,
  callbackName: string,
  parameters: Record<string, Value>,
  template: IRNode = { op: 'unary', fn: 'is_nan', x: PLACEHOLDER },
): Promise<SymbolicValue> {
  const callback = callbackArg(process, args, callbackName);
  const returned = await context.callCallback(callback, parameters);
  // An array of one value (quantiles with one probability) is that value.
  const result = Array.isArray(returned) && returned.length === 1 ? returned[0]! : returned;
  if (isSymbolic(result)) return result;
  const constant = constantOf(result);
  if (constant !== undefined) return new SymbolicValue({ op: 'binary', fn: 'add', a: { op: 'binary', fn: 'mul', a: template, b: { op: 'const', value: 0 } }, b: { op: 'const', value: constant } }, []);
  throw invalid(process, callbackName, `must compute a number for each pixel, but returned ${describeValue(result)}`);
}

/** A plain value as a pixel value (NaN for no data, 1/0 for booleans), or undefined when it is none. */
export function constantOf(value: Value): number | undefined {
  if (value === null) return NaN;
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return undefined;
}

/** The EPSG code of a CRS given as a code, "EPSG:code", or WKT2 whose outermost ID is an EPSG code. */
export function epsgOfCrs(process: string, name: string, crs: Value): number {
  if (typeof crs === 'number' && Number.isInteger(crs)) return crs;
  if (typeof crs === 'string') {
    const code = /^(?:EPSG:)?(\d+)$/i.exec(crs.trim());
    if (code) return Number(code[1]);
    // WKT2 closes with the CRS's own identifier: …, ID["EPSG",25832]]
    const wkt = /ID\[\s*"EPSG"\s*,\s*(\d+)\s*\]\s*\]\s*$/i.exec(crs.trim());
    if (wkt) return Number(wkt[1]);
  }
  throw invalid(process, name, `has a CRS this back-end cannot identify (${typeof crs === 'string' ? `${crs.slice(0, 40)}…` : JSON.stringify(crs)}); give an EPSG code`);
}

export function parseBbox(process: string, name: string, value: Value): BoundingBox {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof CubeValue || isSymbolic(value)) {
    throw invalid(process, name, `must be a bounding box {west, south, east, north, crs}, got ${describeValue(value)}`);
  }
  const box = value as Record<string, Value>;
  const sides = ['west', 'south', 'east', 'north'] as const;
  for (const side of sides) if (typeof box[side] !== 'number') throw invalid(process, name, `needs a numeric "${side}"`);
  const crs = box.crs === undefined || box.crs === null ? 4326 : epsgOfCrs(process, name, box.crs);
  const bbox = { west: box.west as number, south: box.south as number, east: box.east as number, north: box.north as number, crs };
  // In longitude/latitude, west > east is a box across the antimeridian; elsewhere it is a mistake.
  if ((bbox.west > bbox.east && crs !== 4326) || bbox.south > bbox.north) throw invalid(process, name, 'must have west <= east and south <= north');
  return bbox;
}

/** [start, end) from an openEO temporal interval; a date-only end means the start of that day (exclusive). */
export function parseTemporal(process: string, name: string, value: Value): [string | null, string | null] {
  if (!Array.isArray(value) || value.length !== 2) throw invalid(process, name, 'must be an array [start, end]');
  const parse = (v: Value, side: string): string | null => {
    if (v === null) return null;
    if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) throw invalid(process, name, `has an invalid ${side}: ${JSON.stringify(v)}`);
    return /^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v;
  };
  const interval: [string | null, string | null] = [parse(value[0]!, 'start'), parse(value[1]!, 'end')];
  if (interval[0] === null && interval[1] === null) throw invalid(process, name, 'cannot be open at both ends');
  if (interval[0] !== null && interval[1] !== null && Date.parse(interval[1]) <= Date.parse(interval[0])) {
    throw new OpenEOError('TemporalExtentEmpty', `${process}: parameter "${name}" ends (${interval[1]}) before or when it starts (${interval[0]}), so nothing lies in it`);
  }
  return interval;
}

/** Whether a temporal label lies in [start, end). */
export function labelInInterval(label: string | number, interval: [string | null, string | null]): boolean {
  const t = Date.parse(String(label));
  if (Number.isNaN(t)) return false;
  if (interval[0] !== null && t < Date.parse(interval[0])) return false;
  if (interval[1] !== null && t >= Date.parse(interval[1])) return false;
  return true;
}
