import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromFile } from 'geotiff';
import h5wasm from 'h5wasm/node';
import * as zarr from 'zarrita';
import { FileSystemStore } from '@zarrita/storage';

/**
 * Reference computations for end-to-end tests, written without the project's readers,
 * compiler or kernels: geotiff.js, zarrita and h5wasm directly, arithmetic in float64.
 */

export interface Raster {
  width: number;
  height: number;
  values: Float64Array;
  origin: number[];
  resolution: number[];
  epsg: number | null;
}

export async function readGeoTiff(path: string): Promise<Raster> {
  const tiff = await fromFile(path);
  const image = await tiff.getImage();
  const [band] = (await image.readRasters()) as unknown as ArrayLike<number>[];
  const keys = image.getGeoKeys() as Record<string, number> | null;
  return {
    width: image.getWidth(),
    height: image.getHeight(),
    values: Float64Array.from(band!),
    origin: image.getOrigin(),
    resolution: image.getResolution(),
    epsg: keys?.ProjectedCSTypeGeoKey ?? keys?.GeographicTypeGeoKey ?? null,
  };
}

interface SourceItem {
  datetime: string;
  assets: Record<string, { href: string }>;
}

/** Cloud-masked NDVI (SCL 3, 8, 9, 10 masked; SCL 20 m upsampled 2x), reduced over the dates in [from, to). */
export async function referenceNdvi(dataDir: string, from: string, to: string, reducer: 'max' | 'mean'): Promise<Raster> {
  const source = JSON.parse(readFileSync(join(dataDir, 'collections', 'SENTINEL2_L2A', 'source.json'), 'utf8')) as { items: SourceItem[] };
  const items = source.items.filter((i) => i.datetime >= from && i.datetime < to).sort((a, b) => a.datetime.localeCompare(b.datetime));
  let result: Raster | null = null;
  let counts: Float64Array | null = null;
  for (const item of items) {
    const red = await readGeoTiff(join(dataDir, item.assets.B04!.href));
    const nir = await readGeoTiff(join(dataDir, item.assets.B08!.href));
    const scl = await readGeoTiff(join(dataDir, item.assets.SCL!.href));
    if (!result) {
      result = { ...red, values: new Float64Array(red.width * red.height).fill(NaN) };
      counts = new Float64Array(red.width * red.height);
    }
    for (let r = 0; r < red.height; r++) {
      for (let c = 0; c < red.width; c++) {
        const i = r * red.width + c;
        const s = scl.values[(r >> 1) * scl.width + (c >> 1)]!;
        const b4 = red.values[i]! * 0.0001;
        const b8 = nir.values[i]! * 0.0001;
        if (red.values[i] === 0 || nir.values[i] === 0 || s === 0 || s === 3 || s === 8 || s === 9 || s === 10) continue;
        const ndvi = (b8 - b4) / (b8 + b4);
        const current = result.values[i]!;
        if (reducer === 'max') result.values[i] = Number.isNaN(current) ? ndvi : Math.max(current, ndvi);
        else {
          result.values[i] = (Number.isNaN(current) ? 0 : current) + ndvi;
          counts![i]!++;
        }
      }
    }
  }
  if (!result) throw new Error('no items in the range');
  if (reducer === 'mean') for (let i = 0; i < result.values.length; i++) if (counts![i]! > 0) result.values[i] = result.values[i]! / counts![i]!;
  return result;
}

/** NaN-skipping mean over days [from, to) of the OISST sample cube, on lat/lon cell centres inside the box, north-up. */
export async function referenceSstMean(dataDir: string, box: { west: number; south: number; east: number; north: number }, from: string, to: string): Promise<{ lat: number[]; lon: number[]; values: Float64Array }> {
  const source = JSON.parse(readFileSync(join(dataDir, 'collections', 'OISST', 'source.json'), 'utf8')) as { store: string; array: string; dates: string[] };
  const root = zarr.root(new FileSystemStore(join(dataDir, source.store)));
  const array = await zarr.open(root.resolve(source.array), { kind: 'array' });
  const days = source.dates.map((d, i) => [d, i] as const).filter(([d]) => d >= from && d < to).map(([, i]) => i);
  const lats: number[] = [];
  const rows: number[] = [];
  for (let row = 0; row < 720; row++) {
    const lat = -89.875 + 0.25 * row;
    if (lat >= box.south && lat <= box.north) {
      lats.push(lat);
      rows.push(row);
    }
  }
  const lons: number[] = [];
  const cols: number[] = [];
  for (let col = 0; col < 1440; col++) {
    const lon = 0.125 + 0.25 * col;
    const signed = lon > 180 ? lon - 360 : lon;
    if (signed >= box.west && signed <= box.east) {
      lons.push(signed);
      cols.push(col);
    }
  }
  const order = lons.map((_, i) => i).sort((a, b) => lons[a]! - lons[b]!);
  const sortedLons = order.map((i) => lons[i]!);
  const sortedCols = order.map((i) => cols[i]!);
  const sum = new Float64Array(lats.length * lons.length);
  const count = new Float64Array(lats.length * lons.length);
  for (const day of days) {
    const slice = await zarr.get(array, [day, null, null]);
    const data = slice.data as Float32Array;
    // North-up: output row 0 is the northernmost latitude.
    for (let r = 0; r < rows.length; r++) {
      const row = rows[rows.length - 1 - r]!;
      for (let c = 0; c < sortedCols.length; c++) {
        const v = data[row * 1440 + sortedCols[c]!]!;
        if (Number.isNaN(v)) continue;
        sum[r * sortedCols.length + c]! += v;
        count[r * sortedCols.length + c]!++;
      }
    }
  }
  const values = new Float64Array(sum.length);
  for (let i = 0; i < sum.length; i++) values[i] = count[i] ? sum[i]! / count[i]! : NaN;
  return { lat: [...lats].reverse(), lon: sortedLons, values };
}

/** A NetCDF variable and its coordinates, read with h5wasm. */
export async function readNetcdfVariable(path: string, variable: string): Promise<{ values: Float64Array; dims: Record<string, Float64Array>; shape: number[] }> {
  await h5wasm.ready;
  const file = new h5wasm.File(path, 'r');
  try {
    const dataset = file.get(variable) as unknown as { value: ArrayLike<number>; shape: number[] };
    const dims: Record<string, Float64Array> = {};
    for (const name of ['lat', 'lon', 'y', 'x', 'time']) {
      const coord = file.get(name) as unknown as { value: ArrayLike<number> } | null;
      if (coord) dims[name] = Float64Array.from(coord.value);
    }
    return { values: Float64Array.from(dataset.value), dims, shape: dataset.shape };
  } finally {
    file.close();
  }
}
