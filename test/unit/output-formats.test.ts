import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ZipFileStore from '@zarrita/storage/zip';
import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { quicklookGrid } from '../../api/compiler/save.js';
import type { ArrayChunk, BytesChunk } from '../../common/chunk.js';
import { cubeDocument, float32Json } from '../../worker/io/json-writer.js';
import { COLOR_MAPS, colorize, colorTable, levelOf, percentileRange, writePng } from '../../worker/io/png-writer.js';
import { encodeZarrChunk, writeZarrZip } from '../../worker/io/zarr-writer.js';
import { writeZip } from '../../worker/io/zip-writer.js';
import { savePngSample, sourceIndex } from '../../worker/kernels/save-png.js';
import { emptyStatistics, finalStatistics, mergeStatistics, statisticsOf } from '../../worker/kernels/save-statistics.js';
import { cutWindow } from '../../worker/kernels/save-window.js';
import { requireBinary, tempDir } from '../helpers/processes.js';
import * as zarr from 'zarrita';

/** A deterministic pseudo-random field with NaN holes. */
function field(length: number, seed = 7): Float32Array {
  let state = seed;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    out[i] = state % 17 === 0 ? NaN : (state / 2 ** 31) * 2 - 1;
  }
  return out;
}

describe('band statistics computed while writing', () => {
  it('merge tile by tile to exactly the statistics of the whole, however the tiles are cut', () => {
    const values = field(10_000);
    const whole = finalStatistics(statisticsOf(values))!;
    for (const cut of [1, 7, 512, 3333]) {
      let merged = emptyStatistics();
      for (let start = 0; start < values.length; start += cut) merged = mergeStatistics(merged, statisticsOf(values, start, Math.min(values.length, start + cut)));
      const tiled = finalStatistics(merged)!;
      expect(tiled.minimum).toBe(whole.minimum);
      expect(tiled.maximum).toBe(whole.maximum);
      expect(tiled.mean!).toBeCloseTo(whole.mean!, 12);
      expect(tiled.stddev!).toBeCloseTo(whole.stddev!, 12);
      expect(tiled.valid_percent).toBeCloseTo(whole.valid_percent, 12);
    }
    let mean = 0;
    let n = 0;
    for (const v of values) if (!Number.isNaN(v)) (mean += v), n++;
    expect(whole.mean!).toBeCloseTo(mean / n, 12);
  });

  it('survive the trip through JSON of an all-NaN tile, and report only valid_percent for an empty band', () => {
    const empty = JSON.parse(JSON.stringify(statisticsOf(new Float32Array(4).fill(NaN))));
    expect(empty.min).toBeNull();
    const merged = mergeStatistics(empty, statisticsOf(Float32Array.from([1, 3])));
    expect(finalStatistics(merged)).toEqual({ minimum: 1, maximum: 3, mean: 2, stddev: 1, valid_percent: expect.closeTo(100 / 3, 12) });
    expect(finalStatistics(empty)).toEqual({ valid_percent: 0 });
    expect(finalStatistics(emptyStatistics())).toBeNull();
  });
});

describe('output blocks cut from cube chunks', () => {
  it('assemble a window from the chunks under it, taking the selected plane', () => {
    // A 6x4 plane of two bands, cut into chunks of 4x4 and 2x4; values encode (band, y, x).
    const chunk = (x: number, width: number): ArrayChunk => {
      const data = new Float32Array(2 * 4 * width);
      for (let b = 0; b < 2; b++) for (let y = 0; y < 4; y++) for (let c = 0; c < width; c++) data[(b * 4 + y) * width + c] = b * 100 + y * 10 + x + c;
      return { kind: 'array', dims: ['bands', 'y', 'x'], shape: [2, 4, width], data };
    };
    const parts = [
      { x: 0, y: 0, width: 4, height: 4, t0: 0, t1: 1, select: [1] },
      { x: 4, y: 0, width: 2, height: 4, t0: 0, t1: 1, select: [1] },
    ];
    const window = { x: 3, y: 1, width: 3, height: 2 };
    expect(Array.from(cutWindow([chunk(0, 4), chunk(4, 2)], parts, window))).toEqual([113, 114, 115, 123, 124, 125]);
  });

  it('take the plane of a chunk that is exactly the window as it is, without copying', () => {
    const data = Float32Array.from({ length: 2 * 3 * 2 }, (_, i) => i);
    const chunk: ArrayChunk = { kind: 'array', dims: ['bands', 'y', 'x'], shape: [2, 3, 2], data };
    const window = { x: 10, y: 20, width: 2, height: 3 };
    const first = cutWindow([chunk], [{ x: 10, y: 20, width: 2, height: 3, t0: 0, t1: 1, select: [0] }], window);
    expect(first.buffer).toBe(data.buffer);
    expect(Array.from(first)).toEqual([0, 1, 2, 3, 4, 5]);
    const second = cutWindow([chunk], [{ x: 10, y: 20, width: 2, height: 3, t0: 0, t1: 1, select: [1] }], window);
    expect(second.buffer).toBe(data.buffer);
    expect(Array.from(second)).toEqual([6, 7, 8, 9, 10, 11]);
  });
});

describe('ZIP archives', () => {
  it('are read by unzip and zarrita, and switch to ZIP64 beyond 65535 entries', async () => {
    const unzip = requireBinary('unzip', 'apt-get install -y unzip');
    const dir = tempDir('zip');
    const entries = Array.from({ length: 70_000 }, (_, i) => ({ name: `c/${Math.floor(i / 1000)}/${i % 1000}`, data: new TextEncoder().encode(`entry ${i}`) }));
    entries.unshift({ name: 'zarr.json', data: new TextEncoder().encode('{"zarr_format":3}') });
    const path = join(dir, 'big.zip');
    const { bytes } = await writeZip(path, entries);
    expect(bytes).toBe(readFileSync(path).byteLength);
    expect(execFileSync(unzip, ['-tq', path], { encoding: 'utf8' })).toMatch(/No errors detected/);
    const store = ZipFileStore.fromBlob(new Blob([readFileSync(path)]));
    expect(new TextDecoder().decode(await store.get('/c/69/999'))).toBe('entry 69999');
    expect(new TextDecoder().decode(await store.get('/zarr.json'))).toBe('{"zarr_format":3}');
  });
});

describe('Zarr stores', () => {
  it('hold chunks encoded where their data was, readable by zarrita with edges and missing chunks as NaN', async () => {
    const dir = tempDir('zarr');
    const values = field(64);
    const chunk = await encodeZarrChunk(values, [8, 8], 1);
    const path = join(dir, 'result.zarr.zip');
    await writeZarrZip(path, {
      attributes: { title: 't' },
      coordinates: [{ name: 'y', values: Float64Array.from({ length: 10 }, (_, i) => i), attributes: {} }, { name: 'x', values: Float64Array.from({ length: 12 }, (_, i) => i), attributes: {} }],
      arrays: [{ name: 'data', dims: ['y', 'x'], shape: [10, 12], chunkShape: [8, 8], attributes: {}, chunks: [{ index: [1, 1], data: chunk }] }],
      gridMapping: { grid_mapping_name: 'latitude_longitude' },
      deflateLevel: 1,
    });
    const root = zarr.root(ZipFileStore.fromBlob(new Blob([readFileSync(path)])));
    const array = await zarr.open(root.resolve('data'), { kind: 'array' });
    expect(array.dimensionNames).toEqual(['y', 'x']);
    const data = (await zarr.get(array)).data as Float32Array;
    for (let y = 0; y < 10; y++) {
      for (let x = 0; x < 12; x++) {
        const expected = y >= 8 && x >= 8 ? values[(y - 8) * 8 + (x - 8)]! : NaN;
        expect(Object.is(data[y * 12 + x], expected) || data[y * 12 + x] === expected, `${y},${x}`).toBe(true);
      }
    }
    await expect(writeZarrZip(join(dir, 'bad.zip'), { attributes: {}, coordinates: [], arrays: [{ name: '1st', dims: ['y'], shape: [1], chunkShape: [1], attributes: {}, chunks: [] }], gridMapping: null, deflateLevel: 1 })).rejects.toThrow(/cannot name a Zarr array/);
  });
});

describe('PNG quick-looks', () => {
  it('colour maps run from their first to their last colour; levels clamp outside the scale', () => {
    for (const [name, stops] of Object.entries(COLOR_MAPS)) {
      const table = colorTable(name as keyof typeof COLOR_MAPS);
      const hex = (i: number): string => `#${Array.from(table.subarray(i * 3, i * 3 + 3), (v) => v.toString(16).padStart(2, '0')).join('')}`;
      expect(hex(0)).toBe(stops[0]);
      expect(hex(255)).toBe(stops[stops.length - 1]);
    }
    expect([levelOf(-5, 0, 1), levelOf(0.5, 0, 1), levelOf(7, 0, 1), levelOf(3, 3, 3)]).toEqual([0, 128, 255, 128]);
  });

  it('scale between percentiles, and leave no-data transparent', async () => {
    const values = Float32Array.from({ length: 101 }, (_, i) => i);
    values[50] = NaN;
    // 100 finite values 0..49, 51..100: the 2nd percentile sits at position 1.98, the 98th at 97.02.
    const range = percentileRange(values, 2, 98)!;
    expect(range[0]).toBeCloseTo(1.98, 5);
    expect(range[1]).toBeCloseTo(98.02, 5);
    expect(percentileRange(new Float32Array([NaN]), 2, 98)).toBeNull();
    const rgba = colorize(Float32Array.from([0, NaN, 1]), colorTable('greys'), 0, 1);
    expect(Array.from(rgba)).toEqual([0, 0, 0, 255, 0, 0, 0, 0, 255, 255, 255, 255]);
    const path = join(tempDir('png'), 'q.png');
    await writePng(path, { width: 3, height: 1, rgba, text: { 'proj:epsg': '4326' } });
    const png = decode(readFileSync(path));
    expect([png.width, png.height, png.channels]).toEqual([3, 1, 4]);
    expect(Array.from(png.data)).toEqual(Array.from(rgba));
    expect(png.text['proj:epsg']).toBe('4326');
  });

  it('sample each cube chunk to exactly the quick-look pixels it holds', () => {
    const width = 1000;
    const height = 700;
    const { step, grid } = quicklookGrid({ epsg: 32632, transform: [0, 10, 0, 0, 0, -10], width, height }, 256);
    expect(step).toBe(4);
    expect([grid.width, grid.height, grid.transform[1], grid.transform[5]]).toEqual([250, 175, 40, -40]);
    const value = (x: number, y: number): number => y * width + x;
    const seen = new Float32Array(grid.width * grid.height).fill(NaN);
    // Chunks of 300 x 256 with an offset, as source-aligned cube tiles are.
    for (let y0 = 0; y0 < height; y0 += 256) {
      for (let x0 = -100; x0 < width; x0 += 300) {
        const x = Math.max(0, x0);
        const w = Math.min(width, x0 + 300) - x;
        const h = Math.min(height, y0 + 256) - y0;
        const data = Float32Array.from({ length: w * h }, (_, i) => value(x + (i % w), y0 + Math.floor(i / w)));
        const out = savePngSample.run({ part: { x, y: y0, width: w, height: h, t0: 0, t1: 1, select: [] }, step, width, height, outWidth: grid.width, outHeight: grid.height } as never, [{ kind: 'array', dims: ['y', 'x'], shape: [h, w], data }], { key: 'k', jobId: 'j', dataDir: '/', signal: { aborted: false } }) as { chunk: BytesChunk };
        const info = out.chunk.info as { row: number; col: number; rows: number; cols: number };
        const samples = new Float32Array(out.chunk.data.slice().buffer);
        for (let r = 0; r < info.rows; r++) {
          for (let c = 0; c < info.cols; c++) {
            const at = (info.row + r) * grid.width + info.col + c;
            expect(Number.isNaN(seen[at]!), `pixel ${at} sampled twice`).toBe(true);
            seen[at] = samples[r * info.cols + c]!;
          }
        }
      }
    }
    for (let r = 0; r < grid.height; r++) for (let c = 0; c < grid.width; c++) expect(seen[r * grid.width + c]).toBe(value(sourceIndex(c, step, width), sourceIndex(r, step, height)));
  });
});

describe('JSON results', () => {
  it('print each float32 with the fewest digits that give it back, no-data as null', () => {
    for (const v of field(2000)) {
      const printed = float32Json(v);
      if (Number.isNaN(v)) expect(printed).toBeNull();
      else expect(Math.fround(printed!)).toBe(v);
    }
    expect(float32Json(Math.fround(0.1))).toBe(0.1);
    expect(float32Json(Math.fround(-273.15))).toBe(-273.15);
  });

  it('nest values by dimension, with labels beside them', () => {
    const document = cubeDocument({ name: 'r', dims: ['t', 'y', 'x'], shape: [2, 1, 2], coords: { t: { dims: ['t'], data: ['2020-01-01', '2020-01-02'] } }, attrs: {}, values: Float32Array.from([1, 2, NaN, 4]) });
    expect(document.data).toEqual([[[1, 2]], [[null, 4]]]);
    expect(document.coords).toEqual({ t: { dims: ['t'], data: ['2020-01-01', '2020-01-02'] } });
  });
});
