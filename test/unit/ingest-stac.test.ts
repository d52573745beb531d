import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIngestArgs } from '../../ingest/cli-args.js';
import { isIngestError } from '../../ingest/ingest-error.js';
import { sentinel2BandName } from '../../ingest/sentinel2-bands.js';
import { cogItemFromStac, type StacItem } from '../../ingest/stac-items.js';
import { searchStac, type StacQuery } from '../../ingest/stac-search.js';
import { startFakeProviders, type FakeProviders, type StacLayout } from '../helpers/fake-providers.js';
import { describeWithShared, sharedPath } from '../helpers/shared.js';

/** STAC search (APIs with paging and filters, static catalogs), band naming by metadata, and the command line. */

const AREA: StacQuery['bbox'] = [7.6, 47.7, 7.9, 47.9];

function query(source: string, overrides: Partial<StacQuery> = {}): StacQuery {
  return { source, collection: 'sentinel-2-l2a', bbox: AREA, from: '2020-05-01T00:00:00Z', to: '2020-05-31T23:59:59.999Z', maxCloudCover: null, ...overrides };
}

async function ids(search: AsyncIterable<{ item: StacItem }>): Promise<string[]> {
  const out: string[] = [];
  for await (const { item } of search) out.push(item.id);
  return out;
}

function fixtureItem(layout: StacLayout, index = 0): StacItem {
  const collection = JSON.parse(readFileSync(sharedPath('fixtures', 's2', layout, 'items.json'), 'utf8')) as { features: StacItem[] };
  return structuredClone(collection.features[index]!);
}

describeWithShared('STAC search', () => {
  let providers: FakeProviders;
  let quirky: FakeProviders;
  const ES = ['S2A_32TMT_20200501_0_L2A', 'S2A_32TMT_20200531_0_L2A'];

  beforeAll(async () => {
    providers = await startFakeProviders();
    quirky = await startFakeProviders({ rejectQuery: true, maxLimit: 1, getOnly: true });
  });

  afterAll(async () => {
    await providers?.close();
    await quirky?.close();
  });

  it('searches an API by POST, following next links page by page', async () => {
    const before = providers.requests.length;
    expect(await ids(searchStac(query(providers.stacApi('earth-search')), { pageLimit: 1 }))).toEqual(ES);
    const searches = providers.requests.slice(before).filter((r) => r.path.endsWith('/search'));
    expect(searches.map((r) => r.method)).toEqual(['POST', 'POST']);
    expect(searches[0]!.body).toEqual({ limit: 1, collections: ['sentinel-2-l2a'], bbox: AREA, datetime: '2020-05-01T00:00:00Z/2020-05-31T23:59:59.999Z' });
    expect(searches[1]!.body).toMatchObject({ token: '1', limit: 1 });
  });

  it('filters by time, area and cloud cover on the server and again here', async () => {
    const api = providers.stacApi('cdse');
    expect(await ids(searchStac(query(api, { maxCloudCover: 10 })))).toEqual(['S2A_MSIL2A_20200501T103021_N0214_R108_T32TMT_20200501T131138']);
    expect(await ids(searchStac(query(api, { from: '2020-05-02T00:00:00Z' })))).toEqual(['S2A_MSIL2A_20200531T103021_N0214_R108_T32TMT_20200531T131138']);
    expect(await ids(searchStac(query(api, { bbox: [8, 48, 9, 49] })))).toEqual([]);
    expect(await ids(searchStac(query(api, { collection: 'landsat-c2-l2' })))).toEqual([]);
  });

  it('copes with a server that searches by GET only, caps the page size and has no query extension', async () => {
    const notes: string[] = [];
    let before = quirky.requests.length;
    expect(await ids(searchStac(query(quirky.stacApi('earth-search'), { maxCloudCover: 10 }), { note: (m) => notes.push(m) }))).toEqual([ES[0]]);
    expect(notes).toEqual([expect.stringContaining('refused the eo:cloud_cover query; filtering cloud cover locally')]);
    let searches = quirky.requests.slice(before).filter((r) => r.path.endsWith('/search'));
    expect(searches.map((r) => `${r.method} ${r.status}`)).toEqual(['GET 400', 'GET 200', 'GET 200']);

    // Given the /search URL itself, POST is tried first, then GET.
    notes.length = 0;
    before = quirky.requests.length;
    expect(await ids(searchStac(query(`${quirky.stacApi('earth-search')}/search`), { note: (m) => notes.push(m) }))).toEqual(ES);
    expect(notes).toEqual([expect.stringContaining('does not accept POST; searching with GET')]);
    searches = quirky.requests.slice(before).filter((r) => r.path.endsWith('/search'));
    expect(searches.map((r) => `${r.method} ${r.status}`)).toEqual(['POST 405', 'GET 200', 'GET 200']);
  });

  it('walks a static collection over HTTP and on disk, resolving relative hrefs against each document', async () => {
    const overHttp: { item: StacItem; location: string }[] = [];
    for await (const found of searchStac(query(providers.staticCollection('cdse')))) overHttp.push(found);
    expect(overHttp.map((f) => f.item.id)).toHaveLength(2);
    const converted = cogItemFromStac(overHttp[0]!.item, overHttp[0]!.location, { bandName: sentinel2BandName });
    expect(converted.item.assets.B04!.href).toBe(`${providers.url}/files/s2/cogs/S2A_T32TMT_20200501/B04_10m.tif`);

    const onDisk: { item: StacItem; location: string }[] = [];
    for await (const found of searchStac(query(sharedPath('fixtures', 's2', 'earth-search', 'collection.json'), { maxCloudCover: 15 }))) onDisk.push(found);
    expect(onDisk.map((f) => f.item.id)).toEqual([ES[0]]);
    expect(cogItemFromStac(onDisk[0]!.item, onDisk[0]!.location).item.assets.SCL!.href).toBe(sharedPath('fixtures', 's2', 'cogs', 'S2A_T32TMT_20200501', 'SCL_20m.tif'));
  });

  it('says clearly when the source is not STAC or not there', async () => {
    const notStac = searchStac(query(sharedPath('fixtures', 'expected.json')));
    await expect(ids(notStac)).rejects.toThrow(/is not a STAC API, catalog, collection or item collection/);
    const missing = searchStac(query(`${providers.url}/stac/nothing`));
    await expect(ids(missing)).rejects.toSatisfy((error: unknown) => isIngestError(error, 'not-found'));
  });
});

describeWithShared('Sentinel-2 bands by their metadata, never by asset key or order', () => {
  it('gives both fixture layouts the same bands, grids and scales', () => {
    const location = sharedPath('fixtures', 's2', 'x', 'items.json');
    const a = cogItemFromStac(fixtureItem('earth-search'), location, { bandName: sentinel2BandName });
    const b = cogItemFromStac(fixtureItem('cdse'), location, { bandName: sentinel2BandName });
    expect(Object.keys(a.item.assets).sort()).toEqual(['B04', 'B08', 'SCL']);
    expect(a.item.assets).toEqual(b.item.assets);
    expect(a.bands).toEqual(b.bands);
  });

  it('names live Earth Search assets (eo:bands name "red") and several resolutions of one band', () => {
    const item = fixtureItem('earth-search');
    // Earth Search v1 names its bands like their common names and describes them with "(band N)".
    item.assets.red!['eo:bands'] = [{ name: 'red', common_name: 'red', description: 'Red (band 4)', center_wavelength: 0.665 }];
    item.assets.nir!['eo:bands'] = [{ name: 'nir', common_name: 'nir', center_wavelength: 0.842 }];
    // The asset order is shuffled and a true-colour preview with three bands is added.
    item.assets = {
      visual: { ...item.assets.red!, 'eo:bands': [{ name: 'red' }, { name: 'green' }, { name: 'blue' }] },
      scl: item.assets.scl!,
      nir: item.assets.nir!,
      red: item.assets.red!,
      // The same band at 20 m, as the Copernicus Data Space offers it: the 10 m one is kept.
      red_20m: { ...item.assets.red!, href: '../cogs/B04_20m.tif', 'proj:transform': [20, 0, 399960, 0, -20, 5300040], 'proj:shape': [549, 549] },
    };
    const { item: converted, bands } = cogItemFromStac(item, '/data/items.json', { bandName: sentinel2BandName });
    expect(Object.keys(converted.assets).sort()).toEqual(['B04', 'B08', 'SCL']);
    expect(converted.assets.B04!.href).toBe('/cogs/S2A_T32TMT_20200501/B04_10m.tif');
    expect(bands.map((band) => band.name)).toEqual(['SCL', 'B08', 'B04']);
  });

  it('reads STAC 1.1 items: proj:code and the common bands field', () => {
    const item = fixtureItem('cdse');
    delete item.properties['proj:epsg'];
    item.properties['proj:code'] = 'EPSG:32632';
    for (const asset of Object.values(item.assets)) {
      delete asset['proj:epsg'];
      const eo = asset['eo:bands']?.[0];
      const raster = asset['raster:bands']![0]!;
      delete asset['eo:bands'];
      delete asset['raster:bands'];
      asset.bands = [{ ...(eo?.name ? { name: eo.name, 'eo:common_name': eo.common_name, 'eo:center_wavelength': eo.center_wavelength } : {}), nodata: raster.nodata, data_type: raster.data_type, 'raster:scale': raster.scale, 'raster:offset': raster.offset }];
    }
    const { item: converted } = cogItemFromStac(item, '/data/items.json', { bandName: sentinel2BandName });
    expect(converted.epsg).toBe(32632);
    expect(Object.keys(converted.assets).sort()).toEqual(['B04', 'B08', 'SCL']);
    expect(converted.assets.B08).toMatchObject({ scale: 0.0001, nodata: 0, dtype: 'uint16' });
  });
});

describe('the ingest command line', () => {
  const usage = (args: string[]): string => {
    try {
      parseIngestArgs(args);
    } catch (error) {
      if (isIngestError(error, 'usage')) return error.message;
      throw error;
    }
    throw new Error(`accepted: ${args.join(' ')}`);
  };

  it('parses the documented forms', () => {
    expect(parseIngestArgs(['sentinel2', '--stac', 'https://x/v1', '--bbox', '7.6,47.7,7.9,47.9', '--from', '2020-05-01', '--to', '2020-05-31', '--max-cloud', '30', '--download'])).toEqual({
      kind: 'sentinel2',
      stac: 'https://x/v1',
      collection: undefined,
      bbox: [7.6, 47.7, 7.9, 47.9],
      from: '2020-05-01T00:00:00Z',
      to: '2020-05-31T23:59:59.999Z',
      maxCloudCover: 30,
      download: true,
      concurrency: null,
    });
    expect(parseIngestArgs(['oisst', '--source', 'psl', '--years', '2012,2013'])).toMatchObject({ kind: 'oisst', product: 'psl', years: [2012, 2013] });
    expect(parseIngestArgs(['oisst', '--source', 'ncei', '--from', '2020-01-01', '--to', '2020-03-31', '--base-url', 'http://h/'])).toMatchObject({ product: 'ncei', from: '2020-01-01', to: '2020-03-31', baseUrl: 'http://h/' });
    expect(parseIngestArgs(['local', './x', '--concurrency', '2'])).toEqual({ kind: 'local', path: './x', download: false, concurrency: 2 });
    expect(parseIngestArgs(['--help'])).toEqual({ kind: 'help' });
  });

  it('says what is wrong', () => {
    expect(usage([])).toBe('no command given');
    expect(usage(['sentinel2', '--stac', 'u', '--bbox', '8,47,7,48', '--from', '2020-01-01', '--to', '2020-01-02'])).toContain('west (8) must be less than east (7)');
    expect(usage(['sentinel2', '--stac', 'u', '--bbox', '7,47,8,48', '--from', '2020-02-30', '--to', '2020-03-01'])).toBe('--from 2020-02-30: expected a date YYYY-MM-DD');
    expect(usage(['sentinel2', '--bbox', '7,47,8,48', '--from', '2020-01-01', '--to', '2020-01-02'])).toBe('missing --stac URL');
    expect(usage(['sentinel2', '--stac', 'u', '--bbox', '7,47,8,48', '--from', '2020-01-01', '--to', '2020-01-02', '--max-cloud', '120'])).toContain('expected a percentage from 0 to 100');
    expect(usage(['oisst', '--source', 'psl', '--years', '12'])).toBe('--years: "12" is not a year');
    expect(usage(['oisst', '--source', 'ncei', '--from', '2020-03-01', '--to', '2020-01-01'])).toBe('--to 2020-01-01 is before --from 2020-03-01');
    expect(usage(['oisst', '--source', 'gfs'])).toBe('--source gfs: expected psl or ncei');
    expect(usage(['local', 'a', 'b'])).toBe('local takes exactly one PATH');
    expect(usage(['local', 'a', '--years', '2012'])).toBe('local does not take --years');
    expect(usage(['sentinel2', '--nope'])).toContain("Unknown option '--nope'");
  });
});
