import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { ZarrCubeSource } from './catalog.js';
import { daysSinceEpoch, MS_PER_DAY } from './calendar.js';
import { IngestError } from './ingest-error.js';
import { inspectOisstFile, readOisstDays } from './netcdf-oisst.js';
import { OISST_PRODUCT_NAMES, type OisstProduct } from './oisst-sources.js';
import {
  gridCoordinates,
  OISST_BAND,
  OISST_CHUNKS,
  OISST_DIMENSIONS,
  OISST_GRID,
  OISST_TIME_UNITS,
  OISST_VALID_RANGE,
  OISST_VARIABLE,
} from './sample-oisst.js';
import { appendTimeSteps, createCube, readCubeInfo, type CubeSpec, type CubeTimeStep } from './zarr-cube.js';

/**
 * The real OISST cube, DATA_DIR/oisst.zarr: the layout of the sample cube (variable, grid, chunk
 * shape, time units; see sample-oisst.ts for why the chunks are [32, 120, 160]), so that one read
 * path serves both. NetCDF days go in decoded to float32 °C with NaN for land and missing
 * values, whichever product they come from (PSL ships float32, NCEI int16 × 0.01).
 *
 * The cube only grows at its end: days already in it are skipped, and days before its last day
 * that it lacks are refused (inserting them would renumber every later day). Days are appended in
 * batches ending on time-chunk boundaries, so each chunk is written once per ingest, also when
 * the days come one file each (NCEI).
 */

/** The cube's folder under DATA_DIR: oisst.zarr. */
export const OISST_CUBE_FOLDER = 'oisst.zarr';

/**
 * gzip level 1, as the sample: SST values quantised to 0.01 °C but stored as float32 keep noisy
 * low mantissa bytes, so higher levels cost much more time for a few per cent.
 */
export const OISST_CUBE_COMPRESSION: CubeSpec['compressor'] = { codec: 'gzip', level: 1 };

/** Largest difference from the OISST grid's coordinates accepted in a file: 1e-4°, far below a cell yet above float32 rounding. */
const GRID_TOLERANCE_DEGREES = 1e-4;

export interface AppendOutcome {
  appended: string[];
  skipped: string[];
}

export class OisstCube {
  /** Committed days and days read but not yet written. */
  private readonly present: Set<string>;
  private pending: CubeTimeStep[] = [];
  private pendingDates: string[] = [];

  private constructor(
    readonly dir: string,
    private readonly committed: string[],
    private created: boolean,
  ) {
    this.present = new Set(committed);
  }

  /** The cube at `dir`, or an empty one that is created with the first write. */
  static async open(dir: string): Promise<OisstCube> {
    const exists = await access(join(dir, 'zarr.json')).then(
      () => true,
      () => false,
    );
    if (!exists) return new OisstCube(dir, [], false);
    const { spec, times } = await readCubeInfo(dir);
    const [height, width] = spec.spatialShape;
    if (spec.variable !== OISST_VARIABLE || spec.dtype !== 'float32' || height !== OISST_GRID.height || width !== OISST_GRID.width || spec.timeUnits !== OISST_TIME_UNITS) {
      throw new IngestError('invalid-data', `${dir} is not an OISST cube (variable ${spec.variable}, ${spec.dtype}, ${height} x ${width}, time in "${spec.timeUnits}"); move it away first`);
    }
    const dates = Array.from(times, (t) => new Date(t * MS_PER_DAY).toISOString().slice(0, 10));
    return new OisstCube(dir, dates, true);
  }

  /** The days written to the cube, in order. */
  get dates(): readonly string[] {
    return this.committed;
  }

  /** The last day written or waiting to be written. */
  get lastDate(): string | null {
    return this.pendingDates.at(-1) ?? this.committed.at(-1) ?? null;
  }

  has(date: string): boolean {
    return this.present.has(date);
  }

  /** Refuses days the cube cannot take: before its last day and not in it. */
  checkOrder(dates: readonly string[], what: string): void {
    const last = this.lastDate;
    if (last === null) return;
    const early = dates.filter((date) => date < last && !this.present.has(date));
    if (early.length === 0) return;
    const shown = early.length > 3 ? `${early.slice(0, 3).join(', ')} … (${early.length} days)` : early.join(', ');
    throw new IngestError(
      'out-of-order',
      `${what}: ${shown} ${early.length === 1 ? 'comes' : 'come'} before the cube's last day ${last} and ${early.length === 1 ? 'is' : 'are'} not in it; ` +
        `the cube only grows forward in time (to start over, remove ${this.dir} and ingest again)`,
    );
  }

  /**
   * Reads the days of one NetCDF file that the cube does not hold yet. They are written whenever
   * the days read reach the end of a time-chunk (so daily files do not rewrite a chunk per day),
   * and by `flush`. Returns the days taken and the days already there.
   */
  async addFile(path: string, label: string): Promise<AppendOutcome> {
    const info = await inspectOisstFile(path);
    checkGrid(info.lat, info.lon, label);
    for (let i = 1; i < info.dates.length; i++) {
      if (!(info.dates[i]! > info.dates[i - 1]!)) throw new IngestError('invalid-data', `${label}: its days are not in increasing order (${info.dates[i - 1]}, ${info.dates[i]})`);
    }
    this.checkOrder(info.dates, label);
    const fresh = info.dates.filter((date) => !this.present.has(date));
    const skipped = info.dates.filter((date) => this.present.has(date));
    if (fresh.length === 0) return { appended: [], skipped };
    if (!this.created) {
      await createCube(this.dir, cubeSpec(info.product));
      this.created = true;
    }
    const chunkTime = OISST_CHUNKS[0];
    for await (const day of readOisstDays(path)) {
      if (this.present.has(day.date)) continue;
      this.pending.push({ time: daysSinceEpoch(day.date), data: day.sst });
      this.pendingDates.push(day.date);
      this.present.add(day.date);
      if ((this.committed.length + this.pending.length) % chunkTime === 0) await this.flush();
    }
    return { appended: fresh, skipped };
  }

  /** Writes the days read so far; returns how many. */
  async flush(): Promise<number> {
    if (this.pending.length === 0) return 0;
    const steps = this.pending;
    const dates = this.pendingDates;
    try {
      await appendTimeSteps(this.dir, steps);
    } catch (error) {
      // What was not written is not in the cube: the next run reads those files again.
      for (const date of dates) this.present.delete(date);
      this.pending = [];
      this.pendingDates = [];
      throw error;
    }
    this.committed.push(...dates);
    this.pending = [];
    this.pendingDates = [];
    return dates.length;
  }

  /** The catalog source of the cube; `store` is its path relative to DATA_DIR. */
  source(store: string): ZarrCubeSource {
    return {
      kind: 'zarr-cube',
      store,
      array: OISST_VARIABLE,
      band: { ...OISST_BAND },
      dates: [...this.committed],
      height: OISST_GRID.height,
      width: OISST_GRID.width,
      resolution: OISST_GRID.resolution,
      latFirst: OISST_GRID.latFirst,
      lonFirst: OISST_GRID.lonFirst,
      latAscending: OISST_GRID.latAscending,
      chunks: OISST_CHUNKS,
      scale: 1,
      offset: 0,
      fill: null,
      validRange: OISST_VALID_RANGE,
    };
  }
}

function cubeSpec(product: OisstProduct): CubeSpec {
  const { lat, lon } = gridCoordinates(OISST_GRID);
  return {
    variable: OISST_VARIABLE,
    dtype: 'float32',
    spatialShape: [OISST_GRID.height, OISST_GRID.width],
    chunks: OISST_CHUNKS,
    dimensionNames: OISST_DIMENSIONS,
    fillValue: NaN,
    attributes: {
      units: 'degC',
      long_name: 'Daily sea surface temperature',
      standard_name: 'sea_surface_temperature',
      valid_range: OISST_VALID_RANGE,
      source: `NOAA OISST v2.1 (AVHRR-only), from the ${OISST_PRODUCT_NAMES[product]}`,
      references: 'https://www.ncei.noaa.gov/products/optimum-interpolation-sst',
      comment: 'Decoded to °C (NCEI int16 x scale_factor + add_offset); land, ice-free fill and values outside valid_range are NaN, the fill value.',
      Conventions: 'CF-1.8',
    },
    compressor: OISST_CUBE_COMPRESSION,
    coordinates: [
      { name: OISST_DIMENSIONS[1], values: lat, attributes: { units: 'degrees_north', long_name: 'Latitude', standard_name: 'latitude', axis: 'Y' } },
      { name: OISST_DIMENSIONS[2], values: lon, attributes: { units: 'degrees_east', long_name: 'Longitude', standard_name: 'longitude', axis: 'X' } },
    ],
    timeUnits: OISST_TIME_UNITS,
  };
}

/** A file on another grid than OISST's 0.25° one would be appended as if it were, shifted or stretched. */
function checkGrid(lat: Float64Array, lon: Float64Array, label: string): void {
  const expected = gridCoordinates(OISST_GRID);
  const fits = (actual: Float64Array, wanted: Float64Array): boolean =>
    actual.length === wanted.length && actual.every((value, i) => Math.abs(value - wanted[i]!) <= GRID_TOLERANCE_DEGREES);
  if (!fits(lat, expected.lat) || !fits(lon, expected.lon)) {
    throw new IngestError(
      'invalid-data',
      `${label}: not on the OISST 0.25° grid (lat ${lat.length} from ${lat[0]}, lon ${lon.length} from ${lon[0]}; expected 720 from -89.875 ascending and 1440 from 0.125)`,
    );
  }
}
