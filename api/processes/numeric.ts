import type { BinaryFunction, UnaryFunction } from '../../common/ir.js';
import type { Value } from '../compiler/values.js';
import { numberOrNull } from './arguments.js';
import { definition, NUMBER_OR_NULL, param } from './definition.js';
import { anySymbolic, symbolicBinary, symbolicUnary } from './symbolic.js';
import type { JsonSchema, ProcessDefinition, ProcessImplementation } from './types.js';

/**
 * Element-wise numeric processes: on plain numbers they compute at once (null in, null out);
 * on pixel values they emit the IR function of the same name, which workers evaluate with
 * the same arithmetic (worker/ir/elementwise.ts).
 */

interface NumericParameter {
  name: string;
  description: string;
  /** Defaults to a number or null. */
  schema?: JsonSchema;
}

interface NumericProcess {
  id: string;
  summary: string;
  description: string;
  categories: string[];
  returns: { description: string; schema?: JsonSchema };
  exceptions?: ProcessDefinition['exceptions'];
}

function numericDefinition(spec: NumericProcess, parameters: NumericParameter[]): ProcessDefinition {
  return definition(
    spec.id,
    spec.summary,
    spec.description,
    spec.categories,
    parameters.map((p) => param(p.name, p.description, p.schema ?? NUMBER_OR_NULL)),
    { description: spec.returns.description, schema: spec.returns.schema ?? NUMBER_OR_NULL },
    spec.exceptions ? { exceptions: spec.exceptions } : {},
  );
}

/** A process of one number. `compute` may map a number to null (no-data). */
export function unaryNumeric(spec: NumericProcess & { parameter: NumericParameter; ir: UnaryFunction; compute: (x: number) => number | null }): ProcessImplementation {
  const name = spec.parameter.name;
  return {
    definition: numericDefinition(spec, [spec.parameter]),
    evaluate(args) {
      const value = args[name];
      if (anySymbolic(value)) return symbolicUnary(spec.id, spec.ir, value, name);
      const x = numberOrNull(spec.id, name, value);
      return x === null ? null : spec.compute(x);
    },
  };
}

/** A process of two numbers; no-data in either gives no-data. */
export function binaryNumeric(spec: NumericProcess & { parameters: [NumericParameter, NumericParameter]; ir: BinaryFunction; compute: (a: number, b: number) => number }): ProcessImplementation {
  const names = [spec.parameters[0].name, spec.parameters[1].name] as const;
  return {
    definition: numericDefinition(spec, spec.parameters),
    evaluate(args) {
      const [a, b] = [args[names[0]], args[names[1]]];
      if (anySymbolic(a, b)) return symbolicBinary(spec.id, spec.ir, a, b, names);
      const x = numberOrNull(spec.id, names[0], a);
      const y = numberOrNull(spec.id, names[1], b);
      return x === null || y === null ? null : spec.compute(x, y);
    },
  };
}

/** Reads several numeric arguments at once; null when any is no-data. */
export function numbersOrNull(process: string, args: Record<string, Value>, names: string[]): number[] | null {
  const values = names.map((name) => numberOrNull(process, name, args[name]));
  return values.some((v) => v === null) ? null : (values as number[]);
}

// The kernels below match worker/ir/elementwise.ts and reduce.ts number for number, so a
// process gives the same answer on a plain value as on a pixel (test/unit/process-ir.test.ts).

/** Rounds half to even ("banker's rounding"), as IEEE 754 and openEO `round` specify. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Rounds to `digits` decimals (negative: to tens, hundreds …), halves to even. */
export function roundToDigits(x: number, digits: number): number {
  if (digits === 0) return roundHalfEven(x);
  const scale = 10 ** Math.abs(digits);
  return digits > 0 ? roundHalfEven(x * scale) / scale : roundHalfEven(x / scale) * scale;
}

/** Remainder with the divisor's sign; see the `mod` kernel of the workers. */
export function floorMod(a: number, b: number): number {
  if (b === 0) return a > 0 ? Infinity : a < 0 ? -Infinity : NaN;
  const r = a % b;
  return r !== 0 && Number.isFinite(b) && r < 0 !== b < 0 ? r + b : r;
}

/** Logarithm to a base; the common bases use their exact functions (log10(1000) is 3, not 2.9999999999999996). */
export function logarithm(x: number, base: number): number {
  if (base === 10) return Math.log10(x);
  if (base === 2) return Math.log2(x);
  if (base === Math.E) return Math.log(x);
  return Math.log(x) / Math.log(base);
}

/** Maps x from [inputMin, inputMax] (clipped to it) linearly onto [outputMin, outputMax]. */
export function linearScale(x: number, inputMin: number, inputMax: number, outputMin: number, outputMax: number): number {
  const clipped = Math.min(Math.max(inputMin, inputMax), Math.max(Math.min(inputMin, inputMax), x));
  return (clipped - inputMin) * ((outputMax - outputMin) / (inputMax - inputMin)) + outputMin;
}
