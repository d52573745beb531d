/**
 * Zarr v3 stores of results, written with zarrita and packed into one ZIP archive (stored, not
 * recompressed): one file to download, sign and serve by range, which zarrita (`ZipFileStore`),
 * zarr-python (`ZipStore`) and GDAL (`/vsizip/`) open as a store.
 *
 * Chunks are encoded wherever their data is (zarrita's codec pipeline on a one-chunk in-memory
 * array), so the chunks of one store compress in parallel on many workers; the store is then
 * assembled once: group and array metadata, coordinates, a CF grid-mapping variable and the
 * encoded chunks.
 */
import * as zarr from 'zarrita';
import { TaskError } from '../../common/errors.js';
import { registerZarrCodecs } from './zarr-codecs.js';
import { writeZip, type ZipEntry } from './zip-writer.js';

/** gzip level of chunks unless the user asks for another: 1, fastest, most of the ratio on noisy floats. */
export const DEFAULT_ZARR_DEFLATE_LEVEL = 1;

/** Name of the scalar grid-mapping array data arrays point to (CF `grid_mapping`), as the NetCDF results name it. */
export const ZARR_GRID_MAPPING = 'crs';

export type ZarrAttributes = Record<string, unknown>;

/** A 1-D coordinate array (x/y or lon/lat, time). */
export interface ZarrCoordinate {
  name: string;
  values: Float64Array;
  attributes: ZarrAttributes;
}

/** A float32 data array whose chunks were encoded with `encodeZarrChunk`. */
export interface ZarrDataArray {
  name: string;
  dims: string[];
  shape: number[];
  chunkShape: number[];
  attributes: ZarrAttributes;
  /** Encoded chunks by grid index (e.g. `[t, y, x]`); chunks absent here read as the fill value (NaN). */
  chunks: { index: number[]; data: Uint8Array }[];
}

export interface ZarrDocument {
  attributes: ZarrAttributes;
  coordinates: ZarrCoordinate[];
  arrays: ZarrDataArray[];
  /** Attributes of the grid-mapping array (CF grid mapping, WKT, GeoTransform). */
  gridMapping: ZarrAttributes | null;
  deflateLevel: number;
}

function codecs(deflateLevel: number): zarr.CodecMetadata[] {
  return [
    { name: 'bytes', configuration: { endian: 'little' } },
    { name: 'gzip', configuration: { level: deflateLevel } },
  ];
}

function stridesOf(shape: number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= shape[d]!;
  }
  return strides;
}

function chunkKey(index: number[]): string {
  return `c/${index.join('/')}`;
}

/**
 * The bytes of one chunk of a float32 array with codecs `bytes` + `gzip` (`values` row-major in
 * `chunkShape`, edges padded with NaN), exactly as zarrita writes them into a store.
 */
export async function encodeZarrChunk(values: Float32Array, chunkShape: number[], deflateLevel: number): Promise<Uint8Array> {
  registerZarrCodecs();
  const store = new Map<string, Uint8Array>();
  const array = await zarr.create(zarr.root(store).resolve('chunk'), { shape: chunkShape, chunkShape, dtype: 'float32', codecs: codecs(deflateLevel), fillValue: NaN });
  await zarr.set(array, null, { data: values, shape: chunkShape, stride: stridesOf(chunkShape) });
  const encoded = store.get(`/chunk/${chunkKey(chunkShape.map(() => 0))}`);
  if (!encoded) throw new TaskError('internal', 'zarrita wrote no chunk');
  return encoded;
}

/** Builds the store in memory with zarrita and writes it as a ZIP archive at `path`, atomically. */
export async function writeZarrZip(path: string, doc: ZarrDocument): Promise<{ bytes: number }> {
  registerZarrCodecs();
  validate(doc);
  const store = new Map<string, Uint8Array>();
  const root = zarr.root(store);
  await zarr.create(root, { attributes: doc.attributes });
  for (const coordinate of doc.coordinates) {
    const length = coordinate.values.length;
    const array = await zarr.create(root.resolve(coordinate.name), {
      shape: [length],
      chunkShape: [length],
      dtype: 'float64',
      codecs: codecs(doc.deflateLevel),
      fillValue: NaN,
      dimensionNames: [coordinate.name],
      attributes: coordinate.attributes,
    });
    await zarr.set(array, null, { data: coordinate.values, shape: [length], stride: [1] });
  }
  if (doc.gridMapping) {
    // CF reads only the attributes of a grid-mapping variable: a 0-d int32 whose one value is its fill value, so no chunk is stored.
    await zarr.create(root.resolve(ZARR_GRID_MAPPING), { shape: [], chunkShape: [], dtype: 'int32', fillValue: 0, attributes: doc.gridMapping });
  }
  const entries: ZipEntry[] = [];
  for (const array of doc.arrays) {
    await zarr.create(root.resolve(array.name), {
      shape: array.shape,
      chunkShape: array.chunkShape,
      dtype: 'float32',
      codecs: codecs(doc.deflateLevel),
      fillValue: NaN,
      dimensionNames: array.dims,
      attributes: doc.gridMapping ? { ...array.attributes, grid_mapping: ZARR_GRID_MAPPING } : array.attributes,
    });
    for (const chunk of array.chunks) entries.push({ name: `${array.name}/${chunkKey(chunk.index)}`, data: chunk.data });
  }
  // Metadata first, in creation order, then the chunks: a reader listing the archive meets the hierarchy first.
  const metadata: ZipEntry[] = [...store.entries()].map(([key, data]) => ({ name: key.replace(/^\//, ''), data }));
  return writeZip(path, [...metadata, ...entries]);
}

function validate(doc: ZarrDocument): void {
  const names = new Set<string>();
  const claim = (name: string): void => {
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) throw new TaskError('user', `"${name}" cannot name a Zarr array; use letters, digits, "_", "." and "-"`, { openeoCode: 'FormatUnsupported' });
    if (names.has(name)) throw new TaskError('user', `two Zarr arrays would be named "${name}"`, { openeoCode: 'FormatUnsupported' });
    names.add(name);
  };
  for (const coordinate of doc.coordinates) claim(coordinate.name);
  if (doc.gridMapping) claim(ZARR_GRID_MAPPING);
  for (const array of doc.arrays) {
    claim(array.name);
    if (array.dims.length !== array.shape.length || array.chunkShape.length !== array.shape.length) throw new TaskError('internal', `Zarr array "${array.name}": dims, shape and chunks differ in rank`);
    for (const chunk of array.chunks) {
      if (chunk.index.length !== array.shape.length || chunk.index.some((i, d) => i < 0 || i >= Math.ceil(array.shape[d]! / array.chunkShape[d]!))) {
        throw new TaskError('internal', `Zarr array "${array.name}": chunk [${chunk.index.join(', ')}] is outside its grid`);
      }
    }
  }
}
