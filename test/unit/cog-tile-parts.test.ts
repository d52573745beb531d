import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeUnpublished, resultsDir, writtenFiles } from '../../api/jobs/result-files.js';
import type { ArrayChunk, Chunk } from '../../common/chunk.js';
import { TaskError } from '../../common/errors.js';
import { openRaster } from '../../worker/io/cog-reader.js';
import type { KernelContext, KernelOutput } from '../../worker/kernels/kernel.js';
import { type CogFileArgs, type CogTileArgs, saveCog, saveCogTile, tilePartsDir } from '../../worker/kernels/save-cog.js';
import { requireBinary, tempDir } from '../helpers/processes.js';

const TILE = 512;
const WIDTH = 1000;
const HEIGHT = 700;

/** A smooth field with a NaN hole, over the whole WIDTH x HEIGHT raster. */
function field(): Float32Array {
  const out = new Float32Array(WIDTH * HEIGHT);
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) out[y * WIDTH + x] = x > 100 && x < 140 && y > 600 ? NaN : Math.fround(Math.sin(x / 50) * Math.cos(y / 70));
  }
  return out;
}

function context(dataDir: string): KernelContext {
  return { key: 'k', jobId: 'j', dataDir, signal: { aborted: false } };
}

/** Runs the tile tasks of a WIDTH x HEIGHT file at `path` from one chunk holding the whole field; returns their reports. */
function writeTiles(dataDir: string, path: string, values: Float32Array): Chunk[] {
  const chunk: ArrayChunk = { kind: 'array', dims: ['y', 'x'], shape: [HEIGHT, WIDTH], data: values };
  const reports: Chunk[] = [];
  for (let y = 0; y < HEIGHT; y += TILE) {
    for (let x = 0; x < WIDTH; x += TILE) {
      const args: CogTileArgs = {
        path,
        window: { x, y, width: Math.min(TILE, WIDTH - x), height: Math.min(TILE, HEIGHT - y) },
        tileSize: TILE,
        parts: [{ x: 0, y: 0, width: WIDTH, height: HEIGHT, t0: 0, t1: 1, select: [] }],
        overviews: 1,
        encoding: {},
      };
      reports.push((saveCogTile.run(args as never, [chunk], context(dataDir)) as KernelOutput).chunk);
    }
  }
  return reports;
}

function fileArgs(path: string): CogFileArgs {
  return {
    path,
    layout: { width: WIDTH, height: HEIGHT, dtype: 'float32', tileSize: TILE, transform: [500000, 10, 0, 5000000, 0, -10], epsg: 32632, nodata: null },
    tileCols: Math.ceil(WIDTH / TILE),
    tileRows: Math.ceil(HEIGHT / TILE),
    overviews: 1,
    encoding: {},
    band: 'data',
  };
}

describe('COG tiles written as parts beside their file', () => {
  it('are hidden while the file is assembled, and gone once it is published', async () => {
    const dataDir = tempDir('cog-parts');
    const run = 1;
    const path = join(resultsDir('j-parts', run), 'result.tif');
    const values = field();
    const reports = writeTiles(dataDir, path, values);
    expect(reports.every((r) => r.kind === 'json')).toBe(true);
    expect(readdirSync(join(dataDir, tilePartsDir(path))).sort()).toEqual(['0-0.part', '0-1.part', '1-0.part', '1-1.part']);
    // A partial listing of the running job shows no file yet.
    expect(await writtenFiles(dataDir, 'j-parts', run)).toEqual([]);

    const output = await saveCog.run(fileArgs(path) as never, reports, context(dataDir));
    expect(existsSync(join(dataDir, tilePartsDir(path)))).toBe(false);
    const file = (output.meta as { files: { bytes: number; bands: { statistics: { valid_percent: number } }[] }[] }).files[0]!;
    expect(file.bytes).toBe(statSync(join(dataDir, path)).size);
    expect(file.bands[0]!.statistics.valid_percent).toBeCloseTo((100 * (WIDTH * HEIGHT - 39 * 99)) / (WIDTH * HEIGHT), 6);

    const raster = await openRaster(join(dataDir, path));
    const read = await raster.readWindow({ x: 0, y: 0, width: WIDTH, height: HEIGHT });
    expect(Array.from(read)).toEqual(Array.from(values));
    requireBinary('gdalinfo', 'gdal-bin');
    const info = JSON.parse(execFileSync('gdalinfo', ['-json', join(dataDir, path)], { encoding: 'utf8' })) as { size: number[]; bands: { overviews?: { size: number[] }[] }[] };
    expect(info.size).toEqual([WIDTH, HEIGHT]);
    expect(info.bands[0]!.overviews).toEqual([{ size: [WIDTH / 2, HEIGHT / 2] }]);

    // Run again (its worker was lost before it reported): the published file is reported as it is.
    const again = await saveCog.run(fileArgs(path) as never, reports, context(dataDir));
    expect(again.meta).toEqual(output.meta);
  });

  it('a file with neither its parts nor a published file fails with a clear error', async () => {
    const dataDir = tempDir('cog-parts');
    const path = 'out/result.tif';
    const reports = writeTiles(dataDir, path, field());
    rmSync(join(dataDir, tilePartsDir(path)), { recursive: true });
    await expect(saveCog.run(fileArgs(path) as never, reports, context(dataDir))).rejects.toThrow(TaskError);
    await expect(saveCog.run(fileArgs(path) as never, reports, context(dataDir))).rejects.toThrow(/tiles of out\/result.tif are gone/);
  });

  it('a tile run again replaces its part whole', async () => {
    const dataDir = tempDir('cog-parts');
    const path = 'out/result.tif';
    writeTiles(dataDir, path, field());
    const second = writeTiles(dataDir, path, field().map((v) => v * 2));
    expect(readdirSync(join(dataDir, tilePartsDir(path)))).toHaveLength(4);
    await saveCog.run(fileArgs(path) as never, second, context(dataDir));
    const read = await (await openRaster(join(dataDir, path))).readWindow({ x: 0, y: 0, width: 2, height: 1 });
    expect(Array.from(read)).toEqual([0, Math.fround(2 * Math.fround(Math.sin(1 / 50)))]);
  });
});

describe('the end of a run', () => {
  it('removes what writers left hidden in its folder and keeps the published files', async () => {
    const dataDir = tempDir('unpublished');
    const dir = join(dataDir, resultsDir('j-end', 2));
    mkdirSync(join(dir, '.result.tif.tiles'), { recursive: true });
    writeFileSync(join(dir, '.result.tif.tiles', '0-0.part'), 'x');
    writeFileSync(join(dir, '.result-2.tif.123-abcd.partial'), 'x');
    writeFileSync(join(dir, 'result.tif'), 'published');
    await removeUnpublished(dataDir, 'j-end', 2);
    expect(readdirSync(dir)).toEqual(['result.tif']);
    // A run that wrote nothing has no folder: nothing to do.
    await expect(removeUnpublished(dataDir, 'j-none', 1)).resolves.toBeUndefined();
  });
});
