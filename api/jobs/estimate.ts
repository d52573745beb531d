import type { CompiledTask } from '../compiler/dag-builder.js';

/**
 * Estimates of a job from its compiled task graph, for `GET /jobs/{id}/estimate`: the size of
 * what it writes (an upper limit, as the openEO API asks: uncompressed bytes of the saved grids)
 * and its duration (per-operation costs over the tasks, spread over the cluster's threads).
 */

/** Cost of one task of an operation on one core: a fixed part and a rate over the bytes it produces. */
export interface OpCost {
  perTaskMs: number;
  bytesPerSecond: number;
}

/**
 * Per-core costs by operation, rounded from runs of the sample jobs on one core. `cube.eval`'s
 * rate is per byte of output: a chunk reads several bands and dates for each value it writes.
 * Writers run at the encoders' rates (a COG tile compresses at ~170 MB/s).
 */
export const OP_COSTS: Readonly<Record<string, OpCost>> = {
  'cube.eval': { perTaskMs: 15, bytesPerSecond: 40e6 },
  'save.cog_tile': { perTaskMs: 2, bytesPerSecond: 170e6 },
  'save.cog_overview_tile': { perTaskMs: 2, bytesPerSecond: 170e6 },
  'save.cog': { perTaskMs: 20, bytesPerSecond: 500e6 },
  'save.zarr_chunk': { perTaskMs: 2, bytesPerSecond: 150e6 },
  'save.zarr': { perTaskMs: 20, bytesPerSecond: 500e6 },
  'save.netcdf': { perTaskMs: 50, bytesPerSecond: 100e6 },
  'save.json': { perTaskMs: 10, bytesPerSecond: 20e6 },
  'save.png_sample': { perTaskMs: 1, bytesPerSecond: 500e6 },
  'save.png': { perTaskMs: 10, bytesPerSecond: 50e6 },
};

/** Cost of operations not listed in OP_COSTS. */
export const DEFAULT_OP_COST: OpCost = { perTaskMs: 10, bytesPerSecond: 100e6 };

/** Bytes a file has beyond its pixels at most (headers, metadata, coordinates, archive directory). */
export const FILE_OVERHEAD_BYTES = 256 * 1024;

/** Characters a float32 takes at most in JSON (`-1.23456789e-38,`). */
export const JSON_CHARS_PER_VALUE = 16;

const BYTES_PER_VALUE = 4;

interface Grid {
  width: number;
  height: number;
}

/** Upper limit of the bytes one sink task writes, from its arguments. */
export function sinkBytes(task: CompiledTask): number {
  const args = task.args as Record<string, unknown>;
  const pixels = (grid: Grid | undefined): number => (grid ? grid.width * grid.height : 0);
  switch (task.op) {
    case 'save.cog': {
      // Overviews add at most a third: each level has a quarter of the pixels of the one above.
      return Math.ceil((pixels(args.layout as Grid) * BYTES_PER_VALUE * 4) / 3) + FILE_OVERHEAD_BYTES;
    }
    case 'save.netcdf': {
      const planes = (args.dims as { labels: unknown[] }[]).reduce((n, d) => n * d.labels.length, 1);
      return pixels(args.grid as Grid) * planes * BYTES_PER_VALUE + FILE_OVERHEAD_BYTES;
    }
    case 'save.zarr': {
      const steps = (args.times as unknown[] | null)?.length ?? 1;
      return pixels(args.grid as Grid) * steps * (args.arrays as unknown[]).length * BYTES_PER_VALUE + FILE_OVERHEAD_BYTES;
    }
    case 'save.png':
      return pixels(args.grid as Grid) * 4 + FILE_OVERHEAD_BYTES;
    case 'save.json': {
      if ('value' in args) return Buffer.byteLength(JSON.stringify(args.value ?? null));
      if ('vector' in args) {
        const vector = args.vector as { dims: { labels: unknown[] }[]; geometries: unknown[] };
        const values = vector.dims.reduce((n, d) => n * d.labels.length, 1);
        return values * JSON_CHARS_PER_VALUE + Buffer.byteLength(JSON.stringify(vector.geometries)) + FILE_OVERHEAD_BYTES;
      }
      const planes = (args.dims as { labels: unknown[] }[]).reduce((n, d) => n * d.labels.length, 1);
      return pixels(args.grid as Grid) * planes * JSON_CHARS_PER_VALUE + FILE_OVERHEAD_BYTES;
    }
    default:
      return 0;
  }
}

function taskSeconds(task: CompiledTask): number {
  const cost = OP_COSTS[task.op] ?? DEFAULT_OP_COST;
  return cost.perTaskMs / 1000 + workBytes(task) / cost.bytesPerSecond;
}

/** Bytes a task works through: its output, but for COG tiles (which keep only a report) the tile's pixels. */
function workBytes(task: CompiledTask): number {
  if (task.op !== 'save.cog_tile' && task.op !== 'save.cog_overview_tile') return task.estBytes;
  const tileSize = (task.args as { tileSize: number }).tileSize;
  return tileSize * tileSize * BYTES_PER_VALUE;
}

export interface JobEstimate {
  bytes: number;
  seconds: number;
}

/** Size and duration of a compiled job on `threads` kernel threads. */
export function estimateJob(tasks: CompiledTask[], outputs: string[], threads: number): JobEstimate {
  const sinks = new Set(outputs);
  let bytes = 0;
  let cpuSeconds = 0;
  let longest = 0;
  for (const task of tasks) {
    if (sinks.has(task.key)) bytes += sinkBytes(task);
    const seconds = taskSeconds(task);
    cpuSeconds += seconds;
    longest = Math.max(longest, seconds);
  }
  return { bytes, seconds: Math.max(longest, cpuSeconds / Math.max(1, threads)) };
}

/** An ISO 8601 duration of whole seconds (at least one): `PT1H2M5S`. */
export function isoDuration(seconds: number): string {
  let rest = Math.max(1, Math.ceil(seconds));
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  rest -= minutes * 60;
  return `PT${hours ? `${hours}H` : ''}${minutes ? `${minutes}M` : ''}${rest ? `${rest}S` : ''}`;
}
