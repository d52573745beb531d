import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ZipFileStore from '@zarrita/storage/zip';
import { decode } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as zarr from 'zarrita';
import { readGeoTiff, referenceNdvi, referenceSstMean } from '../helpers/independent.js';
import { download, exampleProcess, gdalinfo, gdalValues, login, referenceStatistics, request, runToResults, samplePixels } from '../helpers/job-api.js';
import { freePort, type RoleProcess, startRole, tempDir } from '../helpers/processes.js';

/**
 * Every output format end to end on the embedded default: a job writes it, the results document
 * describes it, and a reader that shares no code with the writers (GDAL's tools, geotiff.js,
 * zarrita, fast-png, JSON.parse) reads it back; values, CRS and transform are compared with an
 * independent computation from the sample data.
 */

const NDVI_RANGE = ['2020-06-01T00:00:00Z', '2020-07-01T00:00:00Z'] as const;
const SST_BOX = { west: -80, south: 0, east: 0, north: 60 };
/** Float32 results against float64 references. */
const TOLERANCE = 1e-6;

function close(actual: number, expected: number, tolerance = TOLERANCE): boolean {
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  return Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected));
}

function expectStatistics(actual: Record<string, number>, values: ArrayLike<number>): void {
  const expected = referenceStatistics(values);
  for (const key of ['minimum', 'maximum', 'mean', 'stddev', 'valid_percent'] as const) {
    expect(close(actual[key]!, expected[key], 1e-5), `${key}: ${actual[key]} vs ${expected[key]}`).toBe(true);
  }
}

/** The SST process of the example over `box` and `[from, to)`, optionally without the time mean. */
function sstProcess(format: string, box = SST_BOX, reduce = true, range: [string, string] = ['2012-01-01', '2012-02-01'], options?: Record<string, unknown>): Record<string, any> {
  const process = exampleProcess('sst-time-mean', format, options);
  const graph = process.process_graph;
  graph.load.arguments.spatial_extent = box;
  graph.load.arguments.temporal_extent = range;
  if (!reduce) {
    delete graph.mean;
    graph.save.arguments.data = { from_node: 'load' };
  }
  return process;
}

describe('output formats, read back by independent readers', () => {
  let embedded: RoleProcess;
  let url: string;
  let dataDir: string;
  let auth: string;
  let downloads: string;
  const timings: Record<string, number> = {};
  let ndvi: Awaited<ReturnType<typeof referenceNdvi>>;
  let sst: Awaited<ReturnType<typeof referenceSstMean>>;

  beforeAll(async () => {
    dataDir = tempDir('formats');
    downloads = join(dataDir, 'downloads');
    mkdirSync(downloads, { recursive: true });
    const port = await freePort();
    embedded = startRole('embedded', { PORT: String(port), DATA_DIR: dataDir, WORKERS: '2', NATS_URL: '' });
    await embedded.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('openEO back-end ready'), 120_000);
    url = `http://127.0.0.1:${port}`;
    auth = await login(url, 'demo', 'demo');
    ndvi = await referenceNdvi(dataDir, NDVI_RANGE[0], NDVI_RANGE[1], 'max');
    sst = await referenceSstMean(dataDir, SST_BOX, '2012-01-01', '2012-02-01');
  });

  afterAll(async () => {
    await embedded?.kill('SIGINT');
    console.log(`[timings] formats: ${JSON.stringify(timings)}`);
  });

  async function timed<T>(name: string, work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await work();
    } finally {
      timings[name] = (Date.now() - started) / 1000;
    }
  }

  it('lists exactly GTiff, netCDF, Zarr, JSON and PNG with their parameters', async () => {
    const { body } = await request(url, '/file_formats');
    expect(Object.keys(body.output).sort()).toEqual(['GTiff', 'JSON', 'PNG', 'Zarr', 'netCDF']);
    expect(Object.keys(body.output.GTiff.parameters)).toEqual(['deflate_level']);
    expect(body.output.GTiff.parameters.deflate_level.default).toBeNull();
    expect(Object.keys(body.output.Zarr.parameters).sort()).toEqual(['chunk_size', 'deflate_level']);
    expect(Object.keys(body.output.PNG.parameters).sort()).toEqual(['colormap', 'max', 'max_size', 'min']);
    expect(body.output.PNG.parameters.colormap.enum).toContain('viridis');
    for (const format of Object.values(body.output) as { parameters: Record<string, { description: string; default: unknown }> }[]) {
      for (const parameter of Object.values(format.parameters)) {
        expect(parameter.description.length).toBeGreaterThan(10);
        expect('default' in parameter).toBe(true);
      }
    }
  });

  it('writes GTiff as a COG GDAL validates, with values, CRS, transform and statistics of the reference', async () => {
    const { results } = await timed('gtiff', () => runToResults(url, auth, exampleProcess('ndvi-max-composite', 'GTiff')));
    const [name, asset] = Object.entries(results.assets as Record<string, any>)[0]!;
    expect(name).toBe('result.tif');
    expect(asset.type).toBe('image/tiff; application=geotiff; profile=cloud-optimized');
    expect(asset.roles).toEqual(['data']);
    expect(asset['proj:epsg']).toBe(32632);
    expect(asset['proj:shape']).toEqual([ndvi.height, ndvi.width]);
    expect(asset['proj:transform']).toEqual([ndvi.resolution[0], 0, ndvi.origin[0], 0, ndvi.resolution[1], ndvi.origin[1]]);
    const bytes = await download(asset.href);
    expect(asset['file:size']).toBe(bytes.byteLength);
    const path = join(downloads, 'ndvi.tif');
    writeFileSync(path, bytes);

    const info = gdalinfo(path);
    expect(info.metadata.IMAGE_STRUCTURE.LAYOUT).toBe('COG');
    expect(info.metadata.IMAGE_STRUCTURE.COMPRESSION).toBe('DEFLATE');
    expect(info.bands[0].type).toBe('Float32');
    expect(info.bands[0].noDataValue).toBe('NaN');
    expect(info.bands[0].overviews.length).toBeGreaterThan(0);
    expect(info.bands[0].block).toEqual([512, 512]);
    expect(info.coordinateSystem.wkt).toMatch(/ID\["EPSG",32632\]\]$/);
    expect(info.geoTransform).toEqual([ndvi.origin[0], ndvi.resolution[0], 0, ndvi.origin[1], 0, ndvi.resolution[1]]);
    const pixels = samplePixels(ndvi.width, ndvi.height, 300);
    const values = gdalValues(path, pixels);
    pixels.forEach(([c, r], i) => expect(close(values[i]!, ndvi.values[r * ndvi.width + c]!), `pixel ${c},${r}: ${values[i]} vs ${ndvi.values[r * ndvi.width + c]}`).toBe(true));
    // Every pixel through another reader.
    const all = await readGeoTiff(path);
    let worst = 0;
    for (let i = 0; i < all.values.length; i++) {
      if (Number.isNaN(ndvi.values[i]!)) expect(Number.isNaN(all.values[i]!)).toBe(true);
      else worst = Math.max(worst, Math.abs(all.values[i]! - ndvi.values[i]!));
    }
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
    // GDAL reads the COG straight from the signed link, by range.
    expect(gdalinfo(`/vsicurl/${asset.href}`).metadata.IMAGE_STRUCTURE.LAYOUT).toBe('COG');
    expect(asset['eo:bands']).toEqual([{ name: 'data' }]);
    expect(asset['raster:bands'][0].data_type).toBe('float32');
    expect(asset['raster:bands'][0].nodata).toBe('nan');
    expectStatistics(asset['raster:bands'][0].statistics, ndvi.values);
  });

  it('makes smaller GeoTIFFs when asked for a deflate level', async () => {
    const fast = await runToResults(url, auth, exampleProcess('ndvi-max-composite', 'GTiff'));
    const small = await runToResults(url, auth, exampleProcess('ndvi-max-composite', 'GTiff', { deflate_level: 9 }));
    const size = (r: Record<string, any>): number => (Object.values(r.assets)[0] as { 'file:size': number })['file:size'];
    expect(size(small.results)).toBeLessThan(size(fast.results));
    const path = join(downloads, 'ndvi-small.tif');
    writeFileSync(path, await download((Object.values(small.results.assets)[0] as { href: string }).href));
    expect(gdalinfo(path).metadata.IMAGE_STRUCTURE.LAYOUT).toBe('COG');
  });

  it('writes netCDF that GDAL reads with the reference values, CRS and transform', async () => {
    const { results } = await timed('netcdf', () => runToResults(url, auth, sstProcess('netCDF')));
    const asset = results.assets['result.nc'];
    expect(asset.type).toBe('application/netcdf');
    const path = join(downloads, 'sst.nc');
    writeFileSync(path, await download(asset.href));
    const dataset = `NETCDF:"${path}":sst`;
    const info = gdalinfo(dataset);
    expect(info.size).toEqual([sst.lon.length, sst.lat.length]);
    expect(info.geoTransform).toEqual([SST_BOX.west, 0.25, 0, SST_BOX.north, 0, -0.25]);
    expect(info.coordinateSystem.wkt).toMatch(/WGS 84/);
    const pixels = samplePixels(sst.lon.length, sst.lat.length, 200);
    const values = gdalValues(dataset, pixels);
    pixels.forEach(([c, r], i) => expect(close(values[i]!, sst.values[r * sst.lon.length + c]!), `cell ${c},${r}`).toBe(true));
    expect(asset['raster:bands']).toHaveLength(1);
    expect(asset['eo:bands']).toEqual([{ name: 'sst' }]);
    expectStatistics(asset['raster:bands'][0].statistics, sst.values);
  });

  it('writes Zarr v3 that zarrita reads (downloaded and by range from the link): values, coordinates, time and CRS', async () => {
    const box = { west: -30, south: 10, east: -20, north: 20 };
    const days = ['2012-01-03', '2012-01-04', '2012-01-05'];
    const { results } = await timed('zarr', () => runToResults(url, auth, sstProcess('Zarr', box, false, ['2012-01-03', '2012-01-06'], { chunk_size: 64 })));
    const asset = results.assets['result.zarr.zip'];
    expect(asset.type).toBe('application/zip');
    expect(asset['proj:epsg']).toBe(4326);
    expect(asset['proj:transform']).toEqual([0.25, 0, box.west, 0, -0.25, box.north]);
    const bytes = await download(asset.href);
    expect(bytes.byteLength).toBe(asset['file:size']);
    for (const store of [ZipFileStore.fromBlob(new Blob([bytes])), ZipFileStore.fromUrl(asset.href)]) {
      const root = zarr.root(store);
      const group = await zarr.open(root, { kind: 'group' });
      expect(group.attrs.Conventions).toBe('CF-1.8');
      const array = await zarr.open(root.resolve('sst'), { kind: 'array' });
      expect(array.shape).toEqual([3, 40, 40]);
      expect(array.chunks).toEqual([1, 64, 64]);
      expect(array.dtype).toBe('float32');
      expect(array.attrs.grid_mapping).toBe('crs');
      const crs = await zarr.open(root.resolve('crs'), { kind: 'array' });
      expect(crs.attrs.grid_mapping_name).toBe('latitude_longitude');
      expect(String(crs.attrs.crs_wkt)).toMatch(/WGS 84/);
      expect(crs.attrs.GeoTransform).toBe(`${box.west} 0.25 0 ${box.north} 0 -0.25`);
      const time = await zarr.open(root.resolve('time'), { kind: 'array' });
      expect(time.attrs.units).toBe('days since 1970-01-01');
      expect(Array.from((await zarr.get(time)).data as Float64Array)).toEqual(days.map((d) => Date.parse(`${d}T00:00:00Z`) / 86_400_000));
      const lat = (await zarr.get(await zarr.open(root.resolve('lat'), { kind: 'array' }))).data as Float64Array;
      const lon = (await zarr.get(await zarr.open(root.resolve('lon'), { kind: 'array' }))).data as Float64Array;
      const data = (await zarr.get(array)).data as Float32Array;
      for (let d = 0; d < days.length; d++) {
        const next = new Date(Date.parse(`${days[d]}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
        const day = await referenceSstMean(dataDir, box, days[d]!, next);
        expect(Array.from(lat)).toEqual(day.lat);
        expect(Array.from(lon)).toEqual(day.lon);
        for (let i = 0; i < day.values.length; i++) expect(close(data[d * 1600 + i]!, day.values[i]!), `day ${d} cell ${i}`).toBe(true);
      }
    }
    expect(asset['raster:bands'][0].statistics.valid_percent).toBeGreaterThan(0);
  });

  it('writes a small cube as labelled JSON with the reference values', async () => {
    const box = { west: -10, south: 40, east: -8, north: 42 };
    const { results } = await timed('json', () => runToResults(url, auth, sstProcess('JSON', box, true, ['2012-01-01', '2012-01-08'])));
    const asset = results.assets['result.json'];
    expect(asset.type).toBe('application/json');
    const document = JSON.parse(new TextDecoder().decode(await download(asset.href)));
    const reference = await referenceSstMean(dataDir, box, '2012-01-01', '2012-01-08');
    expect(document.dims).toEqual(['bands', 'lat', 'lon']);
    expect(document.coords.bands.data).toEqual(['sst']);
    expect(document.coords.lat.data).toEqual(reference.lat);
    expect(document.coords.lon.data).toEqual(reference.lon);
    expect(document.attrs.crs).toBe('EPSG:4326');
    expect(document.attrs.GeoTransform).toEqual([box.west, 0.25, 0, box.north, 0, -0.25]);
    expect(document.data).toHaveLength(1);
    const flat = (document.data[0] as (number | null)[][]).flat();
    expect(flat).toHaveLength(reference.values.length);
    flat.forEach((v, i) => expect(close(v ?? NaN, reference.values[i]!), `cell ${i}: ${v} vs ${reference.values[i]}`).toBe(true));
    expect(asset['eo:bands']).toEqual([{ name: 'sst' }]);
    expectStatistics(asset['raster:bands'][0].statistics, reference.values);
  });

  it('writes a plain value as JSON, and refuses a cube too large for JSON before running it', async () => {
    const sum = { process_graph: { sum: { process_id: 'sum', arguments: { data: [1, 2, 3.5] } }, save: { process_id: 'save_result', arguments: { data: { from_node: 'sum' }, format: 'JSON' }, result: true } } };
    const { results } = await runToResults(url, auth, sum);
    const asset = results.assets['result.json'];
    expect(JSON.parse(new TextDecoder().decode(await download(asset.href)))).toBe(6.5);
    expect(results.geometry).toBeNull();
    const refused = await request(url, '/jobs', { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ process: exampleProcess('ndvi-max-composite', 'JSON') }) });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('FormatUnsupported');
    expect(refused.body.message).toMatch(/JSON is for small results/);
  });

  it('writes PNG quick-looks: size, transparency, colour scale and georeferencing', async () => {
    const step = Math.ceil(Math.max(ndvi.width, ndvi.height) / 512);
    const source = (i: number, size: number): number => Math.min(size - 1, i * step + (step >> 1));
    const { results: grey } = await timed('png', () => runToResults(url, auth, exampleProcess('ndvi-max-composite', 'PNG', { colormap: 'greys', min: -1, max: 1, max_size: 512 })));
    const asset = grey.assets['result.png'];
    expect(asset.type).toBe('image/png');
    expect(asset.roles).toContain('visual');
    const png = decode(await download(asset.href));
    const width = Math.ceil(ndvi.width / step);
    const height = Math.ceil(ndvi.height / step);
    expect([png.width, png.height, png.channels, png.depth]).toEqual([width, height, 4, 8]);
    const transform = [ndvi.origin[0], ndvi.resolution[0]! * step, 0, ndvi.origin[1], 0, ndvi.resolution[1]! * step];
    expect(JSON.parse(png.text['proj:transform']!)).toEqual(transform);
    expect(png.text['proj:epsg']).toBe('32632');
    expect(asset['proj:transform']).toEqual([transform[1], 0, transform[0], 0, transform[5], transform[3]]);
    expect(asset['proj:shape']).toEqual([height, width]);
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        const value = ndvi.values[source(r, ndvi.height) * ndvi.width + source(c, ndvi.width)]!;
        const at = (r * width + c) * 4;
        if (Number.isNaN(value)) {
          expect(png.data[at + 3]).toBe(0);
          continue;
        }
        const level = Math.min(255, Math.max(0, Math.round(((value + 1) / 2) * 255)));
        expect(png.data[at + 3]).toBe(255);
        // Grey: R = G = B = the level (allowing for float32 against float64 at a rounding edge).
        expect(Math.abs(png.data[at]! - level)).toBeLessThanOrEqual(1);
        expect(png.data[at + 1]).toBe(png.data[at]);
      }
    }
    // Default scale: the 2nd and 98th percentiles of the values shown.
    const { results: viridis } = await runToResults(url, auth, exampleProcess('ndvi-max-composite', 'PNG', { max_size: 512 }));
    const look = decode(await download(viridis.assets['result.png'].href));
    const shown: number[] = [];
    for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) shown.push(ndvi.values[source(r, ndvi.height) * ndvi.width + source(c, ndvi.width)]!);
    const finite = Float64Array.from(shown.filter((v) => !Number.isNaN(v))).sort();
    const percentile = (p: number): number => {
      const position = (p / 100) * (finite.length - 1);
      const lower = Math.floor(position);
      return finite[lower]! + (finite[Math.min(finite.length - 1, lower + 1)]! - finite[lower]!) * (position - lower);
    };
    expect(close(Number(look.text['openeo:scale_min']), percentile(2), 1e-6)).toBe(true);
    expect(close(Number(look.text['openeo:scale_max']), percentile(98), 1e-6)).toBe(true);
    expect(look.text['openeo:colormap']).toBe('viridis');
    expect(viridis.assets['result.png'].description).toMatch(/viridis from .* \(2 %\) to .* \(98 %\)/);
  });

  it('refuses unknown formats and bad format options with openEO errors', async () => {
    const create = (process: Record<string, unknown>) => request(url, '/jobs', { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ process }) });
    let reply = await create(exampleProcess('ndvi-max-composite', 'HDF4'));
    expect([reply.status, reply.body.code]).toEqual([400, 'FormatUnsupported']);
    reply = await create(exampleProcess('ndvi-max-composite', 'PNG', { colormap: 'rainbow' }));
    expect([reply.status, reply.body.code]).toEqual([400, 'ProcessParameterInvalid']);
    expect(reply.body.message).toMatch(/viridis/);
    reply = await create(exampleProcess('ndvi-max-composite', 'GTiff', { deflate_level: 12 }));
    expect([reply.status, reply.body.code]).toEqual([400, 'ProcessParameterInvalid']);
    reply = await create(exampleProcess('ndvi-max-composite', 'Zarr', { compression: 'zstd' }));
    expect([reply.status, reply.body.code]).toEqual([400, 'ProcessParameterInvalid']);
    reply = await create(exampleProcess('ndvi-max-composite', 'PNG', { min: 0 }));
    expect([reply.status, reply.body.code]).toEqual([400, 'ProcessParameterInvalid']);
  });
});
