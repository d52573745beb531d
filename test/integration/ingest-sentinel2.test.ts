import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Catalog, type CogItemsSource } from '../../ingest/catalog.js';
import { ensureSampleData, SAMPLE_S2_FOLDER, SAMPLES_DIR } from '../../ingest/sample-data.js';
import { closeAllRasters } from '../../worker/io/cog-reader.js';
import { startFakeProviders, type FakeProviders, type StacLayout } from '../helpers/fake-providers.js';
import { expectedValues } from '../helpers/fixture-catalog.js';
import { checkNdviAgainstExpected, geotiffStats, messageLines, ndviProcess, runInProcess, runIngestCli } from '../helpers/ingest-checks.js';
import { readGeoTiff } from '../helpers/independent.js';
import { transformBounds, transformer } from '../../common/crs.js';
import { tempDir } from '../helpers/processes.js';
import { describeWithShared, sharedPath } from '../helpers/shared.js';

/**
 * `ingest sentinel2` against a STAC API played on loopback (both item layouts), registering the
 * COGs where they are or downloading them, and what a download failure leaves behind: nothing
 * in the catalog. The NDVI composites of the ingested collection equal expected.json.
 */

const BBOX = '7.6,47.7,7.9,47.9';
const EXPECTED_IDS: Record<StacLayout, string[]> = {
  'earth-search': ['S2A_32TMT_20200501_0_L2A', 'S2A_32TMT_20200531_0_L2A'],
  cdse: ['S2A_MSIL2A_20200501T103021_N0214_R108_T32TMT_20200501T131138', 'S2A_MSIL2A_20200531T103021_N0214_R108_T32TMT_20200531T131138'],
};

function sentinel2Args(stac: string, ...extra: string[]): string[] {
  return ['sentinel2', '--stac', stac, '--bbox', BBOX, '--from', '2020-05-01', '--to', '2020-05-31', ...extra];
}

/** Every file of the catalog, for before/after comparisons. */
function catalogSnapshot(dataDir: string): Record<string, string> {
  const root = join(dataDir, 'collections');
  const out: Record<string, string> = {};
  if (!existsSync(root)) return out;
  for (const id of readdirSync(root)) {
    const dir = join(root, id);
    if (!existsSync(join(dir, 'source.json'))) continue;
    for (const name of readdirSync(dir)) out[`${id}/${name}`] = readFileSync(join(dir, name), 'utf8');
  }
  return out;
}

/** Shift of the zone-31 copy from the fixture scene (m, east and north): it overlaps about a quarter of it. */
const ZONE31_SHIFT: [number, number] = [5000, -3000];
/** Cloud cover of the zone-31 copy: above the --max-cloud of the expected.json checks, which compare the fixture scenes alone. */
const ZONE31_CLOUD_COVER = 50;

/**
 * A copy of the fixture scene of 2020-05-01 as a neighbouring tile in UTM zone 31N would be: the
 * same pixels, on a zone-31 grid whose origin lies ZONE31_SHIFT from the scene's, so the two
 * overlap and the copy reaches beyond. Its bbox is its real footprint.
 */
function itemInZone31(layout: StacLayout): Record<string, unknown> {
  const items = JSON.parse(readFileSync(sharedPath('fixtures', 's2', layout, 'items.json'), 'utf8')) as { features: Record<string, any>[] };
  const item = structuredClone(items.features[0]!);
  const [x0, y0] = zone31Origin();
  item.id = `${item.id}_ZONE31`;
  item.properties['proj:epsg'] = 32631;
  item.properties['eo:cloud_cover'] = ZONE31_CLOUD_COVER;
  for (const asset of Object.values(item.assets) as Record<string, any>[]) {
    if (asset['proj:epsg']) asset['proj:epsg'] = 32631;
    if (asset['proj:transform']) asset['proj:transform'] = [asset['proj:transform'][0], 0, x0, 0, asset['proj:transform'][4], y0];
  }
  item.bbox = transformBounds([x0, y0 - 1098 * 10, x0 + 1098 * 10, y0], 32631, 4326);
  return item;
}

/** The zone-31 copy's origin: the fixture scene's origin (zone 32) moved by ZONE31_SHIFT, in zone 31, on whole metres. */
function zone31Origin(): [number, number] {
  const [x, y] = transformer(32632, 32631).forward([399960 + ZONE31_SHIFT[0], 5300040 + ZONE31_SHIFT[1]]) as [number, number];
  return [Math.round(x), Math.round(y)];
}

interface SceneRaster {
  epsg: number;
  transform: number[];
  width: number;
  height: number;
  values: Float64Array;
}

/** A band of the fixture scene of 2020-05-01, placed at the origin it has in `epsg`. */
async function sceneBand(file: string, epsg: number, origin: [number, number]): Promise<SceneRaster> {
  const raster = await readGeoTiff(sharedPath('fixtures', 's2', 'cogs', 'S2A_T32TMT_20200501', file));
  const [dx, dy] = raster.resolution as [number, number];
  return { epsg, transform: [origin[0], dx, 0, origin[1], 0, dy], width: raster.width, height: raster.height, values: raster.values };
}

/**
 * The NDVI the example graph gives on one date where scenes of two zones overlap, computed
 * without the project's compiler or kernels: at each pixel centre of the result grid each band
 * takes the nearest sample of the first scene (in mosaic order) that holds data there; clouds,
 * shadows and missing classes are masked as the graph does.
 */
function referenceMosaicNdvi(scenes: { B04: SceneRaster; B08: SceneRaster; SCL: SceneRaster }[], grid: { epsg: number; transform: number[]; width: number; height: number }): Float64Array {
  const out = new Float64Array(grid.width * grid.height);
  const [gx0, gdx, , gy0, , gdy] = grid.transform as [number, number, number, number, number, number];
  const sample = (band: SceneRaster, x: number, y: number): number => {
    const [px, py] = band.epsg === grid.epsg ? [x, y] : (transformer(grid.epsg, band.epsg).forward([x, y]) as [number, number]);
    const col = Math.floor((px - band.transform[0]!) / band.transform[1]!);
    const row = Math.floor((py - band.transform[3]!) / band.transform[5]!);
    if (col < 0 || row < 0 || col >= band.width || row >= band.height) return NaN;
    const v = band.values[row * band.width + col]!;
    return v === 0 ? NaN : v; // 0 is every band's no-data value
  };
  const first = (band: 'B04' | 'B08' | 'SCL', x: number, y: number): number => {
    for (const scene of scenes) {
      const v = sample(scene[band], x, y);
      if (!Number.isNaN(v)) return v;
    }
    return NaN;
  };
  for (let r = 0; r < grid.height; r++) {
    for (let c = 0; c < grid.width; c++) {
      const x = gx0 + (c + 0.5) * gdx;
      const y = gy0 + (r + 0.5) * gdy;
      const scl = first('SCL', x, y);
      const red = first('B04', x, y) * 0.0001;
      const nir = first('B08', x, y) * 0.0001;
      out[r * grid.width + c] = Number.isNaN(scl) || [3, 8, 9, 10].includes(scl) ? NaN : (nir - red) / (nir + red);
    }
  }
  return out;
}

describeWithShared('ingest sentinel2: STAC APIs of both layouts into SENTINEL2_L2A', () => {
  let providers: FakeProviders;
  const expected = expectedValues();
  const dirs: string[] = [];
  const dataDir = (name: string): string => {
    const dir = tempDir(`ingest-s2-${name}`);
    dirs.push(dir);
    return dir;
  };

  beforeAll(async () => {
    providers = await startFakeProviders({ checksums: true, extraItems: { 'earth-search': [itemInZone31('earth-search')] } });
  });

  afterEach(() => providers.clearFaults());

  afterAll(async () => {
    await closeAllRasters();
    await providers?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  for (const layout of ['earth-search', 'cdse'] as const) {
    it(`${layout}: registered where they are (http), the NDVI composites equal expected.json`, async () => {
      const dir = dataDir(`${layout}-remote`);
      const run = await runIngestCli(sentinel2Args(providers.stacApi(layout), '--max-cloud', '30'), { DATA_DIR: dir });
      expect(run.code, run.stderr).toBe(0);
      const record = await new Catalog(dir).get('SENTINEL2_L2A');
      const source = record!.source as CogItemsSource;
      const fixtureIds = source.items.map((item) => item.id).filter((id) => !id.endsWith('_ZONE31'));
      expect(fixtureIds).toEqual(EXPECTED_IDS[layout]);
      expect(source.bands.map((band) => band.name)).toEqual(['B04', 'B08', 'SCL']);
      for (const item of source.items.filter((i) => !i.id.endsWith('_ZONE31'))) {
        expect(item.epsg).toBe(32632);
        expect(item.assets.B04!.href).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/s2\/cogs\/S2A_T32TMT_2020050?3?1\/B04_10m\.tif$/);
        expect(item.assets.SCL!.transform).toEqual([399960, 20, 0, 5300040, 0, -20]);
        expect(item.assets.B04).toMatchObject({ scale: 0.0001, offset: 0, nodata: 0, dtype: 'uint16', shape: [1098, 1098] });
      }
      const stac = record!.stac as Record<string, any>;
      expect(stac['cube:dimensions'].bands).toEqual({ type: 'bands', values: ['B04', 'B08', 'SCL'] });
      expect(stac['cube:dimensions'].t.extent).toEqual(['2020-05-01T10:30:21.024Z', '2020-05-31T10:30:21.024Z']);
      expect(stac['cube:dimensions'].x).toMatchObject({ type: 'spatial', reference_system: 32632, step: 10 });
      expect(stac.summaries['eo:bands'][0]).toMatchObject({ name: 'B04', common_name: 'red', center_wavelength: 0.665 });
      expect(stac.summaries['eo:cloud_cover']).toEqual({ minimum: 9.5623, maximum: 18.5072 });

      await checkNdviAgainstExpected(dir, expected, `${layout}-remote`);
    });
  }

  it('--download: files checked against file:checksum, copies in DATA_DIR, values unchanged', async () => {
    const dir = dataDir('download');
    const run = await runIngestCli(sentinel2Args(providers.stacApi('cdse'), '--download'), { DATA_DIR: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('downloaded 6 files');
    const source = (await new Catalog(dir).get('SENTINEL2_L2A'))!.source as CogItemsSource;
    for (const item of source.items) {
      for (const [band, asset] of Object.entries(item.assets)) {
        expect(asset.href).toBe(`sentinel2/${item.id}/${band}.tif`);
        const original = sharedPath('fixtures', 's2', 'cogs', `S2A_T32TMT_${item.datetime.slice(0, 10).replaceAll('-', '')}`, { B04: 'B04_10m.tif', B08: 'B08_10m.tif', SCL: 'SCL_20m.tif' }[band]!);
        expect(readFileSync(join(dir, asset.href)).equals(readFileSync(original))).toBe(true);
      }
    }
    await checkNdviAgainstExpected(dir, expected, 'download');
  });

  it('keeps every item in its own UTM zone and merges with the collection (same id replaces)', async () => {
    const dir = dataDir('merge');
    let run = await runIngestCli(['sentinel2', '--stac', providers.stacApi('earth-search'), '--bbox', BBOX, '--from', '2020-05-01', '--to', '2020-05-01'], { DATA_DIR: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('2 items ingested (0 replaced');
    expect(run.stdout).toContain('EPSG:32631, EPSG:32632');
    run = await runIngestCli(sentinel2Args(providers.stacApi('earth-search')), { DATA_DIR: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('3 items ingested (2 replaced an item of the same id); the collection holds 3');
    const record = await new Catalog(dir).get('SENTINEL2_L2A');
    const source = record!.source as CogItemsSource;
    expect(source.items.map((item) => [item.id, item.epsg])).toEqual([
      ['S2A_32TMT_20200501_0_L2A', 32632],
      ['S2A_32TMT_20200501_0_L2A_ZONE31', 32631],
      ['S2A_32TMT_20200531_0_L2A', 32632],
    ]);
    expect((record!.stac.summaries as Record<string, unknown>)['proj:epsg']).toEqual([32631, 32632]);
    // Cloud cover filters on the server: 9.56 % passes, 18.51 % does not.
    const filtered = dataDir('cloud');
    run = await runIngestCli(sentinel2Args(providers.stacApi('cdse'), '--max-cloud', '10'), { DATA_DIR: filtered });
    expect(run.code, run.stderr).toBe(0);
    expect(((await new Catalog(filtered).get('SENTINEL2_L2A'))!.source as CogItemsSource).items.map((i) => i.id)).toEqual([EXPECTED_IDS.cdse[0]]);
  });

  it('mosaics scenes of two UTM zones: the other zone is reprojected (nearest neighbour), values as computed independently', async () => {
    const dir = dataDir('zones');
    const run = await runIngestCli(['sentinel2', '--stac', providers.stacApi('earth-search'), '--bbox', BBOX, '--from', '2020-05-01', '--to', '2020-05-01'], { DATA_DIR: dir });
    expect(run.code, run.stderr).toBe(0);
    const result = await geotiffStats(await runInProcess(dir, ndviProcess(null, ['2020-05-01', '2020-05-02']), 'zones', 'result.tif'));
    // As many scenes of each zone: the grid takes the lower EPSG code, 32631, and reaches over both footprints.
    expect(result.epsg).toBe(32631);
    const zone31 = { B04: await sceneBand('B04_10m.tif', 32631, zone31Origin()), B08: await sceneBand('B08_10m.tif', 32631, zone31Origin()), SCL: await sceneBand('SCL_20m.tif', 32631, zone31Origin()) };
    const zone32 = { B04: await sceneBand('B04_10m.tif', 32632, [399960, 5300040]), B08: await sceneBand('B08_10m.tif', 32632, [399960, 5300040]), SCL: await sceneBand('SCL_20m.tif', 32632, [399960, 5300040]) };
    const [west, south, , north] = transformBounds([399960, 5300040 - 10980, 399960 + 10980, 5300040], 32632, 32631);
    expect(result.transform[0]).toBeLessThanOrEqual(west + 10);
    expect(result.transform[3]).toBeGreaterThanOrEqual(north - 10);
    expect(result.transform[0]! + result.width * 10).toBeGreaterThanOrEqual(zone31Origin()[0] + 10980 - 10);
    expect(result.transform[3]! - result.height * 10).toBeLessThanOrEqual(Math.min(south, zone31Origin()[1] - 10980) + 10);
    // The scene in the grid's zone comes first where they overlap.
    const reference = referenceMosaicNdvi([zone31, zone32], { epsg: 32631, transform: result.transform, width: result.width, height: result.height });
    let compared = 0;
    let fromOtherZone = 0;
    let mismatches = 0;
    for (let r = 0; r < result.height; r++) {
      for (let c = 0; c < result.width; c++) {
        const expected = reference[r * result.width + c]!;
        const actual = result.at(r, c);
        if (Number.isNaN(expected) !== Number.isNaN(actual) || Math.abs(actual - expected) > 1e-6) mismatches++;
        if (Number.isNaN(expected)) continue;
        compared++;
        const x = result.transform[0]! + (c + 0.5) * 10;
        const y = result.transform[3]! - (r + 0.5) * 10;
        const [x0, y0] = zone31Origin();
        if (x < x0 || x > x0 + 10980 || y > y0 || y < y0 - 10980) fromOtherZone++;
      }
    }
    expect(compared).toBeGreaterThan(1_000_000);
    expect(fromOtherZone).toBeGreaterThan(300_000);
    // Nearest-neighbour picks can differ where a pixel centre falls on a source pixel edge (rounding): a handful at most.
    expect(mismatches).toBeLessThan(compared * 1e-5);
  });

  it('replaces the generated sample and removes its files', async () => {
    const dir = dataDir('sample');
    await ensureSampleData(dir);
    const run = await runIngestCli(sentinel2Args(providers.stacApi('cdse')), { DATA_DIR: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('the real data replaced the generated sample of SENTINEL2_L2A');
    expect(existsSync(join(dir, SAMPLES_DIR, SAMPLE_S2_FOLDER))).toBe(false);
    const source = (await new Catalog(dir).get('SENTINEL2_L2A'))!.source as CogItemsSource;
    expect(source.items.map((item) => item.id)).toEqual(EXPECTED_IDS.cdse);
    await checkNdviAgainstExpected(dir, expected, 'sample');
  });

  it('an interrupted download resumes with Range and ends byte-identical', async () => {
    const dir = dataDir('resume');
    const path = '/files/s2/cogs/S2A_T32TMT_20200531/B08_10m.tif';
    providers.addFault(path, { cutAfter: 400_000 });
    const before = providers.requests.length;
    const run = await runIngestCli(sentinel2Args(providers.stacApi('earth-search'), '--download'), { DATA_DIR: dir });
    expect(run.code, run.stderr).toBe(0);
    const gets = providers.requests.slice(before).filter((r) => r.path === path && r.method === 'GET');
    expect(gets).toHaveLength(2);
    expect(gets[0]!.range).toBeNull();
    expect(gets[1]!.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/=(\d+)-/.exec(gets[1]!.range!)![1])).toBeGreaterThan(0);
    expect(gets[1]!.ifRange).toMatch(/^"/);
    expect(gets[1]!.status).toBe(206);
    const copy = join(dir, 'sentinel2', 'S2A_32TMT_20200531_0_L2A', 'B08.tif');
    expect(readFileSync(copy).equals(readFileSync(sharedPath('fixtures', 's2', 'cogs', 'S2A_T32TMT_20200531', 'B08_10m.tif')))).toBe(true);
    expect(run.stderr).toContain('"resumed":true');
  });

  it('a 404 item and a server error mid-file: one clear line, the catalog exactly as it was', async () => {
    const dir = dataDir('failures');
    let run = await runIngestCli(['sentinel2', '--stac', providers.stacApi('cdse'), '--bbox', BBOX, '--from', '2020-05-01', '--to', '2020-05-01', '--download'], { DATA_DIR: dir });
    expect(run.code, run.stderr).toBe(0);
    const before = catalogSnapshot(dir);
    expect(Object.keys(before)).toEqual(['SENTINEL2_L2A/collection.json', 'SENTINEL2_L2A/source.json']);

    providers.addFault('/files/s2/cogs/S2A_T32TMT_20200531/SCL_20m.tif', { status: 404 });
    run = await runIngestCli(sentinel2Args(providers.stacApi('cdse'), '--download'), { DATA_DIR: dir });
    expect(run.code).toBe(1);
    let message = messageLines(run.stderr);
    expect(message).toHaveLength(1);
    expect(message[0]).toMatch(/^error: http:\/\/127\.0\.0\.1:\d+\/files\/s2\/cogs\/S2A_T32TMT_20200531\/SCL_20m\.tif: HTTP 404 Not Found, the server has no such file$/);
    expect(catalogSnapshot(dir)).toEqual(before);

    // The connection dies mid-file, then the server answers 503 on every retry. (The files the
    // failed run completed are removed so that this one has to fetch them.)
    const itemDir = join(dir, 'sentinel2', EXPECTED_IDS.cdse[1]!);
    rmSync(itemDir, { recursive: true, force: true });
    const broken = '/files/s2/cogs/S2A_T32TMT_20200531/B04_10m.tif';
    providers.addFault(broken, { cutAfter: 300_000 }, { status: 503 }, { status: 503 }, { status: 503 }, { status: 503 });
    run = await runIngestCli(sentinel2Args(providers.stacApi('cdse'), '--download'), { DATA_DIR: dir });
    expect(run.code).toBe(1);
    message = messageLines(run.stderr);
    expect(message).toHaveLength(1);
    expect(message[0]).toMatch(/B04_10m\.tif: HTTP 503 Service Unavailable \(gave up after 5 attempts\)$/);
    expect(catalogSnapshot(dir)).toEqual(before);
    // No corrupt file where the catalog could point: only the resumable part.
    expect(existsSync(join(itemDir, 'B04.tif'))).toBe(false);
    expect(existsSync(join(itemDir, 'B04.tif.part'))).toBe(true);

    // Once the server is well again the same command completes, resuming the part.
    run = await runIngestCli(sentinel2Args(providers.stacApi('cdse'), '--download'), { DATA_DIR: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(((await new Catalog(dir).get('SENTINEL2_L2A'))!.source as CogItemsSource).items).toHaveLength(2);
    expect(readdirSync(itemDir).sort()).toEqual(['B04.tif', 'B08.tif', 'SCL.tif']);
  }, 180_000);

  it('credentials come from INGEST_AUTH, go only to their host and never into output', async () => {
    const dir = dataDir('auth');
    const secret = 'token-that-must-not-leak';
    const lift = providers.requireAuthorization('/files/s2/cogs/', `Bearer ${secret}`);
    try {
      let run = await runIngestCli(sentinel2Args(providers.stacApi('earth-search'), '--download'), { DATA_DIR: dir });
      expect(run.code).toBe(1);
      expect(messageLines(run.stderr)[0]).toMatch(/HTTP 401 Unauthorized; the server wants credentials: set INGEST_AUTH="127\.0\.0\.1:\d+=bearer:TOKEN"/);
      expect(catalogSnapshot(dir)).toEqual({});

      const host = new URL(providers.url).host;
      const before = providers.requests.length;
      run = await runIngestCli(sentinel2Args(providers.stacApi('earth-search'), '--download'), { DATA_DIR: dir, INGEST_AUTH: `other.example=bearer:nope ${host}=bearer:${secret}` });
      expect(run.code, run.stderr).toBe(0);
      expect(`${run.stdout}${run.stderr}`).not.toContain(secret);
      const sent = providers.requests.slice(before);
      expect(sent.every((r) => r.authorization === `Bearer ${secret}`)).toBe(true);
      for (const file of readdirSync(join(dir, 'collections', 'SENTINEL2_L2A'))) {
        expect(readFileSync(join(dir, 'collections', 'SENTINEL2_L2A', file), 'utf8')).not.toContain(secret);
      }
    } finally {
      lift();
    }
  });

  it('ingest local: a static collection of COGs, registered where the files are', async () => {
    const dir = dataDir('local');
    const run = await runIngestCli(['local', sharedPath('fixtures', 's2', 'earth-search')], { DATA_DIR: dir });
    expect(run.code, run.stderr).toBe(0);
    const source = (await new Catalog(dir).get('SENTINEL2_L2A'))!.source as CogItemsSource;
    expect(source.items.map((item) => item.id)).toEqual(EXPECTED_IDS['earth-search']);
    expect(source.items[0]!.assets.B04!.href).toBe(sharedPath('fixtures', 's2', 'cogs', 'S2A_T32TMT_20200501', 'B04_10m.tif'));
    await checkNdviAgainstExpected(dir, expected, 'local');

    // With --download the files are copied into DATA_DIR, and the catalog points at the copies.
    const copied = dataDir('local-copy');
    const copy = await runIngestCli(['local', sharedPath('fixtures', 's2', 'cdse', 'collection.json'), '--download'], { DATA_DIR: copied });
    expect(copy.code, copy.stderr).toBe(0);
    const copiedItems = ((await new Catalog(copied).get('SENTINEL2_L2A'))!.source as CogItemsSource).items;
    expect(copiedItems[1]!.assets.SCL!.href).toBe(`sentinel2/${EXPECTED_IDS.cdse[1]}/SCL.tif`);
    expect(readFileSync(join(copied, copiedItems[1]!.assets.SCL!.href)).equals(readFileSync(sharedPath('fixtures', 's2', 'cogs', 'S2A_T32TMT_20200531', 'SCL_20m.tif')))).toBe(true);
  });

  it('usage errors print the usage and exit 2', async () => {
    const dir = dataDir('usage');
    for (const args of [[], ['sentinel2', '--stac', 'x', '--bbox', '1,2,3', '--from', '2020-01-01', '--to', '2020-01-02'], ['oisst', '--source', 'ncei', '--years', '2012'], ['frobnicate']]) {
      const run = await runIngestCli(args, { DATA_DIR: dir });
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(/^error: .+\n\nUsage: npm run ingest/);
    }
    expect(existsSync(join(dir, 'collections'))).toBe(false);
  });
});
