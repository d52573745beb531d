import { OpenEOError } from '../../common/errors.js';
import { type IRNode, PLACEHOLDER, substitute, TREE_REDUCERS } from '../../common/ir.js';
import { type LazyCube, nonSpatialDims } from '../compiler/cube.js';
import { asTreeReduction, chunkDims, type TreeReduction } from '../compiler/cube-ops.js';
import { type Period, periodGroups, PERIODS } from '../compiler/periods.js';
import { aggregateGroups } from '../compiler/temporal-groups.js';
import { parseGeometries } from '../compiler/geometry.js';
import type { VectorCube } from '../compiler/vector-cube.js';
import { CubeValue, isSymbolic, SymbolicValue, type Value, VectorCubeValue } from '../compiler/values.js';
import { COUNT_LABELS, GEOMETRY_DIMENSION, zonalStatistics } from '../compiler/zonal.js';
import { arrayArg, callbackArg, cubeArg, invalid, optionalString, stringArg } from './arguments.js';
import { compileCallback, GEOJSON, reducerSchema, SPATIAL_CUBE, type TemporalDimension, TEMPORAL_CUBE, temporalDimensionArg, VECTOR_CUBE } from './cube-common.js';
import { definition, exceptions, param } from './definition.js';
import type { EvaluationContext, ProcessImplementation } from './types.js';

/**
 * Temporal aggregation: the time steps of each interval or calendar period reduced to one
 * label. Plain reducers (mean, max, …) over long periods run as trees of partial results.
 */

/** The dimension of the pixels a zonal reducer sees (while it is compiled). */
const ZONAL_PIXEL_DIMENSION = 'pixel';

/** A reducer callback over time steps, as a tree reduction when it is a plain reducer. */
interface TimeReducer {
  tree: TreeReduction | null;
  program: (data: IRNode) => IRNode;
}

async function compileTimeReducer(process: string, context: EvaluationContext, args: Record<string, Value>, cube: LazyCube, dim: TemporalDimension): Promise<TimeReducer> {
  const data = new SymbolicValue(PLACEHOLDER, chunkDims(cube), dim.name, null);
  // A constant result takes the layout of the reduced chunk (count is never no data).
  const template: IRNode = { op: 'reduce', dim: dim.name, reducer: 'count', ignoreNodata: true, x: PLACEHOLDER };
  const result = await compileCallback(process, context, args, 'reducer', { data, context: args.context ?? null }, template);
  if (result.dims.includes(dim.name)) throw invalid(process, 'reducer', `must return one value per pixel, but the result still varies along ${dim.name}`);
  return { tree: asTreeReduction(result.node, PLACEHOLDER, dim.name), program: (node) => substitute(result.node, node) };
}

/** An instant from a date or date-time; a date-time without zone is UTC. */
function instantOf(text: string): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return Date.parse(`${text}T00:00:00Z`);
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(text)) return Date.parse(`${text}Z`);
  return Date.parse(text);
}

const TIME_OF_DAY = /^(\d{2}):(\d{2}):(\d{2})$/;

function secondsOfDay(text: string): number | null {
  const match = TIME_OF_DAY.exec(text);
  return match ? Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]) : null;
}

/** Whether a label lies in an interval: [start, end) of instants, or of times of day (wrapping past midnight). */
type IntervalTest = (label: string) => boolean;

function intervalTest(value: Value, position: number): IntervalTest {
  if (!Array.isArray(value) || value.length !== 2 || value.some((v) => v !== null && typeof v !== 'string')) {
    throw invalid('aggregate_temporal', 'intervals', `has an entry (${position}) that is not [start, end]`);
  }
  const [start, end] = value as (string | null)[];
  const startTime = start === null ? null : secondsOfDay(start);
  const endTime = end === null ? null : secondsOfDay(end);
  if (startTime !== null || endTime !== null) {
    if (startTime === null || endTime === null) throw invalid('aggregate_temporal', 'intervals', `mixes a time of day with a date in entry ${position}`);
    return (label) => {
      const t = instantOf(label);
      if (Number.isNaN(t)) return false;
      const s = Math.floor((((t / 1000) % 86_400) + 86_400) % 86_400);
      return startTime <= endTime ? s >= startTime && s < endTime : s >= startTime || s < endTime;
    };
  }
  const a = start === null ? -Infinity : instantOf(start);
  const b = end === null ? Infinity : instantOf(end);
  if (Number.isNaN(a) || Number.isNaN(b)) throw invalid('aggregate_temporal', 'intervals', `has an entry (${position}) that is not made of dates or times`);
  if (b <= a) throw new OpenEOError('TemporalExtentEmpty', `aggregate_temporal: interval ${position} [${start}, ${end}) ends before or where it starts`);
  return (label) => {
    const t = instantOf(label);
    return !Number.isNaN(t) && t >= a && t < b;
  };
}

const aggregateTemporal: ProcessImplementation = {
  definition: definition(
    'aggregate_temporal',
    'Aggregate over time intervals',
    'Reduces the time steps of each interval (start included, end excluded; intervals may overlap, and times of day may wrap past midnight) to one value per pixel. Each interval becomes one label, by default its start.',
    ['cubes', 'aggregate'],
    [
      param('data', 'A data cube with a temporal dimension.', TEMPORAL_CUBE),
      param('intervals', 'The intervals [start, end): dates, date-times, or times of day (HH:MM:SS); null leaves an end open.', {
        type: 'array',
        subtype: 'temporal-intervals',
        minItems: 1,
        items: {
          type: 'array',
          subtype: 'temporal-interval',
          uniqueItems: true,
          minItems: 2,
          maxItems: 2,
          items: {
            anyOf: [
              { type: 'string', format: 'date-time', subtype: 'date-time' },
              { type: 'string', format: 'date', subtype: 'date' },
              { type: 'string', subtype: 'time', pattern: '^\\d{2}:\\d{2}:\\d{2}$' },
              { type: 'null' },
            ],
          },
        },
      }),
      param('reducer', 'Reduces the values of one interval to one.', reducerSchema('The values of one pixel in the interval.', 'The `context` given to aggregate_temporal.', { description: 'The value for the interval.', schema: {} })),
      param('labels', 'One distinct label per interval; needed when intervals share a start.', { type: 'array', uniqueItems: true, items: { type: ['number', 'string'] } }, { optional: true, default: [] }),
      param('dimension', 'The temporal dimension; may be null when there is only one.', { type: ['string', 'null'] }, { optional: true, default: null }),
      param('context', 'Passed to the reducer.', {}, { optional: true, default: null }),
    ],
    { description: 'The data cube with one time step per interval.', schema: TEMPORAL_CUBE },
    {
      exceptions: exceptions({
        TooManyDimensions: 'No dimension was named and the cube has several temporal dimensions.',
        DimensionNotAvailable: 'The cube has no (such) temporal dimension.',
        DistinctDimensionLabelsRequired: 'Intervals share a start and no labels were given.',
        TemporalExtentEmpty: 'An interval ends before or where it starts.',
      }),
    },
  ),
  async evaluate(args, context) {
    const cube = cubeArg('aggregate_temporal', args, 'data');
    const intervals = arrayArg('aggregate_temporal', args, 'intervals');
    const dim = temporalDimensionArg('aggregate_temporal', cube, optionalString('aggregate_temporal', args, 'dimension'));
    const tests = intervals.map(intervalTest);
    const given = args.labels === undefined || args.labels === null ? [] : arrayArg('aggregate_temporal', args, 'labels');
    let labels: string[];
    if (given.length > 0) {
      if (given.length !== intervals.length) throw invalid('aggregate_temporal', 'labels', `has ${given.length} labels for ${intervals.length} intervals`);
      labels = given.map(String);
    } else {
      labels = intervals.map((interval) => {
        const [start, end] = interval as (string | null)[];
        return start ?? `..${end}`;
      });
    }
    const duplicate = labels.find((l, i) => labels.indexOf(l) !== i);
    if (duplicate !== undefined) throw new OpenEOError('DistinctDimensionLabelsRequired', `aggregate_temporal: the label "${duplicate}" would occur twice; give distinct labels`);
    const groups = tests.map((inside) => dim.labels.flatMap((label, i) => (inside(label) ? [i] : [])));
    const reducer = await compileTimeReducer('aggregate_temporal', context, args, cube, dim);
    return new CubeValue(aggregateGroups(cube, dim, groups, labels, reducer.tree, reducer.program, context.builder, `${cube.description}, aggregated over ${groups.length} intervals`));
  },
};

const aggregateTemporalPeriod: ProcessImplementation = {
  definition: definition(
    'aggregate_temporal_period',
    'Aggregate over calendar periods',
    'Reduces the time steps of each calendar period (hour, day, ISO week, dekad, month, season, tropical season, year, decade) to one value per pixel. Every period from the first time step\'s to the last one\'s gets a label, even one without time steps.',
    ['aggregate', 'climatology', 'cubes'],
    [
      param('data', 'A data cube with a temporal dimension.', TEMPORAL_CUBE),
      param('period', 'The calendar period.', { type: 'string', enum: [...PERIODS] }),
      param('reducer', 'Reduces the values of one period to one.', reducerSchema('The values of one pixel in the period.', 'The `context` given to aggregate_temporal_period.', { description: 'The value for the period.', schema: {} })),
      param('dimension', 'The temporal dimension; may be null when there is only one.', { type: ['string', 'null'] }, { optional: true, default: null }),
      param('context', 'Passed to the reducer.', {}, { optional: true, default: null }),
    ],
    { description: 'The data cube with one time step per period, labelled like 2024-01 (month) or 2023-djf (season).', schema: TEMPORAL_CUBE },
    { exceptions: exceptions({ TooManyDimensions: 'No dimension was named and the cube has several temporal dimensions.', DimensionNotAvailable: 'The cube has no (such) temporal dimension.' }) },
  ),
  async evaluate(args, context) {
    const cube = cubeArg('aggregate_temporal_period', args, 'data');
    const period = stringArg('aggregate_temporal_period', args, 'period');
    if (!(PERIODS as readonly string[]).includes(period)) throw invalid('aggregate_temporal_period', 'period', `must be one of ${PERIODS.join(', ')}`);
    const dim = temporalDimensionArg('aggregate_temporal_period', cube, optionalString('aggregate_temporal_period', args, 'dimension'));
    const { labels, groups } = periodGroups(period as Period, dim.labels.map(instantOf));
    const reducer = await compileTimeReducer('aggregate_temporal_period', context, args, cube, dim);
    return new CubeValue(aggregateGroups(cube, dim, groups, labels, reducer.tree, reducer.program, context.builder, `${cube.description}, aggregated by ${period}`));
  },
};

const aggregateSpatial: ProcessImplementation = {
  definition: definition(
    'aggregate_spatial',
    'Zonal statistics',
    'Reduces the pixels whose centres lie in each polygon to one value per polygon (and per label of the cube\'s other dimensions), e.g. the mean temperature of a sea area per day. The reducer must be one of mean, sum, min, max, count, sd, variance, first, last or product, which combine across tiles; the result is a vector cube of one value per geometry.',
    ['cubes', 'aggregate'],
    [
      param('data', 'A raster data cube.', SPATIAL_CUBE),
      param('geometries', 'GeoJSON polygons: a Polygon or MultiPolygon (one geometry), a Feature, or a FeatureCollection (one geometry per feature). Vector cubes are not supported.', [VECTOR_CUBE, GEOJSON]),
      param('reducer', 'Reduces the values of one geometry to one.', reducerSchema('The values of the pixels in the geometry, in no particular order.', 'The `context` given to aggregate_spatial.', { description: 'The value for the geometry.', schema: {} }, false)),
      param('target_dimension', 'When given, a dimension of this name is added with the labels value, total_count (pixels in the geometry) and valid_count (those holding data).', { type: ['string', 'null'] }, { optional: true, default: null }),
      param('context', 'Passed to the reducer.', {}, { optional: true, default: null }),
    ],
    { description: 'A vector cube: per geometry (by its position among the geometries given) the values along the cube\'s other dimensions.', schema: VECTOR_CUBE },
    { exceptions: exceptions({ TargetDimensionExists: 'The cube already has a dimension of that name.' }) },
  ),
  async evaluate(args, context) {
    const cube = cubeArg('aggregate_spatial', args, 'data');
    const set = parseGeometries('aggregate_spatial', 'geometries', args.geometries ?? null);
    const target = optionalString('aggregate_spatial', args, 'target_dimension');
    if (target !== null && (cube.dims.some((d) => d.name === target) || target === GEOMETRY_DIMENSION)) {
      throw new OpenEOError('TargetDimensionExists', `aggregate_spatial: the data cube already has a dimension "${target}"`);
    }
    const others = nonSpatialDims(cube);
    const data = new SymbolicValue(PLACEHOLDER, [ZONAL_PIXEL_DIMENSION, ...others.map((d) => d.name)], ZONAL_PIXEL_DIMENSION, null);
    const result = await context.callCallback(callbackArg('aggregate_spatial', args, 'reducer'), { data, context: args.context ?? null });
    const tree = isSymbolic(result) ? asTreeReduction(result.node, PLACEHOLDER, ZONAL_PIXEL_DIMENSION) : null;
    if (!tree) {
      throw new OpenEOError('FeatureUnsupported', `aggregate_spatial: the reducer must be exactly one of ${TREE_REDUCERS.join(', ')} on the pixel values (they combine across tiles)`);
    }
    const { program, dims } = zonalStatistics(cube, set, { tree, countsDimension: target }, context.builder);
    const geometries = geometryList(args.geometries ?? null);
    const vectorDims: VectorCube['dims'] = dims.map((name) => {
      if (name === GEOMETRY_DIMENSION) return { name, type: 'geometry', labels: set.geometries.map((_, i) => i) };
      if (name === target) return { name, type: 'other', labels: COUNT_LABELS };
      const dim = others.find((d) => d.name === name)!;
      return { name, type: dim.type, labels: [...dim.labels] };
    });
    return new VectorCubeValue({ geometries, dims: vectorDims, program, statistic: tree.reducer, description: `zonal ${tree.reducer} of ${cube.description} over ${set.geometries.length} geometries` });
  },
};

/** The geometries of a GeoJSON argument as a list, one per geometry dimension label. */
function geometryList(value: Value): unknown[] {
  const v = value as Record<string, unknown> | null;
  if (v && v.type === 'FeatureCollection' && Array.isArray(v.features)) return v.features as unknown[];
  return [v];
}

export const AGGREGATE_PROCESSES: ProcessImplementation[] = [aggregateTemporal, aggregateTemporalPeriod, aggregateSpatial];
