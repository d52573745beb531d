import { appendTimeSteps, createCube, type CubeSpec, type CubeTimeStep } from './zarr-cube.js';
import type { BandInfo, ZarrCubeSource } from './catalog.js';
import { consecutiveDates, dayOfYear, daysSinceEpoch } from './calendar.js';
import { landMask, type GlobalGrid } from './crude-continents.js';
import { addInterpolated, fractalNoise, randomLattice, type Lattice } from './smooth-noise.js';
import { SeededRandom, seedFrom } from './seeded-random.js';

/**
 * The OISST sample: a month of daily sea-surface temperature on the NOAA OISST v2.1 grid and in
 * the cube layout that ingesting the real files produces, so that one code path serves both.
 * The field is smooth and plausible: warm tropics, near-freezing polar seas, the January phase of
 * the seasonal cycle, and a weather anomaly that drifts from day to day.
 */

/** The OISST v2.1 grid: 0.25° cells, rows south to north from -89.875, columns east from 0.125. */
export const OISST_GRID: GlobalGrid = { height: 720, width: 1440, resolution: 0.25, latFirst: -89.875, lonFirst: 0.125, latAscending: true };

/** First day of the sample: 2012-01-01, a year NOAA distributes as one PSL file. */
export const SAMPLE_OISST_FIRST_DATE = '2012-01-01';

/** Days in the sample: 31, January 2012, enough for monthly means and temporal filters. */
export const SAMPLE_OISST_DAYS = 31;

/**
 * Chunk shape [time, lat, lon] = [32, 120, 160]: boxes on 10°/30°/40° boundaries (the North
 * Atlantic 0-60 N, 80 W-0 is 2 x 2 chunks) read whole chunks, a year is 12 time chunks, and one
 * chunk is 2.4 MiB before compression.
 */
export const OISST_CHUNKS: [number, number, number] = [32, 120, 160];

/** Data variable of the cube: "sst", as in the NOAA files. */
export const OISST_VARIABLE = 'sst';

/** Dimension names of the cube, the NetCDF ones: time, lat, lon. */
export const OISST_DIMENSIONS: [string, string, string] = ['time', 'lat', 'lon'];

/** Units of the cube's time coordinate: days since 1970-01-01, the Unix epoch. */
export const OISST_TIME_UNITS = 'days since 1970-01-01';

/** Range outside which an SST is no measurement: -3..45 °C, NOAA PSL's `valid_range`. */
export const OISST_VALID_RANGE: [number, number] = [-3, 45];

/**
 * gzip level 1: the month compresses in about 0.6 s on two cores (zlib runs on libuv's thread
 * pool) to 33 MB. Level 6 takes half as long again for 4 % less; float32 values with noisy low
 * mantissa bytes hardly compress further.
 */
export const SAMPLE_OISST_COMPRESSION: CubeSpec['compressor'] = { codec: 'gzip', level: 1 };

/** Freezing point of sea water at ocean salinity: -1.8 °C, the SST of ice-covered cells. */
export const SEA_ICE_SST = -1.8;

/** SST values are stored to 0.01 °C, the precision NOAA distributes (int16 x 0.01). */
export const SST_PRECISION = 0.01;

/** Steps of SST_PRECISION per degree: 100. */
const STEPS_PER_DEGREE = 100;

/** Days of the year of the warmest SST: mid-August (227) in the north, mid-February (45) in the south. */
const NORTHERN_PEAK_DAY = 227;
const SOUTHERN_PEAK_DAY = 45;

/** Day-to-day persistence of the weather anomaly (AR(1) coefficient): 0.9, an e-folding time of ~10 days. */
export const ANOMALY_PERSISTENCE = 0.9;

export const OISST_BAND: BandInfo = { name: OISST_VARIABLE, description: 'daily sea surface temperature', unit: 'degC' };

/** The sample's dates, YYYY-MM-DD. */
export function sampleOisstDates(): string[] {
  return consecutiveDates(SAMPLE_OISST_FIRST_DATE, SAMPLE_OISST_DAYS);
}

/** Cell-centre latitudes and longitudes of a grid, in storage order. */
export function gridCoordinates(grid: GlobalGrid): { lat: Float64Array; lon: Float64Array } {
  const step = grid.latAscending ? grid.resolution : -grid.resolution;
  return {
    lat: Float64Array.from({ length: grid.height }, (_, i) => grid.latFirst + i * step),
    lon: Float64Array.from({ length: grid.width }, (_, j) => grid.lonFirst + j * grid.resolution),
  };
}

/** Days appended per write when generating: one time chunk, so each chunk is written once. */
const APPEND_BATCH_DAYS = OISST_CHUNKS[0];

/**
 * Writes the cube to `dir` (which must not hold one) and returns the catalog source naming it
 * `store`. `dates` defaults to the sample's month; benchmarks ask for a year.
 */
export async function writeSampleOisst(dir: string, store: string, seed: number, dates: string[] = sampleOisstDates()): Promise<ZarrCubeSource> {
  const grid = OISST_GRID;
  const { lat, lon } = gridCoordinates(grid);
  await createCube(dir, {
    variable: OISST_VARIABLE,
    dtype: 'float32',
    spatialShape: [grid.height, grid.width],
    chunks: OISST_CHUNKS,
    dimensionNames: OISST_DIMENSIONS,
    fillValue: NaN,
    attributes: {
      units: 'degC',
      long_name: 'Daily sea surface temperature',
      standard_name: 'sea_surface_temperature',
      valid_range: OISST_VALID_RANGE,
      comment: 'Synthetic sample data on the NOAA OISST v2.1 grid; not observations.',
    },
    compressor: SAMPLE_OISST_COMPRESSION,
    coordinates: [
      { name: OISST_DIMENSIONS[1], values: lat, attributes: { units: 'degrees_north', long_name: 'Latitude', standard_name: 'latitude', axis: 'Y' } },
      { name: OISST_DIMENSIONS[2], values: lon, attributes: { units: 'degrees_east', long_name: 'Longitude', standard_name: 'longitude', axis: 'X' } },
    ],
    timeUnits: OISST_TIME_UNITS,
  });
  const steps: CubeTimeStep[] = sstDays(seed, grid, dates).map((data, day) => ({ time: daysSinceEpoch(dates[day]!), data }));
  for (let i = 0; i < steps.length; i += APPEND_BATCH_DAYS) await appendTimeSteps(dir, steps.slice(i, i + APPEND_BATCH_DAYS));
  return {
    kind: 'zarr-cube',
    store,
    array: OISST_VARIABLE,
    band: { ...OISST_BAND },
    dates,
    height: grid.height,
    width: grid.width,
    resolution: grid.resolution,
    latFirst: grid.latFirst,
    lonFirst: grid.lonFirst,
    latAscending: grid.latAscending,
    chunks: OISST_CHUNKS,
    scale: 1,
    offset: 0,
    fill: null,
    validRange: OISST_VALID_RANGE,
  };
}

/** One SST field per date (°C, NaN on land), row-major on `grid`. */
export function sstDays(seed: number, grid: GlobalGrid, dates: readonly string[]): Float32Array[] {
  const { height, width } = grid;
  const { lat, lon } = gridCoordinates(grid);
  const land = landMask(grid);

  // Climatology: a zonal profile, a fixed pattern of warm and cold regions (currents, upwelling)
  // fading towards the poles, and a seasonal cycle strongest in mid-latitudes. The fixed part of
  // each cell is precomputed, with NaN on land and -Infinity under sea ice to mark those cells.
  const pattern = fractalNoise(seedFrom(seed, 'sst', 'pattern'), height, width, [
    { cell: 40, weight: 1 },
    { cell: 10, weight: 0.4 },
  ], true);
  const ice = seaIceMask(grid, lat, lon, pattern);
  const fixed = new Float32Array(height * width);
  const seasonalAmplitude = new Float64Array(height);
  for (let i = 0; i < height; i++) {
    const phi = (lat[i]! * Math.PI) / 180;
    const zonal = SEA_ICE_SST + 30 * Math.cos(phi) ** 1.6;
    const patternAmplitude = 1.5 * Math.sqrt(Math.cos(phi));
    // Polar seas under or near ice hardly warm: the cycle fades from 60° to 70°.
    const polar = Math.min(1, Math.max(0, (Math.abs(lat[i]!) - 60) / 10));
    seasonalAmplitude[i] = (0.4 + 5.5 * Math.sin(2 * phi) ** 2) * (1 - 0.7 * polar * polar * (3 - 2 * polar));
    for (let k = i * width; k < (i + 1) * width; k++) fixed[k] = land[k] ? NaN : ice[k] ? -Infinity : zonal + patternAmplitude * pattern[k]!;
  }

  // Weather: two lattices (6° and 1.5°) evolving as AR(1) processes, started in their stationary state.
  const random = new SeededRandom(seedFrom(seed, 'sst', 'weather'));
  const broad = randomLattice(random, height, width, 24, true);
  const fine = randomLattice(random, height, width, 6, true);

  return dates.map((date, day) => {
    if (day > 0) {
      evolve(broad, random);
      evolve(fine, random);
    }
    const out = new Float32Array(height * width);
    addInterpolated(broad, out, height, width, 0.9);
    addInterpolated(fine, out, height, width, 0.3);
    addClimate(out, fixed, seasonalAmplitude, lat, dayOfYear(date), width);
    return out;
  });
}

/** Adds the day's climate to the anomaly in `out` and turns it into stored SST values. */
function addClimate(out: Float32Array, fixed: Float32Array, seasonalAmplitude: Float64Array, lat: Float64Array, doy: number, width: number): void {
  for (let i = 0; i < lat.length; i++) {
    const peakDay = lat[i]! >= 0 ? NORTHERN_PEAK_DAY : SOUTHERN_PEAK_DAY;
    const seasonal = seasonalAmplitude[i]! * Math.cos((2 * Math.PI * (doy - peakDay)) / 365.25);
    for (let k = i * width, end = k + width; k < end; k++) {
      // NaN (land) stays NaN and -Infinity (ice) saturates to the freezing point.
      out[k] = quantize(saturate(fixed[k]! + seasonal + out[k]!));
    }
  }
}

/** To SST_PRECISION; NaN stays NaN. */
function quantize(t: number): number {
  return Math.round(t * STEPS_PER_DEGREE) / STEPS_PER_DEGREE;
}

function evolve(lattice: Lattice, random: SeededRandom): void {
  const innovation = Math.sqrt(1 - ANOMALY_PERSISTENCE * ANOMALY_PERSISTENCE);
  const { values } = lattice;
  for (let i = 0; i < values.length; i++) values[i] = ANOMALY_PERSISTENCE * values[i]! + innovation * random.normal();
}

/** Sea water neither freezes below -1.8 °C nor, in the open ocean, warms much past 30 °C. */
function saturate(t: number): number {
  if (t < SEA_ICE_SST) return SEA_ICE_SST;
  if (Number.isNaN(t)) return t;
  return t > 29 ? 29 + 2.5 * Math.tanh((t - 29) / 2.5) : t;
}

/**
 * January sea ice: the Arctic Ocean, the Canadian Arctic and Baffin Bay, Hudson Bay, the northern
 * Bering and Okhotsk seas, and the last summer ice along the Antarctic coast. The ice edge
 * meanders with `pattern` by a couple of degrees of latitude.
 */
function seaIceMask(grid: GlobalGrid, lat: Float64Array, lon: Float64Array, pattern: Float32Array): Uint8Array {
  const mask = new Uint8Array(grid.height * grid.width);
  for (let i = 0; i < grid.height; i++) {
    for (let j = 0; j < grid.width; j++) {
      const phi = lat[i]! + (lat[i]! >= 0 ? 1.5 : -1.5) * pattern[i * grid.width + j]!;
      const east = lon[j]! > 180 ? lon[j]! - 360 : lon[j]!;
      const iced =
        phi > 80 ||
        (phi > 76 && (east < 10 || east > 70)) ||
        (phi > 66 && east > -170 && east < -50) ||
        (phi > 55 && east > -95 && east < -75) ||
        (phi > 60 && (east > 150 || east < -165)) ||
        (phi > 57 && east > 135 && east < 158) ||
        phi < -72;
      if (iced) mask[i * grid.width + j] = 1;
    }
  }
  return mask;
}
