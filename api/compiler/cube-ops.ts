import type { IRNode, Reducer } from '../../common/ir.js';
import { mapInputs, TREE_REDUCERS } from '../../common/ir.js';
import { encodeTaskArgs } from '../../common/task-args.js';
import { type ChunkCoord, type ChunkProgram, type CubeDimension, type LazyCube, nonSpatialDims, subTransform, temporalDim, tileRange, timeBlockCount, timeBlockRange } from './cube.js';
import type { DagBuilder } from './dag-builder.js';

/**
 * Lazy cube transformations. Chunk-local operations compose programs (fusion); operations
 * that need more than one chunk (reductions over time, outputs) materialize chunks as tasks.
 */

/**
 * Time labels one leaf of a tree reduction reads. Bounded memory: a leaf holds this many
 * dates of a tile at once (8 × 3 bands × 512² float32 ≈ 25 MB), however long the time range.
 */
export const REDUCE_LEAF_TIME_LABELS = 8;
/** Partial states combined per combine task; the tree depth grows with log8 of the blocks. */
export const COMBINE_FANIN = 8;

export const BYTES_PER_VALUE = 4;

/** Names of the array's dimensions in a chunk of `cube`, in order. */
export function chunkDims(cube: Pick<LazyCube, 'dims'>): string[] {
  return [...nonSpatialDims(cube).map((d) => d.name), 'y', 'x'];
}

export function chunkShape(cube: LazyCube, coord: ChunkCoord): number[] {
  const rows = tileRange(coord.ty, cube.grid.height, cube.layout.tileHeight, cube.layout.offsetY);
  const cols = tileRange(coord.tx, cube.grid.width, cube.layout.tileWidth, cube.layout.offsetX);
  return [
    ...nonSpatialDims(cube).map((d) => (d.type === 'temporal' ? timeBlockRange(cube, coord.tb).end - timeBlockRange(cube, coord.tb).start : d.labels.length)),
    rows.end - rows.start,
    cols.end - cols.start,
  ];
}

/** Labels of the non-spatial dimensions within one chunk (time limited to its block). */
export function chunkLabels(cube: LazyCube, coord: ChunkCoord): Record<string, (string | number)[]> {
  const labels: Record<string, (string | number)[]> = {};
  for (const dim of nonSpatialDims(cube)) {
    if (dim.type === 'temporal') {
      const { start, end } = timeBlockRange(cube, coord.tb);
      labels[dim.name] = dim.labels.slice(start, end);
    } else {
      labels[dim.name] = dim.labels;
    }
  }
  return labels;
}

/** Rewrites `input` indices of a program by adding `offset` (when merging input lists). */
function shiftInputs(node: IRNode, offset: number): IRNode {
  if (offset === 0) return node;
  return mapInputs(node, (index) => ({ op: 'input', index: index + offset }));
}

/** Combines programs of several chunks into one task's inputs: returns their nodes with shifted inputs. */
export function mergePrograms(programs: ChunkProgram[]): { nodes: IRNode[]; inputs: string[] } {
  const inputs: string[] = [];
  const nodes = programs.map((p) => {
    const node = shiftInputs(p.node, inputs.length);
    inputs.push(...p.inputs);
    return node;
  });
  return { nodes, inputs };
}

/** The task that computes a chunk program; its output is one array chunk. */
export function chunkTask(builder: DagBuilder, program: ChunkProgram, estBytes: number, geo: { epsg: number; transform: number[] } | null, labels: Record<string, (string | number)[]> | null): string {
  return builder.add('cube.eval', { program: program.node, geo, labels }, program.inputs, estBytes);
}

/** A cube whose chunks are tasks: consumers read them as inputs instead of recomputing them. */
export function materialize(cube: LazyCube, builder: DagBuilder): LazyCube {
  const keys = new Map<string, string>();
  const materialized: LazyCube = {
    ...cube,
    description: cube.description,
    chunk(coord) {
      const id = `${coord.tx},${coord.ty},${coord.tb}`;
      let key = keys.get(id);
      if (!key) {
        const shape = chunkShape(cube, coord);
        const rows = tileRange(coord.ty, cube.grid.height, cube.layout.tileHeight, cube.layout.offsetY);
        const cols = tileRange(coord.tx, cube.grid.width, cube.layout.tileWidth, cube.layout.offsetX);
        key = chunkTask(
          builder,
          cube.chunk(coord),
          shape.reduce((a, b) => a * b, 1) * BYTES_PER_VALUE,
          { epsg: cube.grid.epsg, transform: subTransform(cube.grid, cols.start, rows.start) },
          chunkLabels(cube, coord),
        );
        keys.set(id, key);
      }
      return { node: { op: 'input', index: 0 }, inputs: [key] };
    },
  };
  return materialized;
}

/** A chunk-local transformation: each output chunk is `transform` of the same input chunk. */
export function mapChunks(cube: LazyCube, dims: CubeDimension[], transform: (node: IRNode, coord: ChunkCoord) => IRNode, description: string): LazyCube {
  return {
    dims,
    grid: cube.grid,
    layout: cube.layout,
    description,
    chunk(coord) {
      const program = cube.chunk(coord);
      return { node: transform(program.node, coord), inputs: program.inputs };
    },
  };
}

/** A reducer the tree can compute: the callback is exactly one reducer over the reduced dimension. */
export interface TreeReduction {
  reducer: Reducer;
  ignoreNodata: boolean;
}

export function asTreeReduction(node: IRNode, dataNode: IRNode, dim: string): TreeReduction | null {
  if (node.op !== 'reduce' || node.dim !== dim) return null;
  if (!TREE_REDUCERS.includes(node.reducer)) return null;
  if (encodeTaskArgs(node.x) !== encodeTaskArgs(dataNode)) return null;
  return { reducer: node.reducer, ignoreNodata: node.ignoreNodata };
}

/**
 * Reduces the temporal dimension of `cube`: for each tile, leaves read up to
 * REDUCE_LEAF_TIME_LABELS labels and reduce them to a partial state; partial states combine in a
 * tree of fan-in COMBINE_FANIN; the root's finalization stays lazy so it fuses into its consumer.
 * With a single leaf the reduction is fused into the load directly.
 * `reducerProgram` is used instead when the callback is not a plain tree reducer (it then sees
 * the whole time series of a tile at once).
 */
export function reduceTime(
  cube: LazyCube,
  tree: TreeReduction | null,
  reducerProgram: (data: IRNode) => IRNode,
  builder: DagBuilder,
): LazyCube {
  const t = temporalDim(cube)!;
  const dims = cube.dims.filter((d) => d.name !== t.name);
  const blocks = timeBlockCount(cube);
  const leaves: number[][] = [];
  let current: number[] = [];
  let labelsInLeaf = 0;
  for (let b = 0; b < blocks; b++) {
    const { start, end } = timeBlockRange(cube, b);
    if (current.length > 0 && labelsInLeaf + (end - start) > REDUCE_LEAF_TIME_LABELS) {
      leaves.push(current);
      current = [];
      labelsInLeaf = 0;
    }
    current.push(b);
    labelsInLeaf += end - start;
  }
  if (current.length > 0) leaves.push(current);

  const concatBlocks = (tx: number, ty: number, blockIds: number[]): ChunkProgram => {
    const programs = blockIds.map((tb) => cube.chunk({ tx, ty, tb }));
    if (programs.length === 1) return programs[0]!;
    const merged = mergePrograms(programs);
    return { node: { op: 'concat', dim: t.name, parts: merged.nodes }, inputs: merged.inputs };
  };

  return {
    dims,
    grid: cube.grid,
    layout: { ...cube.layout, timeBlock: 1, timeOffset: 0 },
    description: `${cube.description}, reduced over ${t.name}`,
    chunk({ tx, ty }) {
      if (!tree || leaves.length === 1) {
        const all = concatBlocks(tx, ty, leaves.flat());
        return { node: reducerProgram(all.node), inputs: all.inputs };
      }
      const rows = tileRange(ty, cube.grid.height, cube.layout.tileHeight, cube.layout.offsetY);
      const cols = tileRange(tx, cube.grid.width, cube.layout.tileWidth, cube.layout.offsetX);
      const planeValues = (rows.end - rows.start) * (cols.end - cols.start) * nonSpatialDims(cube).filter((d) => d.name !== t.name).reduce((n, d) => n * (d.type === 'temporal' ? 1 : d.labels.length), 1);
      const stateBytes = planeValues * 8 * 3;
      let level = leaves.map((leaf) => {
        const program = concatBlocks(tx, ty, leaf);
        return builder.add('cube.eval', { program: { op: 'partial', dim: t.name, reducer: tree.reducer, ignoreNodata: tree.ignoreNodata, x: program.node }, geo: null, labels: null }, program.inputs, stateBytes);
      });
      while (level.length > COMBINE_FANIN) {
        const next: string[] = [];
        for (let i = 0; i < level.length; i += COMBINE_FANIN) {
          const group = level.slice(i, i + COMBINE_FANIN);
          next.push(builder.add('cube.eval', { program: { op: 'combine', reducer: tree.reducer, parts: group.map((_, j) => ({ op: 'input', index: j })) }, geo: null, labels: null }, group, stateBytes));
        }
        level = next;
      }
      return {
        node: { op: 'finalize', reducer: tree.reducer, x: { op: 'combine', reducer: tree.reducer, parts: level.map((_, j) => ({ op: 'input', index: j })) } },
        inputs: level,
      };
    },
  };
}
