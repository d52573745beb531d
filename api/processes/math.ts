import { OpenEOError } from '../../common/errors.js';
import type { IRNode } from '../../common/ir.js';
import { isSymbolic, type SymbolicValue, type Value } from '../compiler/values.js';
import { integerArg, numberArg, numberOrNull } from './arguments.js';
import { ANY, definition, exceptions, NUMBER, NUMBER_OR_NULL, optionalParam, param } from './definition.js';
import { binaryNumeric, floorMod, linearScale, logarithm, numbersOrNull, roundToDigits, unaryNumeric } from './numeric.js';
import { anySymbolic, binaryNode, constantNode, symbolicFrom, toOperand, unaryNode } from './symbolic.js';
import type { ProcessImplementation } from './types.js';

/** Arithmetic, rounding, exponentials and constants. */

const MATH = ['math'];
const EXPONENTIAL = ['math > exponential & logarithmic'];
const ROUNDING = ['math > rounding'];

const DEFAULT_ROUND_DIGITS = 0;
const DEFAULT_OUTPUT_MIN = 0;
const DEFAULT_OUTPUT_MAX = 1;

const X = { name: 'x', description: 'The number.' };
const FIRST = { name: 'x', description: 'The first operand.' };
const SECOND = { name: 'y', description: 'The second operand.' };

const add = binaryNumeric({
  id: 'add',
  summary: 'Sum of two numbers',
  description: 'Adds `y` to `x`. No-data in either operand gives no-data; infinities and NaN follow IEEE 754.',
  categories: MATH,
  parameters: [FIRST, SECOND],
  returns: { description: 'x + y, or null when an operand is null.' },
  ir: 'add',
  compute: (a, b) => a + b,
});

const subtract = binaryNumeric({
  id: 'subtract',
  summary: 'Difference of two numbers',
  description: 'Subtracts `y` from `x`. No-data in either operand gives no-data; infinities and NaN follow IEEE 754.',
  categories: MATH,
  parameters: [{ name: 'x', description: 'The minuend.' }, { name: 'y', description: 'The subtrahend.' }],
  returns: { description: 'x − y, or null when an operand is null.' },
  ir: 'sub',
  compute: (a, b) => a - b,
});

const multiply = binaryNumeric({
  id: 'multiply',
  summary: 'Product of two numbers',
  description: 'Multiplies `x` by `y`. No-data in either operand gives no-data; infinities and NaN follow IEEE 754.',
  categories: MATH,
  parameters: [{ name: 'x', description: 'The multiplicand.' }, { name: 'y', description: 'The multiplier.' }],
  returns: { description: 'x · y, or null when an operand is null.' },
  ir: 'mul',
  compute: (a, b) => a * b,
});

const divide = binaryNumeric({
  id: 'divide',
  summary: 'Quotient of two numbers',
  description: 'Divides `x` by `y`. A zero divisor gives +∞ or −∞ by the sign of `x`, and NaN for 0 / 0, rather than an error.',
  categories: MATH,
  parameters: [{ name: 'x', description: 'The dividend.' }, { name: 'y', description: 'The divisor.' }],
  returns: { description: 'x / y, or null when an operand is null.' },
  ir: 'div',
  compute: (a, b) => a / b,
});

const mod = binaryNumeric({
  id: 'mod',
  summary: 'Remainder of a division',
  description:
    'The remainder of `x` divided by `y`, taking the sign of `y` (floored division: −27 mod 5 is 3). A zero divisor gives +∞, −∞ or NaN as `divide` does; a finite `x` over an infinite `y` stays `x`.',
  categories: MATH,
  parameters: [{ name: 'x', description: 'The dividend.' }, { name: 'y', description: 'The divisor.' }],
  returns: { description: 'The remainder, or null when an operand is null.' },
  ir: 'mod',
  compute: floorMod,
});

const power = binaryNumeric({
  id: 'power',
  summary: 'Exponentiation',
  description: 'Raises `base` to the power `p`. Fractional powers of negative numbers give NaN.',
  categories: ['math', 'math > exponential & logarithmic'],
  parameters: [{ name: 'base', description: 'The number to raise.' }, { name: 'p', description: 'The exponent.' }],
  returns: { description: 'base to the power p, or null when an operand is null.' },
  ir: 'pow',
  compute: (a, b) => a ** b,
});

const normalizedDifference = binaryNumeric({
  id: 'normalized_difference',
  summary: 'Normalized difference',
  description: 'Computes (x − y) / (x + y), the form shared by NDVI, NDWI and similar band indices. No-data in either gives no-data.',
  categories: ['math > indices', 'vegetation indices'],
  parameters: [
    { name: 'x', description: 'The first band value (e.g. near infrared for NDVI).', schema: NUMBER },
    { name: 'y', description: 'The second band value (e.g. red for NDVI).', schema: NUMBER },
  ],
  returns: { description: 'A value from −1 to 1 for non-negative inputs.', schema: { type: 'number', minimum: -1, maximum: 1 } },
  ir: 'normdiff',
  compute: (a, b) => (a - b) / (a + b),
});

const absolute = unaryNumeric({
  id: 'absolute',
  summary: 'Absolute value',
  description: 'The magnitude of `x` without its sign. No-data stays no-data.',
  categories: MATH,
  parameter: X,
  returns: { description: '|x|, never negative.', schema: { type: ['number', 'null'], minimum: 0 } },
  ir: 'abs',
  compute: Math.abs,
});

const sgn = unaryNumeric({
  id: 'sgn',
  summary: 'Sign of a number',
  description: 'Gives −1 for negative numbers, 1 for positive ones and 0 for zero. NaN and no-data stay as they are.',
  categories: MATH,
  parameter: X,
  returns: { description: '−1, 0 or 1 (or null).', schema: { type: ['number', 'null'], enum: [-1, 0, 1, null] } },
  ir: 'sgn',
  compute: Math.sign,
});

const sqrt = unaryNumeric({
  id: 'sqrt',
  summary: 'Square root',
  description: 'The non-negative square root of `x`. Negative numbers have no real root and give NaN.',
  categories: ['math', 'math > exponential & logarithmic'],
  parameter: X,
  returns: { description: 'The root, or null for null.' },
  ir: 'sqrt',
  compute: Math.sqrt,
});

const exp = unaryNumeric({
  id: 'exp',
  summary: 'Exponential function',
  description: "Euler's number e raised to the power `p`.",
  categories: EXPONENTIAL,
  parameter: { name: 'p', description: 'The exponent.' },
  returns: { description: 'e to the power p, or null for null.', schema: { type: ['number', 'null'], minimumExclusive: 0 } },
  ir: 'exp',
  compute: Math.exp,
});

const ln = unaryNumeric({
  id: 'ln',
  summary: 'Natural logarithm',
  description: 'The logarithm of `x` to base e. Zero gives −∞ and negative numbers give NaN.',
  categories: EXPONENTIAL,
  parameter: { name: 'x', description: 'A non-negative number.', schema: { type: ['number', 'null'], minimum: 0 } },
  returns: { description: 'ln(x), or null for null.' },
  ir: 'ln',
  compute: Math.log,
});

const int = unaryNumeric({
  id: 'int',
  summary: 'Integer part',
  description: 'Drops the fraction of `x`, rounding towards zero (so −3.5 gives −3, unlike `floor`). NaN has no integer part and gives no-data.',
  categories: ['math', 'math > rounding'],
  parameter: X,
  returns: { description: 'The integer part, or null.', schema: { type: ['integer', 'null'] } },
  ir: 'int',
  compute: (x) => (Number.isNaN(x) ? null : Math.trunc(x)),
});

const floor = unaryNumeric({
  id: 'floor',
  summary: 'Round down',
  description: 'The largest integer not greater than `x` (−1.5 gives −2).',
  categories: ROUNDING,
  parameter: X,
  returns: { description: 'The integer below or at x, or null.', schema: { type: ['integer', 'null'] } },
  ir: 'floor',
  compute: Math.floor,
});

const ceil = unaryNumeric({
  id: 'ceil',
  summary: 'Round up',
  description: 'The smallest integer not less than `x` (−1.5 gives −1).',
  categories: ROUNDING,
  parameter: X,
  returns: { description: 'The integer above or at x, or null.', schema: { type: ['integer', 'null'] } },
  ir: 'ceil',
  compute: Math.ceil,
});

const log: ProcessImplementation = {
  definition: definition(
    'log',
    'Logarithm to a base',
    'The exponent to which `base` must be raised to give `x`. Zero gives −∞ and negative numbers give NaN.',
    EXPONENTIAL,
    [param('x', 'A non-negative number.', { type: ['number', 'null'], minimum: 0 }), param('base', 'The base of the logarithm.', NUMBER_OR_NULL)],
    { description: 'The logarithm, or null when an operand is null.', schema: NUMBER_OR_NULL },
  ),
  evaluate(args) {
    const { x, base } = args;
    if (anySymbolic(x, base)) {
      const value = toOperand('log', 'x', x);
      if (typeof base === 'number') {
        if (base === 10) return symbolicFrom(unaryNode('log10', value.node), value);
        if (base === 2) return symbolicFrom(unaryNode('log2', value.node), value);
        if (base === Math.E) return symbolicFrom(unaryNode('ln', value.node), value);
      }
      const b = toOperand('log', 'base', base);
      return symbolicFrom(binaryNode('div', unaryNode('ln', value.node), unaryNode('ln', b.node)), value, b);
    }
    const numbers = numbersOrNull('log', args, ['x', 'base']);
    return numbers && logarithm(numbers[0]!, numbers[1]!);
  },
};

const round: ProcessImplementation = {
  definition: definition(
    'round',
    'Round to a precision',
    'Rounds `x` to `p` decimal places; a negative `p` rounds to tens, hundreds and so on. Ties go to the even neighbour (2.5 gives 2, 3.5 gives 4), which keeps sums of rounded values unbiased.',
    ROUNDING,
    [param('x', 'The number to round.', NUMBER_OR_NULL), optionalParam('p', 'Decimal places to keep; negative values round left of the decimal point.', { type: 'integer' }, DEFAULT_ROUND_DIGITS)],
    { description: 'The rounded number, or null for null.', schema: NUMBER_OR_NULL },
  ),
  evaluate(args) {
    const digits = args.p === undefined ? DEFAULT_ROUND_DIGITS : integerArg('round', args, 'p');
    if (isSymbolic(args.x)) {
      const x = toOperand('round', 'x', args.x);
      return symbolicFrom(roundNode(x.node, digits), x);
    }
    const x = numberOrNull('round', 'x', args.x);
    return x === null ? null : roundToDigits(x, digits);
  },
};

/** The IR of roundToDigits: scale, round half to even, scale back. */
function roundNode(x: IRNode, digits: number): IRNode {
  if (digits === 0) return unaryNode('round', x);
  const scale = constantNode(10 ** Math.abs(digits));
  return digits > 0 ? binaryNode('div', unaryNode('round', binaryNode('mul', x, scale)), scale) : binaryNode('mul', unaryNode('round', binaryNode('div', x, scale)), scale);
}

const clip: ProcessImplementation = {
  definition: definition(
    'clip',
    'Clamp to a range',
    'Limits `x` to the range from `min` to `max`: smaller values become `min`, larger ones `max`. NaN and no-data pass through unchanged.',
    MATH,
    [param('x', 'The number to clamp.', NUMBER_OR_NULL), param('min', 'The lower bound.', NUMBER), param('max', 'The upper bound; must not be below `min`.', NUMBER)],
    { description: 'The clamped number, or null for null.', schema: NUMBER_OR_NULL },
    { exceptions: exceptions({ MinMaxSwapped: 'The lower bound is greater than the upper bound.' }) },
  ),
  evaluate(args) {
    const { x, min, max } = args;
    if (typeof min === 'number' && typeof max === 'number' && min > max) throw new OpenEOError('MinMaxSwapped', `clip: min (${min}) is greater than max (${max})`);
    if (anySymbolic(x, min, max)) return symbolicClip(x, min, max);
    const value = numberOrNull('clip', 'x', x);
    const lower = numberArg('clip', args, 'min');
    const upper = numberArg('clip', args, 'max');
    return value === null ? null : Math.min(upper, Math.max(lower, value));
  },
};

function symbolicClip(x: Value | undefined, min: Value | undefined, max: Value | undefined): SymbolicValue {
  const value = toOperand('clip', 'x', x);
  if (typeof min === 'number' && typeof max === 'number') return symbolicFrom({ op: 'clip', x: value.node, min, max }, value);
  // Bounds that vary per pixel: pick the bound where x lies outside it.
  const lower = toOperand('clip', 'min', min);
  const upper = toOperand('clip', 'max', max);
  const aboveMin: IRNode = { op: 'where', cond: binaryNode('lt', value.node, lower.node), then: lower.node, else: value.node };
  return symbolicFrom({ op: 'where', cond: binaryNode('gt', aboveMin, upper.node), then: upper.node, else: aboveMin }, value, lower, upper);
}

const linearScaleRange: ProcessImplementation = {
  definition: definition(
    'linear_scale_range',
    'Rescale linearly',
    'Maps `x` from the input range onto the output range along a straight line, after clamping it to the input range, e.g. to stretch reflectances onto 0–255 for display. Either range may be given in descending order.',
    MATH,
    [
      param('x', 'The number to rescale.', NUMBER_OR_NULL),
      param('inputMin', 'Input value that maps to `outputMin`.', NUMBER),
      param('inputMax', 'Input value that maps to `outputMax`.', NUMBER),
      optionalParam('outputMin', 'Output for `inputMin`.', NUMBER, DEFAULT_OUTPUT_MIN),
      optionalParam('outputMax', 'Output for `inputMax`.', NUMBER, DEFAULT_OUTPUT_MAX),
    ],
    { description: 'The rescaled number, or null for null.', schema: NUMBER_OR_NULL },
  ),
  evaluate(args) {
    const inputMin = numberArg('linear_scale_range', args, 'inputMin');
    const inputMax = numberArg('linear_scale_range', args, 'inputMax');
    const outputMin = args.outputMin === undefined ? DEFAULT_OUTPUT_MIN : numberArg('linear_scale_range', args, 'outputMin');
    const outputMax = args.outputMax === undefined ? DEFAULT_OUTPUT_MAX : numberArg('linear_scale_range', args, 'outputMax');
    if (isSymbolic(args.x)) {
      const x = toOperand('linear_scale_range', 'x', args.x);
      const clipped: IRNode = { op: 'clip', x: x.node, min: Math.min(inputMin, inputMax), max: Math.max(inputMin, inputMax) };
      return symbolicFrom({ op: 'linear_scale', x: clipped, inputMin, inputMax, outputMin, outputMax }, x);
    }
    const x = numberOrNull('linear_scale_range', 'x', args.x);
    return x === null ? null : linearScale(x, inputMin, inputMax, outputMin, outputMax);
  },
};

function constantProcess(id: 'e' | 'pi', value: number, summary: string, description: string, categories: string[]): ProcessImplementation {
  return {
    definition: definition(id, summary, description, categories, [], { description: `The value of ${id}.`, schema: NUMBER }),
    evaluate: () => value,
  };
}

const constant: ProcessImplementation = {
  definition: definition(
    'constant',
    'Pass a value through',
    'Returns `x` untouched. Useful to name a value once and refer to it from several nodes.',
    ['math > constants'],
    [param('x', 'Any value.', ANY)],
    { description: 'The same value.', schema: ANY },
  ),
  evaluate: (args) => args.x ?? null,
};

export const MATH_PROCESSES: ProcessImplementation[] = [
  add,
  subtract,
  multiply,
  divide,
  mod,
  power,
  normalizedDifference,
  absolute,
  sgn,
  sqrt,
  exp,
  ln,
  log,
  int,
  floor,
  ceil,
  round,
  clip,
  linearScaleRange,
  constantProcess('e', Math.E, "Euler's number", 'The base of the natural logarithm, about 2.71828.', ['math > constants', 'math > exponential & logarithmic']),
  constantProcess('pi', Math.PI, 'The number π', 'The ratio of a circle’s circumference to its diameter, about 3.14159.', ['math > constants', 'math > trigonometric']),
  constant,
];
