import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schedulerClient } from '../../common/grpc.js';
import { ensureSampleData } from '../../ingest/sample-data.js';
import { type Raster, readGeoTiff, referenceNdvi, referenceSstMean } from '../helpers/independent.js';
import { exampleProcess, login, request } from '../helpers/job-api.js';
import { freePort, type RoleProcess, startRole, tempDir } from '../helpers/processes.js';

/**
 * Synchronous processing (`POST /result`) on the embedded default: the data comes back in the
 * response body (one file as itself, several as a tar archive, a plain value as JSON), values
 * match an independent computation, oversized requests are refused before they run, and the
 * temporary result files are gone once sent.
 */

const JUNE: [string, string] = ['2020-06-01', '2020-07-01'];
/** Result size limit of the embedded instance: the window below fits, the whole scene does not. */
const MAX_RESULT_BYTES = 2_000_000;
/** Window of the sample scene in pixels: [first column, first row, width, height]. */
const WINDOW = [100, 120, 200, 150] as const;

function post(url: string, auth: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/result`, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal });
}

/** The NDVI example over the pixel window of the sample scene, in its UTM zone. */
function ndviWindowProcess(reference: Raster, reduce: boolean): Record<string, any> {
  const process = exampleProcess('ndvi-max-composite');
  const [col, row, width, height] = WINDOW;
  const [x0, y0] = reference.origin as [number, number];
  const [dx, dy] = reference.resolution as [number, number];
  // Edges on pixel boundaries: the pixel-centre rule then takes exactly the window.
  process.process_graph.load.arguments.spatial_extent = { west: x0 + col * dx, east: x0 + (col + width) * dx, north: y0 + row * dy, south: y0 + (row + height) * dy, crs: reference.epsg };
  process.process_graph.load.arguments.temporal_extent = JUNE;
  if (!reduce) {
    delete process.process_graph.composite;
    process.process_graph.save.arguments.data = { from_node: 'ndvi' };
  }
  return process;
}

function expectWindowOf(result: Raster, reference: Raster): void {
  const [col, row, width, height] = WINDOW;
  expect([result.width, result.height]).toEqual([width, height]);
  expect(result.origin[0]).toBeCloseTo(reference.origin[0]! + col * reference.resolution[0]!, 6);
  expect(result.origin[1]).toBeCloseTo(reference.origin[1]! + row * reference.resolution[1]!, 6);
  let compared = 0;
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const expected = reference.values[(row + r) * reference.width + col + c]!;
      const actual = result.values[r * width + c]!;
      if (Number.isNaN(expected)) expect(actual).toBeNaN();
      else {
        expect(Math.abs(actual - expected)).toBeLessThan(1e-6);
        compared++;
      }
    }
  }
  expect(compared).toBeGreaterThan((width * height) / 2);
}

describe('POST /result on the embedded default', () => {
  let embedded: RoleProcess;
  let url: string;
  let dataDir: string;
  let auth: string;
  let downloads: string;
  let ndviMax: Raster;

  beforeAll(async () => {
    dataDir = tempDir('sync');
    downloads = join(dataDir, 'downloads');
    mkdirSync(downloads, { recursive: true });
    const port = await freePort();
    embedded = startRole('embedded', { PORT: String(port), DATA_DIR: dataDir, WORKERS: '2', NATS_URL: '', SYNC_MAX_RESULT_BYTES: String(MAX_RESULT_BYTES) });
    await embedded.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('openEO back-end ready'), 120_000);
    url = `http://127.0.0.1:${port}`;
    auth = await login(url, 'demo', 'demo');
    ndviMax = await referenceNdvi(dataDir, `${JUNE[0]}T00:00:00Z`, `${JUNE[1]}T00:00:00Z`, 'max');
  });

  afterAll(async () => {
    await embedded?.kill('SIGINT');
  });

  it('is listed by GET /', async () => {
    const { body } = await request(url, '/');
    expect(body.endpoints).toContainEqual({ path: '/result', methods: ['POST'] });
  });

  it('answers with the GeoTIFF itself; its values match an independent computation', async () => {
    const response = await post(url, auth, { process: ndviWindowProcess(ndviMax, true) });
    expect(response.status, await response.clone().text()).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/tiff; application=geotiff; profile=cloud-optimized');
    expect(response.headers.get('openeo-costs')).toBe('0');
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect(Number(response.headers.get('content-length'))).toBe(bytes.byteLength);
    const path = join(downloads, 'window.tif');
    writeFileSync(path, bytes);
    const result = await readGeoTiff(path);
    expect(result.epsg).toBe(ndviMax.epsg);
    expectWindowOf(result, ndviMax);
  });

  it('sends several files as a tar archive: one GeoTIFF per date', async () => {
    const response = await post(url, auth, { process: ndviWindowProcess(ndviMax, false) });
    expect(response.status, await response.clone().text()).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-tar');
    const archive = join(downloads, 'dates.tar');
    writeFileSync(archive, new Uint8Array(await response.arrayBuffer()));
    const names = execFileSync('tar', ['-tf', archive], { encoding: 'utf8' }).trim().split('\n').sort();
    expect(names).toHaveLength(4);
    for (const name of names) expect(name).toMatch(/^result.*2020-06-\d\d.*\.tif$/);
    const extracted = join(downloads, 'dates');
    mkdirSync(extracted);
    execFileSync('tar', ['-xf', archive, '-C', extracted]);
    // Each date is the window of that date's NDVI; the maximum over them is the composite.
    const rasters = await Promise.all(names.map((n) => readGeoTiff(join(extracted, n))));
    const composite = { ...rasters[0]!, values: rasters[0]!.values.map((_, i) => rasters.reduce((m, r) => (Number.isNaN(r.values[i]!) ? m : Number.isNaN(m) ? r.values[i]! : Math.max(m, r.values[i]!)), NaN)) };
    expectWindowOf(composite, ndviMax);
  });

  it('answers a graph that computes a plain value with that value as JSON', async () => {
    const graph = {
      a: { process_id: 'add', arguments: { x: 40, y: 2 } },
      b: { process_id: 'array_create', arguments: { data: [{ from_node: 'a' }, 1.5, 'x'] }, result: true },
    };
    const response = await post(url, auth, { process: { process_graph: graph } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual([42, 1.5, 'x']);
  });

  it('answers zonal statistics (aggregate_spatial) as JSON; the means match an independent computation', async () => {
    const box = { west: -40, south: 10, east: -20, north: 30 };
    const ring = [[box.west, box.south], [box.east, box.south], [box.east, box.north], [box.west, box.north], [box.west, box.south]];
    const days = ['2012-01-01', '2012-01-02', '2012-01-03', '2012-01-04'];
    const graph = {
      load: { process_id: 'load_collection', arguments: { id: 'OISST', spatial_extent: { west: -50, south: 0, east: -10, north: 40 }, temporal_extent: [days[0], days[3]], bands: ['sst'] } },
      zonal: { process_id: 'aggregate_spatial', arguments: { data: { from_node: 'load' }, geometries: { type: 'Polygon', coordinates: [ring] }, reducer: { process_graph: { m: { process_id: 'mean', arguments: { data: { from_parameter: 'data' } }, result: true } } } } },
      save: { process_id: 'save_result', arguments: { data: { from_node: 'zonal' }, format: 'JSON' }, result: true },
    };
    const response = await post(url, auth, { process: { process_graph: graph } });
    expect(response.status, await response.clone().text()).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const document = (await response.json()) as { statistic: string; dimensions: { name: string; labels: string[] }[]; geometries: unknown[]; values: Record<string, Record<string, Record<string, number | null>>> };
    expect(document.statistic).toBe('mean');
    expect(document.dimensions.map((d) => d.name)).toEqual(['geometry', 't', 'bands']);
    expect(document.geometries).toEqual([{ type: 'Polygon', coordinates: [ring] }]);
    const dates = document.dimensions[1]!.labels;
    expect(dates).toHaveLength(3);
    for (let d = 0; d < 3; d++) {
      expect(dates[d]!.startsWith(days[d]!)).toBe(true);
      const cells = (await referenceSstMean(dataDir, box, days[d]!, days[d + 1]!)).values.filter((v) => !Number.isNaN(v));
      expect(cells.length).toBeGreaterThan(1000);
      const expected = cells.reduce((a, b) => a + b, 0) / cells.length;
      const actual = document.values['0']![dates[d]!]!['sst']!;
      expect(Math.abs(actual - expected)).toBeLessThan(1e-4 * Math.abs(expected));
    }
  });

  it('refuses a request over the size limit before running it, pointing to batch jobs', async () => {
    const process = exampleProcess('ndvi-max-composite');
    const response = await post(url, auth, { process });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { code: string; message: string };
    expect(body.code).toBe('ProcessGraphComplexity');
    expect(body.message).toContain('POST /jobs');
  });

  it('answers bad input with openEO errors', async () => {
    const noAuth = await fetch(`${url}/result`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(noAuth.status).toBe(401);
    expect(((await noAuth.json()) as { code: string }).code).toBe('AuthenticationRequired');
    const missing = await post(url, auth, {});
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { code: string }).code).toBe('ProcessGraphMissing');
    const unknown = await post(url, auth, { process: { process_graph: { n: { process_id: 'no_such_process', arguments: {}, result: true } } } });
    expect(unknown.status).toBe(400);
    const body = (await unknown.json()) as { code: string; message: string };
    expect(body.code).toBe('ProcessUnsupported');
    expect(body.message).toContain('no_such_process');
    const process = ndviWindowProcess(ndviMax, true);
    process.process_graph.load.arguments.bands = ['B04', 'B99'];
    const band = await post(url, auth, { process });
    expect(band.status).toBe(400);
    const bandError = (await band.json()) as { code: string; message: string };
    expect(bandError.code).toBe('ProcessParameterInvalid');
    expect(bandError.message).toContain('"B99"');
  });

  it('leaves no result files behind', async () => {
    const dir = join(dataDir, 'sync');
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
  });
});

/** Request timeout of one API replica of the cluster without workers (ms). */
const SHORT_TIMEOUT_MS = 1500;

describe('POST /result on a cluster without workers', () => {
  const roles: RoleProcess[] = [];
  let url: string;
  let patientUrl: string;
  let auth: string;
  let schedulerAddress: string;

  beforeAll(async () => {
    const dataDir = tempDir('sync-idle');
    await ensureSampleData(dataDir);
    const schedulerPort = await freePort();
    const apiPort = await freePort();
    schedulerAddress = `127.0.0.1:${schedulerPort}`;
    const common = { NATS_URL: '', DATA_DIR: dataDir, SCHEDULER_ADDRESS: schedulerAddress };
    const scheduler = startRole('scheduler', { ...common, SCHEDULER_PORT: String(schedulerPort), SCHEDULER_METRICS_PORT: '0' });
    roles.push(scheduler);
    await scheduler.waitForLog((l) => l.msg === 'scheduler listening');
    const patientPort = await freePort();
    // Two API replicas: one that gives up quickly, one that waits (far) longer than the tests.
    const api = startRole('api', { ...common, PORT: String(apiPort), API_HOST: '127.0.0.1', ACCOUNTS: 'alice:wonderland', SAMPLE_DATA: '0', SYNC_TIMEOUT_MS: String(SHORT_TIMEOUT_MS) }, 'api-impatient');
    const patient = startRole('api', { ...common, PORT: String(patientPort), API_HOST: '127.0.0.1', ACCOUNTS: 'alice:wonderland', SAMPLE_DATA: '0' }, 'api-patient');
    roles.push(api, patient);
    await api.waitForLog((l) => l.msg === 'openEO API listening');
    await patient.waitForLog((l) => l.msg === 'openEO API listening');
    url = `http://127.0.0.1:${apiPort}`;
    patientUrl = `http://127.0.0.1:${patientPort}`;
    auth = await login(url, 'alice', 'wonderland');
  });

  afterAll(async () => {
    await Promise.all(roles.map((r) => r.kill()));
  });

  async function schedulerJobs(): Promise<string[]> {
    const client = schedulerClient(schedulerAddress);
    try {
      const state = await new Promise<any>((resolve, reject) => client.ClusterState({ keys: [] }, (e, r) => (e ? reject(e) : resolve(r))));
      return state.jobIds as string[];
    } finally {
      client.close();
    }
  }

  async function until(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('times out with RequestTimeout and cancels the job', async () => {
    const started = Date.now();
    const response = await post(url, auth, { process: exampleProcess('sst-time-mean') });
    expect(response.status).toBe(408);
    const body = (await response.json()) as { code: string; message: string };
    expect(body.code).toBe('RequestTimeout');
    expect(body.message).toContain('batch job');
    expect(Date.now() - started).toBeGreaterThanOrEqual(SHORT_TIMEOUT_MS);
    await until(async () => (await schedulerJobs()).length === 0);
  });

  it('cancels the job when the client goes away (on a replica whose timeout is far off)', async () => {
    const abort = new AbortController();
    const pending = post(patientUrl, auth, { process: exampleProcess('sst-time-mean') }, abort.signal).catch((error: unknown) => error);
    await until(async () => (await schedulerJobs()).length === 1);
    abort.abort();
    expect(await pending).toBeInstanceOf(Error);
    await until(async () => (await schedulerJobs()).length === 0);
  });
});
