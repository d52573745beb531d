import type { BinaryFunction, IRNode, UnaryFunction } from '../../common/ir.js';
import { encodeTaskArgs } from '../../common/task-args.js';
import { BINARY, UNARY } from './elementwise.js';
import { StructuralKeys } from './structural-keys.js';
import { type NDArray, sharedFloats, sizeOf } from './nd-array.js';

/**
 * Element-wise sub-programs (band math, masks, comparisons: a callback's body) compiled into one
 * loop over the pixels, with no temporary array per operation. The loop's source is assembled
 * only from the fixed templates below — operation names select a template, numbers are written
 * with `String(number)` — so nothing a user wrote ever becomes code. Compiled loops are cached
 * by the program's shape, so the chunks of a job compile once per thread.
 */

export const ELEMENTWISE_OPS: ReadonlySet<IRNode['op']> = new Set(['unary', 'binary', 'where', 'clip', 'between', 'linear_scale', 'isin']);

/** Sub-programs smaller than this run through the interpreter: compiling them would not pay off. */
export const MIN_FUSED_OPERATIONS = 2;
/** Compiled loops kept per thread. */
export const FUSED_CACHE_SIZE = 256;

type Loop = (leaves: (Float32Array | Float64Array | Uint16Array | Uint8Array | null)[], scalars: number[], rawParams: number[], out: Float32Array | Float64Array, n: number, unary: typeof UNARY, binary: typeof BINARY, sets: Set<number>[]) => void;

const cache = new Map<string, Loop>();

/**
 * How the loops spell NaN: a local set once before the loop. The global `NaN` read in a branch
 * that has not run yet when the loop is optimised makes V8 box every value that branch merges
 * with (a heap number per pixel: ~2x slower, and garbage); a local of known type does not.
 */
const NAN = 'nan';

function literal(value: number): string {
  if (Number.isNaN(value)) return NAN;
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return `(${String(value)})`;
}

/** Inline templates of the commonest operations; the rest call the interpreter's functions. */
const UNARY_INLINE: Partial<Record<UnaryFunction, (x: string) => string>> = {
  neg: (x) => `(-${x})`,
  abs: (x) => `Math.abs(${x})`,
  sqrt: (x) => `Math.sqrt(${x})`,
  not: (x) => `(${x} !== ${x} ? ${NAN} : (${x} === 0 ? 1 : 0))`,
  is_nan: (x) => `(${x} !== ${x} ? 1 : 0)`,
  is_nodata: (x) => `(${x} !== ${x} ? 1 : 0)`,
};

const BINARY_INLINE: Partial<Record<BinaryFunction, (a: string, b: string) => string>> = {
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  mul: (a, b) => `(${a} * ${b})`,
  div: (a, b) => `(${a} / ${b})`,
  normdiff: (a, b) => `((${a} - ${b}) / (${a} + ${b}))`,
  eq: (a, b) => `(${a} !== ${a} || ${b} !== ${b} ? ${NAN} : (${a} === ${b} ? 1 : 0))`,
  neq: (a, b) => `(${a} !== ${a} || ${b} !== ${b} ? ${NAN} : (${a} !== ${b} ? 1 : 0))`,
  lt: (a, b) => `(${a} !== ${a} || ${b} !== ${b} ? ${NAN} : (${a} < ${b} ? 1 : 0))`,
  lte: (a, b) => `(${a} !== ${a} || ${b} !== ${b} ? ${NAN} : (${a} <= ${b} ? 1 : 0))`,
  gt: (a, b) => `(${a} !== ${a} || ${b} !== ${b} ? ${NAN} : (${a} > ${b} ? 1 : 0))`,
  gte: (a, b) => `(${a} !== ${a} || ${b} !== ${b} ? ${NAN} : (${a} >= ${b} ? 1 : 0))`,
  and: (a, b) => `(${a} === 0 || ${b} === 0 ? 0 : (${a} !== ${a} || ${b} !== ${b} ? ${NAN} : 1))`,
  or: (a, b) => `((${a} !== 0 && ${a} === ${a}) || (${b} !== 0 && ${b} === ${b}) ? 1 : (${a} !== ${a} || ${b} !== ${b} ? ${NAN} : 0))`,
  coalesce: (a, b) => `(${a} !== ${a} ? ${b} : ${a})`,
  mask: (a, b) => `(${b} === 0 ? ${a} : ${NAN})`,
};

const IDENTIFIER = /^[a-z_0-9]+$/;

export interface FusedPlan {
  /** Distinct non-element-wise inputs of the sub-program (evaluated by the interpreter). */
  leaves: IRNode[];
  /** Runs the loop once the leaves are evaluated; null when their layouts do not allow it (then interpret). */
  run(values: NDArray[]): NDArray | null;
}

const plans = new WeakMap<IRNode, FusedPlan | null>();

/** A plan for an element-wise sub-program rooted at `root`, or null when not worth fusing (cached per node). */
export function planFused(root: IRNode): FusedPlan | null {
  if (!ELEMENTWISE_OPS.has(root.op)) return null;
  let plan = plans.get(root);
  if (plan === undefined) {
    plan = makePlan(root);
    plans.set(root, plan);
  }
  return plan;
}

function makePlan(root: IRNode): FusedPlan | null {
  const leaves: IRNode[] = [];
  const leafIndex = new Map<string, number>();
  const keys = new StructuralKeys();
  let operations = 0;
  // The loop's shape: the element-wise operations with their parameters, leaves by position.
  // Programs of other chunks (other files, windows) share it, and so the compiled loop.
  const structure = (node: IRNode): string => {
    if (ELEMENTWISE_OPS.has(node.op)) {
      operations++;
      const own: Record<string, unknown> = {};
      const childShapes: string[] = [];
      const nodeChildren = children(node);
      for (const [name, value] of Object.entries(node)) if (!nodeChildren.includes(value as IRNode)) own[name] = value;
      for (const child of nodeChildren) childShapes.push(structure(child));
      return `${encodeTaskArgs(own)}(${childShapes.join(',')})`;
    }
    if (node.op === 'const') return encodeTaskArgs(node);
    const key = keys.key(node);
    let index = leafIndex.get(key);
    if (index === undefined) {
      index = leaves.length;
      leafIndex.set(key, index);
      leaves.push(node);
    }
    return `L${index}`;
  };
  const shape = structure(root);
  if (operations < MIN_FUSED_OPERATIONS) return null;
  return {
    leaves,
    run(values) {
      // Arrays must share one layout; single values are broadcast. Sizes come from shapes:
      // reading `data` of unconverted samples would convert them.
      const isSingle = (v: NDArray): boolean => sizeOf(v.shape) === 1 && v.dims.every((_, i) => v.shape[i] === 1);
      let layout: NDArray | null = null;
      for (const v of values) {
        if (isSingle(v)) continue;
        if (layout === null) layout = v;
        else if (layout.dims.length !== v.dims.length || layout.dims.some((d, i) => d !== v.dims[i] || layout!.shape[i] !== v.shape[i])) return null;
      }
      // A single value broadcasts only over dimensions the layout has: one with a dimension of
      // its own (size 1) adds that dimension to the result, which the interpreter does.
      if (values.some((v) => v !== layout && v.dims.some((d) => !layout || !layout.dims.includes(d)))) return null;
      const kinds = values.map((v): LeafKind => (v !== layout && isSingle(v) ? 's' : v.raw ? (v.raw.samples instanceof Uint16Array ? 'u' : 'b') : v.data instanceof Float64Array ? 'd' : 'f'));
      const f64 = kinds.includes('d');
      // Leaf types are part of the signature: a loop that sees one type per leaf stays monomorphic.
      const signature = `${kinds.join('')}${f64 ? 'd' : 'f'}|${shape}`;
      let loop = cache.get(signature);
      if (!loop) {
        loop = compile(root, (node) => leafIndex.get(keys.key(node))!, kinds);
        if (cache.size >= FUSED_CACHE_SIZE) cache.delete(cache.keys().next().value!);
        cache.set(signature, loop);
      }
      const n = layout ? sizeOf(layout.shape) : 1;
      const out = sharedFloats(n, f64);
      const arrays = values.map((v, k) => (kinds[k] === 's' ? null : v.raw ? v.raw.samples : v.data));
      const scalars = values.map((v, k) => (kinds[k] === 's' ? v.data[0]! : 0));
      const rawParams = values.flatMap((v) => (v.raw ? [v.raw.scale, v.raw.offset, v.raw.nodata] : [0, 0, 0]));
      loop(arrays, scalars, rawParams, out, n, UNARY, BINARY, sets);
      return layout ? { dims: layout.dims, shape: layout.shape, data: out } : { dims: [], shape: [], data: out };
    },
  };
}

/** How a leaf enters the loop: s(ingle value), f(loat32), d(ouble), u(int16) or b(yte) samples to scale. */
type LeafKind = 's' | 'f' | 'd' | 'u' | 'b';

/** Sets of `isin` nodes, shared by compiled loops (filled during compilation, read by index). */
const sets: Set<number>[] = [];

function children(node: IRNode): IRNode[] {
  switch (node.op) {
    case 'unary':
    case 'clip':
    case 'between':
    case 'linear_scale':
    case 'isin':
      return [node.x];
    case 'binary':
      return [node.a, node.b];
    case 'where':
      return [node.cond, node.then, node.else];
    default:
      return [];
  }
}

function compile(root: IRNode, leafOf: (node: IRNode) => number, kinds: LeafKind[]): Loop {
  const statements: string[] = [];
  const used = new Set<number>();
  let temp = 0;
  const emit = (node: IRNode): string => {
    if (node.op === 'const') return literal(node.value);
    if (!ELEMENTWISE_OPS.has(node.op)) {
      const index = leafOf(node);
      if (kinds[index] === 's') return `s${index}`;
      used.add(index);
      return `v${index}`;
    }
    const name = `t${temp++}`;
    let expression: string;
    switch (node.op) {
      case 'unary': {
        const x = emit(node.x);
        const inline = UNARY_INLINE[node.fn];
        if (!IDENTIFIER.test(node.fn)) throw new Error(`unexpected function name ${node.fn}`);
        expression = inline ? inline(x) : `U.${node.fn}(${x})`;
        break;
      }
      case 'binary': {
        const a = emit(node.a);
        const b = emit(node.b);
        const inline = BINARY_INLINE[node.fn];
        if (!IDENTIFIER.test(node.fn)) throw new Error(`unexpected function name ${node.fn}`);
        expression = inline ? inline(a, b) : `B.${node.fn}(${a}, ${b})`;
        break;
      }
      case 'where': {
        const c = emit(node.cond);
        const t = emit(node.then);
        const e = emit(node.else);
        expression = `(${c} !== ${c} ? ${NAN} : (${c} !== 0 ? ${t} : ${e}))`;
        break;
      }
      case 'clip': {
        const x = emit(node.x);
        expression = `(${x} !== ${x} ? ${x} : Math.min(${literal(node.max)}, Math.max(${literal(node.min)}, ${x})))`;
        break;
      }
      case 'between': {
        const x = emit(node.x);
        expression = `(${x} !== ${x} ? ${NAN} : (${x} >= ${literal(node.min)} && ${x} ${node.excludeMax ? '<' : '<='} ${literal(node.max)} ? 1 : 0))`;
        break;
      }
      case 'linear_scale': {
        const x = emit(node.x);
        const factor = (node.outputMax - node.outputMin) / (node.inputMax - node.inputMin);
        expression = `((${x} - ${literal(node.inputMin)}) * ${literal(factor)} + ${literal(node.outputMin)})`;
        break;
      }
      case 'isin': {
        const x = emit(node.x);
        sets.push(new Set(node.values));
        expression = `(${x} !== ${x} ? ${NAN} : (S[${sets.length - 1}].has(${x}) ? 1 : 0))`;
        break;
      }
      default:
        throw new Error(`operation ${node.op} is not element-wise`);
    }
    statements.push(`const ${name} = ${expression};`);
    return name;
  };
  const result = emit(root);
  const prologue = kinds
    .map((kind, k) => {
      if (kind === 's') return `const s${k} = scalars[${k}];`;
      if (kind === 'u' || kind === 'b') return `const l${k} = leaves[${k}], a${k} = rawParams[${3 * k}], b${k} = rawParams[${3 * k + 1}], m${k} = rawParams[${3 * k + 2}];`;
      return `const l${k} = leaves[${k}];`;
    })
    .join('\n');
  // Each array element is loaded once per pixel: the templates repeat their operands. Samples
  // are scaled as a read converts them (to float32), so results do not depend on fusion.
  const loads = [...used]
    .sort((a, b) => a - b)
    .map((k) => (kinds[k] === 'u' || kinds[k] === 'b' ? `const r${k} = l${k}[i];\nconst v${k} = r${k} === m${k} ? ${NAN} : Math.fround(r${k} * a${k} + b${k});` : `const v${k} = l${k}[i];`))
    .join('\n');
  const body = `${prologue}\nconst U = unary, B = binary, S = sets, ${NAN} = NaN;\nfor (let i = 0; i < n; i++) {\n${loads}\n${statements.join('\n')}\nout[i] = ${result};\n}`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- source built from the fixed templates above only
  return new Function('leaves', 'scalars', 'rawParams', 'out', 'n', 'unary', 'binary', 'sets', body) as Loop;
}

