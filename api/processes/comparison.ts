import type { IRNode, UnaryFunction } from '../../common/ir.js';
import type { Value } from '../compiler/values.js';
import { booleanArg, invalid, numberArg } from './arguments.js';
import { ANY, BOOLEAN, BOOLEAN_OR_NULL, COMPARABLE, definition, NUMBER, optionalParam, param } from './definition.js';
import { anySymbolic, binaryNode, constantNode, symbolicBinary, symbolicFrom, symbolicUnary, toOperand, unaryNode } from './symbolic.js';
import type { ProcessImplementation } from './types.js';

/** Comparisons and value checks. No-data compared with anything is no-data; NaN equals nothing. */

const DEFAULT_DELTA = null;
const DEFAULT_CASE_SENSITIVE = true;
const DEFAULT_EXCLUDE_MAX = false;

const DELTA_SCHEMA = { type: ['number', 'null'], minimumExclusive: 0 };

/**
 * Equality as openEO defines it (also for array_find and array_contains): values of different
 * types never match, numbers may match within `delta`, strings optionally ignoring case.
 */
export function valuesEqual(x: Value, y: Value, delta: number | null = DEFAULT_DELTA, caseSensitive = DEFAULT_CASE_SENSITIVE): boolean {
  if (typeof x === 'number' && typeof y === 'number') return x === y || (delta !== null && Math.abs(x - y) <= delta);
  if (typeof x === 'string' && typeof y === 'string') return caseSensitive ? x === y : x.toLowerCase() === y.toLowerCase();
  if (typeof x === 'boolean' && typeof y === 'boolean') return x === y;
  return false;
}

function optionalDelta(process: string, args: Record<string, Value>): number | null {
  if (args.delta === undefined || args.delta === null) return DEFAULT_DELTA;
  const delta = numberArg(process, args, 'delta');
  if (!(delta > 0)) throw invalid(process, 'delta', `must be greater than 0, got ${delta}`);
  return delta;
}

function equality(id: 'eq' | 'neq', summary: string, description: string): ProcessImplementation {
  const equalWhenTrue = id === 'eq';
  return {
    definition: definition(
      id,
      summary,
      description,
      ['texts', 'comparison'],
      [
        param('x', 'The first value.', COMPARABLE),
        param('y', 'The second value.', COMPARABLE),
        optionalParam('delta', 'Largest difference at which two numbers still count as equal; null compares numbers exactly.', DELTA_SCHEMA, DEFAULT_DELTA),
        optionalParam('case_sensitive', 'Set to false to compare strings ignoring upper and lower case.', BOOLEAN, DEFAULT_CASE_SENSITIVE),
      ],
      { description: 'The outcome, or null when a value is null.', schema: BOOLEAN_OR_NULL },
    ),
    evaluate(args) {
      const { x, y } = args;
      const delta = optionalDelta(id, args);
      if (anySymbolic(x, y)) {
        if (delta === null) return symbolicBinary(id, id, x, y, ['x', 'y']);
        const a = toOperand(id, 'x', x);
        const b = toOperand(id, 'y', y);
        const distance = unaryNode('abs', binaryNode('sub', a.node, b.node));
        return symbolicFrom(binaryNode(equalWhenTrue ? 'lte' : 'gt', distance, constantNode(delta)), a, b);
      }
      if (x === undefined || x === null || y === undefined || y === null) return null;
      const caseSensitive = booleanArg(id, args, 'case_sensitive', DEFAULT_CASE_SENSITIVE);
      return valuesEqual(x, y, delta, caseSensitive) === equalWhenTrue;
    },
  };
}

function ordering(id: 'lt' | 'lte' | 'gt' | 'gte', compare: (a: number, b: number) => boolean, summary: string, description: string): ProcessImplementation {
  return {
    definition: definition(
      id,
      summary,
      description,
      ['comparison'],
      [param('x', 'The first value.', COMPARABLE), param('y', 'The second value.', COMPARABLE)],
      { description: 'The outcome, or null when a value is null.', schema: BOOLEAN_OR_NULL },
    ),
    evaluate(args) {
      const { x, y } = args;
      if (anySymbolic(x, y)) return symbolicBinary(id, id, x, y, ['x', 'y']);
      if (x === undefined || x === null || y === undefined || y === null) return null;
      // Only numbers are ordered: strings (even dates) and booleans compare as false.
      return typeof x === 'number' && typeof y === 'number' && compare(x, y);
    },
  };
}

const between: ProcessImplementation = {
  definition: definition(
    'between',
    'Within a range',
    'Whether `x` lies between `min` and `max`, both included unless `exclude_max` leaves the upper bound out. Values that are not numbers, and ranges with `min` above `max`, give false; no-data gives no-data.',
    ['comparison'],
    [
      param('x', 'The value to test.', ANY),
      param('min', 'The lower bound, included.', NUMBER),
      param('max', 'The upper bound, included unless `exclude_max` is set.', NUMBER),
      optionalParam('exclude_max', 'Leave the upper bound out of the range.', BOOLEAN, DEFAULT_EXCLUDE_MAX),
    ],
    { description: 'The outcome, or null when `x` is null.', schema: BOOLEAN_OR_NULL },
  ),
  evaluate(args) {
    const { x, min, max } = args;
    const excludeMax = booleanArg('between', args, 'exclude_max', DEFAULT_EXCLUDE_MAX);
    if (anySymbolic(x, min, max)) return symbolicBetween(x, min, max, excludeMax);
    const lower = numberArg('between', args, 'min');
    const upper = numberArg('between', args, 'max');
    if (x === undefined || x === null) return null;
    if (typeof x !== 'number') return false;
    return x >= lower && (excludeMax ? x < upper : x <= upper);
  },
};

function symbolicBetween(x: Value | undefined, min: Value | undefined, max: Value | undefined, excludeMax: boolean): Value {
  const value = toOperand('between', 'x', x);
  if (typeof min === 'number' && typeof max === 'number') return symbolicFrom({ op: 'between', x: value.node, min, max, excludeMax }, value);
  const lower = toOperand('between', 'min', min);
  const upper = toOperand('between', 'max', max);
  const inRange: IRNode = binaryNode('and', binaryNode('gte', value.node, lower.node), binaryNode(excludeMax ? 'lt' : 'lte', value.node, upper.node));
  return symbolicFrom(inRange, value, lower, upper);
}

function valueCheck(id: string, ir: UnaryFunction, test: (x: Value) => boolean, summary: string, description: string, categories: string[], extra: { experimental?: boolean } = {}): ProcessImplementation {
  return {
    definition: definition(id, summary, description, categories, [param('x', 'The value to check.', ANY)], { description: 'The outcome of the check.', schema: BOOLEAN }, extra),
    evaluate(args) {
      const x = args.x ?? null;
      if (anySymbolic(x)) return symbolicUnary(id, ir, x, 'x');
      return test(x);
    },
  };
}

export const COMPARISON_PROCESSES: ProcessImplementation[] = [
  equality('eq', 'Equal to', 'Whether `x` and `y` are the same value of the same type: the number 1 equals 1.0 but not the string "1". NaN equals nothing, not even NaN. Date-times are compared as plain strings.'),
  equality('neq', 'Not equal to', 'The negation of `eq`: whether `x` and `y` differ in type or value. NaN differs from everything. No-data in either gives no-data.'),
  ordering('lt', (a, b) => a < b, 'Less than', 'Whether the number `x` is below `y`. Anything but two numbers gives false; no-data gives no-data.'),
  ordering('lte', (a, b) => a <= b, 'Less than or equal to', 'Whether the number `x` is below or equal to `y`. Anything but two numbers gives false; no-data gives no-data.'),
  ordering('gt', (a, b) => a > b, 'Greater than', 'Whether the number `x` is above `y`. Anything but two numbers gives false; no-data gives no-data.'),
  ordering('gte', (a, b) => a >= b, 'Greater than or equal to', 'Whether the number `x` is above or equal to `y`. Anything but two numbers gives false; no-data gives no-data.'),
  between,
  // On pixel values NaN also marks no-data, so there is_nan and is_nodata both answer true for it.
  valueCheck('is_nan', 'is_nan', (x) => typeof x === 'number' && Number.isNaN(x), 'Is NaN', 'Whether `x` is the number NaN ("not a number"). Strings, arrays and no-data are not NaN.', ['comparison', 'math > constants']),
  valueCheck('is_nodata', 'is_nodata', (x) => x === null, 'Is no-data', 'Whether `x` is the no-data value. An array is never no-data, whatever it holds.', ['comparison']),
  valueCheck(
    'is_valid',
    'is_valid',
    (x) => x !== null && (typeof x !== 'number' || Number.isFinite(x)),
    'Is valid',
    'Whether `x` is usable data: anything but no-data, NaN and ±∞. Strings, arrays and objects are always valid.',
    ['comparison'],
  ),
  valueCheck('is_infinite', 'is_infinite', (x) => typeof x === 'number' && !Number.isFinite(x) && !Number.isNaN(x), 'Is infinite', 'Whether `x` is +∞ or −∞. Only numbers can be infinite; strings such as "inf" are not.', ['comparison'], { experimental: true }),
];
