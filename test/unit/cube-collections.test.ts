import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSystemStore } from '@zarrita/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as zarr from 'zarrita';
import { DagBuilder } from '../../api/compiler/dag-builder.js';
import { GraphEvaluator } from '../../api/compiler/evaluate.js';
import type { ProcessGraph } from '../../api/compiler/process-graph.js';
import { CubeValue, VectorCubeValue } from '../../api/compiler/values.js';
import { nestValues } from '../../api/compiler/vector-cube.js';
import { defaultProcessRegistry } from '../../api/processes/index.js';
import { Catalog } from '../../ingest/catalog.js';
import { ensureSampleData, SAMPLE_OISST_COLLECTION, SAMPLE_S2_COLLECTION } from '../../ingest/sample-data.js';
import { closeAllRasters } from '../../worker/io/cog-reader.js';
import { type CollectedCube, collectCube, collectVectorCube } from '../conformance/datacubes.js';
import { referenceSstMean } from '../helpers/independent.js';

/**
 * Cube processes on the sample collections (Sentinel-2 in 512-pixel tiles, OISST in 160 x 120
 * cells by 32 days), run through their tasks and checked against computations made directly
 * from the stored data, on windows that straddle tile boundaries.
 */

let dataDir: string;
let catalog: Catalog;
const evaluator = new GraphEvaluator(defaultProcessRegistry());

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'cube-collections-'));
  await ensureSampleData(dataDir);
  catalog = new Catalog(dataDir);
}, 120_000);

afterAll(async () => {
  await closeAllRasters();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function run(graph: ProcessGraph): Promise<{ value: unknown; builder: DagBuilder; warnings: string[] }> {
  const builder = new DagBuilder();
  const warnings: string[] = [];
  const { result } = await evaluator.run(graph, { catalog, builder, target: { jobId: 'collections', outputDir: 'collections' }, warnings, outputs: [] });
  return { value: result, builder, warnings };
}

async function collect(graph: ProcessGraph): Promise<{ cube: CollectedCube; builder: DagBuilder }> {
  const { value, builder } = await run(graph);
  if (!(value instanceof CubeValue)) throw new Error('the graph gives no data cube');
  // collectCube runs tasks from the data directory of the sample collections.
  return { cube: await collectCube(value.cube, builder, dataDir), builder };
}

function at(cube: CollectedCube, position: Record<string, number>): number {
  let offset = 0;
  cube.order.forEach((name, d) => (offset = offset * cube.shape[d]! + (position[name] ?? 0)));
  return cube.data[offset]!;
}

// ---- Sentinel-2: 1536 x 1536 pixels of 10 m from (510960, 5300040) in EPSG:32632, tiles of 512.

const TILE_CORNER = [510_960 + 5_120, 5_300_040 - 5_120] as const;
/** A window of 41 x 31 pixels around the corner where four tiles meet. */
const S2_WINDOW = { west: TILE_CORNER[0] - 200, east: TILE_CORNER[0] + 200, south: TILE_CORNER[1] - 150, north: TILE_CORNER[1] + 150, crs: 32632 };

function loadS2(extent: unknown = null): ProcessGraph[string] {
  return { process_id: 'load_collection', arguments: { id: SAMPLE_S2_COLLECTION, spatial_extent: extent, temporal_extent: ['2020-06-01', '2020-06-10'], bands: ['B04'] } };
}

describe('Sentinel-2 sample', () => {
  it('filter_bbox right after loading narrows the load; elsewhere it crops, with the same pixels', async () => {
    const pushed = await collect({ load: loadS2(), f: { process_id: 'filter_bbox', arguments: { data: { from_node: 'load' }, extent: S2_WINDOW }, result: true } });
    const general = await collect({
      load: loadS2(),
      scale: { process_id: 'apply', arguments: { data: { from_node: 'load' }, process: { process_graph: { m: { process_id: 'multiply', arguments: { x: { from_parameter: 'x' }, y: 1 }, result: true } } } } },
      f: { process_id: 'filter_bbox', arguments: { data: { from_node: 'scale' }, extent: S2_WINDOW }, result: true },
    });
    expect(pushed.cube.shape).toEqual([2, 1, 30, 40]);
    expect(Array.from(pushed.cube.data).filter(Number.isFinite).length).toBeGreaterThan(0.9 * pushed.cube.data.length);
    expect(general.cube.dimensions).toEqual(pushed.cube.dimensions);
    expect(Array.from(general.cube.data)).toEqual(Array.from(pushed.cube.data));
    expect(pushed.cube.dimensions.x!.values[0]).toBe(TILE_CORNER[0] - 195);
  });

  it('apply_kernel on the whole scene equals a convolution of the window with its neighbours', async () => {
    const kernel = [
      [1, 2, 1],
      [2, -4, 2],
      [1, 2, 3],
    ];
    const filtered = await collect({
      load: loadS2(),
      k: { process_id: 'apply_kernel', arguments: { data: { from_node: 'load' }, kernel, factor: 0.5 } },
      f: { process_id: 'filter_bbox', arguments: { data: { from_node: 'k' }, extent: S2_WINDOW }, result: true },
    });
    // The tiles around the corner are computed once and read by the tiles they border.
    const materialized = filtered.builder.result().tasks.filter((t) => t.op === 'cube.eval').length;
    expect(materialized).toBeGreaterThanOrEqual(4 * 2);
    expect(materialized).toBeLessThanOrEqual(9 * 2);
    // The raw window with a halo of one pixel, convolved here.
    const halo = { ...S2_WINDOW, west: S2_WINDOW.west - 10, east: S2_WINDOW.east + 10, south: S2_WINDOW.south - 10, north: S2_WINDOW.north + 10 };
    const raw = (await collect({ load: { ...loadS2(halo), result: true } })).cube;
    const [, , height, width] = filtered.cube.shape as [number, number, number, number];
    expect(raw.shape[2]).toBe(height + 2);
    expect(Array.from(raw.data).filter(Number.isFinite).length).toBeGreaterThan(0.9 * raw.data.length);
    for (let t = 0; t < 2; t++) {
      for (let r = 0; r < height; r++) {
        for (let c = 0; c < width; c++) {
          let sum = 0;
          for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
            const v = at(raw, { t, y: r + i, x: c + j });
            sum += kernel[i]![j]! * (Number.isFinite(v) ? v : 0);
          }
          expect(at(filtered.cube, { t, y: r, x: c })).toBeCloseTo(sum * 0.5, 3);
        }
      }
    }
  });
});

// ---- OISST: 0.25° global cells, stored south-up from 0.125°E, 31 days of January 2012.

const OISST_BOX = { west: -42, south: 2, east: -2, north: 38 };

function loadOisst(box = OISST_BOX): ProcessGraph[string] {
  return { process_id: 'load_collection', arguments: { id: SAMPLE_OISST_COLLECTION, spatial_extent: box, temporal_extent: null } };
}

/** The stored daily fields, read without the project's readers: [day][row * 1440 + col], south-up from 0.125°E. */
async function rawDays(): Promise<Float32Array[]> {
  const source = JSON.parse(readFileSync(join(dataDir, 'collections', 'OISST', 'source.json'), 'utf8')) as { store: string; array: string; dates: string[] };
  const root = zarr.root(new FileSystemStore(join(dataDir, source.store)));
  const array = await zarr.open(root.resolve(source.array), { kind: 'array' });
  const days: Float32Array[] = [];
  for (let day = 0; day < source.dates.length; day++) days.push((await zarr.get(array, [day, null, null])).data as Float32Array);
  return days;
}

/** The stored value of a cell centre (lon in −180…180) on a day. */
function rawAt(days: Float32Array[], day: number, lon: number, lat: number): number {
  const col = Math.round(((lon + 360) % 360 - 0.125) / 0.25);
  const row = Math.round((lat + 89.875) / 0.25);
  return days[day]![row * 1440 + col]!;
}

describe('OISST sample', () => {
  let days: Float32Array[];
  beforeAll(async () => {
    days = await rawDays();
  });

  it('climatological_normal and anomaly: the time mean of the span, and each day minus it', async () => {
    const normals = await collect({
      load: loadOisst(),
      normals: { process_id: 'climatological_normal', arguments: { data: { from_node: 'load' }, period: 'climatology-period', climatology_period: [2012, 2012] }, result: true },
    });
    const reference = await referenceSstMean(dataDir, OISST_BOX, '2012-01-01', '2012-02-01');
    expect(normals.cube.dimensions.t!.values).toEqual(['climatology-period']);
    expect(normals.cube.shape.slice(-2)).toEqual([reference.lat.length, reference.lon.length]);
    reference.values.forEach((v, i) => (Number.isNaN(v) ? expect(normals.cube.data[i]).toBeNaN() : expect(normals.cube.data[i]).toBeCloseTo(v, 4)));

    const anomalies = await collect({
      load: loadOisst(),
      normals: { process_id: 'climatological_normal', arguments: { data: { from_node: 'load' }, period: 'climatology-period', climatology_period: [2012, 2012] } },
      anomaly: { process_id: 'anomaly', arguments: { data: { from_node: 'load' }, normals: { from_node: 'normals' }, period: 'climatology-period' }, result: true },
    });
    expect(anomalies.cube.dimensions.t!.values).toHaveLength(31);
    const { lat, lon } = reference;
    for (const day of [0, 13, 30]) {
      for (let r = 0; r < lat.length; r += 7) {
        for (let c = 0; c < lon.length; c += 5) {
          const expected = rawAt(days, day, lon[c]!, lat[r]!) - reference.values[r * lon.length + c]!;
          const got = at(anomalies.cube, { t: day, y: r, x: c });
          if (Number.isNaN(expected)) expect(got).toBeNaN();
          else expect(got).toBeCloseTo(expected, 4);
        }
      }
    }
  });

  it('climatological_normal by month labels all twelve months', async () => {
    const { cube } = await collect({ load: loadOisst({ west: -30, south: 10, east: -20, north: 20 }), n: { process_id: 'climatological_normal', arguments: { data: { from_node: 'load' }, period: 'month', climatology_period: [2012, 2012] }, result: true } });
    expect(cube.dimensions.t!.values).toEqual(['01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12']);
    expect(Number.isFinite(at(cube, { t: 0, y: 3, x: 3 }))).toBe(true);
    expect(at(cube, { t: 1, y: 3, x: 3 })).toBeNaN();
  });

  it('aggregate_spatial: per geometry and day, the mean and the counts of the cells whose centres it holds', async () => {
    const box = [[-30.1, 10.1], [-10.1, 10.1], [-10.1, 30.1], [-30.1, 30.1], [-30.1, 10.1]];
    // An L across tile boundaries (tiles are 40° by 30°): concave, so the ray test matters.
    const ell = [[-45.05, -5.05], [-35.05, -5.05], [-35.05, 25.05], [-41.05, 25.05], [-41.05, 35.05], [-45.05, 35.05], [-45.05, -5.05]];
    const geometries = { type: 'FeatureCollection', features: [box, ell].map((ring) => ({ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [ring] } })) };
    const reducer = { process_graph: { m: { process_id: 'mean', arguments: { data: { from_parameter: 'data' } }, result: true } } };
    const { value, builder } = await run({ load: loadOisst({ west: -60, south: -20, east: 0, north: 50 }), z: { process_id: 'aggregate_spatial', arguments: { data: { from_node: 'load' }, geometries, reducer, target_dimension: 'stats' }, result: true } });
    expect(value).toBeInstanceOf(VectorCubeValue);
    const vector = (value as VectorCubeValue).cube;
    const { dims, data } = await collectVectorCube(vector, builder, dataDir);
    expect(dims.map((d) => d.name)).toEqual(['geometry', 't', 'bands', 'stats']);
    const inside = (ring: number[][], x: number, y: number): boolean => {
      let odd = false;
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const [ax, ay] = ring[i]!;
        const [bx, by] = ring[j]!;
        if (ay! > y !== by! > y && x < ((bx! - ax!) * (y - ay!)) / (by! - ay!) + ax!) odd = !odd;
      }
      return odd;
    };
    const nested = nestValues(dims, data) as Record<string, Record<string, Record<string, Record<string, number | null>>>>;
    [box, ell].forEach((ring, g) => {
      for (const day of [0, 17, 30]) {
        let sum = 0;
        let valid = 0;
        let total = 0;
        for (let lat = -19.875; lat < 50; lat += 0.25) {
          for (let lon = -59.875; lon < 0; lon += 0.25) {
            if (!inside(ring, lon, lat)) continue;
            total++;
            const v = rawAt(days, day, lon, lat);
            if (Number.isNaN(v)) continue;
            sum += v;
            valid++;
          }
        }
        const stats = nested[String(g)]![dims[1]!.labels[day] as string]!['sst']!;
        expect(stats.total_count).toBe(total);
        expect(stats.valid_count).toBe(valid);
        expect(stats.value).toBeCloseTo(sum / valid, 3);
      }
    });
  });

  it('resample_spatial to 1° averages the 4 x 4 cells under each new cell', async () => {
    const { cube } = await collect({ load: loadOisst(), r: { process_id: 'resample_spatial', arguments: { data: { from_node: 'load' }, resolution: 1, method: 'average' }, result: true } });
    expect(cube.shape.slice(-2)).toEqual([36, 40]);
    expect(cube.dimensions.x!.values[0]).toBeCloseTo(-41.5, 9);
    for (const day of [0, 30]) {
      for (let r = 0; r < 36; r += 5) {
        for (let c = 0; c < 40; c += 3) {
          let sum = 0;
          let n = 0;
          for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) {
            const v = rawAt(days, day, -42 + c + 0.125 + j * 0.25, 38 - r - 0.125 - i * 0.25);
            if (!Number.isNaN(v)) {
              sum += v;
              n++;
            }
          }
          const got = at(cube, { t: day, y: r, x: c });
          if (n === 0) expect(got).toBeNaN();
          else expect(got).toBeCloseTo(sum / n, 4);
        }
      }
    }
  });

  it('inspect logs a summary of the cube and passes it on', async () => {
    const { value, warnings } = await run({ load: loadOisst(), i: { process_id: 'inspect', arguments: { data: { from_node: 'load' }, message: 'the loaded cube', code: 'check' }, result: true } });
    expect(value).toBeInstanceOf(CubeValue);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^inspect \[info\] check: the loaded cube — data cube .*t \(temporal\): 2012-01-01T00:00:00Z.*x, y: 160 x 144 pixels in EPSG:4326/);
  });
});
