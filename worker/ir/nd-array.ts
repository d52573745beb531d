/** A dense float array with named dimensions; NaN means no data. Spatial dimensions come last. */
export interface NDArray {
  dims: string[];
  shape: number[];
  data: Float32Array | Float64Array;
  /**
   * The stored integers behind `data`, when it was read from a file and not converted yet:
   * value = sample * scale + offset (as float32), NaN where sample is `nodata`. Compiled loops
   * read these directly; anything else reading `data` converts them once.
   */
  readonly raw?: RawSamples;
}

export interface RawSamples {
  samples: Uint16Array | Uint8Array;
  scale: number;
  offset: number;
  /** -1 when there is none (no unsigned sample equals it). */
  nodata: number;
}

export type FloatArray = Float32Array | Float64Array;

/**
 * A zeroed float array in shared memory, for results that become chunks: the kernel thread
 * hands shared buffers to the worker (and it to later kernels) without copying them, where an
 * ordinary buffer is copied once into shared memory and left to the garbage collector.
 */
export function sharedFloats(length: number, f64: boolean): FloatArray {
  return f64 ? new Float64Array(new SharedArrayBuffer(length * 8)) : new Float32Array(new SharedArrayBuffer(length * 4));
}

/**
 * Unsigned samples as an array whose float values are computed when first asked for (see
 * NDArray.raw): compiled loops read the samples, anything else converts them once.
 */
export function unconverted(dims: string[], shape: number[], raw: RawSamples): NDArray {
  let data: Float32Array | null = null;
  const array = {
    dims,
    shape,
    get data(): Float32Array {
      data ??= samplesToFloat(raw);
      return data;
    },
  };
  // Not enumerable: an array derived with `{ ...x, data: other }` must not carry these samples along.
  Object.defineProperty(array, 'raw', { value: raw, enumerable: false });
  return array;
}

/**
 * The float32 values of unsigned samples, in loops of their own per sample type: a loop over one
 * array type stays monomorphic, and integers need no NaN test.
 */
export function samplesToFloat({ samples, scale, offset, nodata }: RawSamples): Float32Array {
  const out = new Float32Array(samples.length);
  // NaN read once into a local: V8 optimises a loop while it runs, and a read of the global NaN
  // in a branch that has not run by then (no data is rare) makes it box every value the branch
  // merges with, a heap number per pixel (1.5-2x slower, and garbage). Pixel loops do the same.
  const nan = NaN;
  if (samples instanceof Uint16Array) {
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i]!;
      out[i] = v === nodata ? nan : v * scale + offset;
    }
  } else {
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i]!;
      out[i] = v === nodata ? nan : v * scale + offset;
    }
  }
  return out;
}


/** The no-data value of unsigned samples as RawSamples holds it: -1 (no sample equals it) when there is none. */
export function rawNodata(nodata: number | null): number {
  return nodata === null || Number.isNaN(nodata) ? -1 : nodata;
}

/**
 * The same values under other dimension names, or with dimensions of size 1 added or moved:
 * no copy, and unconverted samples stay unconverted.
 */
export function relabeled(x: NDArray, dims: string[], shape: number[]): NDArray {
  if (!x.raw) return { dims, shape, data: x.data };
  const view = {
    dims,
    shape,
    get data(): FloatArray {
      return x.data;
    },
  };
  Object.defineProperty(view, 'raw', { value: x.raw, enumerable: false });
  return view;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = stride;
    stride *= shape[i]!;
  }
  return strides;
}

export function scalar(value: number): NDArray {
  return { dims: [], shape: [], data: new Float64Array([value]) };
}

export function floatLike(a: FloatArray, b: FloatArray | null, length: number): FloatArray {
  return a instanceof Float64Array || b instanceof Float64Array ? new Float64Array(length) : new Float32Array(length);
}

export function sameLayout(a: NDArray, b: NDArray): boolean {
  if (a.dims.length !== b.dims.length) return false;
  for (let i = 0; i < a.dims.length; i++) if (a.dims[i] !== b.dims[i] || a.shape[i] !== b.shape[i]) return false;
  return true;
}

const SPATIAL = new Set(['y', 'x']);

/** Dimension order of a broadcast result: a's order, b's extra dimensions before the spatial tail. */
export function broadcastDims(a: NDArray, b: NDArray): { dims: string[]; shape: number[] } {
  const dims: string[] = [];
  const shape: number[] = [];
  const sizeOfDim = (name: string): number => {
    const ia = a.dims.indexOf(name);
    const ib = b.dims.indexOf(name);
    const sa = ia >= 0 ? a.shape[ia]! : 1;
    const sb = ib >= 0 ? b.shape[ib]! : 1;
    if (sa !== sb && sa !== 1 && sb !== 1) throw new DimensionError(`dimension ${name} has size ${sa} and ${sb}`);
    return Math.max(sa, sb);
  };
  const all = [...a.dims, ...b.dims.filter((d) => !a.dims.includes(d))];
  for (const name of all.filter((d) => !SPATIAL.has(d))) {
    dims.push(name);
    shape.push(sizeOfDim(name));
  }
  for (const name of all.filter((d) => SPATIAL.has(d)).sort((p, q) => (p === 'y' ? -1 : q === 'y' ? 1 : 0))) {
    dims.push(name);
    shape.push(sizeOfDim(name));
  }
  return { dims, shape };
}

/** Strides of `array` as seen from an output layout (0 for dimensions it lacks or has size 1). */
export function broadcastStrides(array: NDArray, dims: string[]): number[] {
  const own = stridesOf(array.shape);
  return dims.map((name) => {
    const i = array.dims.indexOf(name);
    return i < 0 || array.shape[i] === 1 ? 0 : own[i]!;
  });
}

/** Makes `array` have exactly `dims` (in that order), broadcasting missing dimensions to `shape`. */
export function materialize(array: NDArray, dims: string[], shape: number[]): NDArray {
  if (array.dims.length === dims.length && array.dims.every((d, i) => d === dims[i] && array.shape[i] === shape[i])) return array;
  const out = array.data instanceof Float64Array ? new Float64Array(sizeOf(shape)) : new Float32Array(sizeOf(shape));
  const strides = broadcastStrides(array, dims);
  forEachIndex(shape, strides, (o, i) => {
    out[o] = array.data[i]!;
  });
  return { dims, shape, data: out };
}

/**
 * Walks every element of `shape` in row-major order, calling `visit(outputOffset, sourceOffset)`
 * where the source offset follows `strides`. The innermost loop is kept tight.
 */
export function forEachIndex(shape: readonly number[], strides: readonly number[], visit: (out: number, src: number) => void): void {
  const rank = shape.length;
  if (rank === 0) {
    visit(0, 0);
    return;
  }
  const inner = shape[rank - 1]!;
  const innerStride = strides[rank - 1]!;
  const outer = sizeOf(shape) / Math.max(inner, 1);
  const counter = new Array<number>(rank - 1).fill(0);
  let out = 0;
  for (let o = 0; o < outer; o++) {
    let base = 0;
    for (let d = 0; d < rank - 1; d++) base += counter[d]! * strides[d]!;
    for (let i = 0; i < inner; i++) visit(out++, base + i * innerStride);
    for (let d = rank - 2; d >= 0; d--) {
      if (++counter[d]! < shape[d]!) break;
      counter[d] = 0;
    }
  }
}

/** A program asked for dimensions or shapes that do not fit the data (the user's graph is at fault). */
export class DimensionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DimensionError';
  }
}
