import type { BinaryFunction, IRNode, UnaryFunction } from '../../common/ir.js';
import { describeValue, isSymbolic, SymbolicValue, type Value } from '../compiler/values.js';
import { invalid } from './arguments.js';
import type { ProcessDefinition, ProcessImplementation, ProcessParameter } from './types.js';

/**
 * Processes on single values. Called with plain values they compute at once (constant
 * folding, and the conformance cases); called inside a callback on pixel values they emit
 * element-wise IR, which the compiler fuses into the chunk program.
 */

export const NUMBER_OR_NULL = [{ type: 'number' }, { type: 'null' }];
const BOOLEAN_OR_NULL = [{ type: 'boolean' }, { type: 'null' }];
const ANY = {};

export function param(name: string, description: string, schema: ProcessParameter['schema'], extra: Partial<ProcessParameter> = {}): ProcessParameter {
  return { name, description, schema, ...extra };
}

export function definition(
  id: string,
  summary: string,
  description: string,
  categories: string[],
  parameters: ProcessParameter[],
  returns: ProcessDefinition['returns'],
  extra: Partial<ProcessDefinition> = {},
): ProcessDefinition {
  return { id, summary, description, categories, parameters, returns, ...extra };
}

/** The IR of a value inside a callback: constants become `const` nodes. */
export function toNode(process: string, name: string, value: Value): { node: IRNode; dims: string[] } {
  if (isSymbolic(value)) return { node: value.node, dims: value.dims };
  if (value === null) return { node: { op: 'const', value: NaN }, dims: [] };
  if (typeof value === 'number') return { node: { op: 'const', value }, dims: [] };
  if (typeof value === 'boolean') return { node: { op: 'const', value: value ? 1 : 0 }, dims: [] };
  throw invalid(process, name, `must be a number, got ${describeValue(value)}`);
}

function unionDims(...lists: string[][]): string[] {
  const out: string[] = [];
  for (const list of lists) for (const d of list) if (!out.includes(d)) out.push(d);
  return out;
}

export function symbolicBinary(process: string, fn: BinaryFunction, a: Value, b: Value, names: [string, string]): SymbolicValue {
  const x = toNode(process, names[0], a);
  const y = toNode(process, names[1], b);
  return new SymbolicValue({ op: 'binary', fn, a: x.node, b: y.node }, unionDims(x.dims, y.dims));
}

export function symbolicUnary(process: string, fn: UnaryFunction, a: Value, name: string): SymbolicValue {
  const x = toNode(process, name, a);
  return new SymbolicValue({ op: 'unary', fn, x: x.node }, x.dims);
}

function expectNumberOrNull(process: string, name: string, value: Value): number | null {
  if (value === null || typeof value === 'number') return value;
  throw invalid(process, name, `must be a number or null, got ${describeValue(value)}`);
}

function expectBooleanOrNull(process: string, name: string, value: Value): boolean | null {
  if (value === null || typeof value === 'boolean') return value;
  throw invalid(process, name, `must be a boolean or null, got ${describeValue(value)}`);
}

/** A numeric process of two numbers; null in gives null out. */
export function arithmetic(
  id: string,
  fn: BinaryFunction,
  compute: (a: number, b: number) => number,
  summary: string,
  description: string,
  names: [string, string] = ['x', 'y'],
): ProcessImplementation {
  return {
    definition: definition(id, summary, description, ['math'], [
      param(names[0], 'The first operand.', NUMBER_OR_NULL),
      param(names[1], 'The second operand.', NUMBER_OR_NULL),
    ], { description: 'The result, or null if an operand is null.', schema: NUMBER_OR_NULL }),
    evaluate(args) {
      const a = args[names[0]] ?? null;
      const b = args[names[1]] ?? null;
      if (isSymbolic(a) || isSymbolic(b)) return symbolicBinary(id, fn, a, b, names);
      const x = expectNumberOrNull(id, names[0], a);
      const y = expectNumberOrNull(id, names[1], b);
      if (x === null || y === null) return null;
      return compute(x, y);
    },
  };
}

/** A numeric process of one number; null in gives null out. */
export function unaryMath(id: string, fn: UnaryFunction, compute: (x: number) => number, summary: string, description: string): ProcessImplementation {
  return {
    definition: definition(id, summary, description, ['math'], [param('x', 'A number.', NUMBER_OR_NULL)], { description: 'The result, or null for null.', schema: NUMBER_OR_NULL }),
    evaluate(args) {
      const x = args.x ?? null;
      if (isSymbolic(x)) return symbolicUnary(id, fn, x, 'x');
      const v = expectNumberOrNull(id, 'x', x);
      return v === null ? null : compute(v);
    },
  };
}

export function comparison(id: string, fn: BinaryFunction, compute: (a: number, b: number) => boolean, summary: string, description: string): ProcessImplementation {
  return {
    definition: definition(id, summary, description, ['comparison'], [
      param('x', 'The first value.', ANY),
      param('y', 'The second value.', ANY),
    ], { description: 'The outcome, or null if a value is null.', schema: BOOLEAN_OR_NULL }),
    evaluate(args) {
      const a = args.x ?? null;
      const b = args.y ?? null;
      if (isSymbolic(a) || isSymbolic(b)) return symbolicBinary(id, fn, a, b, ['x', 'y']);
      if (a === null || b === null) return null;
      if (typeof a === 'number' && typeof b === 'number') return compute(a, b);
      if (fn === 'eq') return JSON.stringify(a) === JSON.stringify(b);
      if (fn === 'neq') return JSON.stringify(a) !== JSON.stringify(b);
      return false;
    },
  };
}

export function logical(id: 'and' | 'or' | 'xor', summary: string, description: string): ProcessImplementation {
  return {
    definition: definition(id, summary, description, ['logic'], [
      param('x', 'A boolean.', BOOLEAN_OR_NULL),
      param('y', 'A boolean.', BOOLEAN_OR_NULL),
    ], { description: 'The outcome.', schema: BOOLEAN_OR_NULL }),
    evaluate(args) {
      const a = args.x ?? null;
      const b = args.y ?? null;
      if (isSymbolic(a) || isSymbolic(b)) return symbolicBinary(id, id, a, b, ['x', 'y']);
      const x = expectBooleanOrNull(id, 'x', a);
      const y = expectBooleanOrNull(id, 'y', b);
      if (id === 'and') return x === false || y === false ? false : x === null || y === null ? null : true;
      if (id === 'or') return x === true || y === true ? true : x === null || y === null ? null : false;
      return x === null || y === null ? null : x !== y;
    },
  };
}

export const SCALAR_PROCESSES: ProcessImplementation[] = [
  arithmetic('add', 'add', (a, b) => a + b, 'Sum of two numbers', 'Adds `y` to `x`. No-data in either operand gives no-data.'),
  arithmetic('subtract', 'sub', (a, b) => a - b, 'Difference of two numbers', 'Subtracts `y` from `x`. No-data in either operand gives no-data.'),
  arithmetic('multiply', 'mul', (a, b) => a * b, 'Product of two numbers', 'Multiplies `x` by `y`. No-data in either operand gives no-data.'),
  arithmetic('divide', 'div', (a, b) => a / b, 'Quotient of two numbers', 'Divides `x` by `y`; division by zero gives ±infinity or NaN as in IEEE 754.'),
  arithmetic('power', 'pow', (a, b) => a ** b, 'Exponentiation', 'Raises `base` to the power `p`.', ['base', 'p']),
  arithmetic('normalized_difference', 'normdiff', (a, b) => (a - b) / (a + b), 'Normalized difference', 'Computes (x - y) / (x + y), the form of indices such as NDVI.'),
  unaryMath('absolute', 'abs', Math.abs, 'Absolute value', 'The magnitude of `x` without its sign.'),
  unaryMath('sqrt', 'sqrt', Math.sqrt, 'Square root', 'The non-negative square root of `x`; negative numbers give NaN.'),
  comparison('eq', 'eq', (a, b) => a === b, 'Equal to', 'Whether `x` equals `y`.'),
  comparison('neq', 'neq', (a, b) => a !== b, 'Not equal to', 'Whether `x` differs from `y`.'),
  comparison('lt', 'lt', (a, b) => a < b, 'Less than', 'Whether `x` is strictly smaller than `y`.'),
  comparison('lte', 'lte', (a, b) => a <= b, 'Less than or equal to', 'Whether `x` is smaller than or equal to `y`.'),
  comparison('gt', 'gt', (a, b) => a > b, 'Greater than', 'Whether `x` is strictly larger than `y`.'),
  comparison('gte', 'gte', (a, b) => a >= b, 'Greater than or equal to', 'Whether `x` is larger than or equal to `y`.'),
  logical('and', 'Logical AND', 'True when both are true; false when either is false; otherwise no-data.'),
  logical('or', 'Logical OR', 'True when either is true; false when both are false; otherwise no-data.'),
  {
    definition: definition('not', 'Logical NOT', 'Inverts a boolean; no-data stays no-data.', ['logic'], [param('x', 'A boolean.', BOOLEAN_OR_NULL)], { description: 'The inverted value.', schema: BOOLEAN_OR_NULL }),
    evaluate(args) {
      const x = args.x ?? null;
      if (isSymbolic(x)) return symbolicUnary('not', 'not', x, 'x');
      const v = expectBooleanOrNull('not', 'x', x);
      return v === null ? null : !v;
    },
  },
  {
    definition: definition('is_nan', 'Value is not a number', 'Whether `x` is not a number (NaN, or not numeric at all).', ['comparison', 'math > constants'], [param('x', 'The value to check.', ANY)], { description: 'True for NaN.', schema: { type: 'boolean' } }),
    evaluate(args) {
      const x = args.x ?? null;
      if (isSymbolic(x)) return symbolicUnary('is_nan', 'is_nan', x, 'x');
      return typeof x !== 'number' || Number.isNaN(x);
    },
  },
  {
    definition: definition('is_nodata', 'Value is no-data', 'Whether `x` is the no-data value (null).', ['comparison'], [param('x', 'The value to check.', ANY)], { description: 'True for no-data.', schema: { type: 'boolean' } }),
    evaluate(args) {
      const x = args.x ?? null;
      if (isSymbolic(x)) return symbolicUnary('is_nodata', 'is_nodata', x, 'x');
      return x === null;
    },
  },
  {
    definition: definition(
      'if',
      'If-then-else',
      'Returns `accept` when `value` is true and `reject` otherwise; no-data as condition gives `reject`.',
      ['logic', 'comparison', 'masks'],
      [param('value', 'The condition.', BOOLEAN_OR_NULL), param('accept', 'Returned when the condition is true.', ANY), param('reject', 'Returned otherwise.', ANY, { optional: true, default: null })],
      { description: 'Either `accept` or `reject`.', schema: ANY },
    ),
    evaluate(args) {
      const value = args.value ?? null;
      const accept = args.accept ?? null;
      const reject = args.reject ?? null;
      if (isSymbolic(value) || isSymbolic(accept) || isSymbolic(reject)) {
        const c = toNode('if', 'value', value);
        const a = toNode('if', 'accept', accept);
        const r = toNode('if', 'reject', reject);
        // An unknown condition selects `reject`, as openEO specifies.
        const cond: IRNode = { op: 'binary', fn: 'coalesce', a: c.node, b: { op: 'const', value: 0 } };
        return new SymbolicValue({ op: 'where', cond, then: a.node, else: r.node }, unionDims(c.dims, a.dims, r.dims));
      }
      return value === true ? accept : reject;
    },
  },
];
