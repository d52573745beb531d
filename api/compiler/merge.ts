import { OpenEOError } from '../../common/errors.js';
import type { IRNode } from '../../common/ir.js';
import { type ChunkCoord, type ChunkLayout, type ChunkProgram, type CubeDimension, type LazyCube, nonSpatialDims, temporalDim, timeBlockRange } from './cube.js';
import { chunkDims, gatherTimeWithGaps, MISSING_LABEL, mergePrograms, wholeTime } from './cube-ops.js';

/**
 * Merging two cubes on one grid: the dimensions of both, each with the union of their labels.
 * Every output chunk holds, per cell, the first cube's value where only it has the cell, the
 * second's where only that one has it, and the overlap resolver of both where both have it.
 * Everything is chunk-local: each cube is lined up with the output's labels (no data where it
 * lacks one) and a per-label presence vector says which cube holds a cell.
 */

type NonSpatial = Exclude<CubeDimension, { type: 'spatial' }>;

function labelKey(dim: NonSpatial, label: string | number): string {
  if (dim.type === 'temporal') {
    const t = Date.parse(String(label));
    if (!Number.isNaN(t)) return `t:${t}`;
  }
  return `${typeof label}:${String(label)}`;
}

function sameLabels(a: NonSpatial, b: NonSpatial): boolean {
  return a.labels.length === b.labels.length && a.labels.every((l, i) => labelKey(a, l) === labelKey(b, b.labels[i]!));
}

/** The union of the labels of a dimension both cubes have: time in order, others first cube's first. */
function unionDimension(a: NonSpatial, b: NonSpatial): NonSpatial {
  if (a.type !== b.type) throw new OpenEOError('DimensionMismatch', `merge_cubes: dimension "${a.name}" is ${a.type} in one cube and ${b.type} in the other`);
  if (sameLabels(a, b)) return a;
  const seen = new Set(a.labels.map((l) => labelKey(a, l)));
  const extra = b.labels.filter((l) => !seen.has(labelKey(b, l)));
  if (a.type === 'temporal') {
    const labels = [...a.labels, ...(extra as string[])].sort((p, q) => Date.parse(p) - Date.parse(q));
    return { ...a, labels };
  }
  if (a.type === 'bands') {
    const other = b as Extract<CubeDimension, { type: 'bands' }>;
    const idx = (extra as string[]).map((l) => other.labels.indexOf(l));
    const commonNames = a.commonNames || other.commonNames ? [...(a.commonNames ?? a.labels.map(() => null)), ...idx.map((i) => other.commonNames?.[i] ?? null)] : undefined;
    const wavelengths = a.wavelengths || other.wavelengths ? [...(a.wavelengths ?? a.labels.map(() => null)), ...idx.map((i) => other.wavelengths?.[i] ?? null)] : undefined;
    return { ...a, labels: [...a.labels, ...(extra as string[])], commonNames, wavelengths };
  }
  return { ...a, labels: [...a.labels, ...extra] };
}

export interface MergedDimensions {
  dims: CubeDimension[];
  /** Whether some cell is in both cubes (then an overlap resolver is needed). */
  overlap: boolean;
}

/** Dimensions of the merge: the first cube's, with the second's extra ones before x and y. */
export function mergeDimensions(first: LazyCube, second: LazyCube): MergedDimensions {
  const a = nonSpatialDims(first);
  const b = nonSpatialDims(second);
  let overlap = true;
  const merged: CubeDimension[] = a.map((dim) => {
    const other = b.find((d) => d.name === dim.name);
    if (!other) return dim;
    const keys = new Set(dim.labels.map((l) => labelKey(dim, l)));
    if (!other.labels.some((l) => keys.has(labelKey(other, l)))) overlap = false;
    return unionDimension(dim, other);
  });
  for (const dim of b) if (!a.some((d) => d.name === dim.name)) merged.push(dim);
  return { dims: [...merged, ...first.dims.filter((d) => d.type === 'spatial')], overlap };
}

/** Positions of `labels` in `dim` (MISSING_LABEL where it lacks one). */
function positionsIn(dim: NonSpatial, target: NonSpatial, labels: readonly (string | number)[]): number[] {
  const index = new Map(dim.labels.map((l, i) => [labelKey(dim, l), i] as const));
  return labels.map((l) => index.get(labelKey(target, l)) ?? MISSING_LABEL);
}

/** A 0/1 vector along `dim` (a literal), 1 where the cube has the label. */
function presence(dim: string, positions: number[]): IRNode {
  return { op: 'literal', dims: [dim], shape: [positions.length], values: positions.map((p) => (p === MISSING_LABEL ? 0 : 1)) };
}

/**
 * One input cube lined up with an output chunk: its values on the output's labels (no data
 * where it lacks one) and a 0/1 program saying where it has the cell.
 */
function linedUp(cube: LazyCube, output: { dims: CubeDimension[]; layout: ChunkLayout }, coord: ChunkCoord): { program: ChunkProgram; present: IRNode } {
  const blocked = temporalDim(output);
  const own = nonSpatialDims(cube);
  const ownBlocked = blocked ? own.find((d) => d.name === blocked.name) : undefined;
  let program: ChunkProgram;
  const flags: IRNode[] = [];
  if (blocked && ownBlocked) {
    const block = timeBlockRange(output, coord.tb);
    const labels = blocked.labels.slice(block.start, block.end);
    const positions = positionsIn(ownBlocked, blocked, labels);
    if (temporalDim(cube) === ownBlocked) program = gatherTimeWithGaps(cube, coord.tx, coord.ty, positions);
    else {
      const whole = wholeTime(cube).chunk({ ...coord, tb: 0 });
      program = { node: { op: 'take', dim: ownBlocked.name, indices: positions, x: whole.node }, inputs: whole.inputs };
    }
    if (positions.includes(MISSING_LABEL)) flags.push(presence(blocked.name, positions));
  } else {
    program = wholeTime(cube).chunk({ ...coord, tb: 0 });
  }
  for (const dim of nonSpatialDims(output)) {
    if (dim === blocked) continue;
    const mine = own.find((d) => d.name === dim.name);
    if (!mine || sameLabels(mine, dim)) continue;
    const positions = positionsIn(mine, dim, dim.labels);
    program = { node: { op: 'take', dim: dim.name, indices: positions, x: program.node }, inputs: program.inputs };
    flags.push(presence(dim.name, positions));
  }
  const present = flags.length === 0 ? ({ op: 'const', value: 1 } as IRNode) : flags.reduce((acc, f) => ({ op: 'binary', fn: 'mul', a: acc, b: f }));
  return { program, present };
}

/**
 * `first` and `second` (already on the same grid and tiles) merged. `resolve` combines two
 * values of a cell both cubes have; it is null when no cell is in both.
 */
export function mergeCubes(first: LazyCube, second: LazyCube, merged: MergedDimensions, resolve: ((a: IRNode, b: IRNode) => IRNode) | null): LazyCube {
  const dims = merged.dims;
  const blocked = temporalDim({ dims });
  const firstBlocked = temporalDim(first);
  const keepsBlocks = blocked && firstBlocked && blocked.name === firstBlocked.name && blocked.labels.length === firstBlocked.labels.length;
  const source = blocked && firstBlocked && blocked.name === firstBlocked.name ? first : second;
  const layout: ChunkLayout = keepsBlocks || !blocked ? first.layout : { ...first.layout, timeBlock: Math.max(1, temporalDim(source)?.name === blocked.name ? source.layout.timeBlock : blocked.labels.length), timeOffset: 0 };
  const order = chunkDims({ dims });
  const output = { dims, layout };
  return {
    dims,
    grid: first.grid,
    layout,
    description: `${first.description} merged with ${second.description}`,
    chunk(coord) {
      const a = linedUp(first, output, coord);
      const b = linedUp(second, output, coord);
      const joined = mergePrograms([a.program, b.program]);
      const [va, vb] = joined.nodes as [IRNode, IRNode];
      let node: IRNode = { op: 'where', cond: a.present, then: va, else: vb };
      if (resolve) node = { op: 'where', cond: { op: 'binary', fn: 'mul', a: a.present, b: b.present }, then: resolve(va, vb), else: node };
      return { node: { op: 'transpose', dims: order, x: node }, inputs: joined.inputs };
    },
  };
}
