import * as bench from './bench-kernels.js';
import { cubeEval } from './cube-kernels.js';
import { saveCog, saveCogTile } from './save-cog.js';
import { saveNetcdf } from './save-netcdf.js';
import type { KernelDefinition } from './kernel.js';

/** Kernel names as task graphs refer to them. Only these run: the worker never evaluates code it is sent. */
export const KERNELS: Readonly<Record<string, KernelDefinition>> = {
  'bench.noop': bench.noop,
  'bench.ones': bench.ones,
  'bench.sum': bench.sum,
  'bench.increment': bench.increment,
  'bench.spin': bench.spin,
  'cube.eval': cubeEval,
  'save.cog_tile': saveCogTile,
  'save.cog': saveCog,
  'save.netcdf': saveNetcdf,
};

export function kernelFor(op: string): KernelDefinition | undefined {
  return Object.prototype.hasOwnProperty.call(KERNELS, op) ? KERNELS[op] : undefined;
}
