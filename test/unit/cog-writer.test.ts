import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { fromFile } from 'geotiff';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTaskError } from '../../common/errors.js';
import { allocate, viewAs, type DType, type GeoTransform, type TypedArray } from '../../common/raster.js';
import { defaultTileEncoding, downsample2x, encodeTile, extractTile, resolveTileEncoding } from '../../worker/io/cog-tile-encoder.js';
import { assembleCog, writeCog, type CogLayout, type CogLevel } from '../../worker/io/cog-writer.js';
import { ndviLikeField } from '../../worker/io/cog-write-bench.js';

/**
 * The COG writer checked against GDAL (the reference reader) and geotiff.js (the reader the
 * back-end uses): metadata, every pixel of every level, and the byte layout GDAL's COG driver uses.
 */

const UTM_32N = 32632;
const WGS84 = 4326;
const UTM_TRANSFORM: GeoTransform = [300000, 10, 0, 5000040, 0, -10];
const LONLAT_TRANSFORM: GeoTransform = [10.5, 0.001, 0, 47.3, 0, -0.001];

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cog-writer-'));
});

/** GDAL is the reference reader of these tests (never a run-time dependency): without it they fail, saying how to get it. */
function requireGdal(): void {
  const probe = spawnSync('gdalinfo', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error('gdalinfo not found: these tests check files with GDAL; install it with `apt-get install -y gdal-bin`', { cause: probe.error });
  }
}

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Readers

interface GdalInfo {
  size: [number, number];
  geoTransform: number[];
  coordinateSystem: { wkt: string };
  metadata: Record<string, Record<string, string>>;
  bands: { block: [number, number]; type: string; noDataValue?: number | string; overviews?: { size: [number, number] }[] }[];
}

function gdalinfo(path: string): GdalInfo {
  return JSON.parse(execFileSync('gdalinfo', ['-json', path], { encoding: 'utf8' })) as GdalInfo;
}

function epsgOf(info: GdalInfo): number {
  const match = /ID\["EPSG",(\d+)\]\]\s*$/.exec(info.coordinateSystem.wkt);
  return Number(match?.[1]);
}

/**
 * Every sample of a level as GDAL decodes it: ENVI writes bare samples in host byte order. The
 * georeferencing is replaced by a north-up one because ENVI cannot store rotated grids.
 */
function gdalSamples(path: string, dtype: DType, overview?: number): TypedArray {
  const out = join(dir, `raw-${Math.random().toString(36).slice(2)}.bin`);
  const level = overview === undefined ? [] : ['-ovr', String(overview)];
  execFileSync('gdal_translate', ['-q', '-of', 'ENVI', '-a_ullr', '0', '1', '1', '0', ...level, path, out]);
  const samples = viewAs(dtype, new Uint8Array(readFileSync(out)));
  for (const name of readdirSync(dir)) if (name.startsWith(out.slice(dir.length + 1, -4))) rmSync(join(dir, name));
  return samples;
}

/** Single values through gdallocationinfo, which reads only the blocks it needs. */
function gdalValues(path: string, points: [number, number][]): number[] {
  const input = points.map(([x, y]) => `${x} ${y}`).join('\n');
  const text = execFileSync('gdallocationinfo', ['-valonly', path], { input, encoding: 'utf8' });
  return text.trim().split('\n').map((line) => (line.trim() === 'nan' ? NaN : Number(line)));
}

async function geotiffLevels(path: string): Promise<{ width: number; height: number; samples: TypedArray; nodata: number | null }[]> {
  const tiff = await fromFile(path);
  try {
    const levels = [];
    for (let i = 0; i < (await tiff.getImageCount()); i++) {
      const image = await tiff.getImage(i);
      const samples = (await image.readRasters({ interleave: true })) as unknown as TypedArray;
      levels.push({ width: image.getWidth(), height: image.getHeight(), samples, nodata: image.getGDALNoData() });
    }
    return levels;
  } finally {
    await tiff.close();
  }
}

function expectSameSamples(actual: TypedArray, expected: TypedArray): void {
  expect(actual.length).toBe(expected.length);
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  // Byte equality: exact values, NaN bit patterns included, without a million expect() calls.
  if (!a.equals(b)) {
    const first = actual.findIndex((v, i) => !Object.is(v, expected[i]));
    expect.fail(`sample ${first} differs: ${actual[first]} != ${expected[first]}`);
  }
}

/** The pyramid writeCog must have written, computed here from the same functions. */
function pyramid(data: TypedArray, width: number, height: number, method: 'average' | 'nearest', nodata: number | null, tileSize = 512): { data: TypedArray; width: number; height: number }[] {
  const levels = [{ data, width, height }];
  while (levels.at(-1)!.width > tileSize || levels.at(-1)!.height > tileSize) {
    const last = levels.at(-1)!;
    levels.push(downsample2x(last.data, last.width, last.height, method, nodata));
  }
  return levels;
}

// ---------------------------------------------------------------------------------------------
// Byte layout

interface ParsedIfd {
  offset: number;
  /** First byte after the entry table and every out-of-line value of this IFD. */
  end: number;
  tags: Map<number, number[]>;
}

/** A minimal independent TIFF/BigTIFF parser: IFD chain, tag values and where they lie. */
function parseTiff(bytes: Buffer): { bigTiff: boolean; ifds: ParsedIfd[] } {
  const little = bytes.toString('latin1', 0, 2) === 'II';
  const u16 = (at: number): number => (little ? bytes.readUInt16LE(at) : bytes.readUInt16BE(at));
  const u32 = (at: number): number => (little ? bytes.readUInt32LE(at) : bytes.readUInt32BE(at));
  const u64 = (at: number): number => Number(little ? bytes.readBigUInt64LE(at) : bytes.readBigUInt64BE(at));
  const bigTiff = u16(2) === 43;
  const offsetAt = bigTiff ? u64 : u32;
  const typeSize: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 12: 8, 16: 8 };
  const read: Record<number, (at: number) => number> = {
    1: (at) => bytes[at]!,
    2: (at) => bytes[at]!,
    3: u16,
    4: u32,
    12: (at) => (little ? bytes.readDoubleLE(at) : bytes.readDoubleBE(at)),
    16: u64,
  };
  const ifds: ParsedIfd[] = [];
  let offset = offsetAt(bigTiff ? 8 : 4);
  while (offset !== 0) {
    const count = bigTiff ? u64(offset) : u16(offset);
    const entries = offset + (bigTiff ? 8 : 2);
    const entrySize = bigTiff ? 20 : 12;
    let end = entries + count * entrySize + (bigTiff ? 8 : 4);
    const tags = new Map<number, number[]>();
    for (let i = 0; i < count; i++) {
      const entry = entries + i * entrySize;
      const type = u16(entry + 2);
      const n = bigTiff ? u64(entry + 4) : u32(entry + 4);
      const valueField = entry + (bigTiff ? 12 : 8);
      const size = n * typeSize[type]!;
      const at = size <= (bigTiff ? 8 : 4) ? valueField : offsetAt(valueField);
      if (at !== valueField) end = Math.max(end, at + size);
      tags.set(u16(entry), Array.from({ length: n }, (_, k) => read[type]!(at + k * typeSize[type]!)));
    }
    ifds.push({ offset, end, tags });
    offset = offsetAt(entries + count * entrySize);
  }
  return { bigTiff, ifds };
}

/** Asserts GDAL's COG layout: headers first, tile data smallest overview first, framed tiles. */
function expectCogLayout(path: string): void {
  const bytes = readFileSync(path);
  const { bigTiff, ifds } = parseTiff(bytes);
  expect(bytes.toString('latin1', bigTiff ? 16 : 8, (bigTiff ? 16 : 8) + 30)).toBe('GDAL_STRUCTURAL_METADATA_SIZE=');
  expect(ifds[0]!.offset).toBeLessThan(300);
  expect(ifds[0]!.tags.has(254)).toBe(false);
  for (const ifd of ifds.slice(1)) expect(ifd.tags.get(254)).toEqual([1]);

  const headerEnd = Math.max(...ifds.map((ifd) => ifd.end));
  const tileRanges = ifds.map((ifd) => {
    const offsets = ifd.tags.get(324)!;
    const counts = ifd.tags.get(325)!;
    return { first: Math.min(...offsets), last: Math.max(...offsets), offsets, counts };
  });
  expect(headerEnd).toBeLessThanOrEqual(Math.min(...tileRanges.map((r) => r.first)) - 4);
  // Data of each level lies wholly before the data of the next larger level.
  for (let i = ifds.length - 1; i > 0; i--) expect(tileRanges[i]!.last).toBeLessThan(tileRanges[i - 1]!.first);

  let expectedNext = -1;
  for (let i = ifds.length - 1; i >= 0; i--) {
    const { offsets, counts } = tileRanges[i]!;
    offsets.forEach((offset, t) => {
      const count = counts[t]!;
      if (expectedNext >= 0) expect(offset).toBe(expectedNext);
      expect(bytes.readUInt32LE(offset - 4)).toBe(count);
      expect(bytes.subarray(offset + count, offset + count + 4).equals(bytes.subarray(offset + count - 4, offset + count))).toBe(true);
      expectedNext = offset + count + 8;
    });
  }
  expect(bytes.length).toBe(expectedNext - 4);
}

// ---------------------------------------------------------------------------------------------

interface Case {
  name: string;
  dtype: DType;
  width: number;
  height: number;
  epsg: number;
  transform: GeoTransform;
  nodata: number | null;
  method: 'average' | 'nearest';
  predictor: string;
  overviews: [number, number][];
  data: () => TypedArray;
}

const CASES: Case[] = [
  {
    name: 'float32 1098x1098, NaN nodata, EPSG:32632',
    dtype: 'float32',
    width: 1098,
    height: 1098,
    epsg: UTM_32N,
    transform: UTM_TRANSFORM,
    nodata: NaN,
    method: 'average',
    predictor: '3',
    overviews: [[549, 549], [274, 274]],
    data: () => {
      const data = ndviLikeField(1098, 1098, 7);
      data[1098 * 1098 - 1] = 0.123; // last pixel of the last (partial) tile
      data[1097] = NaN; // end of the first row
      data[1098 * 1097] = -0.75; // start of the last row
      return data;
    },
  },
  {
    name: 'uint16 700x300, nodata 0, EPSG:4326',
    dtype: 'uint16',
    width: 700,
    height: 300,
    epsg: WGS84,
    transform: LONLAT_TRANSFORM,
    nodata: 0,
    method: 'average',
    predictor: '2',
    overviews: [[350, 150]],
    data: () => {
      const data = new Uint16Array(700 * 300);
      // Reflectance-like values with a nodata band (rows 0-19) and wrap-around-prone differences.
      for (let y = 20; y < 300; y++) for (let x = 0; x < 700; x++) data[y * 700 + x] = ((x * 37 + y * 101) % 9000) + (x % 2 ? 65000 - 9000 : 1);
      return data;
    },
  },
  {
    name: 'uint8 700x300 classes, no nodata, EPSG:32632, nearest overviews',
    dtype: 'uint8',
    width: 700,
    height: 300,
    epsg: UTM_32N,
    transform: UTM_TRANSFORM,
    nodata: null,
    method: 'nearest',
    predictor: '2',
    overviews: [[350, 150]],
    data: () => Uint8Array.from({ length: 700 * 300 }, (_, i) => (Math.floor((i % 700) / 50) + Math.floor(i / 700 / 40)) % 12),
  },
];

describe('writeCog', () => {
  beforeAll(requireGdal);

  for (const c of CASES) {
    describe(c.name, () => {
      let path: string;
      let data: TypedArray;

      beforeAll(async () => {
        path = join(dir, `${c.dtype}.tif`);
        data = c.data();
        await writeCog(path, data, { width: c.width, height: c.height, dtype: c.dtype, transform: c.transform, epsg: c.epsg, nodata: c.nodata, description: c.name }, { overviewMethod: c.method });
      });

      it('gdalinfo reports size, CRS, geotransform, nodata, tiling, compression and overviews', () => {
        const info = gdalinfo(path);
        expect(info.size).toEqual([c.width, c.height]);
        expect(epsgOf(info)).toBe(c.epsg);
        expect(info.geoTransform).toEqual(c.transform);
        expect(info.metadata['']).toMatchObject({ AREA_OR_POINT: 'Area', TIFFTAG_IMAGEDESCRIPTION: c.name });
        expect(info.metadata.IMAGE_STRUCTURE).toMatchObject({ COMPRESSION: 'DEFLATE', PREDICTOR: c.predictor, LAYOUT: 'COG' });
        const band = info.bands[0]!;
        expect(band.block).toEqual([512, 512]);
        expect(band.type).toBe({ float32: 'Float32', uint16: 'UInt16', uint8: 'Byte' }[c.dtype as string]);
        if (c.nodata === null) expect(band.noDataValue).toBeUndefined();
        else expect(band.noDataValue).toBe(Number.isNaN(c.nodata) ? 'NaN' : c.nodata);
        expect(band.overviews?.map((o) => o.size)).toEqual(c.overviews);
      });

      it('GDAL reads back every pixel of every level, edges included', () => {
        const expected = pyramid(data, c.width, c.height, c.method, c.nodata);
        expect(expected.length - 1).toBe(c.overviews.length);
        expectSameSamples(gdalSamples(path, c.dtype), data);
        expected.slice(1).forEach((level, i) => expectSameSamples(gdalSamples(path, c.dtype, i), level.data));

        const w = c.width, h = c.height;
        const points: [number, number][] = [[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1], [511, Math.min(511, h - 1)], [512, 0], [w - 1, h >> 1], [300, h - 1]];
        const values = gdalValues(path, points);
        points.forEach(([x, y], i) => {
          const expectedValue = data[y * w + x]!;
          expect(Object.is(c.dtype === 'float32' ? Math.fround(values[i]!) : values[i], expectedValue), `pixel (${x}, ${y})`).toBe(true);
        });
      });

      it('overview pixels are the mean (or nearest) of their 2x2 block', () => {
        const w = c.width;
        const overview = gdalSamples(path, c.dtype, 0);
        for (const [x, y] of [[0, 0], [17, 33], [c.overviews[0]![0] - 1, c.overviews[0]![1] - 1]] as [number, number][]) {
          const block = [data[2 * y * w + 2 * x]!, data[2 * y * w + 2 * x + 1]!, data[(2 * y + 1) * w + 2 * x]!, data[(2 * y + 1) * w + 2 * x + 1]!];
          const valid = block.filter((v) => !Number.isNaN(v) && v !== c.nodata);
          const value = overview[y * c.overviews[0]![0] + x]!;
          if (c.method === 'nearest') expect(value).toBe(block[0]);
          else if (valid.length === 0) expect(Object.is(value, c.nodata)).toBe(true);
          else if (c.dtype === 'float32') expect(value).toBe(Math.fround(valid.reduce((s, v) => s + v, 0) / valid.length));
          else expect(value).toBe(Math.floor(valid.reduce((s, v) => s + v, 0) / valid.length + 0.5));
        }
      });

      it('has the COG layout: all IFDs before the data, overview tiles before full-resolution tiles', () => {
        expectCogLayout(path);
        expect(readdirSync(dir).filter((name) => name.includes('.partial'))).toEqual([]);
      });

      it('geotiff.js reads back identical values, nodata and georeferencing', async () => {
        const expected = pyramid(data, c.width, c.height, c.method, c.nodata);
        const levels = await geotiffLevels(path);
        expect(levels.map((l) => [l.width, l.height])).toEqual(expected.map((l) => [l.width, l.height]));
        levels.forEach((level, i) => expectSameSamples(level.samples, expected[i]!.data));
        expect(Object.is(levels[0]!.nodata, c.nodata)).toBe(true);
        const tiff = await fromFile(path);
        const image = await tiff.getImage(0);
        expect(image.getOrigin().slice(0, 2)).toEqual([c.transform[0], c.transform[3]]);
        expect(image.getResolution().slice(0, 2)).toEqual([c.transform[1], c.transform[5]]);
        expect(image.getGeoKeys()).toMatchObject(c.epsg === WGS84 ? { GTModelTypeGeoKey: 2, GeographicTypeGeoKey: WGS84 } : { GTModelTypeGeoKey: 1, ProjectedCSTypeGeoKey: c.epsg });
        await tiff.close();
      });
    });
  }

  it('writes every dtype losslessly, with small tiles, several overviews and a rotated grid', async () => {
    const width = 100, height = 70;
    const rotated: GeoTransform = [500000, 9.9, 1.2, 4000000, 0.8, -10.1];
    for (const dtype of ['int8', 'int16', 'int32', 'uint32', 'float64'] as DType[]) {
      const data = allocate(dtype, width * height);
      const span = { int8: 256, int16: 65536, int32: 2 ** 32, uint32: 2 ** 32, float64: 1 }[dtype as string]!;
      for (let i = 0; i < data.length; i++) data[i] = dtype === 'float64' ? Math.sin(i / 7) * 1e6 + i * 1e-9 : Math.floor(((i * 2654435761) % span) - (dtype.startsWith('int') ? span / 2 : 0));
      const path = join(dir, `small-${dtype}.tif`);
      await writeCog(path, data, { width, height, dtype, transform: rotated, epsg: UTM_32N, nodata: null, tileSize: 32 });
      const info = gdalinfo(path);
      expect(info.bands[0]!.block).toEqual([32, 32]);
      expect(info.bands[0]!.overviews?.map((o) => o.size)).toEqual([[50, 35], [25, 17]]);
      expect(info.geoTransform).toEqual(rotated);
      expectSameSamples(gdalSamples(path, dtype), data);
      const expected = pyramid(data, width, height, 'average', null, 32);
      expected.slice(1).forEach((level, i) => expectSameSamples(gdalSamples(path, dtype, i), level.data));
      const levels = await geotiffLevels(path);
      levels.forEach((level, i) => expectSameSamples(level.samples, expected[i]!.data));
      expectCogLayout(path);
    }
  });

  it('honours an explicit deflate level and uncompressed output', async () => {
    const data = ndviLikeField(600, 520, 3);
    const layout = { width: 600, height: 520, dtype: 'float32' as const, transform: UTM_TRANSFORM, epsg: UTM_32N, nodata: NaN };
    const lz77 = join(dir, 'level6.tif');
    const raw = join(dir, 'raw.tif');
    await writeCog(lz77, data, layout, { level: 6 });
    await writeCog(raw, data, layout, { compression: 'none' });
    expect(gdalinfo(raw).metadata.IMAGE_STRUCTURE?.COMPRESSION).toBeUndefined();
    for (const path of [lz77, raw]) {
      expectSameSamples(gdalSamples(path, 'float32'), data);
      expectSameSamples((await geotiffLevels(path))[0]!.samples, data);
      expectCogLayout(path);
    }
  });

  it('writes BigTIFF on request and GDAL and geotiff.js read it', async () => {
    const width = 700, height = 300;
    const data = Uint16Array.from({ length: width * height }, (_, i) => i % 4099);
    const layout: CogLayout = { width, height, dtype: 'uint16', tileSize: 512, transform: LONLAT_TRANSFORM, epsg: WGS84, nodata: 0 };
    const encoding = defaultTileEncoding('uint16');
    const levels: CogLevel[] = [];
    for (const level of pyramid(data, width, height, 'average', 0)) {
      const tiles: Uint8Array[] = [];
      for (let row = 0; row < Math.ceil(level.height / 512); row++) {
        for (let col = 0; col < Math.ceil(level.width / 512); col++) tiles.push(encodeTile(extractTile(level.data, level.width, level.height, col, row, 512, 0), 512, 'uint16', encoding));
      }
      levels.push({ width: level.width, height: level.height, tiles });
    }
    const path = join(dir, 'big.tif');
    const { bytes } = await assembleCog(path, layout, levels, encoding, { forceBigTiff: true });
    const file = readFileSync(path);
    expect(file.length).toBe(bytes);
    expect(file.readUInt16LE(2)).toBe(43);
    expect(gdalinfo(path).bands[0]!.overviews?.map((o) => o.size)).toEqual([[350, 150]]);
    expectSameSamples(gdalSamples(path, 'uint16'), data);
    expectSameSamples((await geotiffLevels(path))[0]!.samples, data);
    expectCogLayout(path);
  });

  it('replaces an existing file and leaves nothing behind when the write fails', async () => {
    const path = join(dir, 'replace.tif');
    writeFileSync(path, 'old');
    const data = new Uint8Array(64 * 64).fill(7);
    const layout = { width: 64, height: 64, dtype: 'uint8' as const, transform: UTM_TRANSFORM, epsg: UTM_32N, nodata: null };
    await writeCog(path, data, layout);
    expect(gdalSamples(path, 'uint8')[4095]).toBe(7);

    const missing = join(dir, 'no-such-dir', 'x.tif');
    const failure = await writeCog(missing, data, layout).catch((error: unknown) => error);
    expect(isTaskError(failure) && failure.openeoCode === 'StorageFailure').toBe(true);
    expect(readdirSync(dir).filter((name) => name.includes('.partial'))).toEqual([]);
  });

  it('rejects layouts and encodings it cannot write correctly', async () => {
    const data = new Uint8Array(64 * 64);
    const layout = { width: 64, height: 64, dtype: 'uint8' as const, transform: UTM_TRANSFORM, epsg: UTM_32N, nodata: null };
    const rejects = async (promise: Promise<unknown>): Promise<void> => {
      const error = await promise.then(() => undefined, (e: unknown) => e);
      expect(isTaskError(error), String(error)).toBe(true);
    };
    await rejects(writeCog(join(dir, 'bad.tif'), data, { ...layout, nodata: 300 }));
    await rejects(writeCog(join(dir, 'bad.tif'), data, { ...layout, tileSize: 100 }));
    await rejects(writeCog(join(dir, 'bad.tif'), data, { ...layout, width: 65 }));
    await rejects(writeCog(join(dir, 'bad.tif'), new Float32Array(64 * 64), layout));
    await rejects(writeCog(join(dir, 'bad.tif'), data, layout, { predictor: 3 }));
    await rejects(writeCog(join(dir, 'bad.tif'), data, layout, { compression: 'none', predictor: 2 }));
    await rejects(assembleCog(join(dir, 'bad.tif'), { ...layout, tileSize: 512 }, [{ width: 64, height: 64, tiles: [] }], resolveTileEncoding('uint8')));
    expect(readdirSync(dir).filter((name) => name.startsWith('bad') || name.includes('.partial'))).toEqual([]);
  });
});

describe('encodeTile', () => {
  /** Textbook inverse of TIFF predictor 3 on a little-endian machine: undo byte deltas, then unshuffle. */
  function undoFloatingPointPredictor(bytes: Uint8Array, width: number, bytesPerSample: number): Uint8Array {
    const out = new Uint8Array(bytes.length);
    const rowBytes = width * bytesPerSample;
    for (let start = 0; start < bytes.length; start += rowBytes) {
      const row = bytes.slice(start, start + rowBytes);
      for (let i = 1; i < rowBytes; i++) row[i] = (row[i]! + row[i - 1]!) & 255;
      for (let i = 0; i < width; i++) for (let b = 0; b < bytesPerSample; b++) out[start + i * bytesPerSample + b] = row[(bytesPerSample - 1 - b) * width + i]!;
    }
    return out;
  }

  it('predictor 3 round-trips through an independent decoder, word-wise and byte-wise paths alike', () => {
    for (const [dtype, size] of [['float32', 16], ['float32', 18], ['float64', 16]] as const) {
      const data = allocate(dtype, size * size);
      for (let i = 0; i < data.length; i++) data[i] = i % 17 === 0 ? NaN : i % 29 === 0 ? -Infinity : Math.sin(i) * 10 ** ((i % 9) - 4);
      const encoded = encodeTile(data, size, dtype, { compression: 'deflate', level: 1, predictor: 3 });
      const bytes = new Uint8Array(data.buffer);
      expect(Buffer.from(undoFloatingPointPredictor(inflateSync(encoded), size, bytes.length / data.length)).equals(Buffer.from(bytes)), `${dtype} ${size}`).toBe(true);
    }
  });

  it('predictor 2 wraps around in the sample type and leaves the input untouched', () => {
    const data = Int16Array.from({ length: 16 * 16 }, (_, i) => (i % 2 ? 32767 : -32768));
    const copy = data.slice();
    const inflated = inflateSync(encodeTile(data, 16, 'int16', { compression: 'deflate', level: 6, predictor: 2, strategy: 'rle' }));
    const deltas = new Int16Array(inflated.buffer, inflated.byteOffset, 16 * 16);
    for (let row = 0; row < 16; row++) for (let i = 1; i < 16; i++) deltas[row * 16 + i] = deltas[row * 16 + i]! + deltas[row * 16 + i - 1]!;
    expectSameSamples(deltas, data);
    expectSameSamples(data, copy);
  });
});

describe('downsample2x', () => {
  it('averages valid samples, ignoring NaN and nodata, and floors odd sizes', () => {
    // 5x3 -> 2x1: the last column and row are dropped.
    const source = Float32Array.from([1, 3, NaN, NaN, 9, -9999, 5, NaN, NaN, 9, 9, 9, 9, 9, 9]);
    const out = downsample2x(source, 5, 3, 'average', -9999);
    expect([out.width, out.height]).toEqual([2, 1]);
    expect(Array.from(out.data)).toEqual([3, -9999]);
  });

  it('rounds integer means half up, keeps 1-pixel dimensions and picks the top-left sample for nearest', () => {
    const source = Uint16Array.from([1, 2, 3, 4, 0, 0, 0, 0]);
    expect(Array.from(downsample2x(source, 4, 2, 'average', null).data)).toEqual([1, 2]);
    expect(Array.from(downsample2x(source, 4, 2, 'average', 0).data)).toEqual([2, 4]);
    expect(downsample2x(source, 8, 1, 'average', null)).toMatchObject({ width: 4, height: 1 });
    expect(Array.from(downsample2x(source, 8, 1, 'nearest', null).data)).toEqual([1, 3, 0, 0]);
  });
});
