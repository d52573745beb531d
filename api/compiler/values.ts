import type { IRNode } from '../../common/ir.js';
import type { ProcessGraph } from './process-graph.js';
import type { LazyCube } from './cube.js';
import type { VectorCube } from './vector-cube.js';

/**
 * What a process-graph node evaluates to at compile time: plain JSON, a lazy data cube,
 * a symbolic array inside a callback (becomes IR), or a callback not yet called.
 */
export type Value = null | boolean | number | string | Value[] | { [key: string]: Value } | CubeValue | VectorCubeValue | SymbolicValue | CallbackValue;

export class CubeValue {
  constructor(readonly cube: LazyCube) {}
}

/** Values per geometry (zonal statistics): computed by a task, small enough for JSON. */
export class VectorCubeValue {
  constructor(readonly cube: VectorCube) {}
}

/**
 * An array value inside a callback compiled for a chunk: `node` computes it, `dims` are its
 * dimensions. When it is the callback's `data` (the values along the reduced dimension),
 * `alongDim` names that dimension and `labels` its labels, so array processes (mean,
 * array_element) reduce or select along it.
 */
export class SymbolicValue {
  constructor(
    readonly node: IRNode,
    readonly dims: string[],
    readonly alongDim: string | null = null,
    readonly labels: (string | number)[] | null = null,
  ) {}
}

export class CallbackValue {
  constructor(
    readonly graph: ProcessGraph,
    /** Parameters of the enclosing scope, visible inside the callback. */
    readonly scope: Record<string, Value>,
  ) {}
}

export function isCube(value: unknown): value is CubeValue {
  return value instanceof CubeValue;
}

export function isVectorCube(value: unknown): value is VectorCubeValue {
  return value instanceof VectorCubeValue;
}

export function isSymbolic(value: unknown): value is SymbolicValue {
  return value instanceof SymbolicValue;
}

export function isCallbackValue(value: unknown): value is CallbackValue {
  return value instanceof CallbackValue;
}

export function describeValue(value: Value): string {
  if (value === null) return 'null';
  if (isCube(value)) return 'a data cube';
  if (isVectorCube(value)) return 'a vector data cube';
  if (isSymbolic(value)) return 'an array of pixel values';
  if (isCallbackValue(value)) return 'a process';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
