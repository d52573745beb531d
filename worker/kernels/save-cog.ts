import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
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
    const full = window.width === tileSize && window.height === tileSize;
    const encoded = encodeTile(full ? region : extractTile(region, window.width, window.height, 0, 0, tileSize, NaN), tileSize, 'float32', encoding, { transient: true });
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

export interface CogFileArgs {
  path: string;
  layout: { width: number; height: number; dtype: 'float32'; tileSize: number; transform: GeoTransform; epsg: number; nodata: number | null };
  tileCols: number;
  tileRows: number;
  overviews: number;
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
    const infos = inputs.map((chunk, i) => {
      if (chunk.kind !== 'json') throw new TaskError('internal', `tile ${i} is not a tile report`);
      return chunk.value as TileInfo;
    });
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
    const { layout, tileCols, tileRows } = args;
    const encoding = resolveTileEncoding('float32', args.encoding);
    const levels: CogLevel[] = [{ width: layout.width, height: layout.height, tiles: tiles.map((data, i) => data.subarray(0, infos[i]!.encodedLength)) }];
    let width = layout.width;
    let height = layout.height;
    for (let k = 1; k <= args.overviews; k++) {
      width = Math.floor(width / 2);
      height = Math.floor(height / 2);
      const mosaic = new Float32Array(width * height).fill(NaN);
      const step = layout.tileSize >> k;
      for (let ty = 0; ty < tileRows; ty++) {
        for (let tx = 0; tx < tileCols; tx++) {
          const index = ty * tileCols + tx;
          const piece = infos[index]!.pieces[k - 1];
          if (!piece) continue;
          const data = tiles[index]!;
          // A piece starts wherever the encoded tile ends, not necessarily on a float boundary: copy it out.
          const values = new Float32Array(data.buffer.slice(data.byteOffset + piece.offset, data.byteOffset + piece.offset + piece.width * piece.height * 4));
          const x0 = tx * step;
          const y0 = ty * step;
          for (let r = 0; r < piece.height && y0 + r < height; r++) {
            mosaic.set(values.subarray(r * piece.width, r * piece.width + Math.min(piece.width, width - x0)), (y0 + r) * width + x0);
          }
        }
      }
      if (context.signal.aborted) throw new TaskError('canceled', 'canceled');
      const cols = Math.ceil(width / layout.tileSize);
      const rows = Math.ceil(height / layout.tileSize);
      const encoded: Promise<Uint8Array>[] = [];
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) encoded.push(encodeTileAsync(extractTile(mosaic, width, height, c, r, layout.tileSize, NaN), layout.tileSize, 'float32', encoding));
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
