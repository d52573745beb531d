import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { compileProcess } from '../../api/compiler/compile.js';
import { defaultProcessRegistry } from '../../api/processes/index.js';
import { Catalog } from '../../ingest/catalog.js';
import { openRaster } from '../../worker/io/cog-reader.js';
import { runLocally } from '../../worker/local-runner.js';
import { readNetcdfVariable } from './independent.js';
import { REPO_ROOT } from './processes.js';

/**
 * Running the ingest command as users do (the built CLI in a child process) and checking what it
 * ingested through the project's own compiler, kernels and readers.
 */

export const INGEST_CLI = join(REPO_ROOT, 'dist', 'ingest', 'cli.js');

/** Relative tolerance on sums and means, as expected.json asks. */
export const RTOL = 1e-6;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node dist/ingest/cli.js …` with DATA_DIR and extra environment; never inherits INGEST_* from the test's environment. */
export function runIngestCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  if (!existsSync(INGEST_CLI)) throw new Error(`${INGEST_CLI} is missing: run "npm run build" first (npm test does)`);
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('INGEST_')));
  return new Promise((resolve, reject) => {
    // Retries wait 20 ms instead of seconds: the back-off itself is tested with an injected clock.
    const child = spawn(process.execPath, [INGEST_CLI, ...args], { env: { ...base, LOG_LEVEL: 'info', INGEST_RETRY_DELAY_MS: '20', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The lines of stderr that are not JSON log lines: what a person reads. */
export function messageLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('{'));
}

export function expectRelativelyClose(actual: number, expected: number, rtol = RTOL): void {
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(rtol * Math.abs(expected));
}

/** The NDVI example graph with another extent, time range and temporal reducer. */
export function ndviProcess(spatialExtent: unknown, temporalExtent: [string, string], reducer: 'max' | 'mean' = 'max'): Record<string, any> {
  const example = JSON.parse(readFileSync(join(REPO_ROOT, 'examples', 'ndvi-max-composite.json'), 'utf8'));
  const graph = example.process.process_graph;
  graph.load.arguments.spatial_extent = spatialExtent;
  graph.load.arguments.temporal_extent = temporalExtent;
  graph.composite.arguments.reducer.process_graph = { r: { process_id: reducer, arguments: { data: { from_parameter: 'data' } }, result: true } };
  return example.process;
}

/** The SST example graph (time mean, NetCDF) over `box` (null: the globe) and [from, to). */
export function sstProcess(box: { west: number; south: number; east: number; north: number } | null, temporalExtent: [string, string]): Record<string, any> {
  const example = JSON.parse(readFileSync(join(REPO_ROOT, 'examples', 'sst-time-mean.json'), 'utf8'));
  const graph = example.process.process_graph;
  graph.load.arguments.spatial_extent = box;
  graph.load.arguments.temporal_extent = temporalExtent;
  return example.process;
}

/** Compiles `process` against the catalog in `dataDir` and runs it in this process; returns the output file. */
export async function runInProcess(dataDir: string, process: unknown, name: string, file: string): Promise<string> {
  const catalog = new Catalog(dataDir);
  const compiled = await compileProcess(process, { catalog, registry: defaultProcessRegistry(), target: { jobId: name, outputDir: `out/${name}` } });
  await runLocally(compiled.tasks, compiled.outputs, dataDir);
  return join(dataDir, 'out', name, file);
}

export interface ValueStats {
  count: number;
  sum: number;
  mean: number;
  min: number;
  max: number;
}

export function statsOf(values: ArrayLike<number>): ValueStats {
  let count = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) continue;
    count++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { count, sum, mean: sum / count, min, max };
}

/** Statistics of a GeoTIFF read with the project's COG reader, with its grid. */
export async function geotiffStats(path: string): Promise<ValueStats & { width: number; height: number; transform: number[]; epsg: number | null; at(row: number, col: number): number }> {
  const raster = await openRaster(path);
  const values = await raster.readWindow({ x: 0, y: 0, width: raster.width, height: raster.height });
  const floats = Float64Array.from(values as ArrayLike<number>);
  return {
    ...statsOf(floats),
    width: raster.width,
    height: raster.height,
    transform: [...raster.transform],
    epsg: raster.epsg,
    at: (row, col) => floats[row * raster.width + col]!,
  };
}

/** Statistics of a NetCDF variable (h5wasm). */
export async function netcdfStats(path: string, variable: string): Promise<ValueStats & { shape: number[] }> {
  const { values, shape } = await readNetcdfVariable(path, variable);
  return { ...statsOf(values), shape };
}

/** Checks the whole-tile and bbox NDVI composites of the fixture scenes against expected.json. */
export async function checkNdviAgainstExpected(dataDir: string, expected: Record<string, any>, name: string): Promise<void> {
  const whole = await geotiffStats(await runInProcess(dataDir, ndviProcess(null, ['2020-05-01', '2020-06-01']), `${name}-whole`, 'result.tif'));
  const max = expected.s2.ndvi.max;
  expect(whole.count).toBe(max.valid_count);
  expectRelativelyClose(whole.sum, max.sum);
  expectRelativelyClose(whole.mean, max.mean);
  expect(whole.epsg).toBe(32632);
  expect(whole.transform).toEqual([399960, 10, 0, 5300040, 0, -10]);
  for (const [position, where] of Object.entries(expected.s2.positions) as [string, { row: number; col: number }][]) {
    expect(Math.abs(whole.at(where.row, where.col) - expected.s2.ndvi.max_at[position])).toBeLessThanOrEqual(1e-6);
  }

  const [west, south, east, north] = expected.s2.bbox_subset.bbox_epsg4326 as number[];
  const subset = await geotiffStats(await runInProcess(dataDir, ndviProcess({ west, south, east, north }, ['2020-05-01', '2020-06-01']), `${name}-bbox`, 'result.tif'));
  const exact = expected.s2.bbox_subset.exact;
  expect(subset.count).toBe(exact.pixel_count);
  expectRelativelyClose(subset.sum, exact.ndvi_max.sum);
  expectRelativelyClose(subset.mean, exact.ndvi_max.mean);
}

/** The North-Atlantic box of expected.json in -180..180. */
export const SST_BOX = { west: -80, south: 0, east: 0, north: 60 };

/** Checks the 10-day SST means (box and global) computed by a job on the ingested cube. */
export async function checkSstAgainstExpected(dataDir: string, reference: { box: { mean: number; valid_count: number; sum: number }; global: { mean: number; valid_count: number } }, name: string): Promise<void> {
  const box = await netcdfStats(await runInProcess(dataDir, sstProcess(SST_BOX, ['2020-01-01', '2020-01-11']), `${name}-box`, 'result.nc'), 'sst');
  expect(box.shape.slice(-2)).toEqual([240, 320]);
  expect(box.count).toBe(reference.box.valid_count);
  expectRelativelyClose(box.mean, reference.box.mean);
  expectRelativelyClose(box.sum, reference.box.sum);
  const globe = await netcdfStats(await runInProcess(dataDir, sstProcess(null, ['2020-01-01', '2020-01-11']), `${name}-global`, 'result.nc'), 'sst');
  expect(globe.count).toBe(reference.global.valid_count);
  expectRelativelyClose(globe.mean, reference.global.mean);
}
