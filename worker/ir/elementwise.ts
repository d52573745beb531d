import type { BinaryFunction, UnaryFunction } from '../../common/ir.js';
import { broadcastDims, broadcastStrides, floatLike, type NDArray, sameLayout, sizeOf } from './nd-array.js';

/**
 * Element-wise functions with openEO's no-data rules: NaN (no data) propagates through
 * arithmetic and comparisons; logic follows three-valued logic (false AND null = false).
 */

export const UNARY: Record<UnaryFunction, (x: number) => number> = {
  neg: (x) => -x,
  abs: Math.abs,
  sqrt: Math.sqrt,
  exp: Math.exp,
  ln: Math.log,
  log10: Math.log10,
  log2: Math.log2,
  floor: Math.floor,
  ceil: Math.ceil,
  // openEO rounds half to even ("bankers' rounding").
  round: (x) => {
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  },
  int: Math.trunc,
  sgn: (x) => (Number.isNaN(x) ? NaN : Math.sign(x)),
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  asin: Math.asin,
  acos: Math.acos,
  atan: Math.atan,
  sinh: Math.sinh,
  cosh: Math.cosh,
  tanh: Math.tanh,
  asinh: Math.asinh,
  acosh: Math.acosh,
  atanh: Math.atanh,
  not: (x) => (Number.isNaN(x) ? NaN : x === 0 ? 1 : 0),
  is_nan: (x) => (Number.isNaN(x) ? 1 : 0),
  is_nodata: (x) => (Number.isNaN(x) ? 1 : 0),
  is_valid: (x) => (Number.isFinite(x) ? 1 : 0),
  is_infinite: (x) => (x === Infinity || x === -Infinity ? 1 : 0),
};

/**
 * openEO `mod`: the remainder takes the divisor's sign; a finite dividend over an infinite
 * divisor stays as it is, and a zero divisor gives ±infinity (NaN for 0) as division does.
 */
function floorMod(a: number, b: number): number {
  if (b === 0) return a > 0 ? Infinity : a < 0 ? -Infinity : NaN;
  const r = a % b;
  return r !== 0 && Number.isFinite(b) && r < 0 !== b < 0 ? r + b : r;
}

export const BINARY: Record<BinaryFunction, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => a ** b,
  mod: floorMod,
  atan2: Math.atan2,
  min2: (a, b) => (Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.min(a, b)),
  max2: (a, b) => (Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.max(a, b)),
  eq: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a === b ? 1 : 0),
  neq: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a !== b ? 1 : 0),
  lt: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a < b ? 1 : 0),
  lte: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a <= b ? 1 : 0),
  gt: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a > b ? 1 : 0),
  gte: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a >= b ? 1 : 0),
  and: (a, b) => (a === 0 || b === 0 ? 0 : Number.isNaN(a) || Number.isNaN(b) ? NaN : 1),
  or: (a, b) => ((a !== 0 && !Number.isNaN(a)) || (b !== 0 && !Number.isNaN(b)) ? 1 : Number.isNaN(a) || Number.isNaN(b) ? NaN : 0),
  xor: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : (a !== 0) !== (b !== 0) ? 1 : 0),
  normdiff: (a, b) => (a - b) / (a + b),
  // Keep `a` where the mask `b` is false (0); no data where it is true or unknown.
  mask: (a, b) => (b === 0 ? a : NaN),
  coalesce: (a, b) => (Number.isNaN(a) ? b : a),
};

export function unary(fn: UnaryFunction, x: NDArray): NDArray {
  const f = UNARY[fn];
  const n = x.data.length;
  const out = floatLike(x.data, null, n);
  const src = x.data;
  for (let i = 0; i < n; i++) out[i] = f(src[i]!);
  return { dims: x.dims, shape: x.shape, data: out };
}

export function binary(fn: BinaryFunction, a: NDArray, b: NDArray): NDArray {
  const f = BINARY[fn];
  const ad = a.data;
  const bd = b.data;
  if (sameLayout(a, b)) {
    const n = ad.length;
    const out = floatLike(ad, bd, n);
    for (let i = 0; i < n; i++) out[i] = f(ad[i]!, bd[i]!);
    return { dims: a.dims, shape: a.shape, data: out };
  }
  if (b.data.length === 1) {
    const bv = bd[0]!;
    const n = ad.length;
    const out = floatLike(ad, bd, n);
    for (let i = 0; i < n; i++) out[i] = f(ad[i]!, bv);
    return { dims: a.dims, shape: a.shape, data: out };
  }
  if (a.data.length === 1) {
    const av = ad[0]!;
    const n = bd.length;
    const out = floatLike(ad, bd, n);
    for (let i = 0; i < n; i++) out[i] = f(av, bd[i]!);
    return { dims: b.dims, shape: b.shape, data: out };
  }
  const { dims, shape } = broadcastDims(a, b);
  const sa = broadcastStrides(a, dims);
  const sb = broadcastStrides(b, dims);
  const out = floatLike(ad, bd, sizeOf(shape));
  const rank = dims.length;
  const counter = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < rank; d++) {
      ia += counter[d]! * sa[d]!;
      ib += counter[d]! * sb[d]!;
    }
    out[o] = f(ad[ia]!, bd[ib]!);
    for (let d = rank - 1; d >= 0; d--) {
      if (++counter[d]! < shape[d]!) break;
      counter[d] = 0;
    }
  }
  return { dims, shape, data: out };
}

export function where(cond: NDArray, then: NDArray, otherwise: NDArray): NDArray {
  // where(c, t, e) = c ? t : e; an unknown (NaN) condition gives no data.
  const { dims, shape } = broadcastDims(layoutOf(cond, then), otherwise);
  const sc = broadcastStrides(cond, dims);
  const st = broadcastStrides(then, dims);
  const se = broadcastStrides(otherwise, dims);
  const out = floatLike(then.data, otherwise.data, sizeOf(shape));
  const rank = dims.length;
  const counter = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let ic = 0;
    let it = 0;
    let ie = 0;
    for (let d = 0; d < rank; d++) {
      ic += counter[d]! * sc[d]!;
      it += counter[d]! * st[d]!;
      ie += counter[d]! * se[d]!;
    }
    const c = cond.data[ic]!;
    out[o] = Number.isNaN(c) ? NaN : c !== 0 ? then.data[it]! : otherwise.data[ie]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++counter[d]! < shape[d]!) break;
      counter[d] = 0;
    }
  }
  return { dims, shape, data: out };
}

/** An empty array with the broadcast layout of a and b (only its dims and shape are used). */
function layoutOf(a: NDArray, b: NDArray): NDArray {
  const { dims, shape } = broadcastDims(a, b);
  return { dims, shape, data: new Float32Array(0) };
}

/** Applies `f` to each element (clip, between, linear scaling, membership). */
export function mapValues(x: NDArray, f: (v: number) => number): NDArray {
  const n = x.data.length;
  const out = floatLike(x.data, null, n);
  for (let i = 0; i < n; i++) out[i] = f(x.data[i]!);
  return { dims: x.dims, shape: x.shape, data: out };
}
