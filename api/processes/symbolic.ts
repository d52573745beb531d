import { OpenEOError } from '../../common/errors.js';
import type { BinaryFunction, IRNode, Reducer, UnaryFunction } from '../../common/ir.js';
import { describeValue, isSymbolic, SymbolicValue, type Value } from '../compiler/values.js';
import { invalid } from './arguments.js';
import type { Label } from './labeled-array.js';

/**
 * Processes called on pixel values inside a callback (apply, reduce_dimension) do not compute:
 * they emit IR that the compiler fuses into the chunk program. No-data is NaN there, so a
 * null argument becomes a NaN constant and booleans become 1 and 0.
 */

/** Dimension of an array written out in a callback (`mean([x, y])`), stacked from its elements. */
const LITERAL_ARRAY_DIM = 'array';

export interface Operand {
  node: IRNode;
  dims: string[];
}

export function anySymbolic(...values: (Value | undefined)[]): boolean {
  return values.some(isSymbolic);
}

export function constantNode(value: number): IRNode {
  return { op: 'const', value };
}

/** The IR of an argument inside a callback. */
export function toOperand(process: string, name: string, value: Value | undefined): Operand {
  if (isSymbolic(value)) return { node: value.node, dims: value.dims };
  if (value === undefined || value === null) return { node: constantNode(NaN), dims: [] };
  if (typeof value === 'number') return { node: constantNode(value), dims: [] };
  if (typeof value === 'boolean') return { node: constantNode(value ? 1 : 0), dims: [] };
  throw invalid(process, name, `must be a number or a boolean inside this callback, got ${describeValue(value)}`);
}

export function unionDims(...lists: string[][]): string[] {
  const out: string[] = [];
  for (const list of lists) for (const d of list) if (!out.includes(d)) out.push(d);
  return out;
}

/** A symbolic value computed by `node` from `operands`, varying along all their dimensions. */
export function symbolicFrom(node: IRNode, ...operands: Operand[]): SymbolicValue {
  return new SymbolicValue(node, unionDims(...operands.map((o) => o.dims)));
}

export function unaryNode(fn: UnaryFunction, x: IRNode): IRNode {
  return { op: 'unary', fn, x };
}

export function binaryNode(fn: BinaryFunction, a: IRNode, b: IRNode): IRNode {
  return { op: 'binary', fn, a, b };
}

export function symbolicUnary(process: string, fn: UnaryFunction, value: Value | undefined, name: string): SymbolicValue {
  const x = toOperand(process, name, value);
  return symbolicFrom(unaryNode(fn, x.node), x);
}

export function symbolicBinary(process: string, fn: BinaryFunction, a: Value | undefined, b: Value | undefined, names: readonly [string, string]): SymbolicValue {
  const x = toOperand(process, names[0], a);
  const y = toOperand(process, names[1], b);
  return symbolicFrom(binaryNode(fn, x.node, y.node), x, y);
}

/** The values an array process works on in a callback: a series along one dimension of the chunk. */
export interface PixelSeries {
  node: IRNode;
  dim: string;
  dims: string[];
  labels: readonly Label[] | null;
}

/**
 * `data` as a pixel series, or null when it is a plain array of plain values (computed at once).
 * Inside a reducer `data` is the series along the reduced dimension; an array written out with
 * pixel values in it is stacked into a series.
 */
export function pixelSeries(process: string, data: Value | undefined): PixelSeries | null {
  if (isSymbolic(data)) {
    if (!data.alongDim) throw invalid(process, 'data', 'must be an array, but inside this callback it is a single value per pixel');
    return { node: data.node, dim: data.alongDim, dims: data.dims, labels: data.labels };
  }
  if (Array.isArray(data) && data.some(isSymbolic)) {
    const parts = data.map((v, i) => toOperand(process, `data[${i}]`, v));
    // The evaluator broadcasts the parts to a common layout before stacking.
    return { node: { op: 'stack', dim: LITERAL_ARRAY_DIM, parts: parts.map((p) => p.node) }, dim: LITERAL_ARRAY_DIM, dims: unionDims([LITERAL_ARRAY_DIM], ...parts.map((p) => p.dims)), labels: null };
  }
  return null;
}

export function reduceSeries(series: PixelSeries, reducer: Reducer, ignoreNodata: boolean): SymbolicValue {
  return new SymbolicValue({ op: 'reduce', dim: series.dim, reducer, ignoreNodata, x: series.node }, series.dims.filter((d) => d !== series.dim));
}

/** For processes that have no chunk-program form (they return arrays, or work on text). */
export function notInCallback(process: string): OpenEOError {
  return new OpenEOError('FeatureUnsupported', `${process} cannot be computed on the pixel values of a data cube inside a callback; it works on plain values only`);
}

/** Rejects pixel values among `values` for processes that only compute on plain values. */
export function requirePlain(process: string, ...values: (Value | undefined)[]): void {
  if (values.some(isSymbolic) || values.some((v) => Array.isArray(v) && v.some(isSymbolic))) throw notInCallback(process);
}
