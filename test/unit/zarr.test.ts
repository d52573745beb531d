import { createHash } from 'node:crypto';
import { promises as fsPromises } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import FileSystemStore from '@zarrita/storage/fs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as zarr from 'zarrita';
import { isTaskError, type TaskErrorKind } from '../../common/errors.js';
import { appendTimeSteps, createCube, readCubeInfo, type CubeSpec, type CubeTimeStep } from '../../ingest/zarr-cube.js';
import { openZarrArray } from '../../worker/io/zarr-array.js';
import { registerZarrCodecs, ZARR_CODEC_NAMES } from '../../worker/io/zarr-codecs.js';

const [T, H, W] = [20, 64, 128];
const CHUNKS: [number, number, number] = [8, 32, 32];
const BATCHES = [5, 9, 6];

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'zarr-test-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

function floatSpec(overrides: Partial<CubeSpec> = {}): CubeSpec {
  return {
    variable: 'sst',
    dtype: 'float32',
    spatialShape: [H, W],
    chunks: CHUNKS,
    dimensionNames: ['time', 'lat', 'lon'],
    fillValue: NaN,
    attributes: { units: 'degC', long_name: 'Daily sea surface temperature', standard_name: 'sea_surface_temperature' },
    compressor: { codec: 'gzip', level: 4 },
    coordinates: [
      { name: 'lat', values: Float64Array.from({ length: H }, (_, i) => -80 + i * 2.5), attributes: { units: 'degrees_north' } },
      { name: 'lon', values: Float64Array.from({ length: W }, (_, i) => i * 2.8125), attributes: { units: 'degrees_east' } },
    ],
    timeUnits: 'days since 1970-01-01',
    ...overrides,
  };
}

/** Deterministic values, exact in float32, with NaN "land" so missing data is exercised. */
function floatStep(t: number): CubeTimeStep {
  const data = new Float32Array(H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) data[y * W + x] = (x + y) % 11 === 0 ? NaN : t * 100 + y + x / 128;
  }
  return { time: 18000 + t, data };
}

function int16Step(t: number, fill: number): CubeTimeStep {
  const data = new Int16Array(H * W);
  for (let i = 0; i < data.length; i++) data[i] = i % 13 === 0 ? fill : ((t * 977 + i * 31) % 60000) - 30000;
  return { time: t * 0.5, data };
}

/** Every chunk file of an array with its identity, so a rewrite (atomic rename = new inode) shows. */
async function chunkFiles(arrayDir: string): Promise<Map<string, { ino: number; mtimeMs: number; sha: string }>> {
  const files = new Map<string, { ino: number; mtimeMs: number; sha: string }>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else {
        const info = await stat(path);
        files.set(relative(join(arrayDir, 'c'), path), {
          ino: info.ino,
          mtimeMs: info.mtimeMs,
          sha: createHash('sha256').update(await readFile(path)).digest('hex'),
        });
      }
    }
  };
  await walk(join(arrayDir, 'c'));
  return files;
}

function expectSameValues(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  let mismatches = 0;
  for (let i = 0; i < expected.length; i++) if (!Object.is(actual[i], expected[i])) mismatches++;
  expect(mismatches).toBe(0);
}

async function expectTaskError(promise: Promise<unknown>, kind: TaskErrorKind, message: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isTaskError(error), `expected a TaskError, got ${String(error)}`).toBe(true);
  if (isTaskError(error)) {
    expect(error.kind).toBe(kind);
    expect(error.message).toMatch(message);
  }
}

describe('zarr codecs', () => {
  it('registers Node codecs idempotently, all of which encode and decode', async () => {
    registerZarrCodecs();
    const first = ZARR_CODEC_NAMES.map((name) => zarr.registry.get(name));
    registerZarrCodecs();
    expect(ZARR_CODEC_NAMES.map((name) => zarr.registry.get(name))).toEqual(first);

    const input = new Uint8Array(new Float32Array(4096).map((_, i) => Math.sin(i / 50)).buffer);
    const configs: Record<string, Record<string, unknown>> = {
      gzip: { level: 5 },
      zlib: { level: 5 },
      blosc: { cname: 'lz4', clevel: 5, shuffle: 'shuffle', typesize: 4, blocksize: 0 },
      zstd: { level: 3, checksum: false },
    };
    for (const name of Object.keys(configs)) {
      const entry = await zarr.registry.get(name)!();
      const codec = entry.fromConfig(configs[name], { dataType: 'float32', shape: [4096], codecs: [], fillValue: null });
      const encoded = await codec.encode(input);
      expect(encoded.length, name).toBeLessThan(input.length);
      expect(Buffer.from(await codec.decode(encoded)).equals(Buffer.from(input)), name).toBe(true);
    }
  });

  it('honours the v3 spelling of blosc shuffle', async () => {
    registerZarrCodecs();
    const entry = await zarr.registry.get('blosc')!();
    const meta = { dataType: 'float32' as const, shape: [1], codecs: [], fillValue: null };
    const input = new Uint8Array(new Float32Array(65536).map((_, i) => 20 + Math.sin(i / 300)).buffer);
    const shuffled = await entry.fromConfig({ cname: 'lz4', clevel: 5, shuffle: 'shuffle' }, meta).encode(input);
    const plain = await entry.fromConfig({ cname: 'lz4', clevel: 5, shuffle: 'noshuffle' }, meta).encode(input);
    expect(shuffled.length).toBeLessThan(plain.length);
  });
});

describe('zarr cube store', () => {
  it('appends in batches, writing only the chunks each batch touches', async () => {
    const dir = join(root, 'float.zarr');
    const spec = floatSpec();
    await createCube(dir, spec);
    const empty = await readCubeInfo(dir);
    expect(empty.timeLength).toBe(0);
    expect(empty.times.length).toBe(0);

    const steps = Array.from({ length: T }, (_, t) => floatStep(t));
    const arrayDir = join(dir, 'sst');
    const snapshots: Map<string, { ino: number; mtimeMs: number; sha: string }>[] = [];
    let offset = 0;
    for (const size of BATCHES) {
      const { timeLength } = await appendTimeSteps(dir, steps.slice(offset, offset + size));
      offset += size;
      expect(timeLength).toBe(offset);
      expect((await readCubeInfo(dir)).timeLength).toBe(offset);
      snapshots.push(await chunkFiles(arrayDir));
    }
    const spatialChunks = (H / CHUNKS[1]) * (W / CHUNKS[2]);
    const inTimeChunk = (files: Map<string, unknown>, t: number): string[] => [...files.keys()].filter((k) => k.startsWith(`${t}/`)).sort();
    const [afterFirst, afterSecond, afterThird] = snapshots as [typeof snapshots[0], typeof snapshots[0], typeof snapshots[0]];

    // Batch 1 (steps 0-4) fills part of time-chunk 0 only.
    expect(afterFirst.size).toBe(spatialChunks);
    // Batch 2 (steps 5-13) completes time-chunk 0 (rewritten) and starts time-chunk 1.
    expect(afterSecond.size).toBe(2 * spatialChunks);
    expect(inTimeChunk(afterFirst, 0).length).toBe(spatialChunks);
    for (const key of inTimeChunk(afterFirst, 0)) expect(afterSecond.get(key)!.sha).not.toBe(afterFirst.get(key)!.sha);
    // Batch 3 (steps 14-19) completes time-chunk 1 and starts time-chunk 2; time-chunk 0 is not touched.
    expect(afterThird.size).toBe(3 * spatialChunks);
    const untouched = inTimeChunk(afterSecond, 0);
    expect(untouched.length).toBe(spatialChunks);
    for (const key of untouched) expect(afterThird.get(key)).toEqual(afterSecond.get(key));
    expect(inTimeChunk(afterSecond, 1).length).toBe(spatialChunks);
    for (const key of inTimeChunk(afterSecond, 1)) expect(afterThird.get(key)!.sha).not.toBe(afterSecond.get(key)!.sha);

    // Every value reads back exactly, NaN included.
    const handle = await openZarrArray(dir, 'sst');
    expect(handle.shape).toEqual([T, H, W]);
    expect(handle.chunks).toEqual(CHUNKS);
    expect(handle.dtype).toBe('float32');
    expect(handle.dimensionNames).toEqual(['time', 'lat', 'lon']);
    expect(handle.fillValue).toBeNaN();
    expect(handle.attributes).toEqual(spec.attributes);
    const expected = new Float32Array(T * H * W);
    steps.forEach((step, t) => expected.set(step.data, t * H * W));
    expectSameValues(await handle.read([0, 0, 0], [T, H, W]), expected);

    // A window that straddles chunk boundaries on every axis.
    const window = await handle.read([3, 30, 17], [17, 35, 100]);
    const windowExpected: number[] = [];
    for (let t = 3; t < 17; t++) for (let y = 30; y < 35; y++) for (let x = 17; x < 100; x++) windowExpected.push(expected[(t * H + y) * W + x]!);
    expectSameValues(window, windowExpected);

    const info = await readCubeInfo(dir);
    expect(info.timeLength).toBe(T);
    expectSameValues(info.times, steps.map((s) => s.time));
    expect(info.spec.variable).toBe('sst');
    expect(info.spec.dtype).toBe('float32');
    expect(info.spec.spatialShape).toEqual([H, W]);
    expect(info.spec.chunks).toEqual(CHUNKS);
    expect(info.spec.dimensionNames).toEqual(spec.dimensionNames);
    expect(info.spec.fillValue).toBeNaN();
    expect(info.spec.attributes).toEqual(spec.attributes);
    expect(info.spec.compressor).toEqual(spec.compressor);
    expect(info.spec.timeUnits).toBe(spec.timeUnits);
    expect(info.spec.coordinates.map((c) => c.name)).toEqual(['lat', 'lon']);
    expectSameValues(info.spec.coordinates[0]!.values, spec.coordinates[0]!.values);
    expectSameValues(info.spec.coordinates[1]!.values, spec.coordinates[1]!.values);
    expect(info.spec.coordinates[1]!.attributes).toEqual({ units: 'degrees_east' });
  });

  it('writes metadata that a fresh zarrita opens as Zarr v3', async () => {
    const dir = join(root, 'float.zarr');
    const store = new FileSystemStore(dir);
    const group = await zarr.open.v3(store, { kind: 'group' });
    expect(group.attrs).toHaveProperty('cube_layout');

    const sst = await zarr.open.v3(zarr.root(store).resolve('sst'), { kind: 'array' });
    expect(sst.shape).toEqual([T, H, W]);
    expect(sst.dtype).toBe('float32');
    expect(sst.chunks).toEqual(CHUNKS);
    expect(sst.dimensionNames).toEqual(['time', 'lat', 'lon']);
    expect(sst.fillValue).toBeNaN();
    const sstJson = JSON.parse(await readFile(join(dir, 'sst', 'zarr.json'), 'utf8')) as Record<string, unknown>;
    expect(sstJson.fill_value).toBe('NaN');
    expect((sstJson.codecs as { name: string }[]).map((c) => c.name)).toEqual(['bytes', 'gzip']);
    const values = await zarr.get(sst, [zarr.slice(7, 9), zarr.slice(0, 2), null]);
    expect(values.shape).toEqual([2, 2, W]);
    expectSameValues(values.data as Float32Array, [
      ...floatStep(7).data.subarray(0, 2 * W),
      ...floatStep(8).data.subarray(0, 2 * W),
    ]);

    const time = await zarr.open.v3(zarr.root(store).resolve('time'), { kind: 'array' });
    expect(time.shape).toEqual([T]);
    expect(time.attrs).toMatchObject({ units: 'days since 1970-01-01', standard_name: 'time' });
    const lat = await zarr.open.v3(zarr.root(store).resolve('lat'), { kind: 'array' });
    expect(lat.shape).toEqual([H]);
    expect(lat.dimensionNames).toEqual(['lat']);

    // The last time-chunk holds steps 16-19; its remaining rows are the fill value (NaN).
    const lastChunk = await sst.getChunk([2, 0, 0]);
    const rows = lastChunk.data as Float32Array;
    const rowSize = CHUNKS[1] * CHUNKS[2];
    expect(rows.subarray(4 * rowSize).every((v) => Number.isNaN(v))).toBe(true);
    expect(rows[1]).toBe(16 * 100 + 0 + 1 / 128);
  });

  it('stores int16 with CF scaling attributes and reads raw values, fill included', async () => {
    for (const codec of ['blosc', 'zstd'] as const) {
      const dir = join(root, `int16-${codec}.zarr`);
      const fill = -32768;
      const attributes = { units: 'degC', scale_factor: 0.01, add_offset: 0, _FillValue: fill };
      await createCube(dir, floatSpec({ dtype: 'int16', fillValue: fill, attributes, compressor: { codec, level: 3 } }));
      const steps = Array.from({ length: 11 }, (_, t) => int16Step(t, fill));
      await appendTimeSteps(dir, steps.slice(0, 3));
      await appendTimeSteps(dir, steps.slice(3));
      const handle = await openZarrArray(dir, 'sst');
      expect(handle.dtype).toBe('int16');
      expect(handle.fillValue).toBe(fill);
      const all = await handle.read([0, 0, 0], [11, H, W]);
      expect(all).toBeInstanceOf(Int16Array);
      const expected = new Int16Array(11 * H * W);
      steps.forEach((step, t) => expected.set(step.data, t * H * W));
      expectSameValues(all, expected);
      expect(all[0]).toBe(fill);
      const info = await readCubeInfo(dir);
      expect(info.spec.compressor).toEqual({ codec, level: 3 });
      expect(info.spec.attributes).toEqual(attributes);
      expectSameValues(info.times, steps.map((s) => s.time));
    }
  });

  it('leaves the cube at its old length when an append is interrupted before its commit', async () => {
    const dir = join(root, 'interrupted.zarr');
    await createCube(dir, floatSpec());
    const steps = Array.from({ length: 12 }, (_, t) => floatStep(t));
    await appendTimeSteps(dir, steps.slice(0, 5));

    // Fail the very last write of the append: the data variable's metadata.
    const rename = fsPromises.rename.bind(fsPromises);
    vi.spyOn(fsPromises, 'rename').mockImplementation(async (from, to) => {
      if (String(to).endsWith(join('sst', 'zarr.json'))) throw Object.assign(new Error('simulated crash'), { code: 'EIO' });
      return rename(from, to);
    });
    await expectTaskError(appendTimeSteps(dir, steps.slice(5, 10)), 'transient', /simulated crash/);
    vi.restoreAllMocks();

    const info = await readCubeInfo(dir);
    expect(info.timeLength).toBe(5);
    expectSameValues(info.times, steps.slice(0, 5).map((s) => s.time));
    const handle = await openZarrArray(dir, 'sst');
    expect(handle.shape[0]).toBe(5);
    const expected = new Float32Array(12 * H * W);
    steps.forEach((step, t) => expected.set(step.data, t * H * W));
    expectSameValues(await handle.read([0, 0, 0], [5, H, W]), expected.subarray(0, 5 * H * W));
    expect((await readdir(join(dir, 'sst'))).filter((name) => name.endsWith('.partial'))).toEqual([]);

    // Retrying goes through, and the orphaned chunks of the failed attempt are overwritten.
    expect((await appendTimeSteps(dir, steps.slice(5, 12))).timeLength).toBe(12);
    expectSameValues(await (await openZarrArray(dir, 'sst')).read([0, 0, 0], [12, H, W]), expected);
  });

  it('rejects invalid specs, steps and stores with user errors', async () => {
    const dir = join(root, 'float.zarr');
    await expectTaskError(createCube(dir, floatSpec()), 'user', /already exists/);
    await expectTaskError(createCube(join(root, 'bad1.zarr'), floatSpec({ chunks: [0, 32, 32] })), 'user', /chunk size 0/);
    await expectTaskError(createCube(join(root, 'bad2.zarr'), floatSpec({ dtype: 'int16', fillValue: NaN })), 'user', /does not fit int16/);
    await expectTaskError(
      createCube(join(root, 'bad3.zarr'), floatSpec({ coordinates: [{ name: 'lat', values: new Float64Array(3), attributes: {} }] })),
      'user',
      /has 3 values/,
    );
    await expectTaskError(appendTimeSteps(dir, [floatStep(3)]), 'user', /does not follow the previous time/);
    await expectTaskError(appendTimeSteps(dir, [{ time: 99999, data: new Int16Array(H * W) }]), 'user', /must be a Float32Array/);
    await expectTaskError(appendTimeSteps(dir, [{ time: 99999, data: new Float32Array(7) }]), 'user', /has 7 values/);
    await expectTaskError(readCubeInfo(join(root, 'nowhere')), 'user', /no cube/);
    await expectTaskError(openZarrArray(dir, 'missing'), 'user', /no Zarr array 'missing'/);
    await expectTaskError(openZarrArray(root, 'float.zarr'), 'user', /a group is there/);
    const handle = await openZarrArray(dir, 'sst');
    await expectTaskError(handle.read([0, 0, 0], [T + 1, H, W]), 'internal', /outside dimension 0/);
    await expectTaskError(handle.read([0, 0, 0], [T, H, W], AbortSignal.abort()), 'canceled', /canceled/);
    expect((await readCubeInfo(dir)).timeLength).toBe(T);
  });
});

describe('zarr v2 arrays', () => {
  /** Writes a v2 array by hand: `.zarray`, `.zattrs` and one file per chunk (edge chunks padded). */
  async function writeV2Array(
    dir: string,
    meta: { shape: [number, number]; chunks: [number, number]; dtype: string; compressor: { id: string; level: number } | null; fill_value: unknown; order: 'C' | 'F' },
    encode: (y0: number, x0: number) => Uint8Array | null,
  ): Promise<void> {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, '.zarray'), JSON.stringify({ zarr_format: 2, filters: null, dimension_separator: '.', ...meta }));
    await writeFile(join(dir, '.zattrs'), JSON.stringify({ _ARRAY_DIMENSIONS: ['y', 'x'], units: 'K' }));
    const [cy, cx] = meta.chunks;
    for (let iy = 0; iy * cy < meta.shape[0]; iy++) {
      for (let ix = 0; ix * cx < meta.shape[1]; ix++) {
        const bytes = encode(iy * cy, ix * cx);
        if (bytes) await writeFile(join(dir, `${iy}.${ix}`), bytes);
      }
    }
  }

  it('reads a zlib-compressed float32 v2 array, a missing chunk as NaN', async () => {
    const dir = join(root, 'v2.zarr');
    const shape: [number, number] = [5, 7];
    const chunks: [number, number] = [2, 3];
    const value = (y: number, x: number): number => y * 10 + x + 0.5;
    await writeV2Array(
      join(dir, 'temperature'),
      { shape, chunks, dtype: '<f4', compressor: { id: 'zlib', level: 1 }, fill_value: 'NaN', order: 'C' },
      (y0, x0) => {
        if (y0 === 2 && x0 === 3) return null; // never written: reads as the fill value
        const chunk = new Float32Array(chunks[0] * chunks[1]);
        for (let y = 0; y < chunks[0]; y++) for (let x = 0; x < chunks[1]; x++) chunk[y * chunks[1] + x] = value(y0 + y, x0 + x);
        return deflateSync(new Uint8Array(chunk.buffer));
      },
    );
    const handle = await openZarrArray(dir, 'temperature');
    expect(handle.shape).toEqual(shape);
    expect(handle.chunks).toEqual(chunks);
    expect(handle.dtype).toBe('float32');
    expect(handle.fillValue).toBeNaN();
    expect(handle.dimensionNames).toEqual(['y', 'x']);
    expect(handle.attributes).toMatchObject({ units: 'K' });
    const data = await handle.read([1, 2], [5, 7]);
    const expected: number[] = [];
    for (let y = 1; y < 5; y++) for (let x = 2; x < 7; x++) expected.push(y >= 2 && y < 4 && x >= 3 && x < 6 ? NaN : value(y, x));
    expectSameValues(data, expected);
  });

  it('reads column-major (order F) gzip and uncompressed int16 v2 arrays', async () => {
    const shape: [number, number] = [4, 6];
    const chunks: [number, number] = [3, 4];
    const value = (y: number, x: number): number => (y - 2) * 100 + x;
    for (const compressor of [{ id: 'gzip', level: 6 }, null]) {
      const dir = join(root, `v2-int16-${compressor?.id ?? 'raw'}.zarr`);
      await writeV2Array(dir, { shape, chunks, dtype: '<i2', compressor, fill_value: -9999, order: 'F' }, (y0, x0) => {
        if (y0 === 3 && x0 === 0) return null;
        const chunk = new Int16Array(chunks[0] * chunks[1]);
        for (let y = 0; y < chunks[0]; y++) for (let x = 0; x < chunks[1]; x++) chunk[x * chunks[0] + y] = value(y0 + y, x0 + x);
        const bytes = new Uint8Array(chunk.buffer);
        return compressor ? gzipSync(bytes) : bytes;
      });
      const handle = await openZarrArray(dir, '');
      expect(handle.dtype).toBe('int16');
      expect(handle.fillValue).toBe(-9999);
      const data = await handle.read([0, 0], shape);
      expect(data).toBeInstanceOf(Int16Array);
      const expected: number[] = [];
      for (let y = 0; y < 4; y++) for (let x = 0; x < 6; x++) expected.push(y === 3 && x < 4 ? -9999 : value(y, x));
      expectSameValues(data, expected);
    }
  });
});
