import type { ArrayChunk } from '../../common/chunk.js';
import { TaskError } from '../../common/errors.js';
import type { IRNode } from '../../common/ir.js';
import { maskBbox } from './bbox-mask.js';
import { planFused } from './fused-elementwise.js';
import { simplify } from './simplify.js';
import { StructuralKeys } from './structural-keys.js';
import { binary, mapValues, unary, where } from './elementwise.js';
import { DimensionError, type NDArray } from './nd-array.js';
import { readCog, readZarr } from './reads.js';
import { combine, finalize, partial, reduce, reduceParts } from './reduce.js';
import { convolve } from './convolve.js';
import { maskPolygons, zonalPartial } from './polygons.js';
import { concat, expand, rename, select, slice, stack, take, transpose, upsample } from './structure.js';
import { warp } from './warp.js';

export interface EvaluationEnvironment {
  /** Dependency chunks, by the `input` node's index. */
  inputs: ArrayChunk[];
  dataDir: string;
  signal: { readonly aborted: boolean };
}

export function chunkToArray(chunk: ArrayChunk): NDArray {
  const data = chunk.data instanceof Float32Array || chunk.data instanceof Float64Array ? chunk.data : Float32Array.from(chunk.data);
  return { dims: chunk.dims, shape: chunk.shape, data };
}

/**
 * Evaluates a fused-chunk program. Identical reads within one program are done once (a band
 * used by both a mask and an index), and cancellation is checked between operations.
 */
export async function evaluate(root: IRNode, env: EvaluationEnvironment): Promise<NDArray> {
  // Identical sub-programs (a band referenced by both a mask and an index) are computed once.
  const memo = new Map<string, Promise<NDArray>>();
  const keys = new StructuralKeys();
  const visit = (node: IRNode): Promise<NDArray> => {
    if (node.op === 'input' || node.op === 'const') return compute(node);
    const key = keys.key(node);
    let pending = memo.get(key);
    if (!pending) {
      pending = compute(node);
      memo.set(key, pending);
    }
    return pending;
  };
  // Operations other than compiled loops and relabelling read `data` element by element: they get
  // unconverted samples converted once, as a plain array, rather than through its getter.
  const dense = async (node: IRNode): Promise<NDArray> => {
    const x = await visit(node);
    return x.raw ? { dims: x.dims, shape: x.shape, data: x.data } : x;
  };
  const compute = async (node: IRNode): Promise<NDArray> => {
    if (env.signal.aborted) throw new TaskError('canceled', 'canceled');
    // Element-wise sub-programs run as one compiled loop when their inputs share a layout.
    const fused = planFused(node);
    if (fused) {
      const result = fused.run(await Promise.all(fused.leaves.map(visit)));
      if (result) return result;
    }
    switch (node.op) {
      case 'input': {
        const chunk = env.inputs[node.index];
        if (!chunk) throw new TaskError('internal', `program refers to missing input ${node.index}`);
        return chunkToArray(chunk);
      }
      case 'const':
        return { dims: [], shape: [], data: new Float64Array([node.value]) };
      case 'literal':
        return { dims: node.dims, shape: node.shape, data: Float64Array.from(node.values, (v) => (v === null ? NaN : v)) };
      case 'full':
        return { dims: node.dims, shape: node.shape, data: new Float32Array(node.shape.reduce((a, b) => a * b, 1)).fill(node.value) };
      case 'read_cog':
        return readCog(node, env.dataDir, env.signal);
      case 'read_zarr':
        return readZarr(node, env.dataDir);
      case 'unary':
        return unary(node.fn, await dense(node.x));
      case 'binary': {
        const [a, b] = await Promise.all([dense(node.a), dense(node.b)]);
        return binary(node.fn, a, b);
      }
      case 'where': {
        const [c, t, e] = await Promise.all([dense(node.cond), dense(node.then), dense(node.else)]);
        return where(c, t, e);
      }
      case 'clip': {
        const { min, max } = node;
        return mapValues(await dense(node.x), (v) => (Number.isNaN(v) ? v : Math.min(max, Math.max(min, v))));
      }
      case 'between': {
        const { min, max, excludeMax } = node;
        return mapValues(await dense(node.x), (v) => (Number.isNaN(v) ? NaN : v >= min && (excludeMax ? v < max : v <= max) ? 1 : 0));
      }
      case 'linear_scale': {
        const { inputMin, inputMax, outputMin, outputMax } = node;
        const factor = (outputMax - outputMin) / (inputMax - inputMin);
        return mapValues(await dense(node.x), (v) => (v - inputMin) * factor + outputMin);
      }
      case 'isin': {
        const values = new Set(node.values);
        return mapValues(await dense(node.x), (v) => (Number.isNaN(v) ? NaN : values.has(v) ? 1 : 0));
      }
      case 'select':
        return select(await dense(node.x), node.dim, node.index);
      case 'take':
        return take(await dense(node.x), node.dim, node.indices);
      case 'reduce':
      case 'partial': {
        // Dates of several chunks are reduced part by part rather than joined first.
        if (node.x.op === 'concat' && node.x.dim === node.dim) {
          const parts = await Promise.all(node.x.parts.map(dense));
          return reduceParts(parts, node.dim, node.reducer, node.ignoreNodata, node.op === 'reduce', (all) => concat(all, node.dim));
        }
        const x = await dense(node.x);
        return node.op === 'reduce' ? reduce(x, node.dim, node.reducer, node.ignoreNodata) : partial(x, node.dim, node.reducer, node.ignoreNodata);
      }
      case 'combine':
        return combine(await Promise.all(node.parts.map(dense)), node.reducer);
      case 'finalize':
        return finalize(await dense(node.x), node.reducer);
      case 'stack':
        return stack(await Promise.all(node.parts.map(dense)), node.dim);
      case 'concat':
        return concat(await Promise.all(node.parts.map(dense)), node.dim);
      case 'expand':
        return expand(await visit(node.x), node.dim);
      case 'rename':
        return rename(await visit(node.x), node.from, node.to);
      case 'transpose':
        return transpose(await visit(node.x), node.dims);
      case 'upsample':
        return upsample(await visit(node.x), node.factor, node.offsetY, node.offsetX, node.height, node.width);
      case 'mask_bbox':
        return maskBbox(await dense(node.x), node.bbox, node.epsg, node.transform);
      case 'slice':
        return slice(await dense(node.x), node.dim, node.start, node.end);
      case 'convolve':
        return convolve(await dense(node.x), node.kernel, node.factor, node.replaceInvalid);
      case 'mask_polygons':
        return maskPolygons(await dense(node.x), node.polygons, node.polygonEpsg, node.epsg, node.transform, node.inside, node.replacement);
      case 'zonal_partial':
        return zonalPartial(await dense(node.x), node.geometries, node.polygonEpsg, node.epsg, node.transform, node.reducer, node.ignoreNodata);
      case 'warp':
        return warp(await dense(node.x), node.source, node.target, node.method);
    }
  };
  try {
    return await visit(simplify(root));
  } catch (error) {
    if (error instanceof DimensionError) throw new TaskError('user', error.message, { cause: error, openeoCode: 'ProcessParameterInvalid' });
    throw error;
  }
}
