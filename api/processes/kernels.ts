import { OpenEOError } from '../../common/errors.js';
import { applyKernel, type BorderRule } from '../compiler/focal.js';
import { CubeValue } from '../compiler/values.js';
import { cubeArg, invalid, numberArg } from './arguments.js';
import { SPATIAL_CUBE } from './cube-common.js';
import { definition, exceptions, param } from './definition.js';
import type { ProcessImplementation } from './types.js';

/** apply_kernel: weighted neighbourhood sums over x and y (see compiler/focal.ts for the chunking). */

/** Defaults of apply_kernel: no scaling, zeros beyond the edge, zeros for invalid values. */
const DEFAULT_FACTOR = 1;
const DEFAULT_BORDER = 0;
const DEFAULT_REPLACE_INVALID = 0;
const BORDER_RULES = ['replicate', 'reflect', 'reflect_pixel', 'wrap'] as const;

function kernelOf(value: unknown): number[][] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((row) => Array.isArray(row) && row.length > 0 && row.every((w) => typeof w === 'number' && Number.isFinite(w)))) {
    throw invalid('apply_kernel', 'kernel', 'must be a non-empty two-dimensional array of finite numbers');
  }
  const rows = value as number[][];
  const width = rows[0]!.length;
  if (rows.some((row) => row.length !== width)) throw invalid('apply_kernel', 'kernel', 'must have rows of equal length');
  if (rows.length % 2 === 0 || width % 2 === 0) throw new OpenEOError('KernelDimensionsUneven', `apply_kernel: the kernel is ${rows.length}x${width}; both sizes must be odd so it has a centre`);
  return rows;
}

export const applyKernelProcess: ProcessImplementation = {
  definition: definition(
    'apply_kernel',
    'Convolve with a kernel',
    'Replaces each pixel by the sum of its neighbours weighted by a kernel (laid over the pixel as written, rows along y and columns along x) times a factor. Values that are not finite count as `replace_invalid`; beyond the edge of the cube the border rule supplies values.',
    ['cubes', 'math > image filter'],
    [
      param('data', 'A raster data cube.', SPATIAL_CUBE),
      param('kernel', 'The weights: an odd number of rows (along y), each with the same odd number of columns (along x).', { type: 'array', subtype: 'kernel', items: { type: 'array', items: { type: 'number' } } }),
      param('factor', 'Multiplies every weighted sum.', { type: 'number' }, { optional: true, default: DEFAULT_FACTOR }),
      param('border', 'Values beyond the edge: a constant, or replicate (repeat the edge), reflect (mirror at the edge), reflect_pixel (mirror at the edge pixel) or wrap (the opposite edge).', [{ type: 'string', enum: [...BORDER_RULES] }, { type: 'number' }], { optional: true, default: DEFAULT_BORDER }),
      param('replace_invalid', 'Stands in for no data, NaN and infinities in the sums.', { type: 'number' }, { optional: true, default: DEFAULT_REPLACE_INVALID }),
    ],
    { description: 'The filtered data cube.', schema: SPATIAL_CUBE },
    { exceptions: exceptions({ KernelDimensionsUneven: 'A side of the kernel has an even number of weights.' }) },
  ),
  evaluate(args, context) {
    const cube = cubeArg('apply_kernel', args, 'data');
    const kernel = kernelOf(args.kernel);
    const factor = args.factor === undefined ? DEFAULT_FACTOR : numberArg('apply_kernel', args, 'factor');
    const replaceInvalid = args.replace_invalid === undefined ? DEFAULT_REPLACE_INVALID : numberArg('apply_kernel', args, 'replace_invalid');
    const raw = args.border ?? DEFAULT_BORDER;
    if (typeof raw !== 'number' && !(typeof raw === 'string' && (BORDER_RULES as readonly string[]).includes(raw))) throw invalid('apply_kernel', 'border', `must be a number or one of ${BORDER_RULES.join(', ')}`);
    return new CubeValue(applyKernel(cube, kernel, factor, raw as BorderRule, replaceInvalid, context.builder));
  },
};
