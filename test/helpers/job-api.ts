import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, requireBinary } from './processes.js';

/**
 * Plain HTTP helpers for job tests (no client library): log in, submit a process, wait for an
 * end state, fetch results; and GDAL's command-line tools as independent readers.
 */

export interface Reply {
  status: number;
  body: any;
  headers: Headers;
}

export async function request(url: string, path: string, init: RequestInit = {}): Promise<Reply> {
  const response = await fetch(`${url}${path}`, init);
  const text = await response.text();
  let body: unknown = text;
  if (text && (response.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text);
  return { status: response.status, body, headers: response.headers };
}

export async function login(url: string, user: string, password: string): Promise<string> {
  const { body } = await request(url, '/credentials/basic', { headers: { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } });
  return `Bearer basic//${body.access_token}`;
}

/** An example process (`examples/<name>.json`) saving in `format` with `options`. */
export function exampleProcess(name: string, format?: string, options?: Record<string, unknown>): Record<string, any> {
  const process = JSON.parse(readFileSync(join(REPO_ROOT, 'examples', `${name}.json`), 'utf8')).process;
  if (format) process.process_graph.save.arguments.format = format;
  if (options) process.process_graph.save.arguments.options = options;
  return process;
}

/** Creates a job; returns its id. */
export async function createJob(url: string, auth: string, process: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<string> {
  const reply = await request(url, '/jobs', { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ process, ...extra }) });
  if (reply.status !== 201) throw new Error(`job not created: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.headers.get('openeo-identifier')!;
}

export async function startJob(url: string, auth: string, id: string): Promise<void> {
  const reply = await request(url, `/jobs/${id}/results`, { method: 'POST', headers: { Authorization: auth } });
  if (reply.status !== 202) throw new Error(`job not started: ${reply.status} ${JSON.stringify(reply.body)}`);
}

export async function jobStatus(url: string, auth: string, id: string): Promise<Record<string, any>> {
  return (await request(url, `/jobs/${id}`, { headers: { Authorization: auth } })).body;
}

/** Polls until the job's status satisfies `done` (default: an end state); returns the job. */
export async function waitForJob(url: string, auth: string, id: string, done: (status: string) => boolean = (s) => ['finished', 'error', 'canceled'].includes(s), timeoutMs = 120_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let job: Record<string, any> | null = null;
    try {
      job = await jobStatus(url, auth, id);
    } catch {
      // The API may be restarting.
    }
    if (job && done(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} is still ${job?.status ?? 'unreachable'} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export async function jobLogs(url: string, auth: string, id: string, query = ''): Promise<{ id: string; level: string; message: string; code?: string }[]> {
  return (await request(url, `/jobs/${id}/logs${query}`, { headers: { Authorization: auth } })).body.logs;
}

/** Creates, starts and waits for a job; fails with its logs unless it finishes. Returns the results document. */
export async function runToResults(url: string, auth: string, process: Record<string, unknown>): Promise<{ id: string; results: Record<string, any> }> {
  const id = await createJob(url, auth, process);
  await startJob(url, auth, id);
  const job = await waitForJob(url, auth, id);
  if (job.status !== 'finished') throw new Error(`job ${id} ended ${job.status}: ${(await jobLogs(url, auth, id)).map((l) => l.message).join(' | ')}`);
  const results = await request(url, `/jobs/${id}/results`, { headers: { Authorization: auth } });
  if (results.status !== 200) throw new Error(`results of ${id}: ${results.status} ${JSON.stringify(results.body)}`);
  return { id, results: results.body };
}

export async function download(href: string): Promise<Uint8Array> {
  const response = await fetch(href);
  if (response.status !== 200) throw new Error(`download of ${href}: ${response.status} ${await response.text()}`);
  return new Uint8Array(await response.arrayBuffer());
}

export const GDAL_INSTALL = 'apt-get install -y gdal-bin';

/** `gdalinfo -json` of a dataset (a path, `/vsicurl/` URL or `NETCDF:"file":var`). */
export function gdalinfo(dataset: string, ...flags: string[]): Record<string, any> {
  const binary = requireBinary('gdalinfo', GDAL_INSTALL);
  return JSON.parse(execFileSync(binary, ['-json', ...flags, dataset], { encoding: 'utf8', env: { ...process.env, ...GDAL_REMOTE_OPTIONS } }));
}

/**
 * GDAL settings for signed links: a link opens one file only, so GDAL must not probe for
 * sidecar files (.aux.xml, .ovr) next to it, which the server rightly refuses.
 */
export const GDAL_REMOTE_OPTIONS = { GDAL_DISABLE_READDIR_ON_OPEN: 'EMPTY_DIR', CPL_VSIL_CURL_ALLOWED_EXTENSIONS: '.tif,.nc,.png,.zip,.json' };

/** Values at pixel (column, row) of band 1, read by gdallocationinfo; NaN for no-data. */
export function gdalValues(dataset: string, pixels: [number, number][]): number[] {
  const binary = requireBinary('gdallocationinfo', GDAL_INSTALL);
  const input = pixels.map(([c, r]) => `${c} ${r}`).join('\n');
  const out = execFileSync(binary, ['-valonly', '-b', '1', dataset], { input, encoding: 'utf8' });
  return out
    .trim()
    .split('\n')
    .map((line) => (line.trim() === '' || /nan/i.test(line) ? NaN : Number(line)));
}

/** Evenly spread pixels of a width x height grid (a deterministic sample). */
export function samplePixels(width: number, height: number, count: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < count; i++) out.push([Math.floor(((i * 7919) % 1000) / 1000 * width), Math.floor((i / count) * height)]);
  return out;
}

/** Population statistics of the finite values, as the results' `raster:bands` report them. */
export function referenceStatistics(values: ArrayLike<number>): { minimum: number; maximum: number; mean: number; stddev: number; valid_percent: number } {
  let n = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    n++;
    sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = sum / n;
  let m2 = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]!)) m2 += (values[i]! - mean) ** 2;
  return { minimum: min, maximum: max, mean, stddev: Math.sqrt(m2 / n), valid_percent: (100 * n) / values.length };
}
