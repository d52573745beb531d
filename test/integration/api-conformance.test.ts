import { readFileSync } from 'node:fs';
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
    embedded = startRole('embedded', { PORT: String(port), DATA_DIR: tempDir('api'), WORKERS: '1', NATS_URL: '' });
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
    const capabilities = (await call('GET', '/', '/')).body;
    await call('GET', '/.well-known/openeo', '/.well-known/openeo');
    await call('GET', '/conformance', '/conformance');
    const formats = (await call('GET', '/file_formats', '/file_formats')).body;
    expect(Object.keys(formats.output).sort()).toEqual(['GTiff', 'netCDF']);
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
    const created = await call('POST', '/jobs', '/jobs', { method: 'POST', headers: json, body: JSON.stringify(process) });
    expect(created.status).toBe(201);
    const id = created.headers.get('openeo-identifier')!;
    expect(created.headers.get('location')).toBe(`${url}/jobs/${id}`);
    await call('GET', '/jobs', '/jobs', { headers: { Authorization: auth } });
    await call('GET', '/jobs/{job_id}', `/jobs/${id}`, { headers: { Authorization: auth } });
    await call('GET', '/jobs/{job_id}/logs', `/jobs/${id}/logs`, { headers: { Authorization: auth } });
    await call('GET', '/jobs/{job_id}/results', `/jobs/${id}/results`, { headers: { Authorization: auth } });
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
    // Every listed endpoint and method was exercised.
    for (const endpoint of capabilities.endpoints as { path: string; methods: string[] }[]) {
      for (const method of endpoint.methods) expect(checked, `${method} ${endpoint.path} was not checked`).toContain(`${method} ${endpoint.path}`);
    }
  });
});
