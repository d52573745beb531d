import { join } from 'node:path';
import type { TypedArray } from '../../common/raster.js';
import { assembleCog, DEFAULT_TILE_SIZE, type CogLayout, type CogLevel } from './cog-writer.js';
import { defaultTileEncoding, downsample2x, encodeTile, extractTile, type TileEncoding } from './cog-tile-encoder.js';

/**
 * Write-speed measurements of the COG writer on NDVI-like float32 data: the per-core encode
 * rate that sizes worker threads, and the deflate settings behind DEFAULT_DEFLATE_LEVEL and
 * DEFAULT_DEFLATE_STRATEGY.
 */

/** A Sentinel-2 10 m granule is 10980x10980 pixels. */
export const BENCH_RASTER_SIZE = 10980;

/** File the benchmark leaves in its output folder (overwritten by the next run). */
export const BENCH_FILE_NAME = 'cog-write-bench.tif';

/** Share of pixels set to NaN as cloud-like discs, about what a cloud-masked scene keeps as holes. */
export const BENCH_HOLE_FRACTION = 0.05;

/**
 * A deterministic NDVI-like field in [-1, 1]: smooth landscape-scale variation, ±0.01 texture
 * (real indices are never smooth to the last mantissa bit) and NaN discs as masked clouds.
 */
export function ndviLikeField(width: number, height: number, seed = 1): Float32Array {
  const field = new Float32Array(width * height);
  let state = seed >>> 0 || 1;
  const random = (): number => {
    // xorshift32: fast, and the same field on every machine.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
  // sin(x/97)cos(y/131) + sin((x+y)/41), separated into per-column and per-row factors.
  const column = (f: (x: number) => number): Float64Array => Float64Array.from({ length: width }, (_, x) => f(x));
  const row = (f: (y: number) => number): Float64Array => Float64Array.from({ length: height }, (_, y) => f(y));
  const a = column((x) => Math.sin(x / 97)), b = row((y) => Math.cos(y / 131));
  const c = column((x) => Math.sin(x / 41)), d = row((y) => Math.cos(y / 41));
  const e = column((x) => Math.cos(x / 41)), f = row((y) => Math.sin(y / 41));
  for (let y = 0; y < height; y++) {
    const by = b[y]!, dy = d[y]!, fy = f[y]!;
    for (let x = 0, i = y * width; x < width; x++, i++) {
      const value = 0.35 + 0.3 * a[x]! * by + 0.2 * (c[x]! * dy + e[x]! * fy) + 0.02 * (random() - 0.5);
      field[i] = value < -1 ? -1 : value > 1 ? 1 : value;
    }
  }
  const meanRadius = Math.max(2, Math.min(width, height) / 60);
  const discs = Math.ceil((BENCH_HOLE_FRACTION * width * height) / (Math.PI * meanRadius * meanRadius));
  for (let n = 0; n < discs; n++) {
    const cx = random() * width, cy = random() * height, r = meanRadius * (0.5 + random());
    for (let y = Math.max(0, Math.ceil(cy - r)); y <= Math.min(height - 1, Math.floor(cy + r)); y++) {
      const half = Math.sqrt(r * r - (y - cy) * (y - cy));
      const from = Math.max(0, Math.ceil(cx - half)), to = Math.min(width - 1, Math.floor(cx + half));
      if (to >= from) field.fill(NaN, y * width + from, y * width + to + 1);
    }
  }
  return field;
}

export interface DeflateSettingResult {
  strategy: 'lz77' | 'rle';
  level: number;
  /** Raw float32 megabytes (10^6 bytes) per CPU-second through encodeTile (predictor + deflate). */
  encodeMBps: number;
  /** Raw bytes / encoded bytes. */
  ratio: number;
}

/** encodeTile on one 512x512 float32 NDVI-like tile with holes, for zlib levels 1, 3, 6 and Z_RLE. */
export function benchDeflateLevels(repetitions = 30): DeflateSettingResult[] {
  const size = DEFAULT_TILE_SIZE;
  const field = ndviLikeField(2 * size, 2 * size);
  const tile = extractTile(field, 2 * size, 2 * size, 0, 0, size, NaN);
  const settings: TileEncoding[] = [
    { compression: 'deflate', predictor: 3, strategy: 'lz77', level: 1 },
    { compression: 'deflate', predictor: 3, strategy: 'lz77', level: 3 },
    { compression: 'deflate', predictor: 3, strategy: 'lz77', level: 6 },
    { compression: 'deflate', predictor: 3, strategy: 'rle', level: 1 },
  ];
  // Warm every path up first so no setting pays for compilation.
  for (const encoding of settings) for (let i = 0; i < 5; i++) encodeTile(tile, size, 'float32', encoding);
  return settings.map((encoding) => {
    let bytes = 0;
    const start = cpuSeconds();
    for (let i = 0; i < repetitions; i++) bytes = encodeTile(tile, size, 'float32', encoding).byteLength;
    const seconds = cpuSeconds() - start;
    return {
      strategy: encoding.strategy ?? 'lz77',
      level: encoding.level,
      encodeMBps: (tile.byteLength * repetitions) / 1e6 / seconds,
      ratio: tile.byteLength / bytes,
    };
  });
}

/**
 * Writes a `size`² float32 NDVI-like COG to `outDir` (as BENCH_FILE_NAME) with the default
 * encoding. `encodeMBps`: raw megabytes (10^6 bytes) of full-resolution pixels per CPU-second of
 * encodeTile, run tile after tile on this thread (tile extraction and overviews excluded). CPU
 * time rather than wall time, so that other processes on a shared machine do not count against
 * the per-core rate. `assembleSeconds`: wall time of assembleCog (header, tile writes, datasync,
 * rename). `bytes`: file size.
 */
export async function benchCogWrite(outDir: string, size = BENCH_RASTER_SIZE): Promise<{ encodeMBps: number; assembleSeconds: number; bytes: number }> {
  const tileSize = DEFAULT_TILE_SIZE;
  const encoding = defaultTileEncoding('float32');
  const layout: CogLayout = { width: size, height: size, dtype: 'float32', tileSize, transform: [600000, 10, 0, 5300040, 0, -10], epsg: 32632, nodata: NaN };
  let level: { data: TypedArray; width: number; height: number } = { data: ndviLikeField(size, size), width: size, height: size };

  const levels: CogLevel[] = [];
  let fullResolutionSeconds = 0;
  for (;;) {
    const columns = Math.ceil(level.width / tileSize);
    const tiles: Uint8Array[] = [];
    let seconds = 0;
    for (let row = 0; row < Math.ceil(level.height / tileSize); row++) {
      for (let column = 0; column < columns; column++) {
        const tile = extractTile(level.data, level.width, level.height, column, row, tileSize, NaN);
        const start = cpuSeconds();
        tiles.push(encodeTile(tile, tileSize, 'float32', encoding));
        seconds += cpuSeconds() - start;
      }
    }
    if (levels.length === 0) fullResolutionSeconds = seconds;
    levels.push({ width: level.width, height: level.height, tiles });
    if (level.width <= tileSize && level.height <= tileSize) break;
    level = downsample2x(level.data, level.width, level.height, 'average', NaN);
  }

  const start = process.hrtime.bigint();
  const { bytes } = await assembleCog(join(outDir, BENCH_FILE_NAME), layout, levels, encoding);
  const assembleSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { encodeMBps: (size * size * 4) / 1e6 / fullResolutionSeconds, assembleSeconds, bytes };
}

/** CPU time of this process (user + system), in seconds. */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
