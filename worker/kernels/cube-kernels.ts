import type { ArrayChunk, Chunk } from '../../common/chunk.js';
import { TaskError } from '../../common/errors.js';
import type { IRNode } from '../../common/ir.js';
import type { GeoTransform } from '../../common/raster.js';
import { evaluate } from '../ir/evaluate.js';
import type { KernelDefinition } from './kernel.js';

export interface CubeEvalArgs {
  program: IRNode;
  geo: { epsg: number; transform: GeoTransform } | null;
  labels: Record<string, (string | number)[]> | null;
}

export function arrayInputs(inputs: Chunk[]): ArrayChunk[] {
  return inputs.map((chunk, i) => {
    if (chunk.kind !== 'array') throw new TaskError('internal', `input ${i} is not an array chunk`);
    return chunk;
  });
}

/** Evaluates one fused chunk program (loads, band math, masks, reductions) into an array chunk. */
export const cubeEval: KernelDefinition = {
  placement: 'thread',
  async run(args: CubeEvalArgs, inputs, context) {
    const result = await evaluate(args.program, { inputs: arrayInputs(inputs), dataDir: context.dataDir, signal: context.signal });
    const chunk: ArrayChunk = { kind: 'array', dims: result.dims, shape: result.shape, data: result.data };
    if (args.labels) chunk.labels = args.labels;
    if (args.geo) chunk.geo = args.geo;
    return { chunk };
  },
};
