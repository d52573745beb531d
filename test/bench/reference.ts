import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The 2020 stack (xarray + dask.distributed, 2 worker processes × 1 thread) on the same data,
 * timed by the scripts in test/bench/reference/ when Python has the packages, so the workloads
 * are compared side by side on the machine at hand. Without them the figures recorded below are
 * used and the output says so.
 */

export interface ReferenceFigure {
  bestSeconds: number;
  peakWorkerBytes: number;
  /** Where the figure comes from: measured now, or recorded (and how to measure it). */
  source: string;
}

/** The design's bar: at least this many times faster than the 2020 stack. */
export const REFERENCE_SPEEDUP = 3;

/** Measured with the scripts on the 2-core benchmark machine (xarray 2023.01, dask 2022.12.1, rasterio 1.3.5). */
export const RECORDED: Record<ReferenceWorkload, Omit<ReferenceFigure, 'source'>> = {
  ndvi: { bestSeconds: 12.84, peakWorkerBytes: 1_166e6 },
  sst: { bestSeconds: 0.49, peakWorkerBytes: 224e6 },
};

export type ReferenceWorkload = 'ndvi' | 'sst';

const SCRIPTS: Record<ReferenceWorkload, string> = { ndvi: 'ndvi_xarray_dask.py', sst: 'sst_xarray_dask.py' };

/** Pythons tried in turn: BENCH_PYTHON, then the one on PATH, then the system's (Debian packages). */
function pythons(): string[] {
  return [...new Set([process.env.BENCH_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => Boolean(p)))];
}

const REQUIRED_MODULES = 'import xarray, dask, distributed, rasterio, zarr, netCDF4, psutil';
/** A reference run (3 jobs plus cluster start) may take this long before it is given up (ms). */
export const REFERENCE_TIMEOUT_MS = 300_000;

export function referenceFigure(workload: ReferenceWorkload, dataDir: string): ReferenceFigure {
  const script = fileURLToPath(new URL(`../../../test/bench/reference/${SCRIPTS[workload]}`, import.meta.url));
  const python = pythons().find((p) => spawnSync(p, ['-c', REQUIRED_MODULES], { stdio: 'ignore' }).status === 0);
  const recorded = (why: string): ReferenceFigure => ({ ...RECORDED[workload], source: `recorded; ${why}` });
  if (python === undefined) return recorded(`to measure here: apt-get install python3-xarray python3-dask python3-distributed python3-rasterio python3-zarr python3-netcdf4 python3-psutil (or set BENCH_PYTHON)`);
  const run = spawnSync(python, ['-W', 'ignore', script, dataDir], { encoding: 'utf8', timeout: REFERENCE_TIMEOUT_MS });
  const last = run.stdout?.trim().split('\n').at(-1);
  try {
    const parsed = JSON.parse(last ?? '') as { best: number; peakWorkerBytes: number };
    return { bestSeconds: parsed.best, peakWorkerBytes: parsed.peakWorkerBytes, source: `measured now with ${python}` };
  } catch {
    return recorded(`${SCRIPTS[workload]} failed: ${(run.stderr ?? '').trim().split('\n').at(-1) ?? run.error?.message ?? `exit ${run.status}`}`);
  }
}
