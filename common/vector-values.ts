/**
 * The values of a vector cube (zonal statistics) as JSON: one entry per geometry, nested by the
 * labels of the cube's other dimensions. Shared by the compiler (what a result will hold) and
 * the worker that writes it.
 */

export interface VectorDimension {
  name: string;
  type: 'geometry' | 'temporal' | 'bands' | 'other';
  labels: (string | number)[];
}

/** A JSON value nested by dimension: {geometry index: {label: … value}}; no data is null. */
export type NestedValues = { [label: string]: NestedValues } | number | null;

/**
 * The values (row-major over `dims`) as nested objects: the first level is the geometry's
 * index, each further level a label of the next dimension, numbers at the bottom.
 */
export function nestValues(dims: VectorDimension[], data: ArrayLike<number>): NestedValues {
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

export interface VectorValuesDocument {
  statistic: string;
  dimensions: VectorDimension[];
  geometries: unknown[];
  values: NestedValues;
}

/** The JSON document of zonal statistics: what the statistic is, its dimensions, the geometries and the values. */
export function vectorValuesDocument(meta: { statistic: string; dims: VectorDimension[]; geometries: unknown[] }, data: ArrayLike<number>): VectorValuesDocument {
  return { statistic: meta.statistic, dimensions: meta.dims, geometries: meta.geometries, values: nestValues(meta.dims, data) };
}
