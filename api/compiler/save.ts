import { join } from 'node:path/posix';
import { OpenEOError } from '../../common/errors.js';
import { type ChunkCoord, type LazyCube, nonSpatialDims, temporalDim, tileCount, tileRange, timeBlockCount, timeBlockRange } from './cube.js';
import { materialize } from './cube-ops.js';
import type { DagBuilder } from './dag-builder.js';
import type { VectorCube } from './vector-cube.js';

/**
 * Lowering of save_result: the tasks that write each output format. Tiled formats (GeoTIFF,
 * Zarr) encode each output block in its own task, where the data is, and assemble the file once;
 * PNG quick-looks sample each chunk down first; NetCDF and JSON gather the cube into one task.
 */

/**
 * Output tile size of GeoTIFFs (px): the COG default of GDAL, what viewers and /vsicurl/
 * expect, and a good unit of parallel compression.
 */
export const OUTPUT_TILE_SIZE = 512;

/** Spatial chunk edge of Zarr results unless the user asks for another (px): as GeoTIFF tiles, one date per chunk. */
export const DEFAULT_ZARR_CHUNK_SIZE = 512;

/**
 * Where the files of the `index`-th save_result of a graph go, without extension: `result`,
 * then `result-2`, `result-3`…, so that a graph saving two cubes gets two sets of files.
 */
export function resultBase(outputDir: string, index: number): string {
  return join(outputDir, index === 0 ? 'result' : `result-${index + 1}`);
}

/** What a COG tile task holds once done: a short report (its encoded bytes are in a part file). */
const COG_TILE_REPORT_BYTES = 512;

/**
 * Most values a JSON result may hold: 1 000 000 (about 10 MB of text). JSON is for small
 * results (statistics, a few pixels, a time series); larger cubes belong in GTiff, netCDF or Zarr.
 */
export const MAX_JSON_VALUES = 1_000_000;

/** Longest side of a PNG quick-look unless the user asks for another (px): a screen's worth, small enough to open anywhere. */
export const DEFAULT_QUICKLOOK_SIZE = 2048;

export interface GtiffOptions {
  /** zlib level when the user asks for one; otherwise the writer's fastest encoding (Z_RLE after the predictor). */
  deflateLevel: number | null;
}

export interface NetcdfOptions {
  deflateLevel: number | null;
}

export interface ZarrOptions {
  deflateLevel: number;
  chunkSize: number;
}

export interface PngOptions {
  colormap: string;
  /** Scale limits; null: the data's 2nd and 98th percentiles. */
  range: [number, number] | null;
  maxSize: number;
}

/** Where one chunk of the cube sits in the cube (pixels and time indices). */
export interface ChunkPlacement {
  x: number;
  y: number;
  width: number;
  height: number;
  /** Index range of the temporal dimension covered by the chunk (when there is one). */
  t0: number;
  t1: number;
}

type PlanePart = ChunkPlacement & { select: number[] };

interface Window {
  x: number;
  y: number;
  width: number;
  height: number;
}

function placement(cube: LazyCube, coord: ChunkCoord): ChunkPlacement {
  const cols = tileRange(coord.tx, cube.grid.width, cube.layout.tileWidth, cube.layout.offsetX);
  const rows = tileRange(coord.ty, cube.grid.height, cube.layout.tileHeight, cube.layout.offsetY);
  const times = timeBlockRange(cube, coord.tb);
  return { x: cols.start, y: rows.start, width: cols.end - cols.start, height: rows.end - rows.start, t0: times.start, t1: times.end };
}

/** Overviews GDAL would make: halve until the image fits in one tile. */
export function overviewCount(width: number, height: number, tileSize = OUTPUT_TILE_SIZE): number {
  let levels = 0;
  let w = width;
  let h = height;
  while (Math.max(w, h) > tileSize) {
    w = Math.floor(w / 2);
    h = Math.floor(h / 2);
    levels++;
  }
  return levels;
}

function safeLabel(label: string | number): string {
  return String(label).replace(/T00:00:00(\.0+)?Z$/, '').replace(/[^A-Za-z0-9_.-]+/g, '-');
}

/** One 2-D plane of the cube: an index into each non-spatial dimension, and the labels naming it. */
interface Plane {
  indices: number[];
  labels: (string | number)[];
  suffix: string;
}

/** Every combination of non-spatial labels (per date, per band …), in cube order. */
function planes(cube: LazyCube): Plane[] {
  let out: Plane[] = [{ indices: [], labels: [], suffix: '' }];
  for (const dim of nonSpatialDims(cube)) {
    const next: Plane[] = [];
    for (const plane of out) {
      dim.labels.forEach((label, i) => next.push({ indices: [...plane.indices, i], labels: [...plane.labels, label], suffix: `${plane.suffix}_${safeLabel(label)}` }));
    }
    out = next;
  }
  return out;
}

/** The time block holding the plane's date (0 without a temporal dimension). */
function timeBlockOf(cube: LazyCube, plane: Plane): number {
  const t = temporalDim(cube);
  if (!t) return 0;
  const ti = plane.indices[nonSpatialDims(cube).indexOf(t)]!;
  for (let b = 0; b < timeBlockCount(cube); b++) {
    const r = timeBlockRange(cube, b);
    if (ti >= r.start && ti < r.end) return b;
  }
  return 0;
}

/** Index of the plane within a chunk of time block `where` (the temporal index is relative to the block). */
function selectIn(cube: LazyCube, plane: Plane, where: ChunkPlacement): number[] {
  const t = temporalDim(cube);
  const tIndex = t ? nonSpatialDims(cube).indexOf(t) : -1;
  return plane.indices.map((index, d) => (d === tIndex ? index - where.t0 : index));
}

/** The chunk tasks under `window` for one plane, and where each sits. */
function partsUnder(cube: LazyCube, chunks: LazyCube, plane: Plane, window: Window): { inputs: string[]; parts: PlanePart[] } {
  const tb = timeBlockOf(cube, plane);
  const { layout } = cube;
  const tx0 = Math.floor((window.x + layout.offsetX) / layout.tileWidth);
  const tx1 = Math.floor((window.x + window.width - 1 + layout.offsetX) / layout.tileWidth);
  const ty0 = Math.floor((window.y + layout.offsetY) / layout.tileHeight);
  const ty1 = Math.floor((window.y + window.height - 1 + layout.offsetY) / layout.tileHeight);
  const inputs: string[] = [];
  const parts: PlanePart[] = [];
  for (let ty = ty0; ty <= ty1; ty++) {
    for (let tx = tx0; tx <= tx1; tx++) {
      const coord = { tx, ty, tb };
      const where = placement(cube, coord);
      inputs.push(chunks.chunk(coord).inputs[0]!);
      parts.push({ ...where, select: selectIn(cube, plane, where) });
    }
  }
  return { inputs, parts };
}

/** Blocks of `size`² covering the grid, row by row. */
function blocks(cube: LazyCube, size: number): Window[] {
  const { width, height } = cube.grid;
  const out: Window[] = [];
  for (let y = 0; y < height; y += size) {
    for (let x = 0; x < width; x += size) out.push({ x, y, width: Math.min(size, width - x), height: Math.min(size, height - y) });
  }
  return out;
}

/** Every chunk of the cube with its placement, time block by time block, row by row. */
function allChunks(cube: LazyCube, chunks: LazyCube): { inputs: string[]; parts: ChunkPlacement[] } {
  const inputs: string[] = [];
  const parts: ChunkPlacement[] = [];
  const ntx = tileCount(cube.grid.width, cube.layout.tileWidth, cube.layout.offsetX);
  const nty = tileCount(cube.grid.height, cube.layout.tileHeight, cube.layout.offsetY);
  for (let tb = 0; tb < timeBlockCount(cube); tb++) {
    for (let ty = 0; ty < nty; ty++) {
      for (let tx = 0; tx < ntx; tx++) {
        const coord = { tx, ty, tb };
        inputs.push(chunks.chunk(coord).inputs[0]!);
        parts.push(placement(cube, coord));
      }
    }
  }
  return { inputs, parts };
}

function gridOf(cube: LazyCube): { epsg: number; transform: number[]; width: number; height: number } {
  return { epsg: cube.grid.epsg, transform: [...cube.grid.transform], width: cube.grid.width, height: cube.grid.height };
}

/**
 * GeoTIFF output: one Cloud-Optimized GeoTIFF per combination of non-spatial labels (per date,
 * per band). Each 512² output tile is cut from the chunks under it and compressed by its own
 * task, in parallel across workers; one task per file assembles the tiles and overviews.
 */
export function lowerGtiff(cube: LazyCube, builder: DagBuilder, base: string, options: GtiffOptions): string[] {
  const chunks = materialize(cube, builder);
  const { width, height } = cube.grid;
  const tileCols = Math.ceil(width / OUTPUT_TILE_SIZE);
  const tileRows = Math.ceil(height / OUTPUT_TILE_SIZE);
  const overviews = overviewCount(width, height);
  const encoding = options.deflateLevel === null ? {} : { level: options.deflateLevel };
  const sinks: string[] = [];
  for (const plane of planes(cube)) {
    const path = `${base}${plane.suffix}.tif`;
    const tileKeys = blocks(cube, OUTPUT_TILE_SIZE).map((window) => {
      const { inputs, parts } = partsUnder(cube, chunks, plane, window);
      return builder.add('save.cog_tile', { path, window, tileSize: OUTPUT_TILE_SIZE, parts, overviews, encoding }, inputs, COG_TILE_REPORT_BYTES);
    });
    const overviewKeys = overviews > 0 ? lowerOverviewTiles(builder, path, tileKeys, tileCols, tileRows, width, height, encoding) : [];
    const sink = builder.add(
      'save.cog',
      {
        path,
        layout: { width, height, dtype: 'float32', tileSize: OUTPUT_TILE_SIZE, transform: cube.grid.transform, epsg: cube.grid.epsg, nodata: null },
        tileCols,
        tileRows,
        overviews,
        overviewTiles: overviewKeys.length,
        encoding,
        band: plane.labels.length > 0 ? plane.labels.map(String).join(' ') : 'data',
      },
      [...tileKeys, ...overviewKeys],
      1024,
    );
    builder.markOutput(sink);
    sinks.push(sink);
  }
  return sinks;
}

/**
 * Tasks for the tiles of a GeoTIFF's first overview, each from the (up to) four full-resolution
 * tiles under it, row by row. The levels below are small and left to the file's assembly.
 */
function lowerOverviewTiles(builder: DagBuilder, path: string, tileKeys: string[], tileCols: number, tileRows: number, width: number, height: number, encoding: Record<string, unknown>): string[] {
  const [levelWidth, levelHeight] = [Math.floor(width / 2), Math.floor(height / 2)];
  const keys: string[] = [];
  for (let row = 0; row * OUTPUT_TILE_SIZE < levelHeight; row++) {
    for (let col = 0; col * OUTPUT_TILE_SIZE < levelWidth; col++) {
      const sources: number[] = [];
      for (let ty = 2 * row; ty < Math.min(2 * row + 2, tileRows); ty++) {
        for (let tx = 2 * col; tx < Math.min(2 * col + 2, tileCols); tx++) sources.push(ty * tileCols + tx);
      }
      const args = { path, tileSize: OUTPUT_TILE_SIZE, tileCols, sources, levelWidth, levelHeight, col, row, encoding };
      keys.push(builder.add('save.cog_overview_tile', args, sources.map((index) => tileKeys[index]!), COG_TILE_REPORT_BYTES));
    }
  }
  return keys;
}

/** Refuses dimensions a format has no place for: NetCDF and Zarr results have time and bands. */
function onlyTimeAndBands(cube: LazyCube, format: string): void {
  const other = nonSpatialDims(cube).filter((d) => d.type !== 'temporal' && d.type !== 'bands');
  if (other.length > 0) {
    throw new OpenEOError('FormatUnsupported', `save_result: ${format} results have time and band dimensions; this cube also has ${other.map((d) => `"${d.name}"`).join(', ')}. Reduce it, or save as GTiff (one file per label)`);
  }
}

/**
 * NetCDF output: one CF NetCDF-4 file with a variable per band (or `data`), dimensions
 * (time,) y, x. One task gathers the chunks and writes the file.
 */
export function lowerNetcdf(cube: LazyCube, builder: DagBuilder, base: string, options: NetcdfOptions): string[] {
  onlyTimeAndBands(cube, 'netCDF');
  const chunks = materialize(cube, builder);
  const { inputs, parts } = allChunks(cube, chunks);
  const dims = nonSpatialDims(cube).map((d) => ({ name: d.name, type: d.type, labels: d.labels }));
  const sink = builder.add('save.netcdf', { path: `${base}.nc`, grid: gridOf(cube), dims, parts, deflateLevel: options.deflateLevel }, inputs, 1024);
  builder.markOutput(sink);
  return [sink];
}

/** A band label as a Zarr array name (letters, digits, `_`, `.`, `-`, not starting with a digit). */
function arrayName(label: string): string {
  const safe = label.replace(/[^A-Za-z0-9_.-]+/g, '_');
  return /^[A-Za-z_]/.test(safe) ? safe : `band_${safe}`;
}

/**
 * Zarr output: one v3 store (zipped) with an array per band (or `data`), [time,] y, x, chunks of
 * one date and `chunkSize`² pixels. Each chunk is cut and encoded by its own task; one task
 * assembles the store.
 */
export function lowerZarr(cube: LazyCube, builder: DagBuilder, base: string, options: ZarrOptions): string[] {
  onlyTimeAndBands(cube, 'Zarr');
  const chunks = materialize(cube, builder);
  const dims = nonSpatialDims(cube);
  const bandDim = dims.find((d) => d.type === 'bands');
  const time = temporalDim(cube);
  const names = bandDim ? bandDim.labels.map(arrayName) : ['data'];
  if (new Set(names).size !== names.length) throw new OpenEOError('FormatUnsupported', `save_result: band labels ${bandDim!.labels.join(', ')} do not make distinct Zarr array names`);
  const windows = blocks(cube, options.chunkSize);
  const chunkKeys: string[] = [];
  // Inputs of the store task: array by array, date by date, chunk row by chunk row (what save.zarr expects).
  for (let b = 0; b < names.length; b++) {
    for (let t = 0; t < (time?.labels.length ?? 1); t++) {
      const indices = dims.map((d) => (d === bandDim ? b : d === time ? t : 0));
      const plane: Plane = { indices, labels: [], suffix: '' };
      for (const window of windows) {
        const { inputs, parts } = partsUnder(cube, chunks, plane, window);
        chunkKeys.push(builder.add('save.zarr_chunk', { window, chunkSize: options.chunkSize, parts, deflateLevel: options.deflateLevel }, inputs, options.chunkSize * options.chunkSize));
      }
    }
  }
  const sink = builder.add(
    'save.zarr',
    { path: `${base}.zarr.zip`, grid: gridOf(cube), times: time ? [...time.labels] : null, arrays: names, chunkSize: options.chunkSize, deflateLevel: options.deflateLevel },
    chunkKeys,
    1024,
  );
  builder.markOutput(sink);
  return [sink];
}

/** Size of a quick-look of `width` x `height` no longer than `maxSize` on either side: every `step`-th pixel. */
export function quicklookGrid(grid: { epsg: number; transform: number[]; width: number; height: number }, maxSize: number): { step: number; grid: { epsg: number; transform: number[]; width: number; height: number } } {
  const step = Math.max(1, Math.ceil(Math.max(grid.width, grid.height) / maxSize));
  const [x0, dx, rx, y0, ry, dy] = grid.transform as [number, number, number, number, number, number];
  return { step, grid: { epsg: grid.epsg, transform: [x0, dx * step, rx * step, y0, ry * step, dy * step], width: Math.ceil(grid.width / step), height: Math.ceil(grid.height / step) } };
}

/**
 * PNG output: one coloured quick-look per combination of non-spatial labels, at most `maxSize`
 * pixels on its longer side. Each chunk is sampled down by its own task; one task per image
 * colours and encodes it.
 */
export function lowerPng(cube: LazyCube, builder: DagBuilder, base: string, options: PngOptions): string[] {
  const chunks = materialize(cube, builder);
  const { step, grid } = quicklookGrid(gridOf(cube), options.maxSize);
  const ntx = tileCount(cube.grid.width, cube.layout.tileWidth, cube.layout.offsetX);
  const nty = tileCount(cube.grid.height, cube.layout.tileHeight, cube.layout.offsetY);
  const sinks: string[] = [];
  for (const plane of planes(cube)) {
    const tb = timeBlockOf(cube, plane);
    const samples: string[] = [];
    for (let ty = 0; ty < nty; ty++) {
      for (let tx = 0; tx < ntx; tx++) {
        const coord = { tx, ty, tb };
        const where = placement(cube, coord);
        const part = { ...where, select: selectIn(cube, plane, where) };
        samples.push(builder.add('save.png_sample', { part, step, width: cube.grid.width, height: cube.grid.height, outWidth: grid.width, outHeight: grid.height }, chunks.chunk(coord).inputs, (where.width * where.height * 4) / (step * step)));
      }
    }
    const label = plane.labels.length > 0 ? plane.labels.map(String).join(' ') : 'data';
    const sink = builder.add('save.png', { path: `${base}${plane.suffix}.png`, grid, colormap: options.colormap, range: options.range, label }, samples, grid.width * grid.height * 4);
    builder.markOutput(sink);
    sinks.push(sink);
  }
  return sinks;
}

/** Values a cube holds (all labels of all dimensions). */
export function cubeValues(cube: LazyCube): number {
  return nonSpatialDims(cube).reduce((n, d) => n * d.labels.length, cube.grid.width * cube.grid.height);
}

/**
 * JSON output of a cube: one task gathers it and writes labelled nested arrays. Only for small
 * cubes (MAX_JSON_VALUES): anything larger is refused before it runs.
 */
export function lowerJsonCube(cube: LazyCube, builder: DagBuilder, base: string): string[] {
  const values = cubeValues(cube);
  if (values > MAX_JSON_VALUES) {
    throw new OpenEOError(
      'FormatUnsupported',
      `save_result: JSON is for small results (at most ${MAX_JSON_VALUES.toLocaleString('en')} values); this cube has ${values.toLocaleString('en')} (${cube.grid.width} x ${cube.grid.height} pixels${nonSpatialDims(cube).map((d) => ` x ${d.labels.length} ${d.name}`).join('')}). Narrow the extent or save as GTiff, netCDF or Zarr`,
    );
  }
  const chunks = materialize(cube, builder);
  const { inputs, parts } = allChunks(cube, chunks);
  const dims = nonSpatialDims(cube).map((d) => ({ name: d.name, type: d.type, labels: d.labels }));
  const sink = builder.add('save.json', { path: `${base}.json`, grid: gridOf(cube), dims, parts }, inputs, values * 4);
  builder.markOutput(sink);
  return [sink];
}

/**
 * JSON output of a value computed when the graph is compiled (a number, an array): one task
 * writes it. Values computed from cube data (a zonal statistic, a spatial mean) need a process
 * that reduces a cube to a value, e.g. aggregate_spatial producing a vector cube of per-geometry
 * partial sums combined in a tree as reduce_dimension does over time; the JSON writer would then
 * take that reduction's result as its input instead of a literal.
 */
export function lowerJsonValue(value: unknown, builder: DagBuilder, base: string): string[] {
  const sink = builder.add('save.json', { path: `${base}.json`, value }, [], 1024);
  builder.markOutput(sink);
  return [sink];
}

/** Bytes of JSON text per zonal value at most (a number, its label and nesting). */
const JSON_BYTES_PER_VECTOR_VALUE = 48;

/**
 * JSON output of zonal statistics (a vector cube): the task computing all values, when its
 * program is not already one, and the writer of the nested document.
 */
export function lowerJsonVector(cube: VectorCube, builder: DagBuilder, base: string): string[] {
  const values = cube.dims.reduce((n, d) => n * d.labels.length, 1);
  const { node, inputs } = cube.program;
  const valuesKey = node.op === 'input' && node.index === 0 && inputs.length === 1 ? inputs[0]! : builder.add('cube.eval', { program: node, geo: null, labels: null }, inputs, values * 8);
  const sink = builder.add('save.json', { path: `${base}.json`, vector: { statistic: cube.statistic, dims: cube.dims, geometries: cube.geometries } }, [valuesKey], values * JSON_BYTES_PER_VECTOR_VALUE);
  builder.markOutput(sink);
  return [sink];
}
