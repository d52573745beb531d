import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schedulerClient, type SchedulerClient } from '../../common/grpc.js';
import { ensureSampleData } from '../../ingest/sample-data.js';
import type { ClusterStateReply__Output } from '../../proto/generated/openeo/cluster/v1/ClusterStateReply.js';
import { readGeoTiff } from '../helpers/independent.js';
import { JobClient } from '../helpers/job-client.js';
import { ndviCompositeGraph, registerLongSeries } from '../helpers/long-series.js';
import { freePort, type NatsServer, type RoleProcess, startNats, startRole, tempDir } from '../helpers/processes.js';

/** Dates of the series: 48 × 3 bands × 1536² float32 ≈ 1.4 GB, more than a worker may hold. */
const SERIES_DATES = 48;
const WORKER_MEMORY_LIMIT = 700 * 1024 * 1024;
const HEARTBEAT_MS = 200;
const WORKER_TIMEOUT_MS = 2_000;

describe('resilience: lost, stopped and retiring workers, cancel, bounded memory', () => {
  let nats: NatsServer;
  let scheduler: RoleProcess;
  let api: RoleProcess;
  const workers = new Map<string, RoleProcess>();
  let common: Record<string, string>;
  let client: JobClient;
  let grpc: SchedulerClient;
  let reference: Float64Array;
  let workerCount = 0;

  async function addWorker(): Promise<RoleProcess> {
    const name = `w${++workerCount}`;
    const worker = startRole('worker', { ...common, WORKER_NAME: name, WORKER_THREADS: '1', WORKER_MEMORY_LIMIT: String(WORKER_MEMORY_LIMIT) }, name);
    workers.set(name, worker);
    await worker.waitForLog((l) => l.msg === 'connected to the scheduler');
    return worker;
  }

  function clusterState(): Promise<ClusterStateReply__Output> {
    return new Promise((resolve, reject) => grpc.ClusterState({ keys: [] }, (e, r) => (e || !r ? reject(e) : resolve(r))));
  }

  async function runToEnd(id: string): Promise<Float64Array> {
    expect(await client.waitUntilEnded(id)).toBe('finished');
    const path = join(common.DATA_DIR!, `${id}.tif`);
    writeFileSync(path, await client.downloadFirstAsset(id));
    return (await readGeoTiff(path)).values;
  }

  function expectIdentical(values: Float64Array): void {
    expect(values.length).toBe(reference.length);
    let differing = 0;
    for (let i = 0; i < values.length; i++) if (!Object.is(values[i], reference[i])) differing++;
    expect(differing).toBe(0);
  }

  /** Waits until the job runs with at least `progress` %; fails, rather than waits, if it ends first. */
  async function waitMidJob(id: string, progress: number): Promise<void> {
    const job = await client.waitFor(id, (j) => (j.status === 'running' && j.progress >= progress) || ['finished', 'error', 'canceled'].includes(j.status));
    expect(job.status, `the job ended before it reached ${progress} %, so nothing could disturb it`).toBe('running');
  }

  async function startJob(): Promise<string> {
    const id = await client.create(ndviCompositeGraph('S2_LONG'));
    await client.start(id);
    return id;
  }

  beforeAll(async () => {
    const dataDir = tempDir('resilience');
    await ensureSampleData(dataDir);
    await registerLongSeries(dataDir, 'S2_LONG', SERIES_DATES);
    nats = await startNats();
    const schedulerPort = await freePort();
    const apiPort = await freePort();
    common = { NATS_URL: nats.url, DATA_DIR: dataDir, SCHEDULER_ADDRESS: `127.0.0.1:${schedulerPort}`, HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS), WORKER_TIMEOUT_MS: String(WORKER_TIMEOUT_MS) };
    scheduler = startRole('scheduler', { ...common, SCHEDULER_PORT: String(schedulerPort), SCHEDULER_METRICS_PORT: '0', SCHEDULER_VALIDATE: '1' });
    await scheduler.waitForLog((l) => l.msg === 'scheduler listening');
    for (let i = 0; i < 3; i++) await addWorker();
    api = startRole('api', { ...common, PORT: String(apiPort), API_HOST: '127.0.0.1', ACCOUNTS: 'tester:secret', SAMPLE_DATA: '0' });
    await api.waitForLog((l) => l.msg === 'openEO API listening');
    client = await JobClient.login(`http://127.0.0.1:${apiPort}`, 'tester', 'secret');
    grpc = schedulerClient(common.SCHEDULER_ADDRESS!);
  });

  afterAll(async () => {
    grpc?.close();
    await Promise.all([...workers.values()].map((w) => (w.child.signalCode === 'SIGSTOP' ? w.kill('SIGKILL') : w.kill('SIGKILL'))));
    await api?.kill();
    await scheduler?.kill();
    await nats?.stop();
  });

  it('an undisturbed run holds less than the memory limit on every worker although the series is larger', async () => {
    const id = await startJob();
    let peak = 0;
    let done = false;
    const watch = (async () => {
      while (!done) {
        for (const w of (await clusterState()).workers) peak = Math.max(peak, Number(w.processBytes));
        await sleep(HEARTBEAT_MS / 2);
      }
    })();
    reference = await runToEnd(id);
    done = true;
    await watch;
    const seriesBytes = SERIES_DATES * 3 * 1536 * 1536 * 4;
    expect(seriesBytes).toBeGreaterThan(WORKER_MEMORY_LIMIT);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(WORKER_MEMORY_LIMIT);
    console.log(`[memory] peak worker memory ${(peak / 1e6).toFixed(0)} MB (limit ${(WORKER_MEMORY_LIMIT / 1e6).toFixed(0)} MB, series ${(seriesBytes / 1e9).toFixed(2)} GB)`);
    let valid = 0;
    for (const v of reference) if (!Number.isNaN(v)) valid++;
    expect(valid).toBeGreaterThan(reference.length / 2);
  });

  it('finishes with identical output when a worker is SIGKILLed mid-job', async () => {
    const id = await startJob();
    await waitMidJob(id, 15);
    const victim = [...workers.values()][0]!;
    await victim.kill('SIGKILL');
    workers.delete(victim.name);
    expectIdentical(await runToEnd(id));
    const logs = await client.logs(id);
    expect(logs.some((l) => l.level === 'warning' && l.message.includes(victim.name))).toBe(true);
  });

  it('finishes with identical output when two workers are killed in turn', async () => {
    await addWorker();
    const id = await startJob();
    await waitMidJob(id, 10);
    const [first, second] = [...workers.values()];
    await first!.kill('SIGKILL');
    workers.delete(first!.name);
    await client.waitFor(id, (j) => j.progress >= 40 || j.status !== 'running');
    await second!.kill('SIGKILL');
    workers.delete(second!.name);
    expectIdentical(await runToEnd(id));
  });

  it('drops a worker that stops answering (SIGSTOP) and redoes its work', async () => {
    await addWorker();
    const id = await startJob();
    await waitMidJob(id, 15);
    const stopped = [...workers.values()][0]!;
    stopped.child.kill('SIGSTOP');
    expectIdentical(await runToEnd(id));
    const names = (await clusterState()).workers.map((w) => w.name);
    expect(names).not.toContain(stopped.name);
    await stopped.kill('SIGKILL');
    workers.delete(stopped.name);
  });

  it('cancel stops the work on every worker within a second; a restart works', async () => {
    while (workers.size < 3) await addWorker();
    const id = await startJob();
    await waitMidJob(id, 10);
    const canceledAt = Date.now();
    await client.cancel(id);
    let idleAfter = Infinity;
    while (Date.now() - canceledAt < 5_000) {
      const state = await clusterState();
      if (state.workers.every((w) => Number(w.processing) === 0 && Number(w.executing) === 0)) {
        idleAfter = Date.now() - canceledAt;
        break;
      }
      await sleep(20);
    }
    // Idle is observed through heartbeats, which add up to one interval of delay.
    expect(idleAfter).toBeLessThan(1_000 + HEARTBEAT_MS);
    expect((await client.describe(id)).status).toBe('canceled');
    await client.start(id);
    expectIdentical(await runToEnd(id));
  });

  it('a job restarted right after a cancel runs to the end (the canceled tasks do not swallow the new ones)', async () => {
    const id = await startJob();
    await waitMidJob(id, 10);
    await client.cancel(id);
    await client.start(id);
    expectIdentical(await runToEnd(id));
  });

  it('a worker that gets SIGTERM retires gracefully: it exits 0 and no work is lost', async () => {
    const id = await startJob();
    await waitMidJob(id, 15);
    const leaving = [...workers.values()][0]!;
    await leaving.kill('SIGTERM');
    expect(await leaving.exited).toBe(0);
    workers.delete(leaving.name);
    expect(scheduler.logs.some((l) => l.msg === 'worker may exit: its work is handed over')).toBe(true);
    expectIdentical(await runToEnd(id));
  });
});
