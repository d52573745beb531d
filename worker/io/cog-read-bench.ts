/**
 * Micro benchmark of the COG reader: how fast `openRaster(...).readWindow` delivers the tiles
 * of a DEFLATE COG, against the bare native inflate of the same compressed tile bytes. The
 * inflate rate is the ceiling; the difference is what file reads, predictor decoding and
 * copying cost.
 */
import { readFile } from 'node:fs/promises';
import { inflateSync } from 'node:zlib';
import { fromFile } from 'geotiff';
import { TaskError } from '../../common/errors.js';
import { bytesPerElement } from '../../common/raster.js';
import { openRaster, type RasterSource } from './cog-reader.js';
import { DEFLATE_COMPRESSION_CODES, expectedBlockBytes } from './native-deflate.js';

/** Timed rounds last at least this long in all: 1 s, so timer resolution and GC pauses average out. */
export const BENCH_MIN_SECONDS = 1;

/** Timed rounds run at least this often: 3, after one untimed warm-up round that lets V8 optimise. */
export const BENCH_MIN_ROUNDS = 3;

export interface CogReadBenchResult {
  /** MB (10^6 bytes) of decoded tiles per second through `readWindow`, one window per tile. */
  decodedMBps: number;
  /** MB of decoded tiles per second from `inflateSync` alone on the same compressed bytes. */
  inflateMBps: number;
  /** Tiles per round, over every level and band. */
  tiles: number;
  /** Compressed bytes per round. */
  compressedBytes: number;
  /**
   * Decoded bytes per round: whole tiles, padding included, the same count for both rates, so
   * their ratio is a ratio of times. Edge windows deliver fewer pixels than their padded tile.
   */
  decodedBytes: number;
}

interface TileRead {
  level: number;
  band: number;
  window: { x: number; y: number; width: number; height: number };
}

interface CompressedTiles {
  chunks: Uint8Array[];
  /** The size of each tile once inflated. */
  blockBytes: number[];
}

/** Every tile of every level and band, straight from TileOffsets and TileByteCounts. */
async function compressedTilesOf(path: string): Promise<CompressedTiles> {
  const file = await readFile(path);
  const tiff = await fromFile(path);
  try {
    const chunks: Uint8Array[] = [];
    const blockBytes: number[] = [];
    const count = await tiff.getImageCount();
    for (let index = 0; index < count; index++) {
      const image = await tiff.getImage(index);
      const directory = image.fileDirectory;
      const subfileType = Number(await directory.loadValue('NewSubfileType')) || 0;
      if (subfileType & 4) continue; // masks are not read through openRaster
      const compression = Number(await directory.loadValue('Compression'));
      if (!(DEFLATE_COMPRESSION_CODES as readonly number[]).includes(compression)) {
        throw new TaskError('user', `${path}: image ${index} uses TIFF compression ${compression}, not DEFLATE`);
      }
      if (!image.isTiled) throw new TaskError('user', `${path}: image ${index} is stripped, not tiled`);
      const offsets = Array.from((await directory.loadValue('TileOffsets')) as ArrayLike<number>, Number);
      const counts = Array.from((await directory.loadValue('TileByteCounts')) as ArrayLike<number>, Number);
      const tileBytes = expectedBlockBytes({
        tileWidth: image.getTileWidth(),
        tileHeight: image.getTileHeight(),
        planarConfiguration: image.planarConfiguration,
        bitsPerSample: (await directory.loadValue('BitsPerSample')) as number[],
        predictor: 1,
      });
      offsets.forEach((offset, tile) => {
        chunks.push(file.subarray(offset, offset + counts[tile]!));
        blockBytes.push(tileBytes);
      });
    }
    return { chunks, blockBytes };
  } finally {
    await tiff.close();
  }
}

function tileReadsOf(raster: RasterSource, planarSeparate: boolean): TileRead[] {
  const reads: TileRead[] = [];
  const levels = [{ width: raster.width, height: raster.height }, ...raster.overviews];
  levels.forEach(({ width, height }, level) => {
    for (let band = 0; band < (planarSeparate ? raster.bands : 1); band++) {
      for (let y = 0; y < height; y += raster.tileHeight) {
        for (let x = 0; x < width; x += raster.tileWidth) {
          reads.push({ level, band, window: { x, y, width: Math.min(raster.tileWidth, width - x), height: Math.min(raster.tileHeight, height - y) } });
        }
      }
    }
  });
  return reads;
}

/** Seconds per round of `round`, after a warm-up, over at least BENCH_MIN_SECONDS and BENCH_MIN_ROUNDS. */
async function secondsPerRound(round: () => Promise<void> | void): Promise<number> {
  await round();
  let rounds = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (rounds < BENCH_MIN_ROUNDS || elapsed < BENCH_MIN_SECONDS) {
    await round();
    rounds++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  return elapsed / rounds;
}

/**
 * Reads every tile of the COG at `path` through `openRaster` and reports decoded MB/s, next to
 * the rate of native zlib inflate on the same compressed tile bytes.
 */
export async function benchCogRead(path: string): Promise<CogReadBenchResult> {
  const { chunks, blockBytes } = await compressedTilesOf(path);
  const decodedBytes = blockBytes.reduce((sum, bytes) => sum + bytes, 0);
  const compressedBytes = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  const inflateSeconds = await secondsPerRound(() => {
    chunks.forEach((chunk, tile) => inflateSync(chunk, { chunkSize: Math.max(64, blockBytes[tile]!) }));
  });

  const raster = await openRaster(path);
  try {
    const planarSeparate = chunks.length > tileReadsOf(raster, false).length;
    const reads = tileReadsOf(raster, planarSeparate);
    if (reads.length !== chunks.length) {
      throw new TaskError('internal', `${path}: ${reads.length} tile windows but ${chunks.length} tiles in the file`);
    }
    let delivered = 0;
    const readSeconds = await secondsPerRound(async () => {
      delivered = 0;
      for (const { level, band, window } of reads) {
        const pixels = await raster.readWindow(window, { level, band });
        delivered += pixels.length * bytesPerElement(raster.dtype);
      }
    });
    if (delivered === 0) throw new TaskError('internal', `${path}: the benchmark read no pixels`);
    return {
      decodedMBps: decodedBytes / 1e6 / readSeconds,
      inflateMBps: decodedBytes / 1e6 / inflateSeconds,
      tiles: chunks.length,
      compressedBytes,
      decodedBytes,
    };
  } finally {
    await raster.close();
  }
}
