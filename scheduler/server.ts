import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { CommonConfig } from '../common/config.js';
import { type EventBus, jobSubject, type JobLogEvent, type JobProgressEvent, type JobStatusEvent } from '../common/events/index.js';
import { bindServer, CHANNEL_OPTIONS, clusterProto, grpc, grpcError } from '../common/grpc.js';
import { HealthStatus, OVERALL_HEALTH, SCHEDULER_SERVICE } from '../common/grpc-health.js';
import type { Logger } from '../common/logger.js';
import type { ClusterStateReply } from '../proto/generated/openeo/cluster/v1/ClusterStateReply.js';
import type { RegisterWorkerRequest__Output } from '../proto/generated/openeo/cluster/v1/RegisterWorkerRequest.js';
import type { SchedulerHandlers } from '../proto/generated/openeo/cluster/v1/Scheduler.js';
import type { SchedulerMessage } from '../proto/generated/openeo/cluster/v1/SchedulerMessage.js';
import type { TaskAssignment } from '../proto/generated/openeo/cluster/v1/TaskAssignment.js';
import type { WorkerMessage__Output } from '../proto/generated/openeo/cluster/v1/WorkerMessage.js';
import { desiredWorkers } from './adaptive.js';
import { SchedulerState, SubmissionError } from './state/scheduler-state.js';
import type { JobEvent, Outbox, TaskFailure, TaskState, WorkerState } from './state/types.js';

/** Most assignments in one stream message: large enough to amortise framing, small enough to start work early. */
export const MAX_ASSIGNMENTS_PER_MESSAGE = 2_000;
/** How often job progress is published (ms): smooth for a progress bar, cheap for the bus. */
export const PROGRESS_INTERVAL_MS = 250;
/** How often heartbeats and retry delays are checked (ms). */
export const TICK_INTERVAL_MS = 250;
/**
 * Final outcomes of ended jobs the scheduler remembers (oldest forgotten first): an API that was
 * down when a job ended reads them from ClusterState instead of declaring the job lost. A few
 * hundred bytes each; a thousand covers far more jobs than end while an API restarts.
 */
export const RECENT_OUTCOMES_KEPT = 1_000;

export interface SchedulerServerOptions {
  config: Pick<CommonConfig, 'heartbeatIntervalMs'> & { host: string; port: number; workerTimeoutMs: number };
  bus: EventBus;
  logger: Logger;
  /** Check state-machine invariants after every stimulus (tests). */
  validate?: boolean;
}

type WorkerStream = grpc.ServerDuplexStream<WorkerMessage__Output, SchedulerMessage>;

interface PendingRegistration {
  request: RegisterWorkerRequest__Output;
  at: number;
}

const decoder = new TextDecoder();

function parseMeta(meta: Uint8Array | null): unknown {
  if (meta === null || meta.length === 0) return null;
  try {
    return JSON.parse(decoder.decode(meta));
  } catch {
    return null;
  }
}

/**
 * The scheduler process's gRPC face: it turns stream messages into stimuli of the state
 * machine and carries out the messages it returns. No scheduling logic lives here.
 */
export class SchedulerServer {
  readonly state: SchedulerState;
  private readonly server = new grpc.Server(CHANNEL_OPTIONS);
  private readonly streams = new Map<string, WorkerStream>();
  private readonly pending = new Map<string, PendingRegistration>();
  private readonly retiring = new Set<string>();
  private flushScheduled = false;
  private timers: NodeJS.Timeout[] = [];
  private workerCounter = 0;
  private boundPort = 0;
  /** Final status events of recently ended jobs, by job id, oldest first. */
  private readonly recentOutcomes = new Map<string, JobStatusEvent>();

  constructor(private readonly options: SchedulerServerOptions) {
    this.state = new SchedulerState({ validate: options.validate ?? false });
    const { Scheduler } = clusterProto().openeo.cluster.v1;
    const handlers: SchedulerHandlers = {
      RegisterWorker: (call, callback) => callback(null, this.register(call.request)),
      Connect: (stream) => this.connect(stream),
      SubmitGraph: (call, callback) => {
        try {
          callback(null, this.submit(call.request));
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          callback(grpcError(error instanceof SubmissionError ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL, message));
        }
      },
      CancelJob: (call, callback) => {
        const found = this.state.handleCancelJob(call.request.jobId, performance.now());
        this.flush();
        callback(null, { found });
      },
      ClusterState: (call, callback) => callback(null, this.clusterState(call.request.keys)),
    };
    this.server.addService(Scheduler.service, handlers);
    new HealthStatus(this.server, { [OVERALL_HEALTH]: 'SERVING', [SCHEDULER_SERVICE]: 'SERVING' });
  }

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<number> {
    const { host, port, workerTimeoutMs } = this.options.config;
    this.boundPort = await bindServer(this.server, `${host}:${port}`);
    this.timers.push(
      setInterval(() => this.publishProgress(), PROGRESS_INTERVAL_MS),
      setInterval(() => {
        this.state.handleTick(performance.now(), workerTimeoutMs);
        this.flush();
      }, TICK_INTERVAL_MS),
    );
    for (const timer of this.timers) timer.unref();
    this.options.logger.info({ port: this.boundPort }, 'scheduler listening');
    return this.boundPort;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    for (const stream of this.streams.values()) stream.end();
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    this.server.forceShutdown();
  }

  /** Worker counts of tasks run, by worker name: what tests assert placement with. */
  executedByWorker(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const worker of this.state.workers.values()) out[worker.name] = worker.executedCount;
    return out;
  }

  // ---------------------------------------------------------------- handlers

  private register(request: RegisterWorkerRequest__Output): { workerId: string; heartbeatIntervalMs: number } {
    const workerId = `w${++this.workerCounter}-${randomBytes(3).toString('hex')}`;
    this.pending.set(workerId, { request, at: performance.now() });
    this.options.logger.info({ workerId, name: request.name, address: request.address, threads: request.threads }, 'worker registered');
    return { workerId, heartbeatIntervalMs: this.options.config.heartbeatIntervalMs };
  }

  private connect(stream: WorkerStream): void {
    const workerId = String(stream.metadata.get('worker-id')[0] ?? '');
    const registration = this.pending.get(workerId);
    if (!registration) {
      stream.emit('error', grpcError(grpc.status.FAILED_PRECONDITION, `unknown worker id "${workerId}": register first`));
      return;
    }
    this.pending.delete(workerId);
    const { request } = registration;
    this.streams.set(workerId, stream);
    this.state.handleWorkerAdded(
      {
        id: workerId,
        name: request.name || workerId,
        address: request.address,
        threads: request.threads,
        memoryLimit: request.memoryLimitBytes,
      },
      performance.now(),
    );
    this.flush();

    let closed = false;
    const onClose = (reason: string): void => {
      if (closed) return;
      closed = true;
      this.streams.delete(workerId);
      const retired = this.retiring.delete(workerId);
      if (this.state.workers.has(workerId)) {
        this.options.logger.warn({ workerId, name: request.name, reason }, retired ? 'worker retired' : 'worker lost');
        this.state.handleWorkerRemoved(workerId, reason, !retired, performance.now());
        this.flush();
      }
    };
    stream.on('data', (message: WorkerMessage__Output) => this.onWorkerMessage(workerId, message));
    stream.on('end', () => {
      onClose('connection closed');
      stream.end();
    });
    stream.on('error', (error: Error) => onClose(`connection error: ${error.message}`));
    stream.on('cancelled', () => onClose('connection cancelled'));
  }

  private onWorkerMessage(workerId: string, message: WorkerMessage__Output): void {
    const now = performance.now();
    switch (message.body) {
      case 'results':
        for (const result of message.results!.results) {
          if (result.ok) {
            this.state.handleTaskFinished(workerId, { key: result.key, nbytes: result.nbytes, durationMs: result.durationMs, meta: result.meta.length > 0 ? result.meta : null }, now);
          } else {
            this.state.handleTaskErred(
              workerId,
              { key: result.key, kind: (result.errorKind || 'internal') as TaskFailure['kind'], message: result.errorMessage, code: result.errorCode || 'Internal' },
              now,
            );
          }
        }
        break;
      case 'heartbeat': {
        const hb = message.heartbeat!;
        this.state.handleHeartbeat(workerId, { processBytes: hb.processBytes, managedBytes: hb.managedBytes, spilledBytes: hb.spilledBytes, executing: hb.executing }, now);
        break;
      }
      case 'events':
        for (const event of message.events!.events) {
          try {
            this.options.bus.publish(event.subject, JSON.parse(decoder.decode(event.payload)));
          } catch {
            this.options.logger.warn({ workerId, subject: event.subject }, 'dropped a malformed relayed event');
          }
        }
        break;
      case 'retire':
        this.options.logger.info({ workerId, reason: message.retire!.reason }, 'worker asked to retire');
        this.state.handleRetireRequest(workerId, now);
        break;
      case 'handBack':
        this.state.handleHandBack(workerId, message.handBack!.keys, now);
        break;
      case 'acquired':
        this.state.handleAcquired(workerId, message.acquired!.chunks.map((c) => ({ key: c.key, nbytes: c.nbytes })), now);
        break;
      default:
        break;
    }
    this.flush();
  }

  private submit(request: { jobId: string; tasks: { key: string; op: string; args: Buffer; deps: string[]; priority: number; estBytes: number }[]; outputs: string[] }): { tasks: number } {
    if (!request.jobId) throw new SubmissionError('job_id is required');
    const job = this.state.handleSubmitGraph(
      request.jobId,
      request.tasks.map((t) => ({ key: t.key, op: t.op, args: t.args, deps: t.deps, priority: t.priority, estBytes: t.estBytes })),
      request.outputs,
      performance.now(),
    );
    const event: JobStatusEvent = { jobId: job.id, status: 'running', done: job.done, total: job.tasks.length, at: new Date().toISOString() };
    this.options.bus.publish(jobSubject(job.id, 'status'), event);
    this.options.logger.info({ jobId: job.id, tasks: job.tasks.length }, 'graph submitted');
    this.flush();
    return { tasks: request.tasks.length };
  }

  private clusterState(keys: string[]): ClusterStateReply {
    let processing = 0;
    const workers = [...this.state.workers.values()].map((w) => {
      processing += w.processing.size;
      return {
        id: w.id,
        name: w.name,
        address: w.address,
        threads: w.threads,
        status: w.status,
        processing: w.processing.size,
        held: w.hasWhat.size,
        executed: w.executedCount,
        processBytes: w.memory.processBytes,
        managedBytes: w.memory.managedBytes,
        spilledBytes: w.memory.spilledBytes,
        memoryLimitBytes: w.memoryLimit,
        executing: w.memory.executing ?? 0,
      };
    });
    return {
      workers,
      queuedTasks: this.state.queuedCount(),
      processingTasks: processing,
      jobs: this.state.jobs.size,
      desiredWorkers: desiredWorkers(this.state),
      transitions: this.state.transitions,
      jobIds: [...this.state.jobs.keys()],
      recentOutcomes: [...this.recentOutcomes.values()].map((event) => ({ jobId: event.jobId, statusEvent: JSON.stringify(event) })),
      keyTransitions: keys.length === 0 ? [] : this.state.log.recent().filter((t) => keys.includes(t.key)).map((t) => ({ key: t.key, from: t.from, to: t.to, stimulus: t.stimulus, atMs: t.at })),
    };
  }

  // ---------------------------------------------------------------- outbox

  /** Sends what the state machine produced; coalesces calls within one event-loop turn. */
  private flush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.deliver(this.state.takeOutbox());
    });
  }

  private deliver(outbox: Outbox): void {
    for (const [worker, tasks] of outbox.assign) {
      for (let i = 0; i < tasks.length; i += MAX_ASSIGNMENTS_PER_MESSAGE) {
        const batch = tasks.slice(i, i + MAX_ASSIGNMENTS_PER_MESSAGE);
        this.send(worker.id, { assign: { tasks: batch.filter((t) => t.processingOn === worker).map(toAssignment) } });
      }
    }
    for (const [worker, keys] of outbox.cancel) this.send(worker.id, { cancel: { keys } });
    for (const [worker, keys] of outbox.release) this.send(worker.id, { release: { keys } });
    for (const [worker, keys] of outbox.steal) this.send(worker.id, { steal: { keys } });
    for (const [worker, tasks] of outbox.replicate) {
      this.send(worker.id, { replicate: { chunks: tasks.map((t) => ({ key: t.key, holders: [...t.whoHas].map((w) => w.address), nbytes: t.nbytes })) } });
    }
    for (const worker of outbox.retire) {
      this.retiring.add(worker.id);
      this.options.logger.info({ workerId: worker.id, name: worker.name }, 'worker may exit: its work is handed over');
      this.send(worker.id, { retire: {} });
    }
    for (const worker of outbox.dropWorkers) this.dropStream(worker);
    for (const event of outbox.jobEvents) this.publishJobEvent(event);
  }

  private send(workerId: string, message: SchedulerMessage): void {
    const stream = this.streams.get(workerId);
    if (!stream || stream.destroyed || stream.writableEnded) return;
    stream.write(message);
  }

  private dropStream(worker: WorkerState): void {
    const stream = this.streams.get(worker.id);
    this.streams.delete(worker.id);
    if (stream) {
      stream.emit('error', grpcError(grpc.status.UNAVAILABLE, 'no heartbeat; dropped by the scheduler'));
    }
  }

  private publishJobEvent(event: JobEvent): void {
    const at = new Date().toISOString();
    if (event.kind === 'status') {
      const payload: JobStatusEvent = { jobId: event.jobId, status: event.status, done: event.done, total: event.total, at };
      if (event.error) payload.error = { code: event.error.code, message: event.error.message };
      if (event.outputs) payload.outputs = event.outputs.map((o) => ({ key: o.key, meta: parseMeta(o.meta) }));
      this.options.bus.publish(jobSubject(event.jobId, 'status'), payload);
      this.rememberOutcome(payload);
      this.options.logger.info({ jobId: event.jobId, status: event.status, done: event.done, total: event.total, error: event.error?.message }, 'job ended');
    } else if (event.kind === 'log') {
      const payload: JobLogEvent = { jobId: event.jobId, level: event.level, message: event.message, at, source: 'scheduler' };
      this.options.bus.publish(jobSubject(event.jobId, 'log'), payload);
    } else {
      this.publishProgressEvent(event.jobId, event.done, event.total, at);
    }
  }

  private rememberOutcome(event: JobStatusEvent): void {
    if (event.status === 'running') return;
    this.recentOutcomes.delete(event.jobId);
    this.recentOutcomes.set(event.jobId, event);
    if (this.recentOutcomes.size > RECENT_OUTCOMES_KEPT) this.recentOutcomes.delete(this.recentOutcomes.keys().next().value!);
  }

  private publishProgress(): void {
    const at = new Date().toISOString();
    for (const event of this.state.takeProgress()) {
      if (event.kind === 'progress') this.publishProgressEvent(event.jobId, event.done, event.total, at);
    }
  }

  private publishProgressEvent(jobId: string, done: number, total: number, at: string): void {
    const payload: JobProgressEvent = { jobId, done, total, at };
    this.options.bus.publish(jobSubject(jobId, 'progress'), payload);
  }
}

function toAssignment(task: TaskState): TaskAssignment {
  return {
    key: task.key,
    op: task.op,
    args: task.args,
    deps: task.dependencies.map((dep) => ({ key: dep.key, holders: [...dep.whoHas].map((w) => w.address), nbytes: dep.nbytes })),
    jobId: task.jobs[0]?.id ?? '',
    priority: task.priority,
  };
}
