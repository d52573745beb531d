import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, OpenEOError } from '../../common/errors.js';
import {
  ALL_JOB_EVENTS,
  type EventBus,
  type JobLogEvent,
  type JobProgressEvent,
  type JobStatusEvent,
  parseJobSubject,
  type Subscription,
} from '../../common/events/index.js';
import type { Logger } from '../../common/logger.js';
import type { Catalog } from '../../ingest/catalog.js';
import { type CompiledJob, compileProcess } from '../compiler/compile.js';
import type { ProcessRegistry } from '../processes/registry.js';
import { clusterJobId, parseClusterJobId } from './cluster-job-id.js';
import { ACTIVE_STATUSES, type JobRecord, type LogEntry, type ResultFile } from './job-record.js';
import type { JobStore } from './job-store.js';
import { type SchedulerConnection, SchedulerUnavailableError } from './scheduler-client.js';

/** How often running jobs are checked against the scheduler (ms). */
export const RECONCILE_INTERVAL_MS = 5_000;
/** A queued or running job unknown to the scheduler for this long (ms) was lost (scheduler restart). */
export const LOST_JOB_GRACE_MS = 15_000;

export interface JobServiceDeps {
  store: JobStore;
  catalog: Catalog;
  registry: ProcessRegistry;
  scheduler: SchedulerConnection;
  bus: EventBus;
  dataDir: string;
  logger: Logger;
}

export interface JobCreation {
  title?: unknown;
  description?: unknown;
  process?: unknown;
  plan?: unknown;
  budget?: unknown;
  log_level?: unknown;
}

const EDITABLE = ['title', 'description', 'process', 'plan', 'budget', 'log_level'] as const;
const LOG_LEVELS = ['debug', 'info', 'warning', 'error'] as const;

function resultsDir(jobId: string, run: number): string {
  return join('jobs', jobId, 'results', `r${run}`);
}

function nullableString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new OpenEOError('BadRequest', `"${field}" must be a string`);
  return value;
}

/**
 * Batch jobs: creation (validated by compiling), start, cancel, deletion, and the consumer of
 * job events that keeps status, progress, logs and results up to date.
 */
export class JobService {
  private subscription: Subscription | null = null;
  private reconcileTimer: NodeJS.Timeout | null = null;
  /** Last time each active job was seen alive (event or scheduler listing). */
  private readonly lastSeen = new Map<string, number>();

  constructor(private readonly deps: JobServiceDeps) {}

  async start(): Promise<void> {
    this.subscription = this.deps.bus.subscribe(ALL_JOB_EVENTS, (subject, payload) => {
      void this.onEvent(subject, payload).catch((error: unknown) => this.deps.logger.error({ err: error, subject }, 'job event not applied'));
    });
    this.reconcileTimer = setInterval(() => void this.reconcile().catch(() => undefined), RECONCILE_INTERVAL_MS);
    this.reconcileTimer.unref();
    await this.reconcile(true);
  }

  async stop(): Promise<void> {
    this.subscription?.unsubscribe();
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
  }

  // ---------------------------------------------------------------- requests

  /** Checks a process graph as POST /validation does: every error a start would raise. */
  async validate(process: unknown): Promise<CompiledJob> {
    return compileProcess(process, { catalog: this.deps.catalog, registry: this.deps.registry, target: { jobId: 'validation', outputDir: 'validation' } });
  }

  async create(owner: string, body: JobCreation): Promise<JobRecord> {
    await this.validate(body.process);
    const now = new Date().toISOString();
    const logLevel = body.log_level ?? 'info';
    if (!LOG_LEVELS.includes(logLevel as (typeof LOG_LEVELS)[number])) throw new OpenEOError('BadRequest', `"log_level" must be one of ${LOG_LEVELS.join(', ')}`);
    if (body.budget !== undefined && body.budget !== null && typeof body.budget !== 'number') throw new OpenEOError('BadRequest', '"budget" must be a number');
    const record: JobRecord = {
      id: `j-${randomBytes(8).toString('hex')}`,
      owner,
      title: nullableString(body.title, 'title'),
      description: nullableString(body.description, 'description'),
      process: body.process as Record<string, unknown>,
      plan: nullableString(body.plan, 'plan'),
      budget: (body.budget as number | null | undefined) ?? null,
      logLevel: logLevel as JobRecord['logLevel'],
      status: 'created',
      progress: 0,
      created: now,
      updated: now,
      run: 0,
      tasksDone: 0,
      tasksTotal: 0,
      startedAt: null,
      finishedAt: null,
      error: null,
      results: null,
      outputs: null,
    };
    await this.deps.store.create(record);
    return record;
  }

  /** The job if it exists and belongs to `owner`; otherwise JobNotFound (others' jobs are invisible). */
  async get(owner: string, id: string): Promise<JobRecord> {
    const record = await this.deps.store.get(id);
    if (!record || record.owner !== owner) throw new OpenEOError('JobNotFound', `job "${id}" does not exist`);
    return record;
  }

  /** The job whoever owns it: for signed result links, which carry their own authorization. */
  getAny(id: string): Promise<JobRecord | undefined> {
    return this.deps.store.get(id);
  }

  list(owner: string): Promise<JobRecord[]> {
    return this.deps.store.list(owner);
  }

  async update(owner: string, id: string, patch: Record<string, unknown>): Promise<void> {
    const record = await this.get(owner, id);
    if (ACTIVE_STATUSES.includes(record.status)) throw new OpenEOError('JobLocked', `job "${id}" is ${record.status}; cancel it before changing it`);
    const fields = Object.keys(patch).filter((k) => (EDITABLE as readonly string[]).includes(k));
    if (fields.length === 0) throw new OpenEOError('NoDataForUpdate', `nothing to update; editable fields are ${EDITABLE.join(', ')}`);
    if ('process' in patch) await this.validate(patch.process);
    if ('log_level' in patch && !LOG_LEVELS.includes(patch.log_level as (typeof LOG_LEVELS)[number])) throw new OpenEOError('BadRequest', `"log_level" must be one of ${LOG_LEVELS.join(', ')}`);
    await this.deps.store.update(id, (r) => {
      if (ACTIVE_STATUSES.includes(r.status)) throw new OpenEOError('JobLocked', `job "${id}" is ${r.status}; cancel it before changing it`);
      if ('title' in patch) r.title = nullableString(patch.title, 'title');
      if ('description' in patch) r.description = nullableString(patch.description, 'description');
      if ('process' in patch) r.process = patch.process as Record<string, unknown>;
      if ('plan' in patch) r.plan = nullableString(patch.plan, 'plan');
      if ('budget' in patch) r.budget = (patch.budget as number | null) ?? null;
      if ('log_level' in patch) r.logLevel = patch.log_level as JobRecord['logLevel'];
      r.updated = new Date().toISOString();
      return r;
    });
  }

  async remove(owner: string, id: string): Promise<void> {
    const record = await this.get(owner, id);
    if (ACTIVE_STATUSES.includes(record.status)) await this.cancel(owner, id);
    await this.deps.store.delete(id);
  }

  /** Queues a run of the job; returns at once, compilation and submission continue in the background. */
  async startJob(owner: string, id: string): Promise<void> {
    const record = await this.get(owner, id);
    if (ACTIVE_STATUSES.includes(record.status)) return; // openEO: no effect on queued or running jobs
    const now = new Date().toISOString();
    const started = await this.deps.store.update(id, (r) => {
      if (ACTIVE_STATUSES.includes(r.status)) return null;
      return { ...r, status: 'queued', run: r.run + 1, progress: 0, tasksDone: 0, tasksTotal: 0, error: null, results: null, outputs: null, startedAt: null, finishedAt: null, updated: now };
    });
    if (!started || started.status !== 'queued' || started.run === record.run) return;
    this.lastSeen.set(id, Date.now());
    // A restart discards the previous results.
    await rm(join(this.deps.dataDir, 'jobs', id, 'results'), { recursive: true, force: true });
    await this.log(id, 'info', `job queued (run ${started.run})`);
    void this.submit(started);
  }

  async cancel(owner: string, id: string): Promise<void> {
    const record = await this.get(owner, id);
    if (!ACTIVE_STATUSES.includes(record.status)) return;
    await this.deps.store.update(id, (r) => (ACTIVE_STATUSES.includes(r.status) ? { ...r, status: 'canceled', finishedAt: new Date().toISOString(), updated: new Date().toISOString() } : null));
    this.lastSeen.delete(id);
    await this.log(id, 'info', 'job canceled by the user');
    try {
      await this.deps.scheduler.cancel(clusterJobId(id, record.run));
    } catch (error) {
      this.deps.logger.warn({ jobId: id, error: describeError(error) }, 'cancel did not reach the scheduler');
    }
  }

  logs(id: string, options: { offset?: string | null; minLevel?: LogEntry['level']; limit?: number }): ReturnType<JobStore['logs']> {
    return this.deps.store.logs(id, options);
  }

  // ---------------------------------------------------------------- internals

  private async submit(record: JobRecord): Promise<void> {
    const id = record.id;
    try {
      const compiled = await compileProcess(record.process, {
        catalog: this.deps.catalog,
        registry: this.deps.registry,
        target: { jobId: id, outputDir: resultsDir(id, record.run) },
      });
      for (const warning of compiled.warnings) await this.log(id, 'warning', warning);
      const current = await this.deps.store.update(id, (r) => {
        if (r.run !== record.run || r.status !== 'queued') return null;
        return { ...r, tasksTotal: compiled.tasks.length, outputs: compiled.saved.map((s) => ({ format: s.format, grid: s.grid, timeRange: s.timeRange })), updated: new Date().toISOString() };
      });
      if (!current || current.run !== record.run || current.status !== 'queued') return;
      await this.log(id, 'info', `compiled to ${compiled.tasks.length} tasks (${Object.entries(compiled.tasksByOp).map(([op, n]) => `${n} ${op}`).join(', ')})`);
      await this.deps.scheduler.submit(clusterJobId(id, record.run), compiled.tasks, compiled.outputs);
    } catch (error) {
      const openeo =
        error instanceof OpenEOError
          ? { code: error.code, message: error.message }
          : error instanceof SchedulerUnavailableError
            ? { code: 'InfrastructureBusy', message: 'the processing cluster is not reachable; start the job again later' }
            : { code: 'Internal', message: `the job could not be started: ${describeError(error)}` };
      if (!(error instanceof OpenEOError)) this.deps.logger.error({ err: error, jobId: id }, 'job start failed');
      await this.fail(id, record.run, openeo);
    }
  }

  private async fail(id: string, run: number, error: { code: string; message: string }): Promise<void> {
    const updated = await this.deps.store.update(id, (r) => {
      if (r.run !== run || !ACTIVE_STATUSES.includes(r.status)) return null;
      return { ...r, status: 'error', error, finishedAt: new Date().toISOString(), updated: new Date().toISOString() };
    });
    this.lastSeen.delete(id);
    if (updated?.status === 'error' && updated.run === run) await this.log(id, 'error', error.message, error.code);
  }

  private async log(id: string, level: LogEntry['level'], message: string, code?: string): Promise<void> {
    const entry: Omit<LogEntry, 'id'> = { level, message, time: new Date().toISOString() };
    if (code) entry.code = code;
    await this.deps.store.appendLog(id, entry);
  }

  private async onEvent(subject: string, payload: unknown): Promise<void> {
    const parsed = parseJobSubject(subject);
    if (!parsed) return;
    const ids = parseClusterJobId(parsed.jobId);
    if (!ids) return;
    const { jobId, run } = ids;
    const record = await this.deps.store.get(jobId);
    if (!record || record.run !== run) return;
    this.lastSeen.set(jobId, Date.now());
    const now = new Date().toISOString();
    switch (parsed.kind) {
      case 'progress': {
        const event = payload as JobProgressEvent;
        await this.deps.store.update(jobId, (r) => {
          if (r.run !== run || !ACTIVE_STATUSES.includes(r.status)) return null;
          return { ...r, status: 'running', startedAt: r.startedAt ?? now, tasksDone: event.done, tasksTotal: event.total, progress: Math.min(99, Math.floor((100 * event.done) / Math.max(1, event.total))), updated: now };
        });
        break;
      }
      case 'log': {
        const event = payload as JobLogEvent;
        const entry: Omit<LogEntry, 'id'> = { level: event.level, message: event.message, time: event.at };
        if (event.data !== undefined) entry.data = event.data;
        await this.deps.store.appendLog(jobId, entry);
        break;
      }
      case 'status':
        await this.onStatus(jobId, run, payload as JobStatusEvent, now);
        break;
    }
  }

  private async onStatus(jobId: string, run: number, event: JobStatusEvent, now: string): Promise<void> {
    if (event.status === 'running') {
      const updated = await this.deps.store.update(jobId, (r) => {
        if (r.run !== run || r.status !== 'queued') return null;
        return { ...r, status: 'running', startedAt: now, tasksTotal: event.total, tasksDone: event.done, updated: now };
      });
      if (updated?.status === 'running' && updated.startedAt === now) await this.log(jobId, 'info', `running ${event.total} tasks`);
      return;
    }
    this.lastSeen.delete(jobId);
    if (event.status === 'finished') {
      const files: ResultFile[] = [];
      for (const output of event.outputs ?? []) {
        const meta = output.meta as { files?: ResultFile[] } | null;
        for (const file of meta?.files ?? []) files.push(file);
      }
      const updated = await this.deps.store.update(jobId, (r) => {
        if (r.run !== run || !ACTIVE_STATUSES.includes(r.status)) return null;
        return { ...r, status: 'finished', progress: 100, tasksDone: event.done, tasksTotal: event.total, results: files, finishedAt: now, updated: now };
      });
      if (updated?.status === 'finished' && updated.finishedAt === now) await this.log(jobId, 'info', `finished: ${files.length} file(s) written`);
    } else if (event.status === 'error') {
      await this.deps.store.update(jobId, (r) => {
        if (r.run !== run || !ACTIVE_STATUSES.includes(r.status)) return null;
        return { ...r, status: 'error', error: event.error ?? { code: 'Internal', message: 'the job failed' }, tasksDone: event.done, finishedAt: now, updated: now };
      });
    } else if (event.status === 'canceled') {
      await this.deps.store.update(jobId, (r) => (r.run === run && ACTIVE_STATUSES.includes(r.status) ? { ...r, status: 'canceled', finishedAt: now, updated: now } : null));
    }
  }

  /**
   * Ends jobs the scheduler no longer knows (it restarted, or the API missed their end while
   * down): they become `error` with a log entry, never `running` forever.
   */
  private async reconcile(atStartup = false): Promise<void> {
    const active = (await this.deps.store.all()).filter((r) => ACTIVE_STATUSES.includes(r.status));
    if (active.length === 0) return;
    let known: Set<string>;
    try {
      known = new Set((await this.deps.scheduler.state()).jobIds);
    } catch {
      return; // The scheduler is down: decide when it is back.
    }
    const now = Date.now();
    for (const record of active) {
      const id = clusterJobId(record.id, record.run);
      if (known.has(id)) {
        this.lastSeen.set(record.id, now);
        continue;
      }
      const seen = this.lastSeen.get(record.id) ?? (atStartup ? 0 : Date.parse(record.updated));
      if (now - seen < LOST_JOB_GRACE_MS) continue;
      await this.fail(record.id, record.run, { code: 'Internal', message: 'the job was interrupted because the processing service restarted; start it again' });
    }
  }
}
