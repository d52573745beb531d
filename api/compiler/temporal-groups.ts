import type { IRNode } from '../../common/ir.js';
import { type CubeDimension, type LazyCube, temporalDim } from './cube.js';
import { chunkDims, chunkShape, mapChunks, reduceTimeLabels, type TreeReduction } from './cube-ops.js';
import type { DagBuilder } from './dag-builder.js';

/**
 * Reductions over groups of time steps (intervals, calendar periods, climatological periods):
 * each group becomes one label of the temporal dimension. Along the blocked time dimension each
 * group is its own time block, computed as a tree of partial results when it is long, so memory
 * stays bounded; the groups may overlap and need not be contiguous.
 */

type TemporalDimension = Extract<CubeDimension, { type: 'temporal' }>;

export function aggregateGroups(
  cube: LazyCube,
  dim: TemporalDimension,
  groups: number[][],
  labels: string[],
  tree: TreeReduction | null,
  reducerProgram: (data: IRNode) => IRNode,
  builder: DagBuilder,
  description: string,
): LazyCube {
  const dims = cube.dims.map((d) => (d === dim ? { ...dim, labels } : d));
  const order = chunkDims({ dims });
  const back = (node: IRNode): IRNode => ({ op: 'transpose', dims: order, x: { op: 'expand', dim: dim.name, x: node } });
  if (temporalDim(cube) !== dim) {
    // A second temporal dimension is whole in every chunk: the groups are picked chunk by chunk.
    return mapChunks(
      cube,
      dims,
      (node) => {
        if (groups.length === 0) return { op: 'take', dim: dim.name, indices: [], x: node };
        const parts = groups.map((group): IRNode => ({ op: 'expand', dim: dim.name, x: reducerProgram({ op: 'take', dim: dim.name, indices: group, x: node }) }));
        return { op: 'transpose', dims: order, x: parts.length === 1 ? parts[0]! : { op: 'concat', dim: dim.name, parts } };
      },
      description,
    );
  }
  const aggregated: LazyCube = {
    dims,
    grid: cube.grid,
    layout: { ...cube.layout, timeBlock: 1, timeOffset: 0 },
    description,
    chunk(coord) {
      const group = groups[coord.tb];
      if (!group) return { node: { op: 'full', value: NaN, dims: order, shape: chunkShape(aggregated, coord) }, inputs: [] };
      const program = reduceTimeLabels(cube, coord.tx, coord.ty, group, tree, reducerProgram, builder);
      return { node: back(program.node), inputs: program.inputs };
    },
  };
  return aggregated;
}
