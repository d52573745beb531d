import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeUnpublished, resultsDir, writtenFiles } from '../../api/jobs/result-files.js';
import type { ArrayChunk, Chunk } from '../../common/chunk.js';
import { TaskError } from '../../common/errors.js';
import { openRaster } from '../../worker/io/cog-reader.js';
import type { KernelContext, KernelOutput } from '../../worker/kernels/kernel.js';
import { type CogFileArgs, type CogOverviewTileArgs, type CogTileArgs, saveCog, saveCogOverviewTile, saveCogTile, tilePartsDir } from '../../worker/kernels/save-cog.js';
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
    overviewTiles: 0,
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

describe('first-overview tiles encoded as tasks of their own', () => {
  it('give the same file as overviews encoded by the assembly, padded edges included', async () => {
    // 2100 x 1300: 5 x 3 tiles; overviews of 1050 x 650 (3 x 2 tiles, the last ones partial), 525 x 325, 262 x 162.
    const [width, height, tileCols, tileRows] = [2100, 1300, 5, 3];
    const values = Float32Array.from({ length: width * height }, (_, i) => ((i % width) + Math.floor(i / width)) % 101 === 0 ? NaN : Math.fround(Math.sin(i / 997) + (i % width) / width));
    const chunk: ArrayChunk = { kind: 'array', dims: ['y', 'x'], shape: [height, width], data: values };
    const write = async (dataDir: string, withOverviewTasks: boolean): Promise<string> => {
      const path = 'out/result.tif';
      const reports: Chunk[] = [];
      for (let ty = 0; ty < tileRows; ty++) {
        for (let tx = 0; tx < tileCols; tx++) {
          const window = { x: tx * TILE, y: ty * TILE, width: Math.min(TILE, width - tx * TILE), height: Math.min(TILE, height - ty * TILE) };
          const args: CogTileArgs = { path, window, tileSize: TILE, parts: [{ x: 0, y: 0, width, height, t0: 0, t1: 1, select: [] }], overviews: 3, encoding: {} };
          reports.push((saveCogTile.run(args as never, [chunk], context(dataDir)) as KernelOutput).chunk);
        }
      }
      const overviewReports: Chunk[] = [];
      if (withOverviewTasks) {
        for (let row = 0; row < 2; row++) {
          for (let col = 0; col < 3; col++) {
            const sources = [2 * row, 2 * row + 1].filter((ty) => ty < tileRows).flatMap((ty) => [2 * col, 2 * col + 1].filter((tx) => tx < tileCols).map((tx) => ty * tileCols + tx));
            const args: CogOverviewTileArgs = { path, tileSize: TILE, tileCols, sources, levelWidth: width / 2, levelHeight: height / 2, col, row, encoding: {} };
            overviewReports.push((saveCogOverviewTile.run(args as never, sources.map((i) => reports[i]!), context(dataDir)) as KernelOutput).chunk);
          }
        }
      }
      const file: CogFileArgs = { ...fileArgs(path), layout: { ...fileArgs(path).layout, width, height }, tileCols, tileRows, overviews: 3, overviewTiles: overviewReports.length };
      await saveCog.run(file as never, [...reports, ...overviewReports], context(dataDir));
      return join(dataDir, path);
    };
    const [tasks, assembly] = [await write(tempDir('cog-overview'), true), await write(tempDir('cog-overview'), false)];
    expect(readFileSync(tasks).equals(readFileSync(assembly))).toBe(true);
    const raster = await openRaster(tasks);
    expect(raster.overviews.map((o) => [o.width, o.height])).toEqual([[1050, 650], [525, 325], [262, 162]]);
    const level1 = await raster.readWindow({ x: 0, y: 0, width: 1050, height: 650 }, { level: 1 });
    // A pixel of the first overview is the mean of the valid pixels of its 2 x 2 block.
    for (const [x, y] of [[0, 0], [700, 300], [1049, 649], [255, 256]] as const) {
      const block = [values[2 * y * width + 2 * x]!, values[2 * y * width + 2 * x + 1]!, values[(2 * y + 1) * width + 2 * x]!, values[(2 * y + 1) * width + 2 * x + 1]!].filter((v) => !Number.isNaN(v));
      expect(level1[y * 1050 + x]).toBeCloseTo(block.reduce((a, b) => a + b, 0) / block.length, 5);
    }
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
