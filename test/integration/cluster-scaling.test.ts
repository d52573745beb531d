import { linkSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schedulerClient } from '../../common/grpc.js';
import { buildNdviProcess, runBatchJob } from '../../examples/js-client-ndvi.mjs';
import { Catalog, type CogItemsSource } from '../../ingest/catalog.js';
import { SAMPLE_S2_COLLECTION } from '../../ingest/sample-data.js';
import { lastOf, parseDockerfile, stageEnv } from '../helpers/dockerfile.js';
import { readGeoTiff, referenceNdvi } from '../helpers/independent.js';
import { DEV_OVERLAY_DIR, renderKustomize } from '../helpers/kustomize.js';
import { connect, SAMPLE_NDVI_RANGE, VALUE_TOLERANCE } from '../helpers/openeo-flow.js';
import { metricValue, PodSimulator, type SimulatedPod } from '../helpers/pod-simulator.js';
import { REPO_ROOT, tempDir } from '../helpers/processes.js';

/**
 * The Kubernetes deployment, run as processes: NATS, the scheduler, the API and workers started
 * with the command, environment, users and volumes the rendered manifests give their pods (the dev
 * overlay: one CPU and 1 GiB per worker, like this machine's share), each on its own loopback
 * address. A job runs while the test plays the autoscaler: one worker, three when the scheduler's
 * desired-workers metric asks for more, back to one by deleting pods the way Kubernetes does
 * (preStop, SIGTERM), which retires them gracefully.
 */

/** How often the scheduler's metrics are sampled (ms): several samples per second of work. */
const SAMPLE_INTERVAL_MS = 100;
/**
 * Acquisitions of the job's collection: the four sample scenes, each repeated, so the job runs for
 * several seconds (long enough to add and retire workers during it) and its maximum NDVI
 * composite still equals that of the four scenes, which an independent computation gives.
 * Each repetition's files are hard links of their own: other paths, so other tasks (identical
 * reads would run once), at no cost in disk.
 */
const SERIES_DATES = 24;
const SERIES_COLLECTION = 'SENTINEL2_L2A_REPEATED';
const SERIES_START = Date.parse('2019-01-01T10:30:21Z');
const SERIES_STEP_DAYS = 5;

/** Registers SERIES_COLLECTION: the sample's scenes in turn, every SERIES_STEP_DAYS days from SERIES_START. */
async function registerRepeatedSeries(dataDir: string): Promise<[string, string]> {
  const catalog = new Catalog(dataDir);
  const sample = await catalog.get(SAMPLE_S2_COLLECTION);
  if (!sample || sample.source.kind !== 'cog-items') throw new Error('the sample Sentinel-2 collection is missing');
  const scenes = sample.source.items;
  const items = Array.from({ length: SERIES_DATES }, (_, i) => {
    const scene = scenes[i % scenes.length]!;
    const folder = join('samples', 'repeated', String(i));
    mkdirSync(join(dataDir, folder), { recursive: true });
    const assets = Object.fromEntries(
      Object.entries(scene.assets).map(([band, asset]) => {
        const href = join(folder, basename(asset.href));
        linkSync(join(dataDir, asset.href), join(dataDir, href));
        return [band, { ...asset, href }];
      }),
    );
    return { ...scene, id: `${scene.id}-repeat-${i}`, datetime: new Date(SERIES_START + i * SERIES_STEP_DAYS * 86_400_000).toISOString(), assets };
  });
  const source: CogItemsSource = { kind: 'cog-items', bands: sample.source.bands, items };
  await catalog.put({ id: SERIES_COLLECTION, stac: { ...sample.stac, id: SERIES_COLLECTION, title: 'Sample scenes repeated (scaling test)' }, source });
  const end = new Date(SERIES_START + SERIES_DATES * SERIES_STEP_DAYS * 86_400_000).toISOString().slice(0, 10);
  return [new Date(SERIES_START).toISOString().slice(0, 10), end];
}

/** The NDVI max composite of SERIES_COLLECTION through the js-client; the GeoTIFF must equal the sample's composite pixel by pixel. */
async function checkRepeatedNdvi(url: string, user: string, password: string, dataDir: string, extent: [string, string]): Promise<{ seconds: number }> {
  const connection = await connect(url, user, password);
  const process = await buildNdviProcess(connection, { collection: SERIES_COLLECTION, temporalExtent: extent });
  const outDir = join(tempDir('scaling'), 'ndvi');
  mkdirSync(outDir, { recursive: true });
  const started = Date.now();
  const { job } = await runBatchJob(connection, process, { title: 'scaling', outDir });
  const seconds = (Date.now() - started) / 1000;
  expect(job.status).toBe('finished');
  const result = await readGeoTiff(join(outDir, readdirSync(outDir).find((f) => f.endsWith('.tif'))!));
  const reference = await referenceNdvi(dataDir, `${SAMPLE_NDVI_RANGE[0]}T00:00:00Z`, `${SAMPLE_NDVI_RANGE[1]}T00:00:00Z`, 'max');
  expect([result.width, result.height]).toEqual([reference.width, reference.height]);
  expect(result.origin.slice(0, 2)).toEqual(reference.origin.slice(0, 2));
  let valid = 0;
  for (let i = 0; i < reference.values.length; i++) {
    const expected = reference.values[i]!;
    const actual = result.values[i]!;
    if (Number.isNaN(expected)) {
      if (!Number.isNaN(actual)) expect.fail(`pixel ${i} should be no-data, is ${actual}`);
      continue;
    }
    valid++;
    if (!(Math.abs(actual - expected) <= VALUE_TOLERANCE)) expect.fail(`pixel ${i}: ${actual}, expected ${expected}`);
  }
  expect(valid).toBeGreaterThan(reference.values.length / 2);
  return { seconds };
}

interface Sample {
  at: number;
  desired: number;
  queued: number;
  running: number;
}

const DESIRED = 'openeo_scheduler_desired_workers';

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('cluster scaling: the manifests\' pods as processes; workers 1 → 3 → 1 while a job runs', () => {
  const runtime = parseDockerfile().at(-1)!;
  let simulator: PodSimulator;
  let scheduler: SimulatedPod;
  let api: SimulatedPod;
  const workers: SimulatedPod[] = [];
  const samples: Sample[] = [];
  let sampling: NodeJS.Timeout | undefined;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    const started = Date.now();
    simulator = new PodSimulator(renderKustomize(DEV_OVERLAY_DIR), {
      namespace: 'openeo',
      appDir: REPO_ROOT,
      image: {
        entrypoint: lastOf(runtime, 'ENTRYPOINT')!.args,
        cmd: lastOf(runtime, 'CMD')!.args,
        env: stageEnv(runtime),
        volumes: runtime.instructions.filter((i) => i.keyword === 'VOLUME').flatMap((i) => i.args),
      },
    });
    const nats = simulator.start('openeo-nats');
    await nats.waitReady();
    scheduler = simulator.start('openeo-scheduler');
    await scheduler.waitReady();
    api = simulator.start('openeo-api');
    workers.push(simulator.start('openeo-worker', 0));
    await Promise.all([api.waitReady(120_000), workers[0]!.waitReady()]);
    timings.startSeconds = (Date.now() - started) / 1000;

    sampling = setInterval(() => {
      void scheduler.scrape().then(
        (text) =>
          samples.push({
            at: Date.now(),
            desired: metricValue(text, DESIRED)!,
            queued: metricValue(text, 'openeo_scheduler_queued_tasks')!,
            running: metricValue(text, 'openeo_scheduler_workers', { status: 'running' })!,
          }),
        () => undefined,
      );
    }, SAMPLE_INTERVAL_MS);
  });

  afterAll(async () => {
    if (sampling) clearInterval(sampling);
    await simulator?.stopAll();
    console.log(`[timings] cluster scaling: ${JSON.stringify(timings)}`);
  });

  it('runs an NDVI job to the correct result while workers scale 1 → 3 → 1; retiring workers exit 0 and lose no task', async () => {
    await until(() => samples.length > 2, 'metric samples');
    expect(samples.at(-1)).toMatchObject({ desired: 0, queued: 0, running: 1 });

    const [user, password] = api.env.ACCOUNTS!.split(',')[0]!.split(':') as [string, string];
    const url = simulator.serviceUrl('openeo-api', 'http');
    const dataDir = simulator.claimDir('openeo-data');
    const extent = await registerRepeatedSeries(dataDir);
    const jobStarted = Date.now();
    let jobDone = false;
    const job = checkRepeatedNdvi(url, user, password, dataDir, extent).finally(() => {
      jobDone = true;
    });
    job.catch(() => undefined);

    // The autoscaler's view: the scheduler wants workers for the queued work → three replicas.
    await until(() => samples.some((s) => s.at >= jobStarted && s.desired >= 1) || jobDone, 'desired workers to rise');
    expect(jobDone, 'the job ended before the scheduler asked for workers').toBe(false);
    timings.desiredRoseAfterSeconds = (Date.now() - jobStarted) / 1000;
    workers.push(simulator.start('openeo-worker', 1), simulator.start('openeo-worker', 2));
    await Promise.all(workers.slice(1).map((w) => w.waitReady()));

    // Each new worker takes part in the job before it is scaled away.
    const client = schedulerClient(`${scheduler.ip}:${scheduler.env.SCHEDULER_PORT}`);
    const executed = async (): Promise<Record<string, number>> => {
      const state = await new Promise<any>((resolve, reject) => client.ClusterState({ keys: [] }, (e, r) => (e ? reject(e) : resolve(r))));
      return Object.fromEntries(state.workers.map((w: { name: string; executed: number }) => [w.name, Number(w.executed)]));
    };
    await until(async () => {
      const counts = await executed();
      return jobDone || workers.slice(1).every((w) => (counts[w.name] ?? 0) > 0);
    }, 'the new workers to run tasks');
    expect(jobDone, 'the job ended before the new workers ran tasks: it is too short to scale during it').toBe(false);
    timings.scaledUpAfterSeconds = (Date.now() - jobStarted) / 1000;
    const scaledDown = Promise.all(workers.slice(1).map((w) => w.terminate()));
    expect(jobDone, 'scale-down starts while the job runs').toBe(false);
    const outcomes = await scaledDown;
    timings.scaledDownAfterSeconds = (Date.now() - jobStarted) / 1000;
    client.close();

    // The job finishes with the right pixels (checked against an independent computation).
    const { seconds } = await job;
    timings.jobSeconds = seconds;
    expect(outcomes).toEqual([
      { code: 0, preStopFailed: false },
      { code: 0, preStopFailed: false },
    ]);
    for (const worker of workers.slice(1)) {
      expect(worker.logs.some((l) => l.msg === 'retiring' && l.reason === 'SIGTERM'), worker.name).toBe(true);
      // Retired: the scheduler let it go once its work was handed over (not the worker's own retire timeout).
      const story = scheduler.logs.filter((l) => l.name === worker.name || (typeof l.workerId === 'string' && scheduler.logs.some((r) => r.workerId === l.workerId && r.name === worker.name)));
      expect(
        story.some((l) => l.msg === 'worker retired'),
        `the scheduler did not let ${worker.name} retire; its lines:\n${story.map((l) => JSON.stringify(l)).join('\n')}`,
      ).toBe(true);
    }
    expect(scheduler.logs.filter((l) => l.msg === 'worker lost')).toEqual([]);

    // Desired workers rose while work was queued and fell to zero after.
    await until(() => samples.at(-1)!.at > Date.now() - 2 * SAMPLE_INTERVAL_MS && samples.at(-1)!.desired === 0, 'desired workers to fall to 0', 10_000);
    const during = samples.filter((s) => s.at >= jobStarted);
    const peak = Math.max(...during.map((s) => s.desired));
    expect(peak).toBeGreaterThanOrEqual(1);
    expect(during.some((s) => s.queued > 0 && s.desired >= 1)).toBe(true);
    const final = samples.at(-1)!;
    expect(final).toMatchObject({ desired: 0, queued: 0, running: 1 });
    // The running-worker count went 1 → 3 → 1.
    const counts = during.map((s) => s.running).filter((n, i, all) => i === 0 || n !== all[i - 1]);
    expect(counts[0]).toBe(1);
    expect(counts).toContain(3);
    expect(counts.at(-1)).toBe(1);
    timings.peakDesiredWorkers = peak;
    // The remaining worker and the scheduler agree: nothing failed, every task accounted for.
    const finalMetrics = await scheduler.scrape();
    expect(metricValue(finalMetrics, 'openeo_scheduler_tasks', { state: 'erred' })).toBe(0);
    expect(metricValue(finalMetrics, 'openeo_scheduler_tasks_finished_total')).toBeGreaterThan(0);
  });
});
