import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Catalog, type ZarrCubeSource } from '../../ingest/catalog.js';
import { OISST_CUBE_FOLDER } from '../../ingest/oisst-cube.js';
import { ensureSampleData, SAMPLE_OISST_FOLDER, SAMPLES_DIR } from '../../ingest/sample-data.js';
import { readCubeInfo } from '../../ingest/zarr-cube.js';
import { openZarrArray } from '../../worker/io/zarr-array.js';
import { startFakeProviders, type FakeProviders } from '../helpers/fake-providers.js';
import { expectedValues } from '../helpers/fixture-catalog.js';
import { checkSstAgainstExpected, expectRelativelyClose, messageLines, runIngestCli } from '../helpers/ingest-checks.js';
import { tempDir } from '../helpers/processes.js';
import { describeWithShared, sharedPath } from '../helpers/shared.js';

/**
 * `ingest oisst` against NOAA's two layouts played on loopback: the NCEI daily files in YYYYMM/
 * folders and the PSL yearly file, converted into one Zarr cube whose values, read back by the
 * project (a job compiled and run in-process, and the Zarr reader), equal expected.json.
 */

const FIRST = '2020-01-01';
const LAST = '2020-01-10';
const CELLS = 720 * 1440;

/** Per-cell NaN-skipping 10-day mean from the cube, read with the project's Zarr reader. */
async function cubeMeans(dataDir: string): Promise<Float64Array> {
  const array = await openZarrArray(join(dataDir, OISST_CUBE_FOLDER), 'sst');
  expect(array.shape).toEqual([10, 720, 1440]);
  const values = await array.read([0, 0, 0], [10, 720, 1440]);
  const sum = new Float64Array(CELLS);
  const count = new Uint16Array(CELLS);
  for (let t = 0; t < 10; t++) {
    for (let i = 0; i < CELLS; i++) {
      const v = values[t * CELLS + i]!;
      if (!Number.isNaN(v)) {
        sum[i]! += v;
        count[i]!++;
      }
    }
  }
  return sum.map((s, i) => (count[i] ? s / count[i]! : NaN));
}

describeWithShared('ingest oisst: NOAA NCEI daily and PSL yearly files into the Zarr cube', () => {
  let providers: FakeProviders;
  const expected = expectedValues();
  const dirs: string[] = [];
  const dataDir = (name: string): string => {
    const dir = tempDir(`ingest-oisst-${name}`);
    dirs.push(dir);
    return dir;
  };

  beforeAll(async () => {
    providers = await startFakeProviders();
  });

  afterAll(async () => {
    await providers?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  for (const product of ['ncei', 'psl'] as const) {
    it(`${product}: the cube's 10-day means equal expected.json, read by the Zarr reader and by a job`, async () => {
      const dir = dataDir(product);
      const args =
        product === 'ncei'
          ? ['oisst', '--source', 'ncei', '--from', FIRST, '--to', LAST, '--base-url', providers.nceiBase]
          : ['oisst', '--source', 'psl', '--years', '2020', '--base-url', providers.pslBase];
      const run = await runIngestCli(args, { DATA_DIR: dir });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain('10 days appended');
      expect(run.stdout).toContain(`holds 10 days, ${FIRST} to ${LAST}`);
      // Downloads were converted and removed; nothing is left half-done.
      expect(readdirSync(join(dir, 'downloads', 'oisst'))).toEqual([]);

      const record = await new Catalog(dir).get('OISST');
      const source = record!.source as ZarrCubeSource;
      expect(source).toMatchObject({ kind: 'zarr-cube', store: OISST_CUBE_FOLDER, array: 'sst', chunks: [32, 120, 160], latAscending: true, lonFirst: 0.125 });
      expect(source.dates).toEqual(Array.from({ length: 10 }, (_, i) => `2020-01-${String(i + 1).padStart(2, '0')}`));
      expect(record!.stac['openeo:sample_data']).toBeUndefined();
      expect(record!.stac.extent).toEqual({ spatial: { bbox: [[-180, -90, 180, 90]] }, temporal: { interval: [[`${FIRST}T00:00:00Z`, `${LAST}T00:00:00Z`]] } });
      const { spec } = await readCubeInfo(join(dir, OISST_CUBE_FOLDER));
      expect(spec.attributes).toMatchObject({ units: 'degC', standard_name: 'sea_surface_temperature', valid_range: [-3, 45] });
      expect(spec.timeUnits).toBe('days since 1970-01-01');

      const reference = expected.sst[product];
      const means = await cubeMeans(dir);
      const [r0, r1] = expected.sst.box.lat_index_range as [number, number];
      const [c0, c1] = expected.sst.box.lon_index_range as [number, number];
      let boxCount = 0;
      let boxSum = 0;
      for (let r = r0; r <= r1; r++) {
        for (let c = c0; c <= c1; c++) {
          const v = means[r * 1440 + c]!;
          if (!Number.isNaN(v)) {
            boxCount++;
            boxSum += v;
          }
        }
      }
      expect(boxCount).toBe(reference.box.valid_count);
      expectRelativelyClose(boxSum / boxCount, reference.box.mean);
      let globalCount = 0;
      let globalSum = 0;
      for (const v of means) {
        if (!Number.isNaN(v)) {
          globalCount++;
          globalSum += v;
        }
      }
      expect(globalCount).toBe(reference.global.valid_count);
      expectRelativelyClose(globalSum / globalCount, reference.global.mean);
      for (const [name, cell] of Object.entries(expected.sst.cells) as [string, { index: [number, number] }][]) {
        const value = means[cell.index[0] * 1440 + cell.index[1]]!;
        if (reference.at[name] === null) expect(value).toBeNaN();
        else expect(Math.abs(value - reference.at[name])).toBeLessThanOrEqual(1e-5);
      }

      await checkSstAgainstExpected(dir, reference, product);
    });
  }

  it('appending days extends the cube without rewriting it, skips days it holds, and refuses days before its end', async () => {
    const dir = dataDir('append');
    const ncei = (from: string, to: string): Promise<Awaited<ReturnType<typeof runIngestCli>>> =>
      runIngestCli(['oisst', '--source', 'ncei', '--from', from, '--to', to, '--base-url', providers.nceiBase], { DATA_DIR: dir });
    const cube = join(dir, OISST_CUBE_FOLDER);

    let run = await ncei('2020-01-03', '2020-01-05');
    expect(run.code, run.stderr).toBe(0);
    const group = readFileSync(join(cube, 'zarr.json'));
    const latInode = statSync(join(cube, 'lat', 'c', '0')).ino;
    const lonStat = statSync(join(cube, 'lon', 'c', '0'));

    const before = providers.requests.length;
    run = await ncei('2020-01-04', '2020-01-10');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('5 days appended from 5 files, 2 already in the cube');
    // Days the cube holds are not downloaded again.
    const fetched = providers.requests.slice(before).map((r) => r.path);
    expect(fetched.some((p) => p.includes('20200104') || p.includes('20200105'))).toBe(false);
    expect(fetched.filter((p) => p.endsWith('.nc'))).toHaveLength(5);
    // The group and the coordinates are those written at creation.
    expect(readFileSync(join(cube, 'zarr.json')).equals(group)).toBe(true);
    expect(statSync(join(cube, 'lat', 'c', '0')).ino).toBe(latInode);
    expect(statSync(join(cube, 'lon', 'c', '0')).mtimeMs).toBe(lonStat.mtimeMs);
    const { times } = await readCubeInfo(cube);
    expect(times.length).toBe(8);

    // Days before the cube's last day that it lacks: refused before anything is downloaded.
    const variable = readFileSync(join(cube, 'sst', 'zarr.json'));
    const catalogFile = readFileSync(join(dir, 'collections', 'OISST', 'source.json'));
    const count = providers.requests.length;
    run = await ncei('2020-01-01', '2020-01-02');
    expect(run.code).toBe(1);
    const message = messageLines(run.stderr);
    expect(message).toHaveLength(1);
    expect(message[0]).toMatch(/^error: oisst-avhrr-v02r01\.20200101\.nc: 2020-01-01 comes before the cube's last day 2020-01-10/);
    expect(providers.requests.length).toBe(count);
    expect(readFileSync(join(cube, 'sst', 'zarr.json')).equals(variable)).toBe(true);
    expect(readFileSync(join(dir, 'collections', 'OISST', 'source.json')).equals(catalogFile)).toBe(true);

    // The same year from PSL adds only the days the cube lacks: none before its end, none after.
    run = await runIngestCli(['oisst', '--source', 'psl', '--years', '2020', '--base-url', providers.pslBase], { DATA_DIR: dir });
    expect(run.code).toBe(1);
    expect(messageLines(run.stderr)[0]).toContain('2020-01-01, 2020-01-02');
  });

  it('replaces the generated sample, says so, and removes the sample files', async () => {
    const dir = dataDir('sample');
    await ensureSampleData(dir);
    const sampleFolder = join(dir, SAMPLES_DIR, SAMPLE_OISST_FOLDER);
    expect(existsSync(sampleFolder)).toBe(true);
    const run = await runIngestCli(['oisst', '--source', 'ncei', '--from', FIRST, '--to', '2020-01-02', '--base-url', providers.nceiBase], { DATA_DIR: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('the real data replaced the generated sample of OISST');
    expect(existsSync(sampleFolder)).toBe(false);
    expect(existsSync(`${sampleFolder}.manifest.json`)).toBe(false);
    const record = await new Catalog(dir).get('OISST');
    expect(Catalog.isSample(record!)).toBe(false);
    expect((record!.source as ZarrCubeSource).dates).toEqual([FIRST, '2020-01-02']);
    // The Sentinel-2 sample is not touched.
    expect(Catalog.isSample((await new Catalog(dir).get('SENTINEL2_L2A'))!)).toBe(true);
    // A server started now keeps the real data.
    expect((await ensureSampleData(dir)).created).toEqual([]);
  });

  it('keeps downloads in INGEST_CACHE_DIR and reuses them', async () => {
    const dir = dataDir('cache');
    const cache = dataDir('cache-files');
    const args = ['oisst', '--source', 'ncei', '--from', FIRST, '--to', '2020-01-02', '--base-url', providers.nceiBase];
    let run = await runIngestCli(args, { DATA_DIR: dir, INGEST_CACHE_DIR: cache });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`downloaded files are kept in ${cache}`);
    expect(readdirSync(cache).sort()).toEqual(['oisst-avhrr-v02r01.20200101.nc', 'oisst-avhrr-v02r01.20200102.nc']);
    expect(readFileSync(join(cache, 'oisst-avhrr-v02r01.20200101.nc')).equals(readFileSync(sharedPath('fixtures', 'oisst-ncei', 'oisst-avhrr-v02r01.20200101.nc')))).toBe(true);

    // Another data folder, the same cache: only sizes are asked for (HEAD), nothing is downloaded.
    const other = dataDir('cache-other');
    const before = providers.requests.length;
    run = await runIngestCli(args, { DATA_DIR: other, INGEST_CACHE_DIR: cache });
    expect(run.code, run.stderr).toBe(0);
    expect(providers.requests.slice(before).map((r) => r.method)).toEqual(['HEAD', 'HEAD']);
    expect(run.stdout).toContain('2 days appended');
  });

  it('ingest local: a folder of NetCDF files, and a file that is not OISST gives a clear error', async () => {
    const dir = dataDir('local');
    const run = await runIngestCli(['local', sharedPath('fixtures', 'oisst-ncei')], { DATA_DIR: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('10 days appended from 10 files');
    const means = await cubeMeans(dir);
    const gulf = expected.sst.cells.gulf_stream.index as [number, number];
    expect(Math.abs(means[gulf[0] * 1440 + gulf[1]]! - expected.sst.ncei.at.gulf_stream)).toBeLessThanOrEqual(1e-5);

    const bad = await runIngestCli(['local', sharedPath('fixtures', 'expected.json')], { DATA_DIR: dataDir('bad') });
    expect(bad.code).toBe(1);
    expect(messageLines(bad.stderr)).toHaveLength(1);
  });
});
