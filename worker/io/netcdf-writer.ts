/**
 * Writes data cubes as NetCDF4 files (HDF5 with the netCDF-4 conventions) following CF-1.8,
 * through h5wasm, the HDF5 C library compiled to WebAssembly.
 *
 * netCDF-C (and GDAL and xarray through it) reads a plain HDF5 file as NetCDF when:
 * - every dimension is an HDF5 dimension scale: the coordinate variable itself, or, for a
 *   dimension without one, a dataset whose scale NAME starts with
 *   "This is a netCDF dimension but not a netCDF variable.", which netCDF-C hides;
 * - every variable has the scale of each axis attached (otherwise it gets "phony" dimensions);
 * - text attributes are fixed-length strings, which netCDF-C reads as NC_CHAR text, the type CF
 *   tools expect (variable-length strings, h5wasm's default, become NC_STRING attributes);
 * - objects are iterated in creation order, so the file is created with creation-order tracking.
 *
 * h5wasm copies the data into the WebAssembly heap (at most 2 GiB), so variables are written in
 * slabs along their first axis.
 */
import { randomBytes } from 'node:crypto';
import { rm, rename, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Dataset, File as H5File, Group } from 'h5wasm/node';
import { TaskError, describeError } from '../../common/errors.js';
import type { GeoTransform } from '../../common/raster.js';
import { cfGridMappingAttributes, isGeographicEpsg, isSupportedEpsg } from './crs-wkt.js';

type H5Module = Awaited<(typeof import('h5wasm/node'))['default']['ready']>;

/**
 * h5wasm, loaded on first use: importing it compiles and instantiates the HDF5 WebAssembly
 * module, which every process that merely imports the kernels (the worker's main thread, the
 * API) would otherwise pay for in start-up time and memory.
 */
async function loadH5wasm(): Promise<(typeof import('h5wasm/node'))['default']> {
  return (await import('h5wasm/node')).default;
}

export type AttributeValue = string | number | number[];

export interface NetcdfDimension {
  name: string;
  size: number;
  unlimited?: boolean;
}

export interface NetcdfVariable {
  name: string;
  dims: string[];
  data: Float32Array | Float64Array | Int16Array | Uint8Array | Uint16Array | Int32Array;
  attributes?: Record<string, AttributeValue>;
  fillValue?: number;
}

export interface NetcdfCoordinate {
  name: string;
  values: Float64Array | Float32Array;
  attributes: Record<string, AttributeValue>;
}

export interface NetcdfDocument {
  dims: NetcdfDimension[];
  /** 1-D, one per dimension that has coordinates (x/y or lon/lat, time as "days since ..." etc.) */
  coordinates: NetcdfCoordinate[];
  variables: NetcdfVariable[];
  /** Grid mapping: writes a scalar `crs` variable with CF grid_mapping attributes (grid_mapping_name, and spatial_ref WKT + GeoTransform as GDAL writes them) and sets `grid_mapping = "crs"` on data variables. */
  crs?: { epsg: number; wkt: string; geoTransform: GeoTransform };
  globalAttributes?: Record<string, string | number>;
  /** deflate level for data variables (chunked) */
  compression?: { level: number };
}

/** Global `Conventions` written unless the document sets its own: "CF-1.8". */
export const CF_CONVENTIONS = 'CF-1.8';

/** Name of the scalar grid-mapping variable that data variables point to: "crs" (what GDAL writes for geographic CRSs). */
export const GRID_MAPPING_VARIABLE = 'crs';

/** Units of time coordinates built by `timeCoordinate`, and the default for a time coordinate without units: "days since 1970-01-01". */
export const DEFAULT_TIME_UNITS = 'days since 1970-01-01';

/** Calendar of time coordinates that do not name one: "standard" (mixed Gregorian/Julian, identical to proleptic Gregorian after 1582). */
export const DEFAULT_CALENDAR = 'standard';

/** Prefix of the scale NAME netCDF-C gives a dimension that has no coordinate variable; netCDF-C hides such datasets. */
export const DIMENSION_WITHOUT_VARIABLE = 'This is a netCDF dimension but not a netCDF variable.';

/**
 * Upper bound of one chunk of a data variable: 4 MiB, netCDF-C's default chunk size. One 2-D
 * plane per chunk when it fits (a 720 x 1440 float32 plane is 3.96 MiB), so GDAL and xarray read a
 * band or a time step with one inflate.
 */
export const TARGET_CHUNK_BYTES = 4 * 1024 * 1024;

/** Bytes handed to HDF5 per write call: 64 MiB, to bound the copy held in the 2 GiB WebAssembly heap. */
export const WRITE_SLAB_BYTES = 64 * 1024 * 1024;

/** Attributes whose value must have the variable's own type (CF 2.5.1, NUG). */
const VALUE_TYPED_ATTRIBUTES = new Set(['_FillValue', 'missing_value', 'valid_min', 'valid_max', 'valid_range', 'actual_range']);

/** Attributes maintained by the HDF5 dimension-scale API; a document may not set them. */
const RESERVED_ATTRIBUTES = new Set(['DIMENSION_LIST', 'REFERENCE_LIST', 'CLASS', 'NAME', '_Netcdf4Dimid', '_Netcdf4Coordinates', '_NCProperties']);

type NumericArray = NetcdfVariable['data'] | NetcdfCoordinate['values'];

interface NumericType {
  dtype: string;
  ctor: new (values: ArrayLike<number>) => NumericArray;
  integer?: { min: number; max: number };
}

const NUMERIC_TYPES = {
  Float32Array: { dtype: '<f', ctor: Float32Array },
  Float64Array: { dtype: '<d', ctor: Float64Array },
  Int16Array: { dtype: '<h', ctor: Int16Array, integer: { min: -32768, max: 32767 } },
  Uint8Array: { dtype: '<B', ctor: Uint8Array, integer: { min: 0, max: 255 } },
  Uint16Array: { dtype: '<H', ctor: Uint16Array, integer: { min: 0, max: 65535 } },
  Int32Array: { dtype: '<i', ctor: Int32Array, integer: { min: -2147483648, max: 2147483647 } },
} as const satisfies Record<string, NumericType>;

function numericTypeOf(array: NumericArray): NumericType {
  // instanceof rather than the constructor name, so subclasses such as Buffer qualify.
  if (array instanceof Float32Array) return NUMERIC_TYPES.Float32Array;
  if (array instanceof Float64Array) return NUMERIC_TYPES.Float64Array;
  if (array instanceof Int16Array) return NUMERIC_TYPES.Int16Array;
  if (array instanceof Uint8Array) return NUMERIC_TYPES.Uint8Array;
  if (array instanceof Uint16Array) return NUMERIC_TYPES.Uint16Array;
  if (array instanceof Int32Array) return NUMERIC_TYPES.Int32Array;
  throw invalidDocument(`unsupported array type ${(array as object).constructor.name}`);
}

function invalidDocument(message: string): TaskError {
  return new TaskError('internal', `invalid NetCDF document: ${message}`);
}

/** Writes `doc` to `path` atomically (temporary name in the same folder, then rename). */
export async function writeNetcdf(path: string, doc: NetcdfDocument): Promise<{ bytes: number }> {
  validateDocument(doc);
  const h5wasm = await loadH5wasm();
  const module = await h5wasm.ready;
  const target = resolve(path);
  const temporary = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    withHdf5Errors(module, () => {
      const file = new h5wasm.File(temporary, 'w', { track_order: true });
      if (file.file_id < 0n) throw new Error('cannot create the file');
      try {
        writeDocument(file, doc);
      } catch (error) {
        closeQuietly(file);
        throw error;
      }
      if (file.close() < 0) throw new Error('closing the file failed');
    });
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    if (error instanceof TaskError) throw error;
    throw new TaskError('internal', `writing NetCDF file ${target} failed: ${describeError(error)}`, { cause: error, openeoCode: 'StorageFailure' });
  }
  return { bytes: (await stat(target)).size };
}

/**
 * Runs h5wasm calls with HDF5's error handler turned into a throw: by default h5wasm ignores
 * HDF5 status codes (a failed open yields file_id -1, a failed write nothing at all) and HDF5
 * prints its error stack to stderr.
 */
function withHdf5Errors<T>(module: H5Module, action: () => T): T {
  module.activate_throwing_error_handler();
  try {
    return action();
  } catch (error) {
    if (error instanceof TaskError) throw error;
    throw new Error(hdf5ErrorSummary(error), { cause: error });
  } finally {
    module.deactivate_throwing_error_handler();
  }
}

/** Closes a file after a failure; the first error is the one worth reporting. */
function closeQuietly(file: H5File): void {
  try {
    file.close();
  } catch {
    // the file is discarded anyway
  }
}

/** The innermost HDF5 error of a printed error stack ("file signature not found"), or the message itself. */
function hdf5ErrorSummary(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const frames = [...message.matchAll(/#\d+: .* in (\w+)\(\): (.*)$/gm)];
  const innermost = frames.at(-1);
  return innermost === undefined ? message : `${innermost[2]} (${innermost[1]})`;
}

function validateDocument(doc: NetcdfDocument): void {
  const sizes = new Map<string, number>();
  for (const dim of doc.dims) {
    if (sizes.has(dim.name)) throw invalidDocument(`dimension "${dim.name}" is declared twice`);
    if (!Number.isInteger(dim.size) || dim.size < 1) throw invalidDocument(`dimension "${dim.name}" has size ${dim.size}; sizes must be positive integers`);
    sizes.set(dim.name, dim.size);
  }
  const names = new Set<string>();
  for (const coordinate of doc.coordinates) {
    const size = sizes.get(coordinate.name);
    if (size === undefined) throw invalidDocument(`coordinate "${coordinate.name}" names no dimension`);
    if (coordinate.values.length !== size) throw invalidDocument(`coordinate "${coordinate.name}" has ${coordinate.values.length} values for a dimension of ${size}`);
    if (names.has(coordinate.name)) throw invalidDocument(`coordinate "${coordinate.name}" is given twice`);
    names.add(coordinate.name);
    checkAttributeNames(coordinate.name, coordinate.attributes);
  }
  for (const variable of doc.variables) {
    if (sizes.has(variable.name)) throw invalidDocument(`variable "${variable.name}" has the name of a dimension; give it as a coordinate`);
    if (names.has(variable.name) || (doc.crs !== undefined && variable.name === GRID_MAPPING_VARIABLE)) throw invalidDocument(`variable name "${variable.name}" is used twice`);
    names.add(variable.name);
    let length = 1;
    for (const dim of variable.dims) {
      const size = sizes.get(dim);
      if (size === undefined) throw invalidDocument(`variable "${variable.name}" uses undeclared dimension "${dim}"`);
      length *= size;
    }
    if (new Set(variable.dims).size !== variable.dims.length) throw invalidDocument(`variable "${variable.name}" repeats a dimension`);
    if (variable.data.length !== length) throw invalidDocument(`variable "${variable.name}" has ${variable.data.length} values for dimensions (${variable.dims.join(', ')}) of ${length} cells`);
    if (variable.fillValue !== undefined && variable.attributes?._FillValue !== undefined && variable.attributes._FillValue !== variable.fillValue) {
      throw invalidDocument(`variable "${variable.name}" gives two different fill values`);
    }
    checkAttributeNames(variable.name, variable.attributes ?? {});
  }
  if (doc.compression !== undefined && !(Number.isInteger(doc.compression.level) && doc.compression.level >= 0 && doc.compression.level <= 9)) {
    throw invalidDocument(`deflate level ${doc.compression.level} is not an integer 0..9`);
  }
}

function checkAttributeNames(owner: string, attributes: Record<string, AttributeValue>): void {
  for (const name of Object.keys(attributes)) {
    if (RESERVED_ATTRIBUTES.has(name)) throw invalidDocument(`attribute "${name}" of "${owner}" is reserved for the HDF5 dimension-scale bookkeeping`);
  }
}

function writeDocument(file: H5File, doc: NetcdfDocument): void {
  // Dimension scales first and in document order: netCDF-C numbers dimensions in the order it meets them.
  const coordinates = new Map(doc.coordinates.map((coordinate) => [coordinate.name, coordinate]));
  for (const dim of doc.dims) {
    const coordinate = coordinates.get(dim.name);
    if (coordinate === undefined) writeBareDimension(file, dim);
    else writeCoordinate(file, dim, coordinate);
  }
  const unlimited = new Set(doc.dims.filter((dim) => dim.unlimited === true).map((dim) => dim.name));
  const sizes = new Map(doc.dims.map((dim) => [dim.name, dim.size]));
  if (doc.crs !== undefined) writeGridMapping(file, doc.crs);
  for (const variable of doc.variables) {
    writeVariable(file, variable, {
      shape: variable.dims.map((dim) => sizes.get(dim) as number),
      unlimited: variable.dims.map((dim) => unlimited.has(dim)),
      deflateLevel: doc.compression?.level ?? 0,
      gridMapping: doc.crs !== undefined,
    });
  }
  writeAttributes(file, { Conventions: CF_CONVENTIONS, ...doc.globalAttributes });
}

function writeBareDimension(file: H5File, dim: NetcdfDimension): void {
  // netCDF-C writes these as float datasets it never fills; h5wasm needs data, so zeros it is.
  const dataset = createDataset(file, dim.name, new Float32Array(dim.size), { shape: [dim.size], unlimited: [dim.unlimited === true], chunked: dim.unlimited === true, deflateLevel: 0 });
  dataset.make_scale(`${DIMENSION_WITHOUT_VARIABLE}${String(dim.size).padStart(10)}`);
}

function writeCoordinate(file: H5File, dim: NetcdfDimension, coordinate: NetcdfCoordinate): void {
  const dataset = createDataset(file, dim.name, coordinate.values, { shape: [dim.size], unlimited: [dim.unlimited === true], chunked: dim.unlimited === true, deflateLevel: 0 });
  dataset.make_scale(dim.name);
  writeAttributes(dataset, withTimeDefaults(coordinate), numericTypeOf(coordinate.values));
}

/** A time coordinate gets the CF units, calendar and axis that readers need to decode it. */
function withTimeDefaults(coordinate: NetcdfCoordinate): Record<string, AttributeValue> {
  const attributes = coordinate.attributes;
  const isTime = coordinate.name === 'time' || attributes.axis === 'T' || attributes.standard_name === 'time';
  if (!isTime) return attributes;
  return { standard_name: 'time', units: DEFAULT_TIME_UNITS, calendar: DEFAULT_CALENDAR, axis: 'T', ...attributes };
}

function writeGridMapping(file: H5File, crs: NonNullable<NetcdfDocument['crs']>): void {
  const dataset = file.create_dataset({ name: GRID_MAPPING_VARIABLE, data: new Int32Array([0]), shape: [], dtype: '<i', track_order: true });
  // An EPSG code without CF parameters still gets the WKT and the geotransform, which is what GDAL reads.
  const parameters = isSupportedEpsg(crs.epsg) ? cfGridMappingAttributes(crs.epsg) : { long_name: 'CRS definition' };
  writeAttributes(dataset, {
    ...parameters,
    spatial_ref: crs.wkt,
    crs_wkt: crs.wkt,
    GeoTransform: crs.geoTransform.map((value) => String(value)).join(' '),
  });
}

interface VariableLayout {
  shape: number[];
  unlimited: boolean[];
  deflateLevel: number;
  /** Whether the document has a grid mapping the variable should point to. */
  gridMapping: boolean;
}

function writeVariable(file: H5File, variable: NetcdfVariable, layout: VariableLayout): void {
  const type = numericTypeOf(variable.data);
  const dataset = createDataset(file, variable.name, variable.data, { shape: layout.shape, unlimited: layout.unlimited, chunked: true, deflateLevel: layout.deflateLevel });
  variable.dims.forEach((dim, axis) => dataset.attach_scale(axis, `/${dim}`));
  const attributes: Record<string, AttributeValue> = { ...variable.attributes };
  if (variable.fillValue !== undefined) attributes._FillValue = variable.fillValue;
  if (layout.gridMapping) attributes.grid_mapping = GRID_MAPPING_VARIABLE;
  // _FillValue first, as netCDF-C writes it.
  const { _FillValue: fill, ...rest } = attributes;
  writeAttributes(dataset, fill === undefined ? rest : { _FillValue: fill, ...rest }, type);
}

interface StorageLayout {
  shape: number[];
  /** Per axis: whether the dimension is unlimited (needs chunking). */
  unlimited: boolean[];
  /** Contiguous storage suits small coordinates; data variables are chunked for deflate and slab writes. */
  chunked: boolean;
  deflateLevel: number;
}

/**
 * Creates a dataset and writes `data` into it. A chunked dataset is written in slabs along its
 * first axis: it starts with the first slab and is extended to its full shape, so at most one
 * slab is in the WebAssembly heap at a time.
 */
function createDataset(group: Group, name: string, data: NumericArray, layout: StorageLayout): Dataset {
  const { shape, unlimited, deflateLevel } = layout;
  const type = numericTypeOf(data);
  if (shape.length === 0 || !layout.chunked) return group.create_dataset({ name, data, shape, dtype: type.dtype, track_order: true });
  const chunks = chunkShape(shape, data.BYTES_PER_ELEMENT);
  const maxshape = shape.map((size, axis) => (unlimited[axis] ? null : size));
  const cellsPerRow = shape.slice(1).reduce((product, size) => product * size, 1);
  const slabRows = slabRowCount(shape[0] as number, cellsPerRow * data.BYTES_PER_ELEMENT, chunks[0] as number);
  const firstRows = Math.min(slabRows, shape[0] as number);
  const dataset = group.create_dataset({
    name,
    data: data.subarray(0, firstRows * cellsPerRow),
    shape: [firstRows, ...shape.slice(1)],
    dtype: type.dtype,
    maxshape,
    chunks,
    ...(deflateLevel > 0 ? { compression: deflateLevel } : {}),
    track_order: true,
  });
  if (firstRows < (shape[0] as number)) {
    dataset.resize(shape);
    for (let row = firstRows; row < (shape[0] as number); row += slabRows) {
      const end = Math.min(row + slabRows, shape[0] as number);
      dataset.write_slice([[row, end]], data.subarray(row * cellsPerRow, end * cellsPerRow));
    }
  }
  return dataset;
}

/**
 * Chunk shape: one cell along every axis but the last two, then as many whole rows of the last
 * axis as fit in TARGET_CHUNK_BYTES (splitting a row only when a single row is larger).
 */
export function chunkShape(shape: number[], bytesPerElement: number, targetBytes = TARGET_CHUNK_BYTES): number[] {
  const budget = Math.max(1, Math.floor(targetBytes / bytesPerElement));
  const chunks = shape.map(() => 1);
  const last = shape.length - 1;
  chunks[last] = Math.min(shape[last] as number, budget);
  if (shape.length >= 2) chunks[last - 1] = Math.max(1, Math.min(shape[last - 1] as number, Math.floor(budget / (chunks[last] as number))));
  return chunks;
}

/** Rows of the first axis per write: a multiple of the chunk extent, within WRITE_SLAB_BYTES, at least one chunk. */
function slabRowCount(rows: number, bytesPerRow: number, chunkRows: number): number {
  const fitting = Math.floor(WRITE_SLAB_BYTES / bytesPerRow);
  const aligned = Math.floor(fitting / chunkRows) * chunkRows;
  return Math.min(rows, Math.max(chunkRows, aligned));
}

type AttributeTarget = Pick<Dataset, 'create_attribute'>;

/**
 * Strings become fixed-length ASCII (NULLTERM) scalars, as netCDF-C writes NC_CHAR text; an empty
 * string is one NUL byte, since HDF5 has no zero-length string type. Numbers are float64, except
 * the value-typed attributes (_FillValue, valid_range, ...), which take `valueType`.
 */
function writeAttributes(target: AttributeTarget, attributes: Record<string, AttributeValue>, valueType?: NumericType): void {
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value === 'string') {
      const bytes = Buffer.byteLength(value, 'utf8');
      target.create_attribute(name, value, null, `A${Math.max(1, bytes)}`);
      continue;
    }
    const values = typeof value === 'number' ? [value] : value;
    const type: NumericType = valueType !== undefined && VALUE_TYPED_ATTRIBUTES.has(name) ? valueType : NUMERIC_TYPES.Float64Array;
    if (type.integer !== undefined) {
      const { min, max } = type.integer;
      const bad = values.find((v) => !Number.isInteger(v) || v < min || v > max);
      if (bad !== undefined) throw invalidDocument(`attribute "${name}" = ${bad} does not fit the variable's ${type.dtype} type`);
    }
    target.create_attribute(name, new type.ctor(values), [values.length], type.dtype);
  }
}

/** Days since 1970-01-01T00:00Z of an ISO 8601 date or date-time; a date-time without zone is read as UTC. */
export function daysSinceEpoch(date: string): number {
  const hasTime = /T|\s\d/.test(date);
  const hasZone = /(Z|[+-]\d\d:?\d\d)$/i.test(date);
  const ms = Date.parse(hasTime && !hasZone ? `${date}Z` : date);
  if (Number.isNaN(ms)) throw invalidDocument(`"${date}" is not an ISO 8601 date`);
  return ms / 86_400_000;
}

/** A time dimension and its coordinate in DEFAULT_TIME_UNITS. */
export function timeCoordinate(dates: string[], name = 'time'): { dim: NetcdfDimension; coordinate: NetcdfCoordinate } {
  return {
    dim: { name, size: dates.length },
    coordinate: {
      name,
      values: Float64Array.from(dates, daysSinceEpoch),
      attributes: { standard_name: 'time', long_name: 'time', units: DEFAULT_TIME_UNITS, calendar: DEFAULT_CALENDAR, axis: 'T' },
    },
  };
}

/**
 * The y and x dimensions and pixel-centre coordinates of a north-up grid: `lat`/`lon` in degrees
 * for EPSG:4326, `y`/`x` in metres otherwise. Rows run north to south (y decreasing), which is
 * the order the data must be in.
 */
export function gridCoordinates(epsg: number, geoTransform: GeoTransform, width: number, height: number): { dims: NetcdfDimension[]; coordinates: NetcdfCoordinate[] } {
  const [x0, dx, rowRotation, y0, columnRotation, dy] = geoTransform;
  if (rowRotation !== 0 || columnRotation !== 0) throw invalidDocument('rotated geotransforms cannot be written as 1-D coordinates');
  if (!(dy < 0 && dx > 0)) throw invalidDocument(`geotransform [${geoTransform.join(', ')}] is not north-up`);
  const xs = Float64Array.from({ length: width }, (_, col) => x0 + (col + 0.5) * dx);
  const ys = Float64Array.from({ length: height }, (_, row) => y0 + (row + 0.5) * dy);
  const geographic = isGeographicEpsg(epsg);
  const [yName, xName] = geographic ? ['lat', 'lon'] : ['y', 'x'];
  const yAttributes = geographic
    ? { standard_name: 'latitude', long_name: 'latitude', units: 'degrees_north', axis: 'Y' }
    : { standard_name: 'projection_y_coordinate', long_name: 'y coordinate of projection', units: 'm', axis: 'Y' };
  const xAttributes = geographic
    ? { standard_name: 'longitude', long_name: 'longitude', units: 'degrees_east', axis: 'X' }
    : { standard_name: 'projection_x_coordinate', long_name: 'x coordinate of projection', units: 'm', axis: 'X' };
  return {
    dims: [
      { name: yName, size: height },
      { name: xName, size: width },
    ],
    coordinates: [
      { name: yName, values: ys, attributes: yAttributes },
      { name: xName, values: xs, attributes: xAttributes },
    ],
  };
}
