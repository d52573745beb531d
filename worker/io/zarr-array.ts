/**
 * Reads hyper-rectangles of Zarr arrays (format v2 or v3) in a local directory store.
 *
 * Chunks are fetched and decoded by zarrita (`Array.getChunk`); the copy into the output is
 * done here, one contiguous run at a time with `TypedArray.set`, merging trailing dimensions
 * that a chunk covers whole into a single run. Chunks are fetched a bounded number at a time,
 * so a large read never holds more than that many decoded chunks beside its output.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import FileSystemStore from '@zarrita/storage/fs';
import * as zarr from 'zarrita';
import { forEachLimited } from '../../common/bounded.js';
import { TaskError } from '../../common/errors.js';
import { allocate, type DType, type TypedArray } from '../../common/raster.js';
import { registerZarrCodecs } from './zarr-codecs.js';

/**
 * Chunks fetched and decoded at once by one `read`: 8. On the main thread, enough to keep the
 * zlib thread pool (4 threads) and the disk busy (kernel threads read and decode in turn, see
 * LocalDirectoryStore); each holds one decoded chunk in memory until copied.
 */
export const ZARR_READ_CONCURRENCY = 8;

/**
 * The directory store, reading chunks with blocking calls in kernel threads (as the COG reader
 * does, for the same reason: a thread has nothing else to do meanwhile, and `fs.promises.readFile`
 * costs several trips through libuv's pool per chunk). The main thread keeps the async reads.
 */
class LocalDirectoryStore extends FileSystemStore {
  override async get(key: `/${string}`, options: { signal?: AbortSignal } = {}): Promise<Uint8Array | undefined> {
    if (isMainThread) return super.get(key, options);
    options.signal?.throwIfAborted();
    try {
      return readFileSync(join(this.root, key.slice(1)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }
}

export interface ZarrArrayHandle {
  shape: number[];
  chunks: number[];
  dtype: DType;
  attributes: Record<string, unknown>;
  /** The array's fill value (NaN for float arrays that declare "NaN"); null when it declares none. */
  fillValue: number | null;
  dimensionNames: string[] | null;
  /**
   * Reads a hyper-rectangle [start, stop) per dimension, returns a row-major typed array of the
   * product of (stop-start). Values are raw (no scale_factor/add_offset, no masking): elements
   * of chunks absent from the store read as `fillValue`, or 0 when there is none.
   */
  read(start: number[], stop: number[], signal?: AbortSignal): Promise<TypedArray>;
}

const SUPPORTED_DTYPES: ReadonlySet<string> = new Set<DType>([
  'uint8',
  'int8',
  'uint16',
  'int16',
  'uint32',
  'int32',
  'float32',
  'float64',
]);

type NumericZarrArray = zarr.Array<zarr.DataType, LocalDirectoryStore>;

/** Opens an array in a local directory store (zarr v2 or v3, detected). */
/**
 * How long an opened array is reused (ms). Opening reads and parses its metadata, which tasks of
 * one job would otherwise repeat per chunk; appends change the metadata, so it is not kept long.
 */
export const ZARR_HANDLE_TTL_MS = 5_000;

const opened = new Map<string, { handle: Promise<ZarrArrayHandle>; at: number }>();

/**
 * Opens an array, reusing a handle opened less than ZARR_HANDLE_TTL_MS ago: for the reads of
 * tasks, not for writers, which must see the metadata they just changed.
 */
export function openZarrArrayShared(storeDir: string, arrayPath: string): Promise<ZarrArrayHandle> {
  const key = `${storeDir}\0${arrayPath}`;
  const now = Date.now();
  const cached = opened.get(key);
  if (cached && now - cached.at < ZARR_HANDLE_TTL_MS) return cached.handle;
  const handle = openZarrArray(storeDir, arrayPath);
  opened.set(key, { handle, at: now });
  handle.catch(() => opened.delete(key));
  return handle;
}

/** Opens an array (zarr v2 or v3) of a local directory store. */
export async function openZarrArray(storeDir: string, arrayPath: string): Promise<ZarrArrayHandle> {
  registerZarrCodecs();
  const where = `'${arrayPath}' in ${storeDir}`;
  let array: NumericZarrArray;
  try {
    array = await zarr.open(zarr.root(new LocalDirectoryStore(storeDir)).resolve(arrayPath), { kind: 'array' });
  } catch (error) {
    if (zarr.isZarritaError(error, 'NotFoundError')) {
      const found = error.found === 'group' ? ' (a group is there)' : '';
      throw new TaskError('user', `no Zarr array ${where}${found}`, { cause: error, openeoCode: 'DataUnavailable' });
    }
    if (zarr.isZarritaError(error)) {
      throw new TaskError('user', `invalid Zarr array metadata for ${where}: ${error.message}`, { cause: error, openeoCode: 'DataUnavailable' });
    }
    throw new TaskError(failureKind(error), `cannot open Zarr array ${where}: ${describe(error)}`, { cause: error });
  }
  if (!SUPPORTED_DTYPES.has(array.dtype)) {
    throw new TaskError('user', `Zarr array ${where} has data type ${array.dtype}, which is not supported (only ${[...SUPPORTED_DTYPES].join(', ')})`, {
      openeoCode: 'DataUnavailable',
    });
  }
  return handleFor(array, array.dtype as DType, where);
}

function handleFor(array: NumericZarrArray, dtype: DType, where: string): ZarrArrayHandle {
  const names = array.dimensionNames as (string | null)[] | undefined;
  const fill = array.fillValue;
  return {
    shape: [...array.shape],
    chunks: [...array.chunks],
    dtype,
    attributes: array.attrs,
    fillValue: typeof fill === 'number' ? fill : null,
    dimensionNames: names && names.every((name) => typeof name === 'string') ? (names as string[]) : null,
    read: (start, stop, signal) => readRegion(array, dtype, where, start, stop, signal),
  };
}

async function readRegion(
  array: NumericZarrArray,
  dtype: DType,
  where: string,
  start: number[],
  stop: number[],
  signal: AbortSignal | undefined,
): Promise<TypedArray> {
  const shape = array.shape;
  checkRegion(shape, start, stop, where);
  const outShape = shape.map((_, d) => stop[d]! - start[d]!);
  const out = allocate(dtype, outShape.reduce((a, b) => a * b, 1));
  if (out.length === 0) return out;

  const chunkShape = array.chunks;
  const firstChunk = shape.map((_, d) => Math.floor(start[d]! / chunkShape[d]!));
  const lastChunk = shape.map((_, d) => Math.floor((stop[d]! - 1) / chunkShape[d]!));
  const chunkCoords = gridIndices(firstChunk, lastChunk);

  const readOne = async (coords: number[]): Promise<void> => {
    signal?.throwIfAborted();
    const chunk = await array.getChunk(coords, { signal });
    signal?.throwIfAborted();
    copyChunkRegion(chunk as ChunkView, coords, chunkShape, start, stop, out, outShape);
  };

  try {
    await forEachLimited(chunkCoords, ZARR_READ_CONCURRENCY, readOne);
  } catch (error) {
    throw readFailure(error, where, signal);
  }
  return out;
}

function checkRegion(shape: number[], start: number[], stop: number[], where: string): void {
  if (start.length !== shape.length || stop.length !== shape.length) {
    throw new TaskError('internal', `read of ${where}: start/stop have ${start.length}/${stop.length} dimensions, the array has ${shape.length}`);
  }
  shape.forEach((size, d) => {
    const lo = start[d]!;
    const hi = stop[d]!;
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi > size || lo > hi) {
      throw new TaskError('internal', `read of ${where}: [${lo}, ${hi}) is outside dimension ${d} of size ${size}`);
    }
  });
}

function readFailure(error: unknown, where: string, signal: AbortSignal | undefined): TaskError {
  if (error instanceof TaskError) return error;
  if (signal?.aborted) return new TaskError('canceled', `read of ${where} was canceled`, { cause: error });
  if (zarr.isZarritaError(error, 'CodecPipelineError', 'UnknownCodecError', 'InvalidMetadataError', 'UnsupportedError')) {
    return new TaskError('user', `cannot decode Zarr array ${where}: ${error.message}`, { cause: error, openeoCode: 'DataUnavailable' });
  }
  return new TaskError(failureKind(error), `read of ${where} failed: ${describe(error)}`, { cause: error });
}

/** I/O failures (errors with a system `code`, e.g. EIO, EMFILE) may pass on retry; anything else is a bug. */
function failureKind(error: unknown): 'transient' | 'internal' {
  return typeof (error as { code?: unknown } | null)?.code === 'string' ? 'transient' : 'internal';
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A decoded chunk as zarrita returns it: full chunk shape, strides in elements (C or F order). */
interface ChunkView {
  data: TypedArray;
  shape: number[];
  stride: number[];
}

/** Every integer point of the box [first, last] (inclusive), last dimension fastest. */
function gridIndices(first: number[], last: number[]): number[][] {
  const points: number[][] = [];
  const point = [...first];
  for (;;) {
    points.push([...point]);
    let d = point.length - 1;
    while (d >= 0 && point[d] === last[d]) {
      point[d] = first[d]!;
      d--;
    }
    if (d < 0) return points;
    point[d]!++;
  }
}

/**
 * Copies the part of one chunk that lies in [start, stop) into `out` (row-major, `outShape`).
 * Trailing dimensions the chunk covers whole, in C order on both sides, merge into one run.
 */
function copyChunkRegion(
  chunk: ChunkView,
  coords: number[],
  chunkShape: number[],
  start: number[],
  stop: number[],
  out: TypedArray,
  outShape: number[],
): void {
  const rank = coords.length;
  if (rank === 0) {
    out[0] = chunk.data[0]!;
    return;
  }
  const origin = coords.map((c, d) => c * chunkShape[d]!);
  // Region within the chunk, and where it lands in the output.
  const lo = origin.map((o, d) => Math.max(start[d]!, o) - o);
  const extent = origin.map((o, d) => Math.min(stop[d]!, o + chunkShape[d]!) - o - lo[d]!);
  const outOffset = origin.map((o, d) => o + lo[d]! - start[d]!);
  const outStride = cStrides(outShape);
  const srcStride = chunk.stride;

  // Count trailing dimensions that copy as one contiguous run on both sides.
  let runDims = 0;
  let runLength = 1;
  for (let d = rank - 1; d >= 0; d--) {
    if (srcStride[d] !== runLength || outStride[d] !== runLength) break;
    runDims++;
    runLength *= extent[d]!;
    const whole = lo[d] === 0 && extent[d] === chunk.shape[d] && extent[d] === outShape[d];
    if (!whole) break;
  }
  const outer = rank - runDims;
  const src = chunk.data;

  if (runDims === 0) {
    // Innermost stride is not 1 (a transposed chunk): copy element by element.
    forEachIndex(extent, rank, (index) => {
      let s = 0;
      let o = 0;
      for (let d = 0; d < rank; d++) {
        s += (lo[d]! + index[d]!) * srcStride[d]!;
        o += (outOffset[d]! + index[d]!) * outStride[d]!;
      }
      out[o] = src[s]!;
    });
    return;
  }

  let srcBase = 0;
  let outBase = 0;
  for (let d = outer; d < rank; d++) {
    srcBase += lo[d]! * srcStride[d]!;
    outBase += outOffset[d]! * outStride[d]!;
  }
  forEachIndex(extent, outer, (index) => {
    let s = srcBase;
    let o = outBase;
    for (let d = 0; d < outer; d++) {
      s += (lo[d]! + index[d]!) * srcStride[d]!;
      o += (outOffset[d]! + index[d]!) * outStride[d]!;
    }
    out.set(src.subarray(s, s + runLength), o);
  });
}

/** Calls `visit` for every index of the first `dims` dimensions of `extent` (last fastest). */
function forEachIndex(extent: number[], dims: number, visit: (index: number[]) => void): void {
  const index = new Array<number>(dims).fill(0);
  for (;;) {
    visit(index);
    let d = dims - 1;
    while (d >= 0 && index[d] === extent[d]! - 1) {
      index[d] = 0;
      d--;
    }
    if (d < 0) return;
    index[d]!++;
  }
}

function cStrides(shape: number[]): number[] {
  const strides = new Array<number>(shape.length);
  let step = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = step;
    step *= shape[d]!;
  }
  return strides;
}
