import { OpenEOError } from '../../common/errors.js';
import { type IRNode, PLACEHOLDER, substitute } from '../../common/ir.js';
import { type CubeDimension, type LazyCube, temporalDim } from '../compiler/cube.js';
import { asTreeReduction, chunkDims, mapChunks, reduceTime } from '../compiler/cube-ops.js';
import { type BoundingBox, loadCollection, type LoadRequest } from '../compiler/load.js';
import { CubeValue, describeValue, isSymbolic, SymbolicValue, type Value } from '../compiler/values.js';
import { callbackArg, cubeArg, invalid, objectArg, optionalString, stringArg, stringArray } from './arguments.js';
import { definition, param } from './scalar.js';
import type { EvaluationContext, ProcessImplementation } from './types.js';

/** Processes on data cubes: loading, filtering, applying and reducing. */

const RASTER_CUBE = { type: 'object', subtype: 'datacube' };
const SPATIAL_DIMENSIONS = { type: 'spatial', axis: ['x', 'y'] };
const VECTOR_CUBE = { type: 'object', subtype: 'datacube', dimensions: [{ type: 'geometry' }] };
const BBOX_SCHEMA = {
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
      description: 'Coordinate reference system of the edges; EPSG codes are supported.',
      anyOf: [{ type: 'integer', subtype: 'epsg-code', minimum: 1000 }, { type: 'string', subtype: 'wkt2-definition' }],
      default: 4326,
    },
  },
};
const TEMPORAL_BOUNDS = { anyOf: [{ type: 'string', format: 'date-time', subtype: 'date-time' }, { type: 'string', format: 'date', subtype: 'date' }, { type: 'null' }] };
const TEMPORAL_INTERVAL = { type: 'array', subtype: 'temporal-interval', minItems: 2, maxItems: 2, items: TEMPORAL_BOUNDS };

export function parseBbox(process: string, name: string, value: Value): BoundingBox {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof CubeValue || isSymbolic(value)) {
    throw invalid(process, name, `must be a bounding box {west, south, east, north, crs}, got ${describeValue(value)}`);
  }
  const box = value as Record<string, Value>;
  const sides = ['west', 'south', 'east', 'north'] as const;
  for (const side of sides) if (typeof box[side] !== 'number') throw invalid(process, name, `needs a numeric "${side}"`);
  let crs = 4326;
  if (box.crs !== undefined && box.crs !== null) {
    if (typeof box.crs === 'number') crs = box.crs;
    else if (typeof box.crs === 'string' && /^(EPSG:)?\d+$/i.test(box.crs)) crs = Number(box.crs.replace(/^EPSG:/i, ''));
    else throw invalid(process, name, `has a crs (${String(box.crs)}) that is not an EPSG code`);
  }
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
  if (interval[0] !== null && interval[1] !== null && Date.parse(interval[1]) < Date.parse(interval[0])) throw invalid(process, name, 'ends before it starts');
  return interval;
}

function dimensionOf(process: string, cube: LazyCube, name: string): CubeDimension {
  const dim = cube.dims.find((d) => d.name === name);
  if (!dim) throw new OpenEOError('DimensionNotAvailable', `${process}: the data cube has no dimension "${name}" (dimensions: ${cube.dims.map((d) => d.name).join(', ')})`);
  return dim;
}

/** Compiles a callback over the pixel values of a chunk; the placeholder stands for the chunk's data. */
async function compileCallback(process: string, context: EvaluationContext, args: Record<string, Value>, callbackName: string, parameters: Record<string, Value>): Promise<SymbolicValue> {
  const callback = callbackArg(process, args, callbackName);
  const result = await context.callCallback(callback, parameters);
  if (isSymbolic(result)) return result;
  if (typeof result === 'number' || result === null || typeof result === 'boolean') {
    const value = result === null ? NaN : Number(result);
    // A constant: keep the chunk's layout by combining with the data (x * 0 + c).
    return new SymbolicValue({ op: 'binary', fn: 'add', a: { op: 'binary', fn: 'mul', a: PLACEHOLDER, b: { op: 'const', value: 0 } }, b: { op: 'const', value } }, []);
  }
  throw invalid(process, callbackName, `must compute a number for each pixel, but returned ${describeValue(result)}`);
}

async function itemFilter(context: EvaluationContext, properties: Record<string, Value> | null, items: { id: string; cloudCover: number | null; datetime: string }[]): Promise<Set<string> | null> {
  if (!properties) return null;
  const allowed = new Set<string>();
  for (const item of items) {
    let keep = true;
    for (const [property, condition] of Object.entries(properties)) {
      const value: Value = property === 'eo:cloud_cover' ? item.cloudCover : property === 'datetime' ? item.datetime : null;
      const outcome = await context.callCallback(callbackArg('load_collection', { [property]: condition }, property), { value });
      if (outcome !== true) keep = false;
    }
    if (keep) allowed.add(item.id);
  }
  return allowed;
}

export const CUBE_PROCESSES: ProcessImplementation[] = [
  {
    definition: definition(
      'load_collection',
      'Load a collection',
      'Loads a collection from the catalog as a data cube, limited to a spatial extent, a time range, bands and item properties. Only what lies inside the limits is ever read.',
      ['cubes', 'import'],
      [
        param('id', 'The collection id.', { type: 'string', subtype: 'collection-id', pattern: '^[\\w\\-\\.~/]+$' }),
        param('spatial_extent', 'Limits the data to a bounding box (pixel centres inside), or null for all of it. GeoJSON and vector cubes are not supported.', [
          BBOX_SCHEMA,
          { type: 'object', subtype: 'geojson', deprecated: true },
          VECTOR_CUBE,
          { type: 'null' },
        ]),
        param('temporal_extent', 'Limits the data to [start, end) in time, or null for all of it.', [{ ...TEMPORAL_INTERVAL, uniqueItems: true }, { type: 'null' }]),
        param('bands', 'Band names or common names to load, in this order; null for all bands.', [{ type: 'array', minItems: 1, items: { type: 'string', subtype: 'band-name' } }, { type: 'null' }], { optional: true, default: null }),
        param(
          'properties',
          'Conditions on item metadata, e.g. on eo:cloud_cover.',
          [
            {
              type: 'object',
              subtype: 'metadata-filter',
              additionalProperties: {
                type: 'object',
                subtype: 'process-graph',
                parameters: [{ name: 'value', description: 'The property of one item.', schema: {} }],
                returns: { description: 'Whether to load the item.', schema: { type: 'boolean' } },
              },
            },
            { type: 'null' },
          ],
          { optional: true, default: null },
        ),
      ],
      { description: 'A data cube with the dimensions x, y, t and bands.', schema: RASTER_CUBE },
    ),
    async evaluate(args, context) {
      const id = stringArg('load_collection', args, 'id');
      const record = await context.catalog.get(id);
      if (!record) throw new OpenEOError('CollectionNotFound', `collection "${id}" does not exist; GET /collections lists the available ones`);
      const request: LoadRequest = {
        spatialExtent: args.spatial_extent === null || args.spatial_extent === undefined ? null : parseBbox('load_collection', 'spatial_extent', args.spatial_extent),
        temporalExtent: args.temporal_extent === null || args.temporal_extent === undefined ? null : parseTemporal('load_collection', 'temporal_extent', args.temporal_extent),
        bands: stringArray('load_collection', args, 'bands'),
        maxCloudCover: null,
        allowedItems: record.source.kind === 'cog-items' ? await itemFilter(context, objectArg('load_collection', args, 'properties'), record.source.items) : null,
      };
      return new CubeValue(loadCollection(record, request));
    },
  },
  {
    definition: definition(
      'reduce_dimension',
      'Reduce a dimension',
      'Reduces one dimension of the data cube to a single value per pixel with a reducer, e.g. the maximum over time. Over time the reduction runs as a tree of partial results, so memory stays bounded for long series.',
      ['cubes', 'reducer'],
      [
        param('data', 'The data cube.', RASTER_CUBE),
        param('reducer', 'A reducer: receives the values along the dimension as `data` and returns one value.', {
          type: 'object',
          subtype: 'process-graph',
          parameters: [
            { name: 'data', description: 'The values along the dimension, labelled.', schema: { type: 'array', subtype: 'labeled-array', items: {} } },
            { name: 'context', description: 'The `context` given to reduce_dimension.', schema: {}, optional: true, default: null },
          ],
          returns: { description: 'The one value for the pixel.', schema: {} },
        }),
        param('dimension', 'The dimension to reduce.', { type: 'string' }),
        param('context', 'Passed to the reducer.', {}, { optional: true, default: null }),
      ],
      { description: 'The data cube without the reduced dimension.', schema: RASTER_CUBE },
    ),
    async evaluate(args, context) {
      const cube = cubeArg('reduce_dimension', args, 'data');
      const dimName = stringArg('reduce_dimension', args, 'dimension');
      const dim = dimensionOf('reduce_dimension', cube, dimName);
      if (dim.type === 'spatial') throw new OpenEOError('FeatureUnsupported', 'reduce_dimension over a spatial dimension is not supported; use aggregate_spatial');
      const data = new SymbolicValue(PLACEHOLDER, chunkDims(cube), dim.name, dim.labels);
      const result = await compileCallback('reduce_dimension', context, args, 'reducer', { data, context: args.context ?? null });
      if (result.dims.includes(dim.name)) throw invalid('reduce_dimension', 'reducer', `must return one value per pixel, but the result still varies along ${dim.name}`);
      const dims = cube.dims.filter((d) => d.name !== dim.name);
      if (dim.type === 'temporal') {
        const tree = asTreeReduction(result.node, PLACEHOLDER, dim.name);
        return new CubeValue(reduceTime(cube, tree, (node) => substitute(result.node, node), context.builder));
      }
      return new CubeValue(mapChunks(cube, dims, (node) => substitute(result.node, node), `${cube.description}, reduced over ${dim.name}`));
    },
  },
  {
    definition: definition(
      'apply',
      'Apply a process to each pixel',
      'Applies a process to every value of the data cube; dimensions and labels stay as they are.',
      ['cubes'],
      [
        param('data', 'The data cube.', RASTER_CUBE),
        param('process', 'A process receiving each value as `x` and returning the new value.', {
          type: 'object',
          subtype: 'process-graph',
          parameters: [
            { name: 'x', description: 'The value of one pixel.', schema: {} },
            { name: 'context', description: 'The `context` given to apply.', schema: {}, optional: true, default: null },
          ],
          returns: { description: 'The new value of the pixel.', schema: {} },
        }),
        param('context', 'Passed to the process.', {}, { optional: true, default: null }),
      ],
      { description: 'A data cube of the same shape.', schema: RASTER_CUBE },
    ),
    async evaluate(args, context) {
      const cube = cubeArg('apply', args, 'data');
      const x = new SymbolicValue(PLACEHOLDER, chunkDims(cube));
      const result = await compileCallback('apply', context, args, 'process', { x, context: args.context ?? null });
      return new CubeValue(mapChunks(cube, cube.dims, (node) => substitute(result.node, node), `${cube.description}, applied`));
    },
  },
  {
    definition: definition(
      'ndvi',
      'Normalized Difference Vegetation Index',
      'Computes (nir - red) / (nir + red) from two bands of the data cube, found by band name or common name.',
      ['cubes', 'math > indices', 'vegetation indices'],
      [
        param('data', 'A data cube with a bands dimension.', { ...RASTER_CUBE, dimensions: [SPATIAL_DIMENSIONS, { type: 'bands' }] }),
        param('nir', 'Name or common name of the near-infrared band.', { type: 'string', subtype: 'band-name' }, { optional: true, default: 'nir' }),
        param('red', 'Name or common name of the red band.', { type: 'string', subtype: 'band-name' }, { optional: true, default: 'red' }),
        param('target_band', 'Keep the bands and add the NDVI as a band of this name; null drops the bands dimension.', [{ type: 'string', pattern: '^\\w+$' }, { type: 'null' }], { optional: true, default: null }),
      ],
      { description: 'The NDVI data cube.', schema: { ...RASTER_CUBE, dimensions: [SPATIAL_DIMENSIONS] } },
      { exceptions: { NirBandAmbiguous: { message: 'The NIR band cannot be identified.' }, RedBandAmbiguous: { message: 'The red band cannot be identified.' }, DimensionAmbiguous: { message: 'The data cube has no bands dimension.' }, BandExists: { message: 'A band with the target name exists already.' } } },
    ),
    evaluate(args) {
      const cube = cubeArg('ndvi', args, 'data');
      const bands = cube.dims.find((d): d is Extract<CubeDimension, { type: 'bands' }> => d.type === 'bands');
      if (!bands) throw new OpenEOError('DimensionNotAvailable', 'ndvi: the data cube has no bands dimension');
      const find = (parameter: 'nir' | 'red'): number => {
        const wanted = optionalString('ndvi', args, parameter) ?? parameter;
        let index = bands.labels.indexOf(wanted);
        if (index < 0 && bands.commonNames) index = bands.commonNames.indexOf(wanted);
        if (index < 0) throw new OpenEOError('BandNotAvailable', `ndvi: no band named or commonly named "${wanted}" (bands: ${bands.labels.join(', ')})`);
        return index;
      };
      const nir = find('nir');
      const red = find('red');
      const target = optionalString('ndvi', args, 'target_band');
      const ndviOf = (node: IRNode): IRNode => ({ op: 'binary', fn: 'normdiff', a: { op: 'select', dim: bands.name, index: nir, x: node }, b: { op: 'select', dim: bands.name, index: red, x: node } });
      if (target === null) {
        return new CubeValue(mapChunks(cube, cube.dims.filter((d) => d !== bands), ndviOf, `NDVI of ${cube.description}`));
      }
      if (bands.labels.includes(target)) throw invalid('ndvi', 'target_band', `"${target}" is already a band`);
      const dims = cube.dims.map((d) => (d === bands ? { ...bands, labels: [...bands.labels, target], commonNames: bands.commonNames ? [...bands.commonNames, null] : undefined } : d));
      const axisAfterBands = bands.name;
      return new CubeValue(mapChunks(cube, dims, (node) => ({ op: 'concat', dim: axisAfterBands, parts: [node, { op: 'expand', dim: bands.name, x: ndviOf(node) }] }), `${cube.description} with NDVI`));
    },
  },
  {
    definition: definition(
      'filter_bands',
      'Filter the bands',
      'Keeps the listed bands, in the listed order.',
      ['cubes', 'filter'],
      [
        param('data', 'A data cube with bands.', { ...RASTER_CUBE, dimensions: [{ type: 'bands' }] }),
        param('bands', 'Band names or common names.', { type: 'array', items: { type: 'string', subtype: 'band-name' } }, { optional: true, default: [] }),
        param('wavelengths', 'Not supported: select bands by name.', { type: 'array', items: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'number' } } }, { optional: true, default: [] }),
      ],
      { description: 'The data cube with the selected bands.', schema: { ...RASTER_CUBE, dimensions: [{ type: 'bands' }] } },
    ),
    evaluate(args) {
      const cube = cubeArg('filter_bands', args, 'data');
      const wanted = stringArray('filter_bands', args, 'bands') ?? [];
      if (wanted.length === 0) throw invalid('filter_bands', 'bands', 'must list at least one band');
      const bands = cube.dims.find((d): d is Extract<CubeDimension, { type: 'bands' }> => d.type === 'bands');
      if (!bands) throw new OpenEOError('DimensionNotAvailable', 'filter_bands: the data cube has no bands dimension');
      const indices = wanted.map((name) => {
        let i = bands.labels.indexOf(name);
        if (i < 0 && bands.commonNames) i = bands.commonNames.indexOf(name);
        if (i < 0) throw new OpenEOError('BandNotAvailable', `filter_bands: no band "${name}" (bands: ${bands.labels.join(', ')})`);
        return i;
      });
      if (cube.reload) return new CubeValue(cube.reload({ bands: indices.map((i) => bands.labels[i]!) }));
      const dims = cube.dims.map((d) => (d === bands ? { ...bands, labels: indices.map((i) => bands.labels[i]!), commonNames: bands.commonNames ? indices.map((i) => bands.commonNames![i]!) : undefined } : d));
      return new CubeValue(mapChunks(cube, dims, (node) => ({ op: 'take', dim: bands.name, indices, x: node }), `${cube.description}, bands ${wanted.join(', ')}`));
    },
  },
  {
    definition: definition(
      'filter_temporal',
      'Filter by time',
      'Keeps the time steps in [start, end).',
      ['cubes', 'filter'],
      [
        param('data', 'A data cube.', { ...RASTER_CUBE, dimensions: [{ type: 'temporal' }] }),
        param('extent', 'The interval [start, end).', TEMPORAL_INTERVAL),
        param('dimension', 'The temporal dimension; the only one when null.', { type: ['string', 'null'] }, { optional: true, default: null }),
      ],
      { description: 'The data cube limited in time.', schema: { ...RASTER_CUBE, dimensions: [{ type: 'temporal' }] } },
    ),
    evaluate(args) {
      const cube = cubeArg('filter_temporal', args, 'data');
      const extent = parseTemporal('filter_temporal', 'extent', args.extent ?? null);
      if (!temporalDim(cube)) throw new OpenEOError('DimensionNotAvailable', 'filter_temporal: the data cube has no temporal dimension');
      if (!cube.reload) throw new OpenEOError('FeatureUnsupported', 'filter_temporal is supported right after load_collection only');
      return new CubeValue(cube.reload({ temporal: extent }));
    },
  },
  {
    definition: definition(
      'filter_bbox',
      'Filter by bounding box',
      'Keeps the pixels whose centres lie in the bounding box.',
      ['cubes', 'filter'],
      [param('data', 'A raster data cube (vector cubes are not supported).', [{ ...RASTER_CUBE, dimensions: [SPATIAL_DIMENSIONS] }, VECTOR_CUBE]), param('extent', 'The bounding box.', BBOX_SCHEMA)],
      { description: 'The data cube limited in space.', schema: [{ ...RASTER_CUBE, dimensions: [SPATIAL_DIMENSIONS] }, VECTOR_CUBE] },
    ),
    evaluate(args) {
      const cube = cubeArg('filter_bbox', args, 'data');
      const bbox = parseBbox('filter_bbox', 'extent', args.extent ?? null);
      if (!cube.reload) throw new OpenEOError('FeatureUnsupported', 'filter_bbox is supported right after load_collection only');
      return new CubeValue(cube.reload({ bbox }));
    },
  },
];
