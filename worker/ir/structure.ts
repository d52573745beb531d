import { broadcastDims, DimensionError, type FloatArray, materialize, type NDArray, relabeled, sizeOf, stridesOf, unconverted } from './nd-array.js';

/** Operations that pick, join or rearrange dimensions without computing values. */

function axisOf(x: NDArray, dim: string): number {
  const axis = x.dims.indexOf(dim);
  if (axis < 0) throw new DimensionError(`dimension ${dim} not found (dimensions: ${x.dims.join(', ') || 'none'})`);
  return axis;
}

/** Index of `take` that stands for a label the input lacks: its values are no data. */
export const MISSING_INDEX = -1;

/** Keeps the given indices of `dim` (in that order); MISSING_INDEX gives a slab of NaN. */
export function take(x: NDArray, dim: string, indices: number[]): NDArray {
  const axis = axisOf(x, dim);
  const length = x.shape[axis]!;
  for (const i of indices) if (i !== MISSING_INDEX && (i < 0 || i >= length)) throw new DimensionError(`index ${i} is outside dimension ${dim} of size ${length}`);
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= x.shape[d]!;
  const inner = sizeOf(x.shape.slice(axis + 1));
  const shape = x.shape.slice();
  shape[axis] = indices.length;
  const out = x.data instanceof Float64Array ? new Float64Array(sizeOf(shape)) : new Float32Array(sizeOf(shape));
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const k of indices) {
      if (k === MISSING_INDEX) out.fill(NaN, o, o + inner);
      else {
        const start = (a * length + k) * inner;
        out.set(x.data.subarray(start, start + inner), o);
      }
      o += inner;
    }
  }
  return { dims: x.dims, shape, data: out };
}

/** Keeps indices [start, end) of `dim`. */
export function slice(x: NDArray, dim: string, start: number, end: number): NDArray {
  const axis = axisOf(x, dim);
  const length = x.shape[axis]!;
  if (start < 0 || end > length || end < start) throw new DimensionError(`window [${start}, ${end}) is outside dimension ${dim} of size ${length}`);
  if (start === 0 && end === length) return x;
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= x.shape[d]!;
  const inner = sizeOf(x.shape.slice(axis + 1));
  const shape = x.shape.slice();
  shape[axis] = end - start;
  const out = x.data instanceof Float64Array ? new Float64Array(sizeOf(shape)) : new Float32Array(sizeOf(shape));
  const run = (end - start) * inner;
  for (let a = 0; a < outer; a++) out.set(x.data.subarray((a * length + start) * inner, (a * length + start) * inner + run), a * run);
  return { dims: x.dims, shape, data: out };
}

/** Picks one index of `dim` and drops the dimension; a view (no copy) when the values are contiguous. */
export function select(x: NDArray, dim: string, index: number): NDArray {
  const axis = x.dims.indexOf(dim);
  if (axis >= 0 && index >= 0 && index < x.shape[axis]! && x.shape.slice(0, axis).every((s) => s === 1)) {
    const inner = sizeOf(x.shape.slice(axis + 1));
    return { dims: x.dims.filter((_, i) => i !== axis), shape: x.shape.filter((_, i) => i !== axis), data: x.data.subarray(index * inner, (index + 1) * inner) };
  }
  const taken = take(x, dim, [index]);
  return { dims: taken.dims.filter((_, i) => i !== axis), shape: taken.shape.filter((_, i) => i !== axis), data: taken.data };
}

/** Joins parts along an existing dimension `dim`. */
export function concat(parts: NDArray[], dim: string): NDArray {
  const first = parts[0]!;
  const axis = axisOf(first, dim);
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= first.shape[d]!;
  const inner = sizeOf(first.shape.slice(axis + 1));
  const total = parts.reduce((n, p) => n + p.shape[axis]!, 0);
  const shape = first.shape.slice();
  shape[axis] = total;
  const f64 = parts.some((p) => p.data instanceof Float64Array);
  const out = f64 ? new Float64Array(sizeOf(shape)) : new Float32Array(sizeOf(shape));
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const part of parts) {
      const n = part.shape[axis]! * inner;
      out.set(part.data.subarray(a * n, a * n + n), o);
      o += n;
    }
  }
  return { dims: first.dims, shape, data: out };
}

/** A new outermost dimension `dim` built from parts, broadcast to a common layout first. */
export function stack(parts: NDArray[], dim: string): NDArray {
  let layout: { dims: string[]; shape: number[] } = { dims: parts[0]!.dims, shape: parts[0]!.shape };
  for (const part of parts.slice(1)) layout = broadcastDims({ ...layout, data: new Float32Array(0) }, part);
  const aligned = parts.map((p) => materialize(p, layout.dims, layout.shape));
  const n = sizeOf(layout.shape);
  const f64 = aligned.some((p) => p.data instanceof Float64Array);
  const out = f64 ? new Float64Array(n * parts.length) : new Float32Array(n * parts.length);
  aligned.forEach((part, i) => out.set(part.data, i * n));
  return { dims: [dim, ...layout.dims], shape: [parts.length, ...layout.shape], data: out };
}

export function expand(x: NDArray, dim: string): NDArray {
  return relabeled(x, [dim, ...x.dims], [1, ...x.shape]);
}

export function rename(x: NDArray, from: string, to: string): NDArray {
  return relabeled(x, x.dims.map((d) => (d === from ? to : d)), x.shape);
}

/** Reorders dimensions to `order` (names absent from x are skipped). */
export function transpose(x: NDArray, order: string[]): NDArray {
  const dims = order.filter((d) => x.dims.includes(d));
  for (const d of x.dims) if (!dims.includes(d)) dims.push(d);
  if (dims.every((d, i) => d === x.dims[i])) return x;
  // Moving dimensions of size 1 does not move any value: relabel without copying.
  const sized = (list: string[]): string[] => list.filter((d) => x.shape[x.dims.indexOf(d)]! > 1);
  if (sized(dims).join('\0') === sized(x.dims).join('\0')) return relabeled(x, dims, dims.map((d) => x.shape[x.dims.indexOf(d)]!));
  const perm = dims.map((d) => x.dims.indexOf(d));
  const shape = perm.map((p) => x.shape[p]!);
  const srcStrides = stridesOf(x.shape);
  const strides = perm.map((p) => srcStrides[p]!);
  const out = x.data instanceof Float64Array ? new Float64Array(x.data.length) : new Float32Array(x.data.length);
  const rank = shape.length;
  const counter = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let i = 0;
    for (let d = 0; d < rank; d++) i += counter[d]! * strides[d]!;
    out[o] = x.data[i]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++counter[d]! < shape[d]!) break;
      counter[d] = 0;
    }
  }
  return { dims, shape, data: out };
}

/**
 * Nearest-neighbour upsampling of the trailing (y, x) plane by an integer factor, then a crop:
 * output pixel (r, c) takes source pixel ((r + offsetY) / factor, (c + offsetX) / factor).
 * Unconverted samples (a 20 m band on a 10 m grid) stay unconverted: a quarter of the bytes to
 * move, and the compiled loop that reads them converts anyway.
 */
export function upsample(x: NDArray, factor: number, offsetY: number, offsetX: number, height: number, width: number): NDArray {
  const rank = x.shape.length;
  const shape = [...x.shape.slice(0, rank - 2), height, width];
  const planes = sizeOf(x.shape.slice(0, rank - 2));
  const source = x.raw ? x.raw.samples : x.data;
  const out = new (source.constructor as new (length: number) => typeof source)(planes * height * width);
  upsampleInto(source, out, planes, x.shape[rank - 2]!, x.shape[rank - 1]!, factor, offsetY, offsetX, height, width);
  return x.raw ? unconverted(x.dims, shape, { ...x.raw, samples: out as Uint16Array | Uint8Array }) : { dims: x.dims, shape, data: out as FloatArray };
}

function upsampleInto(source: ArrayLike<number>, out: Float32Array | Float64Array | Uint16Array | Uint8Array, planes: number, srcH: number, srcW: number, factor: number, offsetY: number, offsetX: number, height: number, width: number): void {
  const colIndex = new Int32Array(width);
  for (let c = 0; c < width; c++) colIndex[c] = Math.min(srcW - 1, Math.floor((c + offsetX) / factor));
  for (let p = 0; p < planes; p++) {
    let previous = -1;
    for (let r = 0; r < height; r++) {
      const sr = Math.min(srcH - 1, Math.floor((r + offsetY) / factor));
      const outRow = (p * height + r) * width;
      // Rows from the same source row are copies of the one before.
      if (sr === previous) {
        out.copyWithin(outRow, outRow - width, outRow);
        continue;
      }
      previous = sr;
      const srcRow = p * srcH * srcW + sr * srcW;
      for (let c = 0; c < width; c++) out[outRow + c] = source[srcRow + colIndex[c]!]!;
    }
  }
}
