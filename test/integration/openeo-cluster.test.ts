import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schedulerClient } from '../../common/grpc.js';
import { ensureSampleData } from '../../ingest/sample-data.js';
import { checkBadInput, checkNdviFlow, checkSstFlow } from '../helpers/openeo-flow.js';
import { freePort, type NatsServer, type RoleProcess, startNats, startRole, tempDir } from '../helpers/processes.js';

const ALICE: [string, string] = ['alice', 'wonderland'];
const BOB: [string, string] = ['bob', 'builder'];

describe('openEO flow on a cluster: nats-server, scheduler, two worker processes, API', () => {
  let nats: NatsServer;
  const roles: RoleProcess[] = [];
  let url: string;
  let dataDir: string;
  let schedulerAddress: string;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    dataDir = tempDir('cluster');
    await ensureSampleData(dataDir);
    nats = await startNats();
    const schedulerPort = await freePort();
    const apiPort = await freePort();
    schedulerAddress = `127.0.0.1:${schedulerPort}`;
    const common = { NATS_URL: nats.url, DATA_DIR: dataDir, SCHEDULER_ADDRESS: schedulerAddress, HEARTBEAT_INTERVAL_MS: '500' };
    const scheduler = startRole('scheduler', { ...common, SCHEDULER_PORT: String(schedulerPort), SCHEDULER_METRICS_PORT: '0', SCHEDULER_VALIDATE: '1' });
    roles.push(scheduler);
    await scheduler.waitForLog((l) => l.msg === 'scheduler listening');
    for (const name of ['worker-a', 'worker-b']) {
      const worker = startRole('worker', { ...common, WORKER_NAME: name, WORKER_THREADS: '1' }, name);
      roles.push(worker);
      await worker.waitForLog((l) => l.msg === 'connected to the scheduler');
    }
    const api = startRole('api', { ...common, PORT: String(apiPort), API_HOST: '127.0.0.1', ACCOUNTS: `${ALICE.join(':')},${BOB.join(':')}`, SAMPLE_DATA: '0' });
    roles.push(api);
    await api.waitForLog((l) => l.msg === 'openEO API listening');
    url = `http://127.0.0.1:${apiPort}`;
  });

  afterAll(async () => {
    // Workers first: a retiring worker hands its work back to a scheduler that must still be there.
    await Promise.all(roles.filter((r) => r.name.startsWith('worker')).map((r) => r.kill()));
    await Promise.all(roles.map((r) => r.kill()));
    await nats?.stop();
    console.log(`[timings] cluster: ${JSON.stringify(timings)}`);
  });

  it('runs the NDVI max composite through the js-client; the GeoTIFF matches an independent computation', async () => {
    timings.ndviSeconds = (await checkNdviFlow(url, ...ALICE, dataDir, join(dataDir, 'downloads', 'ndvi'))).seconds;
  });

  it('runs the SST time mean through the js-client; the NetCDF matches an independent computation', async () => {
    timings.sstSeconds = (await checkSstFlow(url, ...ALICE, dataDir, join(dataDir, 'downloads', 'sst'))).seconds;
  });

  it('spread the work over both workers', async () => {
    const client = schedulerClient(schedulerAddress);
    const state = await new Promise<any>((resolve, reject) => client.ClusterState({ keys: [] }, (e, r) => (e ? reject(e) : resolve(r))));
    client.close();
    const executed = Object.fromEntries(state.workers.map((w: { name: string; executed: number }) => [w.name, Number(w.executed)]));
    expect(executed['worker-a']).toBeGreaterThan(0);
    expect(executed['worker-b']).toBeGreaterThan(0);
  });

  it('answers bad input with openEO errors and keeps users apart', async () => {
    await checkBadInput(url, ALICE, BOB);
  });
});
