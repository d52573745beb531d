import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
// The example script is the flow users run; the test drives exactly it.
import { buildNdviProcess, runBatchJob } from '../../examples/js-client-ndvi.mjs';
import { closeAllRasters } from '../../worker/io/cog-reader.js';
import { startFakeProviders, type FakeProviders } from '../helpers/fake-providers.js';
import { expectedValues } from '../helpers/fixture-catalog.js';
import { expectRelativelyClose, geotiffStats, netcdfStats, runIngestCli, SST_BOX } from '../helpers/ingest-checks.js';
import { connect } from '../helpers/openeo-flow.js';
import { freePort, startRole, tempDir, type RoleProcess } from '../helpers/processes.js';
import { describeWithShared } from '../helpers/shared.js';

/**
 * Jobs on ingested data, not the sample: the fixtures are ingested (Sentinel-2 registered where
 * the fake STAC API serves them, so the workers read the COGs over HTTP; OISST from NCEI's daily
 * files into the Zarr cube), the embedded default is started on that DATA_DIR, and an NDVI and
 * an SST job run over HTTP. A second ingest while the server runs is served without a restart.
 */

describeWithShared('jobs on ingested data, on the embedded default', () => {
  let providers: FakeProviders;
  let embedded: RoleProcess;
  let url: string;
  let dataDir: string;
  const expected = expectedValues();

  beforeAll(async () => {
    providers = await startFakeProviders();
    dataDir = tempDir('ingest-embedded');
    const stac = providers.stacApi('cdse');
    // Only the first date now; the second is ingested while the server runs.
    let run = await runIngestCli(['sentinel2', '--stac', stac, '--bbox', '7.6,47.7,7.9,47.9', '--from', '2020-05-01', '--to', '2020-05-01'], { DATA_DIR: dataDir });
    expect(run.code, run.stderr).toBe(0);
    run = await runIngestCli(['oisst', '--source', 'ncei', '--from', '2020-01-01', '--to', '2020-01-10', '--base-url', providers.nceiBase], { DATA_DIR: dataDir });
    expect(run.code, run.stderr).toBe(0);

    const port = await freePort();
    embedded = startRole('embedded', { PORT: String(port), DATA_DIR: dataDir, WORKERS: '2', NATS_URL: '' });
    await embedded.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('openEO back-end ready'), 120_000);
    url = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await embedded?.kill('SIGINT');
    await closeAllRasters();
    await providers?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the ingested collections, not the sample', async () => {
    expect(existsSync(join(dataDir, 'samples'))).toBe(false);
    const collections = (await (await fetch(`${url}/collections`)).json()) as { collections: Record<string, unknown>[] };
    const ids = collections.collections.map((c) => c.id).sort();
    expect(ids).toEqual(['OISST', 'SENTINEL2_L2A']);
    for (const collection of collections.collections) expect(collection['openeo:sample_data']).toBeUndefined();
    const oisst = (await (await fetch(`${url}/collections/OISST`)).json()) as Record<string, any>;
    expect(oisst['cube:dimensions'].t.extent).toEqual(['2020-01-01T00:00:00Z', '2020-01-10T00:00:00Z']);
  });

  it('picks up an ingest made while it runs, and the NDVI job over the bbox equals expected.json', async () => {
    const run = await runIngestCli(['sentinel2', '--stac', providers.stacApi('cdse'), '--bbox', '7.6,47.7,7.9,47.9', '--from', '2020-05-01', '--to', '2020-05-31'], { DATA_DIR: dataDir });
    expect(run.code, run.stderr).toBe(0);
    const described = (await (await fetch(`${url}/collections/SENTINEL2_L2A`)).json()) as Record<string, any>;
    expect(described['cube:dimensions'].t.extent).toEqual(['2020-05-01T10:30:21.024Z', '2020-05-31T10:30:21.024Z']);

    const connection = await connect(url, 'demo', 'demo');
    const [west, south, east, north] = expected.s2.bbox_subset.bbox_epsg4326 as number[];
    const ndvi = await buildNdviProcess(connection, { spatialExtent: { west, south, east, north }, temporalExtent: ['2020-05-01', '2020-06-01'] });
    const outDir = join(dataDir, 'downloads-ndvi');
    mkdirSync(outDir, { recursive: true });
    const { job } = await runBatchJob(connection, ndvi, { title: 'ndvi on ingested data', outDir });
    expect(job.status).toBe('finished');
    const tif = join(outDir, readdirSync(outDir).find((f) => f.endsWith('.tif'))!);
    const stats = await geotiffStats(tif);
    const exact = expected.s2.bbox_subset.exact;
    const window = expected.s2.bbox_subset.utm_envelope_window.window;
    expect([stats.width, stats.height]).toEqual([window.width, window.height]);
    expect(stats.count).toBe(exact.pixel_count);
    expectRelativelyClose(stats.mean, exact.ndvi_max.mean);
    expectRelativelyClose(stats.sum, exact.ndvi_max.sum);
    // The workers read the COGs from the provider over HTTP.
    expect(providers.requests.some((r) => r.path.startsWith('/files/s2/cogs/') && r.range !== null)).toBe(true);
  });

  it('the SST time-mean job over the North Atlantic equals expected.json', async () => {
    const connection = await connect(url, 'demo', 'demo');
    const builder = await connection.buildProcess();
    const cube = builder.load_collection('OISST', SST_BOX, ['2020-01-01', '2020-01-11'], ['sst']);
    const mean = builder.reduce_dimension(cube, function (this: any, data: unknown) { return this.mean(data); }, 't');
    const saved = builder.save_result(mean, 'netCDF');
    const outDir = join(dataDir, 'downloads-sst');
    mkdirSync(outDir, { recursive: true });
    const { job } = await runBatchJob(connection, saved, { title: 'sst on ingested data', outDir });
    expect(job.status).toBe('finished');
    const nc = join(outDir, readdirSync(outDir).find((f) => f.endsWith('.nc'))!);
    const stats = await netcdfStats(nc, 'sst');
    const box = expected.sst.ncei.box;
    expect(stats.count).toBe(box.valid_count);
    expectRelativelyClose(stats.mean, box.mean);
    expectRelativelyClose(stats.sum, box.sum);
  });
});
