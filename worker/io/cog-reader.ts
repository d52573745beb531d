/**
 * Reads windows of Cloud-Optimized GeoTIFFs, from local files or over HTTP range requests.
 *
 * geotiff.js parses the TIFF structure and fetches and decodes tiles; this module adds what a
 * worker needs on top:
 * - Pixels are copied out of decoded tiles row by row with `TypedArray.set`. geotiff's
 *   `readRasters` calls a `DataView` getter per pixel, which makes a full read of a fixture band
 *   about three times slower (≈21 ms against ≈7 ms for 1098² uint16).
 * - With predictor 2, tiles are decoded still differenced and only the rows and leading columns
 *   a window needs are restored, so padded edge tiles and clipped tiles cost less.
 * - `fromUrl` without options sends one HTTP request per slice and caches nothing, and reading
 *   tile offsets one at a time then costs a request per tile. Remote files here go through
 *   geotiff's block cache (`blockSize`, `cacheSize`), which also merges adjacent missing blocks
 *   requested in the same tick into one range request, and the tile tables are loaded whole.
 * - Failures become `TaskError`s whose kind tells the scheduler whether retrying can help.
 *   geotiff's block cache replaces a failed request's error by a bare "Request failed", so the
 *   HTTP client keeps the last failure it saw for the reader to report.
 * - A bounded per-process cache keeps files open between tasks.
 */
import { readSync } from 'node:fs';
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { isMainThread } from 'node:worker_threads';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BaseClient,
  BaseResponse,
  GeoTIFF,
  fromCustomClient,
  getDecoder,
  type BlockedSourceOptions,
  type GeoTIFFImage,
  type RemoteSourceOptions,
} from 'geotiff';
import { forEachLimited } from '../../common/bounded.js';
import { TaskError, describeError, isTaskError } from '../../common/errors.js';
import {
  allocate,
  bytesPerElement,
  viewAs,
  type DType,
  type GeoTransform,
  type PixelWindow,
  type TypedArray,
} from '../../common/raster.js';
import {
  HOST_IS_LITTLE_ENDIAN,
  differencingWidthOf,
  registerNativeDeflate,
  swapWords,
  undoHorizontalDifferencing,
  type DifferencingWidth,
  type NativeDeflateParameters,
} from './native-deflate.js';

/**
 * Files kept open per process: 32. Enough for the assets of a few scenes that a worker's tasks
 * touch in turn; each costs a file handle, or for HTTP up to one block cache (4 MiB), so the
 * worst case stays near 128 MiB.
 */
export const OPEN_RASTER_CACHE_SIZE = 32;

/**
 * Bytes per HTTP range block: 64 KiB. Large enough that a GDAL COG's header and all its IFDs
 * (the "ghost" layout puts them first) arrive in the first request, small enough that a window
 * touching one small overview tile does not drag in much more.
 */
export const HTTP_BLOCK_SIZE = 64 * 1024;

/** Blocks cached per remote file: 64, i.e. 4 MiB, a few tiles' worth, so neighbouring windows reuse bytes. */
export const HTTP_BLOCK_CACHE_BLOCKS = 64;

/** Time allowed for one HTTP range request, body included: 30 s; a stalled connection then fails as transient. */
export const HTTP_REQUEST_TIMEOUT_MS = 30_000;

/**
 * Tiles fetched and decoded at once per window read: 16. Enough to keep the disk or a remote
 * server busy and for range merging to see neighbouring tiles together, while bounding the
 * decoded tiles alive at once (16 × 512 KiB for 512² uint16 tiles).
 */
export const TILE_READ_CONCURRENCY = 16;

/**
 * Relative slack when matching a requested resolution to an overview: 1%. Overviews of odd sizes
 * are a little coarser than their nominal factor (1098 px / 274 px = 4.007, not 4), and a request
 * for exactly 4× the base resolution should still get that overview.
 */
export const OVERVIEW_RESOLUTION_TOLERANCE = 0.01;

export interface RasterInfo {
  width: number;
  height: number;
  bands: number;
  dtype: DType;
  nodata: number | null;
  transform: GeoTransform;
  epsg: number | null;
  tileWidth: number;
  tileHeight: number;
  overviews: { width: number; height: number; factor: number }[];
}

export interface RasterSource extends RasterInfo {
  href: string;
  /**
   * Reads band `band` (0-based) of `window` at full resolution (level 0) or an overview level
   * (1 = first overview). Returns a typed array of the file's dtype, row-major,
   * window.width*window.height long. Pixels outside the raster are filled with nodata (or 0
   * when none).
   */
  readWindow(window: PixelWindow, options?: { level?: number; band?: number; signal?: AbortSignal }): Promise<TypedArray>;
  /**
   * The overview level whose resolution is the coarsest that is still at least as fine as
   * `targetResolution` (same units as the transform). 0 = full resolution.
   */
  levelFor(targetResolution: number): number;
  close(): Promise<void>;
}

export interface OpenRasterOptions {
  /** Gives up waiting for the open (the shared open itself carries on for other callers). */
  signal?: AbortSignal;
  /** Extra HTTP headers (e.g. Authorization) for remote files; part of the open-file cache key. */
  headers?: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Where a raster lives

type Location = { kind: 'file'; path: string } | { kind: 'http'; url: string };

function locate(href: string): Location {
  if (/^https?:\/\//i.test(href)) return { kind: 'http', url: href };
  if (/^file:/i.test(href)) {
    try {
      return { kind: 'file', path: fileURLToPath(href) };
    } catch (error) {
      throw new TaskError('user', `${href} is not a valid file URL`, { cause: error });
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(href)) {
    throw new TaskError('user', `${href}: unsupported URL scheme (expected a path, file:// or http(s)://)`);
  }
  return { kind: 'file', path: resolvePath(href) };
}

// ---------------------------------------------------------------------------------------------
// Local files

type TiffSource = Parameters<typeof GeoTIFF.fromSource>[0];
type Slice = { offset: number; length: number };

/**
 * Kernel threads read files with blocking calls, as GDAL does: they have nothing else to do
 * while a tile loads, and an asynchronous read costs a round trip through libuv's shared pool
 * (≈2 ms per tile-date of the NDVI benchmark). The main thread, which serves peers and
 * heartbeats, never blocks on a disk.
 */
const BLOCKING_READS = !isMainThread;

/**
 * A geotiff source over one open file handle. Unlike geotiff's `fromFile`, the file is opened
 * before parsing starts, so a missing file is reported as such rather than as a parse error,
 * and the handle is closed when parsing fails.
 */
class LocalFileSource implements TiffSource {
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly handle: FileHandle,
    private readonly size: number,
  ) {}

  static async open(path: string): Promise<LocalFileSource> {
    const handle = await openFile(path, 'r');
    try {
      const stats = await handle.stat();
      if (stats.isDirectory()) throw Object.assign(new Error(`${path} is a directory`), { code: 'EISDIR' });
      return new LocalFileSource(handle, stats.size);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  get fileSize(): number {
    return this.size;
  }

  fetch(slices: Slice[], signal?: AbortSignal): Promise<ArrayBuffer[]> {
    return Promise.all(slices.map((slice) => this.read(slice, signal)));
  }

  async fetchSlice(slice: Slice, signal?: AbortSignal): Promise<Slice & { data: ArrayBuffer }> {
    return { ...slice, data: await this.read(slice, signal) };
  }

  /** The bytes of `slice`; past the end of the file they read as zeros, as geotiff's header probe expects. */
  private async read({ offset, length }: Slice, signal?: AbortSignal): Promise<ArrayBuffer> {
    signal?.throwIfAborted();
    const bytes = new Uint8Array(length);
    const available = Math.max(0, Math.min(length, this.size - offset));
    let filled = 0;
    while (filled < available) {
      const bytesRead = BLOCKING_READS ? readSync(this.handle.fd, bytes, filled, available - filled, offset + filled) : (await this.handle.read(bytes, filled, available - filled, offset + filled)).bytesRead;
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return bytes.buffer;
  }

  close(): Promise<void> {
    this.closing ??= this.handle.close();
    return this.closing;
  }
}

// ---------------------------------------------------------------------------------------------
// Remote files

/** HTTP statuses worth retrying: timeouts, rate limits and server-side failures. */
function isTransientStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

function httpStatusFailure(href: string, status: number): TaskError {
  if (isTransientStatus(status)) return new TaskError('transient', `reading ${href} failed: server answered HTTP ${status}`);
  if (status === 404 || status === 410) return new TaskError('user', `${href} does not exist (HTTP ${status})`);
  if (status === 401 || status === 403) return new TaskError('user', `access to ${href} was denied (HTTP ${status})`);
  return new TaskError('user', `reading ${href} failed: server answered HTTP ${status}`);
}

/** Network error codes after which the same request may well succeed. */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** The `code` of an error or of the error that caused it (fetch wraps socket errors). */
function errorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function networkFailure(href: string, error: unknown, caller: AbortSignal | undefined, timeout: AbortSignal): TaskError {
  if (caller?.aborted) return new TaskError('canceled', `reading ${href} was canceled`, { cause: caller.reason });
  if (timeout.aborted) {
    return new TaskError('transient', `reading ${href} timed out after ${HTTP_REQUEST_TIMEOUT_MS / 1000} s`, { cause: error });
  }
  const code = errorCode(error);
  if (code === 'ENOTFOUND') return new TaskError('user', `${href}: host not found`, { cause: error });
  const detail = code ?? describeError(error);
  // A failed fetch that is none of the above is still a network fault, not the data's.
  return new TaskError('transient', `reading ${href} failed: ${detail}`, { cause: error });
}

/** A response whose body was read (and its failures classified) inside the client. */
class BufferedResponse extends BaseResponse {
  constructor(
    private readonly statusCode: number,
    private readonly headers: Headers,
    private readonly body: ArrayBuffer,
  ) {
    super();
  }

  override get status(): number {
    return this.statusCode;
  }

  override getHeader(name: string): string | undefined {
    return this.headers.get(name) ?? undefined;
  }

  override async getData(): Promise<ArrayBuffer> {
    return this.body;
  }
}

/** geotiff HTTP client: fetch with a timeout, failures turned into TaskErrors and remembered. */
class RangeRequestClient extends BaseClient {
  private lastFailure: TaskError | null = null;

  constructor(
    url: string,
    private readonly headers: Record<string, string>,
  ) {
    super(url);
  }

  /** The most recent failure, once: geotiff's block cache swallows the error it was thrown as. */
  takeFailure(): TaskError | null {
    const failure = this.lastFailure;
    this.lastFailure = null;
    return failure;
  }

  override async request(options: RequestInit = {}): Promise<BaseResponse> {
    try {
      return await this.send(options);
    } catch (error) {
      const failure = isTaskError(error) ? error : new TaskError('internal', `reading ${this.url} failed: ${describeError(error)}`, { cause: error });
      if (failure.kind !== 'canceled') this.lastFailure = failure;
      throw failure;
    }
  }

  private async send(options: RequestInit): Promise<BaseResponse> {
    const caller = options.signal ?? undefined;
    const timeout = AbortSignal.timeout(HTTP_REQUEST_TIMEOUT_MS);
    const signal = caller ? AbortSignal.any([caller, timeout]) : timeout;
    const headers = new Headers(this.headers);
    new Headers(options.headers).forEach((value, name) => headers.set(name, value));
    let response: Response;
    try {
      response = await fetch(this.url, { headers, signal });
    } catch (error) {
      throw networkFailure(this.url, error, caller, timeout);
    }
    if (!response.ok || (response.status === 200 && headers.has('range'))) {
      await response.body?.cancel().catch(() => undefined);
      if (response.ok) {
        // Taking the whole file instead could mean gigabytes for one tile.
        throw new TaskError('user', `${this.url}: the server ignores HTTP range requests, which reading a COG needs`);
      }
      throw httpStatusFailure(this.url, response.status);
    }
    try {
      return new BufferedResponse(response.status, response.headers, await response.arrayBuffer());
    } catch (error) {
      throw networkFailure(this.url, error, caller, timeout);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Failures

const NOT_A_TIFF = /Invalid byte order value|Invalid magic number|Unsupported offset byte-size/;

/** Any error met while opening or reading `href`, as a TaskError with the right kind. */
function readFailure(
  href: string,
  error: unknown,
  phase: 'open' | 'read',
  signal: AbortSignal | undefined,
  client: RangeRequestClient | null,
): TaskError {
  if (isTaskError(error)) return error;
  if (signal?.aborted || (error instanceof Error && error.name === 'AbortError')) {
    return new TaskError('canceled', `reading ${href} was canceled`, { cause: signal?.reason ?? error });
  }
  const message = describeError(error);
  const code = errorCode(error);
  switch (code) {
    case 'ENOENT':
      return new TaskError('user', `${href} does not exist`, { cause: error });
    case 'EACCES':
    case 'EPERM':
      return new TaskError('user', `${href} cannot be read: permission denied`, { cause: error });
    case 'EISDIR':
      return new TaskError('user', `${href} is a directory, not a GeoTIFF file`, { cause: error });
    case 'EMFILE':
    case 'ENFILE':
    case 'EIO':
    case 'EAGAIN':
      return new TaskError('transient', `reading ${href} failed: ${code}`, { cause: error });
    case 'Z_DATA_ERROR':
    case 'Z_BUF_ERROR':
    case 'Z_NEED_DICT':
      return new TaskError('user', `${href} holds a corrupt DEFLATE tile (${message})`, { cause: error });
    default:
      break;
  }
  if (code && TRANSIENT_NETWORK_CODES.has(code)) return new TaskError('transient', `reading ${href} failed: ${code}`, { cause: error });
  if (NOT_A_TIFF.test(message)) return new TaskError('user', `${href} is not a TIFF file`, { cause: error });
  if (/Unknown compression method|not supported/i.test(message)) {
    return new TaskError('user', `${href} cannot be decoded: ${message}`, { cause: error });
  }
  const remote = client?.takeFailure();
  if (remote) return remote;
  // Past the open, the file's structure was understood: what is left is most likely our fault.
  if (phase === 'open') return new TaskError('user', `${href} is not a readable GeoTIFF: ${message}`, { cause: error });
  return new TaskError('internal', `reading ${href} failed: ${message}`, { cause: error });
}

// ---------------------------------------------------------------------------------------------
// Metadata

const NEW_SUBFILE_REDUCED_RESOLUTION = 1;
const NEW_SUBFILE_MASK = 4;
const GEOKEY_RASTER_TYPE = 1025;
const GEOKEY_GEOGRAPHIC_TYPE = 2048;
const GEOKEY_PROJECTED_CS_TYPE = 3072;
const GEOKEY_USER_DEFINED = 32767;
const RASTER_PIXEL_IS_POINT = 2;

function dtypeFor(sampleFormat: number, bits: number): DType | null {
  switch (sampleFormat) {
    case 1:
    case 4: // "undefined" format: the bytes are taken as unsigned integers, as GDAL does
      return bits === 8 ? 'uint8' : bits === 16 ? 'uint16' : bits === 32 ? 'uint32' : null;
    case 2:
      return bits === 8 ? 'int8' : bits === 16 ? 'int16' : bits === 32 ? 'int32' : null;
    case 3:
      return bits === 32 ? 'float32' : bits === 64 ? 'float64' : null;
    default:
      return null;
  }
}

interface PixelLayout {
  dtype: DType;
  bands: number;
  planar: 1 | 2;
}

async function pixelLayoutOf(image: GeoTIFFImage, href: string): Promise<PixelLayout> {
  const directory = image.fileDirectory;
  const bands = Number(await directory.loadValue('SamplesPerPixel')) || 1;
  const bits = Array.from((await directory.loadValue('BitsPerSample')) as ArrayLike<number> | undefined ?? [1], Number);
  const formats = Array.from((await directory.loadValue('SampleFormat')) as ArrayLike<number> | undefined ?? [1], Number);
  const sampleBits = bits[0] ?? 1;
  const sampleFormat = formats[0] ?? 1;
  if (!bits.every((b) => b === sampleBits) || !formats.every((f) => f === sampleFormat)) {
    throw new TaskError('user', `${href} mixes sample types across bands, which is not supported`);
  }
  const dtype = dtypeFor(sampleFormat, sampleBits);
  if (dtype === null) {
    throw new TaskError('user', `${href} has ${sampleBits}-bit samples of TIFF sample format ${sampleFormat}, which is not supported`);
  }
  return { dtype, bands, planar: image.planarConfiguration };
}

/** GDAL_NODATA (tag 42113) is ASCII: a decimal number, "nan" or "inf", NUL-terminated. */
export function parseGdalNodata(text: string | undefined | null): number | null {
  if (typeof text !== 'string') return null;
  const cleaned = text.replace(/\0+$/, '').trim().toLowerCase();
  if (cleaned === '') return null;
  if (cleaned === 'nan' || cleaned === '-nan') return Number.NaN;
  if (cleaned === 'inf' || cleaned === '+inf' || cleaned === 'infinity') return Number.POSITIVE_INFINITY;
  if (cleaned === '-inf' || cleaned === '-infinity') return Number.NEGATIVE_INFINITY;
  const value = Number(cleaned);
  return Number.isNaN(value) ? null : value;
}

/** GeoKeys held directly in the directory (not in the double or ASCII parameter tags). */
function shortGeoKeys(directory: ArrayLike<number> | undefined): Map<number, number> {
  const keys = new Map<number, number>();
  if (!directory || directory.length < 4) return keys;
  const count = Number(directory[3]);
  for (let i = 0; i < count; i++) {
    const entry = 4 + i * 4;
    if (entry + 3 >= directory.length) break;
    if (Number(directory[entry + 1]) === 0) keys.set(Number(directory[entry]), Number(directory[entry + 3]));
  }
  return keys;
}

function epsgFrom(keys: Map<number, number>): number | null {
  for (const key of [GEOKEY_PROJECTED_CS_TYPE, GEOKEY_GEOGRAPHIC_TYPE]) {
    const code = keys.get(key);
    if (code !== undefined && code !== 0 && code !== GEOKEY_USER_DEFINED) return code;
  }
  return null;
}

/**
 * GDAL geotransform from ModelTransformation, or ModelPixelScale with one ModelTiepoint.
 * With RasterPixelIsPoint the tie point is a pixel centre, moved half a pixel to the corner as
 * GDAL does by default. No georeferencing gives GDAL's default identity transform.
 */
function transformFrom(
  scale: ArrayLike<number> | undefined,
  tiepoint: ArrayLike<number> | undefined,
  matrix: ArrayLike<number> | undefined,
  pixelIsPoint: boolean,
): GeoTransform {
  let transform: GeoTransform;
  if (matrix && matrix.length >= 16) {
    transform = [matrix[3]!, matrix[0]!, matrix[1]!, matrix[7]!, matrix[4]!, matrix[5]!];
  } else if (scale && scale.length >= 2 && tiepoint && tiepoint.length >= 6) {
    const [i, j, , x, y] = Array.from(tiepoint);
    const [sx, sy] = [scale[0]!, scale[1]!];
    transform = [x! - i! * sx, sx, 0, y! + j! * sy, 0, -sy];
  } else {
    return [0, 1, 0, 0, 0, 1];
  }
  if (pixelIsPoint) {
    transform[0] -= 0.5 * transform[1] + 0.5 * transform[2];
    transform[3] -= 0.5 * transform[4] + 0.5 * transform[5];
  }
  return transform;
}

/** One resolution level: the full image or an overview. */
interface Level {
  image: GeoTIFFImage;
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
  /** Decoder and tile byte counts, loaded on the first read of the level. */
  reader: Promise<LevelReader> | null;
}

interface LevelReader {
  decoder: Awaited<ReturnType<typeof getDecoder>>;
  byteCounts: ArrayLike<number>;
  /**
   * Set when tiles use predictor 2: the decoder then leaves tiles differenced and the reader
   * undoes it only for the rows and leading columns a window needs, which skips the padding of
   * edge tiles and the unused part of tiles a window only clips.
   */
  differencing: DifferencingWidth | null;
  /**
   * Byte order of decoded tiles: the file's, except after the floating-point predictor
   * (predictor 3), whose byte planes geotiff always reassembles little-endian.
   */
  tilesLittleEndian: boolean;
}

function levelOf(image: GeoTIFFImage): Level {
  return {
    image,
    width: image.getWidth(),
    height: image.getHeight(),
    tileWidth: image.getTileWidth(),
    tileHeight: image.getTileHeight(),
    reader: null,
  };
}

/**
 * What geotiff's decoder registry would pass (its parameter function is not exported), plus
 * the byte order. Tile and byte-count tables are loaded whole here: geotiff otherwise fetches
 * each tile's offset separately, which over HTTP is one request per tile.
 */
async function loadLevelReader(level: Level, littleEndian: boolean): Promise<LevelReader> {
  const { image } = level;
  const directory = image.fileDirectory;
  const [offsets, byteCounts] = await Promise.all([
    directory.loadValue(image.isTiled ? 'TileOffsets' : 'StripOffsets'),
    directory.loadValue(image.isTiled ? 'TileByteCounts' : 'StripByteCounts'),
  ]);
  if (!offsets || !byteCounts) throw new Error('the image has no tile or strip offsets');
  const compression = Number(await directory.loadValue('Compression')) || 1;
  const parameters: NativeDeflateParameters & Record<string, unknown> = {
    tileWidth: level.tileWidth,
    tileHeight: level.tileHeight,
    planarConfiguration: image.planarConfiguration,
    bitsPerSample: (await directory.loadValue('BitsPerSample')) as number[],
    predictor: Number(await directory.loadValue('Predictor')) || 1,
    samplesPerPixel: image.getSamplesPerPixel(),
    littleEndian,
  };
  if (compression === 7) parameters.JPEGTables = await directory.loadValue('JPEGTables');
  if (compression === 34887) parameters.LercParameters = await directory.loadValue('LercParameters');
  const differencing = differencingWidthOf(parameters);
  const decoder = await getDecoder(compression, differencing === null ? parameters : { ...parameters, predictor: 1 });
  return {
    decoder,
    byteCounts: Array.from(byteCounts as ArrayLike<number>, Number),
    differencing,
    tilesLittleEndian: parameters.predictor === 3 ? true : littleEndian,
  };
}

/** The level's reader, loaded once; a failed load is forgotten so that a later read retries it. */
function levelReader(cog: OpenCog, level: Level): Promise<LevelReader> {
  if (!level.reader) {
    const loading = loadLevelReader(level, cog.littleEndian);
    level.reader = loading;
    loading.catch(() => {
      if (level.reader === loading) level.reader = null;
    });
  }
  return level.reader;
}

// ---------------------------------------------------------------------------------------------
// An open file

interface OpenCog {
  href: string;
  info: RasterInfo;
  levels: Level[];
  layout: PixelLayout;
  littleEndian: boolean;
  tiff: GeoTIFF;
  client: RangeRequestClient | null;
}

async function openTiff(href: string, location: Location, headers: Record<string, string>): Promise<[GeoTIFF, RangeRequestClient | null]> {
  if (location.kind === 'http') {
    const client = new RangeRequestClient(location.url, headers);
    const options: RemoteSourceOptions & BlockedSourceOptions = {
      blockSize: HTTP_BLOCK_SIZE,
      cacheSize: HTTP_BLOCK_CACHE_BLOCKS,
      allowFullFile: false,
    };
    try {
      return [await fromCustomClient(client, options), client];
    } catch (error) {
      throw readFailure(href, error, 'open', undefined, client);
    }
  }
  let source: LocalFileSource;
  try {
    source = await LocalFileSource.open(location.path);
  } catch (error) {
    throw readFailure(href, error, 'open', undefined, null);
  }
  try {
    return [await GeoTIFF.fromSource(source), null];
  } catch (error) {
    await source.close();
    throw readFailure(href, error, 'open', undefined, null);
  }
}

async function describeCog(href: string, tiff: GeoTIFF, client: RangeRequestClient | null): Promise<OpenCog> {
  const count = await tiff.getImageCount();
  const images = await Promise.all(Array.from({ length: count }, (_, i) => tiff.getImage(i)));
  const base = images[0];
  if (!base) throw new TaskError('user', `${href} holds no image`);
  const layout = await pixelLayoutOf(base, href);
  const directory = base.fileDirectory;
  const keys = shortGeoKeys((await directory.loadValue('GeoKeyDirectory')) as ArrayLike<number> | undefined);
  const transform = transformFrom(
    (await directory.loadValue('ModelPixelScale')) as ArrayLike<number> | undefined,
    (await directory.loadValue('ModelTiepoint')) as ArrayLike<number> | undefined,
    (await directory.loadValue('ModelTransformation')) as ArrayLike<number> | undefined,
    keys.get(GEOKEY_RASTER_TYPE) === RASTER_PIXEL_IS_POINT,
  );
  const nodata = parseGdalNodata((await directory.loadValue('GDAL_NODATA')) as string | undefined);

  const levels = [levelOf(base)];
  for (const image of images.slice(1)) {
    const subfileType = Number(await image.fileDirectory.loadValue('NewSubfileType')) || 0;
    if (!(subfileType & NEW_SUBFILE_REDUCED_RESOLUTION) || subfileType & NEW_SUBFILE_MASK) continue;
    const overviewLayout = await pixelLayoutOf(image, href).catch(() => null);
    if (overviewLayout?.dtype !== layout.dtype || overviewLayout.bands !== layout.bands) continue;
    if (image.getWidth() >= base.getWidth()) continue;
    levels.push(levelOf(image));
  }
  const [full, ...overviews] = [levels[0]!, ...levels.slice(1).sort((a, b) => b.width - a.width)];
  const info: RasterInfo = {
    width: full.width,
    height: full.height,
    bands: layout.bands,
    dtype: layout.dtype,
    nodata,
    transform,
    epsg: epsgFrom(keys),
    tileWidth: full.tileWidth,
    tileHeight: full.tileHeight,
    overviews: overviews.map((o) => ({ width: o.width, height: o.height, factor: Math.round(full.width / o.width) })),
  };
  const cog: OpenCog = { href, info, levels: [full, ...overviews], layout, littleEndian: tiff.littleEndian, tiff, client };
  // Unsupported compression surfaces at open, not on the first read.
  await levelReader(cog, full);
  return cog;
}

async function openCog(href: string, headers: Record<string, string>): Promise<OpenCog> {
  registerNativeDeflate();
  const location = locate(href);
  const [tiff, client] = await openTiff(href, location, headers);
  try {
    return await describeCog(href, tiff, client);
  } catch (error) {
    await Promise.resolve(tiff.close()).catch(() => undefined);
    throw readFailure(href, error, 'open', undefined, client);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading windows

interface Clip {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

async function readCogWindow(
  cog: OpenCog,
  window: PixelWindow,
  levelIndex: number,
  band: number,
  signal: AbortSignal | undefined,
): Promise<TypedArray> {
  const { info, layout } = cog;
  const level = cog.levels[levelIndex];
  if (!level) throw new TaskError('internal', `${cog.href} has no level ${levelIndex} (levels 0..${cog.levels.length - 1})`);
  if (!Number.isInteger(band) || band < 0 || band >= info.bands) {
    throw new TaskError('internal', `${cog.href} has no band ${band} (bands 0..${info.bands - 1})`);
  }
  const { x, y, width, height } = window;
  if (![x, y, width, height].every(Number.isInteger) || width < 0 || height < 0) {
    throw new TaskError('internal', `invalid pixel window ${JSON.stringify(window)} for ${cog.href}`);
  }
  signal?.throwIfAborted();
  const clip: Clip = {
    x0: Math.max(x, 0),
    y0: Math.max(y, 0),
    x1: Math.min(x + width, level.width),
    y1: Math.min(y + height, level.height),
  };
  const covered = clip.x0 === x && clip.y0 === y && clip.x1 === x + width && clip.y1 === y + height;
  const sample = layout.planar === 2 ? band : 0;
  const oneTile = covered && width === level.tileWidth && height === level.tileHeight && x % level.tileWidth === 0 && y % level.tileHeight === 0;
  if (oneTile && (layout.planar === 2 || layout.bands === 1)) {
    // A window that is one whole tile (windows on the file's own grid) is the decoded tile itself.
    const reader = await levelReader(cog, level);
    const [tx, ty] = [x / level.tileWidth, y / level.tileHeight];
    const tile = await level.image.getTileOrStrip(tx, ty, sample, reader.decoder, signal);
    return prepareTile(cog, level, reader, tile.data, tx, ty, sample, clip).subarray(0, width * height);
  }
  const out = allocate(info.dtype, width * height);
  const fill = info.nodata ?? 0;
  if (!covered && fill !== 0) out.fill(fill);
  if (clip.x0 >= clip.x1 || clip.y0 >= clip.y1) return out;

  const reader = await levelReader(cog, level);
  const tiles: [number, number][] = [];
  for (let ty = Math.floor(clip.y0 / level.tileHeight); ty * level.tileHeight < clip.y1; ty++) {
    for (let tx = Math.floor(clip.x0 / level.tileWidth); tx * level.tileWidth < clip.x1; tx++) tiles.push([tx, ty]);
  }
  await forEachLimited(tiles, TILE_READ_CONCURRENCY, async ([tx, ty]) => {
    const tile = await level.image.getTileOrStrip(tx, ty, sample, reader.decoder, signal);
    copyTile(cog, level, reader, tile.data, tx, ty, sample, band, window, clip, out);
  });
  return out;
}

/** Copies the part of tile (tx, ty) inside `clip` into `out`, row by row. */
function copyTile(
  cog: OpenCog,
  level: Level,
  reader: LevelReader,
  data: ArrayBufferLike,
  tx: number,
  ty: number,
  sample: number,
  band: number,
  window: PixelWindow,
  clip: Clip,
  out: TypedArray,
): void {
  const { planar, bands } = cog.layout;
  const samples = prepareTile(cog, level, reader, data, tx, ty, sample, clip);
  const stride = planar === 2 ? 1 : bands;
  const offset = planar === 2 ? 0 : band;
  const left = tx * level.tileWidth;
  const top = ty * level.tileHeight;
  const col0 = Math.max(clip.x0, left);
  const col1 = Math.min(clip.x1, left + level.tileWidth);
  const row0 = Math.max(clip.y0, top);
  const row1 = Math.min(clip.y1, top + level.tileHeight);
  const count = col1 - col0;
  for (let row = row0; row < row1; row++) {
    const source = ((row - top) * level.tileWidth + (col0 - left)) * stride + offset;
    const target = (row - window.y) * window.width + (col0 - window.x);
    if (stride === 1) {
      out.set(samples.subarray(source, source + count), target);
    } else {
      for (let i = 0; i < count; i++) out[target + i] = samples[source + i * stride]!;
    }
  }
}

/**
 * The decoded tile (tx, ty) as samples in host order, with differencing undone over the part
 * inside `clip` (the rest stays as stored); fails on a tile shorter than that part needs.
 */
function prepareTile(cog: OpenCog, level: Level, reader: LevelReader, data: ArrayBufferLike, tx: number, ty: number, sample: number, clip: Clip): TypedArray {
  const { dtype, planar, bands } = cog.layout;
  const elementBytes = bytesPerElement(dtype);
  const tilesAcross = Math.ceil(level.width / level.tileWidth);
  const tilesDown = Math.ceil(level.height / level.tileHeight);
  const tileIndex = sample * tilesAcross * tilesDown + ty * tilesAcross + tx;
  // Empty tiles (byte count 0) come from geotiff already filled with nodata, in host order.
  const stored = (reader.byteCounts[tileIndex] ?? 0) > 0;
  if (stored && reader.tilesLittleEndian !== HOST_IS_LITTLE_ENDIAN && elementBytes > 1) swapWords(data, elementBytes);
  const stride = planar === 2 ? 1 : bands;
  const left = tx * level.tileWidth;
  const top = ty * level.tileHeight;
  const col1 = Math.min(clip.x1, left + level.tileWidth);
  const row0 = Math.max(clip.y0, top);
  const row1 = Math.min(clip.y1, top + level.tileHeight);
  const needed = ((row1 - 1 - top) * level.tileWidth + (col1 - left)) * stride;
  const available = Math.floor(data.byteLength / elementBytes);
  if (available < needed) {
    throw new TaskError(
      'user',
      `${cog.href}: tile ${tx},${ty} decoded to ${available} samples where ${needed} were expected; the file is corrupt`,
    );
  }
  if (stored && reader.differencing !== null) {
    undoHorizontalDifferencing(data, reader.differencing, {
      rowLength: level.tileWidth * stride,
      stride,
      firstRow: row0 - top,
      rowCount: row1 - row0,
      prefix: (col1 - left) * stride,
    });
  }
  return viewAs(dtype, new Uint8Array(data));
}

/** Pixel size of a level, in transform units: the base pixel size times the level's true reduction. */
function levelResolution(cog: OpenCog, level: Level): number {
  const [, dx, , , dy] = cog.info.transform;
  return Math.hypot(dx, dy) * (cog.info.width / level.width);
}

function bestLevel(cog: OpenCog, targetResolution: number): number {
  if (!(targetResolution > 0)) return 0;
  for (let index = cog.levels.length - 1; index > 0; index--) {
    if (levelResolution(cog, cog.levels[index]!) <= targetResolution * (1 + OVERVIEW_RESOLUTION_TOLERANCE)) return index;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The per-process cache of open files

interface CacheEntry {
  opening: Promise<OpenCog>;
  /** Handles given out and not yet closed. */
  users: number;
  /** Out of the cache: close the file as soon as nobody uses it. */
  evicted: boolean;
}

/** Insertion order is recency order: a hit moves its entry to the end. */
const openFiles = new Map<string, CacheEntry>();
const cacheCounters = { opened: 0, reused: 0 };

function dispose(entry: CacheEntry): void {
  entry.opening.then(
    (cog) => Promise.resolve(cog.tiff.close()).catch(() => undefined),
    () => undefined,
  );
}

function evict(key: string, entry: CacheEntry): void {
  if (openFiles.get(key) === entry) openFiles.delete(key);
  entry.evicted = true;
  if (entry.users === 0) dispose(entry);
}

function release(entry: CacheEntry): void {
  entry.users--;
  if (entry.users === 0 && entry.evicted) dispose(entry);
}

function acquire(key: string, href: string, headers: Record<string, string>): CacheEntry {
  const cached = openFiles.get(key);
  if (cached) {
    openFiles.delete(key);
    openFiles.set(key, cached);
    cacheCounters.reused++;
    cached.users++;
    return cached;
  }
  const entry: CacheEntry = { opening: openCog(href, headers), users: 1, evicted: false };
  cacheCounters.opened++;
  openFiles.set(key, entry);
  // A failed open is not kept: the next attempt, maybe after a transient fault, starts afresh.
  entry.opening.catch(() => {
    if (openFiles.get(key) === entry) openFiles.delete(key);
  });
  for (const [oldestKey, oldest] of openFiles) {
    if (openFiles.size <= OPEN_RASTER_CACHE_SIZE) break;
    evict(oldestKey, oldest);
  }
  return entry;
}

/** How the open-file cache has been used in this process (for tests and metrics). */
export function rasterCacheStats(): { cached: number; opened: number; reused: number } {
  return { cached: openFiles.size, ...cacheCounters };
}

/** Empties the open-file cache; files still in use close when their last handle does. */
export async function closeAllRasters(): Promise<void> {
  const entries = [...openFiles];
  for (const [key, entry] of entries) evict(key, entry);
  await Promise.allSettled(entries.map(([, entry]) => entry.opening));
}

function cacheKey(href: string, headers: Record<string, string>): string {
  const location = locate(href);
  const base = location.kind === 'file' ? `file:${location.path}` : location.url;
  const names = Object.keys(headers).sort();
  return names.length === 0 ? base : `${base}\n${JSON.stringify(names.map((name) => [name.toLowerCase(), headers[name]]))}`;
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined, href: string): Promise<T> {
  if (!signal) return promise;
  const canceled = (): TaskError => new TaskError('canceled', `opening ${href} was canceled`, { cause: signal.reason });
  if (signal.aborted) return Promise.reject(canceled());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(canceled());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

// ---------------------------------------------------------------------------------------------
// Public entry point

/**
 * Opens the COG at `href` (a path, a file:// URL or an http(s):// URL), or reuses it from the
 * per-process cache. Each returned source must be closed; the file itself stays open in the
 * cache until it is evicted.
 */
export async function openRaster(href: string, options: OpenRasterOptions = {}): Promise<RasterSource> {
  const headers = options.headers ?? {};
  const entry = acquire(cacheKey(href, headers), href, headers);
  let cog: OpenCog;
  try {
    cog = await untilAborted(entry.opening, options.signal, href);
  } catch (error) {
    release(entry);
    throw error;
  }
  let closed = false;
  return {
    href,
    ...structuredClone(cog.info),
    async readWindow(window, readOptions = {}) {
      if (closed) throw new TaskError('internal', `${href} was read after its raster source was closed`);
      const { level = 0, band = 0, signal } = readOptions;
      try {
        return await readCogWindow(cog, window, level, band, signal);
      } catch (error) {
        throw readFailure(href, error, 'read', signal, cog.client);
      }
    },
    levelFor(targetResolution) {
      return bestLevel(cog, targetResolution);
    },
    async close() {
      if (closed) return;
      closed = true;
      release(entry);
    },
  };
}
