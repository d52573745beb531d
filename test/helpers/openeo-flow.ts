import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OpenEO } from '@openeo/js-client';
import { expect } from 'vitest';
// The example script is the flow users run; the tests drive exactly it.
import { buildNdviProcess, runBatchJob } from '../../examples/js-client-ndvi.mjs';
import { readGeoTiff, readNetcdfVariable, referenceNdvi, referenceSstMean } from './independent.js';

/** Agreement required between the back-end's float32 results and the float64 references. */
export const VALUE_TOLERANCE = 1e-6;

export const SAMPLE_NDVI_RANGE = ['2020-06-01', '2020-07-01'] as const;
export const SST_BOX = { west: -80, south: 0, east: 0, north: 60 };

export async function connect(url: string, user: string, password: string): Promise<any> {
  const connection = await OpenEO.connect(url);
  await connection.authenticateBasic(user, password);
  return connection;
}

/** NDVI max composite through the js-client; the GeoTIFF must equal the reference pixel by pixel. */
export async function checkNdviFlow(url: string, user: string, password: string, dataDir: string, outDir: string): Promise<{ seconds: number; jobId: string }> {
  const connection = await connect(url, user, password);
  const ndvi = await buildNdviProcess(connection, { temporalExtent: [...SAMPLE_NDVI_RANGE] });
  const progress: number[] = [];
  const started = Date.now();
  mkdirSync(outDir, { recursive: true });
  const { job, files } = await runBatchJob(connection, ndvi, { title: 'ndvi test', outDir, onStatus: (info: { progress?: number }) => progress.push(info.progress ?? 0) });
  const seconds = (Date.now() - started) / 1000;
  expect(job.status).toBe('finished');
  expect(job.progress).toBe(100);
  const tif = (files as string[]).find((f) => f.endsWith('.tif')) ?? join(outDir, readdirSync(outDir).find((f) => f.endsWith('.tif'))!);
  const result = await readGeoTiff(tif);
  const reference = await referenceNdvi(dataDir, `${SAMPLE_NDVI_RANGE[0]}T00:00:00Z`, `${SAMPLE_NDVI_RANGE[1]}T00:00:00Z`, 'max');
  expect([result.width, result.height]).toEqual([reference.width, reference.height]);
  expect(result.epsg).toBe(reference.epsg);
  expect(result.origin.slice(0, 2)).toEqual(reference.origin.slice(0, 2));
  expect(result.resolution.slice(0, 2)).toEqual(reference.resolution.slice(0, 2));
  let valid = 0;
  let worst = 0;
  for (let i = 0; i < reference.values.length; i++) {
    const expected = reference.values[i]!;
    const actual = result.values[i]!;
    if (Number.isNaN(expected)) {
      expect(Number.isNaN(actual), `pixel ${i} should be no-data`).toBe(true);
      continue;
    }
    valid++;
    worst = Math.max(worst, Math.abs(actual - expected));
  }
  expect(valid).toBeGreaterThan(reference.values.length / 2);
  expect(worst).toBeLessThanOrEqual(VALUE_TOLERANCE);
  // Progress is real: monotonic, within 0..100.
  for (let i = 1; i < progress.length; i++) expect(progress[i]!).toBeGreaterThanOrEqual(progress[i - 1]!);
  return { seconds, jobId: job.id };
}

/** SST time mean over a North-Atlantic box through the js-client; the NetCDF must equal the reference cell by cell. */
export async function checkSstFlow(url: string, user: string, password: string, dataDir: string, outDir: string): Promise<{ seconds: number }> {
  const connection = await connect(url, user, password);
  const builder = await connection.buildProcess();
  const cube = builder.load_collection('OISST', SST_BOX, ['2012-01-01', '2012-02-01'], ['sst']);
  const mean = builder.reduce_dimension(cube, function (this: any, data: unknown) { return this.mean(data); }, 't');
  const saved = builder.save_result(mean, 'netCDF');
  const started = Date.now();
  mkdirSync(outDir, { recursive: true });
  const { job } = await runBatchJob(connection, saved, { title: 'sst test', outDir });
  const seconds = (Date.now() - started) / 1000;
  expect(job.status).toBe('finished');
  const nc = join(outDir, readdirSync(outDir).find((f) => f.endsWith('.nc'))!);
  const result = await readNetcdfVariable(nc, 'sst');
  const reference = await referenceSstMean(dataDir, SST_BOX, '2012-01-01', '2012-02-01');
  expect(Array.from(result.dims.lat!)).toEqual(reference.lat);
  expect(Array.from(result.dims.lon!)).toEqual(reference.lon);
  expect(result.values.length).toBe(reference.values.length);
  let worst = 0;
  let valid = 0;
  for (let i = 0; i < reference.values.length; i++) {
    const expected = reference.values[i]!;
    const actual = result.values[i]!;
    if (Number.isNaN(expected)) {
      expect(Number.isNaN(actual), `cell ${i} should be no-data`).toBe(true);
      continue;
    }
    valid++;
    worst = Math.max(worst, Math.abs(actual - expected));
  }
  expect(valid).toBeGreaterThan(1000);
  expect(worst).toBeLessThanOrEqual(VALUE_TOLERANCE);
  return { seconds };
}

async function call(url: string, path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}${path}`, init);
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

export async function token(url: string, user: string, password: string): Promise<string> {
  const { body } = await call(url, '/credentials/basic', { headers: { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } });
  return `Bearer basic//${body.access_token}`;
}

function jobBody(graph: Record<string, unknown>): string {
  return JSON.stringify({ title: 'bad input', process: { process_graph: graph } });
}

/** Bad input gets the openEO error and status; nothing crashes. */
export async function checkBadInput(url: string, alice: [string, string], bob: [string, string] | null): Promise<void> {
  const auth = await token(url, ...alice);
  const headers = { Authorization: auth, 'Content-Type': 'application/json' };
  const load = (id: string) => ({ process_id: 'load_collection', arguments: { id, spatial_extent: null, temporal_extent: null }, result: true });

  let r = await call(url, '/jobs', { method: 'POST', headers, body: jobBody({ load: load('NO_SUCH_COLLECTION') }) });
  expect(r.status).toBe(404);
  expect(r.body.code).toBe('CollectionNotFound');

  r = await call(url, '/jobs', { method: 'POST', headers, body: jobBody({ x: { process_id: 'no_such_process', arguments: {}, result: true } }) });
  expect(r.status).toBe(400);
  expect(r.body.code).toBe('ProcessUnsupported');
  expect(r.body.message).toContain('"x"');

  r = await call(url, '/jobs', { method: 'POST', headers, body: jobBody({ load: { process_id: 'load_collection', arguments: { spatial_extent: null, temporal_extent: null }, result: true } }) });
  expect(r.status).toBe(400);
  expect(r.body.code).toBe('ProcessParameterMissing');
  expect(r.body.message).toContain('"id"');

  r = await call(url, '/jobs', { method: 'POST', headers, body: '{"process": {"process_graph": ' });
  expect(r.status).toBe(400);
  expect(typeof r.body.code).toBe('string');

  r = await call(url, '/jobs', { method: 'GET' });
  expect(r.status).toBe(401);
  expect(r.body.code).toBe('AuthenticationRequired');

  r = await call(url, '/jobs', { headers: { Authorization: 'Bearer basic//forged.token' } });
  expect(r.status).toBe(403);
  expect(r.body.code).toBe('TokenInvalid');

  r = await call(url, '/credentials/basic', { headers: { Authorization: `Basic ${Buffer.from(`${alice[0]}:wrong`).toString('base64')}` } });
  expect(r.status).toBe(403);
  expect(r.body.code).toBe('CredentialsInvalid');

  // A job is created, and another user cannot see or touch it.
  r = await call(url, '/jobs', { method: 'POST', headers, body: jobBody({ load: load('OISST') }) });
  expect(r.status).toBe(201);
  const list = await call(url, '/jobs', { headers });
  const mine = list.body.jobs.find((j: { title: string }) => j.title === 'bad input');
  expect(mine).toBeTruthy();
  if (bob) await checkIsolation(url, mine.id, bob);

  // The service still answers.
  expect((await call(url, '/')).status).toBe(200);
}

async function checkIsolation(url: string, jobId: string, bob: [string, string]): Promise<void> {
  const mine = { id: jobId };
  const bobAuth = await token(url, ...bob);
  const other = await call(url, `/jobs/${mine.id}`, { headers: { Authorization: bobAuth } });
  expect(other.status).toBe(404);
  expect(other.body.code).toBe('JobNotFound');
  const bobList = await call(url, '/jobs', { headers: { Authorization: bobAuth } });
  expect(bobList.body.jobs.some((j: { id: string }) => j.id === mine.id)).toBe(false);
  expect((await call(url, `/jobs/${mine.id}/results`, { method: 'POST', headers: { Authorization: bobAuth } })).status).toBe(404);
  expect((await call(url, `/jobs/${mine.id}`, { method: 'DELETE', headers: { Authorization: bobAuth } })).status).toBe(404);
}
