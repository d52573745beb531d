import { mkdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { BytesChunk } from '../../common/chunk.js';
import { TaskError } from '../../common/errors.js';
import type { GeoTransform } from '../../common/raster.js';
import { resolveDataPath } from '../ir/reads.js';
import { downsample2x, encodeTile, encodeTileAsync, extractTile, resolveTileEncoding, type TileEncoding } from '../io/cog-tile-encoder.js';
import { assembleCog, type CogLevel } from '../io/cog-writer.js';
import { arrayInputs } from './cube-kernels.js';
import type { KernelDefinition } from './kernel.js';
import { fileReport, type WrittenFile } from './save-report.js';
import { emptyStatistics, finalStatistics, mergeStatistics, type PartialStatistics, statisticsOf } from './save-statistics.js';
import { cutWindow, type OutputWindow, type PlanePart } from './save-window.js';

/** Media type of result GeoTIFFs, as the STAC best practices name COGs. */
export const COG_MEDIA_TYPE = 'image/tiff; application=geotiff; profile=cloud-optimized';

export interface CogTileArgs {
  window: OutputWindow;
  tileSize: number;
  /** Where each input chunk sits, and which index of each non-spatial dimension this file takes. */
  parts: PlanePart[];
  overviews: number;
  encoding: Partial<TileEncoding>;
}

interface TileInfo {
  encodedLength: number;
  /** Overview contributions: the tile's area downsampled 2^k times, raw float32. */
  pieces: { width: number; height: number; offset: number }[];
  /** Of the tile's pixels inside the image (not its padding). */
  statistics: PartialStatistics;
}

/**
 * One output tile of a GeoTIFF: cut from the chunks under it, compressed here (tiles of one
 * file compress in parallel across workers), plus its small contributions to each overview.
 */
export const saveCogTile: KernelDefinition = {
  placement: 'thread',
  run(args: CogTileArgs, inputs) {
    const { window, tileSize } = args;
    const region = cutWindow(arrayInputs(inputs), args.parts, window);
    const encoding = resolveTileEncoding('float32', args.encoding);
    const encoded = encodeTile(extractTile(region, window.width, window.height, 0, 0, tileSize, NaN), tileSize, 'float32', encoding);
    const pieces: TileInfo['pieces'] = [];
    const raw: Float32Array[] = [];
    let level = { data: region as Float32Array, width: window.width, height: window.height };
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
    const data = new Uint8Array(offset);
    data.set(encoded, 0);
    raw.forEach((piece, i) => data.set(new Uint8Array(piece.buffer, piece.byteOffset, piece.byteLength), pieces[i]!.offset));
    const info: TileInfo = { encodedLength: encoded.byteLength, pieces, statistics: statisticsOf(region) };
    const chunk: BytesChunk = { kind: 'bytes', data, info: info as unknown as Record<string, unknown> };
    return { chunk };
  },
};

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

/** Assembles the compressed tiles and the overviews into one Cloud-Optimized GeoTIFF. */
export const saveCog: KernelDefinition = {
  placement: 'thread',
  async run(args: CogFileArgs, inputs, context) {
    const tiles = inputs.map((chunk, i) => {
      if (chunk.kind !== 'bytes') throw new TaskError('internal', `tile ${i} is not encoded bytes`);
      return chunk;
    });
    const { layout, tileCols, tileRows } = args;
    const encoding = resolveTileEncoding('float32', args.encoding);
    const levels: CogLevel[] = [{ width: layout.width, height: layout.height, tiles: tiles.map((t) => t.data.subarray(0, (t.info as unknown as TileInfo).encodedLength)) }];
    let width = layout.width;
    let height = layout.height;
    for (let k = 1; k <= args.overviews; k++) {
      width = Math.floor(width / 2);
      height = Math.floor(height / 2);
      const mosaic = new Float32Array(width * height).fill(NaN);
      const step = layout.tileSize >> k;
      for (let ty = 0; ty < tileRows; ty++) {
        for (let tx = 0; tx < tileCols; tx++) {
          const tile = tiles[ty * tileCols + tx]!;
          const piece = (tile.info as unknown as TileInfo).pieces[k - 1];
          if (!piece) continue;
          const values = new Float32Array(tile.data.slice(piece.offset, piece.offset + piece.width * piece.height * 4).buffer);
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
    const path = resolveDataPath(context.dataDir, args.path);
    await mkdir(dirname(path), { recursive: true });
    const { bytes } = await assembleCog(path, { ...layout, nodata: layout.nodata ?? NaN }, levels, encoding);
    let statistics = emptyStatistics();
    for (const tile of tiles) statistics = mergeStatistics(statistics, (tile.info as unknown as TileInfo).statistics);
    const file: WrittenFile = {
      name: basename(path),
      path: args.path,
      bytes,
      type: COG_MEDIA_TYPE,
      bands: [{ name: args.band, data_type: 'float32', nodata: 'nan', statistics: finalStatistics(statistics) }],
    };
    return fileReport(file);
  },
};
