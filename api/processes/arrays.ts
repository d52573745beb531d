import type { IRNode, Reducer } from '../../common/ir.js';
import { describeValue, isSymbolic, SymbolicValue, type Value } from '../compiler/values.js';
import { booleanArg, invalid } from './arguments.js';
import { definition, NUMBER_OR_NULL, param, toNode } from './scalar.js';
import type { ProcessImplementation } from './types.js';

/**
 * Processes on arrays. Inside a reducer callback their `data` is the series of pixel values
 * along the reduced dimension; they then reduce or select along it in the chunk program.
 */

/** Temporary dimension for arrays written literally in a callback (`mean([x, y])`). */
const LITERAL_ARRAY_DIM = 'array';

const NUMBER_ARRAY = { type: 'array', items: { type: ['number', 'null'] } };

/** The pixel series `data` as IR along a dimension, or null when `data` is a plain array of plain values. */
function alongDimension(process: string, data: Value): { node: IRNode; dim: string; dims: string[]; labels: (string | number)[] | null } | null {
  if (isSymbolic(data)) {
    if (!data.alongDim) throw invalid(process, 'data', 'must be an array; inside this callback it is a single value');
    return { node: data.node, dim: data.alongDim, dims: data.dims, labels: data.labels };
  }
  if (Array.isArray(data) && data.some(isSymbolic)) {
    const parts = data.map((v, i) => toNode(process, `data[${i}]`, v));
    const dims = [...new Set(parts.flatMap((p) => p.dims))];
    // The evaluator broadcasts the parts to a common layout before stacking.
    return { node: { op: 'stack', dim: LITERAL_ARRAY_DIM, parts: parts.map((p) => p.node) }, dim: LITERAL_ARRAY_DIM, dims: [LITERAL_ARRAY_DIM, ...dims], labels: null };
  }
  return null;
}

function plainNumbers(process: string, data: Value): (number | null)[] {
  if (!Array.isArray(data)) throw invalid(process, 'data', `must be an array, got ${describeValue(data)}`);
  return data.map((v) => {
    if (v === null || typeof v === 'number') return v;
    throw invalid(process, 'data', `must hold numbers, found ${describeValue(v)}`);
  });
}

function computeReducer(reducer: Reducer, values: (number | null)[], ignoreNodata: boolean): number | null {
  if (!ignoreNodata && values.some((v) => v === null || Number.isNaN(v))) return null;
  const valid = values.filter((v): v is number => v !== null && !Number.isNaN(v));
  switch (reducer) {
    case 'count':
      return valid.length;
    case 'first':
      return ignoreNodata ? (valid[0] ?? null) : (values[0] ?? null);
    case 'last':
      return ignoreNodata ? (valid.at(-1) ?? null) : (values.at(-1) ?? null);
    default:
      break;
  }
  if (valid.length === 0) return null;
  switch (reducer) {
    case 'sum':
      return valid.reduce((a, b) => a + b, 0);
    case 'product':
      return valid.reduce((a, b) => a * b, 1);
    case 'mean':
      return valid.reduce((a, b) => a + b, 0) / valid.length;
    case 'min':
      return Math.min(...valid);
    case 'max':
      return Math.max(...valid);
    case 'median': {
      const sorted = [...valid].sort((a, b) => a - b);
      const mid = sorted.length >> 1;
      return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    }
    case 'variance':
    case 'sd': {
      if (valid.length < 2) return null;
      const mean = valid.reduce((a, b) => a + b, 0) / valid.length;
      const variance = valid.reduce((a, b) => a + (b - mean) ** 2, 0) / (valid.length - 1);
      return reducer === 'sd' ? Math.sqrt(variance) : variance;
    }
    default:
      return null;
  }
}

function reducerProcess(id: string, reducer: Reducer, summary: string, description: string, ignoreDefault = true): ProcessImplementation {
  return {
    definition: definition(
      id,
      summary,
      description,
      ['math > statistics', 'reducer'],
      [
        param('data', 'The values.', NUMBER_ARRAY),
        param('ignore_nodata', 'Skip no-data values (true) or let any no-data make the result no-data (false).', { type: 'boolean' }, { optional: true, default: ignoreDefault }),
      ],
      { description: 'The statistic, or null when no valid value remains.', schema: NUMBER_OR_NULL },
    ),
    evaluate(args) {
      const data = args.data ?? null;
      const ignoreNodata = booleanArg(id, args, 'ignore_nodata', ignoreDefault);
      const along = alongDimension(id, data);
      if (along) return new SymbolicValue({ op: 'reduce', dim: along.dim, reducer, ignoreNodata, x: along.node }, along.dims.filter((d) => d !== along.dim));
      return computeReducer(reducer, plainNumbers(id, data), ignoreNodata);
    },
  };
}

export const ARRAY_PROCESSES: ProcessImplementation[] = [
  reducerProcess('mean', 'mean', 'Arithmetic mean', 'The average of the values.'),
  reducerProcess('median', 'median', 'Median', 'The middle value (the mean of the two middle values for an even count).'),
  reducerProcess('min', 'min', 'Minimum', 'The smallest value.'),
  reducerProcess('max', 'max', 'Maximum', 'The largest value.'),
  reducerProcess('sum', 'sum', 'Sum', 'The sum of the values.'),
  reducerProcess('sd', 'sd', 'Standard deviation', 'The sample standard deviation (n − 1 in the denominator).'),
  reducerProcess('variance', 'variance', 'Variance', 'The sample variance (n − 1 in the denominator).'),
  reducerProcess('first', 'first', 'First value', 'The first value, or the first valid one when no-data is ignored.'),
  reducerProcess('last', 'last', 'Last value', 'The last value, or the last valid one when no-data is ignored.'),
  {
    definition: definition(
      'count',
      'Count values',
      'Counts the valid values (or all values when `condition` is true).',
      ['arrays', 'reducer'],
      [param('data', 'The values.', { type: 'array' }), param('condition', 'Which values to count.', [{ type: 'null' }, { type: 'boolean' }], { optional: true, default: null }), param('context', 'Passed to the condition.', {}, { optional: true, default: null })],
      { description: 'The number of values counted.', schema: { type: 'integer', minimum: 0 } },
    ),
    evaluate(args) {
      const data = args.data ?? null;
      const along = alongDimension('count', data);
      if (along) return new SymbolicValue({ op: 'reduce', dim: along.dim, reducer: 'count', ignoreNodata: true, x: along.node }, along.dims.filter((d) => d !== along.dim));
      if (!Array.isArray(data)) throw invalid('count', 'data', 'must be an array');
      if (args.condition === true) return data.length;
      return data.filter((v) => v !== null && !(typeof v === 'number' && Number.isNaN(v))).length;
    },
  },
  {
    definition: definition(
      'array_element',
      'Element of an array',
      'Picks one element of an array by its zero-based index or by its label.',
      ['arrays'],
      [
        param('data', 'The array.', { type: 'array' }),
        param('index', 'Zero-based position.', { type: 'integer', minimum: 0 }, { optional: true }),
        param('label', 'Label of the element (for labelled arrays such as band values).', [{ type: 'number' }, { type: 'string' }], { optional: true }),
        param('return_nodata', 'Return no-data instead of failing when the element does not exist.', { type: 'boolean' }, { optional: true, default: false }),
      ],
      { description: 'The element.', schema: {} },
      { exceptions: { ArrayElementNotAvailable: { message: 'The array has no element with the specified index or label.' }, ArrayElementParameterMissing: { message: 'Either index or label must be given.' }, ArrayElementParameterConflict: { message: 'Only one of index and label may be given.' } } },
    ),
    evaluate(args) {
      const data = args.data ?? null;
      const index = args.index;
      const label = args.label;
      const returnNodata = booleanArg('array_element', args, 'return_nodata', false);
      if ((index === undefined || index === null) && (label === undefined || label === null)) throw invalid('array_element', 'index', 'or "label" must be given');
      if (index !== undefined && index !== null && label !== undefined && label !== null) throw invalid('array_element', 'index', 'and "label" cannot both be given');
      if (isSymbolic(data)) {
        if (!data.alongDim) throw invalid('array_element', 'data', 'must be an array');
        let position = typeof index === 'number' ? index : -1;
        if (label !== undefined && label !== null) {
          position = data.labels ? data.labels.findIndex((l) => l === label) : -1;
          if (position < 0 && !returnNodata) {
            throw invalid('array_element', 'label', `"${String(label)}" is not a label of dimension ${data.alongDim}${data.labels ? ` (labels: ${data.labels.join(', ')})` : ''}`);
          }
        }
        if (data.labels && position >= data.labels.length && !returnNodata) throw invalid('array_element', 'index', `${position} is beyond the ${data.labels.length} elements`);
        if (position < 0 || (data.labels && position >= data.labels.length)) return null;
        return new SymbolicValue({ op: 'select', dim: data.alongDim, index: position, x: data.node }, data.dims.filter((d) => d !== data.alongDim));
      }
      if (!Array.isArray(data)) throw invalid('array_element', 'data', `must be an array, got ${describeValue(data)}`);
      if (typeof index === 'number') {
        if (index < data.length) return data[index]!;
        if (returnNodata) return null;
        throw invalid('array_element', 'index', `${index} is beyond the ${data.length} elements`);
      }
      if (returnNodata) return null;
      throw invalid('array_element', 'label', 'cannot be used on an array without labels');
    },
  },
];
