import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describeError, TaskError } from '../../common/errors.js';
import { bytesPerElement, dtypeOf, isFloat, type DType, type GeoTransform, type TypedArray } from '../../common/raster.js';
import {
  downsample2x,
  encodeTileAsync,
  extractTile,
  HOST_LITTLE_ENDIAN,
  resolveTileEncoding,
  validateTileEncoding,
  type TileEncoding,
} from './cog-tile-encoder.js';
import {
  BIGTIFF_OFFSET_SIZE,
  BLOCK_LEADER_SIZE,
  BLOCK_TRAILER_SIZE,
  CLASSIC_TIFF_MAX_OFFSET,
  CompressionCode,
  GDAL_STRUCTURAL_METADATA_BODY,
  GDAL_STRUCTURAL_METADATA_PREFIX,
  GEOKEY_DIRECTORY_VERSION,
  GeoKey,
  ModelTypeCode,
  PHOTOMETRIC_MIN_IS_BLACK,
  PLANAR_CONTIGUOUS,
  RASTER_PIXEL_IS_AREA,
  SampleFormatCode,
  SUBFILE_REDUCED_RESOLUTION,
  TIFF_TYPE_SIZE,
  TIFF_VERSION_BIGTIFF,
  TIFF_VERSION_CLASSIC,
  TiffTag,
  TiffType,
  type TiffTypeCode,
} from './tiff-tags.js';

/**
 * Cloud-Optimized GeoTIFF files laid out as GDAL's COG driver writes them: header and GDAL's
 * structural metadata, every IFD (full resolution, then overviews), the tile indexes, then tile
 * data from the smallest overview to full resolution, each tile framed by its size and a copy of
 * its last 4 bytes. A reader fetching the first few KiB by range gets every header.
 */

/** 512x512 tiles: GDAL's COG default, and what object-store readers are tuned for. */
export const DEFAULT_TILE_SIZE = 512;

/** `average`: overviews of continuous data (reflectances, indices); class rasters should ask for `nearest`. */
export const DEFAULT_OVERVIEW_METHOD: 'average' | 'nearest' = 'average';

/**
 * Tiles `writeCog` compresses at once: as many as libuv's thread pool runs (UV_THREADPOOL_SIZE,
 * default 4), where asynchronous deflate executes; more would only queue. Not fewer on a 2-core
 * machine: while one tile is predicted on the calling thread, the others keep the cores busy.
 */
export const TILE_ENCODE_CONCURRENCY = Math.max(1, Number(process.env.UV_THREADPOOL_SIZE) || 4);

/**
 * EPSG codes written as geographic (GTModelType 2, GeographicTypeGeoKey): WGS 84 and the other
 * geographic 2D systems collections are commonly delivered in. Every other code is written as
 * projected (UTM 326xx/327xx, ETRS89 LAEA 3035, Web Mercator 3857, ...). There is no EPSG
 * database at run time, so a new geographic CRS must be added here.
 */
export const GEOGRAPHIC_EPSG_CODES: ReadonlySet<number> = new Set([4326, 4258, 4269, 4267, 4283, 7844, 4490, 4674, 4617]);

/** Tiles per `writev` call: three buffers each (leader, data, trailer) stays under Linux's IOV_MAX of 1024. */
export const TILES_PER_WRITE = 256;

export interface CogLayout {
  width: number;
  height: number;
  dtype: DType;
  tileSize: number;
  transform: GeoTransform;
  epsg: number;
  nodata: number | null;
  bandCount?: 1;
  description?: string;
}

export interface CogLevel {
  width: number;
  height: number;
  /** Row-major tile order, already encoded. */
  tiles: Uint8Array[];
}

export interface AssembleOptions {
  /** Write BigTIFF even when the file would fit a classic TIFF, so tests can cover that layout without writing 4 GiB. */
  forceBigTiff?: boolean;
}

/**
 * Writes the file: IFDs (full resolution first, then overviews, each as a reduced-resolution
 * subfile) at the start, then tile data smallest overview first and full resolution last. Classic
 * TIFF when every offset fits in 32 bits, BigTIFF otherwise. Writes to a temporary name in the
 * same directory and renames, so a half-written file is never seen under its final name.
 */
export async function assembleCog(
  path: string,
  layout: CogLayout,
  levels: CogLevel[],
  encoding: TileEncoding,
  options: AssembleOptions = {},
): Promise<{ bytes: number }> {
  validateLayout(layout);
  validateTileEncoding(layout.dtype, encoding);
  validateLevels(layout, levels, encoding);

  let plan = planFile(layout, levels, encoding, options.forceBigTiff === true);
  if (!plan.bigTiff && plan.totalBytes > CLASSIC_TIFF_MAX_OFFSET) plan = planFile(layout, levels, encoding, true);

  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.partial`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temporary, 'wx');
    await writeFully(handle, [plan.header], 0);
    await writeTiles(handle, plan);
    // Renaming publishes the file; its data must be on disk first or a crash could leave a
    // complete-looking name over missing blocks.
    await handle.datasync();
    await handle.close();
    handle = undefined;
    await rename(temporary, path);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    throw new TaskError('internal', `cannot write COG ${path}: ${describeError(error)}`, { cause: error, openeoCode: 'StorageFailure' });
  }
  return { bytes: plan.totalBytes };
}

/** Convenience for whole arrays (sample data, small results): computes overviews until the level fits in one tile, encodes all tiles and assembles. */
export async function writeCog(
  path: string,
  data: TypedArray,
  layout: Omit<CogLayout, 'tileSize'> & { tileSize?: number },
  options: Partial<TileEncoding> & { overviewMethod?: 'average' | 'nearest' } = {},
): Promise<{ bytes: number }> {
  const full: CogLayout = { ...layout, tileSize: layout.tileSize ?? DEFAULT_TILE_SIZE };
  validateLayout(full);
  if (dtypeOf(data) !== full.dtype) throw invalid(`data is ${dtypeOf(data)}, layout says ${full.dtype}`);
  if (data.length !== full.width * full.height) throw invalid(`a ${full.width}x${full.height} raster needs ${full.width * full.height} samples, got ${data.length}`);
  const { overviewMethod = DEFAULT_OVERVIEW_METHOD, ...encodingOptions } = options;
  const encoding = resolveTileEncoding(full.dtype, encodingOptions);
  // Padding with nodata keeps edge tiles out of overview means and compresses as one run.
  const fill = full.nodata ?? 0;

  const levels: CogLevel[] = [];
  let level = { data, width: full.width, height: full.height };
  for (;;) {
    const tiles = await encodeLevelTiles(level.data, level.width, level.height, full, encoding, fill);
    levels.push({ width: level.width, height: level.height, tiles });
    if (level.width <= full.tileSize && level.height <= full.tileSize) break;
    level = downsample2x(level.data, level.width, level.height, overviewMethod, full.nodata);
  }
  return assembleCog(path, full, levels, encoding);
}

async function encodeLevelTiles(data: TypedArray, width: number, height: number, layout: CogLayout, encoding: TileEncoding, fill: number): Promise<Uint8Array[]> {
  const { tileSize, dtype } = layout;
  const columns = Math.ceil(width / tileSize);
  const count = columns * Math.ceil(height / tileSize);
  const tiles = new Array<Uint8Array>(count);
  let next = 0;
  let failed = false;
  const encodeNext = async (): Promise<void> => {
    while (next < count && !failed) {
      const index = next++;
      const tile = extractTile(data, width, height, index % columns, Math.floor(index / columns), tileSize, fill);
      try {
        tiles[index] = await encodeTileAsync(tile, tileSize, dtype, encoding);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(TILE_ENCODE_CONCURRENCY, count) }, encodeNext));
  return tiles;
}

// ---------------------------------------------------------------------------------------------
// Validation

const INTEGER_RANGE: Partial<Record<DType, [number, number]>> = {
  uint8: [0, 0xff],
  int8: [-0x80, 0x7f],
  uint16: [0, 0xffff],
  int16: [-0x8000, 0x7fff],
  uint32: [0, 0xffff_ffff],
  int32: [-0x8000_0000, 0x7fff_ffff],
};

function validateLayout(layout: CogLayout): void {
  const { width, height, dtype, tileSize, transform, epsg, nodata, bandCount, description } = layout;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw invalid(`size must be positive integers, got ${width}x${height}`);
  if (!Object.hasOwn(SAMPLE_FORMAT, dtype)) throw invalid(`unknown dtype ${String(dtype)}`);
  // TIFF 6.0 requires tile dimensions to be multiples of 16.
  if (!Number.isInteger(tileSize) || tileSize < 16 || tileSize % 16 !== 0 || tileSize > 0xffff) throw invalid(`tile size must be a multiple of 16, got ${tileSize}`);
  if (bandCount !== undefined && bandCount !== 1) throw invalid(`only single-band files are written, got ${String(bandCount)} bands`);
  if (transform.length !== 6 || !transform.every(Number.isFinite)) throw invalid(`geotransform must be 6 finite numbers, got [${transform.join(', ')}]`);
  if (transform[1] * transform[5] - transform[2] * transform[4] === 0) throw invalid(`geotransform [${transform.join(', ')}] is degenerate`);
  // GeoKey values are SHORTs.
  if (!Number.isInteger(epsg) || epsg < 1 || epsg > 0xffff) throw invalid(`EPSG code must be an integer 1-65535, got ${epsg}`);
  if (description !== undefined && description.includes('\0')) throw invalid('description must not contain NUL characters');
  if (nodata === null) return;
  if (typeof nodata !== 'number') throw invalid(`nodata must be a number or null, got ${typeof nodata}`);
  const range = INTEGER_RANGE[dtype];
  if (range && !(Number.isInteger(nodata) && nodata >= range[0] && nodata <= range[1])) throw invalid(`nodata ${nodata} is not a ${dtype} value`);
}

function validateLevels(layout: CogLayout, levels: CogLevel[], encoding: TileEncoding): void {
  if (levels.length === 0) throw invalid('no levels to write');
  const first = levels[0]!;
  if (first.width !== layout.width || first.height !== layout.height) {
    throw invalid(`first level is ${first.width}x${first.height}, layout is ${layout.width}x${layout.height}`);
  }
  const rawTileBytes = layout.tileSize * layout.tileSize * bytesPerElement(layout.dtype);
  levels.forEach((level, index) => {
    const previous = levels[index - 1];
    if (!Number.isInteger(level.width) || !Number.isInteger(level.height) || level.width < 1 || level.height < 1) throw invalid(`level ${index} has size ${level.width}x${level.height}`);
    if (previous && (level.width > previous.width || level.height > previous.height || (level.width === previous.width && level.height === previous.height))) {
      throw invalid(`level ${index} (${level.width}x${level.height}) is not smaller than level ${index - 1} (${previous.width}x${previous.height})`);
    }
    const expected = Math.ceil(level.width / layout.tileSize) * Math.ceil(level.height / layout.tileSize);
    if (level.tiles.length !== expected) throw invalid(`level ${index} (${level.width}x${level.height}) needs ${expected} tiles, got ${level.tiles.length}`);
    level.tiles.forEach((tile, t) => {
      if (!(tile instanceof Uint8Array) || tile.byteLength < BLOCK_TRAILER_SIZE) throw invalid(`tile ${t} of level ${index} is not an encoded tile`);
      if (encoding.compression === 'none' && tile.byteLength !== rawTileBytes) {
        throw invalid(`uncompressed tile ${t} of level ${index} has ${tile.byteLength} bytes, expected ${rawTileBytes}`);
      }
    });
  });
}

function invalid(message: string): TaskError {
  return new TaskError('internal', `COG layout: ${message}`);
}

// ---------------------------------------------------------------------------------------------
// File plan: every byte position is known before anything is written.

interface Field {
  tag: number;
  type: TiffTypeCode;
  values: ArrayLike<number>;
  /** Tile indexes go after all IFDs, as GDAL puts them, so that the IFD chain itself is compact. */
  afterIfds?: boolean;
}

interface FilePlan {
  bigTiff: boolean;
  header: Uint8Array;
  totalBytes: number;
  /** Tiles in file order, with the offset of each tile's leader. */
  tilesInFileOrder: { tile: Uint8Array; leaderOffset: number }[];
}

const SAMPLE_FORMAT: Record<DType, number> = {
  uint8: SampleFormatCode.UnsignedInteger,
  uint16: SampleFormatCode.UnsignedInteger,
  uint32: SampleFormatCode.UnsignedInteger,
  int8: SampleFormatCode.SignedInteger,
  int16: SampleFormatCode.SignedInteger,
  int32: SampleFormatCode.SignedInteger,
  float32: SampleFormatCode.IeeeFloat,
  float64: SampleFormatCode.IeeeFloat,
};

function planFile(layout: CogLayout, levels: CogLevel[], encoding: TileEncoding, bigTiff: boolean): FilePlan {
  const offsetType = bigTiff ? TiffType.LONG8 : TiffType.LONG;
  const tileOffsets = levels.map((level) => new Array<number>(level.tiles.length).fill(0));
  const tileByteCounts = levels.map((level) => level.tiles.map((tile) => tile.byteLength));
  const ifds = levels.map((level, index) => {
    const fields: Field[] = [
      ...imageFields(layout, level, index, encoding),
      { tag: TiffTag.TileOffsets, type: offsetType, values: tileOffsets[index]!, afterIfds: true },
      { tag: TiffTag.TileByteCounts, type: offsetType, values: tileByteCounts[index]!, afterIfds: true },
      ...(index === 0 ? georeferencingFields(layout) : []),
    ];
    return fields.sort((a, b) => a.tag - b.tag);
  });

  const ghost = ghostArea();
  const headerSize = bigTiff ? 16 : 8;
  const positions = placeIfds(ifds, bigTiff, align2(headerSize + ghost.byteLength));

  // Tile data: smallest overview first, full resolution last, each tile framed by leader and trailer.
  const tilesInFileOrder: FilePlan['tilesInFileOrder'] = [];
  let position = positions.end;
  for (let index = levels.length - 1; index >= 0; index--) {
    levels[index]!.tiles.forEach((tile, t) => {
      tilesInFileOrder.push({ tile, leaderOffset: position });
      tileOffsets[index]![t] = position + BLOCK_LEADER_SIZE;
      position += BLOCK_LEADER_SIZE + tile.byteLength + BLOCK_TRAILER_SIZE;
    });
  }
  const totalBytes = position;
  // Too large for 32-bit offsets: the caller plans again as BigTIFF, so skip serialising.
  if (!bigTiff && totalBytes > CLASSIC_TIFF_MAX_OFFSET) return { bigTiff, header: new Uint8Array(0), totalBytes, tilesInFileOrder };

  const header = new Uint8Array(positions.end);
  const view = new DataView(header.buffer);
  const little = HOST_LITTLE_ENDIAN;
  header.set(little ? [0x49, 0x49] : [0x4d, 0x4d], 0);
  if (bigTiff) {
    view.setUint16(2, TIFF_VERSION_BIGTIFF, little);
    view.setUint16(4, BIGTIFF_OFFSET_SIZE, little);
    view.setUint16(6, 0, little);
    view.setBigUint64(8, BigInt(positions.ifdOffsets[0]!), little);
  } else {
    view.setUint16(2, TIFF_VERSION_CLASSIC, little);
    view.setUint32(4, positions.ifdOffsets[0]!, little);
  }
  header.set(ghost, headerSize);
  ifds.forEach((fields, index) => {
    writeIfd(view, fields, positions.ifdOffsets[index]!, positions.valueOffsets[index]!, positions.ifdOffsets[index + 1] ?? 0, bigTiff, little);
  });
  return { bigTiff, header, totalBytes, tilesInFileOrder };
}

function imageFields(layout: CogLayout, level: CogLevel, index: number, encoding: TileEncoding): Field[] {
  const short = (tag: number, value: number): Field => ({ tag, type: TiffType.SHORT, values: [value] });
  const fields: Field[] = [
    { tag: TiffTag.ImageWidth, type: TiffType.LONG, values: [level.width] },
    { tag: TiffTag.ImageLength, type: TiffType.LONG, values: [level.height] },
    short(TiffTag.BitsPerSample, 8 * bytesPerElement(layout.dtype)),
    short(TiffTag.Compression, encoding.compression === 'deflate' ? CompressionCode.AdobeDeflate : CompressionCode.None),
    short(TiffTag.PhotometricInterpretation, PHOTOMETRIC_MIN_IS_BLACK),
    short(TiffTag.SamplesPerPixel, 1),
    short(TiffTag.PlanarConfiguration, PLANAR_CONTIGUOUS),
    short(TiffTag.TileWidth, layout.tileSize),
    short(TiffTag.TileLength, layout.tileSize),
    short(TiffTag.SampleFormat, SAMPLE_FORMAT[layout.dtype]),
  ];
  if (index > 0) fields.push({ tag: TiffTag.NewSubfileType, type: TiffType.LONG, values: [SUBFILE_REDUCED_RESOLUTION] });
  if (encoding.predictor !== 1) fields.push(short(TiffTag.Predictor, encoding.predictor));
  if (index === 0 && layout.description !== undefined) fields.push(ascii(TiffTag.ImageDescription, layout.description));
  // Every level carries nodata, so a reader that opens an overview alone still masks it.
  if (layout.nodata !== null) fields.push(ascii(TiffTag.GdalNodata, formatNodata(layout.nodata, layout.dtype)));
  return fields;
}

function georeferencingFields(layout: CogLayout): Field[] {
  const [originX, pixelWidth, rowRotation, originY, columnRotation, pixelHeight] = layout.transform;
  const fields: Field[] = [];
  if (rowRotation === 0 && columnRotation === 0 && pixelWidth > 0 && pixelHeight < 0) {
    fields.push({ tag: TiffTag.ModelPixelScale, type: TiffType.DOUBLE, values: [pixelWidth, -pixelHeight, 0] });
    fields.push({ tag: TiffTag.ModelTiepoint, type: TiffType.DOUBLE, values: [0, 0, 0, originX, originY, 0] });
  } else {
    // Rotated or flipped grids need the full matrix; scale + tiepoint can only say north-up.
    const matrix = [pixelWidth, rowRotation, 0, originX, columnRotation, pixelHeight, 0, originY, 0, 0, 0, 0, 0, 0, 0, 1];
    fields.push({ tag: TiffTag.ModelTransformation, type: TiffType.DOUBLE, values: matrix });
  }
  const geographic = GEOGRAPHIC_EPSG_CODES.has(layout.epsg);
  const keys: [number, number][] = [
    [GeoKey.GTModelType, geographic ? ModelTypeCode.Geographic : ModelTypeCode.Projected],
    [GeoKey.GTRasterType, RASTER_PIXEL_IS_AREA],
    [geographic ? GeoKey.GeographicType : GeoKey.ProjectedCSType, layout.epsg],
  ];
  // Each key: id, location 0 (value inline), count 1, value.
  const directory = [...GEOKEY_DIRECTORY_VERSION, keys.length, ...keys.flatMap(([key, value]) => [key, 0, 1, value])];
  fields.push({ tag: TiffTag.GeoKeyDirectory, type: TiffType.SHORT, values: directory });
  return fields;
}

/** GDAL's spelling of nodata: "nan", "inf", "-inf", or the number (shortest round-trip form). */
export function formatNodata(value: number, dtype: DType): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  return isFloat(dtype) ? String(value) : value.toFixed(0);
}

function ascii(tag: number, text: string): Field {
  return { tag, type: TiffType.ASCII, values: [...Buffer.from(`${text}\0`, 'utf8')] };
}

/** GDAL's structural metadata block, byte for byte what its COG driver writes after the header. */
function ghostArea(): Uint8Array {
  const size = String(GDAL_STRUCTURAL_METADATA_BODY.length).padStart(6, '0');
  return Buffer.from(`${GDAL_STRUCTURAL_METADATA_PREFIX}${size} bytes\n${GDAL_STRUCTURAL_METADATA_BODY}`, 'latin1');
}

function align2(offset: number): number {
  return offset + (offset & 1);
}

function fieldBytes(field: Field): number {
  return field.values.length * TIFF_TYPE_SIZE[field.type];
}

/**
 * Places each IFD followed by its out-of-line values, then all tile indexes. Returns each IFD's
 * offset, each field's value offset (-1 when the value fits inside the entry) and the end.
 */
function placeIfds(ifds: Field[][], bigTiff: boolean, start: number): { ifdOffsets: number[]; valueOffsets: number[][]; end: number } {
  const inlineBytes = bigTiff ? 8 : 4;
  const entryBytes = bigTiff ? 20 : 12;
  const countBytes = bigTiff ? 8 : 2;
  const nextBytes = bigTiff ? 8 : 4;
  const ifdOffsets: number[] = [];
  const valueOffsets = ifds.map((fields) => fields.map(() => -1));
  let position = start;
  ifds.forEach((fields, i) => {
    ifdOffsets.push(position);
    position += countBytes + fields.length * entryBytes + nextBytes;
    fields.forEach((field, f) => {
      if (field.afterIfds || fieldBytes(field) <= inlineBytes) return;
      valueOffsets[i]![f] = position;
      position = align2(position + fieldBytes(field));
    });
  });
  ifds.forEach((fields, i) => {
    fields.forEach((field, f) => {
      if (!field.afterIfds || fieldBytes(field) <= inlineBytes) return;
      valueOffsets[i]![f] = position;
      position = align2(position + fieldBytes(field));
    });
  });
  return { ifdOffsets, valueOffsets, end: position };
}

function writeIfd(view: DataView, fields: Field[], offset: number, valueOffsets: number[], nextIfd: number, bigTiff: boolean, little: boolean): void {
  let position = offset;
  if (bigTiff) {
    view.setBigUint64(position, BigInt(fields.length), little);
    position += 8;
  } else {
    view.setUint16(position, fields.length, little);
    position += 2;
  }
  fields.forEach((field, f) => {
    view.setUint16(position, field.tag, little);
    view.setUint16(position + 2, field.type, little);
    if (bigTiff) view.setBigUint64(position + 4, BigInt(field.values.length), little);
    else view.setUint32(position + 4, field.values.length, little);
    const valueField = position + (bigTiff ? 12 : 8);
    const valueOffset = valueOffsets[f]!;
    if (valueOffset < 0) {
      writeValues(view, valueField, field, little);
    } else {
      if (bigTiff) view.setBigUint64(valueField, BigInt(valueOffset), little);
      else view.setUint32(valueField, valueOffset, little);
      writeValues(view, valueOffset, field, little);
    }
    position += bigTiff ? 20 : 12;
  });
  if (bigTiff) view.setBigUint64(position, BigInt(nextIfd), little);
  else view.setUint32(position, nextIfd, little);
}

function writeValues(view: DataView, offset: number, field: Field, little: boolean): void {
  const { values } = field;
  const size = TIFF_TYPE_SIZE[field.type];
  for (let i = 0, at = offset; i < values.length; i++, at += size) {
    const value = values[i]!;
    switch (field.type) {
      case TiffType.ASCII:
        view.setUint8(at, value);
        break;
      case TiffType.SHORT:
        view.setUint16(at, value, little);
        break;
      case TiffType.LONG:
        view.setUint32(at, value, little);
        break;
      case TiffType.LONG8:
        view.setBigUint64(at, BigInt(value), little);
        break;
      case TiffType.DOUBLE:
        view.setFloat64(at, value, little);
        break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

async function writeTiles(handle: FileHandle, plan: FilePlan): Promise<void> {
  const { tilesInFileOrder } = plan;
  // GDAL reads the leader as a little-endian uint32 whatever the file's byte order.
  const leaders = Buffer.alloc(BLOCK_LEADER_SIZE * tilesInFileOrder.length);
  tilesInFileOrder.forEach(({ tile }, i) => leaders.writeUInt32LE(tile.byteLength, i * BLOCK_LEADER_SIZE));
  for (let first = 0; first < tilesInFileOrder.length; first += TILES_PER_WRITE) {
    const batch = tilesInFileOrder.slice(first, first + TILES_PER_WRITE);
    const buffers = batch.flatMap(({ tile }, i) => {
      const leader = leaders.subarray((first + i) * BLOCK_LEADER_SIZE, (first + i + 1) * BLOCK_LEADER_SIZE);
      return [leader, tile, tile.subarray(tile.byteLength - BLOCK_TRAILER_SIZE)];
    });
    await writeFully(handle, buffers, batch[0]!.leaderOffset);
  }
}

/** `writev` until every byte is written: the kernel may write less than asked (signals, quotas). */
async function writeFully(handle: FileHandle, buffers: Uint8Array[], position: number): Promise<void> {
  let pending = buffers;
  let at = position;
  while (pending.length > 0) {
    const { bytesWritten } = await handle.writev(pending, at);
    if (bytesWritten === 0) throw new Error(`write at offset ${at} made no progress`);
    at += bytesWritten;
    pending = dropBytes(pending, bytesWritten);
  }
}

function dropBytes(buffers: Uint8Array[], count: number): Uint8Array[] {
  let skip = count;
  let index = 0;
  while (index < buffers.length && skip >= buffers[index]!.byteLength) skip -= buffers[index++]!.byteLength;
  const rest = buffers.slice(index);
  if (rest.length > 0 && skip > 0) rest[0] = rest[0]!.subarray(skip);
  return rest;
}
