import * as bench from './bench-kernels.js';
import { cubeEval } from './cube-kernels.js';
import { saveCog, saveCogOverviewTile, saveCogTile } from './save-cog.js';
import { saveJson } from './save-json.js';
import { saveNetcdf } from './save-netcdf.js';
import { savePng, savePngSample } from './save-png.js';
import { saveZarr, saveZarrChunk } from './save-zarr.js';
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
  'save.cog_overview_tile': saveCogOverviewTile,
  'save.cog': saveCog,
  'save.netcdf': saveNetcdf,
  'save.zarr_chunk': saveZarrChunk,
  'save.zarr': saveZarr,
  'save.png_sample': savePngSample,
  'save.png': savePng,
  'save.json': saveJson,
};

export function kernelFor(op: string): KernelDefinition | undefined {
  return Object.prototype.hasOwnProperty.call(KERNELS, op) ? KERNELS[op] : undefined;
}
