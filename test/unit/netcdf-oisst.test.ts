import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import h5wasm from 'h5wasm/node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isTaskError } from '../../common/errors.js';
import { inspectOisstFile, parseCfTimeUnits, readOisstDays, type OisstDay, type OisstVariable } from '../../ingest/netcdf-oisst.js';
import { describeWithShared, sharedPath } from '../helpers/shared.js';

const LAT = 720;
const LON = 1440;
const CELLS = LAT * LON;
const MEAN_RTOL = 1e-6;
const VALUE_ATOL = 1e-5;

interface Stats {
  valid_count: number;
  mean: number;
  min: number;
  max: number;
}

type CellName = 'equator_atlantic' | 'mid_atlantic' | 'gulf_stream' | 'box_ne_corner' | 'land_us_east';

interface ProductExpectation {
  box: { mean: number; valid_count: number; sum: number; min: number; max: number };
  at: Record<CellName, number | null>;
  day1_at: Record<CellName, number | null>;
  global: { mean: number; valid_count: number; coslat_weighted_mean: number };
}

interface SstExpectation {
  cells: Record<CellName, { lat: number; lon: number; index: [number, number] }>;
  box: { lat_index_range: [number, number]; lon_index_range: [number, number] };
  ncei: ProductExpectation;
  psl: ProductExpectation;
  ncei_files: Record<string, { time_utc: string; dims: Record<string, number> } & Record<OisstVariable, Stats>>;
  psl_file: { time_utc: string[]; dims: Record<string, number> };
}

function expectClose(actual: number, expected: number, rtol = MEAN_RTOL): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rtol * Math.abs(expected));
}

function expectNear(actual: number | undefined, expected: number | null): void {
  if (expected === null) {
    expect(actual).toBeNaN();
    return;
  }
  expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(VALUE_ATOL);
}

function statsOf(values: Float32Array): Stats {
  let sum = 0;
  let count = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const value of values) {
    if (Number.isNaN(value)) continue;
    sum += value;
    count++;
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return { valid_count: count, mean: sum / count, min, max };
}

/** NaN-skipping per-cell time mean over the days, with the first day kept for the day-1 checks. */
class TimeMean {
  readonly sum = new Float64Array(CELLS);
  readonly count = new Uint16Array(CELLS);
  first: Float32Array | undefined;
  dates: string[] = [];

  add(day: OisstDay): void {
    expect(day.sst).toHaveLength(CELLS);
    this.first ??= day.sst;
    this.dates.push(day.date);
    for (let i = 0; i < CELLS; i++) {
      const value = day.sst[i] as number;
      if (Number.isNaN(value)) continue;
      this.sum[i] += value;
      this.count[i]++;
    }
  }

  at(row: number, col: number): number {
    const i = row * LON + col;
    return this.count[i] === 0 ? NaN : (this.sum[i] as number) / (this.count[i] as number);
  }

  /** Unweighted and cos(lat)-weighted means of the time means over a row/column window. */
  summary(rows: [number, number], cols: [number, number]): { mean: number; sum: number; count: number; min: number; max: number; coslatMean: number } {
    let sum = 0;
    let count = 0;
    let min = Infinity;
    let max = -Infinity;
    let weighted = 0;
    let weights = 0;
    for (let row = rows[0]; row <= rows[1]; row++) {
      const weight = Math.cos(((-89.875 + 0.25 * row) * Math.PI) / 180);
      for (let col = cols[0]; col <= cols[1]; col++) {
        const mean = this.at(row, col);
        if (Number.isNaN(mean)) continue;
        sum += mean;
        count++;
        min = Math.min(min, mean);
        max = Math.max(max, mean);
        weighted += weight * mean;
        weights += weight;
      }
    }
    return { mean: sum / count, sum, count, min, max, coslatMean: weighted / weights };
  }
}

function checkProduct(mean: TimeMean, expected: ProductExpectation, sst: SstExpectation): void {
  for (const [name, cell] of Object.entries(sst.cells) as [CellName, SstExpectation['cells'][CellName]][]) {
    const [row, col] = cell.index;
    expectNear(mean.at(row, col), expected.at[name]);
    expectNear(mean.first?.[row * LON + col], expected.day1_at[name]);
  }
  const box = mean.summary(sst.box.lat_index_range, sst.box.lon_index_range);
  expect(box.count).toBe(57_935);
  expect(box.count).toBe(expected.box.valid_count);
  expectClose(box.mean, expected.box.mean);
  expectClose(box.sum, expected.box.sum);
  expectNear(box.min, expected.box.min);
  expectNear(box.max, expected.box.max);
  const global = mean.summary([0, LAT - 1], [0, LON - 1]);
  expect(global.count).toBe(673_216);
  expect(global.count).toBe(expected.global.valid_count);
  expectClose(global.mean, expected.global.mean);
  expectClose(global.coslatMean, expected.global.coslat_weighted_mean);
}

async function collect(path: string, variable?: OisstVariable): Promise<OisstDay[]> {
  const days: OisstDay[] = [];
  for await (const day of readOisstDays(path, variable === undefined ? {} : { variable })) days.push(day);
  return days;
}

async function expectUserError(promise: Promise<unknown>, ...mentions: string[]): Promise<void> {
  await expect(promise).rejects.toSatisfy((error: unknown) => isTaskError(error) && error.kind === 'user' && mentions.every((text) => error.message.includes(text)));
}

it('parses CF time units of both OISST products', () => {
  expect(parseCfTimeUnits('days since 1800-01-01 00:00:00')).toEqual({ msPerUnit: 86_400_000, epochMs: Date.UTC(1800, 0, 1) });
  expect(parseCfTimeUnits('days since 1978-01-01 12:00:00')?.epochMs).toBe(Date.UTC(1978, 0, 1, 12));
  expect(parseCfTimeUnits('hours since 1970-1-1T06:00Z')).toEqual({ msPerUnit: 3_600_000, epochMs: Date.UTC(1970, 0, 1, 6) });
  expect(parseCfTimeUnits('degC')).toBeNull();
});

describeWithShared('OISST NetCDF reader', () => {
  const sst = (JSON.parse(readFileSync(sharedPath('fixtures', 'expected.json'), 'utf8')) as { sst: SstExpectation }).sst;
  const nceiFiles = Object.keys(sst.ncei_files).sort();
  const pslPath = sharedPath('fixtures', 'oisst-psl', 'sst.day.mean.2020.nc');
  const expectedDates = sst.psl_file.time_utc.map((instant) => instant.slice(0, 10));
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'netcdf-oisst-'));
  });

  afterAll(async () => {
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  it('has the 10 NCEI daily files the expectations describe', async () => {
    expect(nceiFiles).toHaveLength(10);
    const onDisk = (await readdir(sharedPath('fixtures', 'oisst-ncei'))).filter((name) => name.endsWith('.nc')).sort();
    expect(onDisk.map((name) => `oisst-ncei/${name}`)).toEqual(nceiFiles);
  });

  it('inspects the PSL yearly file', async () => {
    const info = await inspectOisstFile(pslPath);
    expect(info.product).toBe('psl');
    expect(info.variable).toBe('sst');
    expect(info.units).toBe('degC');
    expect(info.lat).toHaveLength(sst.psl_file.dims.lat as number);
    expect(info.lon).toHaveLength(sst.psl_file.dims.lon as number);
    expect([info.lat[0], info.lat[LAT - 1], info.lon[0], info.lon[LON - 1]]).toEqual([-89.875, 89.875, 0.125, 359.875]);
    expect(info.dates).toEqual(expectedDates);
  });

  it('inspects the NCEI daily files: noon time stamps give the same calendar dates', async () => {
    for (const [index, name] of nceiFiles.entries()) {
      const info = await inspectOisstFile(sharedPath('fixtures', name));
      expect(info.product).toBe('ncei');
      expect(info.units).toBe('Celsius');
      expect(info.dates).toEqual([sst.ncei_files[name]?.time_utc.slice(0, 10)]);
      expect(info.dates).toEqual([expectedDates[index]]);
      expect([info.lat[0], info.lon[LON - 1]]).toEqual([-89.875, 359.875]);
    }
  });

  it('decodes every NCEI variable with counts, means and extremes as netCDF-C does', async () => {
    for (const name of nceiFiles) {
      const expected = sst.ncei_files[name];
      for (const variable of ['sst', 'anom', 'err', 'ice'] as const) {
        const days = await collect(sharedPath('fixtures', name), variable);
        expect(days).toHaveLength(1);
        const stats = statsOf((days[0] as OisstDay).sst);
        const want = expected?.[variable] as Stats;
        expect(stats.valid_count, `${name} ${variable}`).toBe(want.valid_count);
        expectClose(stats.mean, want.mean);
        expectNear(stats.min, want.min);
        expectNear(stats.max, want.max);
      }
    }
  });

  it('matches the NCEI 10-day mean at the cells, in the box and globally', async () => {
    const mean = new TimeMean();
    for (const name of nceiFiles) for (const day of await collect(sharedPath('fixtures', name))) mean.add(day);
    expect(mean.dates).toEqual(expectedDates);
    checkProduct(mean, sst.ncei, sst);
  });

  it('matches the PSL 10-day mean at the cells, in the box and globally', async () => {
    const started = performance.now();
    const mean = new TimeMean();
    for await (const day of readOisstDays(pslPath)) mean.add(day);
    console.info(`PSL file (10 days, 7.7 MB) read and averaged in ${(performance.now() - started).toFixed(0)} ms`);
    expect(mean.dates).toEqual(expectedDates);
    checkProduct(mean, sst.psl, sst);
  });

  it('gives the same field for the same calendar day in both products', async () => {
    const psl = await collect(pslPath);
    for (const [index, name] of [[0, nceiFiles[0]], [9, nceiFiles[9]]] as const) {
      const [ncei] = await collect(sharedPath('fixtures', name as string));
      expect(ncei?.date).toBe(psl[index]?.date);
      let maxDiff = 0;
      let maskMismatches = 0;
      for (let i = 0; i < CELLS; i++) {
        const a = ncei?.sst[i] as number;
        const b = psl[index]?.sst[i] as number;
        if (Number.isNaN(a) !== Number.isNaN(b)) maskMismatches++;
        else if (!Number.isNaN(a)) maxDiff = Math.max(maxDiff, Math.abs(a - b));
      }
      expect(maskMismatches).toBe(0);
      expect(maxDiff).toBeLessThanOrEqual(VALUE_ATOL);
    }
  });

  it('stops reading when the consumer stops', async () => {
    let seen = 0;
    for await (const day of readOisstDays(pslPath)) {
      expect(day.date).toBe('2020-01-01');
      seen++;
      break;
    }
    expect(seen).toBe(1);
    expect((await collect(pslPath)).length).toBe(10);
  });

  it('rejects files that are not NetCDF4/HDF5, naming the file', async () => {
    const json = sharedPath('fixtures', 'expected.json');
    await expectUserError(inspectOisstFile(json), json, 'not a NetCDF4/HDF5 file');
    await expectUserError(collect(json), json, 'not a NetCDF4/HDF5 file');
    const classic = join(scratch, 'classic.nc');
    await writeFile(classic, Buffer.concat([Buffer.from('CDF\x01'), Buffer.alloc(60)]));
    await expectUserError(inspectOisstFile(classic), classic, 'netCDF-3');
    const missing = join(scratch, 'missing.nc');
    await expectUserError(inspectOisstFile(missing), missing);
  });

  it('rejects HDF5 files without the variable, naming the file and the variable', async () => {
    const path = join(scratch, 'no-sst.nc');
    await h5wasm.ready;
    const file = new h5wasm.File(path, 'w');
    file.create_dataset({ name: 'lat', data: new Float32Array([0, 1]) });
    file.close();
    await expectUserError(inspectOisstFile(path), path, '"sst"');
    await expectUserError(collect(pslPath, 'anom'), pslPath, '"anom"');
  });
});
