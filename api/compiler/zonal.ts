import type { IRNode, PolygonRings } from '../../common/ir.js';
import { type ChunkProgram, type LazyCube, nonSpatialDims, subTransform, temporalDim, tiles, timeBlockCount, timeBlockRange } from './cube.js';
import { COMBINE_FANIN, mergePrograms, type TreeReduction } from './cube-ops.js';
import type { DagBuilder } from './dag-builder.js';
import { envelopeOf, envelopeTouches, type GeometrySet } from './geometry.js';

/**
 * Zonal statistics: for each tile a task computes the partial state of a tree reducer per
 * geometry over the pixels whose centres it contains (tiles no geometry reaches are skipped),
 * states of all tiles combine in a tree, and one task finalizes them into an array
 * [geometry, …the cube's other dimensions]. Memory stays bounded whatever the extent.
 */

/** What each geometry gets: the reducer's value, or it and the counts of all and of valid pixels. */
export interface ZonalRequest {
  tree: TreeReduction;
  /** Name of a dimension [value, total_count, valid_count] to add, or null. */
  countsDimension: string | null;
}

/** Name of the dimension of the geometries in zonal results. */
export const GEOMETRY_DIMENSION = 'geometry';

/** Labels of the dimension a counts request adds. */
export const COUNT_LABELS = ['value', 'total_count', 'valid_count'];

/** Bytes of a partial state per value (a few float64 slots). */
const STATE_BYTES_PER_VALUE = 8 * 3;

function combineTree(builder: DagBuilder, keys: string[], reducer: TreeReduction['reducer'], bytes: number): string[] {
  let level = keys;
  while (level.length > COMBINE_FANIN) {
    const next: string[] = [];
    for (let i = 0; i < level.length; i += COMBINE_FANIN) {
      const group = level.slice(i, i + COMBINE_FANIN);
      next.push(builder.add('cube.eval', { program: { op: 'combine', reducer, parts: group.map((_, j) => ({ op: 'input', index: j })) }, geo: null, labels: null }, group, bytes));
    }
    level = next;
  }
  return level;
}

/** The program of all zonal values of one statistic for time block `tb`: [geometry, …non-spatial dims]. */
function blockStatistic(cube: LazyCube, set: GeometrySet, envelopes: ([number, number, number, number] | null)[], tb: number, tree: TreeReduction, transformValues: (x: IRNode) => IRNode, builder: DagBuilder): ChunkProgram {
  const planeValues = nonSpatialDims(cube).reduce((n, d) => n * (d === temporalDim(cube) ? timeBlockRange(cube, tb).end - timeBlockRange(cube, tb).start : d.labels.length), 1);
  const bytes = planeValues * set.geometries.length * STATE_BYTES_PER_VALUE;
  const partials: string[] = [];
  for (const { tx, ty, cols, rows } of tiles(cube)) {
    const near = set.geometries.map((polygons, g): PolygonRings[] => (envelopes[g] && envelopeTouches(cube.grid, envelopes[g]!, cols, rows) ? polygons : []));
    if (near.every((polygons) => polygons.length === 0)) continue;
    const program = cube.chunk({ tx, ty, tb });
    const node: IRNode = {
      op: 'zonal_partial',
      geometries: near,
      polygonEpsg: set.epsg,
      epsg: cube.grid.epsg,
      transform: subTransform(cube.grid, cols.start, rows.start),
      reducer: tree.reducer,
      ignoreNodata: tree.ignoreNodata,
      x: transformValues(program.node),
    };
    partials.push(builder.add('cube.eval', { program: node, geo: null, labels: null }, program.inputs, bytes));
  }
  if (partials.length === 0) {
    // No pixel of any geometry: nothing counted, and no value for the other reducers.
    const shape = [set.geometries.length, ...nonSpatialDims(cube).map((d) => (d === temporalDim(cube) ? timeBlockRange(cube, tb).end - timeBlockRange(cube, tb).start : d.labels.length))];
    return { node: { op: 'full', value: tree.reducer === 'count' ? 0 : NaN, dims: [GEOMETRY_DIMENSION, ...nonSpatialDims(cube).map((d) => d.name)], shape }, inputs: [] };
  }
  const roots = combineTree(builder, partials, tree.reducer, bytes);
  return { node: { op: 'finalize', reducer: tree.reducer, x: { op: 'combine', reducer: tree.reducer, parts: roots.map((_, j) => ({ op: 'input', index: j })) } }, inputs: roots };
}

/**
 * The task of all zonal values of `cube` for the geometries of `set`, and the dimension names
 * of its array: geometry, the cube's non-spatial dimensions, then the counts dimension if asked.
 */
export function zonalStatistics(cube: LazyCube, set: GeometrySet, request: ZonalRequest, builder: DagBuilder): { program: ChunkProgram; dims: string[] } {
  const envelopes = set.geometries.map((polygons) => (polygons.length === 0 ? null : envelopeOf('aggregate_spatial', polygons, set.epsg, cube.grid.epsg)));
  const t = temporalDim(cube);
  const dims = [GEOMETRY_DIMENSION, ...nonSpatialDims(cube).map((d) => d.name)];
  const statistics: { tree: TreeReduction; values: (x: IRNode) => IRNode }[] = [{ tree: request.tree, values: (x) => x }];
  if (request.countsDimension) {
    // Every pixel counts as one for the total; count itself skips no data.
    statistics.push({ tree: { reducer: 'count', ignoreNodata: true }, values: (x) => ({ op: 'binary', fn: 'add', a: { op: 'binary', fn: 'mul', a: { op: 'unary', fn: 'is_nan', x }, b: { op: 'const', value: 0 } }, b: { op: 'const', value: 1 } }) });
    statistics.push({ tree: { reducer: 'count', ignoreNodata: true }, values: (x) => x });
  }
  const blockCount = timeBlockCount(cube);
  const blocks = Array.from({ length: blockCount }, (_, tb): ChunkProgram => {
    const parts = statistics.map((s) => blockStatistic(cube, set, envelopes, tb, s.tree, s.values, builder));
    const merged = mergePrograms(parts);
    const program = parts.length === 1 ? parts[0]! : { node: { op: 'stack', dim: request.countsDimension!, parts: merged.nodes } as IRNode, inputs: merged.inputs };
    if (blockCount === 1) return program;
    // Each time block's values become a small task, so the final one reads one input per block.
    const bytes = set.geometries.length * nonSpatialDims(cube).reduce((n, d) => n * (d === t ? timeBlockRange(cube, tb).end - timeBlockRange(cube, tb).start : d.labels.length), 1) * statistics.length * 8;
    return { node: { op: 'input', index: 0 }, inputs: [builder.add('cube.eval', { program: program.node, geo: null, labels: null }, program.inputs, bytes)] };
  });
  const joined = blocks.length === 1 || !t ? blocks[0]! : (() => {
    const merged = mergePrograms(blocks);
    return { node: { op: 'concat', dim: t.name, parts: merged.nodes } as IRNode, inputs: merged.inputs };
  })();
  const order = request.countsDimension ? [...dims, request.countsDimension] : dims;
  const node: IRNode = { op: 'transpose', dims: order, x: joined.node };
  const values = set.geometries.length * nonSpatialDims(cube).reduce((n, d) => n * d.labels.length, 1) * (request.countsDimension ? COUNT_LABELS.length : 1);
  const key = builder.add('cube.eval', { program: node, geo: null, labels: null }, joined.inputs, values * 8);
  return { program: { node: { op: 'input', index: 0 }, inputs: [key] }, dims: order };
}
