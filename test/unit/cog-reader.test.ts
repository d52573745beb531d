import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { deflateSync } from 'node:zlib';
import { getDecoder } from 'geotiff';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskError } from '../../common/errors.js';
import type { DType, TypedArray } from '../../common/raster.js';
import { closeAllRasters, openRaster, parseGdalNodata, rasterCacheStats, type RasterSource } from '../../worker/io/cog-reader.js';
import { NativeDeflateDecoder, registerNativeDeflate } from '../../worker/io/native-deflate.js';
import { describeWithShared, sharedPath } from '../helpers/shared.js';

// ---------------------------------------------------------------------------------------------
// Helpers

/** The fixture COGs, relative to the fixtures folder, as keyed in expected.json → s2.files. */
const FIXTURE_COGS = [
  's2/cogs/S2A_T32TMT_20200501/B04_10m.tif',
  's2/cogs/S2A_T32TMT_20200501/B08_10m.tif',
  's2/cogs/S2A_T32TMT_20200501/SCL_20m.tif',
  's2/cogs/S2A_T32TMT_20200531/B04_10m.tif',
  's2/cogs/S2A_T32TMT_20200531/B08_10m.tif',
  's2/cogs/S2A_T32TMT_20200531/SCL_20m.tif',
];
const B04_0501 = FIXTURE_COGS[0]!;

interface ExpectedLevel {
  width: number;
  height: number;
  valid_count: number;
  valid_sum: number;
}

interface ExpectedCog {
  width: number;
  height: number;
  dtype: DType;
  nodata: number | null;
  geotransform: number[];
  epsg: number;
  block_shape: [number, number];
  overview_factors: number[];
  overviews: ExpectedLevel[];
  values: Record<string, number>;
  values_at_20m_pixel?: Record<string, [number, number]>;
  valid_count: number;
  valid_sum: number;
  min: number;
  max: number;
  class_counts?: Record<string, number>;
}

interface Expected {
  s2: { files: Record<string, ExpectedCog>; positions: Record<string, { row: number; col: number }> };
}

let expectedCache: Expected | null = null;
function expected(): Expected {
  expectedCache ??= JSON.parse(readFileSync(sharedPath('fixtures', 'expected.json'), 'utf8')) as Expected;
  return expectedCache;
}

function fixturePath(relative: string): string {
  return sharedPath('fixtures', ...relative.split('/'));
}

function validStats(values: TypedArray, nodata: number | null): { count: number; sum: number; min: number; max: number } {
  let count = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const value of values) {
    if (value === nodata) continue;
    count++;
    sum += value;
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return { count, sum, min, max };
}

/** Pixels of `window` cut out of a full-level read. */
function cut(full: TypedArray, fullWidth: number, window: { x: number; y: number; width: number; height: number }): number[] {
  const pixels: number[] = [];
  for (let row = window.y; row < window.y + window.height; row++) {
    for (let col = window.x; col < window.x + window.width; col++) pixels.push(full[row * fullWidth + col]!);
  }
  return pixels;
}

/** Fails with the first differing index; much faster than a deep equality on a million pixels. */
function expectSamePixels(actual: ArrayLike<number>, wanted: ArrayLike<number>, label = 'pixels'): void {
  expect(actual.length, `${label}: length`).toBe(wanted.length);
  for (let i = 0; i < wanted.length; i++) {
    if (!Object.is(actual[i], wanted[i])) expect(actual[i], `${label}: index ${i}`).toBe(wanted[i]);
  }
}

async function withRaster<T>(href: string, use: (raster: RasterSource) => Promise<T>): Promise<T> {
  const raster = await openRaster(href);
  try {
    return await use(raster);
  } finally {
    await raster.close();
  }
}

async function failureOf(promise: Promise<unknown>): Promise<TaskError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TaskError);
    return error as TaskError;
  }
  throw new Error('expected a TaskError, but the call succeeded');
}

// ---------------------------------------------------------------------------------------------
// A minimal tiled GeoTIFF writer, for layouts the fixtures do not cover

type SampleType = 'uint8' | 'int16' | 'uint16' | 'uint32' | 'float32' | 'float64';

interface SyntheticTiff {
  littleEndian: boolean;
  dtype: SampleType;
  width: number;
  height: number;
  bands: number;
  tile: number;
  predictor: 1 | 2 | 3;
  /** Rows per strip: writes strips (the last one short, as libtiff does) instead of tiles. */
  rowsPerStrip?: number;
  nodata?: string;
  pixelIsPoint?: boolean;
}

const SAMPLE_FORMAT: Record<SampleType, [format: number, bytes: number]> = {
  uint8: [1, 1],
  int16: [2, 2],
  uint16: [1, 2],
  uint32: [1, 4],
  float32: [3, 4],
  float64: [3, 8],
};

/** A deterministic value for (band, row, col) that fits every sample type and varies along rows. */
function syntheticValue(dtype: SampleType, band: number, row: number, col: number): number {
  const base = (band * 37 + row * 11 + col * 7 + ((row * col) % 13)) % 250;
  if (dtype === 'int16') return base * 97 - 12000;
  if (dtype === 'uint16') return base * 261;
  if (dtype === 'uint32') return base * 17_000_003;
  if (dtype === 'float32') return Math.fround(base * 0.37 - 20);
  if (dtype === 'float64') return base * 0.123456789 - 11;
  return base;
}

function writeSample(view: DataView, offset: number, dtype: SampleType, value: number, littleEndian: boolean): void {
  switch (dtype) {
    case 'uint8':
      view.setUint8(offset, value);
      break;
    case 'int16':
      view.setInt16(offset, value, littleEndian);
      break;
    case 'uint16':
      view.setUint16(offset, value, littleEndian);
      break;
    case 'uint32':
      view.setUint32(offset, value, littleEndian);
      break;
    case 'float32':
      view.setFloat32(offset, value, littleEndian);
      break;
    case 'float64':
      view.setFloat64(offset, value, littleEndian);
      break;
  }
}

interface Block {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The tiles, or strips, of `spec` in file order. */
function blocksOf(spec: SyntheticTiff): Block[] {
  const blocks: Block[] = [];
  if (spec.rowsPerStrip) {
    for (let y = 0; y < spec.height; y += spec.rowsPerStrip) {
      blocks.push({ x: 0, y, width: spec.width, height: Math.min(spec.rowsPerStrip, spec.height - y) });
    }
    return blocks;
  }
  for (let y = 0; y < spec.height; y += spec.tile) {
    for (let x = 0; x < spec.width; x += spec.tile) blocks.push({ x, y, width: spec.tile, height: spec.tile });
  }
  return blocks;
}

/** One block's bytes before compression, predictor applied, as libtiff writes them. */
function encodeBlock(spec: SyntheticTiff, block: Block): Uint8Array {
  const [, bytes] = SAMPLE_FORMAT[spec.dtype];
  const rowSamples = block.width * spec.bands;
  const rowBytes = rowSamples * bytes;
  const out = new Uint8Array(rowBytes * block.height);
  for (let r = 0; r < block.height; r++) {
    const row = new Uint8Array(rowBytes);
    const rowView = new DataView(row.buffer);
    const values: number[] = [];
    for (let c = 0; c < block.width; c++) {
      for (let b = 0; b < spec.bands; b++) {
        const y = block.y + r;
        const x = block.x + c;
        // Padding outside the image holds zeros, as GDAL writes it.
        values.push(y < spec.height && x < spec.width ? syntheticValue(spec.dtype, b, y, x) : 0);
      }
    }
    if (spec.predictor === 3) {
      // Floating-point predictor: byte planes, most significant first, then byte differencing.
      const be = new DataView(new ArrayBuffer(bytes));
      values.forEach((value, i) => {
        writeSample(be, 0, spec.dtype, value, false);
        for (let plane = 0; plane < bytes; plane++) row[plane * rowSamples + i] = be.getUint8(plane);
      });
      for (let i = rowBytes - 1; i >= spec.bands; i--) row[i] = (row[i]! - row[i - spec.bands]!) & 0xff;
    } else {
      const modulus = 2 ** (8 * bytes);
      const differenced = values.map((value, i) => {
        if (spec.predictor !== 2 || i < spec.bands) return value;
        const unsigned = (v: number): number => ((v % modulus) + modulus) % modulus;
        return unsigned(unsigned(value) - unsigned(values[i - spec.bands]!));
      });
      const unsignedType: SampleType = bytes === 1 ? 'uint8' : bytes === 2 ? 'uint16' : 'uint32';
      differenced.forEach((value, i) =>
        writeSample(rowView, i * bytes, spec.predictor === 2 ? unsignedType : spec.dtype, value, spec.littleEndian),
      );
    }
    out.set(row, r * rowBytes);
  }
  return out;
}

const TIFF_SHORT = 3;
const TIFF_LONG = 4;
const TIFF_ASCII = 2;
const TIFF_DOUBLE = 12;

/** Writes a tiled, DEFLATE-compressed GeoTIFF (classic TIFF) following `spec`. */
function buildTiff(spec: SyntheticTiff): Uint8Array {
  const [format, bytes] = SAMPLE_FORMAT[spec.dtype];
  const tiles = blocksOf(spec).map((block) => deflateSync(encodeBlock(spec, block)));
  const strips = spec.rowsPerStrip !== undefined;
  const perBand = (value: number): number[] => Array.from({ length: spec.bands }, () => value);
  const entries: [tag: number, type: number, values: number[] | string][] = [
    [256, TIFF_LONG, [spec.width]],
    [257, TIFF_LONG, [spec.height]],
    [258, TIFF_SHORT, perBand(bytes * 8)],
    [259, TIFF_SHORT, [8]],
    [262, TIFF_SHORT, [1]],
    ...((strips
      ? [
          [273, TIFF_LONG, tiles.map(() => 0)],
          [277, TIFF_SHORT, [spec.bands]],
          [278, TIFF_LONG, [spec.rowsPerStrip!]],
          [279, TIFF_LONG, tiles.map((t) => t.byteLength)],
          [284, TIFF_SHORT, [1]],
          [317, TIFF_SHORT, [spec.predictor]],
        ]
      : [
          [277, TIFF_SHORT, [spec.bands]],
          [284, TIFF_SHORT, [1]],
          [317, TIFF_SHORT, [spec.predictor]],
          [322, TIFF_SHORT, [spec.tile]],
          [323, TIFF_SHORT, [spec.tile]],
          [324, TIFF_LONG, tiles.map(() => 0)],
          [325, TIFF_LONG, tiles.map((t) => t.byteLength)],
        ]) as [number, number, number[]][]),
    [339, TIFF_SHORT, perBand(format)],
    [33550, TIFF_DOUBLE, [0.5, 0.5, 0]],
    [33922, TIFF_DOUBLE, [0, 0, 0, 10, 50, 0]],
    // GeoKeys: version 1.1.0, 2 keys: raster type, geographic CRS EPSG:4326.
    [34735, TIFF_SHORT, [1, 1, 0, 2, 1025, 0, 1, spec.pixelIsPoint ? 2 : 1, 2048, 0, 1, 4326]],
  ];
  if (spec.nodata !== undefined) entries.push([42113, TIFF_ASCII, `${spec.nodata}\0`]);
  const typeSize = (type: number): number => (type === TIFF_SHORT ? 2 : type === TIFF_LONG ? 4 : type === TIFF_DOUBLE ? 8 : 1);
  const ifdOffset = 8;
  const ifdSize = 2 + entries.length * 12 + 4;
  let extra = ifdOffset + ifdSize;
  const extraOffsets = entries.map(([, type, values]) => {
    const size = values.length * typeSize(type);
    if (size <= 4) return 0;
    const at = extra;
    extra += size + (size % 2);
    return at;
  });
  let dataOffset = extra;
  const tileOffsets = tiles.map((t) => {
    const at = dataOffset;
    dataOffset += t.byteLength;
    return at;
  });
  entries.find(([tag]) => tag === (strips ? 273 : 324))![2] = tileOffsets;
  const file = new Uint8Array(dataOffset);
  const view = new DataView(file.buffer);
  const le = spec.littleEndian;
  file.set(le ? [0x49, 0x49] : [0x4d, 0x4d], 0);
  view.setUint16(2, 42, le);
  view.setUint32(4, ifdOffset, le);
  view.setUint16(ifdOffset, entries.length, le);
  entries.forEach(([tag, type, values], i) => {
    const at = ifdOffset + 2 + i * 12;
    view.setUint16(at, tag, le);
    view.setUint16(at + 2, type, le);
    view.setUint32(at + 4, values.length, le);
    let target = extraOffsets[i] === 0 ? at + 8 : extraOffsets[i]!;
    if (extraOffsets[i] !== 0) view.setUint32(at + 8, target, le);
    for (const value of typeof values === 'string' ? Array.from(values, (ch) => ch.charCodeAt(0)) : values) {
      if (type === TIFF_SHORT) view.setUint16(target, value, le);
      else if (type === TIFF_LONG) view.setUint32(target, value, le);
      else if (type === TIFF_DOUBLE) view.setFloat64(target, value, le);
      else view.setUint8(target, value);
      target += typeSize(type);
    }
  });
  view.setUint32(ifdOffset + 2 + entries.length * 12, 0, le);
  tiles.forEach((t, i) => file.set(t, tileOffsets[i]!));
  return file;
}

// ---------------------------------------------------------------------------------------------
// A local HTTP server with byte-range support

interface ServedRequest {
  path: string;
  range: string | undefined;
  status: number;
  bytes: number;
}

class FixtureServer {
  readonly requests: ServedRequest[] = [];
  private server: Server | null = null;
  private files = new Map<string, Uint8Array>();
  /** Paths answered with HTTP 503 for now. */
  readonly failing = new Set<string>();

  serve(path: string, content: Uint8Array): void {
    this.files.set(path, content);
  }

  async start(): Promise<string> {
    this.server = createServer((request, response) => this.handle(request, response));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  bytesServed(path: string): number {
    return this.requests.filter((r) => r.path === path).reduce((sum, r) => sum + r.bytes, 0);
  }

  private reply(request: IncomingMessage, response: ServerResponse, status: number, body: Uint8Array, headers: Record<string, string> = {}): void {
    this.requests.push({ path: request.url ?? '', range: request.headers.range, status, bytes: body.byteLength });
    response.writeHead(status, { 'content-length': String(body.byteLength), ...headers });
    response.end(body);
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const path = request.url ?? '';
    if (path === '/reset.tif') {
      this.requests.push({ path, range: request.headers.range, status: 0, bytes: 0 });
      request.socket.destroy();
      return;
    }
    if (path === '/unavailable.tif' || this.failing.has(path)) return this.reply(request, response, 503, new TextEncoder().encode('try later'));
    const content = this.files.get(path);
    if (!content) return this.reply(request, response, 404, new TextEncoder().encode('not found'));
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? '');
    if (!range || path.startsWith('/no-range/')) return this.reply(request, response, 200, content);
    const start = Number(range[1]);
    if (start >= content.byteLength) {
      return this.reply(request, response, 416, new Uint8Array(), { 'content-range': `bytes */${content.byteLength}` });
    }
    const end = Math.min(range[2] ? Number(range[2]) : content.byteLength - 1, content.byteLength - 1);
    this.reply(request, response, 206, content.subarray(start, end + 1), {
      'content-range': `bytes ${start}-${end}/${content.byteLength}`,
      'content-type': 'image/tiff',
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Decoder

describe('native DEFLATE decoder', () => {
  it('registers for both DEFLATE codes, idempotently', async () => {
    registerNativeDeflate();
    registerNativeDeflate();
    const parameters = { tileWidth: 4, tileHeight: 1, planarConfiguration: 1, bitsPerSample: [8], predictor: 1 };
    expect(await getDecoder(8, parameters)).toBeInstanceOf(NativeDeflateDecoder);
    expect(await getDecoder(32946, parameters)).toBeInstanceOf(NativeDeflateDecoder);
  });

  it('returns an ArrayBuffer holding exactly the inflated bytes', async () => {
    const raw = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 256);
    const decoder = new NativeDeflateDecoder({ tileWidth: 10, tileHeight: 100, planarConfiguration: 1, bitsPerSample: [8], predictor: 1 });
    const decoded = await decoder.decode(deflateSync(raw).buffer);
    expect(decoded.byteLength).toBe(1000);
    expect(new Uint8Array(decoded)).toEqual(raw);
  });

  it('undoes predictor 2 on odd-width and short blocks (a last strip)', async () => {
    const width = 7;
    const values = Uint16Array.from({ length: width * 3 }, (_, i) => (i * 4099) % 65536);
    const differenced = values.map((v, i) => (i % width === 0 ? v : (v - values[i - 1]! + 65536) % 65536));
    const decoder = new NativeDeflateDecoder({ tileWidth: width, tileHeight: 5, planarConfiguration: 1, bitsPerSample: [16], predictor: 2 });
    const decoded = await decoder.decode(deflateSync(new Uint8Array(differenced.buffer)).buffer);
    expect(Array.from(new Uint16Array(decoded))).toEqual(Array.from(values));
  });
});

// ---------------------------------------------------------------------------------------------
// Synthetic layouts

describe('openRaster on synthetic GeoTIFFs', () => {
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'cog-reader-test-'));
  });
  afterAll(async () => {
    await closeAllRasters();
    rmSync(folder, { recursive: true, force: true });
  });

  const cases: (SyntheticTiff & { name: string; fill: number })[] = [
    { name: 'little-endian int16, 2 bands, predictor 2, nodata -9999', littleEndian: true, dtype: 'int16', width: 37, height: 21, bands: 2, tile: 16, predictor: 2, nodata: '-9999', fill: -9999 },
    { name: 'big-endian uint16, predictor 2', littleEndian: false, dtype: 'uint16', width: 40, height: 33, bands: 1, tile: 16, predictor: 2, fill: 0 },
    { name: 'big-endian uint32, predictor 2', littleEndian: false, dtype: 'uint32', width: 20, height: 20, bands: 1, tile: 16, predictor: 2, fill: 0 },
    { name: 'little-endian uint8, 3 bands, predictor 2', littleEndian: true, dtype: 'uint8', width: 33, height: 17, bands: 3, tile: 16, predictor: 2, nodata: '255', fill: 255 },
    { name: 'big-endian float32, predictor 3, nodata nan', littleEndian: false, dtype: 'float32', width: 35, height: 18, bands: 1, tile: 16, predictor: 3, nodata: 'nan', fill: Number.NaN },
    { name: 'little-endian float32, 2 bands, predictor 3', littleEndian: true, dtype: 'float32', width: 18, height: 35, bands: 2, tile: 16, predictor: 3, nodata: '-3.4e+38', fill: Math.fround(-3.4e38) },
    { name: 'little-endian uint16 strips of odd width, predictor 2', littleEndian: true, dtype: 'uint16', width: 37, height: 23, bands: 1, tile: 16, rowsPerStrip: 5, predictor: 2, nodata: '0', fill: 0 },
    { name: 'big-endian int16 strips, 2 bands, predictor 2', littleEndian: false, dtype: 'int16', width: 30, height: 11, bands: 2, tile: 16, rowsPerStrip: 4, predictor: 2, nodata: '-1', fill: -1 },
    { name: 'little-endian float64, no predictor', littleEndian: true, dtype: 'float64', width: 17, height: 17, bands: 1, tile: 16, predictor: 1, fill: 0 },
  ];

  for (const spec of cases) {
    it(spec.name, async () => {
      const path = join(folder, `${spec.name.replace(/[^a-z0-9]+/gi, '-')}.tif`);
      writeFileSync(path, buildTiff(spec));
      await withRaster(path, async (raster) => {
        expect(raster).toMatchObject({ width: spec.width, height: spec.height, bands: spec.bands, dtype: spec.dtype, epsg: 4326 });
        expect(raster.transform).toEqual([10, 0.5, 0, 50, 0, -0.5]);
        for (let band = 0; band < spec.bands; band++) {
          const full = await raster.readWindow({ x: 0, y: 0, width: spec.width, height: spec.height }, { band });
          const want: number[] = [];
          for (let row = 0; row < spec.height; row++) for (let col = 0; col < spec.width; col++) want.push(syntheticValue(spec.dtype, band, row, col));
          expectSamePixels(full, want, `band ${band}`);

          // Partly outside on the top and right, straddling a tile boundary.
          const window = { x: spec.width - 20, y: -3, width: 25, height: 22 };
          const pixels = await raster.readWindow(window, { band });
          for (let r = 0; r < window.height; r++) {
            for (let c = 0; c < window.width; c++) {
              const row = window.y + r;
              const col = window.x + c;
              const inside = row >= 0 && row < spec.height && col >= 0 && col < spec.width;
              const value = pixels[r * window.width + c]!;
              if (inside) expect(value).toBe(syntheticValue(spec.dtype, band, row, col));
              else expect(value).toBe(spec.fill);
            }
          }
        }
      });
    });
  }

  it('moves a RasterPixelIsPoint tie point half a pixel to the corner, as GDAL does', async () => {
    const path = join(folder, 'pixel-is-point.tif');
    writeFileSync(path, buildTiff({ littleEndian: true, dtype: 'uint8', width: 16, height: 16, bands: 1, tile: 16, predictor: 1, pixelIsPoint: true }));
    await withRaster(path, async (raster) => {
      expect(raster.transform).toEqual([9.75, 0.5, 0, 50.25, 0, -0.5]);
      expect(raster.nodata).toBeNull();
    });
  });

  it('parses GDAL_NODATA text', () => {
    expect(parseGdalNodata('0\0')).toBe(0);
    expect(parseGdalNodata(' -9999 ')).toBe(-9999);
    expect(parseGdalNodata('nan')).toBeNaN();
    expect(parseGdalNodata('-inf')).toBe(-Infinity);
    expect(parseGdalNodata('')).toBeNull();
    expect(parseGdalNodata('none')).toBeNull();
    expect(parseGdalNodata(undefined)).toBeNull();
  });

  it('reports a missing file and a file that is not a TIFF as user errors naming the href', async () => {
    const missing = join(folder, 'missing.tif');
    const absent = await failureOf(openRaster(missing));
    expect(absent.kind).toBe('user');
    expect(absent.message).toContain(missing);
    expect(absent.message).toMatch(/does not exist/);

    const text = join(folder, 'notes.tif');
    writeFileSync(text, 'these are not the pixels you are looking for\n');
    const notTiff = await failureOf(openRaster(pathToFileURL(text).href));
    expect(notTiff.kind).toBe('user');
    expect(notTiff.message).toContain(pathToFileURL(text).href);
    expect(notTiff.message).toMatch(/not a TIFF/);

    const scheme = await failureOf(openRaster('s3://bucket/key.tif'));
    expect(scheme.kind).toBe('user');
  });
});

// ---------------------------------------------------------------------------------------------
// The Sentinel-2 fixtures

describeWithShared('openRaster on the Sentinel-2 fixture COGs', () => {
  afterAll(async () => {
    await closeAllRasters();
  });

  for (const file of FIXTURE_COGS) {
    it(`${file}: metadata`, async () => {
      const want = expected().s2.files[file]!;
      await withRaster(fixturePath(file), async (raster) => {
        expect(raster.width).toBe(want.width);
        expect(raster.height).toBe(want.height);
        expect(raster.bands).toBe(1);
        expect(raster.dtype).toBe(want.dtype);
        expect(raster.nodata).toBe(want.nodata);
        expect(raster.transform).toEqual(want.geotransform);
        expect(raster.epsg).toBe(want.epsg);
        expect([raster.tileHeight, raster.tileWidth]).toEqual(want.block_shape);
        expect(raster.overviews).toEqual(
          want.overviews.map((o, i) => ({ width: o.width, height: o.height, factor: want.overview_factors[i] })),
        );
      });
    });

    it(`${file}: full-resolution statistics and named pixels`, async () => {
      const want = expected().s2.files[file]!;
      const positions = expected().s2.positions;
      await withRaster(fixturePath(file), async (raster) => {
        const pixels = await raster.readWindow({ x: 0, y: 0, width: raster.width, height: raster.height });
        expect(pixels.length).toBe(want.width * want.height);
        expect(validStats(pixels, raster.nodata)).toEqual({ count: want.valid_count, sum: want.valid_sum, min: want.min, max: want.max });
        for (const [name, value] of Object.entries(want.values)) {
          const [row, col] = want.values_at_20m_pixel?.[name] ?? [positions[name]!.row, positions[name]!.col];
          expect(pixels[row * raster.width + col], name).toBe(value);
        }
        if (want.class_counts) {
          const counts: Record<string, number> = {};
          for (const value of pixels) counts[value] = (counts[value] ?? 0) + 1;
          for (const [code, count] of Object.entries(want.class_counts)) expect(counts[code], `class ${code}`).toBe(count);
        }
      });
    });

    it(`${file}: overview statistics`, async () => {
      const want = expected().s2.files[file]!;
      await withRaster(fixturePath(file), async (raster) => {
        for (const [index, overview] of want.overviews.entries()) {
          const pixels = await raster.readWindow({ x: 0, y: 0, width: overview.width, height: overview.height }, { level: index + 1 });
          const stats = validStats(pixels, raster.nodata);
          expect([stats.count, stats.sum], `level ${index + 1}`).toEqual([overview.valid_count, overview.valid_sum]);
        }
      });
    });
  }

  it('reads windows straddling tile boundaries, and whole tiles, exactly as a full read has them', async () => {
    await withRaster(fixturePath(B04_0501), async (raster) => {
      const full = await raster.readWindow({ x: 0, y: 0, width: raster.width, height: raster.height });
      for (const window of [
        { x: 500, y: 490, width: 40, height: 30 },
        { x: 100, y: 200, width: 998, height: 898 },
        { x: 511, y: 511, width: 2, height: 2 },
        { x: 1020, y: 1000, width: 78, height: 98 },
        // Whole tiles, which come back as the decoded tiles themselves.
        { x: 512, y: 0, width: 512, height: 512 },
        { x: 0, y: 512, width: 512, height: 512 },
      ]) {
        expectSamePixels(await raster.readWindow(window), cut(full, raster.width, window), JSON.stringify(window));
      }
      const overview = await raster.readWindow({ x: 0, y: 0, width: 549, height: 549 }, { level: 1 });
      const window = { x: 505, y: 500, width: 44, height: 49 };
      expectSamePixels(await raster.readWindow(window, { level: 1 }), cut(overview, 549, window), 'level 1');
    });
  });

  it('fills the part of a window outside the raster with nodata', async () => {
    await withRaster(fixturePath(B04_0501), async (raster) => {
      const full = await raster.readWindow({ x: 0, y: 0, width: raster.width, height: raster.height });
      const window = { x: 1090, y: -4, width: 16, height: 10 };
      const pixels = await raster.readWindow(window);
      for (let r = 0; r < window.height; r++) {
        for (let c = 0; c < window.width; c++) {
          const row = window.y + r;
          const col = window.x + c;
          const inside = row >= 0 && col < raster.width;
          expect(pixels[r * window.width + c]).toBe(inside ? full[row * raster.width + col] : raster.nodata);
        }
      }
      // Inside values are never nodata on this date, so the check above does tell them apart.
      expect(validStats(cut(full, raster.width, { x: 1090, y: 0, width: 8, height: 6 }) as unknown as TypedArray, 0).count).toBe(48);
      const outside = await raster.readWindow({ x: -50, y: 2000, width: 10, height: 10 });
      expect(outside.every((v) => v === raster.nodata)).toBe(true);
    });
  });

  it('chooses the coarsest overview still as fine as the requested resolution', async () => {
    await withRaster(fixturePath(B04_0501), async (raster) => {
      expect(raster.levelFor(5)).toBe(0);
      expect(raster.levelFor(10)).toBe(0);
      // Within OVERVIEW_RESOLUTION_TOLERANCE (1%) of an overview's pixel size, that overview is taken.
      expect(raster.levelFor(19.5)).toBe(0);
      expect(raster.levelFor(19.9)).toBe(1);
      expect(raster.levelFor(20)).toBe(1);
      expect(raster.levelFor(39)).toBe(1);
      expect(raster.levelFor(40)).toBe(2);
      expect(raster.levelFor(1000)).toBe(2);
    });
  });

  it('keeps a file open across opens, and a held source readable after the cache is emptied', async () => {
    const path = fixturePath(B04_0501);
    const first = await openRaster(path);
    const before = rasterCacheStats();
    const second = await openRaster(path);
    const after = rasterCacheStats();
    expect(after.opened).toBe(before.opened);
    expect(after.reused).toBe(before.reused + 1);
    await first.close();
    await closeAllRasters();
    expect(Array.from(await second.readWindow({ x: 0, y: 0, width: 1, height: 1 }))).toEqual([1428]);
    await second.close();
    await expect(second.readWindow({ x: 0, y: 0, width: 1, height: 1 })).rejects.toBeInstanceOf(TaskError);
  });

  it('reports a canceled read as canceled', async () => {
    await withRaster(fixturePath(B04_0501), async (raster) => {
      const failure = await failureOf(raster.readWindow({ x: 0, y: 0, width: 10, height: 10 }, { signal: AbortSignal.abort() }));
      expect(failure.kind).toBe('canceled');
    });
  });
});

// ---------------------------------------------------------------------------------------------
// HTTP

describeWithShared('openRaster over HTTP', () => {
  const server = new FixtureServer();
  let base: string;
  let local: RasterSource;
  let localFull: TypedArray;

  beforeAll(async () => {
    server.serve('/B04.tif', readFileSync(fixturePath(B04_0501)));
    server.serve('/no-range/B04.tif', readFileSync(fixturePath(B04_0501)));
    base = await server.start();
    local = await openRaster(fixturePath(B04_0501));
    localFull = await local.readWindow({ x: 0, y: 0, width: local.width, height: local.height });
  });

  afterAll(async () => {
    await local?.close();
    await closeAllRasters();
    await server.stop();
  });

  it('reads the same metadata and pixels as the local file, with merged range requests only', async () => {
    const fileSize = readFileSync(fixturePath(B04_0501)).byteLength;
    await withRaster(`${base}/B04.tif`, async (remote) => {
      const { href: _remoteHref, readWindow: _r, levelFor: _l, close: _c, ...remoteInfo } = remote;
      const { href: _localHref, readWindow: _r2, levelFor: _l2, close: _c2, ...localInfo } = local;
      expect(remoteInfo).toEqual(localInfo);

      // The header, the IFDs and one small overview tile: a small part of the file.
      const coarse = await remote.readWindow({ x: 0, y: 0, width: 274, height: 274 }, { level: 2 });
      expectSamePixels(coarse, await local.readWindow({ x: 0, y: 0, width: 274, height: 274 }, { level: 2 }), 'level 2');
      expect(server.bytesServed('/B04.tif')).toBeLessThan(fileSize * 0.2);

      // Four neighbouring tiles, stored back to back, arrive in fewer requests than tiles.
      const window = { x: 500, y: 490, width: 40, height: 30 };
      const before = server.requests.length;
      expectSamePixels(await remote.readWindow(window), cut(localFull, local.width, window), 'window');
      expect(server.requests.length - before).toBeGreaterThan(0);
      expect(server.requests.length - before).toBeLessThan(4);

      // The same window again comes from the block cache.
      const count = server.requests.length;
      await remote.readWindow(window);
      expect(server.requests.length).toBe(count);

      expectSamePixels(await remote.readWindow({ x: 0, y: 0, width: remote.width, height: remote.height }), localFull, 'full');
      const requests = server.requests.filter((r) => r.path === '/B04.tif');
      expect(requests.every((r) => r.range !== undefined && r.status === 206)).toBe(true);
    });
  });

  it('reports a server failing after the open as transient, and recovers when it is back', async () => {
    server.serve('/flaky.tif', readFileSync(fixturePath(B04_0501)));
    await withRaster(`${base}/flaky.tif`, async (remote) => {
      server.failing.add('/flaky.tif');
      const failure = await failureOf(remote.readWindow({ x: 600, y: 600, width: 10, height: 10 }));
      expect(failure.kind).toBe('transient');
      expect(failure.message).toMatch(/503/);
      server.failing.delete('/flaky.tif');
      const window = { x: 600, y: 600, width: 10, height: 10 };
      expectSamePixels(await remote.readWindow(window), cut(localFull, local.width, window), 'after recovery');
    });
  });

  it('reports a 404 as a user error naming the URL', async () => {
    const href = `${base}/missing.tif`;
    const failure = await failureOf(openRaster(href));
    expect(failure.kind).toBe('user');
    expect(failure.message).toContain(href);
    expect(failure.message).toMatch(/does not exist.*404/);
  });

  it('reports HTTP 5xx and a reset connection as transient', async () => {
    const unavailable = await failureOf(openRaster(`${base}/unavailable.tif`));
    expect(unavailable.kind).toBe('transient');
    expect(unavailable.message).toMatch(/503/);
    const reset = await failureOf(openRaster(`${base}/reset.tif`));
    expect(reset.kind).toBe('transient');
    expect(reset.message).toContain(`${base}/reset.tif`);
  });

  it('refuses a server that ignores range requests instead of downloading the whole file', async () => {
    const failure = await failureOf(openRaster(`${base}/no-range/B04.tif`));
    expect(failure.kind).toBe('user');
    expect(failure.message).toMatch(/range requests/);
  });
});
