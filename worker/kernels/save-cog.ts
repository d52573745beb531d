import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describeError, TaskError } from '../../common/errors.js';
import type { GeoTransform } from '../../common/raster.js';
import { resolveDataPath } from '../ir/reads.js';
import { TEMPORARY_PREFIX, temporaryPath } from '../io/atomic-writer.js';
import { downsample2x, encodeTile, encodeTileAsync, extractTile, resolveTileEncoding, type TileEncoding } from '../io/cog-tile-encoder.js';
import { assembleCog, type CogLevel } from '../io/cog-writer.js';
import { arrayInputs } from './cube-kernels.js';
import type { KernelDefinition, KernelOutput } from './kernel.js';
import { fileReport } from './save-report.js';
import { emptyStatistics, finalStatistics, mergeStatistics, type PartialStatistics, statisticsOf } from './save-statistics.js';
import { cutWindow, type OutputWindow, type PlanePart } from './save-window.js';

/** Media type of result GeoTIFFs, as the STAC best practices name COGs. */
export const COG_MEDIA_TYPE = 'image/tiff; application=geotiff; profile=cloud-optimized';

export interface CogTileArgs {
  /** The file this tile belongs to (relative to DATA_DIR); its tiles are kept beside it until it is assembled. */
  path: string;
  window: OutputWindow;
  tileSize: number;
  /** Where each input chunk sits, and which index of each non-spatial dimension this file takes. */
  parts: PlanePart[];
  overviews: number;
  encoding: Partial<TileEncoding>;
}

/** What a tile task reports (its bytes are in its part file). */
interface TileInfo {
  /** The part file, relative to DATA_DIR: the encoded tile, then the overview pieces. */
  part: string;
  encodedLength: number;
  /** Overview contributions: the tile's area downsampled 2^k times, raw float32. */
  pieces: { width: number; height: number; offset: number }[];
  /** Of the tile's pixels inside the image (not its padding). */
  statistics: PartialStatistics;
}

/**
 * Folder of a file's encoded tiles until the file is assembled: hidden (a dot name), so that a
 * listing of partial results never shows it, and beside the file, on the volume every worker
 * writes results to.
 */
export function tilePartsDir(path: string): string {
  return join(dirname(path), `${TEMPORARY_PREFIX}${basename(path)}.tiles`);
}

/**
 * One output tile of a GeoTIFF: cut from the chunks under it, compressed here (tiles of one
 * file compress in parallel across workers), plus its small contributions to each overview.
 * The bytes go to a part file on the results volume rather than into the chunk: the task that
 * assembles the file then reads every tile from the volume instead of fetching most of them
 * from peers, which costs both workers CPU and comes at the very end of the job.
 */
export const saveCogTile: KernelDefinition = {
  placement: 'thread',
  run(args: CogTileArgs, inputs, context) {
    const { window, tileSize } = args;
    const region = cutWindow(arrayInputs(inputs), args.parts, window);
    const encoding = resolveTileEncoding('float32', args.encoding);
    const encoded = encodeWindowTile(region, window.width, window.height, tileSize, encoding);
    const pieces: TileInfo['pieces'] = [];
    const raw: Float32Array[] = [];
    let level = { data: region, width: window.width, height: window.height };
    let offset = encoded.byteLength;
    for (let k = 1; k <= args.overviews; k++) {
      const width = Math.floor(level.width / 2);
      const height = Math.floor(level.height / 2);
      if (width === 0 || height === 0) break;
      const down = downsample2x(level.data, level.width, level.height, 'average', null);
      level = { data: down.data as Float32Array, width, height };
      pieces.push({ width, height, offset });
      raw.push(level.data);
      offset += level.data.byteLength;
    }
    const part = join(tilePartsDir(args.path), `${window.y / tileSize}-${window.x / tileSize}.part`);
    writePart(resolveDataPath(context.dataDir, part), [encoded, ...raw.map((piece) => new Uint8Array(piece.buffer, piece.byteOffset, piece.byteLength))]);
    const info: TileInfo = { part, encodedLength: encoded.byteLength, pieces, statistics: statisticsOf(region) };
    return { chunk: { kind: 'json', value: info } };
  },
};

/** Encodes a `width` x `height` block as one tile, padded with NaN when it is an edge tile; the bytes are written out at once. */
function encodeWindowTile(data: Float32Array, width: number, height: number, tileSize: number, encoding: TileEncoding): Uint8Array {
  const full = width === tileSize && height === tileSize;
  return encodeTile(full ? data : extractTile(data, width, height, 0, 0, tileSize, NaN), tileSize, 'float32', encoding, { transient: true });
}

/**
 * Writes a part under a temporary name and renames it: a task run again (its worker was lost)
 * replaces the part whole. Not synced: a part lives for the length of its job, and a crash of
 * the machine restarts the job.
 */
function writePart(path: string, buffers: Uint8Array[]): void {
  const temporary = temporaryPath(path);
  try {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(temporary, 'wx');
    try {
      for (const buffer of buffers) {
        // A regular file takes all of a write unless the disk is full; go on after a short one, which then fails.
        for (let done = 0; done < buffer.byteLength; ) done += writeSync(fd, buffer, done);
      }
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw new TaskError('internal', `cannot write tile ${path}: ${describeError(error)}`, { cause: error, openeoCode: 'StorageFailure' });
  }
}

/** A rectangle of one level of a file (pixels of that level). */
interface LevelRegion {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Region `region` of overview level `k` (1 = half resolution) built from the tiles' pieces:
 * tile (tx, ty) contributes the block at (tx, ty) * tileSize / 2^k. `pieceOf` gives a tile's
 * level-k piece as floats, or null for a tile outside the region. Pixels no piece covers are NaN.
 */
function mosaic(infos: TileInfo[], tileCols: number, tileSize: number, k: number, region: LevelRegion, pieceOf: (index: number, piece: TileInfo['pieces'][number]) => Float32Array): Float32Array {
  const out = new Float32Array(region.width * region.height).fill(NaN);
  const step = tileSize >> k;
  infos.forEach((info, index) => {
    const piece = info.pieces[k - 1];
    if (!piece) return;
    const x0 = (index % tileCols) * step;
    const y0 = Math.floor(index / tileCols) * step;
    const left = Math.max(x0, region.x);
    const right = Math.min(x0 + piece.width, region.x + region.width);
    const top = Math.max(y0, region.y);
    const bottom = Math.min(y0 + piece.height, region.y + region.height);
    if (left >= right || top >= bottom) return;
    const values = pieceOf(index, piece);
    for (let y = top; y < bottom; y++) {
      const from = (y - y0) * piece.width + (left - x0);
      out.set(values.subarray(from, from + (right - left)), (y - region.y) * region.width + (left - region.x));
    }
  });
  return out;
}

/** Reads a piece of a part file: only its bytes, into floats. */
function readPiece(path: string, piece: TileInfo['pieces'][number]): Float32Array {
  const values = new Float32Array(piece.width * piece.height);
  const bytes = new Uint8Array(values.buffer);
  try {
    const fd = openSync(path, 'r');
    try {
      for (let done = 0; done < bytes.byteLength; ) {
        const read = readSync(fd, bytes, done, bytes.byteLength - done, piece.offset + done);
        if (read === 0) throw new Error(`the part ends after ${piece.offset + done} bytes`);
        done += read;
      }
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw new TaskError('internal', `cannot read tile ${path}: ${describeError(error)}`, { cause: error, openeoCode: 'StorageFailure' });
  }
  return values;
}

/** What an overview tile task reports (its bytes are in its part file). */
interface OverviewTileInfo {
  part: string;
  encodedLength: number;
}

export interface CogOverviewTileArgs {
  path: string;
  tileSize: number;
  /** Tiles across the file at full resolution: the inputs are those full-resolution tiles in row-major order. */
  tileCols: number;
  /** Full-resolution tiles under this overview tile, in the file's row-major order. */
  sources: number[];
  /** Size of level 1. */
  levelWidth: number;
  levelHeight: number;
  col: number;
  row: number;
  encoding: Partial<TileEncoding>;
}

/**
 * One tile of the first overview, from the half-resolution pieces of the (up to) four tiles
 * under it: encoded during the job like the full-resolution tiles, so the file's assembly only
 * has the small levels left to encode.
 */
export const saveCogOverviewTile: KernelDefinition = {
  placement: 'thread',
  run(args: CogOverviewTileArgs, inputs, context) {
    const { tileSize, col, row } = args;
    const infos: TileInfo[] = [];
    inputs.forEach((chunk, i) => {
      if (chunk.kind !== 'json') throw new TaskError('internal', `tile ${i} is not a tile report`);
      infos[args.sources[i]!] = chunk.value as TileInfo;
    });
    const region = { x: col * tileSize, y: row * tileSize, width: Math.min(tileSize, args.levelWidth - col * tileSize), height: Math.min(tileSize, args.levelHeight - row * tileSize) };
    // Sparse: only the sources are set; `forEach` in mosaic skips the holes.
    const data = mosaic(infos, args.tileCols, tileSize, 1, region, (index, piece) => readPiece(resolveDataPath(context.dataDir, infos[index]!.part), piece));
    const encoded = encodeWindowTile(data, region.width, region.height, tileSize, resolveTileEncoding('float32', args.encoding));
    const part = join(tilePartsDir(args.path), `o1-${row}-${col}.part`);
    writePart(resolveDataPath(context.dataDir, part), [encoded]);
    const info: OverviewTileInfo = { part, encodedLength: encoded.byteLength };
    return { chunk: { kind: 'json', value: info } };
  },
};

export interface CogFileArgs {
  path: string;
  layout: { width: number; height: number; dtype: 'float32'; tileSize: number; transform: GeoTransform; epsg: number; nodata: number | null };
  tileCols: number;
  tileRows: number;
  overviews: number;
  /** Tiles of the first overview that come encoded, as inputs after the full-resolution tiles (0: none, the file encodes that level too). */
  overviewTiles: number;
  encoding: Partial<TileEncoding>;
  /** What the file holds (a band label, or `data`), for its STAC band entry. */
  band: string;
}

/**
 * Assembles the compressed tiles and the overviews into one Cloud-Optimized GeoTIFF, then removes
 * the tiles' parts. Run again after its file was published (its worker was lost before it could
 * report), it finds the parts gone and reports the file as it is.
 */
export const saveCog: KernelDefinition = {
  placement: 'thread',
  async run(args: CogFileArgs, inputs, context) {
    const reports = inputs.map((chunk, i) => {
      if (chunk.kind !== 'json') throw new TaskError('internal', `tile ${i} is not a tile report`);
      return chunk.value;
    });
    const infos = reports.slice(0, reports.length - args.overviewTiles) as TileInfo[];
    const overviewInfos = reports.slice(reports.length - args.overviewTiles) as OverviewTileInfo[];
    const path = resolveDataPath(context.dataDir, args.path);
    const partsDir = resolveDataPath(context.dataDir, tilePartsDir(args.path));
    let statistics = emptyStatistics();
    for (const info of infos) statistics = mergeStatistics(statistics, info.statistics);
    const report = (bytes: number): KernelOutput =>
      fileReport({
        name: basename(path),
        path: args.path,
        bytes,
        type: COG_MEDIA_TYPE,
        bands: [{ name: args.band, data_type: 'float32', nodata: 'nan', statistics: finalStatistics(statistics) }],
      });
    if (!existsSync(partsDir)) {
      const published = statSync(path, { throwIfNoEntry: false });
      if (published?.isFile()) return report(published.size);
      throw new TaskError('internal', `the tiles of ${args.path} are gone (${tilePartsDir(args.path)}) and the file was not written`);
    }
    const tiles = infos.map((info) => readPart(resolveDataPath(context.dataDir, info.part)));
    const { layout, tileCols } = args;
    const encoding = resolveTileEncoding('float32', args.encoding);
    const levels: CogLevel[] = [{ width: layout.width, height: layout.height, tiles: tiles.map((data, i) => data.subarray(0, infos[i]!.encodedLength)) }];
    let width = layout.width;
    let height = layout.height;
    for (let k = 1; k <= args.overviews; k++) {
      width = Math.floor(width / 2);
      height = Math.floor(height / 2);
      if (k === 1 && overviewInfos.length > 0) {
        levels.push({ width, height, tiles: overviewInfos.map((info) => readPart(resolveDataPath(context.dataDir, info.part)).subarray(0, info.encodedLength)) });
        continue;
      }
      const level = mosaic(infos, tileCols, layout.tileSize, k, { x: 0, y: 0, width, height }, (index, piece) => {
        const data = tiles[index]!;
        // A piece starts wherever the encoded tile ends, not necessarily on a float boundary: copy it out.
        return new Float32Array(data.buffer.slice(data.byteOffset + piece.offset, data.byteOffset + piece.offset + piece.width * piece.height * 4));
      });
      if (context.signal.aborted) throw new TaskError('canceled', 'canceled');
      const cols = Math.ceil(width / layout.tileSize);
      const rows = Math.ceil(height / layout.tileSize);
      const encoded: Promise<Uint8Array>[] = [];
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) encoded.push(encodeTileAsync(extractTile(level, width, height, c, r, layout.tileSize, NaN), layout.tileSize, 'float32', encoding));
      }
      levels.push({ width, height, tiles: await Promise.all(encoded) });
    }
    await mkdir(dirname(path), { recursive: true });
    const { bytes } = await assembleCog(path, { ...layout, nodata: layout.nodata ?? NaN }, levels, encoding);
    // Only once the file is published: until then a new attempt needs the parts.
    await rm(partsDir, { recursive: true, force: true });
    return report(bytes);
  },
};

function readPart(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new TaskError('internal', `cannot read tile ${path}: ${describeError(error)}`, { cause: error, openeoCode: 'StorageFailure' });
  }
}
