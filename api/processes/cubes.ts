import { OpenEOError } from '../../common/errors.js';
import { type IRNode, PLACEHOLDER, substitute } from '../../common/ir.js';
import { asTreeReduction, chunkDims, mapChunks, reduceTime } from '../compiler/cube-ops.js';
import { loadCollection, type LoadRequest } from '../compiler/load.js';
import { CubeValue, SymbolicValue, type Value } from '../compiler/values.js';
import { callbackArg, cubeArg, invalid, objectArg, optionalString, stringArg, stringArray } from './arguments.js';
import { applyDimension } from './apply-dimension.js';
import { bandsOf, BBOX_SCHEMA, compileCallback, dimensionOf, parseBbox, parseTemporal, RASTER_CUBE, SPATIAL_DIMENSIONS, TEMPORAL_INTERVAL, VECTOR_CUBE } from './cube-common.js';
import { definition, param } from './scalar.js';
import type { EvaluationContext, ProcessImplementation } from './types.js';

/** Processes on data cubes: loading, applying and reducing. */

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
      // A constant reducer result takes the layout of the reduced chunk (count is never no data).
      const template: IRNode = { op: 'reduce', dim: dim.name, reducer: 'count', ignoreNodata: true, x: PLACEHOLDER };
      const result = await compileCallback('reduce_dimension', context, args, 'reducer', { data, context: args.context ?? null }, template);
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
      const bands = bandsOf(cube);
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
  applyDimension,
];
