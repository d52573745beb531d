import { OpenEOError } from '../../common/errors.js';
import { type IRNode, mapInputs } from '../../common/ir.js';
import { chunkDims } from '../compiler/cube-ops.js';
import { mergeCubes, mergeDimensions } from '../compiler/merge.js';
import { alignSpatially } from '../compiler/regrid.js';
import { CubeValue, describeValue, isCallbackValue, isSymbolic, SymbolicValue } from '../compiler/values.js';
import { cubeArg, invalid } from './arguments.js';
import { constantOf, contextParameter, RASTER_CUBE } from './cube-common.js';
import { definition, exceptions, param } from './definition.js';
import type { ProcessImplementation } from './types.js';

/**
 * merge_cubes: two cubes become one on the first cube's grid (the second is resampled onto it
 * by nearest neighbour when the grids differ). The overlap resolver compiles into the chunk
 * program like any callback, with the two cubes' values as `x` and `y`.
 */

/** The method the second cube is resampled with onto the first's grid (resample_cube_spatial's default). */
const MERGE_RESAMPLING = 'near';
/** Inputs standing for the resolver's `x` and `y` until the cubes' values replace them. */
const X_INPUT = -2;
const Y_INPUT = -3;

export const mergeCubesProcess: ProcessImplementation = {
  definition: definition(
    'merge_cubes',
    'Merge two data cubes',
    'Joins two cubes: each dimension gets the labels of both (time stays in order, other labels of the second cube follow those of the first), and a dimension only one cube has spans both. Where both cubes hold a cell, the overlap resolver decides its value. The result lies on the first cube\'s grid.',
    ['cubes'],
    [
      param('cube1', 'The first cube; its grid is the result\'s.', RASTER_CUBE),
      param('cube2', 'The second cube.', RASTER_CUBE),
      param(
        'overlap_resolver',
        'Combines the two values of a cell both cubes hold; needed only when there is such a cell.',
        {
          type: 'object',
          subtype: 'process-graph',
          parameters: [
            { name: 'x', description: 'The value of the first cube.', schema: {} },
            { name: 'y', description: 'The value of the second cube.', schema: {} },
            contextParameter('The `context` given to merge_cubes.'),
          ],
          returns: { description: 'The value of the cell.', schema: {} },
        },
        { optional: true, default: null },
      ),
      param('context', 'Passed to the overlap resolver.', {}, { optional: true, default: null }),
    ],
    { description: 'The merged data cube.', schema: RASTER_CUBE },
    { exceptions: exceptions({ OverlapResolverMissing: 'Both cubes hold some cell, but no overlap resolver was given.', IncompatibleGeometryTypes: 'Vector cubes of different geometry types cannot be merged.' }) },
  ),
  async evaluate(args, context) {
    const first = cubeArg('merge_cubes', args, 'cube1');
    const second = alignSpatially('merge_cubes', cubeArg('merge_cubes', args, 'cube2'), first, MERGE_RESAMPLING, context.builder);
    const merged = mergeDimensions(first, second);
    let resolve: ((a: IRNode, b: IRNode) => IRNode) | null = null;
    if (merged.overlap) {
      const resolver = args.overlap_resolver;
      if (resolver === undefined || resolver === null) {
        throw new OpenEOError('OverlapResolverMissing', 'merge_cubes: the cubes share cells (the same labels in every common dimension); give an overlap_resolver to combine them');
      }
      if (!isCallbackValue(resolver)) throw invalid('merge_cubes', 'overlap_resolver', `must be a process, got ${describeValue(resolver)}`);
      const dims = chunkDims(merged);
      const x = new SymbolicValue({ op: 'input', index: X_INPUT }, dims);
      const y = new SymbolicValue({ op: 'input', index: Y_INPUT }, dims);
      const result = await context.callCallback(resolver, { x, y, context: args.context ?? null });
      const constant = constantOf(result);
      if (!isSymbolic(result) && constant === undefined) throw invalid('merge_cubes', 'overlap_resolver', `must compute a number for each cell, got ${describeValue(result)}`);
      const body: IRNode = isSymbolic(result) ? result.node : { op: 'const', value: constant! };
      resolve = (a, b) => mapInputs(body, (index) => (index === X_INPUT ? a : index === Y_INPUT ? b : { op: 'input', index }));
    }
    return new CubeValue(mergeCubes(first, second, merged, resolve));
  },
};
