import { quantileProbability, type Reducer } from '../../common/ir.js';
import { DimensionError, type FloatArray, type NDArray, sharedFloats, sizeOf } from './nd-array.js';

/**
 * Reductions along one dimension. NaN is no data: skipped when `ignoreNodata`, otherwise it
 * makes the result NaN. An all-no-data series reduces to NaN (count to 0).
 *
 * Tree reductions split a long dimension into blocks: `partial` turns each block into a small
 * state (leading `stat` dimension), `combine` merges states, `finalize` turns a state into the value.
 */

/** Size of the partial state of each tree reducer (the `stat` dimension). */
const STATE_SIZE: Partial<Record<Reducer, number>> = {
  mean: 2, // sum, count
  sum: 2, // sum, count
  product: 2, // product, count
  min: 2, // min, count
  max: 2, // max, count
  count: 1, // count
  sd: 3, // count, mean, M2 (Chan et al. parallel variance)
  variance: 3,
  first: 2, // value, found
  last: 2, // value, found
};

interface Layout {
  outer: number;
  length: number;
  inner: number;
  dims: string[];
  shape: number[];
}

function layoutAlong(x: NDArray, dim: string): Layout {
  const axis = x.dims.indexOf(dim);
  if (axis < 0) throw new DimensionError(`cannot reduce over missing dimension ${dim} (dimensions: ${x.dims.join(', ')})`);
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= x.shape[d]!;
  let inner = 1;
  for (let d = axis + 1; d < x.shape.length; d++) inner *= x.shape[d]!;
  return {
    outer,
    length: x.shape[axis]!,
    inner,
    dims: x.dims.filter((_, i) => i !== axis),
    shape: x.shape.filter((_, i) => i !== axis),
  };
}

export function reduce(x: NDArray, dim: string, reducer: Reducer, ignoreNodata: boolean): NDArray {
  const layout = layoutAlong(x, dim);
  const { outer, length, inner } = layout;
  const n = outer * inner;
  const out = x.data instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
  const src = x.data;
  const probability = quantileProbability(reducer);
  if (reducer === 'median' || probability !== null) {
    const pick = probability === null ? medianOf : (sorted: Float64Array) => quantileOf(sorted, probability);
    const values = new Float64Array(length);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let count = 0;
        let sawNaN = false;
        for (let k = 0; k < length; k++) {
          const v = src[(o * length + k) * inner + i]!;
          if (Number.isNaN(v)) sawNaN = true;
          else values[count++] = v;
        }
        out[o * inner + i] = (sawNaN && !ignoreNodata) || count === 0 ? NaN : pick(values.subarray(0, count).sort());
      }
    }
    return { dims: layout.dims, shape: layout.shape, data: out };
  }
  if (reducer === 'any' || reducer === 'all') {
    // Three-valued logic: one true decides `any`, one false decides `all`; otherwise no data
    // that is not ignored leaves the answer unknown. A series of nothing but no data counts as
    // empty (any: false, all: true), as the openEO test cases expect.
    const decisive = reducer === 'any' ? 1 : 0;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let sawNaN = false;
        let valid = 0;
        let decided = false;
        for (let k = 0; k < length; k++) {
          const v = src[(o * length + k) * inner + i]!;
          if (Number.isNaN(v)) sawNaN = true;
          else {
            valid++;
            if ((v !== 0 ? 1 : 0) === decisive) decided = true;
          }
        }
        out[o * inner + i] = decided ? decisive : sawNaN && !ignoreNodata && valid > 0 ? NaN : 1 - decisive;
      }
    }
    return { dims: layout.dims, shape: layout.shape, data: out };
  }
  const state = partialState(x, layout, reducer, ignoreNodata);
  const finalized = finalizeState(state, reducer, n);
  for (let i = 0; i < n; i++) out[i] = finalized[i]!;
  return { dims: layout.dims, shape: layout.shape, data: out };
}

/**
 * Reduction of parts that are consecutive along `dim` (dates of several chunks), without joining
 * them into one array first: the common reducers accumulate part by part into one state.
 * `final` gives the reduced value, otherwise the partial state (as `partial` does).
 */
export function reduceParts(parts: NDArray[], dim: string, reducer: Reducer, ignoreNodata: boolean, final: boolean, join: (parts: NDArray[]) => NDArray): NDArray {
  const first = parts[0]!;
  const layout = layoutAlong(first, dim);
  const size = STATE_SIZE[reducer];
  if (!ignoreNodata || size === undefined || !['max', 'min', 'sum', 'mean'].includes(reducer) || parts.some((p) => layoutAlong(p, dim).inner !== layout.inner || layoutAlong(p, dim).outer !== layout.outer)) {
    const joined = join(parts);
    return final ? reduce(joined, dim, reducer, ignoreNodata) : partial(joined, dim, reducer, ignoreNodata);
  }
  const n = layout.outer * layout.inner;
  if (final && parts.every((p) => p.data instanceof Float32Array)) {
    const data = finalFloat32(parts.map((p) => ({ data: p.data as Float32Array, length: layoutAlong(p, dim).length })), reducer as 'max' | 'min' | 'sum' | 'mean', layout.outer, layout.inner);
    return { dims: layout.dims, shape: layout.shape, data };
  }
  const state = new Float64Array(size * n);
  for (const part of parts) skippingLoop(part.data, state, reducer, layout.outer, layoutAlong(part, dim).length, layout.inner);
  if (!final) return { dims: ['stat', ...layout.dims], shape: [size, ...layout.shape], data: state };
  const values = finalizeState(state, reducer, n);
  const out = first.data instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = values[i]!;
  return { dims: layout.dims, shape: layout.shape, data: out };
}

/**
 * Final max, min, sum or mean of float32 parts, skipping no data: what composites over time
 * compute. Max and min keep no count (NaN until a value arrives); sums add in float64.
 */
function finalFloat32(parts: { data: Float32Array; length: number }[], reducer: 'max' | 'min' | 'sum' | 'mean', outer: number, inner: number): Float32Array {
  const n = outer * inner;
  const out = sharedFloats(n, false) as Float32Array;
  for (let o = 0; o < outer; o++) {
    // The planes along the reduced dimension for this outer index, from all parts.
    const planes: Float32Array[] = [];
    for (const { data, length } of parts) for (let k = 0; k < length; k++) planes.push(data.subarray((o * length + k) * inner, (o * length + k + 1) * inner));
    const target = out.subarray(o * inner, (o + 1) * inner);
    if (reducer === 'max') maxOfPlanes(planes, target);
    else if (reducer === 'min') minOfPlanes(planes, target);
    else sumOfPlanes(planes, target, reducer === 'mean');
  }
  return out;
}

/*
 * One pass per pixel over up to four planes, the running value in a register and each plane a
 * local: a single store per pixel, and no lookup of the plane per sample (2-2.5x faster than a
 * loop over a list of planes). More planes take further passes that fold in what `out` holds.
 */

function maxOfPlanes(planes: Float32Array[], out: Float32Array): void {
  inGroupsOfFour(planes, out, maxOf4);
}

/**
 * Runs `fold` over the planes four at a time: the first four, then `out` with the next three, and
 * so on. A short group repeats a plane, which leaves a maximum or a minimum unchanged.
 */
function inGroupsOfFour(planes: Float32Array[], out: Float32Array, fold: (a: Float32Array, b: Float32Array, c: Float32Array, d: Float32Array, out: Float32Array) => void): void {
  if (planes.length === 0) out.fill(NaN);
  for (let first = 0; first < planes.length; first += first === 0 ? 4 : 3) {
    const a = first === 0 ? planes[0]! : out;
    const rest = planes.slice(first === 0 ? 1 : first, first === 0 ? 4 : first + 3);
    fold(a, rest[0] ?? a, rest[1] ?? a, rest[2] ?? a, out);
  }
}

function maxOf4(a: Float32Array, b: Float32Array, c: Float32Array, d: Float32Array, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) {
    // NaN (no data) gives way to any value: `best !== best` holds only for NaN.
    let best = a[i]!;
    let v = b[i]!;
    if (v > best || best !== best) best = v;
    v = c[i]!;
    if (v > best || best !== best) best = v;
    v = d[i]!;
    if (v > best || best !== best) best = v;
    out[i] = best;
  }
}

function minOfPlanes(planes: Float32Array[], out: Float32Array): void {
  inGroupsOfFour(planes, out, minOf4);
}

function minOf4(a: Float32Array, b: Float32Array, c: Float32Array, d: Float32Array, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) {
    let best = a[i]!;
    let v = b[i]!;
    if (v < best || best !== best) best = v;
    v = c[i]!;
    if (v < best || best !== best) best = v;
    v = d[i]!;
    if (v < best || best !== best) best = v;
    out[i] = best;
  }
}

function sumOfPlanes(planes: Float32Array[], out: Float32Array, mean: boolean): void {
  // Sums stay in float64 until the store, so more planes than one pass takes go through the general loop.
  if (planes.length === 4) return sumOf4(planes[0]!, planes[1]!, planes[2]!, planes[3]!, out, mean);
  const count = planes.length;
  const nan = NaN; // a local: see samplesToFloat (nd-array.ts)
  for (let i = 0; i < out.length; i++) {
    let sum = 0;
    let valid = 0;
    for (let p = 0; p < count; p++) {
      const v = planes[p]![i]!;
      if (v === v) {
        sum += v;
        valid++;
      }
    }
    out[i] = valid === 0 ? nan : mean ? sum / valid : sum;
  }
}

function sumOf4(a: Float32Array, b: Float32Array, c: Float32Array, d: Float32Array, out: Float32Array, mean: boolean): void {
  const nan = NaN; // a local: see samplesToFloat (nd-array.ts)
  for (let i = 0; i < out.length; i++) {
    let sum = 0;
    let valid = 0;
    let v = a[i]!;
    if (v === v) { sum += v; valid++; }
    v = b[i]!;
    if (v === v) { sum += v; valid++; }
    v = c[i]!;
    if (v === v) { sum += v; valid++; }
    v = d[i]!;
    if (v === v) { sum += v; valid++; }
    out[i] = valid === 0 ? nan : mean ? sum / valid : sum;
  }
}

export function partial(x: NDArray, dim: string, reducer: Reducer, ignoreNodata: boolean): NDArray {
  const layout = layoutAlong(x, dim);
  const size = STATE_SIZE[reducer];
  if (size === undefined) throw new DimensionError(`${reducer} cannot be computed as a tree reduction`);
  const state = partialState(x, layout, reducer, ignoreNodata);
  return { dims: ['stat', ...layout.dims], shape: [size, ...layout.shape], data: state };
}

/** Merges partial states (in order: `first`/`last` depend on it). */
export function combine(parts: NDArray[], reducer: Reducer): NDArray {
  const size = STATE_SIZE[reducer]!;
  const first = parts[0]!;
  const n = first.data.length / size;
  const acc = new Float64Array(first.data);
  for (let p = 1; p < parts.length; p++) {
    const s = parts[p]!.data;
    if (s.length !== acc.length) throw new DimensionError('partial states of different shapes cannot be combined');
    switch (reducer) {
      case 'mean':
      case 'sum':
        for (let i = 0; i < n; i++) {
          acc[i] = acc[i]! + s[i]!;
          acc[n + i] = acc[n + i]! + s[n + i]!;
        }
        break;
      case 'product':
        for (let i = 0; i < n; i++) {
          if (s[n + i]! > 0) acc[i] = acc[n + i]! > 0 ? acc[i]! * s[i]! : s[i]!;
          acc[n + i] = acc[n + i]! + s[n + i]!;
        }
        break;
      case 'min':
      case 'max':
        for (let i = 0; i < n; i++) {
          const a = acc[i]!;
          const b = s[i]!;
          if (s[n + i]! > 0) acc[i] = acc[n + i]! === 0 ? b : reducer === 'min' ? Math.min(a, b) : Math.max(a, b);
          acc[n + i] = acc[n + i]! + s[n + i]!;
        }
        break;
      case 'count':
        for (let i = 0; i < n; i++) acc[i] = acc[i]! + s[i]!;
        break;
      case 'sd':
      case 'variance':
        for (let i = 0; i < n; i++) {
          const na = acc[i]!;
          const nb = s[i]!;
          if (nb === 0) continue;
          if (na === 0) {
            acc[i] = nb;
            acc[n + i] = s[n + i]!;
            acc[2 * n + i] = s[2 * n + i]!;
            continue;
          }
          const delta = s[n + i]! - acc[n + i]!;
          const total = na + nb;
          acc[n + i] = acc[n + i]! + (delta * nb) / total;
          acc[2 * n + i] = acc[2 * n + i]! + s[2 * n + i]! + (delta * delta * na * nb) / total;
          acc[i] = total;
        }
        break;
      case 'first':
        for (let i = 0; i < n; i++) {
          if (acc[n + i]! === 0 && s[n + i]! !== 0) {
            acc[i] = s[i]!;
            acc[n + i] = s[n + i]!;
          }
        }
        break;
      case 'last':
        for (let i = 0; i < n; i++) {
          if (s[n + i]! !== 0) {
            acc[i] = s[i]!;
            acc[n + i] = s[n + i]!;
          }
        }
        break;
      default:
        throw new DimensionError(`${reducer} cannot be combined`);
    }
  }
  return { dims: first.dims, shape: first.shape, data: acc };
}

export function finalize(state: NDArray, reducer: Reducer): NDArray {
  const n = sizeOf(state.shape.slice(1));
  const values = finalizeState(state.data as Float64Array, reducer, n);
  return { dims: state.dims.slice(1), shape: state.shape.slice(1), data: Float32Array.from(values) };
}

/**
 * Partial state of `x` along the reduced axis. Without `ignoreNodata`, a block that saw no data
 * carries NaN in its value slot, which NaN arithmetic carries through combine and finalize.
 */
function partialState(x: NDArray, layout: Layout, reducer: Reducer, ignoreNodata: boolean): Float64Array {
  const { outer, length, inner } = layout;
  const n = outer * inner;
  const size = STATE_SIZE[reducer] ?? 2;
  const state = new Float64Array(size * n);
  const src = x.data;
  if (ignoreNodata && skippingLoop(src, state, reducer, outer, length, inner)) return state;
  const poison = new Uint8Array(ignoreNodata ? 0 : n);
  for (let o = 0; o < outer; o++) {
    const outBase = o * inner;
    for (let k = 0; k < length; k++) {
      const srcBase = (o * length + k) * inner;
      for (let i = 0; i < inner; i++) {
        const v = src[srcBase + i]!;
        const j = outBase + i;
        if (Number.isNaN(v)) {
          if (ignoreNodata) continue;
          // first/last without skipping take no data as a value; other reducers become no data.
          if (reducer === 'first' || reducer === 'last') accumulateRaw(state, reducer, n, j, v);
          else poison[j] = 1;
          continue;
        }
        accumulate(state, reducer, n, j, v);
      }
    }
  }
  for (let j = 0; j < poison.length; j++) if (poison[j]) markPoisoned(state, reducer, n, j);
  return state;
}

/**
 * The common reducers skipping no-data, each with its own tight loop (no per-value dispatch):
 * composites over time spend most of their reduction time here. False for other reducers.
 */
function skippingLoop(src: Float32Array | Float64Array, state: Float64Array, reducer: Reducer, outer: number, length: number, inner: number): boolean {
  const n = outer * inner;
  switch (reducer) {
    case 'max':
    case 'min': {
      const max = reducer === 'max';
      for (let o = 0; o < outer; o++) {
        for (let k = 0; k < length; k++) {
          const base = (o * length + k) * inner;
          const out = o * inner;
          for (let i = 0; i < inner; i++) {
            const v = src[base + i]!;
            if (v !== v) continue;
            const j = out + i;
            const count = state[n + j]!;
            if (count === 0 || (max ? v > state[j]! : v < state[j]!)) state[j] = v;
            state[n + j] = count + 1;
          }
        }
      }
      return true;
    }
    case 'sum':
    case 'mean':
      for (let o = 0; o < outer; o++) {
        for (let k = 0; k < length; k++) {
          const base = (o * length + k) * inner;
          const out = o * inner;
          for (let i = 0; i < inner; i++) {
            const v = src[base + i]!;
            if (v !== v) continue;
            state[out + i] = state[out + i]! + v;
            state[n + out + i] = state[n + out + i]! + 1;
          }
        }
      }
      return true;
    default:
      return false;
  }
}

function markPoisoned(state: Float64Array, reducer: Reducer, n: number, j: number): void {
  switch (reducer) {
    case 'count':
      // count ignores nothing: no data is simply not counted.
      break;
    case 'sd':
    case 'variance':
      state[n + j] = NaN;
      state[2 * n + j] = NaN;
      state[j] = Math.max(state[j]!, 1);
      break;
    default:
      state[j] = NaN;
      state[n + j] = Math.max(1, state[n + j]!);
  }
}

function accumulateRaw(state: Float64Array, reducer: 'first' | 'last', n: number, j: number, v: number): void {
  if (reducer === 'last' || state[n + j] === 0) {
    state[j] = v;
    state[n + j] = 1;
  }
}

function accumulate(state: Float64Array, reducer: Reducer, n: number, j: number, v: number): void {
  switch (reducer) {
    case 'mean':
    case 'sum':
      state[j] = state[j]! + v;
      state[n + j] = state[n + j]! + 1;
      break;
    case 'product':
      state[j] = state[n + j] === 0 ? v : state[j]! * v;
      state[n + j] = state[n + j]! + 1;
      break;
    case 'min':
      state[j] = state[n + j] === 0 ? v : Math.min(state[j]!, v);
      state[n + j] = state[n + j]! + 1;
      break;
    case 'max':
      state[j] = state[n + j] === 0 ? v : Math.max(state[j]!, v);
      state[n + j] = state[n + j]! + 1;
      break;
    case 'count':
      // openEO counts valid values: infinities are numbers but not valid (is_valid).
      if (Number.isFinite(v)) state[j] = state[j]! + 1;
      break;
    case 'sd':
    case 'variance': {
      const count = state[j]! + 1;
      const delta = v - state[n + j]!;
      state[j] = count;
      state[n + j] = state[n + j]! + delta / count;
      state[2 * n + j] = state[2 * n + j]! + delta * (v - state[n + j]!);
      break;
    }
    case 'first':
      if (state[n + j] === 0) {
        state[j] = v;
        state[n + j] = 1;
      }
      break;
    case 'last':
      state[j] = v;
      state[n + j] = 1;
      break;
    default:
      throw new DimensionError(`${reducer} has no partial state`);
  }
}

function finalizeState(state: Float64Array, reducer: Reducer, n: number): FloatArray {
  const out = new Float64Array(n);
  const nan = NaN; // a local: see samplesToFloat (nd-array.ts)
  for (let j = 0; j < n; j++) {
    switch (reducer) {
      case 'mean':
        out[j] = state[n + j] === 0 ? nan : state[j]! / state[n + j]!;
        break;
      case 'sum':
      case 'product':
      case 'min':
      case 'max':
        out[j] = state[n + j] === 0 ? nan : state[j]!;
        break;
      case 'count':
        out[j] = state[j]!;
        break;
      case 'variance':
      case 'sd': {
        const count = state[j]!;
        const variance = count < 2 ? nan : state[2 * n + j]! / (count - 1);
        out[j] = reducer === 'sd' ? Math.sqrt(variance) : variance;
        break;
      }
      case 'first':
      case 'last':
        out[j] = state[n + j] === 0 ? nan : state[j]!;
        break;
      default:
        throw new DimensionError(`${reducer} cannot be finalized`);
    }
  }
  return out;
}

/** The median of sorted values. */
function medianOf(values: Float64Array): number {
  const n = values.length;
  const mid = n >> 1;
  return n % 2 === 1 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
}

/**
 * Type 7 sample quantile of sorted values: linear between the two order statistics around
 * (n - 1) * p. Weighting both ends, rather than below + w * (above - below), keeps one infinite
 * neighbour from turning into inf - inf.
 */
export function quantileOf(sorted: ArrayLike<number>, probability: number): number {
  const h = (sorted.length - 1) * probability;
  const lower = Math.floor(h);
  const weight = h - lower;
  const below = sorted[lower]!;
  if (weight === 0) return below;
  return (1 - weight) * below + weight * sorted[lower + 1]!;
}
