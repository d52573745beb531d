import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { checkBadInput, checkNdviFlow, checkSstFlow } from '../helpers/openeo-flow.js';
import { freePort, type RoleProcess, startRole, tempDir } from '../helpers/processes.js';

describe('openEO flow on the embedded default (no NATS, sample data prepared at start)', () => {
  let embedded: RoleProcess;
  let url: string;
  let dataDir: string;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    dataDir = tempDir('embedded');
    const port = await freePort();
    embedded = startRole('embedded', { PORT: String(port), DATA_DIR: dataDir, WORKERS: '2', NATS_URL: '' });
    await embedded.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('openEO back-end ready'), 120_000);
    url = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await embedded?.kill('SIGINT');
    console.log(`[timings] embedded: ${JSON.stringify(timings)}`);
  });

  it('names the demo account in its start-up log', async () => {
    await embedded.waitForLog((l) => l.user === 'demo' && l.password === 'demo');
  });

  it('runs the NDVI max composite', async () => {
    timings.ndviSeconds = (await checkNdviFlow(url, 'demo', 'demo', dataDir, join(dataDir, 'downloads', 'ndvi'))).seconds;
  });

  it('runs the SST time mean', async () => {
    timings.sstSeconds = (await checkSstFlow(url, 'demo', 'demo', dataDir, join(dataDir, 'downloads', 'sst'))).seconds;
  });

  it('answers bad input with openEO errors', async () => {
    // The embedded default has one account; isolation between users is tested on the cluster.
    await checkBadInput(url, ['demo', 'demo'], null);
  });
});
