import { OpenEOError } from '../../common/errors.js';
import { type IRNode, PLACEHOLDER, substitute } from '../../common/ir.js';
import { type CubeDimension, temporalDim } from '../compiler/cube.js';
import { chunkDims, mapChunks, wholeTime } from '../compiler/cube-ops.js';
import { CubeValue, describeValue, isSymbolic, SymbolicValue, type Value } from '../compiler/values.js';
import { callbackArg, cubeArg, invalid, optionalString, stringArg } from './arguments.js';
import { constantOf, contextParameter, dimensionOf, RASTER_CUBE } from './cube-common.js';
import { definition, param } from './definition.js';
import type { ProcessImplementation } from './types.js';

/**
 * apply_dimension: a process on the series of values along one dimension, giving a new series.
 * The callback compiles into one chunk program (fused with what comes before and after); along
 * time it needs the whole series of a pixel, so the time blocks of a tile are joined first.
 */

/** The values of the new dimension and the program computing them from the chunk (placeholder). */
interface SeriesResult {
  node: IRNode;
  count: number;
}

function seriesOf(result: Value, dim: string, target: string, template: IRNode): SeriesResult {
  if (isSymbolic(result) && result.dims.includes(dim)) {
    // A series as long as the input (e.g. absolute values of it), along the same dimension.
    const node: IRNode = dim === target ? result.node : { op: 'rename', from: dim, to: target, x: result.node };
    return { node, count: -1 };
  }
  const elements = Array.isArray(result) ? result : [result];
  if (elements.length === 0) throw invalid('apply_dimension', 'process', 'must return at least one value per pixel');
  const parts = elements.map((element, i): IRNode => {
    if (isSymbolic(element)) {
      if (element.dims.includes(dim)) throw invalid('apply_dimension', 'process', `returned an element (${i}) that still varies along ${dim}; return an array of single values or one series`);
      return element.node;
    }
    const constant = constantOf(element);
    if (constant === undefined) throw invalid('apply_dimension', 'process', `must return numbers, got ${describeValue(element)} at position ${i}`);
    return { op: 'binary', fn: 'add', a: { op: 'binary', fn: 'mul', a: template, b: { op: 'const', value: 0 } }, b: { op: 'const', value: constant } };
  });
  return { node: { op: 'stack', dim: target, parts }, count: parts.length };
}

export const applyDimension: ProcessImplementation = {
  definition: definition(
    'apply_dimension',
    'Apply a process along a dimension',
    'Runs a process on the series of values along one dimension of each pixel (for example its time series) and puts the series it returns in that dimension\'s place. Labels survive when the series keeps its length and dimension; otherwise the new labels count from zero.',
    ['cubes'],
    [
      param('data', 'The data cube.', RASTER_CUBE),
      param('process', 'Receives the series of one pixel as `data` and returns a new series (an array of at least one value).', {
        type: 'object',
        subtype: 'process-graph',
        parameters: [
          { name: 'data', description: 'The values along the dimension, labelled.', schema: { type: 'array', subtype: 'labeled-array', items: {} } },
          contextParameter('The `context` given to apply_dimension.'),
        ],
        returns: { description: 'The new series.', schema: { type: 'array', items: {} } },
      }),
      param('dimension', 'The dimension whose series the process receives.', { type: 'string' }),
      param('target_dimension', 'Where the new series goes: a new dimension of type other with this name (the source dimension is dropped), or null for the source dimension itself.', { type: ['string', 'null'] }, { optional: true, default: null }),
      param('context', 'Passed to the process.', {}, { optional: true, default: null }),
    ],
    { description: 'The data cube with the computed series in place of the source dimension.', schema: RASTER_CUBE },
    { exceptions: { DimensionNotAvailable: { message: 'The data cube has no dimension of that name.' } } },
  ),
  async evaluate(args, context) {
    const cube = cubeArg('apply_dimension', args, 'data');
    const dimName = stringArg('apply_dimension', args, 'dimension');
    const dim = dimensionOf('apply_dimension', cube, dimName);
    if (dim.type === 'spatial') throw new OpenEOError('FeatureUnsupported', 'apply_dimension along a spatial dimension is not supported; use apply_kernel for neighbourhoods');
    const target = optionalString('apply_dimension', args, 'target_dimension') ?? dim.name;
    if (target !== dim.name && cube.dims.some((d) => d.name === target)) throw invalid('apply_dimension', 'target_dimension', `names an existing dimension ("${target}"); choose a new name or null`);
    // Along the blocked time dimension the series of a pixel spans every time block.
    const source = temporalDim(cube) === dim ? wholeTime(cube) : cube;
    const data = new SymbolicValue(PLACEHOLDER, chunkDims(cube), dim.name, dim.labels);
    const result = await context.callCallback(callbackArg('apply_dimension', args, 'process'), { data, context: args.context ?? null });
    const template: IRNode = { op: 'reduce', dim: dim.name, reducer: 'count', ignoreNodata: true, x: PLACEHOLDER };
    const series = seriesOf(result, dim.name, target, template);
    const count = series.count < 0 ? dim.labels.length : series.count;
    const enumerated = Array.from({ length: count }, (_, i) => i);
    const replacement: CubeDimension =
      target === dim.name
        ? count === dim.labels.length
          ? dim
          : dim.type === 'other'
            ? { ...dim, labels: enumerated }
            : dim.type === 'bands'
              ? { name: dim.name, type: 'bands', labels: enumerated.map(String) }
              : { name: dim.name, type: 'temporal', labels: enumerated.map(String) }
        : { name: target, type: 'other', labels: enumerated };
    const dims = cube.dims.map((d) => (d === dim ? replacement : d));
    const order = chunkDims({ dims });
    return new CubeValue(mapChunks(source, dims, (node) => ({ op: 'transpose', dims: order, x: substitute(series.node, node) }), `${cube.description}, ${dim.name} series replaced`));
  },
};
