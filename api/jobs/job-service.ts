import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_JOB_LOST_GRACE_MS, DEFAULT_JOB_RECONCILE_INTERVAL_MS, DEFAULT_SCHEDULER_UNREACHABLE_LIMIT_MS } from '../../common/config.js';
import { describeError, OpenEOError } from '../../common/errors.js';
import { type JobLogEvent, type JobProgressEvent, type JobStatusEvent, parseJobSubject } from '../../common/events/index.js';
import type { Logger } from '../../common/logger.js';
import type { Catalog } from '../../ingest/catalog.js';
import { type CompiledJob, compileProcess } from '../compiler/compile.js';
import { isLegacyGraph, withoutCredentials } from '../compiler/legacy-graphs.js';
import type { ProcessGraph } from '../compiler/process-graph.js';
import type { ProcessRegistry } from '../processes/registry.js';
import { clusterJobId, parseClusterJobId } from './cluster-job-id.js';
import { estimateJob, isoDuration } from './estimate.js';
import type { JobEventSource } from './job-event-source.js';
import { conciseMessage } from './job-log.js';
import { ACTIVE_STATUSES, LOG_LEVEL_ORDER, type JobRecord, type LogEntry, type ResultFile } from './job-record.js';
import type { JobStore } from './job-store.js';
import { removeUnpublished, resultsDir, writtenFiles } from './result-files.js';
import { type SchedulerConnection, SchedulerUnavailableError } from './scheduler-client.js';

/**
 * Automatic resubmissions of one start after the scheduler lost the job: one. A job lost twice
 * is more likely the cause than the victim (it brought the scheduler down), so it ends as
 * `error` rather than taking the cluster down again.
 */
export const MAX_AUTOMATIC_RESUMES = 1;

/** How long an estimate stays valid (ms): an hour; data and cluster change slowly. */
export const ESTIMATE_VALIDITY_MS = 3600 * 1000;

export interface JobTiming {
  /** How often active jobs are checked against the scheduler (ms). */
  reconcileIntervalMs: number;
  /** A job unknown to the scheduler for this long (ms) was lost. */
  lostGraceMs: number;
  /** Active jobs end as `error` when the scheduler has not answered for this long (ms). */
  schedulerUnreachableLimitMs: number;
}

export const DEFAULT_JOB_TIMING: JobTiming = {
  reconcileIntervalMs: DEFAULT_JOB_RECONCILE_INTERVAL_MS,
  lostGraceMs: DEFAULT_JOB_LOST_GRACE_MS,
  schedulerUnreachableLimitMs: DEFAULT_SCHEDULER_UNREACHABLE_LIMIT_MS,
};

export interface JobServiceDeps {
  store: JobStore;
  catalog: Catalog;
  registry: ProcessRegistry;
  scheduler: SchedulerConnection;
  events: JobEventSource;
  dataDir: string;
  logger: Logger;
  timing?: Partial<JobTiming>;
}

export interface JobCreation {
  title?: unknown;
  description?: unknown;
  process?: unknown;
  plan?: unknown;
  budget?: unknown;
  log_level?: unknown;
}

/** `GET /jobs/{id}/estimate`. */
export interface JobEstimateBody {
  costs: number;
  duration: string;
  size: number;
  downloads_included: null;
  expires: string;
}

const EDITABLE = ['title', 'description', 'process', 'plan', 'budget', 'log_level'] as const;
const LOG_LEVELS = ['debug', 'info', 'warning', 'error'] as const;

/** The process as kept and shown back: credentials of predecessor graphs are removed, never stored. */
function storedProcess(process: unknown): Record<string, unknown> {
  const record = process as Record<string, unknown>;
  const graph = record.process_graph as ProcessGraph | undefined;
  if (!graph || typeof graph !== 'object' || !isLegacyGraph(graph)) return record;
  return { ...record, process_graph: withoutCredentials(graph) };
}

function nullableString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new OpenEOError('BadRequest', `"${field}" must be a string`);
  return value;
}

/**
 * Batch jobs: creation (validated by compiling), start, cancel, deletion, and the consumer of
 * job events that keeps status, progress, logs and results up to date. A reconcile loop makes
 * sure no job stays queued or running when the scheduler lost it: it takes the outcome the
 * scheduler remembers, submits the job again once, or ends it as `error` with a log entry.
 */
export class JobService {
  private reconcileTimer: NodeJS.Timeout | null = null;
  private readonly timing: JobTiming;
  /** Last time each active job was seen alive (event or scheduler listing). */
  private readonly lastSeen = new Map<string, number>();
  /** Jobs this process is compiling or submitting: the scheduler cannot know them yet. */
  private readonly submitting = new Set<string>();
  /** Last message logged per job, so a problem reported twice is logged once. */
  private readonly lastLogged = new Map<string, string>();
  /** Last time the scheduler answered. */
  private schedulerSeenAt = Date.now();

  constructor(private readonly deps: JobServiceDeps) {
    this.timing = { ...DEFAULT_JOB_TIMING, ...deps.timing };
  }

  async start(): Promise<void> {
    // Events first: whatever happened while the API was away is applied before jobs are judged lost.
    await this.deps.events.start((subject, payload) => this.onEvent(subject, payload));
    this.schedulerSeenAt = Date.now();
    await this.reconcile(true).catch((error: unknown) => this.deps.logger.error({ err: error }, 'reconciling jobs at start failed'));
    this.reconcileTimer = setInterval(() => void this.reconcile().catch((error: unknown) => this.deps.logger.error({ err: error }, 'reconciling jobs failed')), this.timing.reconcileIntervalMs);
    this.reconcileTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    this.reconcileTimer = null;
    await this.deps.events.stop();
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
      process: storedProcess(body.process),
      plan: nullableString(body.plan, 'plan'),
      budget: (body.budget as number | null | undefined) ?? null,
      logLevel: logLevel as JobRecord['logLevel'],
      status: 'created',
      progress: 0,
      created: now,
      updated: now,
      run: 0,
      resumes: 0,
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
    this.forget(id);
    await rm(join(this.deps.dataDir, 'jobs', id), { recursive: true, force: true });
  }

  /** Queues a run of the job; returns at once, compilation and submission continue in the background. */
  async startJob(owner: string, id: string): Promise<void> {
    const record = await this.get(owner, id);
    if (ACTIVE_STATUSES.includes(record.status)) return; // openEO: no effect on queued or running jobs
    const now = new Date().toISOString();
    const started = await this.deps.store.update(id, (r) => {
      if (ACTIVE_STATUSES.includes(r.status)) return null;
      return { ...r, status: 'queued', run: r.run + 1, resumes: 0, progress: 0, tasksDone: 0, tasksTotal: 0, error: null, results: null, outputs: null, startedAt: null, finishedAt: null, updated: now };
    });
    if (!started || started.status !== 'queued' || started.run === record.run) return;
    this.lastSeen.set(id, Date.now());
    this.lastLogged.delete(id);
    this.submitting.add(id);
    // A restart discards the previous results.
    await rm(join(this.deps.dataDir, 'jobs', id, 'results'), { recursive: true, force: true });
    await this.log(started, 'debug', `job queued (run ${started.run})`);
    void this.submit(started);
  }

  async cancel(owner: string, id: string): Promise<void> {
    const record = await this.get(owner, id);
    if (!ACTIVE_STATUSES.includes(record.status)) return;
    const canceled = await this.deps.store.update(id, (r) => (ACTIVE_STATUSES.includes(r.status) ? { ...r, status: 'canceled', finishedAt: new Date().toISOString(), updated: new Date().toISOString() } : null));
    this.lastSeen.delete(id);
    if (canceled?.status === 'canceled') await this.log(canceled, 'info', 'job canceled by the user');
    try {
      await this.deps.scheduler.cancel(clusterJobId(id, record.run));
    } catch (error) {
      this.deps.logger.warn({ jobId: id, error: describeError(error) }, 'cancel did not reach the scheduler');
    }
  }

  logs(id: string, options: { offset?: string | null; minLevel?: LogEntry['level']; limit?: number }): ReturnType<JobStore['logs']> {
    return this.deps.store.logs(id, options);
  }

  /**
   * The files of a job as `GET /jobs/{id}/results` lists them: the writers' reports once it is
   * finished; while it runs (or after a cancel), the files of the current run written so far.
   */
  async resultFiles(record: JobRecord): Promise<ResultFile[]> {
    if (record.status === 'finished') return record.results ?? [];
    if (record.run === 0) return [];
    return writtenFiles(this.deps.dataDir, record.id, record.run);
  }

  /** Size and duration of the job as it is now, from its compiled task graph; costs nothing. */
  async estimate(owner: string, id: string): Promise<JobEstimateBody> {
    const record = await this.get(owner, id);
    const compiled = await compileProcess(record.process, {
      catalog: this.deps.catalog,
      registry: this.deps.registry,
      target: { jobId: id, outputDir: resultsDir(id, record.run + 1) },
    });
    let threads = 1;
    try {
      const state = await this.deps.scheduler.state();
      threads = Math.max(1, state.workers.reduce((n, w) => n + w.threads, 0));
    } catch {
      // No scheduler: estimate for one thread, an upper limit like the size.
    }
    const { bytes, seconds } = estimateJob(compiled.tasks, compiled.outputs, threads);
    return { costs: 0, duration: isoDuration(seconds), size: bytes, downloads_included: null, expires: new Date(Date.now() + ESTIMATE_VALIDITY_MS).toISOString() };
  }

  // ---------------------------------------------------------------- internals

  private forget(id: string): void {
    this.lastSeen.delete(id);
    this.lastLogged.delete(id);
    this.submitting.delete(id);
  }

  private async submit(record: JobRecord): Promise<void> {
    const id = record.id;
    this.submitting.add(id);
    try {
      const compiled = await compileProcess(record.process, {
        catalog: this.deps.catalog,
        registry: this.deps.registry,
        target: { jobId: id, outputDir: resultsDir(id, record.run) },
      });
      for (const warning of compiled.warnings) await this.log(record, 'warning', warning);
      const current = await this.deps.store.update(id, (r) => {
        if (r.run !== record.run || r.status !== 'queued') return null;
        return { ...r, tasksTotal: compiled.tasks.length, outputs: compiled.saved.map((s) => ({ format: s.format, grid: s.grid, timeRange: s.timeRange })), updated: new Date().toISOString() };
      });
      if (!current || current.run !== record.run || current.status !== 'queued') return;
      await this.log(current, 'debug', `compiled to ${compiled.tasks.length} tasks (${Object.entries(compiled.tasksByOp).map(([op, n]) => `${n} ${op}`).join(', ')})`);
      await this.deps.scheduler.submit(clusterJobId(id, record.run), compiled.tasks, compiled.outputs);
      this.lastSeen.set(id, Date.now());
    } catch (error) {
      const openeo =
        error instanceof OpenEOError
          ? { code: error.code, message: error.message }
          : error instanceof SchedulerUnavailableError
            ? { code: 'InfrastructureBusy', message: 'the processing cluster is not reachable; start the job again later' }
            : { code: 'Internal', message: `the job could not be started: ${describeError(error)}` };
      if (!(error instanceof OpenEOError)) this.deps.logger.error({ err: error, jobId: id }, 'job start failed');
      await this.fail(id, record.run, openeo);
    } finally {
      this.submitting.delete(id);
    }
  }

  private async fail(id: string, run: number, error: { code: string; message: string }): Promise<void> {
    const updated = await this.deps.store.update(id, (r) => {
      if (r.run !== run || !ACTIVE_STATUSES.includes(r.status)) return null;
      return { ...r, status: 'error', error, finishedAt: new Date().toISOString(), updated: new Date().toISOString() };
    });
    this.lastSeen.delete(id);
    if (updated?.status === 'error' && updated.run === run) await this.log(updated, 'error', error.message, error.code);
    this.lastLogged.delete(id);
  }

  /**
   * Appends a concise entry if the job's log level keeps it (openEO: `log_level` is the lowest
   * level stored) and it does not repeat the entry before it.
   */
  private async log(record: Pick<JobRecord, 'id' | 'logLevel'>, level: LogEntry['level'], message: string, code?: string, time = new Date().toISOString(), data?: unknown): Promise<void> {
    if (LOG_LEVEL_ORDER[level] < LOG_LEVEL_ORDER[record.logLevel]) return;
    const text = conciseMessage(message, this.deps.dataDir);
    if (this.lastLogged.get(record.id) === `${level} ${text}`) return;
    this.lastLogged.set(record.id, `${level} ${text}`);
    const entry: Omit<LogEntry, 'id'> = { level, message: text, time };
    if (code) entry.code = code;
    if (data !== undefined) entry.data = data;
    await this.deps.store.appendLog(record.id, entry);
  }

  private async onEvent(subject: string, payload: unknown): Promise<void> {
    const parsed = parseJobSubject(subject);
    if (!parsed) return;
    const ids = parseClusterJobId(parsed.jobId);
    if (!ids) return;
    const { jobId, run } = ids;
    const record = await this.deps.store.get(jobId);
    if (!record || record.run !== run) return;
    if (ACTIVE_STATUSES.includes(record.status)) this.lastSeen.set(jobId, Date.now());
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
        await this.log(record, event.level, event.message, undefined, event.at, event.data);
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
      if (updated?.status === 'running' && updated.startedAt === now) await this.log(updated, 'info', `running ${event.total} tasks`);
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
      if (updated?.status === 'finished' && updated.finishedAt === now) await this.log(updated, 'info', `finished: ${files.length} file(s) written`);
    } else if (event.status === 'error') {
      const error = event.error ? { code: event.error.code, message: conciseMessage(event.error.message, this.deps.dataDir) } : { code: 'Internal', message: 'the job failed' };
      const updated = await this.deps.store.update(jobId, (r) => {
        if (r.run !== run || !ACTIVE_STATUSES.includes(r.status)) return null;
        return { ...r, status: 'error', error, tasksDone: event.done, finishedAt: now, updated: now };
      });
      // The scheduler logs the failure just before; this adds it only when that entry is missing.
      if (updated?.status === 'error' && updated.finishedAt === now) await this.log(updated, 'error', error.message, error.code);
    } else if (event.status === 'canceled') {
      await this.deps.store.update(jobId, (r) => (r.run === run && ACTIVE_STATUSES.includes(r.status) ? { ...r, status: 'canceled', finishedAt: now, updated: now } : null));
    }
    // The run is over: nothing is left to repeat itself.
    this.lastLogged.delete(jobId);
    await removeUnpublished(this.deps.dataDir, jobId, run).catch((error: unknown) => this.deps.logger.warn({ err: error, jobId }, 'removing the unpublished files of a run failed'));
  }

  /**
   * Makes sure no job stays queued or running without the scheduler working on it. For each
   * active job the scheduler does not know: the outcome it remembers (the job ended while this
   * API was away), or else, once the grace period is over, one resubmission or `error`. When the
   * scheduler does not answer for SCHEDULER_UNREACHABLE_LIMIT_MS, active jobs end as `error`.
   */
  private async reconcile(atStartup = false): Promise<void> {
    const active = (await this.deps.store.all()).filter((r) => ACTIVE_STATUSES.includes(r.status) && !this.submitting.has(r.id));
    let state: Awaited<ReturnType<SchedulerConnection['state']>>;
    try {
      state = await this.deps.scheduler.state();
      this.schedulerSeenAt = Date.now();
    } catch {
      const silentMs = Date.now() - this.schedulerSeenAt;
      if (silentMs < this.timing.schedulerUnreachableLimitMs) return;
      const message = `the job was stopped because the processing cluster's scheduler (${this.deps.scheduler.address}) has not answered for ${Math.round(silentMs / 1000)} s; start the job again once it is back`;
      for (const record of active) await this.fail(record.id, record.run, { code: 'InfrastructureBusy', message });
      return;
    }
    if (active.length === 0) return;
    const known = new Set(state.jobIds);
    const outcomes = new Map<string, JobStatusEvent>();
    for (const outcome of state.recentOutcomes ?? []) {
      try {
        outcomes.set(outcome.jobId, JSON.parse(outcome.statusEvent) as JobStatusEvent);
      } catch {
        // An outcome that does not parse is no outcome: the job is judged as lost.
      }
    }
    const now = Date.now();
    for (const record of active) {
      const id = clusterJobId(record.id, record.run);
      if (known.has(id)) {
        this.lastSeen.set(record.id, now);
        continue;
      }
      const outcome = outcomes.get(id);
      if (outcome) {
        await this.log(record, 'debug', `the scheduler reported the job ${outcome.status} while this API was away`);
        await this.onStatus(record.id, record.run, outcome, new Date().toISOString());
        continue;
      }
      const seen = this.lastSeen.get(record.id) ?? (atStartup ? 0 : Date.parse(record.updated));
      if (now - seen < this.timing.lostGraceMs) continue;
      if ((record.resumes ?? 0) < MAX_AUTOMATIC_RESUMES) await this.resume(record);
      else await this.fail(record.id, record.run, { code: 'Internal', message: 'the job was lost again because the processing service restarted while it ran; start it again' });
    }
  }

  /** Submits a lost job again as a new run (task keys are deterministic; nothing of the lost run is kept). */
  private async resume(record: JobRecord): Promise<void> {
    const now = new Date().toISOString();
    const resumed = await this.deps.store.update(record.id, (r) => {
      if (r.run !== record.run || !ACTIVE_STATUSES.includes(r.status)) return null;
      return { ...r, status: 'queued', run: r.run + 1, resumes: (r.resumes ?? 0) + 1, progress: 0, tasksDone: 0, tasksTotal: 0, results: null, outputs: null, startedAt: null, updated: now };
    });
    if (!resumed || resumed.run !== record.run + 1) return;
    this.lastSeen.set(record.id, Date.now());
    await rm(join(this.deps.dataDir, resultsDir(record.id, record.run)), { recursive: true, force: true });
    await this.log(resumed, 'warning', 'the job was interrupted because the processing service restarted; it was submitted again and starts over');
    void this.submit(resumed);
  }
}
