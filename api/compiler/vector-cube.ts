import { type VectorDimension, type VectorValuesDocument, vectorValuesDocument } from '../../common/vector-values.js';
import type { ChunkProgram } from './cube.js';

/**
 * A vector data cube as zonal statistics make it: one value per geometry (and per label of the
 * cube's other dimensions). All values come from one task; they are few enough for JSON.
 */
export interface VectorCube {
  /** The geometries as given (GeoJSON), one per label of the geometry dimension. */
  geometries: unknown[];
  /** Dimensions of the values, the geometry dimension first. */
  dims: VectorDimension[];
  /** The program of all values: an array with the dimensions `dims` in that order. */
  program: ChunkProgram;
  /** What each value is, e.g. "mean" (the reducer). */
  statistic: string;
  readonly description: string;
}

export { nestValues, type NestedValues } from '../../common/vector-values.js';

/** The JSON document of a vector cube's values: what a result file of zonal statistics holds. */
export function vectorCubeDocument(cube: VectorCube, data: ArrayLike<number>): VectorValuesDocument {
  return vectorValuesDocument(cube, data);
}
