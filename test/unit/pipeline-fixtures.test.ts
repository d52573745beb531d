import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { compileProcess } from '../../api/compiler/compile.js';
import { defaultProcessRegistry } from '../../api/processes/index.js';
import type { Catalog } from '../../ingest/catalog.js';
import { openRaster } from '../../worker/io/cog-reader.js';
import { runLocally } from '../../worker/local-runner.js';
import { expectedValues, registerFixtureS2 } from '../helpers/fixture-catalog.js';
import { REPO_ROOT, tempDir } from '../helpers/processes.js';
import { describeWithShared } from '../helpers/shared.js';

function ndviGraph(spatialExtent: unknown, reducer: 'max' | 'mean'): Record<string, any> {
  const example = JSON.parse(readFileSync(join(REPO_ROOT, 'examples', 'ndvi-max-composite.json'), 'utf8'));
  const graph = example.process.process_graph;
  graph.load.arguments.spatial_extent = spatialExtent;
  graph.load.arguments.temporal_extent = ['2020-05-01', '2020-06-01'];
  graph.composite.arguments.reducer.process_graph = { r: { process_id: reducer, arguments: { data: { from_parameter: 'data' } }, result: true } };
  return example.process;
}

async function stats(path: string): Promise<{ count: number; sum: number; min: number; max: number; raster: Awaited<ReturnType<typeof openRaster>> }> {
  const raster = await openRaster(path);
  const values = await raster.readWindow({ x: 0, y: 0, width: raster.width, height: raster.height });
  let count = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (Number.isNaN(v)) continue;
    count++;
    sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  return { count, sum, min, max, raster };
}

describeWithShared('NDVI composites on the GDAL fixtures, compiled and run in-process', () => {
  let dataDir: string;
  let catalog: Catalog;
  const expected = expectedValues();

  beforeAll(async () => {
    dataDir = tempDir('pipeline');
    catalog = await registerFixtureS2(dataDir, 'earth-search');
  });

  async function run(process: unknown, name: string): Promise<string> {
    const compiled = await compileProcess(process, { catalog, registry: defaultProcessRegistry(), target: { jobId: name, outputDir: `out/${name}` } });
    await runLocally(compiled.tasks, compiled.outputs, dataDir);
    return join(dataDir, 'out', name, 'result.tif');
  }

  it('max composite of the whole tile equals the reference', async () => {
    const s = await stats(await run(ndviGraph(null, 'max'), 'max'));
    const ref = expected.s2.ndvi.max;
    expect(s.count).toBe(ref.valid_count);
    expect(s.sum / s.count).toBeCloseTo(ref.mean, 6);
    expect(Math.abs(s.sum - ref.sum) / ref.sum).toBeLessThan(1e-6);
    expect(s.min).toBeCloseTo(ref.min, 6);
    expect(s.max).toBeCloseTo(ref.max, 6);
    expect(s.raster.epsg).toBe(32632);
    expect(s.raster.transform).toEqual([399960, 10, 0, 5300040, 0, -10]);
    for (const [name, position] of Object.entries(expected.s2.positions) as [string, { row: number; col: number }][]) {
      const [value] = await s.raster.readWindow({ x: position.col, y: position.row, width: 1, height: 1 });
      expect(value).toBeCloseTo(expected.s2.ndvi.max_at[name], 6);
    }
  });

  it('mean-over-time composite equals the reference', async () => {
    const s = await stats(await run(ndviGraph(null, 'mean'), 'mean'));
    expect(s.count).toBe(expected.s2.ndvi.mean_over_time.valid_count);
    expect(Math.abs(s.sum - expected.s2.ndvi.mean_over_time.sum) / expected.s2.ndvi.mean_over_time.sum).toBeLessThan(1e-6);
  });

  it('a bbox in EPSG:4326 selects pixels by the pixel-centre rule', async () => {
    const [west, south, east, north] = expected.s2.bbox_subset.bbox_epsg4326;
    const s = await stats(await run(ndviGraph({ west, south, east, north }, 'max'), 'bbox'));
    const exact = expected.s2.bbox_subset.exact;
    const window = expected.s2.bbox_subset.utm_envelope_window.window;
    expect([s.raster.width, s.raster.height]).toEqual([window.width, window.height]);
    expect(s.raster.transform[0]).toBe(399960 + 10 * window.col_off);
    expect(s.raster.transform[3]).toBe(5300040 - 10 * window.row_off);
    expect(s.count).toBe(exact.pixel_count);
    expect(Math.abs(s.sum - exact.ndvi_max.sum) / exact.ndvi_max.sum).toBeLessThan(1e-6);
  });

  it('a graph saving two composites writes two files, and leaves no tile parts behind', async () => {
    const process = ndviGraph(null, 'max');
    const graph = process.process_graph;
    graph.mean = { process_id: 'reduce_dimension', arguments: { data: { from_node: 'ndvi' }, dimension: 't', reducer: { process_graph: { r: { process_id: 'mean', arguments: { data: { from_parameter: 'data' } }, result: true } } } } };
    graph.save_mean = { process_id: 'save_result', arguments: { data: { from_node: 'mean' }, format: 'GTiff' } };
    const compiled = await compileProcess(process, { catalog, registry: defaultProcessRegistry(), target: { jobId: 'two', outputDir: 'out/two' } });
    await runLocally(compiled.tasks, compiled.outputs, dataDir);
    expect(readdirSync(join(dataDir, 'out', 'two')).sort()).toEqual(['result-2.tif', 'result.tif']);
    const [first, second] = [await stats(join(dataDir, 'out', 'two', 'result.tif')), await stats(join(dataDir, 'out', 'two', 'result-2.tif'))];
    // Graph order decides which save is first; each file holds one of the two composites.
    const sums = [first.sum, second.sum].sort((a, b) => a - b);
    const refs = [expected.s2.ndvi.max.sum, expected.s2.ndvi.mean_over_time.sum].sort((a, b) => a - b);
    sums.forEach((sum, i) => expect(Math.abs(sum - refs[i]!) / refs[i]!).toBeLessThan(1e-6));
  });

  it('the fused graph has one task per tile plus output tasks', async () => {
    const compiled = await compileProcess(ndviGraph(null, 'max'), { catalog, registry: defaultProcessRegistry(), target: { jobId: 'count', outputDir: 'out/count' } });
    // 1098 px = 3 x 3 source tiles of 512 → 9 fused chunk tasks, 9 output tiles, 2 x 2 tiles of
    // the first overview (549 px), 1 file.
    expect(compiled.tasksByOp).toEqual({ 'cube.eval': 9, 'save.cog_tile': 9, 'save.cog_overview_tile': 4, 'save.cog': 1 });
  });
});
