import { mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJob, download, exampleProcess, jobLogs, login, request, runToResults, startJob, waitForJob } from '../helpers/job-api.js';
import { freePort, type RoleProcess, startRole, tempDir } from '../helpers/processes.js';

/**
 * Result links, partial results, estimates and job logs through every state, on the embedded
 * default with links that live two seconds.
 */

const LINK_LIFETIME_SECONDS = 2;
const isEnd = (status: string): boolean => ['finished', 'error', 'canceled'].includes(status);

describe('result links, partial results, estimates and logs', () => {
  let embedded: RoleProcess;
  let url: string;
  let dataDir: string;
  let auth: string;

  /** The embedded run's worker processes (its children), from their log lines. */
  const workers = (): number[] => {
    return [...new Set(embedded.logs.filter((l) => l.msg === 'connected to the scheduler').map((l) => Number(l.pid)))].filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
  };
  const signal = (pids: number[], name: NodeJS.Signals): void => pids.forEach((pid) => process.kill(pid, name));

  beforeAll(async () => {
    dataDir = tempDir('links');
    const port = await freePort();
    embedded = startRole('embedded', { PORT: String(port), DATA_DIR: dataDir, WORKERS: '2', NATS_URL: '', RESULT_LINK_LIFETIME_SECONDS: String(LINK_LIFETIME_SECONDS), WORKER_TIMEOUT_MS: '120000' });
    await embedded.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('openEO back-end ready'), 120_000);
    await embedded.waitForLog(() => embedded.logs.filter((l) => l.msg === 'connected to the scheduler').length >= 2);
    url = `http://127.0.0.1:${port}`;
    auth = await login(url, 'demo', 'demo');
  });

  afterAll(async () => {
    signal(workers(), 'SIGCONT');
    await embedded?.kill('SIGINT');
  });

  it('answers range requests with 206 and the right bytes; expired links with 410 ResultLinkExpired', async () => {
    const { id, results } = await runToResults(url, auth, exampleProcess('ndvi-max-composite', 'GTiff'));
    const asset = results.assets['result.tif'];
    const whole = await download(asset.href);
    const file = readFileSync(join(dataDir, 'jobs', id, 'results', 'r1', 'result.tif'));
    expect(Buffer.from(whole).equals(file)).toBe(true);

    const ranged = await fetch(asset.href, { headers: { Range: 'bytes=100-1123' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 100-1123/${file.byteLength}`);
    expect(ranged.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await ranged.arrayBuffer()).equals(file.subarray(100, 1124))).toBe(true);
    const suffix = await fetch(asset.href, { headers: { Range: 'bytes=-16' } });
    expect(suffix.status).toBe(206);
    expect(Buffer.from(await suffix.arrayBuffer()).equals(file.subarray(file.byteLength - 16))).toBe(true);
    const beyond = await fetch(asset.href, { headers: { Range: `bytes=${file.byteLength + 10}-` } });
    expect(beyond.status).toBe(416);
    // A link works without a token and names the file; its signature covers the file name.
    expect(new URL(asset.href).pathname.endsWith('/result.tif')).toBe(true);
    const forged = await fetch(asset.href.replace(/result\.tif$/, 'other.tif'));
    expect(forged.status).toBe(403);

    const canonical = results.links.find((l: { rel: string }) => l.rel === 'canonical').href;
    expect((await request(canonical, '')).body.assets['result.tif']).toBeTruthy();
    expect(Date.parse(results.properties.expires)).toBeLessThanOrEqual(Date.now() + LINK_LIFETIME_SECONDS * 1000);
    await new Promise((resolve) => setTimeout(resolve, (LINK_LIFETIME_SECONDS + 1.2) * 1000));
    for (const href of [asset.href, canonical]) {
      const expired = await request(href, '');
      expect(expired.status).toBe(410);
      expect(expired.body.code).toBe('ResultLinkExpired');
    }
    // Asking again gives fresh links.
    const fresh = (await request(url, `/jobs/${id}/results`, { headers: { Authorization: auth } })).body;
    expect((await download(fresh.assets['result.tif'].href)).byteLength).toBe(file.byteLength);
  });

  it('lists partial results of a running job (files already written, or none) with openeo:status, and logs in every state', async () => {
    const id = await createJob(url, auth, exampleProcess('ndvi-max-composite', 'GTiff'));
    expect(await jobLogs(url, auth, id)).toEqual([]);
    let reply = await request(url, `/jobs/${id}/results?partial=true`, { headers: { Authorization: auth } });
    expect([reply.status, reply.body.code]).toEqual([400, 'JobNotStarted']);

    const paused = workers();
    signal(paused, 'SIGSTOP');
    try {
      await startJob(url, auth, id);
      const queuedLogs = await jobLogs(url, auth, id);
      expect(queuedLogs.every((l) => /^running \d+ tasks$/.test(l.message))).toBe(true);
      await waitForJob(url, auth, id, (s) => s === 'running');
      reply = await request(url, `/jobs/${id}/results`, { headers: { Authorization: auth } });
      expect([reply.status, reply.body.code]).toEqual([400, 'JobNotFinished']);
      reply = await request(url, `/jobs/${id}/results?partial=true`, { headers: { Authorization: auth } });
      expect(reply.status).toBe(200);
      expect(reply.body.properties['openeo:status']).toBe('running');
      expect(reply.body.assets).toEqual({});
      // A file the run has written (writers publish complete files under their final name) is listed and served.
      const dir = join(dataDir, 'jobs', id, 'results', 'r1');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'early.json'), '[1, 2, 3]');
      writeFileSync(join(dir, '.result.tif.999-abcd.partial'), 'half a file');
      reply = await request(url, `/jobs/${id}/results?partial`, { headers: { Authorization: auth } });
      expect(Object.keys(reply.body.assets)).toEqual(['early.json']);
      expect(reply.body.assets['early.json']['file:size']).toBe(9);
      expect(JSON.parse(new TextDecoder().decode(await download(reply.body.assets['early.json'].href)))).toEqual([1, 2, 3]);
      const running = await jobLogs(url, auth, id);
      expect(running.map((l) => l.message)).toEqual([expect.stringMatching(/^running \d+ tasks$/)]);
    } finally {
      signal(paused, 'SIGCONT');
    }
    const job = await waitForJob(url, auth, id);
    expect(job.status).toBe('finished');
    reply = await request(url, `/jobs/${id}/results?partial=true`, { headers: { Authorization: auth } });
    expect(reply.body.properties['openeo:status']).toBe('finished');
    expect(Object.keys(reply.body.assets)).toEqual(['result.tif']);
    const logs = await jobLogs(url, auth, id);
    expect(logs[logs.length - 1]!.message).toBe('finished: 1 file(s) written');
    const debug = await jobLogs(url, auth, id, '?level=warning');
    expect(debug).toEqual([]);
  });

  it('logs a cancel, and a worker lost in the middle once, while the job still finishes', async () => {
    const canceled = await createJob(url, auth, exampleProcess('sst-time-mean', 'netCDF'));
    const paused = workers();
    expect(paused.length).toBe(2);
    signal(paused, 'SIGSTOP');
    let id = '';
    try {
      await startJob(url, auth, canceled);
      await waitForJob(url, auth, canceled, (s) => s === 'running');
      expect((await request(url, `/jobs/${canceled}/results`, { method: 'DELETE', headers: { Authorization: auth } })).status).toBe(204);
      expect((await jobLogs(url, auth, canceled)).map((l) => l.message).pop()).toBe('job canceled by the user');

      id = await createJob(url, auth, exampleProcess('ndvi-max-composite', 'GTiff'));
      await startJob(url, auth, id);
      await waitForJob(url, auth, id, (s) => s === 'running');
      process.kill(paused[0]!, 'SIGKILL');
    } finally {
      signal(paused.slice(1), 'SIGCONT');
    }
    const job = await waitForJob(url, auth, id);
    expect(job.status).toBe('finished');
    const warnings = await jobLogs(url, auth, id, '?level=warning');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/^worker worker-\d left \(.*\); its tasks are being redone on other workers$/);
    await embedded.waitForLog(() => workers().length >= 2, 30_000);
  });

  it('estimates size (an upper limit) and duration from the compiled graph, at no cost', async () => {
    const id = await createJob(url, auth, exampleProcess('ndvi-max-composite', 'GTiff'));
    const estimate = (await request(url, `/jobs/${id}/estimate`, { headers: { Authorization: auth } })).body;
    expect(estimate.costs).toBe(0);
    expect(estimate.duration).toMatch(/^PT(\d+H)?(\d+M)?(\d+S)?$/);
    expect(Date.parse(estimate.expires)).toBeGreaterThan(Date.now());
    await startJob(url, auth, id);
    await waitForJob(url, auth, id);
    const results = (await request(url, `/jobs/${id}/results`, { headers: { Authorization: auth } })).body;
    const written = results.assets['result.tif']['file:size'];
    expect(estimate.size).toBeGreaterThanOrEqual(written);
    // An upper limit, not a wild one: the float32 pixels with overviews, plus headers.
    expect(estimate.size).toBeLessThan(1536 * 1536 * 4 * 1.5);
  });

  it('fails a job reading broken input with 424 and one concise log entry, never a stack trace', async () => {
    const source = JSON.parse(readFileSync(join(dataDir, 'collections', 'SENTINEL2_L2A', 'source.json'), 'utf8'));
    truncateSync(join(dataDir, source.items[2].assets.B08.href), 4096);
    const id = await createJob(url, auth, exampleProcess('ndvi-max-composite', 'GTiff'));
    await startJob(url, auth, id);
    const job = await waitForJob(url, auth, id, isEnd);
    expect(job.status).toBe('error');
    const results = await request(url, `/jobs/${id}/results`, { headers: { Authorization: auth } });
    expect(results.status).toBe(424);
    const errors = await jobLogs(url, auth, id, '?level=error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toBe(results.body.message);
    expect(errors[0]!.message).not.toMatch(/\n|\bat .*\.js:\d+/);
    expect(errors[0]!.message.length).toBeLessThanOrEqual(500);
    // Paths on the server are shown relative to its data folder.
    expect(errors[0]!.message).not.toContain(dataDir);
    expect(errors[0]!.message).toMatch(/S2A_32TNT_20200613_0_L2A\/B08\.tif/);
    console.log(`[broken input] ${errors[0]!.code ?? ''} ${errors[0]!.message}`);
  });
});
