import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import h5wasm, { Dataset } from 'h5wasm/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTaskError } from '../../common/errors.js';
import type { GeoTransform } from '../../common/raster.js';
import { cfGridMappingAttributes, utmZoneOfEpsg, wktForEpsg } from '../../worker/io/crs-wkt.js';
import { chunkShape, gridCoordinates, timeCoordinate, writeNetcdf, type NetcdfDocument } from '../../worker/io/netcdf-writer.js';

const INSTALL_HINT = 'apt-get install -y netcdf-bin gdal-bin';

function requireTool(tool: string): void {
  const probe = spawnSync(tool, tool === 'ncdump' ? [] : ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined) throw new Error(`${tool} is not installed; the NetCDF writer tests check files with it: ${INSTALL_HINT}`);
}

function run(tool: string, args: string[]): string {
  return execFileSync(tool, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Values of `variable` from `ncdump -v` at full float precision; `_` (fill) reads as NaN. */
function ncdumpValues(path: string, variable: string): number[] {
  const text = run('ncdump', ['-p', '9,17', '-v', variable, path]);
  const data = text.slice(text.indexOf('\ndata:'));
  const block = new RegExp(`\\b${variable} =([^;]*);`).exec(data);
  if (block === null) throw new Error(`no data for ${variable} in ncdump output`);
  return (block[1] as string)
    .split(',')
    .map((token) => token.trim())
    .map((token) => (token === '_' ? NaN : Number(token)));
}

interface GdalInfo {
  size: [number, number];
  geoTransform: number[];
  coordinateSystem: { wkt: string };
  bands: { band: number; noDataValue?: number | string; type: string }[];
}

function gdalinfo(path: string, variable: string): GdalInfo {
  return JSON.parse(run('gdalinfo', ['-json', `NETCDF:"${path}":${variable}`])) as GdalInfo;
}

function expectGeoTransform(actual: number[], expected: GeoTransform): void {
  expect(actual).toHaveLength(6);
  actual.forEach((value, i) => expect(Math.abs(value - (expected[i] as number))).toBeLessThanOrEqual(1e-9));
}

async function readBack<T>(path: string, read: (file: InstanceType<typeof h5wasm.File>) => T): Promise<T> {
  await h5wasm.ready;
  const file = new h5wasm.File(path, 'r');
  try {
    return read(file);
  } finally {
    file.close();
  }
}

function dataset(file: InstanceType<typeof h5wasm.File>, name: string): Dataset {
  const entity = file.get(name);
  if (!(entity instanceof Dataset)) throw new Error(`no dataset ${name}`);
  return entity;
}

let dir: string;

beforeAll(async () => {
  requireTool('ncdump');
  requireTool('gdalinfo');
  dir = await mkdtemp(join(tmpdir(), 'netcdf-writer-'));
});

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('writeNetcdf: lat/lon float32 with NaN fill and a time axis', () => {
  const geoTransform: GeoTransform = [-10, 0.25, 0, 60, 0, -0.25];
  const width = 24;
  const height = 16;
  const dates = ['2020-01-01', '2020-01-02'];
  const value = (t: number, row: number, col: number): number => ((row + col + t) % 11 === 0 ? NaN : 10 + t * 5 + row * 0.25 + col * 0.01);
  const data = Float32Array.from({ length: dates.length * height * width }, (_, i) => value(Math.floor(i / (height * width)), Math.floor(i / width) % height, i % width));
  let path: string;

  beforeAll(async () => {
    path = join(dir, 'latlon.nc');
    const grid = gridCoordinates(4326, geoTransform, width, height);
    const time = timeCoordinate(dates);
    const doc: NetcdfDocument = {
      dims: [{ ...time.dim, unlimited: true }, ...grid.dims],
      coordinates: [time.coordinate, ...grid.coordinates],
      variables: [{ name: 'sst', dims: ['time', 'lat', 'lon'], data, fillValue: NaN, attributes: { units: 'degC', long_name: 'sea surface temperature', valid_range: [-5, 50] } }],
      crs: { epsg: 4326, wkt: wktForEpsg(4326), geoTransform },
      globalAttributes: { title: 'writer test', source: '' },
      compression: { level: 4 },
    };
    const { bytes } = await writeNetcdf(path, doc);
    expect(bytes).toBeGreaterThan(0);
  });

  it('has the dimensions, types and CF attributes netCDF-C reports', () => {
    const header = run('ncdump', ['-h', path]);
    expect(header).toContain('time = UNLIMITED ; // (2 currently)');
    expect(header).toContain('lat = 16 ;');
    expect(header).toContain('lon = 24 ;');
    expect(header).toContain('float sst(time, lat, lon) ;');
    expect(header).toContain('sst:_FillValue = NaNf ;');
    expect(header).toContain('sst:valid_range = -5.f, 50.f ;');
    expect(header).toContain('sst:units = "degC" ;');
    expect(header).toContain('sst:grid_mapping = "crs" ;');
    expect(header).toContain('double time(time) ;');
    expect(header).toContain('time:units = "days since 1970-01-01" ;');
    expect(header).toContain('time:calendar = "standard" ;');
    expect(header).toContain('time:axis = "T" ;');
    expect(header).toContain('double lat(lat) ;');
    expect(header).toContain('lat:units = "degrees_north" ;');
    expect(header).toContain('lon:units = "degrees_east" ;');
    expect(header).toContain('int crs ;');
    expect(header).toContain('crs:grid_mapping_name = "latitude_longitude" ;');
    expect(header).toContain('crs:GeoTransform = "-10 0.25 0 60 0 -0.25" ;');
    expect(header).toContain(':Conventions = "CF-1.8" ;');
    expect(header).toContain(':source = "" ;');
  });

  it('stores north-up rows, pixel-centre coordinates, the dates and the cell values', () => {
    expect(ncdumpValues(path, 'time')).toEqual([18262, 18263]);
    const lat = ncdumpValues(path, 'lat');
    expect(lat[0]).toBe(59.875);
    expect(lat[height - 1]).toBe(56.125);
    expect(ncdumpValues(path, 'lon').slice(0, 2)).toEqual([-9.875, -9.625]);
    const sst = ncdumpValues(path, 'sst');
    expect(sst).toHaveLength(data.length);
    for (const [t, row, col] of [[0, 0, 1], [0, 5, 7], [1, 15, 23], [1, 3, 18], [0, 0, 0], [1, 10, 0]] as const) {
      const expected = Math.fround(value(t, row, col));
      const actual = sst[(t * height + row) * width + col] as number;
      if (Number.isNaN(expected)) expect(actual).toBeNaN();
      else expect(Math.fround(actual)).toBe(expected);
    }
  });

  it('is read by GDAL with its CRS, geotransform, nodata and one band per time step', () => {
    const info = gdalinfo(path, 'sst');
    expect(info.size).toEqual([width, height]);
    expect(info.coordinateSystem.wkt).toContain('ID["EPSG",4326]');
    expectGeoTransform(info.geoTransform, geoTransform);
    expect(info.bands).toHaveLength(dates.length);
    for (const band of info.bands) {
      expect(band.type).toBe('Float32');
      expect(Number(band.noDataValue)).toBeNaN();
    }
  });

  it('reads back with h5wasm: dimension scales attached, typed _FillValue, identical values', async () => {
    await readBack(path, (file) => {
      const sst = dataset(file, 'sst');
      expect(sst.shape).toEqual([2, height, width]);
      expect(sst.dtype).toBe('<f');
      expect(sst.filters.map((filter) => filter.name)).toContain('deflate');
      expect([0, 1, 2].map((axis) => sst.get_attached_scales(axis))).toEqual([['/time'], ['/lat'], ['/lon']]);
      expect(dataset(file, 'time').get_scale_name()).toBe('time');
      const fill = sst.attrs._FillValue;
      expect(fill?.dtype).toBe('<f');
      expect(Number.isNaN((fill?.value as Float32Array)[0])).toBe(true);
      const values = sst.value as Float32Array;
      expect(values).toHaveLength(data.length);
      expect(values.every((v, i) => Object.is(v, data[i]))).toBe(true);
    });
  });
});

describe('writeNetcdf: UTM 32N float32 without time', () => {
  const geoTransform: GeoTransform = [399965.123, 10.5, 0, 5300037.987, 0, -10.25];
  const width = 37;
  const height = 23;
  const data = Float32Array.from({ length: width * height }, (_, i) => (i % 13 === 0 ? -9999 : Math.sin(i) * 0.8));
  let path: string;

  beforeAll(async () => {
    path = join(dir, 'utm32n.nc');
    const grid = gridCoordinates(32632, geoTransform, width, height);
    await writeNetcdf(path, {
      dims: grid.dims,
      coordinates: grid.coordinates,
      variables: [{ name: 'ndvi', dims: ['y', 'x'], data, fillValue: -9999, attributes: { long_name: 'NDVI' } }],
      crs: { epsg: 32632, wkt: wktForEpsg(32632), geoTransform },
    });
  });

  it('has the dimensions, types and transverse_mercator grid mapping netCDF-C reports', () => {
    const header = run('ncdump', ['-h', path]);
    expect(header).toContain('y = 23 ;');
    expect(header).toContain('x = 37 ;');
    expect(header).not.toContain('time');
    expect(header).toContain('float ndvi(y, x) ;');
    expect(header).toContain('ndvi:_FillValue = -9999.f ;');
    expect(header).toContain('ndvi:grid_mapping = "crs" ;');
    expect(header).toContain('y:standard_name = "projection_y_coordinate" ;');
    expect(header).toContain('x:units = "m" ;');
    expect(header).toContain('crs:grid_mapping_name = "transverse_mercator" ;');
    expect(header).toContain('crs:longitude_of_central_meridian = 9. ;');
    expect(header).toContain('crs:scale_factor_at_central_meridian = 0.9996 ;');
    expect(header).toContain('crs:false_easting = 500000. ;');
    expect(header).toContain('crs:false_northing = 0. ;');
    expect(header).toContain('AUTHORITY[\\"EPSG\\",\\"32632\\"]]" ;');
  });

  it('stores the cell values and pixel-centre coordinates', () => {
    const ndvi = ncdumpValues(path, 'ndvi');
    for (const index of [1, 100, width * height - 1]) expect(Math.fround(ndvi[index] as number)).toBe(data[index]);
    // ncdump shows cells equal to _FillValue as "_".
    for (const index of [0, 13 * 7]) expect(ndvi[index]).toBeNaN();
    expect(ncdumpValues(path, 'x')[0]).toBe(399965.123 + 5.25);
    expect(ncdumpValues(path, 'y')[height - 1]).toBe(5300037.987 - 22.5 * 10.25);
  });

  it('is read by GDAL as EPSG:32632 with the given geotransform and nodata', () => {
    const info = gdalinfo(path, 'ndvi');
    expect(info.coordinateSystem.wkt).toContain('ID["EPSG",32632]');
    expectGeoTransform(info.geoTransform, geoTransform);
    expect(info.bands).toHaveLength(1);
    expect(info.bands[0]?.noDataValue).toBe(-9999);
  });

  it('reads back with h5wasm', async () => {
    await readBack(path, (file) => {
      const ndvi = dataset(file, 'ndvi');
      expect(ndvi.shape).toEqual([height, width]);
      expect(ndvi.get_attached_scales(0)).toEqual(['/y']);
      expect(Array.from(ndvi.value as Float32Array)).toEqual(Array.from(data));
      expect(dataset(file, 'crs').shape).toEqual([]);
    });
  });
});

describe('writeNetcdf: a dimension without coordinate variable, integer data', () => {
  it('is a hidden netCDF dimension and integer attributes take the variable type', async () => {
    const path = join(dir, 'bands.nc');
    const geoTransform: GeoTransform = [399960, 20, 0, 5300040, 0, -20];
    const grid = gridCoordinates(32633, geoTransform, 5, 4);
    const data = Int16Array.from({ length: 3 * 4 * 5 }, (_, i) => i - 30);
    await writeNetcdf(path, {
      dims: [{ name: 'band', size: 3 }, ...grid.dims],
      coordinates: grid.coordinates,
      variables: [{ name: 'dn', dims: ['band', 'y', 'x'], data, fillValue: -999, attributes: { valid_range: [-100, 100], scale_factor: 0.5 } }],
      crs: { epsg: 32633, wkt: wktForEpsg(32633), geoTransform },
    });
    const header = run('ncdump', ['-h', path]);
    expect(header).toContain('band = 3 ;');
    expect(header).toContain('short dn(band, y, x) ;');
    expect(header).toContain('dn:_FillValue = -999s ;');
    expect(header).toContain('dn:valid_range = -100s, 100s ;');
    expect(header).toContain('dn:scale_factor = 0.5 ;');
    expect(header).not.toMatch(/\bband\(band\)/);
    expect(ncdumpValues(path, 'dn')).toEqual(Array.from(data));
    expect(gdalinfo(path, 'dn').bands).toHaveLength(3);
  });
});

describe('writeNetcdf: failures', () => {
  it('rejects an inconsistent document without creating the file', async () => {
    const path = join(dir, 'bad.nc');
    const write = writeNetcdf(path, { dims: [{ name: 'x', size: 4 }], coordinates: [], variables: [{ name: 'v', dims: ['x'], data: new Float32Array(3) }] });
    await expect(write).rejects.toSatisfy((error: unknown) => isTaskError(error) && error.kind === 'internal' && /3 values/.test(error.message));
    expect(await readdir(dir)).not.toContain('bad.nc');
  });

  it('reports an unwritable target as a StorageFailure and leaves no temporary file', async () => {
    const missingFolder = join(dir, 'missing-folder');
    const write = writeNetcdf(join(missingFolder, 'out.nc'), { dims: [{ name: 'x', size: 2 }], coordinates: [], variables: [{ name: 'v', dims: ['x'], data: new Float32Array(2) }] });
    await expect(write).rejects.toSatisfy((error: unknown) => isTaskError(error) && error.openeoCode === 'StorageFailure' && error.message.includes('out.nc'));
    expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});

describe('chunkShape', () => {
  it('keeps one plane per chunk when it fits in 4 MiB, else whole rows', () => {
    expect(chunkShape([10, 720, 1440], 4)).toEqual([1, 720, 1440]);
    expect(chunkShape([5000, 4000], 2)).toEqual([524, 4000]);
    expect(chunkShape([3], 8)).toEqual([3]);
    expect(chunkShape([2, 10, 2_000_000], 4)).toEqual([1, 1, 1_048_576]);
  });
});

describe('crs-wkt', () => {
  it('writes the WKT1 GDAL writes', () => {
    requireTool('gdalsrsinfo');
    for (const epsg of [4326, 32601, 32632, 32660, 32701, 32733, 32760]) {
      const gdal = run('gdalsrsinfo', ['-o', 'wkt1', `EPSG:${epsg}`]).replace(/\n\s*/g, '').trim();
      expect(wktForEpsg(epsg)).toBe(gdal);
    }
  });

  it('gives CF transverse_mercator parameters for UTM zones', () => {
    expect(utmZoneOfEpsg(32733)).toEqual({ zone: 33, hemisphere: 'south' });
    expect(utmZoneOfEpsg(32661)).toBeNull();
    expect(cfGridMappingAttributes(32733)).toMatchObject({
      grid_mapping_name: 'transverse_mercator',
      longitude_of_central_meridian: 15,
      scale_factor_at_central_meridian: 0.9996,
      false_easting: 500000,
      false_northing: 10000000,
      latitude_of_projection_origin: 0,
    });
    expect(cfGridMappingAttributes(4326).grid_mapping_name).toBe('latitude_longitude');
    expect(() => wktForEpsg(3857)).toThrow(/EPSG:3857 is not supported/);
  });
});
