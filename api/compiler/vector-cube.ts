import type { ChunkProgram } from './cube.js';

/**
 * A vector data cube as zonal statistics make it: one value per geometry (and per label of the
 * cube's other dimensions). All values come from one task; they are few enough for JSON.
 */
export interface VectorCube {
  /** The geometries as given (GeoJSON), one per label of the geometry dimension. */
  geometries: unknown[];
  /** Dimensions of the values, the geometry dimension first. */
  dims: { name: string; type: 'geometry' | 'temporal' | 'bands' | 'other'; labels: (string | number)[] }[];
  /** The program of all values: an array with the dimensions `dims` in that order. */
  program: ChunkProgram;
  /** What each value is, e.g. "mean" (the reducer). */
  statistic: string;
  readonly description: string;
}

/** A JSON value nested by dimension: {geometry index: {label: … value}}; no data is null. */
export type NestedValues = { [label: string]: NestedValues } | number | null;

/**
 * The values of a vector cube (row-major over `dims`) as nested objects: the first level is the
 * geometry's index, each further level a label of the next dimension, numbers at the bottom.
 */
export function nestValues(dims: VectorCube['dims'], data: ArrayLike<number>): NestedValues {
  const strides = dims.map((_, i) => dims.slice(i + 1).reduce((n, d) => n * d.labels.length, 1));
  const level = (depth: number, offset: number): NestedValues => {
    if (depth === dims.length) {
      const v = data[offset]!;
      return Number.isFinite(v) ? v : null;
    }
    const out: { [label: string]: NestedValues } = {};
    dims[depth]!.labels.forEach((label, i) => (out[String(label)] = level(depth + 1, offset + i * strides[depth]!)));
    return out;
  };
  return level(0, 0);
}

/** The JSON document of a vector cube's values: what a result file of zonal statistics holds. */
export function vectorCubeDocument(cube: VectorCube, data: ArrayLike<number>): { statistic: string; dimensions: VectorCube['dims']; geometries: unknown[]; values: NestedValues } {
  return { statistic: cube.statistic, dimensions: cube.dims, geometries: cube.geometries, values: nestValues(cube.dims, data) };
}
