/**
 * A time-extensible data cube in Zarr v3: one group per collection holding the data variable
 * [time, y, x], a growing 1-D time coordinate and the fixed 1-D spatial coordinates.
 *
 * Appending grows the time dimension. Zarr has no resize operation of its own (nor has
 * zarrita), so a resize is a rewrite of `shape` in the arrays' `zarr.json`. Chunk data goes
 * through zarrita's `set` on an array opened with the grown shape before that shape is saved:
 * it writes only the chunks the new steps touch, completing a partly filled last time-chunk by
 * read-modify-write. Every file is replaced atomically (temporary file, fsync, rename) and the
 * data variable's `zarr.json` is written last, so an interrupted append leaves the cube at its
 * previous length with its data intact; the next append simply overwrites the orphaned chunks.
 *
 * One writer at a time: concurrent appends to the same cube are not coordinated.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import FileSystemStore from '@zarrita/storage/fs';
import * as zarr from 'zarrita';
import { forEachLimited } from '../common/bounded.js';
import { TaskError } from '../common/errors.js';
import { registerZarrCodecs } from '../worker/io/zarr-codecs.js';

export interface CubeSpec {
  variable: string;
  dtype: 'float32' | 'int16';
  /** Sizes of the two spatial dimensions, e.g. [lat, lon]; the time dimension starts at 0 and grows. */
  spatialShape: [number, number];
  chunks: [number, number, number];
  dimensionNames: [string, string, string];
  fillValue: number;
  /** CF attributes: units, long_name, standard_name, scale_factor/add_offset when int16 ... */
  attributes: Record<string, unknown>;
  compressor: { codec: 'gzip' | 'zstd' | 'blosc'; level: number };
  /** 1-D coordinate arrays written once */
  coordinates: { name: string; values: Float64Array; attributes: Record<string, unknown> }[];
  timeUnits: string /* e.g. "days since 1970-01-01" */;
}

export interface CubeTimeStep {
  time: number;
  data: Float32Array | Int16Array;
}

/** Chunk length of the time coordinate: 4096 steps (32 KiB), eleven years of daily steps per file. */
export const CUBE_TIME_CHUNK = 4096;

/** Calendar written on the time coordinate: "proleptic_gregorian", the calendar of ISO 8601 dates. */
export const CUBE_TIME_CALENDAR = 'proleptic_gregorian';

/**
 * Chunks assembled, compressed and written at once during an append: 8. Keeps the zlib and
 * file-system thread pools busy while bounding memory to a few chunks beyond the input.
 */
export const CUBE_WRITE_CONCURRENCY = 8;

/**
 * blosc inner compressor for cubes compressed with blosc: "lz4", blosc's fast one. Who wants
 * ratio over speed picks the zstd codec itself, which compresses better and faster than blosc's
 * zstd does here (blosc runs single-threaded in WebAssembly).
 */
export const CUBE_BLOSC_CNAME = 'lz4';

/**
 * Most input copied into one contiguous slab per zarrita `set` call: 256 MiB, rounded down to
 * whole time-chunks but never less than one. It bounds what an append needs beyond its input,
 * yet spans enough chunks to keep every core compressing when time-chunks are thin.
 */
export const CUBE_APPEND_SLAB_BYTES = 256 * 1024 * 1024;

/** Group attribute naming the cube's arrays, so a cube can be read back without guessing. */
export const CUBE_LAYOUT_ATTRIBUTE = 'cube_layout';

/** Version of the layout description stored in the group: 1. */
export const CUBE_LAYOUT_VERSION = 1;

interface CubeLayout {
  version: number;
  variable: string;
  time: string;
  coordinates: string[];
}

type ArrayMetadata = zarr.ArrayMetadata<zarr.DataType>;

const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export async function createCube(dir: string, spec: CubeSpec): Promise<void> {
  registerZarrCodecs();
  validateSpec(spec);
  if (await exists(join(dir, 'zarr.json'))) {
    throw new TaskError('user', `a Zarr store already exists at ${dir}; refusing to overwrite it`);
  }
  await asTaskError(`creating the cube at ${dir}`, () => writeCube(dir, spec));
}

async function writeCube(dir: string, spec: CubeSpec): Promise<void> {
  const store = new AtomicFileStore(dir);
  const timeName = spec.dimensionNames[0];

  for (const coordinate of spec.coordinates) {
    const metadata = arrayMetadata({
      shape: [coordinate.values.length],
      chunks: [Math.max(1, coordinate.values.length)],
      dataType: 'float64',
      fillValue: NaN,
      codecs: [BYTES_CODEC],
      dimensionNames: [coordinate.name],
      attributes: coordinate.attributes,
    });
    await writeJson(store, `/${coordinate.name}/zarr.json`, metadata);
    const array = new zarr.Array(store, `/${coordinate.name}`, metadata);
    await zarr.set(array, null, { data: coordinate.values, shape: [coordinate.values.length], stride: [1] });
  }

  const timeMetadata = arrayMetadata({
    shape: [0],
    chunks: [CUBE_TIME_CHUNK],
    dataType: 'float64',
    fillValue: NaN,
    codecs: [BYTES_CODEC],
    dimensionNames: [timeName],
    attributes: { standard_name: 'time', long_name: 'time', axis: 'T', units: spec.timeUnits, calendar: CUBE_TIME_CALENDAR },
  });
  await writeJson(store, `/${timeName}/zarr.json`, timeMetadata);

  const variableMetadata = arrayMetadata({
    shape: [0, ...spec.spatialShape],
    chunks: spec.chunks,
    dataType: spec.dtype,
    fillValue: spec.fillValue,
    codecs: [BYTES_CODEC, compressorCodec(spec)],
    dimensionNames: spec.dimensionNames,
    attributes: spec.attributes,
  });
  await writeJson(store, `/${spec.variable}/zarr.json`, variableMetadata);

  // The group goes last: its presence is what marks the cube as created.
  const layout: CubeLayout = {
    version: CUBE_LAYOUT_VERSION,
    variable: spec.variable,
    time: timeName,
    coordinates: spec.coordinates.map((c) => c.name),
  };
  await writeJson(store, '/zarr.json', { zarr_format: 3, node_type: 'group', attributes: { [CUBE_LAYOUT_ATTRIBUTE]: layout } });
}

/**
 * Appends time steps (each a full spatial slice of spatialShape, row-major) with their time
 * values; extends the time dimension by resizing the arrays (metadata update) and writes only
 * the chunks that the new steps touch (a partially filled last time-chunk is completed, never the
 * whole cube rewritten). Safe against interruption: the time length in metadata is updated after
 * the chunk data is written. Times must increase strictly and follow the cube's last time.
 */
export async function appendTimeSteps(dir: string, steps: CubeTimeStep[]): Promise<{ timeLength: number }> {
  registerZarrCodecs();
  const store = new AtomicFileStore(dir);
  const cube = await loadCube(store, dir);
  const timeLength = cube.variable.shape[0]!;
  if (steps.length === 0) return { timeLength };

  const lastTime = timeLength > 0 ? await readTimes(store, cube, timeLength - 1, timeLength) : undefined;
  validateSteps(steps, cube.variable, lastTime?.[0], dir);
  return asTaskError(`appending to the cube at ${dir}`, () => writeSteps(store, cube, steps));
}

async function writeSteps(store: AtomicFileStore, cube: LoadedCube, steps: CubeTimeStep[]): Promise<{ timeLength: number }> {
  const timeLength = cube.variable.shape[0]!;
  const newLength = timeLength + steps.length;
  const variableMetadata: ArrayMetadata = { ...cube.variable, shape: [newLength, ...cube.variable.shape.slice(1)] };
  const timeMetadata: ArrayMetadata = { ...cube.time, shape: [newLength] };
  const variable = new zarr.Array(store, `/${cube.layout.variable}`, variableMetadata);
  const time = new zarr.Array(store, `/${cube.layout.time}`, timeMetadata);
  const options = { createQueue: () => boundedQueue(CUBE_WRITE_CONCURRENCY) };

  // Slabs end on time-chunk boundaries, so no chunk is written twice within one append.
  const chunkTime = variableMetadata.chunk_grid.configuration.chunk_shape[0]!;
  const [, ySize, xSize] = variableMetadata.shape as [number, number, number];
  const stepBytes = ySize * xSize * steps[0]!.data.BYTES_PER_ELEMENT;
  const slabSteps = Math.max(1, Math.floor(CUBE_APPEND_SLAB_BYTES / stepBytes / chunkTime)) * chunkTime;
  for (let begin = timeLength; begin < newLength; ) {
    const end = Math.min(newLength, Math.floor(begin / chunkTime) * chunkTime + slabSteps);
    const slab = concatSteps(steps, begin - timeLength, end - timeLength, ySize * xSize);
    await zarr.set(variable, [zarr.slice(begin, end), null, null], { data: slab, shape: [end - begin, ySize, xSize], stride: [ySize * xSize, xSize, 1] }, options);
    begin = end;
  }
  const times = Float64Array.from(steps, (step) => step.time);
  await zarr.set(time, [zarr.slice(timeLength, newLength)], { data: times, shape: [steps.length], stride: [1] }, options);

  // Commit: the time coordinate's length first, the data variable's (the authoritative one) last.
  await writeJson(store, `/${cube.layout.time}/zarr.json`, timeMetadata);
  await writeJson(store, `/${cube.layout.variable}/zarr.json`, variableMetadata);
  return { timeLength: newLength };
}

export async function readCubeInfo(dir: string): Promise<{ spec: CubeSpec; timeLength: number; times: Float64Array }> {
  registerZarrCodecs();
  return asTaskError(`reading the cube at ${dir}`, () => readCube(dir));
}

async function readCube(dir: string): Promise<{ spec: CubeSpec; timeLength: number; times: Float64Array }> {
  const store = new AtomicFileStore(dir);
  const cube = await loadCube(store, dir);
  const meta = cube.variable;
  const timeLength = meta.shape[0]!;
  const coordinates: CubeSpec['coordinates'] = [];
  for (const name of cube.layout.coordinates) {
    const coordinateMeta = await readArrayMetadata(store, name, dir);
    const array = new zarr.Array(store, `/${name}`, coordinateMeta);
    const values = (await zarr.get(array, null)).data as Float64Array;
    coordinates.push({ name, values, attributes: coordinateMeta.attributes });
  }
  const units = cube.time.attributes.units;
  const spec: CubeSpec = {
    variable: cube.layout.variable,
    dtype: meta.data_type as CubeSpec['dtype'],
    spatialShape: meta.shape.slice(1) as [number, number],
    chunks: meta.chunk_grid.configuration.chunk_shape as [number, number, number],
    dimensionNames: meta.dimension_names as [string, string, string],
    fillValue: decodeFillValue(meta.fill_value),
    attributes: meta.attributes,
    compressor: compressorOf(meta, dir),
    coordinates,
    timeUnits: typeof units === 'string' ? units : '',
  };
  return { spec, timeLength, times: await readTimes(store, cube, 0, timeLength) };
}

// ---------------------------------------------------------------------------------------------
// Metadata

const BYTES_CODEC = { name: 'bytes', configuration: { endian: 'little' } };

function compressorCodec(spec: CubeSpec): zarr.CodecMetadata {
  const { codec, level } = spec.compressor;
  switch (codec) {
    case 'gzip':
      return { name: 'gzip', configuration: { level } };
    case 'zstd':
      return { name: 'zstd', configuration: { level, checksum: false } };
    case 'blosc':
      return {
        name: 'blosc',
        configuration: { cname: CUBE_BLOSC_CNAME, clevel: level, shuffle: 'shuffle', typesize: spec.dtype === 'float32' ? 4 : 2, blocksize: 0 },
      };
  }
}

function compressorOf(meta: ArrayMetadata, dir: string): CubeSpec['compressor'] {
  for (const { name, configuration } of meta.codecs) {
    if (name === 'gzip' || name === 'zstd') return { codec: name, level: Number(configuration.level) };
    if (name === 'blosc') return { codec: name, level: Number(configuration.clevel) };
  }
  throw new TaskError('user', `cube at ${dir}: its data variable has no gzip, zstd or blosc compressor`);
}

function arrayMetadata(options: {
  shape: number[];
  chunks: number[];
  dataType: zarr.DataType;
  fillValue: number;
  codecs: zarr.CodecMetadata[];
  dimensionNames: string[];
  attributes: Record<string, unknown>;
}): ArrayMetadata {
  return {
    zarr_format: 3,
    node_type: 'array',
    shape: options.shape,
    data_type: options.dataType,
    chunk_grid: { name: 'regular', configuration: { chunk_shape: options.chunks } },
    chunk_key_encoding: { name: 'default', configuration: { separator: '/' } },
    fill_value: options.fillValue,
    codecs: options.codecs,
    dimension_names: options.dimensionNames,
    attributes: options.attributes,
  };
}

/** Zarr v3 spells the non-finite floats as strings; JSON has no such numbers. */
function encodeJson(value: unknown): Uint8Array {
  const text = JSON.stringify(
    value,
    (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? (Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity') : v),
    2,
  );
  return new TextEncoder().encode(text);
}

function decodeFillValue(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value === 'NaN') return NaN;
  if (value === 'Infinity') return Infinity;
  if (value === '-Infinity') return -Infinity;
  return NaN;
}

async function writeJson(store: AtomicFileStore, key: `/${string}`, value: unknown): Promise<void> {
  await store.set(key, encodeJson(value));
}

async function readJson(store: AtomicFileStore, key: `/${string}`): Promise<unknown> {
  const bytes = await store.get(key);
  if (!bytes) return undefined;
  return JSON.parse(new TextDecoder().decode(bytes));
}

async function readArrayMetadata(store: AtomicFileStore, name: string, dir: string): Promise<ArrayMetadata> {
  const meta = (await readJson(store, `/${name}/zarr.json`)) as ArrayMetadata | undefined;
  if (meta?.zarr_format !== 3 || meta.node_type !== 'array') {
    throw new TaskError('user', `cube at ${dir}: array '${name}' is missing or not a Zarr v3 array`);
  }
  return meta;
}

interface LoadedCube {
  layout: CubeLayout;
  variable: ArrayMetadata;
  time: ArrayMetadata;
}

async function loadCube(store: AtomicFileStore, dir: string): Promise<LoadedCube> {
  let group: { zarr_format?: unknown; node_type?: unknown; attributes?: Record<string, unknown> } | undefined;
  try {
    group = (await readJson(store, '/zarr.json')) as typeof group;
  } catch (cause) {
    throw new TaskError('user', `cube at ${dir}: unreadable group metadata`, { cause });
  }
  const layout = group?.attributes?.[CUBE_LAYOUT_ATTRIBUTE] as CubeLayout | undefined;
  if (group?.zarr_format !== 3 || group.node_type !== 'group' || !layout || typeof layout.variable !== 'string') {
    throw new TaskError('user', `no cube at ${dir} (expected a Zarr v3 group with a '${CUBE_LAYOUT_ATTRIBUTE}' attribute)`);
  }
  const variable = await readArrayMetadata(store, layout.variable, dir);
  const time = await readArrayMetadata(store, layout.time, dir);
  if (time.shape[0]! < variable.shape[0]!) {
    throw new TaskError('internal', `cube at ${dir}: time coordinate has ${time.shape[0]} steps, the data ${variable.shape[0]}`);
  }
  return { layout, variable, time };
}

async function readTimes(store: AtomicFileStore, cube: LoadedCube, begin: number, end: number): Promise<Float64Array> {
  if (end <= begin) return new Float64Array(0);
  const array = new zarr.Array(store, `/${cube.layout.time}`, cube.time);
  return (await zarr.get(array, [zarr.slice(begin, end)])).data as Float64Array;
}

// ---------------------------------------------------------------------------------------------
// Validation

/** Levels each compressor accepts, inclusive. */
const COMPRESSION_LEVELS: Record<string, [number, number] | undefined> = { gzip: [0, 9], blosc: [0, 9], zstd: [1, 22] };

function validateSpec(spec: CubeSpec): void {
  const fail = (why: string): never => {
    throw new TaskError('user', `invalid cube spec for '${spec.variable}': ${why}`);
  };
  const names = [spec.variable, ...spec.dimensionNames];
  for (const name of names) if (!NAME_PATTERN.test(name)) fail(`'${name}' is not a valid array name`);
  if (new Set(names).size !== names.length) fail('the variable and dimension names must all differ');
  if (spec.dtype !== 'float32' && spec.dtype !== 'int16') fail(`dtype ${String(spec.dtype)} is not float32 or int16`);
  for (const size of spec.spatialShape) if (!Number.isInteger(size) || size < 1) fail(`spatial size ${size} is not a positive integer`);
  for (const size of spec.chunks) if (!Number.isInteger(size) || size < 1) fail(`chunk size ${size} is not a positive integer`);
  if (spec.dtype === 'int16' && !(Number.isInteger(spec.fillValue) && spec.fillValue >= -32768 && spec.fillValue <= 32767)) {
    fail(`fill value ${spec.fillValue} does not fit int16`);
  }
  const { codec, level } = spec.compressor;
  const levels = COMPRESSION_LEVELS[codec];
  if (!levels) fail(`unknown compressor ${String(codec)}`);
  else if (!Number.isInteger(level) || level < levels[0] || level > levels[1]) fail(`${codec} level ${level} is outside ${levels[0]}..${levels[1]}`);
  const spatial = new Map([
    [spec.dimensionNames[1], spec.spatialShape[0]],
    [spec.dimensionNames[2], spec.spatialShape[1]],
  ]);
  const seen = new Set<string>();
  for (const { name, values } of spec.coordinates) {
    const size = spatial.get(name);
    if (size === undefined) fail(`coordinate '${name}' is not a spatial dimension (${[...spatial.keys()].join(', ')})`);
    if (seen.has(name)) fail(`coordinate '${name}' is given twice`);
    seen.add(name);
    if (values.length !== size) fail(`coordinate '${name}' has ${values.length} values, its dimension ${size}`);
  }
}

function validateSteps(steps: CubeTimeStep[], variable: ArrayMetadata, lastTime: number | undefined, dir: string): void {
  const pixels = variable.shape[1]! * variable.shape[2]!;
  const Expected = variable.data_type === 'int16' ? Int16Array : Float32Array;
  let previous = lastTime;
  steps.forEach((step, i) => {
    const fail = (why: string): never => {
      throw new TaskError('user', `append to cube at ${dir}: step ${i} (time ${step.time}) ${why}`);
    };
    if (!(step.data instanceof Expected)) fail(`must be a ${Expected.name} for a ${variable.data_type} cube`);
    if (step.data.length !== pixels) fail(`has ${step.data.length} values, the spatial shape ${variable.shape.slice(1).join(' x ')} needs ${pixels}`);
    if (!Number.isFinite(step.time)) fail('has a non-finite time');
    if (previous !== undefined && !(step.time > previous)) fail(`does not follow the previous time ${previous}`);
    previous = step.time;
  });
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Steps [from, to) as one contiguous [to - from, pixels] slab. */
function concatSteps(steps: CubeTimeStep[], from: number, to: number, pixels: number): Float32Array | Int16Array {
  const first = steps[from]!.data;
  const slab = first instanceof Int16Array ? new Int16Array((to - from) * pixels) : new Float32Array((to - from) * pixels);
  for (let i = from; i < to; i++) slab.set(steps[i]!.data, (i - from) * pixels);
  return slab;
}

/** zarrita's default queue starts every chunk at once; this one keeps `limit` in flight. */
function boundedQueue(limit: number): { add(fn: () => Promise<void>): void; onIdle(): Promise<void[]> } {
  const tasks: (() => Promise<void>)[] = [];
  return {
    add: (fn) => {
      tasks.push(fn);
    },
    onIdle: async () => {
      await forEachLimited(tasks, limit, (task) => task());
      return [];
    },
  };
}

/**
 * A directory store whose writes replace files atomically: a reader or a crash sees the old
 * file or the new one, never a torn one. The data is flushed before the rename so that, after
 * a power loss, a committed `zarr.json` never points at chunks that did not reach the disk.
 */
class AtomicFileStore extends FileSystemStore {
  override async set(key: `/${string}`, value: Uint8Array): Promise<void> {
    const path = join(this.root, key.slice(1));
    const temporary = `${path}.${randomBytes(6).toString('hex')}.partial`;
    await fs.mkdir(dirname(path), { recursive: true });
    try {
      const handle = await fs.open(temporary, 'w');
      try {
        await handle.writeFile(value);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await fs.rename(temporary, path);
    } catch (error) {
      await fs.rm(temporary, { force: true });
      throw error;
    }
  }
}

/**
 * File-system failures (a full disk, a vanished mount: errors with a system `code`) become
 * transient TaskErrors, anything else internal; TaskErrors keep their kind.
 */
async function asTaskError<T>(doing: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof TaskError) throw error;
    const why = error instanceof Error ? error.message : String(error);
    const systemError = typeof (error as { code?: unknown } | null)?.code === 'string';
    throw new TaskError(systemError ? 'transient' : 'internal', `${doing} failed: ${why}`, { cause: error });
  }
}

async function exists(path: string): Promise<boolean> {
  return fs.access(path).then(
    () => true,
    () => false,
  );
}
