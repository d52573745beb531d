/**
 * Reads NOAA OISST v2.1 daily sea-surface temperature in the two NetCDF4 (HDF5) layouts NOAA ships:
 * - PSL yearly files `sst.day.mean.YYYY.nc`: float32 `sst(time, lat, lon)`, unpacked, fill
 *   -9.96921e+36f in `_FillValue` and `missing_value`, time float64 "days since 1800-01-01 00:00:00"
 *   stamped at the start of the day;
 * - NCEI daily files `oisst-avhrr-v02r01.YYYYMMDD.nc`: int16 `sst`, `anom`, `err`, `ice` shaped
 *   (time, zlev, lat, lon), packed with a float32 `scale_factor`, fill -999 and a valid range;
 *   time float32 "days since 1978-01-01 12:00:00" stamped at the centre of the day.
 *
 * Both grids are 0.25°, latitude ascending from -89.875 (row 0 is the south), longitude 0.125..359.875.
 * h5wasm is the HDF5 C library, so the NCEI attributes in dense storage (fractal heap + v2 B-tree)
 * read like any others.
 */
import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import h5wasm, { Dataset, type File as H5File } from 'h5wasm/node';
import { TaskError, describeError } from '../common/errors.js';

type H5Module = Awaited<typeof h5wasm.ready>;

export type OisstVariable = 'sst' | 'anom' | 'err' | 'ice';

/** Variable read when none is asked for: "sst", the only one both products carry. */
export const DEFAULT_OISST_VARIABLE: OisstVariable = 'sst';

export interface OisstDay {
  /** YYYY-MM-DD, calendar date of the day, the same for both products */
  date: string;
  /** lat*lon, row 0 = southernmost (-89.875) as in the file, NaN where missing */
  sst: Float32Array;
}

export interface OisstFileInfo {
  product: 'psl' | 'ncei';
  lat: Float64Array;
  lon: Float64Array;
  dates: string[];
  units: string;
  variable: string;
}

/** Calendars whose dates JavaScript's proleptic Gregorian Date computes exactly (after 1582-10-15). */
const GREGORIAN_CALENDARS = new Set(['standard', 'gregorian', 'proleptic_gregorian']);

const MS_PER_UNIT: Record<string, number> = { day: 86_400_000, hour: 3_600_000, minute: 60_000, second: 1000 };

/** First bytes of an HDF5 superblock at offset 0 (netCDF-C always writes it there). */
const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
/** First bytes of a classic or 64-bit-offset netCDF-3 file. */
const NETCDF3_SIGNATURE = Buffer.from('CDF');

export async function inspectOisstFile(path: string): Promise<OisstFileInfo> {
  const module = await h5wasm.ready;
  const file = await openOisst(path, module);
  try {
    return withHdf5Errors(module, path, () => {
      const layout = describeLayout(file, path, DEFAULT_OISST_VARIABLE);
      return { product: layout.product, lat: layout.lat, lon: layout.lon, dates: layout.dates, units: layout.units, variable: DEFAULT_OISST_VARIABLE };
    });
  } finally {
    closeQuietly(file);
  }
}

/**
 * Yields the days of one file in order, decoded: raw * scale_factor + add_offset computed in
 * float64 with the float32 scale factor (0.01f = 0.009999999776482582, as netCDF-C does), then
 * stored as float32; fill / missing_value / outside valid range → NaN. Reads one day (one HDF5
 * chunk) at a time to keep memory bounded; the file stays open until the loop ends or breaks.
 */
export function readOisstDays(path: string, options: { variable?: OisstVariable } = {}): AsyncIterable<OisstDay> {
  const variable = options.variable ?? DEFAULT_OISST_VARIABLE;
  return {
    async *[Symbol.asyncIterator]() {
      const module = await h5wasm.ready;
      const file = await openOisst(path, module);
      try {
        const layout = withHdf5Errors(module, path, () => describeLayout(file, path, variable));
        for (let day = 0; day < layout.dates.length; day++) {
          const values = withHdf5Errors(module, path, () => readDay(layout, day));
          yield { date: layout.dates[day] as string, sst: values };
        }
      } finally {
        closeQuietly(file);
      }
    },
  };
}

function userError(path: string, message: string, cause?: unknown): TaskError {
  return new TaskError('user', `${path}: ${message}`, cause === undefined ? {} : { cause });
}

/**
 * Opens the file read-only after checking it is HDF5, so a wrong file gets a message that says
 * so instead of HDF5's error stack (h5wasm itself would return file_id -1 and print to stderr).
 */
async function openOisst(path: string, module: H5Module): Promise<H5File> {
  const absolute = resolve(path);
  try {
    if (!(await stat(absolute)).isFile()) throw userError(path, 'is not a regular file');
  } catch (error) {
    if (error instanceof TaskError) throw error;
    throw new TaskError('user', `${path}: cannot read the file (${describeError(error)})`, { cause: error, openeoCode: 'FileNotFound' });
  }
  const head = await readHead(absolute, HDF5_SIGNATURE.length);
  if (head.subarray(0, NETCDF3_SIGNATURE.length).equals(NETCDF3_SIGNATURE)) {
    throw userError(path, 'is a classic netCDF-3 file; OISST is read from NetCDF4 (HDF5) files only');
  }
  if (!head.equals(HDF5_SIGNATURE)) throw userError(path, 'is not a NetCDF4/HDF5 file (no HDF5 signature)');
  return withHdf5Errors(module, path, () => {
    const file = new h5wasm.File(absolute, 'r');
    if (file.file_id < 0n) throw new Error('HDF5 cannot open the file');
    return file;
  });
}

async function readHead(path: string, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function closeQuietly(file: H5File): void {
  try {
    file.close();
  } catch {
    // nothing to do about a failed close of a read-only file
  }
}

/**
 * Runs h5wasm calls with HDF5 errors turned into exceptions (h5wasm ignores HDF5 status codes by
 * default: a corrupt chunk would read as garbage). HDF5 failures become user errors naming the
 * file; TaskErrors pass through.
 */
function withHdf5Errors<T>(module: H5Module, path: string, action: () => T): T {
  module.activate_throwing_error_handler();
  try {
    return action();
  } catch (error) {
    if (error instanceof TaskError) throw error;
    throw userError(path, `HDF5 read failed: ${hdf5ErrorSummary(error)}`, error);
  } finally {
    module.deactivate_throwing_error_handler();
  }
}

/** The innermost HDF5 error of a printed error stack ("file signature not found"), or the message itself. */
function hdf5ErrorSummary(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const frames = [...message.matchAll(/#\d+: .* in (\w+)\(\): (.*)$/gm)];
  const innermost = frames.at(-1);
  return innermost === undefined ? message : `${innermost[2]} (${innermost[1]})`;
}

interface Layout {
  path: string;
  product: OisstFileInfo['product'];
  dataset: Dataset;
  lat: Float64Array;
  lon: Float64Array;
  dates: string[];
  units: string;
  decode: Decoder;
}

type Decoder = (raw: ArrayLike<number>) => Float32Array;

function describeLayout(file: H5File, path: string, variable: OisstVariable): Layout {
  const dataset = requireDataset(file, path, variable);
  const lat = Float64Array.from(numericValues(requireDataset(file, path, 'lat').value, path, 'lat'));
  const lon = Float64Array.from(numericValues(requireDataset(file, path, 'lon').value, path, 'lon'));
  const time = requireDataset(file, path, 'time');
  const shape = dataset.shape ?? [];
  // PSL: (time, lat, lon); NCEI: (time, zlev = 1, lat, lon).
  const product = shape.length === 4 ? 'ncei' : 'psl';
  const expected = product === 'ncei' ? [null, 1, lat.length, lon.length] : [null, lat.length, lon.length];
  if ((shape.length !== 3 && shape.length !== 4) || expected.some((size, axis) => size !== null && shape[axis] !== size)) {
    throw userError(path, `variable "${variable}" has shape (${shape.join(', ')}); expected (time, lat, lon) or (time, zlev = 1, lat, lon) with lat ${lat.length} and lon ${lon.length}`);
  }
  const attributes = attributesOf(dataset);
  const dates = decodeDates(path, numericValues(time.value, path, 'time'), attributesOf(time));
  if (dates.length !== shape[0]) throw userError(path, `"time" has ${dates.length} values but "${variable}" has ${shape[0]} time steps`);
  const units = typeof attributes.units === 'string' ? attributes.units : '';
  return { path, product, dataset, lat, lon, dates, units, decode: decoderFor(dataset, attributes) };
}

function requireDataset(file: H5File, path: string, name: string): Dataset {
  const entity = file.get(name);
  if (entity instanceof Dataset) return entity;
  const found = file.keys().join(', ');
  throw userError(path, `no variable "${name}" in the file (it has: ${found || 'nothing'}); not an OISST file?`);
}

function readDay(layout: Layout, day: number): Float32Array {
  const ranges: [number, number][] = layout.product === 'ncei' ? [[day, day + 1], [0, 1]] : [[day, day + 1]];
  const raw = layout.dataset.slice(ranges);
  return layout.decode(numericValues(raw, layout.path, layout.dataset.path));
}

type AttributeValues = Record<string, string | number[]>;

/** The attributes a reader needs, as text or plain numbers (typed arrays keep their exact float32 values). */
function attributesOf(dataset: Dataset): AttributeValues {
  const result: AttributeValues = {};
  const present = dataset.attrs;
  for (const name of ['units', 'calendar', 'scale_factor', 'add_offset', '_FillValue', 'missing_value', 'valid_min', 'valid_max', 'valid_range']) {
    if (!(name in present)) continue;
    const value = dataset.get_attribute(name, false);
    if (typeof value === 'string') result[name] = value;
    else if (Array.isArray(value) && typeof value[0] === 'string') result[name] = value.join('');
    else if (typeof value === 'number') result[name] = [value];
    else if (ArrayBuffer.isView(value) && !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array)) result[name] = Array.from(value as ArrayLike<number>);
  }
  return result;
}

/** Whether the attribute was stored as an integer, i.e. in the packed type of an int16 variable. */
function isIntegerAttribute(dataset: Dataset, name: string): boolean {
  const attribute = dataset.attrs[name];
  return attribute !== undefined && /^[<>]?[bhiqBHIQ]$/.test(String(attribute.dtype));
}

function numericValues(value: unknown, path: string, name: string): ArrayLike<number> {
  if (ArrayBuffer.isView(value) && !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array) && !(value instanceof DataView)) return value as unknown as ArrayLike<number>;
  if (typeof value === 'number') return [value];
  throw userError(path, `"${name}" is not numeric`);
}

/**
 * CF decoding as netCDF-C and xarray do it: a value is missing if it equals _FillValue or
 * missing_value, or lies outside valid_min/valid_max/valid_range, compared in the packed type when
 * the attribute has the packed (integer) type and after unpacking otherwise; the rest is
 * raw * scale_factor + add_offset in float64, stored as float32.
 */
function decoderFor(dataset: Dataset, attributes: AttributeValues): Decoder {
  const number = (name: string): number | undefined => {
    const value = attributes[name];
    return Array.isArray(value) ? value[0] : undefined;
  };
  const scale = number('scale_factor') ?? 1;
  const offset = number('add_offset') ?? 0;
  const candidates = [number('_FillValue'), ...(Array.isArray(attributes.missing_value) ? attributes.missing_value : [])];
  const missing = [...new Set(candidates.filter((v): v is number => v !== undefined))];
  const range = Array.isArray(attributes.valid_range) ? attributes.valid_range : undefined;
  const validMin = number('valid_min') ?? range?.[0] ?? -Infinity;
  const validMax = number('valid_max') ?? range?.[1] ?? Infinity;
  const rangeIsPacked = isIntegerAttribute(dataset, range === undefined ? 'valid_min' : 'valid_range') || isIntegerAttribute(dataset, 'valid_max');
  return (raw) => {
    const out = new Float32Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const packed = raw[i] as number;
      const value = packed * scale + offset;
      const checked = rangeIsPacked ? packed : value;
      // The negated range test is also true for NaN, which is missing anyway.
      out[i] = missing.includes(packed) || !(checked >= validMin && checked <= validMax) ? NaN : value;
    }
    return out;
  };
}

/** Calendar dates (YYYY-MM-DD, UTC) of CF time values: 15340 "days since 1978-01-01 12:00:00" → 2020-01-01. */
function decodeDates(path: string, values: ArrayLike<number>, attributes: AttributeValues): string[] {
  const units = typeof attributes.units === 'string' ? attributes.units : '';
  const parsed = parseCfTimeUnits(units);
  if (parsed === null) throw userError(path, `"time" has units "${units}"; expected "<days|hours|minutes|seconds> since <date>"`);
  const calendar = typeof attributes.calendar === 'string' ? attributes.calendar.toLowerCase() : 'standard';
  if (!GREGORIAN_CALENDARS.has(calendar)) throw userError(path, `"time" uses calendar "${calendar}"; only standard/gregorian calendars are supported`);
  return Array.from(values, (value) => new Date(parsed.epochMs + value * parsed.msPerUnit).toISOString().slice(0, 10));
}

/** Parses CF time units such as "days since 1800-01-01 00:00:00" or "hours since 1978-01-01T12:00Z". */
export function parseCfTimeUnits(units: string): { msPerUnit: number; epochMs: number } | null {
  const match = /^\s*(day|hour|minute|second)s?\s+since\s+(\d{1,4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2}(?:\.\d*)?))?)?\s*(?:Z|UTC|GMT|([+-]\d{1,2})(?::?(\d{2}))?)?\s*$/i.exec(units);
  if (match === null) return null;
  const [, unit, year, month, day, hour, minute, second, zoneHours, zoneMinutes] = match;
  const msPerUnit = MS_PER_UNIT[(unit as string).toLowerCase()] as number;
  const date = new Date(0);
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  date.setUTCHours(Number(hour ?? 0), Number(minute ?? 0), 0, Math.round(Number(second ?? 0) * 1000));
  const zoneSign = zoneHours?.startsWith('-') ? -1 : 1;
  const zoneOffsetMs = ((Math.abs(Number(zoneHours ?? 0)) * 60 + Number(zoneMinutes ?? 0)) * 60_000) * zoneSign;
  return { msPerUnit, epochMs: date.getTime() - zoneOffsetMs };
}
