import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSampleData } from '../../ingest/sample-data.js';
import { createJob, download, exampleProcess, jobLogs, login, request, startJob, waitForJob } from '../helpers/job-api.js';
import { freePort, type NatsServer, type RoleProcess, startNats, startRole, tempDir } from '../helpers/processes.js';

/**
 * Jobs survive the failure of the processes around them. Workers are paused (SIGSTOP) while a
 * job is submitted so that it is certainly in the middle when the API or the scheduler dies;
 * they resume (SIGCONT) once the failure has happened.
 */

const ALICE: [string, string] = ['alice', 'wonderland'];
/** How soon the API notices lost jobs and an absent scheduler in these tests (ms). */
const RECONCILE = { JOB_RECONCILE_INTERVAL_MS: '300', JOB_LOST_GRACE_MS: '1500', SCHEDULER_UNREACHABLE_LIMIT_MS: '3000' };
/** Longest a job may take to reach a clear end after a failure (ms). */
const BOUND_MS = 30_000;

function pause(role: RoleProcess | number): void {
  process.kill(typeof role === 'number' ? role : role.child.pid!, 'SIGSTOP');
}

function resume(role: RoleProcess | number): void {
  process.kill(typeof role === 'number' ? role : role.child.pid!, 'SIGCONT');
}

const isEnd = (status: string): boolean => ['finished', 'error', 'canceled'].includes(status);

describe('a cluster with NATS: the API restarts or the scheduler dies in the middle of a job', () => {
  let nats: NatsServer;
  let dataDir: string;
  let common: Record<string, string>;
  let schedulerEnv: Record<string, string>;
  let apiEnv: Record<string, string>;
  let scheduler: RoleProcess;
  let worker: RoleProcess;
  let api: RoleProcess;
  let url: string;
  const roles: RoleProcess[] = [];
  const timings: Record<string, number> = {};

  const startScheduler = async (): Promise<RoleProcess> => {
    const role = startRole('scheduler', schedulerEnv);
    roles.push(role);
    await role.waitForLog((l) => l.msg === 'scheduler listening');
    return role;
  };
  const startApi = async (): Promise<RoleProcess> => {
    const role = startRole('api', apiEnv);
    roles.push(role);
    await role.waitForLog((l) => l.msg === 'openEO API listening');
    return role;
  };

  beforeAll(async () => {
    dataDir = tempDir('durability');
    await ensureSampleData(dataDir);
    nats = await startNats();
    const schedulerPort = await freePort();
    const apiPort = await freePort();
    common = { NATS_URL: nats.url, DATA_DIR: dataDir, SCHEDULER_ADDRESS: `127.0.0.1:${schedulerPort}`, HEARTBEAT_INTERVAL_MS: '500' };
    // A paused worker must not be dropped for missing heartbeats while the test holds it.
    schedulerEnv = { ...common, SCHEDULER_PORT: String(schedulerPort), SCHEDULER_METRICS_PORT: '0', WORKER_TIMEOUT_MS: '120000' };
    apiEnv = { ...common, ...RECONCILE, PORT: String(apiPort), API_HOST: '127.0.0.1', ACCOUNTS: ALICE.join(':'), SAMPLE_DATA: '0' };
    scheduler = await startScheduler();
    worker = startRole('worker', { ...common, WORKER_NAME: 'worker-a', WORKER_THREADS: '1' }, 'worker-a');
    roles.push(worker);
    await worker.waitForLog((l) => l.msg === 'connected to the scheduler');
    api = await startApi();
    url = `http://127.0.0.1:${apiPort}`;
    expect(api.logs.find((l) => l.msg === 'openEO API listening')!.jobStore).toBe('jetstream');
  });

  afterAll(async () => {
    for (const role of roles) {
      if (role.child.exitCode === null && role.child.signalCode === null) resume(role);
    }
    await Promise.all(roles.filter((r) => r.name.startsWith('worker')).map((r) => r.kill()));
    await Promise.all(roles.map((r) => r.kill()));
    await nats?.stop();
    console.log(`[timings] durability (cluster): ${JSON.stringify(timings)}`);
  });

  /** Submits the NDVI job while the worker is paused; returns once the API reports it running. */
  async function jobInTheMiddle(auth: string): Promise<string> {
    pause(worker);
    const id = await createJob(url, auth, exampleProcess('ndvi-max-composite', 'GTiff'), { title: 'durability' });
    await startJob(url, auth, id);
    const job = await waitForJob(url, auth, id, (s) => s === 'running' || isEnd(s));
    expect(job.status).toBe('running');
    return id;
  }

  it('restart the API in the middle of a job: the job still finishes and is visible, with its logs', async () => {
    let auth = await login(url, ...ALICE);
    const id = await jobInTheMiddle(auth);
    await api.kill('SIGKILL');
    resume(worker);
    // The job ends while no API is there to hear it.
    await scheduler.waitForLog((l) => l.msg === 'job ended' && String(l.jobId).startsWith(id), 60_000);
    const restarted = Date.now();
    api = await startApi();
    auth = await login(url, ...ALICE);
    const job = await waitForJob(url, auth, id, isEnd, BOUND_MS);
    timings.apiRestartToVisibleSeconds = (Date.now() - restarted) / 1000;
    expect(job.status).toBe('finished');
    expect(job.progress).toBe(100);
    // From the durable event stream, where the events waited for the API.
    expect(api.logs.some((l) => l.msg === 'applying job events published while the API was away')).toBe(true);
    const results = await request(url, `/jobs/${id}/results`, { headers: { Authorization: auth } });
    expect(results.status).toBe(200);
    const asset = results.body.assets['result.tif'];
    expect((await download(asset.href)).byteLength).toBe(asset['file:size']);
    const logs = await jobLogs(url, auth, id);
    expect(logs.map((l) => l.message)).toEqual(expect.arrayContaining([expect.stringMatching(/^running \d+ tasks$/), 'finished: 1 file(s) written']));
    // Caught up, not resubmitted: the first run's results are the ones listed.
    expect(logs.some((l) => /submitted again/.test(l.message))).toBe(false);
    expect(asset.href).toContain(`/results/${id}/1/`);
  });

  it('kill the scheduler in the middle: the job ends as error with a log entry saying why, in bounded time', async () => {
    const auth = await login(url, ...ALICE);
    const id = await jobInTheMiddle(auth);
    await scheduler.kill('SIGKILL');
    const killed = Date.now();
    resume(worker);
    const job = await waitForJob(url, auth, id, isEnd, BOUND_MS);
    timings.schedulerKilledToErrorSeconds = (Date.now() - killed) / 1000;
    expect(job.status).toBe('error');
    const errors = (await jobLogs(url, auth, id, '?level=error')).map((l) => l.message);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/scheduler .* has not answered for \d+ s/);
    expect(errors[0]).not.toMatch(/\n|\s at /);
    const failed = await request(url, `/jobs/${id}/results`, { headers: { Authorization: auth } });
    expect(failed.status).toBe(424);
    expect(failed.body.code).toBe('InfrastructureBusy');
  });

  it('kill the scheduler and start a new one: the lost job is submitted again and finishes', async () => {
    scheduler = await startScheduler();
    await worker.waitForLog((l) => l.msg === 'connected to the scheduler' && worker.logs.filter((x) => x.msg === 'connected to the scheduler').length >= 2, 30_000);
    const auth = await login(url, ...ALICE);
    const id = await jobInTheMiddle(auth);
    await scheduler.kill('SIGKILL');
    const killed = Date.now();
    scheduler = await startScheduler();
    resume(worker);
    const job = await waitForJob(url, auth, id, isEnd, BOUND_MS + 30_000);
    timings.schedulerRestartToFinishedSeconds = (Date.now() - killed) / 1000;
    expect(job.status).toBe('finished');
    const warnings = (await jobLogs(url, auth, id, '?level=warning')).map((l) => l.message);
    expect(warnings).toEqual([expect.stringMatching(/interrupted because the processing service restarted; it was submitted again/)]);
    const results = await request(url, `/jobs/${id}/results`, { headers: { Authorization: auth } });
    expect(results.body.assets['result.tif'].href).toContain(`/results/${id}/2/`);
  });
});

describe('the embedded default: the whole service dies in the middle of a job', () => {
  let dataDir: string;
  let port: number;
  let embedded: RoleProcess;
  const orphans: number[] = [];

  const startEmbedded = async (): Promise<RoleProcess> => {
    const role = startRole('embedded', { PORT: String(port), DATA_DIR: dataDir, WORKERS: '1', NATS_URL: '' });
    await role.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('openEO back-end ready'), 120_000);
    return role;
  };
  /** Worker processes of an embedded run, from their log lines (they run as its children). */
  const workerPids = (role: RoleProcess): number[] => [...new Set(role.logs.filter((l) => l.msg === 'connected to the scheduler').map((l) => Number(l.pid)))];

  beforeAll(async () => {
    dataDir = tempDir('durability-embedded');
    port = await freePort();
    embedded = await startEmbedded();
    await embedded.waitForLog((l) => l.msg === 'connected to the scheduler');
  });

  afterAll(async () => {
    for (const pid of orphans) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await embedded?.kill('SIGINT');
  });

  it('a restart resumes the job it was running: it finishes, and the log says what happened', async () => {
    const url = `http://127.0.0.1:${port}`;
    let auth = await login(url, 'demo', 'demo');
    const [workerPid] = workerPids(embedded);
    pause(workerPid!);
    const id = await createJob(url, auth, exampleProcess('ndvi-max-composite', 'GTiff'));
    await startJob(url, auth, id);
    expect((await waitForJob(url, auth, id, (s) => s === 'running' || isEnd(s))).status).toBe('running');
    await embedded.kill('SIGKILL');
    // Its worker is orphaned now: this test started it (through the embedded process) and ends it.
    orphans.push(workerPid!);
    process.kill(workerPid!, 'SIGKILL');
    const restarted = Date.now();
    embedded = await startEmbedded();
    auth = await login(url, 'demo', 'demo');
    const job = await waitForJob(url, auth, id, isEnd, BOUND_MS);
    console.log(`[timings] durability (embedded): restart to finished ${(Date.now() - restarted) / 1000} s`);
    expect(job.status).toBe('finished');
    const logs = await jobLogs(url, auth, id);
    expect(logs.filter((l) => l.level === 'warning').map((l) => l.message)).toEqual([expect.stringMatching(/interrupted because the processing service restarted; it was submitted again/)]);
    expect(logs[logs.length - 1]!.message).toBe('finished: 1 file(s) written');
  });
});
