import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileProcess } from '../../api/compiler/compile.js';
import { defaultProcessRegistry } from '../../api/processes/index.js';
import { encodeTaskArgs } from '../../common/task-args.js';
import { Catalog } from '../../ingest/catalog.js';
import { consecutiveDates } from '../../ingest/calendar.js';
import { writeSampleOisst } from '../../ingest/sample-oisst.js';
import { writeSampleSentinel2 } from '../../ingest/sample-s2.js';
import { stacForCogItems, stacForZarrCube } from '../../ingest/stac-metadata.js';
import { benchCogRead } from '../../worker/io/cog-read-bench.js';
import { type BenchTaskSpec, startBenchCluster } from './cluster.js';
import { REFERENCE_SPEEDUP, referenceFigure, type ReferenceFigure } from './reference.js';
import { type BenchResult, result } from './result.js';

/**
 * The workloads of the design document, end to end on this machine (scheduler, 2 worker
 * processes): the NDVI max and mean composite of a Sentinel-2 tile (5490² px at 10 m × 4
 * dates, COGs with 512 tiles, DEFLATE, predictor 2), and the mean SST over the North Atlantic
 * for 365 days from a Zarr cube; plus the COG read throughput of the NDVI inputs.
 */

/** Side of the NDVI workload's tiles (px): a quarter of a Sentinel-2 tile (10980² in the design document), to keep runs short. */
export const NDVI_BENCH_SIZE = 5490;
/**
 * Job-time targets: half of what the xarray + dask stack was given as needing on the 2-core
 * benchmark machine (7.6 s and 1.7 s). The stack is also timed side by side (see reference.ts),
 * and each figure's note gives the speed-up against that measurement.
 */
export const NDVI_TARGET_SECONDS = 3.8;
export const SST_TARGET_SECONDS = 0.8;
/** Decoding COGs must reach at least half of bare native inflate on the same bytes. */
export const READ_TARGET_RATIO = 0.5;
export const SST_BENCH_YEAR = 2012;
/** Bump when the generated data changes, so cached data is regenerated. */
export const BENCH_DATA_VERSION = 2;
/** zlib level of the generated COGs: GDAL's default, what providers' DEFLATE COGs typically use. */
export const BENCH_COG_DEFLATE_LEVEL = 6;

const S2_ID = 'BENCH_S2';
const OISST_ID = 'BENCH_OISST';
const NORTH_ATLANTIC = { west: -80, south: 0, east: 0, north: 60 };

export function benchDataDir(): string {
  return process.env.BENCH_DATA_DIR ?? join(tmpdir(), 'openeo-bench-data');
}

/** Generates the workloads' data once (deterministic), kept between runs. */
export async function ensureBenchData(dataDir: string): Promise<void> {
  const marker = join(dataDir, 'bench-data.json');
  if (existsSync(marker) && JSON.parse(readFileSync(marker, 'utf8')).version === BENCH_DATA_VERSION) return;
  rmSync(join(dataDir, 'bench'), { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const catalog = new Catalog(dataDir);
  console.error(`generating benchmark data in ${dataDir} (once)…`);
  const s2 = await writeSampleSentinel2(join(dataDir, 'bench', 's2'), 'bench/s2', 7, NDVI_BENCH_SIZE, BENCH_COG_DEFLATE_LEVEL);
  await catalog.put({ id: S2_ID, stac: stacForCogItems(S2_ID, s2, { title: 'NDVI benchmark tile', description: 'synthetic', license: 'CC0-1.0', sample: true }), source: s2 });
  const oisst = await writeSampleOisst(join(dataDir, 'bench', 'oisst.zarr'), 'bench/oisst.zarr', 7, consecutiveDates(`${SST_BENCH_YEAR}-01-01`, 366));
  await catalog.put({ id: OISST_ID, stac: stacForZarrCube(OISST_ID, oisst, { title: 'SST benchmark year', description: 'synthetic', license: 'CC0-1.0', sample: true }), source: oisst });
  writeFileSync(marker, JSON.stringify({ version: BENCH_DATA_VERSION }));
}

function maskedNdvi(): Record<string, unknown> {
  return {
    process_graph: {
      red: { process_id: 'array_element', arguments: { data: { from_parameter: 'data' }, label: 'B04' } },
      nir: { process_id: 'array_element', arguments: { data: { from_parameter: 'data' }, label: 'B08' } },
      scl: { process_id: 'array_element', arguments: { data: { from_parameter: 'data' }, label: 'SCL' } },
      nd: { process_id: 'normalized_difference', arguments: { x: { from_node: 'nir' }, y: { from_node: 'red' } } },
      shadow: { process_id: 'eq', arguments: { x: { from_node: 'scl' }, y: 3 } },
      cloud: { process_id: 'gte', arguments: { x: { from_node: 'scl' }, y: 8 } },
      masked: { process_id: 'or', arguments: { x: { from_node: 'shadow' }, y: { from_node: 'cloud' } } },
      clear: { process_id: 'not', arguments: { x: { from_node: 'masked' } } },
      out: { process_id: 'if', arguments: { value: { from_node: 'clear' }, accept: { from_node: 'nd' } }, result: true },
    },
  };
}

function reducer(name: string): Record<string, unknown> {
  return { process_graph: { r: { process_id: name, arguments: { data: { from_parameter: 'data' } }, result: true } } };
}

/** NDVI of the tile, masked by SCL, then its maximum and its mean over the dates, both as GeoTIFF. */
export function ndviWorkload(): Record<string, unknown> {
  return {
    process_graph: {
      load: { process_id: 'load_collection', arguments: { id: S2_ID, spatial_extent: null, temporal_extent: null, bands: ['B04', 'B08', 'SCL'] } },
      ndvi: { process_id: 'reduce_dimension', arguments: { data: { from_node: 'load' }, dimension: 'bands', reducer: maskedNdvi() } },
      max: { process_id: 'reduce_dimension', arguments: { data: { from_node: 'ndvi' }, dimension: 't', reducer: reducer('max') } },
      mean: { process_id: 'reduce_dimension', arguments: { data: { from_node: 'ndvi' }, dimension: 't', reducer: reducer('mean') } },
      save_max: { process_id: 'save_result', arguments: { data: { from_node: 'max' }, format: 'GTiff' } },
      save_mean: { process_id: 'save_result', arguments: { data: { from_node: 'mean' }, format: 'GTiff' }, result: true },
    },
  };
}

/** Mean SST over the North Atlantic for a year, as NetCDF. */
export function sstWorkload(): Record<string, unknown> {
  return {
    process_graph: {
      load: { process_id: 'load_collection', arguments: { id: OISST_ID, spatial_extent: NORTH_ATLANTIC, temporal_extent: [`${SST_BENCH_YEAR}-01-01`, `${SST_BENCH_YEAR + 1}-01-01`], bands: ['sst'] } },
      mean: { process_id: 'reduce_dimension', arguments: { data: { from_node: 'load' }, dimension: 't', reducer: reducer('mean') } },
      save: { process_id: 'save_result', arguments: { data: { from_node: 'mean' }, format: 'netCDF' }, result: true },
    },
  };
}

const encoder = new TextEncoder();

async function compileForBench(dataDir: string, process: Record<string, unknown>, name: string): Promise<{ tasks: BenchTaskSpec[]; outputs: string[]; outputDir: string }> {
  const outputDir = `bench/out/${name}-${Date.now()}`;
  const compiled = await compileProcess(process, { catalog: new Catalog(dataDir), registry: defaultProcessRegistry(), target: { jobId: name, outputDir } });
  return {
    outputDir,
    outputs: compiled.outputs,
    tasks: compiled.tasks.map((t) => ({ key: t.key, op: t.op, args: encoder.encode(encodeTaskArgs(t.args)), deps: t.deps, priority: t.priority, estBytes: Math.round(t.estBytes) })),
  };
}

/** Best of a few runs: the machine is shared, the minimum is the least disturbed figure. */
export const WORKLOAD_RUNS = 3;

export async function benchWorkloads(): Promise<BenchResult[]> {
  const dataDir = benchDataDir();
  await ensureBenchData(dataDir);
  const results: BenchResult[] = [];
  const source = JSON.parse(readFileSync(join(dataDir, 'collections', S2_ID, 'source.json'), 'utf8')) as { items: { assets: { B04: { href: string } } }[] };
  const read = await benchCogRead(join(dataDir, source.items[0]!.assets.B04.href));
  results.push(result(`COG read, ${NDVI_BENCH_SIZE}² uint16 B04 (decoded MB/s)`, read.decodedMBps, 'MB/s', READ_TARGET_RATIO * read.inflateMBps, true, `native inflate ceiling ${read.inflateMBps.toFixed(0)} MB/s, ratio to ceiling ${(read.decodedMBps / read.inflateMBps).toFixed(2)}`));
  // Each workload on a cluster of its own, as each reference run has: peak memory is the workload's.
  const ndvi = await runWorkload(dataDir, 'ndvi', ndviWorkload);
  const sst = await runWorkload(dataDir, 'sst', sstWorkload);
  // The references run after ours, on an idle machine as ours did.
  results.push(...againstReference(`NDVI max+mean composite, ${NDVI_BENCH_SIZE}² × 4 dates`, ndvi, NDVI_TARGET_SECONDS, referenceFigure('ndvi', dataDir)));
  results.push(...againstReference('SST North-Atlantic mean, 366 days from Zarr', sst, SST_TARGET_SECONDS, referenceFigure('sst', dataDir)));
  return results;
}

interface WorkloadRuns {
  times: number[];
  peakWorkerBytes: number;
}

async function runWorkload(dataDir: string, name: string, workload: () => Record<string, unknown>): Promise<WorkloadRuns> {
  const cluster = await startBenchCluster({ dataDir });
  try {
    const times: number[] = [];
    for (let run = 0; run < WORKLOAD_RUNS; run++) {
      const graph = await compileForBench(dataDir, workload(), `${name}-${run}`);
      times.push(await cluster.submit(`bench-${name}-${run}`, graph));
      // Results of earlier runs would only fill the disk (and the page cache) of later ones.
      rmSync(join(dataDir, graph.outputDir), { recursive: true, force: true });
    }
    return { times, peakWorkerBytes: cluster.takePeakWorkerMemory() };
  } finally {
    await cluster.stop();
  }
}

/** Job time against its target with the speed-up over the 2020 stack, and peak worker memory against the stack's. */
function againstReference(name: string, { times, peakWorkerBytes }: WorkloadRuns, targetSeconds: number, reference: ReferenceFigure): BenchResult[] {
  const best = Math.min(...times);
  const speedup = reference.bestSeconds / best;
  return [
    result(`${name} (job time)`, best, 's', targetSeconds, false, `runs ${times.map((t) => t.toFixed(2)).join(', ')} s; xarray+dask timed side by side ${reference.bestSeconds.toFixed(2)} s (${reference.source}): ${speedup.toFixed(1)}× faster, the design asks ${REFERENCE_SPEEDUP}×`),
    result(`${name} (peak worker memory)`, peakWorkerBytes / 1e6, 'MB', reference.peakWorkerBytes / 1e6, false, 'target: at most xarray+dask'),
  ];
}
