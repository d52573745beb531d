import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { OpenApiValidator } from '../helpers/openapi.js';
import { freePort, REPO_ROOT, type RoleProcess, startRole, tempDir } from '../helpers/processes.js';
import { describeWithShared } from '../helpers/shared.js';

interface Reply {
  status: number;
  body: any;
  headers: Headers;
}

describeWithShared('every endpoint listed in GET / answers as the openEO API 1.2 document says', () => {
  let embedded: RoleProcess;
  let url: string;
  let dataDir: string;
  let validator: OpenApiValidator;
  let auth: string;
  const checked = new Set<string>();

  async function call(method: string, template: string, path: string, init: RequestInit = {}, contentType?: string): Promise<Reply> {
    const response = await fetch(`${url}${path}`, { method, ...init });
    const text = await response.text();
    const type = contentType ?? response.headers.get('content-type')?.split(';')[0] ?? 'application/json';
    const body = text && type.includes('json') ? JSON.parse(text) : text;
    const errors = validator.validate(method, template, response.status, body, type);
    expect(errors, `${method} ${path} → ${response.status}: ${JSON.stringify(errors)} ${JSON.stringify(body).slice(0, 200)}`).toBeNull();
    checked.add(`${method} ${template}`);
    return { status: response.status, body, headers: response.headers };
  }

  beforeAll(async () => {
    validator = new OpenApiValidator();
    const port = await freePort();
    dataDir = tempDir('api');
    // WORKER_TIMEOUT_MS: the test holds the worker (SIGSTOP) to see jobs running; the scheduler must not drop it meanwhile.
    embedded = startRole('embedded', { PORT: String(port), DATA_DIR: dataDir, WORKERS: '1', NATS_URL: '', WORKER_TIMEOUT_MS: '120000' });
    await embedded.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('openEO back-end ready'), 120_000);
    url = `http://127.0.0.1:${port}`;
    const token = await fetch(`${url}/credentials/basic`, { headers: { Authorization: `Basic ${Buffer.from('demo:demo').toString('base64')}` } });
    auth = `Bearer basic//${((await token.json()) as { access_token: string }).access_token}`;
  });

  afterAll(async () => {
    await embedded?.kill('SIGINT');
  });

  it('serves capabilities listing only implemented endpoints, with CORS for browsers', async () => {
    const { body, headers } = await call('GET', '/', '/', { headers: { Origin: 'https://editor.openeo.org' } });
    expect(body.api_version).toBe('1.2.0');
    expect(headers.get('access-control-allow-origin')).toBe('https://editor.openeo.org');
    expect(headers.get('access-control-allow-credentials')).toBe('true');
    expect(headers.get('access-control-expose-headers')).toContain('OpenEO-Identifier');
    for (const endpoint of body.endpoints as { path: string }[]) expect(validator.paths()).toContain(endpoint.path);
    const preflight = await fetch(`${url}/jobs`, { method: 'OPTIONS', headers: { Origin: 'https://editor.openeo.org', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'Authorization, Content-Type' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
  });

  it('validates every endpoint listed in GET /, in every state', async () => {
    await call('GET', '/', '/');
    await call('GET', '/.well-known/openeo', '/.well-known/openeo');
    await call('GET', '/conformance', '/conformance');
    const formats = (await call('GET', '/file_formats', '/file_formats')).body;
    expect(Object.keys(formats.output).sort()).toEqual(['GTiff', 'JSON', 'PNG', 'Zarr', 'netCDF']);
    const collections = (await call('GET', '/collections', '/collections')).body;
    expect(collections.collections.map((c: { id: string }) => c.id).sort()).toEqual(['OISST', 'SENTINEL2_L2A']);
    for (const c of collections.collections) {
      const one = (await call('GET', '/collections/{collection_id}', `/collections/${c.id}`)).body;
      expect(one.description).toMatch(/sample/i);
      expect(one['cube:dimensions']).toBeTruthy();
    }
    await call('GET', '/collections/{collection_id}', '/collections/NOPE');
    await call('GET', '/processes', '/processes');
    await call('GET', '/credentials/basic', '/credentials/basic', { headers: { Authorization: `Basic ${Buffer.from('demo:nope').toString('base64')}` } });
    await call('GET', '/credentials/basic', '/credentials/basic', { headers: { Authorization: `Basic ${Buffer.from('demo:demo').toString('base64')}` } });
    await call('GET', '/me', '/me', { headers: { Authorization: auth } });
    await call('GET', '/me', '/me');
    const json = { Authorization: auth, 'Content-Type': 'application/json' };
    const process = JSON.parse(readFileSync(join(REPO_ROOT, 'examples', 'sst-time-mean.json'), 'utf8'));
    await call('POST', '/validation', '/validation', { method: 'POST', headers: json, body: JSON.stringify(process.process) });
    await call('POST', '/validation', '/validation', { method: 'POST', headers: json, body: JSON.stringify({ process_graph: { x: { process_id: 'nope', arguments: {}, result: true } } }) });
    // Synchronous processing: data in the response body, a plain value as JSON, errors as openEO errors.
    const ndvi = JSON.parse(readFileSync(join(REPO_ROOT, 'examples', 'ndvi-max-composite.json'), 'utf8'));
    const tiff = await call('POST', '/result', '/result', { method: 'POST', headers: json, body: JSON.stringify(ndvi) });
    expect(tiff.status).toBe(200);
    expect(tiff.headers.get('content-type')).toBe('image/tiff; application=geotiff; profile=cloud-optimized');
    const sum = await call('POST', '/result', '/result', { method: 'POST', headers: json, body: JSON.stringify({ process: { process_graph: { s: { process_id: 'sum', arguments: { data: [1, 2, 3.5] }, result: true } } } }) });
    expect(sum.body).toBe(6.5);
    expect((await call('POST', '/result', '/result', { method: 'POST', headers: json, body: JSON.stringify({ process: { process_graph: { x: { process_id: 'nope', arguments: {}, result: true } } } }) })).status).toBe(400);
    expect((await call('POST', '/result', '/result', { method: 'POST', body: '{}' })).status).toBe(401);
    const created = await call('POST', '/jobs', '/jobs', { method: 'POST', headers: json, body: JSON.stringify(process) });
    expect(created.status).toBe(201);
    const id = created.headers.get('openeo-identifier')!;
    expect(created.headers.get('location')).toBe(`${url}/jobs/${id}`);
    await call('GET', '/jobs', '/jobs', { headers: { Authorization: auth } });
    await call('GET', '/jobs/{job_id}', `/jobs/${id}`, { headers: { Authorization: auth } });
    await call('GET', '/jobs/{job_id}/logs', `/jobs/${id}/logs`, { headers: { Authorization: auth } });
    await call('GET', '/jobs/{job_id}/results', `/jobs/${id}/results`, { headers: { Authorization: auth } });
    await call('GET', '/jobs/{job_id}/results', `/jobs/${id}/results?partial=true`, { headers: { Authorization: auth } });
    const estimate = (await call('GET', '/jobs/{job_id}/estimate', `/jobs/${id}/estimate`, { headers: { Authorization: auth } })).body;
    expect(estimate.costs).toBe(0);
    await call('GET', '/jobs/{job_id}/estimate', '/jobs/j-none/estimate', { headers: { Authorization: auth } });
    await call('PATCH', '/jobs/{job_id}', `/jobs/${id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ title: 'renamed' }) });
    await call('POST', '/jobs/{job_id}/results', `/jobs/${id}/results`, { method: 'POST', headers: { Authorization: auth } });
    await call('PATCH', '/jobs/{job_id}', `/jobs/${id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ title: 'while running' }) });
    let status = '';
    for (let i = 0; i < 120 && status !== 'finished'; i++) {
      status = (await call('GET', '/jobs/{job_id}', `/jobs/${id}`, { headers: { Authorization: auth } })).body.status;
      if (status === 'error') throw new Error('job failed');
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe('finished');
    const results = (await call('GET', '/jobs/{job_id}/results', `/jobs/${id}/results`, { headers: { Authorization: auth } })).body;
    const asset = Object.values(results.assets as Record<string, { href: string }>)[0]!;
    const download = await fetch(asset.href);
    expect(download.status).toBe(200);
    const ranged = await fetch(asset.href, { headers: { Range: 'bytes=0-7' } });
    expect(ranged.status).toBe(206);
    expect(new Uint8Array(await ranged.arrayBuffer())).toEqual(new Uint8Array((await download.arrayBuffer()).slice(0, 8)));
    await call('GET', '/jobs/{job_id}/logs', `/jobs/${id}/logs?level=info&limit=2`, { headers: { Authorization: auth } });
    await call('DELETE', '/jobs/{job_id}/results', `/jobs/${id}/results`, { method: 'DELETE', headers: { Authorization: auth } });
    await call('DELETE', '/jobs/{job_id}', `/jobs/${id}`, { method: 'DELETE', headers: { Authorization: auth } });
    await call('GET', '/jobs/{job_id}', `/jobs/${id}`, { headers: { Authorization: auth } });
  });

  /** Worker processes of the embedded run (its children), from their log lines. */
  const workerPids = (): number[] => [...new Set(embedded.logs.filter((l) => l.msg === 'connected to the scheduler').map((l) => Number(l.pid)))];

  async function waitFor(id: string, done: (status: string) => boolean): Promise<string> {
    for (let i = 0; i < 600; i++) {
      const { status } = (await call('GET', '/jobs/{job_id}', `/jobs/${id}`, { headers: { Authorization: auth } })).body;
      if (done(status)) return status;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`job ${id} did not get there`);
  }

  it('validates jobs, logs, estimates and results in every state and for every format', async () => {
    const json = { Authorization: auth, 'Content-Type': 'application/json' };
    const example = JSON.parse(readFileSync(join(REPO_ROOT, 'examples', 'sst-time-mean.json'), 'utf8'));
    const small = { west: -20, south: 30, east: -10, north: 40 };
    const processFor = (format: string, options: Record<string, unknown> = {}, box = small): Record<string, any> => {
      const process = structuredClone(example.process);
      process.process_graph.load.arguments.spatial_extent = box;
      process.process_graph.save.arguments.format = format;
      process.process_graph.save.arguments.options = options;
      return process;
    };
    const create = async (process: Record<string, unknown>): Promise<string> => {
      const created = await call('POST', '/jobs', '/jobs', { method: 'POST', headers: json, body: JSON.stringify({ process, title: 'states' }) });
      expect(created.status).toBe(201);
      return created.headers.get('openeo-identifier')!;
    };
    const auth1 = { headers: { Authorization: auth } };

    // created: no logs, results neither final nor partial. (Its own extent: work canceled on a
    // held worker is not what the finished jobs below should share.)
    const id = await create(processFor('GTiff', {}, { west: -40, south: 30, east: -30, north: 40 }));
    expect((await call('GET', '/jobs/{job_id}/logs', `/jobs/${id}/logs`, auth1)).body.logs).toEqual([]);
    expect((await call('GET', '/jobs/{job_id}/results', `/jobs/${id}/results?partial=true`, auth1)).body.code).toBe('JobNotStarted');

    // running (the worker is held): partial results with their status, logs, a locked job
    const workers = workerPids();
    for (const pid of workers) process.kill(pid, 'SIGSTOP');
    try {
      await call('POST', '/jobs/{job_id}/results', `/jobs/${id}/results`, { method: 'POST', headers: { Authorization: auth } });
      await waitFor(id, (s) => s === 'running');
      const partial = (await call('GET', '/jobs/{job_id}/results', `/jobs/${id}/results?partial=true`, auth1)).body;
      expect(partial.properties['openeo:status']).toBe('running');
      expect((await call('GET', '/jobs/{job_id}/results', `/jobs/${id}/results`, auth1)).body.code).toBe('JobNotFinished');
      await call('GET', '/jobs/{job_id}/logs', `/jobs/${id}/logs`, auth1);
      await call('GET', '/jobs/{job_id}/estimate', `/jobs/${id}/estimate`, auth1);
      expect((await call('PATCH', '/jobs/{job_id}', `/jobs/${id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ title: 'locked' }) })).body.code).toBe('JobLocked');
      // canceled, while it runs
      await call('DELETE', '/jobs/{job_id}/results', `/jobs/${id}/results`, { method: 'DELETE', headers: { Authorization: auth } });
      expect(await waitFor(id, (s) => s !== 'running')).toBe('canceled');
      const canceled = (await call('GET', '/jobs/{job_id}/results', `/jobs/${id}/results?partial=true`, auth1)).body;
      expect(canceled.properties['openeo:status']).toBe('canceled');
      expect((await call('GET', '/jobs/{job_id}/logs', `/jobs/${id}/logs`, auth1)).body.logs.pop().message).toBe('job canceled by the user');
    } finally {
      for (const pid of workers) process.kill(pid, 'SIGCONT');
    }

    // finished, in every format: the results document of each validates
    const formats: [string, Record<string, unknown>][] = [['GTiff', {}], ['netCDF', {}], ['Zarr', { chunk_size: 64 }], ['JSON', {}], ['PNG', { colormap: 'rdylgn', max_size: 256 }]];
    for (const [format, options] of formats) {
      const job = await create(processFor(format, options));
      await call('GET', '/jobs/{job_id}/estimate', `/jobs/${job}/estimate`, auth1);
      await call('POST', '/jobs/{job_id}/results', `/jobs/${job}/results`, { method: 'POST', headers: { Authorization: auth } });
      expect(await waitFor(job, (s) => s === 'finished' || s === 'error')).toBe('finished');
      const results = (await call('GET', '/jobs/{job_id}/results', `/jobs/${job}/results`, auth1)).body;
      expect(results.properties['openeo:status']).toBe('finished');
      const assets = Object.values(results.assets as Record<string, Record<string, unknown>>);
      expect(assets).toHaveLength(1);
      for (const key of ['href', 'type', 'roles', 'file:size', 'proj:epsg', 'proj:shape', 'proj:transform']) expect(assets[0]![key], `${format}: ${key}`).toBeDefined();
      if (format !== 'PNG') expect((assets[0]!['raster:bands'] as { statistics: unknown }[])[0]!.statistics, format).toBeTruthy();
      await call('GET', '/jobs/{job_id}/results', `/jobs/${job}/results?partial=true`, auth1);
      await call('GET', '/jobs/{job_id}/logs', `/jobs/${job}/logs?level=info`, auth1);
    }

    // error: input data broken on disk
    const source = JSON.parse(readFileSync(join(dataDir, 'collections', 'OISST', 'source.json'), 'utf8'));
    const store = join(dataDir, source.store, source.array);
    for (const chunk of readdirSync(join(store, 'c'), { recursive: true }) as string[]) {
      const path = join(store, 'c', chunk);
      if (statSync(path).isFile()) writeFileSync(path, 'not a chunk');
    }
    const failing = await create(processFor('netCDF'));
    await call('POST', '/jobs/{job_id}/results', `/jobs/${failing}/results`, { method: 'POST', headers: { Authorization: auth } });
    expect(await waitFor(failing, (s) => s === 'finished' || s === 'error')).toBe('error');
    const failed = await call('GET', '/jobs/{job_id}/results', `/jobs/${failing}/results`, auth1);
    expect(failed.status).toBe(424);
    await call('GET', '/jobs/{job_id}/results', `/jobs/${failing}/results?partial=true`, auth1);
    const errors = (await call('GET', '/jobs/{job_id}/logs', `/jobs/${failing}/logs?level=error`, auth1)).body.logs;
    expect(errors).toHaveLength(1);
    await call('GET', '/jobs/{job_id}/estimate', `/jobs/${failing}/estimate`, auth1);
  });

  it('exercised every endpoint and method GET / lists', async () => {
    const capabilities = (await call('GET', '/', '/')).body;
    for (const endpoint of capabilities.endpoints as { path: string; methods: string[] }[]) {
      for (const method of endpoint.methods) expect(checked, `${method} ${endpoint.path} was not checked`).toContain(`${method} ${endpoint.path}`);
    }
  });
});
