/**
 * Vocabulary shared by readers, writers and kernels: pixel types, typed arrays, windows and
 * GDAL-style geotransforms.
 */

export type DType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';

export type TypedArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** GDAL geotransform: [originX, pixelWidth, rowRotation, originY, columnRotation, pixelHeight (negative when north-up)]. */
export type GeoTransform = [number, number, number, number, number, number];

/** A rectangle of pixels: column offset, row offset, width, height. */
export interface PixelWindow {
  x: number;
  y: number;
  width: number;
  height: number;
}

const CONSTRUCTORS = {
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
} as const;

type ViewConstructor = new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => TypedArray;

function viewConstructor(dtype: DType): ViewConstructor {
  return CONSTRUCTORS[dtype] as unknown as ViewConstructor;
}

export function allocate(dtype: DType, length: number, shared = false): TypedArray {
  const Ctor = CONSTRUCTORS[dtype];
  if (!shared) return new Ctor(length);
  return new (viewConstructor(dtype))(new SharedArrayBuffer(length * Ctor.BYTES_PER_ELEMENT));
}

export function bytesPerElement(dtype: DType): number {
  return CONSTRUCTORS[dtype].BYTES_PER_ELEMENT;
}

export function dtypeOf(array: TypedArray): DType {
  if (array instanceof Float32Array) return 'float32';
  if (array instanceof Float64Array) return 'float64';
  if (array instanceof Uint8Array) return 'uint8';
  if (array instanceof Uint16Array) return 'uint16';
  if (array instanceof Int16Array) return 'int16';
  if (array instanceof Int32Array) return 'int32';
  if (array instanceof Uint32Array) return 'uint32';
  return 'int8';
}

/** A typed array view of `dtype` over bytes (copying when unaligned). */
export function viewAs(dtype: DType, bytes: Uint8Array): TypedArray {
  const Ctor = viewConstructor(dtype);
  const size = CONSTRUCTORS[dtype].BYTES_PER_ELEMENT;
  if (bytes.byteOffset % size === 0) return new Ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / size);
  return new Ctor(bytes.slice().buffer, 0, bytes.byteLength / size);
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

/** Pixel centre of (col, row) in the CRS of `transform`. */
export function pixelCentre(transform: GeoTransform, col: number, row: number): [number, number] {
  const [x0, dx, rx, y0, ry, dy] = transform;
  return [x0 + (col + 0.5) * dx + (row + 0.5) * rx, y0 + (col + 0.5) * ry + (row + 0.5) * dy];
}
