import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LazyCube } from '../../api/compiler/cube.js';
import { DagBuilder } from '../../api/compiler/dag-builder.js';
import { GraphEvaluator } from '../../api/compiler/evaluate.js';
import { type LiteralChunking, literalCube, type LiteralDatacube } from '../../api/compiler/literal-cube.js';
import type { ProcessGraph } from '../../api/compiler/process-graph.js';
import { CubeValue, type Value, VectorCubeValue } from '../../api/compiler/values.js';
import { defaultProcessRegistry } from '../../api/processes/index.js';
import { transformer } from '../../common/crs.js';
import { Catalog } from '../../ingest/catalog.js';
import { type CollectedCube, collectCube, collectVectorCube } from '../conformance/datacubes.js';

/**
 * Cube processes give the same cube whether their input is one chunk or cut into many tiles and
 * time blocks (the paths large cubes take: crops across tiles, halos from neighbours, trees over
 * time blocks, re-tiling), and chunk-local ones add no task.
 */

const registry = defaultProcessRegistry();
const evaluator = new GraphEvaluator(registry);
const catalog = new Catalog(join(tmpdir(), 'cube-chunking-without-collections'));

/** Relative precision of float32, in which partial results of trees are finished. */
const FLOAT32_TOLERANCE = 1e-6;

/** Small tiles with offsets that do not divide the grid, and two dates per time block. */
const MANY: LiteralChunking = { tileWidth: 4, tileHeight: 3, timeBlock: 2 };

/** A deterministic pseudo-random sequence (xorshift), with some no data. */
function values(count: number, seed: number, nodataEvery = 17): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: count }, (_, i) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return i % nodataEvery === 5 ? NaN : ((s >>> 0) % 2000) / 10 - 100;
  });
}

function dates(count: number, start = Date.UTC(2020, 0, 1), stepDays = 1): string[] {
  return Array.from({ length: count }, (_, i) => new Date(start + i * stepDays * 86_400_000).toISOString().replace('.000Z', 'Z'));
}

/** A UTM cube [t, bands, y, x] of 10 m pixels. */
function spec(options: { times?: string[]; bands?: string[]; width?: number; height?: number; seed?: number; origin?: [number, number] } = {}): LiteralDatacube {
  const times = options.times ?? dates(5);
  const bands = options.bands ?? ['B04', 'B08'];
  const width = options.width ?? 13;
  const height = options.height ?? 11;
  const [x0, y0] = options.origin ?? [500_000, 5_300_000];
  const xs = Array.from({ length: width }, (_, i) => x0 + 5 + 10 * i);
  const ys = Array.from({ length: height }, (_, i) => y0 - 5 - 10 * i);
  const flat = values(times.length * bands.length * width * height, options.seed ?? 7);
  const nested = times.map((_, t) => bands.map((_, b) => ys.map((_, r) => xs.map((_, c) => flat[((t * bands.length + b) * height + r) * width + c]!))));
  return {
    order: ['t', 'bands', 'y', 'x'],
    dimensions: {
      t: { type: 'temporal', values: times },
      bands: { type: 'bands', values: bands },
      y: { type: 'spatial', axis: 'y', values: ys, reference_system: 32632 },
      x: { type: 'spatial', axis: 'x', values: xs, reference_system: 32632 },
    },
    data: nested,
    nodata: [NaN],
  };
}

interface Computed {
  collected: CollectedCube;
  tasks: number;
  keys: string[];
}

async function compute(graph: ProcessGraph, cubes: Record<string, LazyCube>): Promise<Computed> {
  const builder = new DagBuilder();
  const context = { catalog, builder, target: { jobId: 'cube-chunking', outputDir: 'cube-chunking' }, warnings: [], outputs: [] };
  const parameters: Record<string, Value> = Object.fromEntries(Object.entries(cubes).map(([name, cube]) => [name, new CubeValue(cube)]));
  const { result } = await evaluator.run(graph, context, parameters);
  if (!(result instanceof CubeValue)) throw new Error('the graph gives no data cube');
  // Chunk programs (and the tasks they read) are made when the cube is collected.
  const collected = await collectCube(result.cube, builder);
  return { collected, tasks: builder.size, keys: builder.result().tasks.map((t) => t.key) };
}

function node(process: string, args: Record<string, unknown>): ProcessGraph {
  return { n: { process_id: process, arguments: args, result: true } };
}

const DATA = { from_parameter: 'data' };

/**
 * The graph on a one-chunk cube and on the same cube in many chunks give the same cube, to
 * `tolerance` relative (trees of partial results finish in float32, as chunks of real data are).
 */
async function sameOnChunks(graph: ProcessGraph, specs: Record<string, LiteralDatacube>, chunking: LiteralChunking = MANY, tolerance = 1e-9): Promise<{ whole: Computed; tiled: Computed }> {
  const whole = await compute(graph, Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, literalCube(s)])));
  const tiled = await compute(graph, Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, literalCube(s, chunking)])));
  expect(tiled.collected.order).toEqual(whole.collected.order);
  expect(tiled.collected.shape).toEqual(whole.collected.shape);
  expect(tiled.collected.dimensions).toEqual(whole.collected.dimensions);
  const differing = Array.from(tiled.collected.data).findIndex((v, i) => !(Object.is(v, whole.collected.data[i]) || Math.abs(v - whole.collected.data[i]!) <= tolerance * Math.max(1, Math.abs(v))));
  expect(differing, `first differing value at ${differing}`).toBe(-1);
  return { whole, tiled };
}

/** Value of a collected cube at labels/positions given per dimension. */
function at(cube: CollectedCube, position: Record<string, number>): number {
  let offset = 0;
  cube.order.forEach((name, d) => (offset = offset * cube.shape[d]! + (position[name] ?? 0)));
  return cube.data[offset]!;
}

describe('crops keep the source chunking and add no task', () => {
  it('filter_bbox across tile boundaries, in the cube\'s CRS and in lon/lat', async () => {
    const source = spec();
    // Pixel centres x 500025…500095 and y 5299965…5299915: columns 2–9, rows 3–8.
    const utmBox = { west: 500_021, east: 500_099, south: 5_299_912, north: 5_299_966, crs: 32632 };
    const { tiled } = await sameOnChunks(node('filter_bbox', { data: DATA, extent: utmBox }), { data: source });
    expect(tiled.tasks).toBe(0);
    expect(tiled.collected.shape).toEqual([5, 2, 6, 8]);
    const whole = await compute({ n: { process_id: 'apply', arguments: { data: DATA, process: { process_graph: { a: { process_id: 'absolute', arguments: { x: { from_parameter: 'x' } }, result: true } } } }, result: true } }, { data: literalCube(source) });
    expect(Math.abs(at(tiled.collected, { t: 4, bands: 1, y: 2, x: 3 }))).toBe(at(whole.collected, { t: 4, bands: 1, y: 5, x: 5 }));
    // The same box in lon/lat: its envelope in UTM holds the same pixel centres.
    const toLonLat = transformer(32632, 4326);
    const [w, s] = toLonLat.forward([500_024, 5_299_914]) as [number, number];
    const [e, n] = toLonLat.forward([500_096, 5_299_966]) as [number, number];
    const lonLat = await sameOnChunks(node('filter_bbox', { data: DATA, extent: { west: w, south: s, east: e, north: n } }), { data: source });
    expect(lonLat.tiled.collected.shape[2]).toBeGreaterThanOrEqual(6);
    expect(lonLat.tiled.collected.shape[3]).toBeGreaterThanOrEqual(8);
  });

  it('filter_bbox gives an empty cube for a box beside the data', async () => {
    const { tiled } = await sameOnChunks(node('filter_bbox', { data: DATA, extent: { west: 600_000, east: 600_100, south: 5_299_900, north: 5_300_000, crs: 32632 } }), { data: spec() });
    expect(tiled.collected.shape).toEqual([5, 2, 0, 0]);
  });

  it('filter_temporal across time blocks', async () => {
    const source = spec({ times: dates(9) });
    const { tiled } = await sameOnChunks(node('filter_temporal', { data: DATA, extent: ['2020-01-02', '2020-01-08'] }), { data: source });
    expect(tiled.tasks).toBe(0);
    expect(tiled.collected.dimensions.t!.values).toEqual(dates(9).slice(1, 7));
  });

  it('filter_bands, add_dimension, rename_dimension and drop_dimension', async () => {
    const graph: ProcessGraph = {
      bands: { process_id: 'filter_bands', arguments: { data: DATA, bands: ['B08'] }, result: false },
      drop: { process_id: 'drop_dimension', arguments: { data: { from_node: 'bands' }, name: 'bands' } },
      add: { process_id: 'add_dimension', arguments: { data: { from_node: 'drop' }, name: 'run', label: '2021-01-01T00:00:00Z', type: 'temporal' } },
      rename: { process_id: 'rename_dimension', arguments: { data: { from_node: 'add' }, source: 't', target: 'time' }, result: true },
    };
    const { tiled } = await sameOnChunks(graph, { data: spec({ times: dates(7) }) });
    expect(tiled.tasks).toBe(0);
    expect(tiled.collected.order).toEqual(['run', 'time', 'y', 'x']);
  });
});

describe('neighbourhoods read the tiles around them', () => {
  const KERNEL5 = [
    [1, 0, 2, 0, 1],
    [0, 1, 0, 1, 0],
    [2, 0, -4, 0, 2],
    [0, 1, 0, 1, 0],
    [1, 0, 2, 0, 1],
  ];

  it.each([0, 3.5, 'replicate', 'reflect', 'reflect_pixel', 'wrap'])('apply_kernel with border %s', async (border) => {
    const { tiled } = await sameOnChunks(node('apply_kernel', { data: DATA, kernel: KERNEL5, factor: 0.25, border, replace_invalid: -1 }), { data: spec() });
    // Each of the 4 x 4 tiles of each of the 3 time blocks is computed once, then read by its neighbours.
    expect(tiled.tasks).toBe(4 * 4 * 3);
  });

  it('apply_kernel with a halo wider than a tile', async () => {
    const wide = Array.from({ length: 9 }, (_, i) => Array.from({ length: 7 }, (_, j) => (i + j) % 3));
    await sameOnChunks(node('apply_kernel', { data: DATA, kernel: wide, border: 'wrap' }), { data: spec() });
  });
});

describe('time series across time blocks', () => {
  const MEAN = { process_graph: { m: { process_id: 'mean', arguments: { data: { from_parameter: 'data' } }, result: true } } };

  it('aggregate_temporal_period runs long periods as trees of partial results', async () => {
    const source = spec({ times: dates(40), width: 5, height: 4 });
    const { tiled } = await sameOnChunks(node('aggregate_temporal_period', { data: DATA, period: 'month', reducer: MEAN }), { data: source }, { tileWidth: 3, tileHeight: 3, timeBlock: 3 }, FLOAT32_TOLERANCE);
    expect(tiled.collected.dimensions.t!.values).toEqual(['2020-01', '2020-02']);
    // January's 31 dates do not fit one leaf: partial states over the blocks, combined.
    expect(tiled.tasks).toBeGreaterThan(0);
  });

  it('aggregate_temporal over overlapping intervals', async () => {
    const intervals = [['2020-01-01', '2020-01-05'], ['2020-01-03', '2020-01-09'], ['2020-02-01', '2020-03-01']];
    const reducer = { process_graph: { m: { process_id: 'median', arguments: { data: { from_parameter: 'data' } }, result: true } } };
    const { tiled } = await sameOnChunks(node('aggregate_temporal', { data: DATA, intervals, reducer }), { data: spec({ times: dates(9) }) });
    expect(tiled.collected.dimensions.t!.values).toEqual(['2020-01-01', '2020-01-03', '2020-02-01']);
  });

  it('apply_dimension sees the whole series of a pixel', async () => {
    const process = { process_graph: { e: { process_id: 'extrema', arguments: { data: { from_parameter: 'data' } }, result: true } } };
    const { tiled } = await sameOnChunks(node('apply_dimension', { data: DATA, process, dimension: 't', target_dimension: 'range' }), { data: spec({ times: dates(7) }) });
    expect(tiled.collected.order).toEqual(['range', 'bands', 'y', 'x']);
  });

  it('climatological_normal and anomaly', async () => {
    const times = dates(24, Date.UTC(2019, 0, 15), 30);
    const graph: ProcessGraph = {
      normals: { process_id: 'climatological_normal', arguments: { data: DATA, period: 'month', climatology_period: [2019, 2020] } },
      anomaly: { process_id: 'anomaly', arguments: { data: DATA, normals: { from_node: 'normals' }, period: 'month' }, result: true },
    };
    const { whole } = await sameOnChunks(graph, { data: spec({ times, width: 6, height: 5 }) }, { tileWidth: 4, tileHeight: 2, timeBlock: 5 });
    expect(whole.collected.dimensions.t!.values).toEqual(times);
  });
});

describe('cubes of other chunking line up', () => {
  it('merge_cubes with an overlap resolver on partly shared dates', async () => {
    const resolver = { process_graph: { s: { process_id: 'subtract', arguments: { x: { from_parameter: 'x' }, y: { from_parameter: 'y' } }, result: true } } };
    const a = spec({ times: dates(5), seed: 3 });
    const b = spec({ times: dates(5, Date.UTC(2020, 0, 4)), seed: 11 });
    const graph = node('merge_cubes', { cube1: { from_parameter: 'a' }, cube2: { from_parameter: 'b' }, overlap_resolver: resolver });
    const { tiled } = await sameOnChunks(graph, { a, b });
    expect(tiled.collected.dimensions.t!.values).toEqual(dates(8));
  });

  it('mask with a mask cut into other tiles', async () => {
    const maskSpec: LiteralDatacube = { ...spec({ bands: ['m'], times: dates(1), seed: 5 }), order: ['t', 'bands', 'y', 'x'] };
    const graph: ProcessGraph = {
      threshold: { process_id: 'apply', arguments: { data: { from_parameter: 'm' }, process: { process_graph: { gt: { process_id: 'gt', arguments: { x: { from_parameter: 'x' }, y: 0 }, result: true } } } } },
      drop: { process_id: 'drop_dimension', arguments: { data: { from_node: 'threshold' }, name: 'bands' } },
      dropT: { process_id: 'drop_dimension', arguments: { data: { from_node: 'drop' }, name: 't' } },
      mask: { process_id: 'mask', arguments: { data: DATA, mask: { from_node: 'dropT' }, replacement: 0 }, result: true },
    };
    const whole = await compute(graph, { data: literalCube(spec()), m: literalCube(maskSpec) });
    const tiled = await compute(graph, { data: literalCube(spec(), MANY), m: literalCube(maskSpec, { tileWidth: 5, tileHeight: 2, timeBlock: 1 }) });
    expect(Array.from(tiled.collected.data)).toEqual(Array.from(whole.collected.data));
  });

  it('resample_spatial to a coarser grid', async () => {
    await sameOnChunks(node('resample_spatial', { data: DATA, resolution: 20, method: 'average' }), { data: spec() });
    await sameOnChunks(node('resample_spatial', { data: DATA, projection: 4326, method: 'bilinear' }), { data: spec() });
  });
});

describe('zonal statistics', () => {
  it('aggregate_spatial combines the tiles and time blocks of each geometry', async () => {
    const toLonLat = transformer(32632, 4326);
    const ring = (x0: number, y0: number, x1: number, y1: number): number[][] => [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]].map((p) => toLonLat.forward(p) as number[]);
    const geometries = {
      type: 'FeatureCollection',
      features: [ring(500_012, 5_299_902, 500_077, 5_299_978), ring(500_101, 5_299_951, 500_200, 5_300_100)].map((r) => ({ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [r] } })),
    };
    const reducer = { process_graph: { m: { process_id: 'max', arguments: { data: { from_parameter: 'data' } }, result: true } } };
    const graph = node('aggregate_spatial', { data: DATA, geometries, reducer });
    const source = spec({ times: dates(5) });
    const results = [];
    for (const cube of [literalCube(source), literalCube(source, MANY)]) {
      const builder = new DagBuilder();
      const { result } = await evaluator.run(graph, { catalog, builder, target: { jobId: 'zonal', outputDir: 'zonal' }, warnings: [], outputs: [] }, { data: new CubeValue(cube) });
      results.push({ ...(await collectVectorCube((result as VectorCubeValue).cube, builder)), tasks: builder.size });
    }
    const [whole, tiled] = results as [(typeof results)[0], (typeof results)[0]];
    expect(tiled.dims.map((d) => d.name)).toEqual(['geometry', 't', 'bands']);
    expect(Array.from(tiled.data)).toEqual(Array.from(whole.data));
    // Independently: the largest valid value among the pixels whose centres lie in the first box.
    const collected = (await compute(node('apply', { data: DATA, process: { process_graph: { a: { process_id: 'add', arguments: { x: { from_parameter: 'x' }, y: 0 }, result: true } } } }), { data: literalCube(source) })).collected;
    for (let t = 0; t < 5; t++) {
      let max = -Infinity;
      for (let r = 0; r < 11; r++) for (let c = 0; c < 13; c++) {
        const x = 500_005 + 10 * c;
        const y = 5_299_995 - 10 * r;
        const v = at(collected, { t, bands: 1, y: r, x: c });
        if (x >= 500_012 && x <= 500_077 && y >= 5_299_902 && y <= 5_299_978 && !Number.isNaN(v)) max = Math.max(max, v);
      }
      expect(tiled.data[t * 2 + 1]).toBeCloseTo(max, 4);
    }
  });
});

describe('task keys', () => {
  it('are the same when the same graph is compiled again', async () => {
    const graph = node('apply_kernel', { data: DATA, kernel: [[1, 1, 1]] });
    const first = await compute(graph, { data: literalCube(spec(), MANY) });
    const second = await compute(graph, { data: literalCube(spec(), MANY) });
    expect(second.keys).toEqual(first.keys);
  });
});
