import type { IRNode, Reducer } from '../../common/ir.js';
import { mapInputs, TREE_REDUCERS } from '../../common/ir.js';
import { encodeTaskArgs } from '../../common/task-args.js';
import { type ChunkCoord, type ChunkLayout, type ChunkProgram, type CubeDimension, type LazyCube, nonSpatialDims, subTransform, temporalDim, tileRange, timeBlockCount, timeBlockRange } from './cube.js';
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

/** Sizes of the dimensions of one chunk: the cube's non-spatial dims (the blocked one limited to its block), then y, x. */
export function chunkShape(cube: Pick<LazyCube, 'dims' | 'grid' | 'layout'>, coord: ChunkCoord): number[] {
  const rows = tileRange(coord.ty, cube.grid.height, cube.layout.tileHeight, cube.layout.offsetY);
  const cols = tileRange(coord.tx, cube.grid.width, cube.layout.tileWidth, cube.layout.offsetX);
  const blocked = temporalDim(cube);
  const block = timeBlockRange(cube, coord.tb);
  return [...nonSpatialDims(cube).map((d) => (d === blocked ? block.end - block.start : d.labels.length)), rows.end - rows.start, cols.end - cols.start];
}

/** Labels of the non-spatial dimensions within one chunk (time limited to its block). */
export function chunkLabels(cube: LazyCube, coord: ChunkCoord): Record<string, (string | number)[]> {
  const labels: Record<string, (string | number)[]> = {};
  const blocked = temporalDim(cube);
  for (const dim of nonSpatialDims(cube)) {
    if (dim === blocked) {
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

/** Whether two dimension lists cut time the same way: the same blocked dimension with as many labels. */
function sameTimeBlocking(a: CubeDimension[], b: CubeDimension[]): boolean {
  const ta = temporalDim({ dims: a });
  const tb = temporalDim({ dims: b });
  if (!ta || !tb) return !ta && !tb;
  return ta.name === tb.name && ta.labels.length === tb.labels.length;
}

/** A layout with the whole blocked dimension of `dims` in one time block. */
export function wholeTimeLayout(layout: ChunkLayout, dims: CubeDimension[]): ChunkLayout {
  const t = temporalDim({ dims });
  return { ...layout, timeBlock: Math.max(1, t?.labels.length ?? 1), timeOffset: 0 };
}

/**
 * The same cube with its whole time series in each chunk (one time block): for operations
 * that need every date of a pixel at once. The blocks of a tile are joined in one chunk
 * program, so memory grows with the length of the series here, unlike in trees.
 */
export function wholeTime(cube: LazyCube): LazyCube {
  const t = temporalDim(cube);
  if (!t || timeBlockCount(cube) <= 1) {
    if (!t || (cube.layout.timeBlock >= t.labels.length && cube.layout.timeOffset === 0)) return cube;
    return { ...cube, reload: undefined, layout: wholeTimeLayout(cube.layout, cube.dims), chunk: (coord) => cube.chunk({ ...coord, tb: 0 }) };
  }
  const indices = t.labels.map((_, i) => i);
  return {
    dims: cube.dims,
    grid: cube.grid,
    layout: wholeTimeLayout(cube.layout, cube.dims),
    description: cube.description,
    chunk: ({ tx, ty }) => gatherTime(cube, tx, ty, indices),
  };
}

/**
 * The program of tile (tx, ty) holding the labels `indices` (positions along the blocked
 * temporal dimension, in the order wanted) drawn from whichever time blocks hold them.
 * Runs of neighbouring labels in one block become one slice.
 */
export function gatherTime(cube: LazyCube, tx: number, ty: number, indices: readonly number[]): ChunkProgram {
  const t = temporalDim(cube)!;
  const blockOf = (i: number): number => Math.floor((i + cube.layout.timeOffset) / cube.layout.timeBlock);
  const programs = new Map<number, ChunkProgram>();
  const programOf = (b: number): ChunkProgram => {
    let program = programs.get(b);
    if (!program) {
      program = cube.chunk({ tx, ty, tb: b });
      programs.set(b, program);
    }
    return program;
  };
  const runs: { block: number; start: number; end: number }[] = [];
  for (const i of indices) {
    const b = blockOf(i);
    const local = i - timeBlockRange(cube, b).start;
    const last = runs[runs.length - 1];
    if (last && last.block === b && last.end === local) last.end++;
    else runs.push({ block: b, start: local, end: local + 1 });
  }
  if (runs.length === 0) {
    const shape = chunkShape(cube, { tx, ty, tb: 0 });
    shape[nonSpatialDims(cube).indexOf(t)] = 0;
    return { node: { op: 'full', value: NaN, dims: chunkDims(cube), shape }, inputs: [] };
  }
  const parts = runs.map((run) => {
    const program = programOf(run.block);
    const size = timeBlockRange(cube, run.block).end - timeBlockRange(cube, run.block).start;
    if (run.start === 0 && run.end === size) return program;
    return { node: { op: 'slice', dim: t.name, start: run.start, end: run.end, x: program.node } as IRNode, inputs: program.inputs };
  });
  if (parts.length === 1) return parts[0]!;
  const merged = mergePrograms(parts);
  return { node: { op: 'concat', dim: t.name, parts: merged.nodes }, inputs: merged.inputs };
}

/**
 * A chunk-local transformation: each output chunk is `transform` of the same input chunk.
 * When the transformation changes how time is cut (it drops, adds or resizes the blocked
 * temporal dimension), it sees the whole time series of a tile in one chunk.
 */
export function mapChunks(cube: LazyCube, dims: CubeDimension[], transform: (node: IRNode, coord: ChunkCoord) => IRNode, description: string): LazyCube {
  const reblock = !sameTimeBlocking(cube.dims, dims);
  const source = reblock ? wholeTime(cube) : cube;
  return {
    dims,
    grid: cube.grid,
    layout: reblock ? wholeTimeLayout(cube.layout, dims) : cube.layout,
    description,
    chunk(coord) {
      const program = source.chunk(reblock ? { ...coord, tb: 0 } : coord);
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
  const all = t.labels.map((_, i) => i);
  return {
    dims,
    grid: cube.grid,
    layout: wholeTimeLayout(cube.layout, dims),
    description: `${cube.description}, reduced over ${t.name}`,
    chunk: ({ tx, ty }) => reduceTimeLabels(cube, tx, ty, all, tree, reducerProgram, builder),
  };
}

/**
 * The reduction over the labels `indices` of the blocked temporal dimension for tile (tx, ty):
 * fused into one program when they fit one leaf or the reducer is no tree reducer, otherwise a
 * tree of partial and combine tasks whose finalization stays lazy.
 */
export function reduceTimeLabels(
  cube: LazyCube,
  tx: number,
  ty: number,
  indices: readonly number[],
  tree: TreeReduction | null,
  reducerProgram: (data: IRNode) => IRNode,
  builder: DagBuilder,
): ChunkProgram {
  const t = temporalDim(cube)!;
  const blockOf = (i: number): number => Math.floor((i + cube.layout.timeOffset) / cube.layout.timeBlock);
  // Leaves: runs of labels from one block, joined while they stay within the leaf size.
  const leaves: number[][] = [];
  let current: number[] = [];
  let run: number[] = [];
  const closeRun = (): void => {
    if (run.length === 0) return;
    if (current.length > 0 && current.length + run.length > REDUCE_LEAF_TIME_LABELS) {
      leaves.push(current);
      current = [];
    }
    current.push(...run);
    run = [];
  };
  for (const i of indices) {
    if (run.length > 0 && blockOf(run[run.length - 1]!) !== blockOf(i)) closeRun();
    run.push(i);
  }
  closeRun();
  if (current.length > 0) leaves.push(current);

  if (!tree || leaves.length <= 1) {
    const data = gatherTime(cube, tx, ty, indices);
    return { node: reducerProgram(data.node), inputs: data.inputs };
  }
  const rows = tileRange(ty, cube.grid.height, cube.layout.tileHeight, cube.layout.offsetY);
  const cols = tileRange(tx, cube.grid.width, cube.layout.tileWidth, cube.layout.offsetX);
  const planeValues = (rows.end - rows.start) * (cols.end - cols.start) * nonSpatialDims(cube).filter((d) => d !== t).reduce((n, d) => n * d.labels.length, 1);
  const stateBytes = planeValues * 8 * 3;
  let level = leaves.map((leaf) => {
    const program = gatherTime(cube, tx, ty, leaf);
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
}

/**
 * Like gatherTime, but MISSING (-1) positions are labels the cube lacks: no data there.
 * Used to line one cube's time steps up with another's.
 */
export function gatherTimeWithGaps(cube: LazyCube, tx: number, ty: number, indices: readonly number[]): ChunkProgram {
  const present = indices.filter((i) => i !== MISSING_LABEL);
  if (present.length === indices.length) return gatherTime(cube, tx, ty, indices);
  const t = temporalDim(cube)!;
  const gathered = gatherTime(cube, tx, ty, present);
  let k = 0;
  const positions = indices.map((i) => (i === MISSING_LABEL ? MISSING_LABEL : k++));
  return { node: { op: 'take', dim: t.name, indices: positions, x: gathered.node }, inputs: gathered.inputs };
}

/** Position standing for a label a cube lacks (the `take` index of no data). */
export const MISSING_LABEL = -1;

/**
 * The program of `other` that lines up with chunk `coord` of `cube`: same grid and tiles, and
 * along `cube`'s blocked temporal dimension the same labels (those `other` lacks are no data;
 * an `other` without that dimension is used as it is, broadcast over time).
 */
export function matchingChunk(other: LazyCube, cube: LazyCube, coord: ChunkCoord): ChunkProgram {
  const t = temporalDim(cube);
  const ot = t ? other.dims.find((d) => d.name === t.name && d.type === 'temporal') : undefined;
  if (!t || !ot) return wholeTime(other).chunk({ ...coord, tb: 0 });
  const block = timeBlockRange(cube, coord.tb);
  const wanted = t.labels.slice(block.start, block.end);
  const instants = (ot as Extract<CubeDimension, { type: 'temporal' }>).labels.map((l) => Date.parse(l));
  const indices = wanted.map((label) => {
    const at = instants.indexOf(Date.parse(label));
    return at >= 0 ? at : MISSING_LABEL;
  });
  if (temporalDim(other) === ot) return gatherTimeWithGaps(other, coord.tx, coord.ty, indices);
  const whole = wholeTime(other).chunk({ ...coord, tb: 0 });
  return { node: { op: 'take', dim: ot.name, indices, x: whole.node }, inputs: whole.inputs };
}
