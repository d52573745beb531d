import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileJobStore } from '../../api/jobs/file-job-store.js';
import { BusEventSource } from '../../api/jobs/job-event-source.js';
import type { JobRecord } from '../../api/jobs/job-record.js';
import { JobService } from '../../api/jobs/job-service.js';
import { resultsDir, writtenFiles } from '../../api/jobs/result-files.js';
import { type SchedulerConnection, SchedulerUnavailableError } from '../../api/jobs/scheduler-client.js';
import { defaultProcessRegistry } from '../../api/processes/index.js';
import { InProcessBus, jobSubject, type JobStatusEvent } from '../../common/events/index.js';
import { createLogger } from '../../common/logger.js';
import { Catalog } from '../../ingest/catalog.js';
import { tempDir } from '../helpers/processes.js';

/**
 * The job service against a scripted scheduler: what happens to a job when the scheduler forgets
 * it, remembers only its outcome, or stops answering. Real file store, real in-process bus.
 */

/** A scheduler that does what the test says. */
class ScriptedScheduler {
  readonly address = '127.0.0.1:1';
  readonly jobs = new Set<string>();
  readonly submitted: string[] = [];
  outcomes: { jobId: string; statusEvent: string }[] = [];
  reachable = true;

  async submit(clusterJobId: string): Promise<void> {
    if (!this.reachable) throw new SchedulerUnavailableError('the scheduler is not reachable');
    this.jobs.add(clusterJobId);
    this.submitted.push(clusterJobId);
  }

  async cancel(clusterJobId: string): Promise<boolean> {
    return this.jobs.delete(clusterJobId);
  }

  async state(): Promise<{ jobIds: string[]; recentOutcomes: { jobId: string; statusEvent: string }[]; workers: { threads: number }[] }> {
    if (!this.reachable) throw new SchedulerUnavailableError('the scheduler is not reachable');
    return { jobIds: [...this.jobs], recentOutcomes: this.outcomes, workers: [{ threads: 2 }] };
  }

  close(): void {}
}

/** A process that compiles without data: a value saved as JSON. */
const VALUE_PROCESS = { process_graph: { sum: { process_id: 'sum', arguments: { data: [1, 2] } }, save: { process_id: 'save_result', arguments: { data: { from_node: 'sum' }, format: 'JSON' }, result: true } } };

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('jobs the scheduler lost end in a clear state', () => {
  let dataDir: string;
  let store: FileJobStore;
  let bus: InProcessBus;
  let scheduler: ScriptedScheduler;
  let service: JobService;

  beforeEach(async () => {
    dataDir = tempDir('reconcile');
    store = new FileJobStore(dataDir);
    bus = new InProcessBus();
    scheduler = new ScriptedScheduler();
    const logger = createLogger('test', 'silent');
    service = new JobService({
      store,
      catalog: new Catalog(dataDir),
      registry: defaultProcessRegistry(),
      scheduler: scheduler as unknown as SchedulerConnection,
      events: new BusEventSource(bus, logger),
      dataDir,
      logger,
      timing: { reconcileIntervalMs: 50, lostGraceMs: 150, schedulerUnreachableLimitMs: 400 },
    });
    await service.start();
  });

  afterEach(async () => {
    await service.stop();
    await bus.close();
  });

  async function running(logLevel = 'info'): Promise<JobRecord> {
    const job = await service.create('alice', { process: VALUE_PROCESS, log_level: logLevel });
    expect((await service.logs(job.id, {})).entries).toEqual([]);
    await service.startJob('alice', job.id);
    await until('submission', async () => scheduler.submitted.includes(`${job.id}~1`));
    bus.publish(jobSubject(`${job.id}~1`, 'status'), { jobId: `${job.id}~1`, status: 'running', done: 0, total: 2, at: new Date().toISOString() } satisfies JobStatusEvent);
    return until('running', async () => {
      const r = await store.get(job.id);
      return r?.status === 'running' ? r : undefined;
    });
  }

  it('keeps a job the scheduler knows running, however long it takes', async () => {
    const job = await running();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await store.get(job.id))!.status).toBe('running');
    expect(scheduler.submitted).toEqual([`${job.id}~1`]);
  });

  it('submits a lost job again once, and ends it as error with one log entry when it is lost again', async () => {
    const job = await running();
    scheduler.jobs.clear();
    await until('resubmission', async () => scheduler.submitted.includes(`${job.id}~2`));
    const resumed = (await store.get(job.id))!;
    expect([resumed.status, resumed.run, resumed.resumes]).toEqual(['queued', 2, 1]);
    scheduler.jobs.clear();
    const failed = await until('error', async () => {
      const r = await store.get(job.id);
      return r?.status === 'error' ? r : undefined;
    });
    expect(failed.error!.message).toMatch(/lost again/);
    const logs = (await service.logs(job.id, {})).entries;
    expect(logs.map((l) => l.level)).toEqual(['info', 'warning', 'error']);
    expect(logs[1]!.message).toMatch(/submitted again/);
    expect(scheduler.submitted).toEqual([`${job.id}~1`, `${job.id}~2`]);
  });

  it('takes the outcome the scheduler remembers for a job that ended while the API was not listening', async () => {
    const job = await running();
    const file = { name: 'result.json', path: `${resultsDir(job.id, 1)}/result.json`, bytes: 3, type: 'application/json' };
    const outcome: JobStatusEvent = { jobId: `${job.id}~1`, status: 'finished', done: 2, total: 2, at: new Date().toISOString(), outputs: [{ key: 'save', meta: { files: [file] } }] };
    scheduler.jobs.clear();
    scheduler.outcomes = [{ jobId: outcome.jobId, statusEvent: JSON.stringify(outcome) }];
    const finished = await until('finished', async () => {
      const r = await store.get(job.id);
      return r?.status === 'finished' ? r : undefined;
    });
    expect(finished.results).toEqual([file]);
    expect(scheduler.submitted).toEqual([`${job.id}~1`]);
  });

  it('ends active jobs as error when the scheduler stops answering, within the limit', async () => {
    const job = await running();
    scheduler.reachable = false;
    const lost = Date.now();
    const failed = await until('error', async () => {
      const r = await store.get(job.id);
      return r?.status === 'error' ? r : undefined;
    });
    expect(Date.now() - lost).toBeLessThan(2_000);
    expect(failed.error).toEqual({ code: 'InfrastructureBusy', message: expect.stringMatching(/scheduler \(127\.0\.0\.1:1\) has not answered for \d+ s/) });
    const errors = (await service.logs(job.id, { minLevel: 'error' })).entries;
    expect(errors).toHaveLength(1);
  });

  it('logs one concise entry per problem, at or above the job log level, never a stack trace', async () => {
    const job = await running('warning');
    const id = `${job.id}~1`;
    const trace = 'Error: cannot read chunk 3 of B04: unexpected end of file\n    at readTile (/app/worker/io/cog-reader.js:120:11)\n    at async evaluate (/app/worker/ir/evaluate.js:40:3)';
    for (let i = 0; i < 3; i++) bus.publish(jobSubject(id, 'log'), { jobId: id, level: 'warning', message: 'worker worker-2 left (connection closed); its tasks are being redone on other workers', at: new Date().toISOString(), source: 'scheduler' });
    bus.publish(jobSubject(id, 'log'), { jobId: id, level: 'info', message: 'not stored at log level warning', at: new Date().toISOString(), source: 'scheduler' });
    bus.publish(jobSubject(id, 'log'), { jobId: id, level: 'error', message: trace, at: new Date().toISOString(), source: 'worker-1' });
    bus.publish(jobSubject(id, 'status'), { jobId: id, status: 'error', done: 1, total: 2, at: new Date().toISOString(), error: { code: 'DataUnavailable', message: trace } } satisfies JobStatusEvent);
    await until('error', async () => (await store.get(job.id))?.status === 'error');
    await bus.flush();
    const logs = (await service.logs(job.id, {})).entries;
    expect(logs.map((l) => [l.level, l.message])).toEqual([
      ['warning', 'worker worker-2 left (connection closed); its tasks are being redone on other workers'],
      ['error', 'cannot read chunk 3 of B04: unexpected end of file'],
    ]);
    expect((await store.get(job.id))!.error).toEqual({ code: 'DataUnavailable', message: 'cannot read chunk 3 of B04: unexpected end of file' });
  });

  it('lists the files of a running job written so far, never half-written ones', async () => {
    const dir = join(dataDir, resultsDir('j-partial', 3));
    expect(await writtenFiles(dataDir, 'j-partial', 3)).toEqual([]);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'result_2020-06-03.tif'), 'complete');
    writeFileSync(join(dir, '.result_2020-06-08.tif.123-abcd.partial'), 'half');
    expect(await writtenFiles(dataDir, 'j-partial', 3)).toEqual([{ name: 'result_2020-06-03.tif', path: `${resultsDir('j-partial', 3)}/result_2020-06-03.tif`, bytes: 8, type: 'image/tiff; application=geotiff; profile=cloud-optimized' }]);
  });
});
