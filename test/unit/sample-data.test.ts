import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, utimesSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transformBounds, WGS84 } from '../../common/crs.js';
import { Catalog, type CogItemsSource, type CollectionRecord, type ZarrCubeSource } from '../../ingest/catalog.js';
import { readCubeInfo } from '../../ingest/zarr-cube.js';
import {
  ensureSampleData,
  OISST_INGEST_COMMAND,
  S2_INGEST_COMMAND,
  SAMPLE_OISST_COLLECTION,
  SAMPLE_OISST_FOLDER,
  SAMPLE_S2_COLLECTION,
  SAMPLE_S2_FOLDER,
  SAMPLES_DIR,
} from '../../ingest/sample-data.js';
import { DATACUBE_EXTENSION, EO_EXTENSION } from '../../ingest/stac-metadata.js';
import { closeAllRasters, openRaster } from '../../worker/io/cog-reader.js';
import { openZarrArray } from '../../worker/io/zarr-array.js';

/**
 * The sample data a fresh installation generates: the same bytes on every run, generated once,
 * regenerated when broken, readable by GDAL and by the back-end's own readers, and described by
 * STAC metadata that matches the files.
 */

const CLOUD_CLASSES = new Set([8, 9, 10]);

let root: string;
let first: string;
let second: string;
const seconds: Record<string, number> = {};

async function timed<T>(name: string, action: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await action();
  } finally {
    seconds[name] = Number(((performance.now() - started) / 1000).toFixed(2));
  }
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'sample-data-'));
  first = join(root, 'first');
  second = join(root, 'second');
  const a = await timed('first run', () => ensureSampleData(first));
  const b = await timed('second dir', () => ensureSampleData(second));
  expect(a.created).toEqual([SAMPLE_S2_COLLECTION, SAMPLE_OISST_COLLECTION]);
  expect(b.created).toEqual([SAMPLE_S2_COLLECTION, SAMPLE_OISST_COLLECTION]);
});

afterAll(async () => {
  await closeAllRasters();
  if (root) rmSync(root, { recursive: true, force: true });
  console.log(`[timings] sample data generation (s): ${JSON.stringify(seconds)}`);
});

// ---------------------------------------------------------------------------------------------
// Helpers

/** sha256 of every file under `dir`, by path relative to it. */
function hashes(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (relative: string): void => {
    for (const entry of readdirSync(join(dir, relative), { withFileTypes: true })) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path);
      else out.set(path, createHash('sha256').update(readFileSync(join(dir, path))).digest('hex'));
    }
  };
  walk('');
  return out;
}

function mtimes(dir: string, paths: Iterable<string>): Map<string, number> {
  return new Map([...paths].map((path) => [path, statSync(join(dir, path)).mtimeMs]));
}

async function record(dir: string, id: string): Promise<CollectionRecord> {
  const found = await new Catalog(dir).get(id);
  if (!found) throw new Error(`collection ${id} is not in the catalog at ${dir}`);
  return found;
}

async function s2Source(dir: string): Promise<CogItemsSource> {
  const { source } = await record(dir, SAMPLE_S2_COLLECTION);
  if (source.kind !== 'cog-items') throw new Error(`${SAMPLE_S2_COLLECTION} is a ${source.kind} source`);
  return source;
}

async function oisstSource(dir: string): Promise<ZarrCubeSource> {
  const { source } = await record(dir, SAMPLE_OISST_COLLECTION);
  if (source.kind !== 'zarr-cube') throw new Error(`${SAMPLE_OISST_COLLECTION} is a ${source.kind} source`);
  return source;
}

/** GDAL is the reference reader here (never a run-time dependency): without it the checks fail, saying how to get it. */
function requireGdal(): void {
  const probe = spawnSync('gdalinfo', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error('gdalinfo not found: these tests check the sample COGs with GDAL; install it with `apt-get install -y gdal-bin`', { cause: probe.error });
  }
}

interface GdalInfo {
  size: [number, number];
  geoTransform: number[];
  coordinateSystem: { wkt: string };
  metadata: Record<string, Record<string, string>>;
  bands: { block: [number, number]; type: string; noDataValue?: number; overviews?: { size: [number, number] }[] }[];
}

function gdalinfo(path: string): GdalInfo {
  return JSON.parse(execFileSync('gdalinfo', ['-json', path], { encoding: 'utf8' })) as GdalInfo;
}

/** Every pixel as GDAL decodes it (through an uncompressed ENVI copy). */
function gdalPixels(path: string, scratch: string): Buffer {
  const raw = join(scratch, `${createHash('sha1').update(path).digest('hex')}.raw`);
  execFileSync('gdal_translate', ['-q', '-of', 'ENVI', path, raw]);
  return readFileSync(raw);
}

// ---------------------------------------------------------------------------------------------

describe('generation', () => {
  it('is deterministic: two runs in two folders write identical files', () => {
    const a = hashes(first);
    const b = hashes(second);
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    expect(a.size).toBeGreaterThan(50);
    for (const [path, hash] of a) expect(b.get(path), path).toBe(hash);
    // Nothing half-written is left behind.
    expect([...a.keys()].filter((path) => path.includes('.partial') || path.endsWith('.tmp'))).toEqual([]);
  });

  it('is idempotent: a second call creates nothing and touches no file', async () => {
    const before = hashes(first);
    const times = mtimes(first, before.keys());
    const again = await timed('idempotent run', () => ensureSampleData(first));
    expect(again.created).toEqual([]);
    expect(hashes(first)).toEqual(before);
    expect(mtimes(first, before.keys())).toEqual(times);
  });

  it('leaves a collection that is real data alone', async () => {
    const third = join(root, 'third');
    const real: CollectionRecord = {
      id: SAMPLE_OISST_COLLECTION,
      stac: { type: 'Collection', id: SAMPLE_OISST_COLLECTION, description: 'ingested' },
      source: { ...(await oisstSource(first)), store: 'oisst/real.zarr' },
    };
    await new Catalog(third).put(real);
    const result = await timed('with a real collection', () => ensureSampleData(third));
    expect(result.created).toEqual([SAMPLE_S2_COLLECTION]);
    expect(existsSync(join(third, SAMPLES_DIR, SAMPLE_OISST_FOLDER))).toBe(false);
    expect(await new Catalog(third).get(SAMPLE_OISST_COLLECTION)).toEqual(real);
  });
});

describe('recovery', () => {
  it('recreates a collection whose catalog entry is gone', async () => {
    const reference = hashes(first);
    await new Catalog(second).remove(SAMPLE_OISST_COLLECTION);
    const result = await timed('recreate OISST', () => ensureSampleData(second));
    expect(result.created).toEqual([SAMPLE_OISST_COLLECTION]);
    expect(hashes(second)).toEqual(reference);
  });

  it('redoes a sample with a truncated or missing file', async () => {
    const reference = hashes(first);
    const { items } = await s2Source(second);
    truncateSync(join(second, items[1]!.assets.B08!.href), 1000);
    const truncated = await timed('redo truncated S2', () => ensureSampleData(second));
    expect(truncated.created).toEqual([SAMPLE_S2_COLLECTION]);
    expect(hashes(second)).toEqual(reference);

    unlinkSync(join(second, items[3]!.assets.SCL!.href));
    const missing = await ensureSampleData(second);
    expect(missing.created).toEqual([SAMPLE_S2_COLLECTION]);
    expect(hashes(second)).toEqual(reference);
  });

  it('redoes a sample interrupted before its catalog entry, and clears abandoned staging folders', async () => {
    const reference = hashes(first);
    const { items } = await s2Source(second);
    // What an interrupted run leaves: part of the files, a staging folder, no catalog entry.
    await new Catalog(second).remove(SAMPLE_S2_COLLECTION);
    unlinkSync(join(second, items[0]!.assets.B04!.href));
    const staging = join(second, SAMPLES_DIR, `.${SAMPLE_S2_FOLDER}.12345.deadbeef.partial`);
    mkdirSync(join(staging, items[0]!.id), { recursive: true });
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(staging, old, old);
    const result = await ensureSampleData(second);
    expect(result.created).toEqual([SAMPLE_S2_COLLECTION]);
    expect(existsSync(staging)).toBe(false);
    expect(hashes(second)).toEqual(reference);
  });
});

describe('Sentinel-2 sample', () => {
  it('has four dates with cloud cover computed from SCL, one above 30 %', async () => {
    const { items, bands } = await s2Source(first);
    expect(bands.map((band) => band.name)).toEqual(['B04', 'B08', 'SCL']);
    expect(items.map((item) => item.id)).toEqual(['S2A_32TNT_20200603_0_L2A', 'S2B_32TNT_20200608_0_L2A', 'S2A_32TNT_20200613_0_L2A', 'S2B_32TNT_20200618_0_L2A']);
    expect(items.map((item) => item.datetime)).toEqual(['03', '08', '13', '18'].map((day) => `2020-06-${day}T10:30:21Z`));
    const covers = items.map((item) => item.cloudCover!);
    expect(covers.filter((cover) => cover > 30)).toHaveLength(1);
    expect(covers[0]).toBeLessThan(10);
    for (const item of items) {
      expect(item.epsg).toBe(32632);
      expect(item.assets.B04).toMatchObject({ shape: [1536, 1536], dtype: 'uint16', nodata: 0, scale: 0.0001, offset: 0 });
      expect(item.assets.B08).toMatchObject({ shape: [1536, 1536], dtype: 'uint16', nodata: 0, scale: 0.0001, offset: 0 });
      expect(item.assets.SCL).toMatchObject({ shape: [768, 768], dtype: 'uint8', nodata: 0, scale: 1, offset: 0 });
      expect(item.assets.B04!.href).toBe(`${SAMPLES_DIR}/${SAMPLE_S2_FOLDER}/${item.id}/B04.tif`);
      const footprint = transformBounds([510960, 5284680, 526320, 5300040], 32632, WGS84);
      expect(item.bbox).toEqual(footprint);
    }
  });

  it('is read by GDAL as 512-tiled DEFLATE COGs with the catalog grid, and openRaster reads the same values', async () => {
    requireGdal();
    const scratch = join(root, 'gdal');
    mkdirSync(scratch, { recursive: true });
    const item = (await s2Source(first)).items[1]!;
    for (const band of ['B04', 'SCL'] as const) {
      const asset = item.assets[band]!;
      const path = join(first, asset.href);
      const info = gdalinfo(path);
      const [height, width] = asset.shape;
      expect(info.size).toEqual([width, height]);
      expect(info.geoTransform).toEqual(asset.transform);
      expect(/ID\["EPSG",32632\]\]\s*$/.test(info.coordinateSystem.wkt)).toBe(true);
      expect(info.metadata.IMAGE_STRUCTURE).toMatchObject({ COMPRESSION: 'DEFLATE', PREDICTOR: '2', LAYOUT: 'COG' });
      expect(info.bands).toHaveLength(1);
      expect(info.bands[0]!.block).toEqual([512, 512]);
      expect(info.bands[0]!.noDataValue).toBe(0);
      expect(info.bands[0]!.type).toBe(band === 'SCL' ? 'Byte' : 'UInt16');
      expect(info.bands[0]!.overviews?.map((o) => o.size)).toEqual(band === 'SCL' ? [[384, 384]] : [[768, 768], [384, 384]]);

      const raster = await openRaster(path);
      try {
        expect(raster.epsg).toBe(32632);
        expect(raster.transform).toEqual(asset.transform);
        expect(raster.nodata).toBe(0);
        const values = await raster.readWindow({ x: 0, y: 0, width, height });
        const reference = gdalPixels(path, scratch);
        expect(Buffer.from(values.buffer, values.byteOffset, values.byteLength).equals(reference)).toBe(true);
      } finally {
        await raster.close();
      }
    }
  });

  it('puts clouds where SCL says cloud and the swath-edge wedge where SCL is 0, on the 20 m grid upsampled 2x', async () => {
    const { items } = await s2Source(first);
    let wedges = 0;
    for (const [index, item] of items.entries()) {
      const read = async (band: string): Promise<ArrayLike<number>> => {
        const asset = item.assets[band]!;
        const raster = await openRaster(join(first, asset.href));
        try {
          return await raster.readWindow({ x: 0, y: 0, width: asset.shape[1], height: asset.shape[0] });
        } finally {
          await raster.close();
        }
      };
      const [red, nir, scl] = await Promise.all([read('B04'), read('B08'), read('SCL')]);
      let cloud20 = 0;
      let valid20 = 0;
      for (let k = 0; k < scl.length; k++) {
        if (scl[k] !== 0) valid20++;
        if (CLOUD_CLASSES.has(scl[k]!)) cloud20++;
      }
      expect(100 * cloud20 / valid20).toBeCloseTo(item.cloudCover!, 2);

      let noData = 0;
      let bright = 0;
      let differingNeighbours = 0;
      let noDataMismatches = 0;
      for (let i = 0; i < 1536; i++) {
        for (let j = 0; j < 1536; j++) {
          const k = i * 1536 + j;
          const cls = scl[(i >> 1) * 768 + (j >> 1)]!;
          // No data exactly where SCL is 0, in both bands.
          if ((red[k] === 0) !== (cls === 0) || (nir[k] === 0) !== (cls === 0)) noDataMismatches++;
          if (cls === 0) noData++;
          if (red[k]! > 3000) {
            bright++;
            if (!CLOUD_CLASSES.has(cls)) throw new Error(`${item.id}: bright pixel (${i}, ${j}) B04=${red[k]} has SCL ${cls}`);
          }
          if (cls === 9 && red[k]! < 4000) throw new Error(`${item.id}: high-probability cloud pixel (${i}, ${j}) has B04=${red[k]}`);
          if (cls === 8 && red[k]! < 2000) throw new Error(`${item.id}: medium-probability cloud pixel (${i}, ${j}) has B04=${red[k]}`);
          if (j > 0 && red[k] !== red[k - 1]) differingNeighbours++;
        }
      }
      expect(noDataMismatches).toBe(0);
      if (index === 1) {
        // 2020-06-08: the wedge, and clouds.
        expect(noData / (1536 * 1536)).toBeGreaterThan(0.05);
        expect(bright).toBeGreaterThan(0);
      }
      if (noData > 0) wedges++;
      // Neighbouring pixels differ: values vary pixel to pixel.
      expect(differingNeighbours / (1536 * 1535)).toBeGreaterThan(0.8);
    }
    expect(wedges).toBe(1);
  });

  it('shows water with negative NDVI and vegetation with high NDVI', async () => {
    const item = (await s2Source(first)).items[0]!;
    const values = await Promise.all(
      (['B04', 'B08', 'SCL'] as const).map(async (band) => {
        const raster = await openRaster(join(first, item.assets[band]!.href));
        try {
          const [height, width] = item.assets[band]!.shape;
          return await raster.readWindow({ x: 0, y: 0, width, height });
        } finally {
          await raster.close();
        }
      }),
    );
    const [red, nir, scl] = values as ArrayLike<number>[];
    const ndviOf = new Map<number, number[]>();
    for (let i = 0; i < 1536; i += 3) {
      for (let j = 0; j < 1536; j += 3) {
        const cls = scl[(i >> 1) * 768 + (j >> 1)]!;
        const k = i * 1536 + j;
        const ndvi = (nir[k]! - red[k]!) / (nir[k]! + red[k]!);
        const list = ndviOf.get(cls) ?? [];
        list.push(ndvi);
        ndviOf.set(cls, list);
      }
    }
    const median = (list: number[]): number => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
    expect(median(ndviOf.get(6)!)).toBeLessThan(0);
    expect(median(ndviOf.get(4)!)).toBeGreaterThan(0.5);
    expect(ndviOf.get(3)?.length ?? 0).toBeGreaterThan(0);
  });
});

describe('OISST sample', () => {
  it('reads back through openZarrArray on the OISST grid, NaN on land, plausible values', async () => {
    const source = await oisstSource(first);
    expect(source).toEqual({
      kind: 'zarr-cube',
      store: `${SAMPLES_DIR}/${SAMPLE_OISST_FOLDER}`,
      array: 'sst',
      band: { name: 'sst', description: expect.any(String), unit: 'degC' },
      dates: Array.from({ length: 31 }, (_, d) => `2012-01-${String(d + 1).padStart(2, '0')}`),
      height: 720,
      width: 1440,
      resolution: 0.25,
      latFirst: -89.875,
      lonFirst: 0.125,
      latAscending: true,
      chunks: [32, 120, 160],
      scale: 1,
      offset: 0,
      fill: null,
      validRange: [-3, 45],
    });
    const store = join(first, source.store);
    const sst = await openZarrArray(store, source.array);
    expect(sst.shape).toEqual([31, 720, 1440]);
    expect(sst.chunks).toEqual([32, 120, 160]);
    expect(sst.dtype).toBe('float32');
    expect(sst.dimensionNames).toEqual(['time', 'lat', 'lon']);
    expect(Number.isNaN(sst.fillValue)).toBe(true);
    expect(sst.attributes).toMatchObject({ units: 'degC', standard_name: 'sea_surface_temperature', valid_range: [-3, 45] });

    const lat = await (await openZarrArray(store, 'lat')).read([0], [720]);
    const lon = await (await openZarrArray(store, 'lon')).read([0], [1440]);
    expect([lat[0], lat[719], lat[1]! - lat[0]!]).toEqual([-89.875, 89.875, 0.25]);
    expect([lon[0], lon[1439], lon[1]! - lon[0]!]).toEqual([0.125, 359.875, 0.25]);
    const info = await readCubeInfo(store);
    expect(info.timeLength).toBe(31);
    expect(info.times[0]).toBe(Date.UTC(2012, 0, 1) / 86_400_000);
    expect(info.times[30]! - info.times[0]!).toBe(30);

    const cell = (latitude: number, longitude: number): number => Math.round((latitude + 89.875) / 0.25) * 1440 + Math.round((((longitude % 360) + 360) % 360 - 0.125) / 0.25);
    const days = [await sst.read([0, 0, 0], [1, 720, 1440]), await sst.read([30, 0, 0], [31, 720, 1440])];
    for (const day of days) {
      let ocean = 0;
      let min = Infinity;
      let max = -Infinity;
      for (const value of day as Float32Array) {
        if (Number.isNaN(value)) continue;
        ocean++;
        min = Math.min(min, value);
        max = Math.max(max, value);
      }
      expect(ocean / day.length).toBeGreaterThan(0.55);
      expect(ocean / day.length).toBeLessThan(0.75);
      expect(min).toBeCloseTo(-1.8, 5);
      expect(min).toBeGreaterThanOrEqual(-2);
      expect(max).toBeLessThanOrEqual(32);
      expect(max).toBeGreaterThan(28);
      // Land: central Africa, Siberia, Amazonia, Antarctica, the eastern United States.
      for (const [la, lo] of [[0.125, 20.125], [60.125, 100.125], [-5.125, -60.125], [-85.125, 0.125], [40.125, -75.125]] as const) {
        expect(day[cell(la, lo)], `${la}, ${lo}`).toBeNaN();
      }
      // Sea: warm equatorial Pacific, temperate North Atlantic, ice-covered Arctic Ocean.
      expect(day[cell(0.125, -150.125)]).toBeGreaterThan(24);
      expect(day[cell(45.125, -30.125)]).toBeGreaterThan(5);
      expect(day[cell(45.125, -30.125)]).toBeLessThan(22);
      expect(day[cell(85.125, 0.125)]).toBeCloseTo(-1.8, 5);
    }
    // The weather changes from day to day, slowly.
    let changed = 0;
    let largest = 0;
    for (let k = 0; k < days[0]!.length; k++) {
      const change = Math.abs(days[1]![k]! - days[0]![k]!);
      if (change > 0.5) changed++;
      if (change > largest) largest = change;
    }
    expect(changed).toBeGreaterThan(10_000);
    expect(largest).toBeLessThan(10);
  });

  it('reads a North Atlantic box of whole chunks', async () => {
    const source = await oisstSource(first);
    const sst = await openZarrArray(join(first, source.store), source.array);
    // 0-60 N, 80 W-0: rows 360..600, columns 1120..1440, i.e. chunk rows 3-4 and chunk columns 7-8.
    expect([360 % 120, 600 % 120, 1120 % 160, 1440 % 160]).toEqual([0, 0, 0, 0]);
    const box = (await sst.read([0, 360, 1120], [31, 600, 1440])) as Float32Array;
    let ocean = 0;
    for (const value of box) if (!Number.isNaN(value)) ocean++;
    expect(ocean / box.length).toBeGreaterThan(0.5);
    expect(ocean / box.length).toBeLessThan(0.95);
  });
});

describe('STAC collections', () => {
  it('describes SENTINEL2_L2A consistently with its items and files', async () => {
    const { stac, source } = await record(first, SAMPLE_S2_COLLECTION);
    if (source.kind !== 'cog-items') throw new Error('expected cog items');
    expect(stac).toMatchObject({
      type: 'Collection',
      stac_version: '1.0.0',
      id: SAMPLE_S2_COLLECTION,
      license: expect.any(String),
      links: [],
      'openeo:sample_data': true,
    });
    expect(stac.stac_extensions).toEqual(expect.arrayContaining([DATACUBE_EXTENSION, EO_EXTENSION]));
    expect(DATACUBE_EXTENSION).toContain('datacube/v2.2.0');
    expect(EO_EXTENSION).toContain('eo/v1.1.0');
    expect(typeof stac.title).toBe('string');
    expect(stac.description).toMatch(/synthetic sample data/i);
    expect(stac.description).toContain(S2_INGEST_COMMAND);
    expect(Array.isArray(stac.keywords)).toBe(true);
    expect(Array.isArray(stac.providers)).toBe(true);

    const extent = stac.extent as { spatial: { bbox: number[][] }; temporal: { interval: string[][] } };
    expect(extent.spatial.bbox).toEqual([source.items[0]!.bbox]);
    expect(extent.temporal.interval).toEqual([['2020-06-03T10:30:21.000Z', '2020-06-18T10:30:21.000Z']]);
    expect(stac['cube:dimensions']).toEqual({
      x: { type: 'spatial', axis: 'x', extent: [510960, 526320], step: 10, reference_system: 32632 },
      y: { type: 'spatial', axis: 'y', extent: [5284680, 5300040], step: 10, reference_system: 32632 },
      t: { type: 'temporal', extent: ['2020-06-03T10:30:21.000Z', '2020-06-18T10:30:21.000Z'], step: null },
      bands: { type: 'bands', values: ['B04', 'B08', 'SCL'] },
    });
    // The grid extent is where the rasters are.
    const [x0, dx, , y0, , dy] = source.items[0]!.assets.B04!.transform;
    expect([x0, x0 + 1536 * dx, y0 + 1536 * dy, y0]).toEqual([510960, 526320, 5284680, 5300040]);

    const summaries = stac.summaries as Record<string, unknown>;
    expect(summaries['eo:bands']).toEqual([
      expect.objectContaining({ name: 'B04', common_name: 'red', center_wavelength: 0.665 }),
      expect.objectContaining({ name: 'B08', common_name: 'nir', center_wavelength: 0.842 }),
      expect.objectContaining({ name: 'SCL' }),
    ]);
    expect(summaries.gsd).toEqual([10, 20]);
    expect(summaries.platform).toEqual(['sentinel-2a', 'sentinel-2b']);
    const covers = source.items.map((item) => item.cloudCover!);
    expect(summaries['eo:cloud_cover']).toEqual({ minimum: Math.min(...covers), maximum: Math.max(...covers) });
  });

  it('describes OISST consistently with its grid and dates', async () => {
    const { stac } = await record(first, SAMPLE_OISST_COLLECTION);
    expect(stac).toMatchObject({ type: 'Collection', stac_version: '1.0.0', id: SAMPLE_OISST_COLLECTION, links: [], 'openeo:sample_data': true });
    expect(stac.stac_extensions).toEqual(expect.arrayContaining([DATACUBE_EXTENSION, EO_EXTENSION]));
    expect(stac.description).toMatch(/synthetic sample data/i);
    expect(stac.description).toContain(OISST_INGEST_COMMAND);
    expect(stac.extent).toEqual({
      spatial: { bbox: [[-180, -90, 180, 90]] },
      temporal: { interval: [['2012-01-01T00:00:00Z', '2012-01-31T00:00:00Z']] },
    });
    expect(stac['cube:dimensions']).toEqual({
      x: { type: 'spatial', axis: 'x', extent: [-180, 180], step: 0.25, reference_system: 4326 },
      y: { type: 'spatial', axis: 'y', extent: [-90, 90], step: 0.25, reference_system: 4326 },
      t: { type: 'temporal', extent: ['2012-01-01T00:00:00Z', '2012-01-31T00:00:00Z'], step: 'P1D' },
      bands: { type: 'bands', values: ['sst'] },
    });
    expect((stac.summaries as Record<string, unknown>)['eo:bands']).toEqual([expect.objectContaining({ name: 'sst' })]);
  });
});
