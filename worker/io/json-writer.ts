/**
 * JSON results: small data cubes as labelled nested arrays, and plain values as they are.
 *
 * A cube is written in the layout of xarray's `DataArray.to_dict()` (`dims`, `coords` with their
 * own `dims`/`data`/`attrs`, `attrs`, `data`), so `xarray.DataArray.from_dict(json.load(f))`
 * rebuilds it and any other reader finds labels beside the values. No-data is `null`; values are
 * printed with the fewest digits that give back the same float32.
 */
import { writeAll, writeFileAtomically } from './atomic-writer.js';

export interface JsonCoordinate {
  dims: [string];
  data: (string | number)[];
  attrs?: Record<string, unknown>;
}

export interface JsonCube {
  name: string;
  dims: string[];
  shape: number[];
  coords: Record<string, JsonCoordinate>;
  attrs: Record<string, unknown>;
  /** Row-major values in `shape`. */
  values: Float32Array;
}

/** The shortest decimal that reads back as the same float32 (JSON has no NaN: null). */
export function float32Json(value: number): number | null {
  if (!Number.isFinite(value)) return null;
  for (let digits = 7; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return Number(value.toPrecision(9));
}

function nested(values: Float32Array, shape: number[], dim: number, offset: number): unknown[] {
  const size = shape[dim]!;
  const out = new Array<unknown>(size);
  if (dim === shape.length - 1) {
    for (let i = 0; i < size; i++) out[i] = float32Json(values[offset + i]!);
    return out;
  }
  const stride = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  for (let i = 0; i < size; i++) out[i] = nested(values, shape, dim + 1, offset + i * stride);
  return out;
}

/** The document of a cube (what `writeJsonCube` writes). */
export function cubeDocument(cube: JsonCube): Record<string, unknown> {
  return { name: cube.name, dims: cube.dims, coords: cube.coords, attrs: cube.attrs, data: cube.shape.length === 0 ? float32Json(cube.values[0]!) : nested(cube.values, cube.shape, 0, 0) };
}

/** Writes any JSON value atomically; non-finite numbers become null. */
export async function writeJsonFile(path: string, value: unknown): Promise<{ bytes: number }> {
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
  return writeFileAtomically(path, 'JSON', (handle) => writeAll(handle, [new TextEncoder().encode(text)]));
}
