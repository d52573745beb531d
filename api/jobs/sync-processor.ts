import { randomBytes } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_JOB_LOST_GRACE_MS, DEFAULT_SYNC_MAX_ESTIMATED_SECONDS, DEFAULT_SYNC_MAX_RESULT_BYTES, DEFAULT_SYNC_TIMEOUT_MS } from '../../common/config.js';
import { describeError, OPENEO_ERROR_STATUS, OpenEOError, type OpenEOErrorCode } from '../../common/errors.js';
import { type EventBus, type JobStatusEvent, jobSubject } from '../../common/events/index.js';
import type { Logger } from '../../common/logger.js';
import type { Catalog } from '../../ingest/catalog.js';
import { compileProcess } from '../compiler/compile.js';
import type { Value } from '../compiler/values.js';
import type { ProcessRegistry } from '../processes/registry.js';
import { clusterJobId } from './cluster-job-id.js';
import { estimateJob } from './estimate.js';
import type { ResultFile } from './job-record.js';
import { type SchedulerConnection, SchedulerUnavailableError } from './scheduler-client.js';

/** Folder of synchronous results under DATA_DIR; each request writes to its own and removes it once sent. */
export const SYNC_RESULTS_DIR = 'sync';

/**
 * How often a waiting request asks the scheduler about its job (ms): the status event normally
 * ends the wait; this catches one lost on the way (a NATS reconnect) and a scheduler restart.
 */
export const SYNC_STATE_POLL_INTERVAL_MS = 2_000;

/** Synchronous results left behind are removed at start once this old (ms): no request takes a day. */
export const SYNC_LEFTOVER_AGE_MS = 24 * 3600_000;

export interface SyncLimits {
  timeoutMs: number;
  maxEstimatedSeconds: number;
  maxResultBytes: number;
}

export const DEFAULT_SYNC_LIMITS: SyncLimits = {
  timeoutMs: DEFAULT_SYNC_TIMEOUT_MS,
  maxEstimatedSeconds: DEFAULT_SYNC_MAX_ESTIMATED_SECONDS,
  maxResultBytes: DEFAULT_SYNC_MAX_RESULT_BYTES,
};

export interface SyncProcessorDeps {
  catalog: Catalog;
  registry: ProcessRegistry;
  scheduler: SchedulerConnection;
  bus: EventBus;
  dataDir: string;
  logger: Logger;
  limits?: Partial<SyncLimits>;
  /** A job the scheduler does not know for this long (ms) was lost. */
  lostGraceMs?: number;
}

/** What a synchronous request answers with. */
export type SyncResult =
  | { kind: 'value'; value: Value; warnings: string[] }
  | {
      kind: 'files';
      files: ResultFile[];
      warnings: string[];
      /** Removes the result files; call once they are sent (or the client left). */
      discard(): Promise<void>;
    };

function openeoCode(code: string): OpenEOErrorCode {
  return code in OPENEO_ERROR_STATUS ? (code as OpenEOErrorCode) : 'Internal';
}

/**
 * Synchronous processing (`POST /result`): the graph is compiled and checked like a batch job,
 * refused up front when its estimate exceeds the limits, and run on the cluster as a job that
 * lives only as long as the request. Graphs that compute a plain value are answered without the
 * cluster. A request that times out or whose client goes away cancels its job.
 */
export class SyncProcessor {
  private readonly limits: SyncLimits;
  private readonly lostGraceMs: number;

  constructor(private readonly deps: SyncProcessorDeps) {
    this.limits = { ...DEFAULT_SYNC_LIMITS, ...deps.limits };
    this.lostGraceMs = deps.lostGraceMs ?? DEFAULT_JOB_LOST_GRACE_MS;
  }

  /**
   * Removes results that requests did not get to clean up (the API was killed while sending).
   * Only old ones: other API replicas share DATA_DIR and may be sending theirs right now.
   */
  async removeLeftovers(now = Date.now()): Promise<void> {
    const root = join(this.deps.dataDir, SYNC_RESULTS_DIR);
    const names = await readdir(root).catch(() => [] as string[]);
    for (const name of names) {
      const info = await stat(join(root, name)).catch(() => null);
      if (info && now - info.mtimeMs > SYNC_LEFTOVER_AGE_MS) await rm(join(root, name), { recursive: true, force: true });
    }
  }

  async run(process: unknown, signal: AbortSignal): Promise<SyncResult> {
    const id = `sync-${randomBytes(8).toString('hex')}`;
    const outputDir = join(SYNC_RESULTS_DIR, id);
    const compiled = await compileProcess(process, {
      catalog: this.deps.catalog,
      registry: this.deps.registry,
      target: { jobId: id, outputDir },
      allowPlainResult: true,
    });
    if (compiled.plainResult !== undefined) return { kind: 'value', value: compiled.plainResult, warnings: compiled.warnings };

    const threads = await this.clusterThreads();
    const estimate = estimateJob(compiled.tasks, compiled.outputs, threads);
    if (estimate.seconds > this.limits.maxEstimatedSeconds || estimate.bytes > this.limits.maxResultBytes) {
      throw new OpenEOError(
        'ProcessGraphComplexity',
        `this request is too large to process synchronously (estimated ${Math.ceil(estimate.seconds)} s and up to ${Math.ceil(estimate.bytes / 1e6)} MB on ${threads} threads; ` +
          `limits ${this.limits.maxEstimatedSeconds} s and ${Math.floor(this.limits.maxResultBytes / 1e6)} MB): run it as a batch job (POST /jobs)`,
      );
    }

    const jobId = clusterJobId(id, 0);
    const discard = (): Promise<void> => rm(join(this.deps.dataDir, outputDir), { recursive: true, force: true });
    try {
      const event = await this.execute(jobId, compiled.tasks, compiled.outputs, signal);
      const files: ResultFile[] = [];
      for (const output of event.outputs ?? []) files.push(...((output.meta as { files?: ResultFile[] } | null)?.files ?? []));
      return { kind: 'files', files, warnings: compiled.warnings, discard };
    } catch (error) {
      await discard();
      throw error;
    }
  }

  private async clusterThreads(): Promise<number> {
    try {
      const state = await this.deps.scheduler.state();
      return Math.max(1, state.workers.reduce((n, w) => n + w.threads, 0));
    } catch (error) {
      throw unavailable(error);
    }
  }

  /** Submits the job and resolves with its final status event once it finished. */
  private execute(jobId: string, tasks: Parameters<SchedulerConnection['submit']>[1], outputs: string[], signal: AbortSignal): Promise<JobStatusEvent> {
    const { scheduler, bus, logger } = this.deps;
    return new Promise<JobStatusEvent>((resolve, reject) => {
      let settled = false;
      let submitted = false;
      let unknownSince: number | null = null;
      const finish = (outcome: { event: JobStatusEvent } | { error: unknown }, cancel: boolean): void => {
        if (settled) return;
        settled = true;
        subscription.unsubscribe();
        clearTimeout(timeout);
        clearInterval(poll);
        signal.removeEventListener('abort', onAbort);
        if (cancel && submitted) void scheduler.cancel(jobId).catch((error: unknown) => logger.warn({ err: error, jobId }, 'canceling a synchronous job failed'));
        if ('event' in outcome) resolve(outcome.event);
        else reject(outcome.error);
      };
      const onStatus = (event: JobStatusEvent): void => {
        if (event.status === 'finished') finish({ event }, false);
        else if (event.status === 'error') finish({ error: new OpenEOError(openeoCode(event.error?.code ?? 'Internal'), event.error?.message ?? 'processing failed') }, false);
        else if (event.status === 'canceled') finish({ error: new OpenEOError('Internal', 'the processing was canceled on the cluster') }, false);
      };
      const subscription = bus.subscribe(jobSubject(jobId, 'status'), (_subject, payload) => onStatus(payload as JobStatusEvent));
      const onAbort = (): void => finish({ error: new OpenEOError('RequestTimeout', 'the client closed the request') }, true);
      signal.addEventListener('abort', onAbort);
      const timeout = setTimeout(
        () => finish({ error: new OpenEOError('RequestTimeout', `the request took longer than ${Math.round(this.limits.timeoutMs / 1000)} s and was canceled; run it as a batch job (POST /jobs)`) }, true),
        this.limits.timeoutMs,
      );
      const poll = setInterval(() => {
        if (!submitted) return;
        scheduler.state().then(
          (state) => {
            if (state.jobIds.includes(jobId)) {
              unknownSince = null;
              return;
            }
            const outcome = state.recentOutcomes.find((o) => o.jobId === jobId);
            if (outcome) return onStatus(JSON.parse(outcome.statusEvent) as JobStatusEvent);
            unknownSince ??= Date.now();
            if (Date.now() - unknownSince >= this.lostGraceMs) finish({ error: new OpenEOError('Internal', 'the processing cluster restarted and lost the request; send it again') }, false);
          },
          () => {
            // Unreachable for a moment: the timeout bounds the wait.
          },
        );
      }, SYNC_STATE_POLL_INTERVAL_MS);
      if (signal.aborted) return onAbort();
      scheduler.submit(jobId, tasks, outputs).then(
        () => {
          submitted = true;
          if (settled) void scheduler.cancel(jobId).catch(() => undefined);
        },
        (error: unknown) => finish({ error: unavailable(error) }, false),
      );
    });
  }
}

function unavailable(error: unknown): Error {
  if (error instanceof SchedulerUnavailableError) return new OpenEOError('InfrastructureBusy', 'the processing cluster is not reachable; try again later', { cause: error });
  return new OpenEOError('Internal', `the request could not be processed: ${describeError(error)}`, { cause: error });
}
