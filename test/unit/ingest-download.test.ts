import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ingestConfig, parseIngestCredentials } from '../../common/config.js';
import { ConfigError } from '../../common/errors.js';
import { backoffDelay, RETRY_MAX_DELAY_MS } from '../../ingest/download/backoff.js';
import { parseMultihash } from '../../ingest/download/checksum.js';
import type { Clock } from '../../ingest/download/clock.js';
import { authorizationFor, redactUrl } from '../../ingest/download/credentials.js';
import { downloadFile, PART_META_SUFFIX, PART_SUFFIX } from '../../ingest/download/download-file.js';
import { downloadAll, downloadInOrder } from '../../ingest/download/download-queue.js';
import { httpRequest } from '../../ingest/download/http-client.js';
import { LogProgress, ProgressTally } from '../../ingest/download/progress.js';
import { isIngestError, storageError, type IngestError } from '../../ingest/ingest-error.js';
import { startFakeProviders, type FakeProviders } from '../helpers/fake-providers.js';
import { tempDir } from '../helpers/processes.js';
import { describeWithShared, sharedPath } from '../helpers/shared.js';

/** A clock whose sleeps return at once and only advance its time: retries run in microseconds, the delays are recorded. */
function fakeClock(): Clock & { slept: number[] } {
  let now = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

async function failure(promise: Promise<unknown>): Promise<IngestError> {
  try {
    await promise;
  } catch (error) {
    if (isIngestError(error)) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describe('ingest configuration and download helpers', () => {
  it('parses INGEST_AUTH without ever repeating a secret in its errors', () => {
    expect(parseIngestCredentials('Data.Example.com=bearer:abc  127.0.0.1:8080=basic:me:p%3Ass')).toEqual([
      { host: 'data.example.com', authorization: 'Bearer abc' },
      { host: '127.0.0.1:8080', authorization: `Basic ${Buffer.from('me:p:ss').toString('base64')}` },
    ]);
    for (const bad of ['host=token:secret123', 'secret123', 'host=basic:secret123', 'ho st=bearer:secret123']) {
      let error: unknown;
      try {
        parseIngestCredentials(bad);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).not.toContain('secret123');
    }
    const config = ingestConfig({ DATA_DIR: '/tmp/x', INGEST_CONCURRENCY: '2', INGEST_CACHE_DIR: '/tmp/cache' });
    expect(config).toMatchObject({ dataDir: '/tmp/x', concurrency: 2, cacheDir: '/tmp/cache', credentials: [], retryDelayMs: 1000 });
    expect(() => ingestConfig({ INGEST_CONCURRENCY: '0' })).toThrow(ConfigError);
  });

  it('sends credentials to their host only and keeps secrets out of logged URLs', () => {
    const credentials = parseIngestCredentials('a.example=bearer:A b.example:8443=bearer:B');
    expect(authorizationFor(new URL('https://a.example/x'), credentials)).toBe('Bearer A');
    expect(authorizationFor(new URL('https://a.example:9000/x'), credentials)).toBe('Bearer A');
    expect(authorizationFor(new URL('https://b.example:8443/x'), credentials)).toBe('Bearer B');
    expect(authorizationFor(new URL('https://b.example/x'), credentials)).toBeUndefined();
    expect(authorizationFor(new URL('https://evil.a.example/x'), credentials)).toBeUndefined();
    expect(redactUrl('https://user:pw@host.example/path/file.tif?X-Amz-Signature=abc#f')).toBe('https://host.example/path/file.tif?…');
  });

  it('parses sha2-256 multihashes and backs off exponentially within its bounds', () => {
    const digest = 'ab'.repeat(32);
    expect(parseMultihash(`1220${digest}`)).toEqual({ algorithm: 'sha256', hex: digest });
    expect(parseMultihash(`1220${digest.slice(2)}`)).toBeNull();
    expect(parseMultihash(`d50120${digest}`)).toBeNull();
    expect([1, 2, 3, 4].map((retry) => backoffDelay(retry, 1000, () => 1))).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffDelay(3, 1000, () => 0)).toBe(2000);
    expect(backoffDelay(20, 1000, () => 1)).toBe(RETRY_MAX_DELAY_MS);
  });

  it('reports a full disk as such, in one line', () => {
    const error = storageError('writing /data/x.part', Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    expect(error.code).toBe('disk-full');
    expect(error.message).toBe('writing /data/x.part: the disk is full (ENOSPC); free some space and run the command again');
  });

  it('tallies bytes, rate and time left from what is transferred now, not what was on disk', () => {
    const clock = fakeClock();
    const tally = new ProgressTally(clock);
    tally.plan(2);
    tally.fileProgress('a', 1000, 5000); // resumed: 1000 bytes were there already
    tally.fileProgress('a', 3000, 5000);
    void clock.sleep(1000);
    tally.fileProgress('a', 5000, 5000);
    tally.fileDone('a', 5000);
    const s = tally.snapshot();
    expect(s.filesDone).toBe(1);
    expect(s.bytesDone).toBe(5000);
    // 2000 bytes in 1 s; the second file's size is estimated as the first's.
    expect(s.bytesPerSecond).toBe(2000);
    expect(s.bytesTotal).toBe(10000);
    expect(s.etaSeconds).toBe(2.5);
  });
});

describeWithShared('downloads from a server on loopback', () => {
  let providers: FakeProviders;
  let dir: string;
  const psl = sharedPath('fixtures', 'oisst-psl', 'sst.day.mean.2020.nc');
  const pslSize = (): number => statSync(psl).size;

  beforeAll(async () => {
    providers = await startFakeProviders();
    dir = tempDir('ingest-download');
  });

  afterEach(() => providers.clearFaults());

  afterAll(async () => {
    await providers?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const url = (): string => `${providers.pslBase}sst.day.mean.2020.nc`;

  it('resumes a download cut mid-file with Range and If-Range, and the file is byte-identical', async () => {
    providers.addFault('/psl/sst.day.mean.2020.nc', { cutAfter: 1_000_000 });
    const clock = fakeClock();
    const destination = join(dir, 'resume', 'sst.nc');
    const before = providers.requests.length;
    const result = await downloadFile({ url: url(), destination }, { clock });
    expect(result).toMatchObject({ bytes: pslSize(), resumed: true, skipped: false, attempts: 2 });
    expect(sha256(destination)).toBe(sha256(psl));
    expect(existsSync(`${destination}${PART_SUFFIX}`)).toBe(false);
    expect(existsSync(`${destination}${PART_META_SUFFIX}`)).toBe(false);
    const [first, second] = providers.requests.slice(before);
    expect(first).toMatchObject({ range: null, status: 200 });
    const offset = Number(/^bytes=(\d+)-$/.exec(second!.range!)![1]);
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(1_000_000);
    expect(second!.ifRange).toMatch(/^".+"$/);
    expect(second!.status).toBe(206);
    expect(clock.slept).toHaveLength(1);
  });

  it('resumes a part left by an earlier run, and starts over when the file changed on the server', async () => {
    const destination = join(dir, 'later', 'sst.nc');
    providers.addFault('/psl/sst.day.mean.2020.nc', { cutAfter: 2_000_000 });
    const cut = await failure(downloadFile({ url: url(), destination }, { clock: fakeClock(), maxAttempts: 1 }));
    expect(cut.code).toBe('network');
    const partSize = statSync(`${destination}${PART_SUFFIX}`).size;
    expect(partSize).toBeGreaterThan(0);
    expect(existsSync(destination)).toBe(false);

    let before = providers.requests.length;
    const resumed = await downloadFile({ url: url(), destination }, { clock: fakeClock() });
    expect(resumed.resumed).toBe(true);
    expect(providers.requests[before]!.range).toBe(`bytes=${partSize}-`);
    expect(sha256(destination)).toBe(sha256(psl));

    // A part whose file changed on the server meanwhile (another ETag): the server sends it whole.
    const other = join(dir, 'changed', 'sst.nc');
    providers.addFault('/psl/sst.day.mean.2020.nc', { cutAfter: 500_000 });
    await failure(downloadFile({ url: url(), destination: other }, { clock: fakeClock(), maxAttempts: 1 }));
    providers.changeValidator('/psl/sst.day.mean.2020.nc');
    before = providers.requests.length;
    const restarted = await downloadFile({ url: url(), destination: other }, { clock: fakeClock() });
    expect(restarted.resumed).toBe(false);
    expect(providers.requests[before]).toMatchObject({ status: 200 });
    expect(providers.requests[before]!.range).toMatch(/^bytes=\d+-$/);
    expect(sha256(other)).toBe(sha256(psl));
  });

  it('skips a complete file, and checks sizes and checksums', async () => {
    const destination = join(dir, 'checked', 'sst.nc');
    const checksum = `1220${sha256(psl)}`;
    await downloadFile({ url: url(), destination, checksum, expectedSize: pslSize() }, { clock: fakeClock() });
    const before = providers.requests.length;
    const again = await downloadFile({ url: url(), destination, checksum }, { clock: fakeClock() });
    expect(again.skipped).toBe(true);
    expect(providers.requests.length).toBe(before);

    const wrong = join(dir, 'checked', 'wrong.nc');
    const mismatch = await failure(downloadFile({ url: url(), destination: wrong, checksum: `1220${'0'.repeat(64)}` }, { clock: fakeClock() }));
    expect(mismatch.code).toBe('integrity');
    expect(mismatch.message).toMatch(/sha256 checksum mismatch \(expected 0{64}, got [0-9a-f]{64}\); the partial file was removed$/);
    expect(existsSync(wrong)).toBe(false);
    expect(existsSync(`${wrong}${PART_SUFFIX}`)).toBe(false);

    const size = await failure(downloadFile({ url: url(), destination: wrong, expectedSize: 12 }, { clock: fakeClock() }));
    expect(size.code).toBe('integrity');
    expect(size.message).toContain(`the server sends ${pslSize()} bytes, the STAC metadata says 12`);
  });

  it('retries transient errors with back-off, and gives up with a clear message', async () => {
    const destination = join(dir, 'retry', 'sst.nc');
    providers.addFault('/psl/sst.day.mean.2020.nc', { status: 503 }, { status: 502 });
    const clock = fakeClock();
    const result = await downloadFile({ url: url(), destination }, { clock, retryBaseDelayMs: 1000 });
    expect(result.attempts).toBe(3);
    expect(clock.slept).toHaveLength(2);
    expect(clock.slept[0]).toBeGreaterThanOrEqual(500);
    expect(clock.slept[0]).toBeLessThanOrEqual(1000);
    expect(clock.slept[1]).toBeGreaterThanOrEqual(1000);
    expect(clock.slept[1]).toBeLessThanOrEqual(2000);

    providers.addFault('/psl/sst.day.mean.2020.nc', { status: 500 }, { status: 500 }, { status: 500 });
    const error = await failure(downloadFile({ url: url(), destination: join(dir, 'retry', 'never.nc') }, { clock: fakeClock(), maxAttempts: 3 }));
    expect(error.code).toBe('http');
    expect(error.message).toBe(`${url()}: HTTP 500 Internal Server Error (gave up after 3 attempts)`);
  });

  it('a 404 or 401 fails at once, with no file left behind', async () => {
    const clock = fakeClock();
    const missing = join(dir, 'missing', 'sst.day.mean.1900.nc');
    const notFound = await failure(downloadFile({ url: `${providers.pslBase}sst.day.mean.1900.nc`, destination: missing }, { clock }));
    expect(notFound.code).toBe('not-found');
    expect(notFound.message).toBe(`${providers.pslBase}sst.day.mean.1900.nc: HTTP 404 Not Found, the server has no such file`);
    expect(clock.slept).toEqual([]);
    expect(existsSync(missing) || existsSync(`${missing}${PART_SUFFIX}`)).toBe(false);

    const lift = providers.requireAuthorization('/psl/', 'Bearer right');
    try {
      const host = new URL(providers.url).host;
      const denied = await failure(downloadFile({ url: url(), destination: join(dir, 'auth', 'a.nc') }, { clock, credentials: parseIngestCredentials(`${host}=bearer:wrong`) }));
      expect(denied.code).toBe('unauthorized');
      expect(denied.message).not.toContain('wrong');
      const granted = await downloadFile({ url: url(), destination: join(dir, 'auth', 'b.nc') }, { clock, credentials: parseIngestCredentials(`${host}=bearer:right`) });
      expect(granted.bytes).toBe(pslSize());
    } finally {
      lift();
    }
  });

  it('a full disk while writing gives a clear message', async () => {
    expect(existsSync('/dev/full'), 'this test needs /dev/full (a Linux device that fails every write with ENOSPC)').toBe(true);
    const destination = join(dir, 'full', 'sst.nc');
    await downloadFile({ url: `${providers.nceiBase}202001/oisst-avhrr-v02r01.20200101.nc`, destination: join(dir, 'full', 'warm-up.nc') }, { clock: fakeClock() });
    // The part file is a link to /dev/full, where every write fails with ENOSPC.
    symlinkSync('/dev/full', `${destination}${PART_SUFFIX}`);
    const error = await failure(downloadFile({ url: url(), destination }, { clock: fakeClock() }));
    expect(error.code).toBe('disk-full');
    expect(error.message).toMatch(/sst\.nc\.part: the disk is full \(ENOSPC\); free some space and run the command again$/);
    expect(existsSync(destination)).toBe(false);
  });

  it('downloads many files a bounded number at a time, in order, and stops at the first failure', async () => {
    const days = Array.from({ length: 10 }, (_, i) => `202001${String(i + 1).padStart(2, '0')}`);
    const requests = days.map((day) => ({ url: `${providers.nceiBase}202001/oisst-avhrr-v02r01.${day}.nc`, destination: join(dir, 'many', `${day}.nc`) }));
    const order: string[] = [];
    // A slow server: every answer is held a moment, so that downloads overlap.
    for (const day of days) providers.addFault(`oisst-avhrr-v02r01.${day}.nc`, { delayMs: 30 });
    providers.takePeakConcurrency();
    for await (const result of downloadInOrder(requests, { concurrency: 3, clock: fakeClock() })) order.push(result.request.destination);
    expect(order).toEqual(requests.map((r) => r.destination));
    expect(providers.takePeakConcurrency()).toBe(3);

    // Ahead of a consumer that works on file n, at most `lookahead` files are fetched.
    for (const day of days) providers.addFault(`oisst-avhrr-v02r01.${day}.nc`, { delayMs: 30 });
    providers.takePeakConcurrency();
    for await (const result of downloadInOrder(requests.map((r) => ({ ...r, destination: `${r.destination}.2` })), { concurrency: 3, lookahead: 1, clock: fakeClock() })) {
      expect(result.bytes).toBeGreaterThan(0);
    }
    expect(providers.takePeakConcurrency()).toBe(1);
    for (const [i, day] of days.entries()) expect(sha256(requests[i]!.destination)).toBe(sha256(sharedPath('fixtures', 'oisst-ncei', `oisst-avhrr-v02r01.${day}.nc`)));

    const failing = [...requests.map((r) => ({ ...r, destination: `${r.destination}.again` })), { url: `${providers.nceiBase}202001/nothing.nc`, destination: join(dir, 'many', 'nothing.nc') }];
    const error = await failure(downloadAll(failing, { concurrency: 4, clock: fakeClock() }));
    expect(error.code).toBe('not-found');
  });

  it('JSON progress lines name files and bytes, never credentials', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const host = new URL(providers.url).host;
    const lift = providers.requireAuthorization('/psl/', 'Bearer hush-hush');
    try {
      const progress = new LogProgress(logger);
      await downloadAll([{ url: url(), destination: join(dir, 'logged', 'sst.nc') }], { concurrency: 1, clock: fakeClock(), progress, credentials: parseIngestCredentials(`${host}=bearer:hush-hush`) });
      progress.close();
    } finally {
      lift();
    }
    await new Promise((resolve) => setImmediate(resolve));
    const done = lines.map((line) => JSON.parse(line)).find((line) => line.event === 'download-done');
    expect(done).toMatchObject({ file: 'sst.day.mean.2020.nc', bytes: pslSize(), files_done: 1, files_planned: 1 });
    expect(lines.join('\n')).not.toContain('hush-hush');
  });
});

describe('redirects', () => {
  let servers: Server[] = [];
  const seen: { server: string; authorization: string | undefined }[] = [];

  async function start(name: string, handler: (req: IncomingMessage) => { status: number; headers?: Record<string, string>; body?: string }): Promise<string> {
    const server = createServer((req, res) => {
      seen.push({ server: name, authorization: req.headers.authorization });
      const answer = handler(req);
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body ?? '');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  afterAll(() => {
    for (const server of servers) server.close();
    servers = [];
  });

  it('follows a redirect to another host without the first host\'s credentials', async () => {
    const storage = await start('storage', () => ({ status: 200, body: 'payload' }));
    const api = await start('api', () => ({ status: 302, headers: { Location: `${storage.replace('127.0.0.1', 'localhost')}/blob` } }));
    const credentials = parseIngestCredentials(`${new URL(api).host}=bearer:api-token`);
    const response = await httpRequest(`${api}/asset`, {}, credentials);
    expect(await response.text()).toBe('payload');
    expect(seen).toEqual([
      { server: 'api', authorization: 'Bearer api-token' },
      { server: 'storage', authorization: undefined },
    ]);
  });
});
