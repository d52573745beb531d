import { endianness } from 'node:os';
import { promisify } from 'node:util';
import { constants as zlibConstants, deflate, deflateSync, type ZlibOptions } from 'node:zlib';
import { TaskError } from '../../common/errors.js';
import { allocate, bytesPerElement, dtypeOf, isFloat, viewAs, type DType, type TypedArray } from '../../common/raster.js';

/**
 * Turns raster tiles into the byte blocks of a tiled TIFF: predictor, then deflate. Pure
 * functions of their inputs, so any thread can encode any tile of a file.
 */

/**
 * How deflate searches for repeats:
 * - `lz77`: zlib's normal search, effort set by `level`;
 * - `rle`: zlib's Z_RLE, which only looks for runs of the previous byte. After a predictor the
 *   repeats worth finding are mostly such runs, so it keeps most of the ratio at about twice the
 *   speed of level 1 (see DEFAULT_DEFLATE_STRATEGY). Any inflater reads it; `level` only
 *   matters at 0, which stores.
 */
export type DeflateStrategy = 'lz77' | 'rle';

export interface TileEncoding {
  compression: 'deflate' | 'none';
  /** zlib level 0-9; applies to the `lz77` strategy. */
  level: number;
  predictor: 1 | 2 | 3;
  /** Absent means `lz77`, so that an explicit `level` always means what it says. */
  strategy?: DeflateStrategy;
}

/**
 * zlib level 1, for the `lz77` strategy. encodeTile (predictor 3 included) on a 512x512 float32
 * NDVI-like tile with NaN holes, one core (`benchDeflateLevels` in cog-write-bench.ts):
 * level 1 ~95 MB/s, ratio 1.391; level 3 ~91 MB/s, 1.399; level 6 (GDAL's default) ~77 MB/s,
 * 1.408. The low mantissa bytes are noise no level compresses, so higher levels buy under 1 % of
 * size for up to 25 % more time. None reaches the 170 MB/s a worker core must sustain, hence
 * DEFAULT_DEFLATE_STRATEGY.
 */
export const DEFAULT_DEFLATE_LEVEL = 1;

/**
 * `rle`. On the same tile Z_RLE encodes at ~210 MB/s with ratio 1.398, better than level 1,
 * because after predictor 3 the compressible bytes (sign, exponent, high mantissa) form runs. On
 * integer tiles after predictor 2 deflate alone runs ~2x faster than level 1, for ~9 % larger
 * uint16 reflectance tiles and smaller class-raster tiles.
 */
export const DEFAULT_DEFLATE_STRATEGY: DeflateStrategy = 'rle';

/**
 * zlib memLevel 9 (Node's default is 8): a larger hash table and symbol buffer make level 1
 * 15-30 % faster and Z_RLE ~10 % faster on 1 MiB tiles, for ~200 KiB more memory per stream.
 */
export const DEFLATE_MEM_LEVEL = 9;

/** Whether typed arrays on this machine are little-endian; tiles are written in this order and the TIFF header says so. */
export const HOST_LITTLE_ENDIAN = endianness() === 'LE';

/** The predictor GDAL picks for PREDICTOR=YES: floating point for floats, horizontal differencing for integers. */
export function defaultPredictor(dtype: DType): 2 | 3 {
  return isFloat(dtype) ? 3 : 2;
}

/** The writer's default encoding for `dtype`: deflate, fastest strategy, the dtype's predictor. */
export function defaultTileEncoding(dtype: DType): TileEncoding {
  return { compression: 'deflate', level: DEFAULT_DEFLATE_LEVEL, predictor: defaultPredictor(dtype), strategy: DEFAULT_DEFLATE_STRATEGY };
}

/**
 * Fills in defaults and validates. An explicit `level` without a strategy selects `lz77`, since
 * the level would be ignored by `rle`; uncompressed tiles get no predictor unless one is asked
 * for (and then fail validation: TIFF readers only undo a predictor inside a codec).
 */
export function resolveTileEncoding(dtype: DType, options: Partial<TileEncoding> = {}): TileEncoding {
  const compression = options.compression ?? 'deflate';
  const encoding: TileEncoding = {
    compression,
    level: options.level ?? DEFAULT_DEFLATE_LEVEL,
    predictor: options.predictor ?? (compression === 'none' ? 1 : defaultPredictor(dtype)),
    strategy: options.strategy ?? (options.level === undefined ? DEFAULT_DEFLATE_STRATEGY : 'lz77'),
  };
  validateTileEncoding(dtype, encoding);
  return encoding;
}

export function validateTileEncoding(dtype: DType, encoding: TileEncoding): void {
  const { compression, level, predictor, strategy } = encoding;
  if (compression !== 'deflate' && compression !== 'none') throw invalid(`unknown compression ${String(compression)}`);
  if (!Number.isInteger(level) || level < 0 || level > 9) throw invalid(`deflate level must be an integer 0-9, got ${level}`);
  if (strategy !== undefined && strategy !== 'lz77' && strategy !== 'rle') throw invalid(`unknown deflate strategy ${String(strategy)}`);
  if (predictor !== 1 && predictor !== 2 && predictor !== 3) throw invalid(`predictor must be 1, 2 or 3, got ${String(predictor)}`);
  if (compression === 'none' && predictor !== 1) throw invalid('a predictor needs compression: readers undo it only while decompressing');
  if (predictor === 2 && isFloat(dtype)) throw invalid(`predictor 2 is for integer samples, not ${dtype}; use 3`);
  if (predictor === 3 && !isFloat(dtype)) throw invalid(`predictor 3 is for floating-point samples, not ${dtype}; use 2`);
}

/**
 * The predictor's output in `encodeTile`, reused from tile to tile of a thread: deflate has
 * consumed it when the call returns. One buffer per tile would be most of a thread's allocation.
 */
let predictorScratch = new ArrayBuffer(0);

/**
 * Encodes one tile: `data` holds tileSize*tileSize samples (row-major, already padded); applies
 * the predictor then deflate. `transient`: the caller writes the bytes out before encoding
 * anything else, so they may stay a view of zlib's larger output buffer instead of a copy.
 */
export function encodeTile(data: TypedArray, tileSize: number, dtype: DType, encoding: TileEncoding, options: { transient?: boolean } = {}): Uint8Array {
  if (encoding.compression === 'none') return predictTile(data, tileSize, dtype, encoding);
  if (predictorScratch.byteLength < data.byteLength) predictorScratch = new ArrayBuffer(data.byteLength);
  const predicted = predictTile(data, tileSize, dtype, encoding, predictorScratch);
  const deflated = deflateSync(predicted, zlibOptions(encoding, predicted.byteLength));
  return options.transient ? deflated : exactSize(deflated);
}

const deflateAsync = promisify(deflate);

/**
 * `encodeTile` with deflate on libuv's thread pool: the predictor runs on the calling thread,
 * compression does not, so one thread can keep several cores compressing tiles of one file.
 */
export async function encodeTileAsync(data: TypedArray, tileSize: number, dtype: DType, encoding: TileEncoding): Promise<Uint8Array> {
  const predicted = predictTile(data, tileSize, dtype, encoding);
  if (encoding.compression === 'none') return predicted;
  return exactSize(await deflateAsync(predicted, zlibOptions(encoding, predicted.byteLength)));
}

function zlibOptions(encoding: TileEncoding, inputBytes: number): ZlibOptions {
  const strategy = encoding.strategy === 'rle' ? zlibConstants.Z_RLE : zlibConstants.Z_DEFAULT_STRATEGY;
  // One output chunk as large as the input: Node's 16 KiB default makes the asynchronous path
  // hop between threads ~40 times per tile (1.6 s instead of 1.1 s for a 10980² float32 level).
  const chunkSize = Math.max(zlibConstants.Z_MIN_CHUNK, inputBytes);
  return { level: encoding.level, memLevel: DEFLATE_MEM_LEVEL, strategy, chunkSize };
}

/** zlib returns a view of its (larger) output chunk; copy so that only the tile's bytes stay alive. */
function exactSize(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}

/** The tile's bytes after the predictor, in `target` when given or else a fresh buffer (the input is never modified). */
function predictTile(data: TypedArray, tileSize: number, dtype: DType, encoding: TileEncoding, target?: ArrayBuffer): Uint8Array {
  validateTileEncoding(dtype, encoding);
  if (!Number.isInteger(tileSize) || tileSize <= 0) throw invalid(`tile size must be a positive integer, got ${tileSize}`);
  if (dtypeOf(data) !== dtype) throw invalid(`tile samples are ${dtypeOf(data)}, layout says ${dtype}`);
  if (data.length !== tileSize * tileSize) throw invalid(`a ${tileSize}x${tileSize} tile needs ${tileSize * tileSize} samples, got ${data.length}`);
  switch (encoding.predictor) {
    case 1: {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      if (!target) return bytes.slice();
      const out = new Uint8Array(target, 0, data.byteLength);
      out.set(bytes);
      return out;
    }
    case 2:
      return horizontalDifferencing(data, tileSize, target);
    case 3:
      return floatingPointDifferencing(data, tileSize, target);
  }
}

/** TIFF predictor 2: each sample minus its left neighbour, per row, wrapping in the sample type. */
function horizontalDifferencing(data: TypedArray, width: number, target?: ArrayBuffer): Uint8Array {
  const out = target ? viewAs(dtypeOf(data), new Uint8Array(target, 0, data.byteLength)) : allocate(dtypeOf(data), data.length);
  for (let rowStart = 0; rowStart < data.length; rowStart += width) {
    out[rowStart] = data[rowStart]!;
    // Typed-array stores reduce the difference modulo 2^bits, which is the wrap-around the spec asks for.
    for (let i = rowStart + 1, end = rowStart + width; i < end; i++) out[i] = data[i]! - data[i - 1]!;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * TIFF predictor 3 (Adobe Technical Note 3, as libtiff implements it): per row, the bytes of all
 * samples are regrouped most significant byte first (row of MSBs, then next bytes, ...), then each
 * byte minus the byte before it across the whole regrouped row.
 */
function floatingPointDifferencing(data: TypedArray, width: number, target?: ArrayBuffer): Uint8Array {
  if (data instanceof Float32Array && HOST_LITTLE_ENDIAN && width % 4 === 0) return floatingPointDifferencingFloat32(data, width, target);
  const bps = bytesPerElement(dtypeOf(data));
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = target ? new Uint8Array(target, 0, data.byteLength) : new Uint8Array(data.byteLength);
  const rowBytes = width * bps;
  // Plane p holds byte `sourceByte(p)` of every sample: the most significant byte first.
  const sourceByte = (plane: number): number => (HOST_LITTLE_ENDIAN ? bps - 1 - plane : plane);
  for (let rowStart = 0; rowStart < out.length; rowStart += rowBytes) {
    for (let plane = 0; plane < bps; plane++) {
      const from = rowStart + sourceByte(plane);
      // A plane continues the previous one: its first byte is differenced against that plane's last.
      let previous = plane === 0 ? 0 : bytes[rowStart + (width - 1) * bps + sourceByte(plane - 1)]!;
      const to = rowStart + plane * width;
      for (let i = 0; i < width; i++) {
        const value = bytes[from + i * bps]!;
        out[to + i] = value - previous;
        previous = value;
      }
    }
  }
  return out;
}

/**
 * The float32 case of predictor 3, four samples at a time: reads each sample once as a word and
 * writes four plane bytes per word store, ~3x faster than the byte loop (2 GB/s against 0.7).
 */
function floatingPointDifferencingFloat32(data: Float32Array, width: number, target?: ArrayBuffer): Uint8Array {
  const words = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = target ? new Uint32Array(target, 0, data.length) : new Uint32Array(data.length);
  const quarter = width >>> 2;
  for (let row = 0; row < data.length; row += width) {
    // Word offsets of the four planes of this row; p3 holds byte 3 (the most significant) and comes first.
    const p3 = row, p2 = p3 + quarter, p1 = p2 + quarter, p0 = p1 + quarter;
    const last = words[row + width - 1]!;
    let prev3 = 0, prev2 = last >>> 24, prev1 = (last >>> 16) & 255, prev0 = (last >>> 8) & 255;
    for (let q = 0; q < quarter; q++) {
      const k = row + 4 * q;
      const v0 = words[k]!, v1 = words[k + 1]!, v2 = words[k + 2]!, v3 = words[k + 3]!;
      let a0 = v0 >>> 24, a1 = v1 >>> 24, a2 = v2 >>> 24, a3 = v3 >>> 24;
      out[p3 + q] = ((a0 - prev3) & 255) | (((a1 - a0) & 255) << 8) | (((a2 - a1) & 255) << 16) | ((a3 - a2) << 24);
      prev3 = a3;
      a0 = (v0 >>> 16) & 255; a1 = (v1 >>> 16) & 255; a2 = (v2 >>> 16) & 255; a3 = (v3 >>> 16) & 255;
      out[p2 + q] = ((a0 - prev2) & 255) | (((a1 - a0) & 255) << 8) | (((a2 - a1) & 255) << 16) | ((a3 - a2) << 24);
      prev2 = a3;
      a0 = (v0 >>> 8) & 255; a1 = (v1 >>> 8) & 255; a2 = (v2 >>> 8) & 255; a3 = (v3 >>> 8) & 255;
      out[p1 + q] = ((a0 - prev1) & 255) | (((a1 - a0) & 255) << 8) | (((a2 - a1) & 255) << 16) | ((a3 - a2) << 24);
      prev1 = a3;
      a0 = v0 & 255; a1 = v1 & 255; a2 = v2 & 255; a3 = v3 & 255;
      out[p0 + q] = ((a0 - prev0) & 255) | (((a1 - a0) & 255) << 8) | (((a2 - a1) & 255) << 16) | ((a3 - a2) << 24);
      prev0 = a3;
    }
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Copies a window of a larger raster into a padded tile buffer (fill for the padding). */
export function extractTile(
  source: TypedArray,
  sourceWidth: number,
  sourceHeight: number,
  tileCol: number,
  tileRow: number,
  tileSize: number,
  fill: number,
): TypedArray {
  if (source.length !== sourceWidth * sourceHeight) throw invalid(`raster of ${sourceWidth}x${sourceHeight} needs ${sourceWidth * sourceHeight} samples, got ${source.length}`);
  const x0 = tileCol * tileSize;
  const y0 = tileRow * tileSize;
  if (!Number.isInteger(x0) || !Number.isInteger(y0) || x0 < 0 || y0 < 0 || x0 >= sourceWidth || y0 >= sourceHeight) {
    throw invalid(`tile (${tileCol}, ${tileRow}) of size ${tileSize} lies outside a ${sourceWidth}x${sourceHeight} raster`);
  }
  const tile = allocate(dtypeOf(source), tileSize * tileSize);
  const width = Math.min(tileSize, sourceWidth - x0);
  const height = Math.min(tileSize, sourceHeight - y0);
  const pad = !Object.is(fill, 0);
  for (let row = 0; row < height; row++) {
    const from = (y0 + row) * sourceWidth + x0;
    tile.set(source.subarray(from, from + width), row * tileSize);
    if (pad && width < tileSize) tile.fill(fill, row * tileSize + width, (row + 1) * tileSize);
  }
  if (pad && height < tileSize) tile.fill(fill, height * tileSize);
  return tile;
}

/**
 * 2x2 downsampling for overviews. `average`: mean of the valid samples of each block (NaN and
 * `nodata` are not valid; a block with none is nodata, or NaN without one); integer means round
 * half up. `nearest`: the block's top-left sample, for class rasters. Output is
 * floor(w/2) x floor(h/2) as GDAL's COG driver sizes overviews (a trailing odd row or column is
 * dropped), but never less than 1, so a 1-pixel-wide raster keeps its column.
 */
export function downsample2x(
  source: TypedArray,
  width: number,
  height: number,
  method: 'average' | 'nearest',
  nodata: number | null,
): { data: TypedArray; width: number; height: number } {
  if (source.length !== width * height || width < 1 || height < 1) throw invalid(`raster of ${width}x${height} needs ${width * height} samples, got ${source.length}`);
  if (method !== 'average' && method !== 'nearest') throw invalid(`unknown overview method ${String(method)}`);
  const outWidth = Math.max(1, Math.floor(width / 2));
  const outHeight = Math.max(1, Math.floor(height / 2));
  const dtype = dtypeOf(source);
  const out = allocate(dtype, outWidth * outHeight);
  // A 1-sample-wide dimension pairs each sample with itself, which leaves means unchanged.
  const dx = width > 1 ? 1 : 0;
  const dy = height > 1 ? width : 0;
  if (method === 'nearest') {
    for (let y = 0; y < outHeight; y++) {
      for (let x = 0, i = 2 * y * width, o = y * outWidth; x < outWidth; x++, i += 2, o++) out[o] = source[i]!;
    }
    return { data: out, width: outWidth, height: outHeight };
  }
  const float = isFloat(dtype);
  // Samples of a float32 raster are compared as float32, which a nodata like 0.1 is not.
  const missing = nodata === null ? null : dtype === 'float32' ? Math.fround(nodata) : nodata;
  const empty = missing ?? NaN;
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0, i = 2 * y * width, o = y * outWidth; x < outWidth; x++, i += 2, o++) {
      const a = source[i]!, b = source[i + dx]!, c = source[i + dy]!, d = source[i + dy + dx]!;
      if (missing === null && !float) {
        out[o] = Math.floor((a + b + c + d) / 4 + 0.5);
        continue;
      }
      let sum = 0;
      let count = 0;
      // `v === v` is false only for NaN.
      if (a === a && a !== missing) { sum += a; count++; }
      if (b === b && b !== missing) { sum += b; count++; }
      if (c === c && c !== missing) { sum += c; count++; }
      if (d === d && d !== missing) { sum += d; count++; }
      out[o] = count === 0 ? empty : float ? sum / count : Math.floor(sum / count + 0.5);
    }
  }
  return { data: out, width: outWidth, height: outHeight };
}

function invalid(message: string): TaskError {
  return new TaskError('internal', `COG encoding: ${message}`);
}
