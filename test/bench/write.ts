import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_RASTER_SIZE, benchCogWrite, benchDeflateLevels } from '../../worker/io/cog-write-bench.js';
import { type BenchResult, result } from './result.js';

/**
 * Writing results: a 10980² float32 NDVI-like raster (a Sentinel-2 granule at 10 m) written as
 * a COG with the default encoding (predictor 3, run-length DEFLATE), in MB of raw pixels per
 * CPU-second, i.e. per core: tiles are compressed on every worker thread at this rate.
 */

/** GDAL's default DEFLATE writer on one core of this machine (MB/s): the reference stack's rate. */
export const GDAL_DEFLATE_MB_PER_SECOND = 85;

/** Twice GDAL's rate per core (MB/s): writing must not be what a job waits for. */
export const TARGET_WRITE_MB_PER_SECOND = 2 * GDAL_DEFLATE_MB_PER_SECOND;

export async function benchWrite(): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-write-'));
  try {
    const { encodeMBps, assembleSeconds, bytes } = await benchCogWrite(dir);
    const fileMB = bytes / 1e6;
    const results: BenchResult[] = [
      result('COG write: tile encoding per core', encodeMBps, 'MB/s', TARGET_WRITE_MB_PER_SECOND, true, `${BENCH_RASTER_SIZE}² float32, ${(encodeMBps / GDAL_DEFLATE_MB_PER_SECOND).toFixed(2)}x GDAL's ${GDAL_DEFLATE_MB_PER_SECOND} MB/s`),
      // The one serial step of a write: it must keep up with tiles encoded on a core, or it becomes what jobs wait for.
      result('COG write: assembly (headers, tiles, fsync, rename)', fileMB / assembleSeconds, 'MB/s', TARGET_WRITE_MB_PER_SECOND, true, `${fileMB.toFixed(0)} MB file with overviews in ${assembleSeconds.toFixed(2)} s`),
    ];
    // What `deflate_level` costs for files under 1 % smaller: measured against GDAL's writer, not the target.
    for (const setting of benchDeflateLevels()) {
      if (setting.strategy === 'rle') continue;
      results.push(result(`tile encode with deflate_level=${setting.level}, per core`, setting.encodeMBps, 'MB/s', GDAL_DEFLATE_MB_PER_SECOND, true, `ratio ${setting.ratio.toFixed(3)}`));
    }
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
