/**
 * The fused-chunk program: what the compiler emits for one chunk and a worker evaluates.
 * A tree of array operations over named dimensions; every operation comes from a fixed list
 * (no code travels in a task), and element-wise operations broadcast by dimension name.
 *
 * Arrays are float (NaN = no data) with named dimensions, spatial dimensions last (y, x).
 */

import type { GeoTransform } from './raster.js';

export const UNARY_FUNCTIONS = [
  'neg', 'abs', 'sqrt', 'exp', 'ln', 'log10', 'log2', 'floor', 'ceil', 'round', 'int', 'sgn',
  'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'tanh', 'asinh', 'acosh', 'atanh',
  'not', 'is_nan', 'is_valid', 'is_nodata', 'is_infinite',
] as const;
export type UnaryFunction = (typeof UNARY_FUNCTIONS)[number];

export const BINARY_FUNCTIONS = [
  'add', 'sub', 'mul', 'div', 'pow', 'mod', 'atan2', 'min2', 'max2',
  'eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'and', 'or', 'xor',
  /** (x - y) / (x + y) */
  'normdiff',
  /** x where y is false or NaN-free mask semantics: x if !y else NaN (openEO `mask`). */
  'mask',
  /** x if x is valid else y (mosaics: first valid). */
  'coalesce',
] as const;
export type BinaryFunction = (typeof BINARY_FUNCTIONS)[number];

/** Reducers along one dimension; NaN is skipped unless `ignoreNodata` is false. */
export const REDUCERS = ['mean', 'sum', 'min', 'max', 'count', 'median', 'sd', 'variance', 'first', 'last', 'product', 'any', 'all'] as const;

/**
 * A sample quantile (Hyndman and Fan type 7) at a probability in [0, 1], e.g. `quantile:0.9`.
 * The probability travels in the reducer's name so a quantile is a reducer like any other:
 * the same node shape, the same task encoding.
 */
export type QuantileReducer = `quantile:${number}`;
export type Reducer = (typeof REDUCERS)[number] | QuantileReducer;

const QUANTILE_PREFIX = 'quantile:';

export function quantileReducer(probability: number): QuantileReducer {
  return `${QUANTILE_PREFIX}${probability}` as QuantileReducer;
}

/** The probability of a quantile reducer, or null for the other reducers. */
export function quantileProbability(reducer: Reducer): number | null {
  return reducer.startsWith(QUANTILE_PREFIX) ? Number(reducer.slice(QUANTILE_PREFIX.length)) : null;
}

/** Reducers whose partial results over blocks combine exactly (tree reductions). */
export const TREE_REDUCERS: readonly Reducer[] = ['mean', 'sum', 'min', 'max', 'count', 'sd', 'variance', 'first', 'last', 'product'];

export type IRNode =
  | { op: 'input'; index: number }
  | { op: 'const'; value: number }
  /** Values given inline (small data cubes written in a request or a test). Row-major over `dims`. */
  | { op: 'literal'; dims: string[]; shape: number[]; values: number[] }
  /** An array of one value (a tile no item covers). */
  | { op: 'full'; value: number; dims: string[]; shape: number[] }
  | { op: 'unary'; fn: UnaryFunction; x: IRNode }
  | { op: 'binary'; fn: BinaryFunction; a: IRNode; b: IRNode }
  | { op: 'where'; cond: IRNode; then: IRNode; else: IRNode }
  | { op: 'clip'; x: IRNode; min: number; max: number }
  | { op: 'between'; x: IRNode; min: number; max: number; excludeMax: boolean }
  | { op: 'linear_scale'; x: IRNode; inputMin: number; inputMax: number; outputMin: number; outputMax: number }
  | { op: 'isin'; x: IRNode; values: number[] }
  /** Picks one index of a dimension, dropping the dimension. */
  | { op: 'select'; dim: string; index: number; x: IRNode }
  /** Keeps some indices of a dimension, in the given order; -1 stands for a label the input lacks (no data). */
  | { op: 'take'; dim: string; indices: number[]; x: IRNode }
  /** Keeps the indices [start, end) of a dimension: a window of a tile or of a time block. */
  | { op: 'slice'; dim: string; start: number; end: number; x: IRNode }
  | { op: 'reduce'; dim: string; reducer: Reducer; ignoreNodata: boolean; x: IRNode }
  /** Partial state of a tree reduction along `dim` (a leading `stat` dimension holds the state). */
  | { op: 'partial'; dim: string; reducer: Reducer; ignoreNodata: boolean; x: IRNode }
  /** Combines partial states along the `stat` dimension of each part. */
  | { op: 'combine'; reducer: Reducer; parts: IRNode[] }
  /** Final value of combined partial states. */
  | { op: 'finalize'; reducer: Reducer; x: IRNode }
  /** Builds a new dimension (outermost) from parts of equal shape. */
  | { op: 'stack'; dim: string; parts: IRNode[] }
  /** Joins parts along an existing dimension. */
  | { op: 'concat'; dim: string; parts: IRNode[] }
  /** Adds a dimension of size 1 (outermost). */
  | { op: 'expand'; dim: string; x: IRNode }
  /** Renames a dimension. */
  | { op: 'rename'; from: string; to: string; x: IRNode }
  /** Reorders to the given dimension order (dimensions absent from x are ignored). */
  | { op: 'transpose'; dims: string[]; x: IRNode }
  | ReadCogNode
  | ReadZarrNode
  /** Upsamples a (…, y, x) array by an integer factor with nearest neighbour, then crops (SCL 20 m on a 10 m grid). */
  | { op: 'upsample'; factor: number; offsetY: number; offsetX: number; height: number; width: number; x: IRNode }
  /** NaN where the pixel centre, transformed to EPSG:4326, is outside the bbox (openEO's pixel-centre rule). */
  | { op: 'mask_bbox'; bbox: [number, number, number, number]; epsg: number; transform: GeoTransform; x: IRNode }
  /**
   * Weighted sum of each pixel's neighbourhood in the trailing (y, x) plane, times `factor`, for
   * the positions where the whole kernel fits: the input carries a halo of half the kernel on
   * each side and the output is smaller by it. Values that are not finite count as `replaceInvalid`.
   */
  | { op: 'convolve'; kernel: number[][]; factor: number; replaceInvalid: number; x: IRNode }
  /**
   * Replaces pixels by the position of their centre relative to polygons (in `polygonEpsg`):
   * outside all of them unless `inside`, inside any of them when `inside`. No data stays no data.
   */
  | { op: 'mask_polygons'; polygons: PolygonRings[]; polygonEpsg: number; epsg: number; transform: GeoTransform; inside: boolean; replacement: number; x: IRNode }
  /**
   * Partial states of a tree reducer over the pixels whose centres lie in each geometry (zonal
   * statistics of one tile): dims [stat, geometry, …the non-spatial dims of x].
   */
  | { op: 'zonal_partial'; geometries: PolygonRings[][]; polygonEpsg: number; epsg: number; transform: GeoTransform; reducer: Reducer; ignoreNodata: boolean; x: IRNode }
  /**
   * Resamples the trailing (y, x) plane of `x`, a window of a source grid, onto a target grid
   * (possibly in another CRS): each target pixel centre is mapped into the source window.
   */
  | { op: 'warp'; source: { epsg: number; transform: GeoTransform }; target: { epsg: number; transform: GeoTransform; width: number; height: number }; method: WarpMethod; x: IRNode };

/** A polygon as GeoJSON writes it: the outer ring, then holes; each ring a list of [x, y]. */
export type PolygonRings = [number, number][][];

/** Resampling methods the worker implements (gdalwarp's names). */
export const WARP_METHODS = ['near', 'bilinear', 'average', 'min', 'max', 'med', 'mode', 'sum'] as const;
export type WarpMethod = (typeof WARP_METHODS)[number];

/** A window of one COG, decoded to float with NaN for no data, scale and offset applied. Dims [y, x]. */
export interface ReadCogNode {
  op: 'read_cog';
  href: string;
  /** 0 = full resolution, n = n-th overview. */
  level: number;
  /** Source pixel window at that level; may extend past the raster (filled with NaN). */
  window: { x: number; y: number; width: number; height: number };
  band: number;
  scale: number;
  offset: number;
  /** Overrides the file's nodata (STAC `raster:bands[].nodata`). */
  nodata: number | null;
}

/**
 * A hyper-rectangle of a 3-D Zarr cube (time, lat, lon) in cube coordinates: rows north-up and
 * columns from `lonOrigin`, mapped to storage order (south-up, 0–360°) on the worker.
 * Dims [t, y, x].
 */
export interface ReadZarrNode {
  op: 'read_zarr';
  /** Directory of the Zarr store. */
  store: string;
  array: string;
  t: [number, number];
  rows: [number, number];
  cols: [number, number];
  /** Storage rows run south to north (OISST): cube row r is storage row height-1-r. */
  flipY: boolean;
  /** Storage column of cube column 0 (wraps around the globe). */
  colShift: number;
  storageHeight: number;
  storageWidth: number;
  /** Values decoded: raw * scale + offset; `fill` (and outside `validRange`) become NaN. */
  scale: number;
  offset: number;
  fill: number | null;
  validRange: [number, number] | null;
}

/** The `input` index standing for a callback's data until the compiler substitutes a chunk's program. */
export const PLACEHOLDER_INPUT = -1;

export const PLACEHOLDER: IRNode = { op: 'input', index: PLACEHOLDER_INPUT };

/** Rebuilds `node` with every `input` node replaced by `replace(index)`. */
export function mapInputs(node: IRNode, replace: (index: number) => IRNode): IRNode {
  const walk = (n: IRNode): IRNode => {
    if (n.op === 'input') return replace(n.index);
    const copy: Record<string, unknown> = { ...n };
    for (const [key, value] of Object.entries(n)) {
      if (key === 'parts' && Array.isArray(value)) copy.parts = (value as IRNode[]).map(walk);
      else if (value !== null && typeof value === 'object' && typeof (value as { op?: unknown }).op === 'string') copy[key] = walk(value as IRNode);
    }
    return copy as IRNode;
  };
  return walk(node);
}

/** Replaces the placeholder in `node` by `replacement`. */
export function substitute(node: IRNode, replacement: IRNode): IRNode {
  return mapInputs(node, (index) => (index === PLACEHOLDER_INPUT ? replacement : { op: 'input', index }));
}

/** Collects the `input` indices a program refers to. */
export function inputIndices(node: IRNode, into: Set<number> = new Set()): Set<number> {
  switch (node.op) {
    case 'input':
      into.add(node.index);
      break;
    case 'const':
    case 'full':
    case 'literal':
    case 'read_cog':
    case 'read_zarr':
      break;
    case 'binary':
      inputIndices(node.a, into);
      inputIndices(node.b, into);
      break;
    case 'where':
      inputIndices(node.cond, into);
      inputIndices(node.then, into);
      inputIndices(node.else, into);
      break;
    case 'combine':
    case 'stack':
    case 'concat':
      for (const part of node.parts) inputIndices(part, into);
      break;
    default:
      inputIndices(node.x, into);
  }
  return into;
}

/** Number of reads in a program (what the compiler reports as fused loads). */
export function countReads(node: IRNode): number {
  switch (node.op) {
    case 'read_cog':
    case 'read_zarr':
      return 1;
    case 'input':
    case 'const':
    case 'full':
    case 'literal':
      return 0;
    case 'binary':
      return countReads(node.a) + countReads(node.b);
    case 'where':
      return countReads(node.cond) + countReads(node.then) + countReads(node.else);
    case 'combine':
    case 'stack':
    case 'concat':
      return node.parts.reduce((n, p) => n + countReads(p), 0);
    default:
      return countReads(node.x);
  }
}
