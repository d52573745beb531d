import { join } from 'node:path/posix';
import { type ChunkCoord, type LazyCube, nonSpatialDims, temporalDim, tileCount, tileRange, timeBlockCount, timeBlockRange } from './cube.js';
import { materialize } from './cube-ops.js';
import type { DagBuilder } from './dag-builder.js';

/**
 * Output tile size of GeoTIFFs (px): the COG default of GDAL, what viewers and /vsicurl/
 * expect, and a good unit of parallel compression.
 */
export const OUTPUT_TILE_SIZE = 512;
export interface SaveOptions {
  /** zlib level when the user asks for one; otherwise the writer's fastest encoding (Z_RLE after the predictor). */
  deflateLevel: number | null;
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

/**
 * GeoTIFF output: one Cloud-Optimized GeoTIFF per combination of non-spatial labels (per date,
 * per band). Each 512² output tile is cut from the chunks under it and compressed by its own
 * task, in parallel across workers; one task per file assembles the tiles and overviews.
 */
export function lowerGtiff(cube: LazyCube, builder: DagBuilder, outputDir: string, options: SaveOptions): string[] {
  const chunks = materialize(cube, builder);
  const dims = nonSpatialDims(cube);
  const { width, height } = cube.grid;
  const tileCols = Math.ceil(width / OUTPUT_TILE_SIZE);
  const tileRows = Math.ceil(height / OUTPUT_TILE_SIZE);
  const overviews = overviewCount(width, height);
  const encoding = options.deflateLevel === null ? {} : { level: options.deflateLevel };
  const combos: { indices: number[]; suffix: string }[] = [{ indices: [], suffix: '' }];
  for (const dim of dims) {
    const next: typeof combos = [];
    for (const combo of combos) {
      dim.labels.forEach((label, i) => next.push({ indices: [...combo.indices, i], suffix: `${combo.suffix}_${safeLabel(label)}` }));
    }
    combos.splice(0, combos.length, ...next);
  }
  const t = temporalDim(cube);
  const tIndex = t ? dims.indexOf(t) : -1;
  const sinks: string[] = [];
  for (const combo of combos) {
    // The time block holding this file's date, and the index within the block.
    let tb = 0;
    if (t) {
      const ti = combo.indices[tIndex]!;
      for (let b = 0; b < timeBlockCount(cube); b++) {
        const r = timeBlockRange(cube, b);
        if (ti >= r.start && ti < r.end) tb = b;
      }
    }
    const tileKeys: string[] = [];
    for (let oty = 0; oty < tileRows; oty++) {
      for (let otx = 0; otx < tileCols; otx++) {
        const window = { x: otx * OUTPUT_TILE_SIZE, y: oty * OUTPUT_TILE_SIZE, width: Math.min(OUTPUT_TILE_SIZE, width - otx * OUTPUT_TILE_SIZE), height: Math.min(OUTPUT_TILE_SIZE, height - oty * OUTPUT_TILE_SIZE) };
        const inputs: string[] = [];
        const parts: (ChunkPlacement & { select: number[] })[] = [];
        const tx0 = Math.floor((window.x + cube.layout.offsetX) / cube.layout.tileWidth);
        const tx1 = Math.floor((window.x + window.width - 1 + cube.layout.offsetX) / cube.layout.tileWidth);
        const ty0 = Math.floor((window.y + cube.layout.offsetY) / cube.layout.tileHeight);
        const ty1 = Math.floor((window.y + window.height - 1 + cube.layout.offsetY) / cube.layout.tileHeight);
        for (let ty = ty0; ty <= ty1; ty++) {
          for (let tx = tx0; tx <= tx1; tx++) {
            const coord = { tx, ty, tb };
            const where = placement(cube, coord);
            const select = combo.indices.map((index, d) => (d === tIndex ? index - where.t0 : index));
            inputs.push(chunks.chunk(coord).inputs[0]!);
            parts.push({ ...where, select });
          }
        }
        tileKeys.push(builder.add('save.cog_tile', { window, tileSize: OUTPUT_TILE_SIZE, parts, overviews, encoding }, inputs, OUTPUT_TILE_SIZE * OUTPUT_TILE_SIZE));
      }
    }
    const name = `result${combo.suffix}.tif`;
    const sink = builder.add(
      'save.cog',
      {
        path: join(outputDir, name),
        layout: { width, height, dtype: 'float32', tileSize: OUTPUT_TILE_SIZE, transform: cube.grid.transform, epsg: cube.grid.epsg, nodata: null },
        tileCols,
        tileRows,
        overviews,
        encoding,
      },
      tileKeys,
      1024,
    );
    builder.markOutput(sink);
    sinks.push(sink);
  }
  return sinks;
}

/**
 * NetCDF output: one CF NetCDF-4 file with a variable per band (or `data`), dimensions
 * (time,) y, x. One task gathers the chunks and writes the file.
 */
export function lowerNetcdf(cube: LazyCube, builder: DagBuilder, outputDir: string, options: SaveOptions): string[] {
  const chunks = materialize(cube, builder);
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
  const dims = nonSpatialDims(cube).map((d) => ({ name: d.name, type: d.type, labels: d.labels }));
  const sink = builder.add(
    'save.netcdf',
    {
      path: join(outputDir, 'result.nc'),
      grid: { epsg: cube.grid.epsg, transform: cube.grid.transform, width: cube.grid.width, height: cube.grid.height },
      dims,
      parts,
      deflateLevel: options.deflateLevel,
    },
    inputs,
    1024,
  );
  builder.markOutput(sink);
  return [sink];
}

