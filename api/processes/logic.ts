import type { IRNode } from '../../common/ir.js';
import { describeValue, type Value } from '../compiler/values.js';
import { booleanArg, booleanOrNull, invalid } from './arguments.js';
import { ANY, BOOLEAN, BOOLEAN_OR_NULL, definition, optionalParam, param } from './definition.js';
import { anySymbolic, binaryNode, constantNode, pixelSeries, reduceSeries, symbolicBinary, symbolicFrom, symbolicUnary, toOperand } from './symbolic.js';
import type { ProcessImplementation } from './types.js';

/**
 * Boolean logic with no-data as a third value ("unknown"): false AND unknown is false,
 * true OR unknown is true, everything else involving unknown stays unknown.
 */

const DEFAULT_IGNORE_NODATA = true;
const DEFAULT_REJECT = null;

type Truth = boolean | null;

const TRUTH_TABLES: Record<'and' | 'or' | 'xor', (x: Truth, y: Truth) => Truth> = {
  and: (x, y) => (x === false || y === false ? false : x === null || y === null ? null : true),
  or: (x, y) => (x === true || y === true ? true : x === null || y === null ? null : false),
  xor: (x, y) => (x === null || y === null ? null : x !== y),
};

function connective(id: 'and' | 'or' | 'xor', summary: string, description: string): ProcessImplementation {
  return {
    definition: definition(
      id,
      summary,
      description,
      ['logic'],
      [param('x', 'The first boolean.', BOOLEAN_OR_NULL), param('y', 'The second boolean.', BOOLEAN_OR_NULL)],
      { description: 'The outcome: true, false or null (unknown).', schema: BOOLEAN_OR_NULL },
    ),
    evaluate(args) {
      const { x, y } = args;
      if (anySymbolic(x, y)) return symbolicBinary(id, id, x, y, ['x', 'y']);
      return TRUTH_TABLES[id](booleanOrNull(id, 'x', x), booleanOrNull(id, 'y', y));
    },
  };
}

const not: ProcessImplementation = {
  definition: definition('not', 'Logical NOT', 'Turns true into false and false into true; no-data stays no-data.', ['logic'], [param('x', 'The boolean to invert.', BOOLEAN_OR_NULL)], {
    description: 'The inverted boolean, or null.',
    schema: BOOLEAN_OR_NULL,
  }),
  evaluate(args) {
    if (anySymbolic(args.x)) return symbolicUnary('not', 'not', args.x, 'x');
    const x = booleanOrNull('not', 'x', args.x);
    return x === null ? null : !x;
  },
};

const ifProcess: ProcessImplementation = {
  definition: definition(
    'if',
    'If-then-else',
    'Chooses between two values: `accept` when `value` is true, `reject` when it is false or no-data.',
    ['logic', 'comparison', 'masks'],
    [param('value', 'The condition.', BOOLEAN_OR_NULL), param('accept', 'The result for a true condition.', ANY), optionalParam('reject', 'The result otherwise; no-data unless given.', ANY, DEFAULT_REJECT)],
    { description: 'Either `accept` or `reject`.', schema: ANY },
  ),
  evaluate(args) {
    const value = args.value ?? null;
    const accept = args.accept ?? null;
    const reject = args.reject ?? DEFAULT_REJECT;
    if (anySymbolic(value, accept, reject)) {
      const condition = toOperand('if', 'value', value);
      const then = toOperand('if', 'accept', accept);
      const otherwise = toOperand('if', 'reject', reject);
      // An unknown condition selects `reject`, so it must not reach `where` as NaN (which would give no-data).
      const known: IRNode = binaryNode('coalesce', condition.node, constantNode(0));
      return symbolicFrom({ op: 'where', cond: known, then: then.node, else: otherwise.node }, condition, then, otherwise);
    }
    if (value !== null && typeof value !== 'boolean') throw invalid('if', 'value', `must be true, false or null, got ${describeValue(value)}`);
    return value === true ? accept : reject;
  },
};

/**
 * `any` and `all` over booleans. `decisive` is the value that settles the outcome at once
 * (true for any, false for all); an empty array, or one of only no-data, gives its opposite.
 */
function quantifier(id: 'any' | 'all', decisive: boolean, summary: string, description: string): ProcessImplementation {
  return {
    definition: definition(
      id,
      summary,
      description,
      ['logic', 'reducer'],
      [
        param('data', 'The booleans.', { type: 'array', items: { type: ['boolean', 'null'] } }),
        optionalParam('ignore_nodata', 'Skip no-data (true) or let it leave an otherwise undecided outcome unknown (false).', BOOLEAN, DEFAULT_IGNORE_NODATA),
      ],
      { description: 'The outcome: true, false or null (unknown).', schema: BOOLEAN_OR_NULL },
    ),
    evaluate(args) {
      const ignoreNodata = booleanArg(id, args, 'ignore_nodata', DEFAULT_IGNORE_NODATA);
      const series = pixelSeries(id, args.data);
      if (series) return reduceSeries(series, id, ignoreNodata);
      if (!Array.isArray(args.data)) throw invalid(id, 'data', `must be an array, got ${describeValue(args.data ?? null)}`);
      const values = args.data.map((v: Value, i) => booleanOrNull(id, `data[${i}]`, v));
      if (values.includes(decisive)) return decisive;
      const unknown = values.includes(null) && values.includes(!decisive);
      return unknown && !ignoreNodata ? null : !decisive;
    },
  };
}

export const LOGIC_PROCESSES: ProcessImplementation[] = [
  connective('and', 'Logical AND', 'True when both `x` and `y` are true. A false operand makes it false even if the other is no-data; otherwise no-data gives no-data.'),
  connective('or', 'Logical OR', 'True when `x` or `y` is true, even if the other is no-data. Two false operands give false; otherwise no-data gives no-data.'),
  connective('xor', 'Logical exclusive OR', 'True when exactly one of `x` and `y` is true. No-data in either gives no-data.'),
  not,
  ifProcess,
  quantifier(
    'any',
    true,
    'Any true',
    'Whether at least one boolean is true. Without `ignore_nodata`, no-data next to only false values makes the outcome no-data. An empty array, or one of nothing but no-data, gives false.',
  ),
  quantifier(
    'all',
    false,
    'All true',
    'Whether every boolean is true. Without `ignore_nodata`, no-data next to only true values makes the outcome no-data. An empty array, or one of nothing but no-data, gives true.',
  ),
];
