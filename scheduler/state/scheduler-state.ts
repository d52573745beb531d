import { DurationEstimates } from './duration-estimates.js';
import { MEMORY_PAUSE_FRACTION, MEMORY_REFUSE_FRACTION, MEMORY_RESUME_HYSTERESIS } from '../../common/memory-limits.js';
import { chooseWorker, DEFAULT_BANDWIDTH_BYTES_PER_MS, FETCH_LATENCY_MS, missingBytes } from './placement.js';
import { PriorityHeap } from '../../common/priority-heap.js';
import { TransitionLog } from './transition-log.js';
import type {
  JobEvent,
  JobState,
  Outbox,
  TaskFailure,
  TaskState,
  TaskStateName,
  WorkerMemory,
  WorkerState,
} from './types.js';
import { validateState } from './validate.js';

/**
 * Root tasks a worker may hold per thread: Dask's `worker-saturation` (1.1). Above 1 a thread
 * finds its next task already there when it finishes one; far above 1 the memory of many
 * loaded-but-unconsumed chunks adds up on long time series.
 */
export const WORKER_SATURATION = 1.1;
/**
 * Queued tasks a worker looks past to find one of a family it started or no one did: 8, the
 * fan-in of the compiler's reduction trees, so the leaves under one tree node stay together.
 */
export const MAX_ROOT_FAMILY = 8;

/**
 * Tasks shorter than this (ms, moving average) are "short": for them a slot count of 1.1 per
 * thread would leave the worker idle during each scheduler round trip, so the slots are sized
 * to keep SHORT_TASK_QUEUE_MS of work per thread instead, bounded by SHORT_TASK_QUEUE_BYTES.
 */
export const SHORT_TASK_MS = 5;
/** Work (ms per thread) kept on a worker when its tasks are short. */
export const SHORT_TASK_QUEUE_MS = 20;
/** Result bytes short tasks may hold on one worker before they count as memory pressure. */
export const SHORT_TASK_QUEUE_BYTES = 64 * 1024 * 1024;
/** Upper bound on slots for short tasks, whatever their measured duration. */
export const MAX_SHORT_TASK_SLOTS = 4096;

/** An idle worker steals up to this many tasks per thread, so it has the next one at hand. */
export const STEAL_TASKS_PER_THREAD = 2;
/**
 * A task is worth stealing when moving its inputs costs less than this share of the time it
 * would still wait on its busy worker (Dask's stealing weighs transfer against compute likewise).
 */
export const STEAL_COST_RATIO = 0.5;
/** Tasks of one busy worker examined per steal attempt: bounds the work on huge queues. */
export const STEAL_SCAN_LIMIT = 200;

/**
 * Longest wait for copies of a retiring worker's results (ms) before it is let go anyway: what
 * was not copied is recomputed from lineage if needed, rather than holding up a scale-down.
 */
export const RETIRE_COPY_TIMEOUT_MS = 20_000;

/** A task that was on this many workers when they died fails (Dask's `allowed-failures` + 1). */
export const MAX_WORKER_DEATHS_PER_TASK = 3;
/** Transient errors retried per task before the job fails. */
export const MAX_TRANSIENT_RETRIES = 3;
/** First retry delay; doubles each retry (200, 400, 800 ms). */
export const RETRY_BASE_DELAY_MS = 200;

export interface TaskSubmission {
  key: string;
  op: string;
  args: Uint8Array;
  deps: string[];
  /** Lower runs first; defaults to the submission order. */
  priority?: number;
  /** Estimated result size in bytes. */
  estBytes?: number;
}

export interface SchedulerStateOptions {
  /** Check invariants after every stimulus; slow, meant for tests. */
  validate?: boolean;
  bandwidthBytesPerMs?: number;
  transitionLogSize?: number;
}

export interface WorkerRegistration {
  id: string;
  name: string;
  address: string;
  threads: number;
  memoryLimit: number;
}

export interface TaskResultReport {
  key: string;
  nbytes: number;
  durationMs: number;
  meta?: Uint8Array | null;
}

export interface TaskErrorReport {
  key: string;
  kind: TaskFailure['kind'];
  message: string;
  code: string;
}

export class SubmissionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SubmissionError';
  }
}

function newOutbox(): Outbox {
  return { assign: new Map(), release: new Map(), cancel: new Map(), steal: new Map(), replicate: new Map(), retire: [], jobEvents: [], dropWorkers: [] };
}

function formatBytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.round(bytes / 1e6)} MB`;
}

function pushMany<K, V>(map: Map<K, V[]>, key: K, values: V[]): void {
  const list = map.get(key);
  if (list) list.push(...values);
  else map.set(key, [...values]);
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * The scheduler's single owner of task state: synchronous, no I/O. Each `handle*` method is a
 * stimulus; the resulting messages accumulate in an outbox that the caller takes and sends.
 * Time comes in as an argument so tests control it.
 */
export class SchedulerState {
  readonly tasks = new Map<string, TaskState>();
  readonly workers = new Map<string, WorkerState>();
  readonly jobs = new Map<string, JobState>();
  /** Which worker took the first queued task feeding each dependent (see nextForWorker). */
  private readonly familyWorker = new WeakMap<TaskState, WorkerState>();
  readonly log: TransitionLog;
  readonly estimates = new DurationEstimates();
  private readonly validate: boolean;
  private readonly bandwidth: number;
  private outbox: Outbox = newOutbox();
  private readonly progressed = new Set<JobState>();
  /** Tasks waiting out a retry delay. */
  private readonly delayed = new Set<TaskState>();
  private jobSeq = 0;
  /** Set while a submission wakes its tasks, so slots are filled once instead of per task. */
  private deferFill = false;
  private stimulus = '';
  private now = 0;
  /** Total transitions ever made, for throughput metrics. */
  transitions = 0;
  /** Inputs assigned tasks had to fetch from a peer, and their bytes (data-locality metrics). */
  transfers = 0;
  transferBytes = 0;

  constructor(options: SchedulerStateOptions = {}) {
    this.validate = options.validate ?? false;
    this.bandwidth = options.bandwidthBytesPerMs ?? DEFAULT_BANDWIDTH_BYTES_PER_MS;
    this.log = new TransitionLog(options.transitionLogSize);
  }

  // ---------------------------------------------------------------- outputs

  /** Messages produced since the last call. */
  takeOutbox(): Outbox {
    const out = this.outbox;
    this.outbox = newOutbox();
    return out;
  }

  /** Jobs whose finished-task count changed since the last call, as progress events. */
  takeProgress(): JobEvent[] {
    const events: JobEvent[] = [];
    for (const job of this.progressed) {
      if (job.status === 'running') events.push({ kind: 'progress', jobId: job.id, done: job.done, total: job.tasks.length });
    }
    this.progressed.clear();
    return events;
  }

  // ---------------------------------------------------------------- stimuli

  handleWorkerAdded(registration: WorkerRegistration, now: number): WorkerState {
    this.begin(`worker-added:${registration.name}`, now);
    if (this.workers.has(registration.id)) throw new Error(`worker ${registration.id} is already registered`);
    const worker: WorkerState = {
      id: registration.id,
      name: registration.name,
      address: registration.address,
      threads: Math.max(1, registration.threads),
      memoryLimit: registration.memoryLimit,
      status: 'running',
      processing: new Set(),
      hasWhat: new Set(),
      occupancyMs: 0,
      nbytes: 0,
      lastSeen: now,
      memory: { processBytes: 0, managedBytes: 0, spilledBytes: 0 },
      executedCount: 0,
      incomingSteals: 0,
      retiringSince: 0,
    };
    this.workers.set(worker.id, worker);
    this.fillWorkers();
    this.end();
    return worker;
  }

  /**
   * A worker is gone. `died` distinguishes a crash or heartbeat timeout (its running tasks are
   * suspected of killing it) from a clean retirement.
   */
  handleWorkerRemoved(workerId: string, reason: string, died: boolean, now: number): void {
    const worker = this.workers.get(workerId);
    if (!worker) return;
    this.begin(`worker-removed:${worker.name}`, now);
    this.workers.delete(workerId);
    const affectedJobs = new Set<JobState>();
    // 1. Take back what it was running; a task on too many dying workers fails.
    const interrupted = [...worker.processing];
    for (const task of interrupted) {
      this.unassign(task, worker);
      for (const job of task.jobs) affectedJobs.add(job);
      if (died) task.diedOn.push(worker.name);
      if (task.diedOn.length >= MAX_WORKER_DEATHS_PER_TASK) {
        task.error = {
          kind: 'killed-worker',
          code: 'Internal',
          message: `task ${task.key} (${task.op}) was running on ${task.diedOn.length} workers that died: ${task.diedOn.join(', ')}`,
        };
        this.transition(task, 'erred');
        this.failJobsOf(task, task.error);
      } else {
        this.transition(task, 'waiting');
        task.waitingOn = 0;
      }
    }
    // 2. Results only it held are recomputed from lineage where still needed.
    for (const task of [...worker.hasWhat]) {
      task.whoHas.delete(worker);
      worker.hasWhat.delete(task);
      if (task.whoHas.size === 0 && task.state === 'memory') {
        for (const job of task.jobs) affectedJobs.add(job);
        this.lostData(task);
      }
    }
    worker.nbytes = 0;
    // 3. Reschedule the interrupted tasks now that we know which inputs survive.
    for (const task of interrupted) {
      if (task.state !== 'waiting') continue;
      let waitingOn = 0;
      for (const dep of task.dependencies) {
        if (dep.state === 'memory') continue;
        waitingOn++;
        if (dep.state === 'released') this.want(dep);
      }
      task.waitingOn = waitingOn;
      if (waitingOn === 0) this.makeReady(task);
    }
    for (const job of affectedJobs) {
      if (job.status === 'running') {
        this.outbox.jobEvents.push({ kind: 'log', jobId: job.id, level: 'warning', message: `worker ${worker.name} left (${reason}); its tasks are being redone on other workers` });
      }
    }
    // Copies it was making, or results it held beside other retiring workers, need a new home.
    for (const task of this.tasks.values()) if (task.replicatingTo === worker) task.replicatingTo = null;
    for (const other of this.workers.values()) {
      if (other.status !== 'retiring') continue;
      this.replicateUnique(other);
      this.checkRetired(other);
    }
    this.fillWorkers();
    this.end();
  }

  handleSubmitGraph(jobId: string, submissions: TaskSubmission[], outputKeys: string[], now: number): JobState {
    this.begin(`submit:${jobId}`, now);
    if (this.jobs.has(jobId)) throw new SubmissionError(`job ${jobId} is already running on the scheduler`);
    if (submissions.length === 0) throw new SubmissionError(`job ${jobId} has no tasks`);
    const job: JobState = {
      id: jobId,
      seq: this.jobSeq++,
      status: 'running',
      tasks: [],
      outputs: new Set(),
      outputsPending: 0,
      done: 0,
      processing: 0,
      queue: new PriorityHeap<TaskState>(),
      error: null,
    };

    // Resolve keys: reuse live tasks (same key = same computation), create the others.
    const fresh: TaskState[] = [];
    const byKey = new Map<string, TaskState>();
    for (let i = 0; i < submissions.length; i++) {
      const sub = submissions[i]!;
      if (byKey.has(sub.key)) throw new SubmissionError(`task key ${sub.key} appears twice in job ${jobId}`);
      let task = this.tasks.get(sub.key);
      if (task === undefined || task.state === 'erred') {
        task = this.newTask(sub, i);
        fresh.push(task);
      }
      byKey.set(sub.key, task);
    }
    // Link dependencies of fresh tasks.
    const freshSet = new Set(fresh);
    for (const sub of submissions) {
      const task = byKey.get(sub.key)!;
      if (!freshSet.has(task)) continue;
      for (const depKey of sub.deps) {
        const dep = byKey.get(depKey) ?? this.tasks.get(depKey);
        if (dep === undefined) throw new SubmissionError(`task ${sub.key} depends on unknown task ${depKey}`);
        task.dependencies.push(dep);
        dep.dependents.push(task);
      }
    }
    this.checkAcyclic(fresh);
    this.checkFits(fresh);
    for (const key of outputKeys) {
      const task = byKey.get(key);
      if (task === undefined) throw new SubmissionError(`output ${key} is not a task of job ${jobId}`);
      task.isOutput = true;
      job.outputs.add(task);
      if (task.state !== 'memory') job.outputsPending++;
    }

    // Commit.
    this.jobs.set(jobId, job);
    for (const task of fresh) this.tasks.set(task.key, task);
    for (const task of byKey.values()) {
      task.jobs.push(job);
      job.tasks.push(task);
      if (task.state === 'memory') job.done++;
      else if (task.state === 'processing') job.processing++;
    }
    // A fresh task holds its dependencies until it is in memory.
    for (const task of fresh) this.holdDependencies(task);
    // Wake what is not computed, in priority order; fill worker slots once at the end.
    const ordered = [...byKey.values()].sort((a, b) => a.priority - b.priority);
    this.deferFill = true;
    try {
      for (const task of ordered) this.want(task);
    } finally {
      this.deferFill = false;
    }
    this.fillWorkers();
    if (job.status === 'running' && job.outputsPending === 0) this.finishJob(job);
    this.progressed.add(job);
    this.end();
    return job;
  }

  handleTaskFinished(workerId: string, report: TaskResultReport, now: number): void {
    const worker = this.workers.get(workerId);
    this.begin(`task-finished:${worker?.name ?? workerId}`, now);
    const task = this.tasks.get(report.key);
    if (worker === undefined) {
      this.end();
      return;
    }
    if (task === undefined || task.state === 'forgotten') {
      pushTo(this.outbox.release, worker, report.key);
      this.end();
      return;
    }
    if (task.state !== 'processing' || task.processingOn !== worker) {
      // A stale result (the task was moved, or already done elsewhere): keep it if useful.
      if (task.state === 'memory' && !task.whoHas.has(worker) && task.dependentsPending > 0) {
        this.addHolder(task, worker, report.nbytes);
      } else {
        pushTo(this.outbox.release, worker, report.key);
      }
      this.end();
      return;
    }
    this.unassign(task, worker);
    worker.executedCount++;
    this.estimates.record(task.op, report.durationMs, report.nbytes);
    task.nbytes = report.nbytes;
    task.meta = report.meta ?? null;
    this.addHolder(task, worker, report.nbytes);
    this.transition(task, 'memory');
    this.onMemory(task);
    if (worker.status === 'retiring') {
      this.replicateUnique(worker);
      this.checkRetired(worker);
    } else {
      this.fillWorker(worker);
      if (worker.processing.size < worker.threads) this.stealFor(worker);
    }
    this.end();
  }

  handleTaskErred(workerId: string, report: TaskErrorReport, now: number): void {
    const worker = this.workers.get(workerId);
    this.begin(`task-erred:${worker?.name ?? workerId}`, now);
    const task = this.tasks.get(report.key);
    if (worker === undefined || task === undefined || task.state !== 'processing' || task.processingOn !== worker) {
      this.end();
      return;
    }
    this.unassign(task, worker);
    if (report.kind === 'canceled') {
      // The worker stopped it because we asked; nothing to do.
      this.transition(task, 'released');
    } else if ((report.kind === 'transient' || report.kind === 'out-of-memory') && task.retries < MAX_TRANSIENT_RETRIES) {
      task.retries++;
      task.retryAt = now + RETRY_BASE_DELAY_MS * 2 ** (task.retries - 1);
      this.transition(task, 'waiting');
      task.waitingOn = 0;
      this.delayed.add(task);
      for (const job of task.jobs) {
        this.outbox.jobEvents.push({ kind: 'log', jobId: job.id, level: 'warning', message: `retrying ${task.op} after a transient error (attempt ${task.retries + 1} of ${MAX_TRANSIENT_RETRIES + 1}): ${report.message}` });
      }
    } else {
      const failure: TaskFailure =
        report.kind === 'out-of-memory'
          ? { kind: 'out-of-memory', code: 'Internal', message: `out of memory: ${task.op} needs more memory than a worker has (limit ${formatBytes(worker.memoryLimit)}), ${MAX_TRANSIENT_RETRIES + 1} attempts; use a smaller extent or larger workers` }
          : report.kind === 'transient'
            ? { kind: 'transient', code: report.code, message: `${report.message} (gave up after ${MAX_TRANSIENT_RETRIES + 1} attempts)` }
            : { kind: report.kind, code: report.code, message: report.message };
      task.error = failure;
      this.transition(task, 'erred');
      this.failJobsOf(task, failure);
    }
    if (worker.status === 'retiring') this.checkRetired(worker);
    else this.fillWorker(worker);
    this.end();
  }

  /** A worker gives back tasks it had not started (asked for by a steal or its retirement). */
  handleHandBack(workerId: string, keys: string[], now: number): void {
    const worker = this.workers.get(workerId);
    this.begin(`hand-back:${worker?.name ?? workerId}`, now);
    if (!worker) {
      this.end();
      return;
    }
    for (const key of keys) {
      const task = this.tasks.get(key);
      if (!task || task.state !== 'processing' || task.processingOn !== worker) continue;
      const thief = task.stealTo;
      this.clearSteal(task);
      this.unassign(task, worker);
      this.transition(task, 'waiting');
      task.waitingOn = 0;
      if (thief && thief.status === 'running' && this.workers.get(thief.id) === thief) this.assign(task, thief);
      else this.makeReady(task);
    }
    if (worker.status === 'retiring') this.checkRetired(worker);
    this.fillWorkers();
    this.end();
  }

  /**
   * A worker wants to leave (Kubernetes scale-down): it gets no new tasks, hands back those it
   * has not started, and its results that nobody else holds are copied to peers; then it may exit.
   */
  handleRetireRequest(workerId: string, now: number): void {
    const worker = this.workers.get(workerId);
    if (!worker) return;
    this.begin(`retire:${worker.name}`, now);
    worker.status = 'retiring';
    worker.retiringSince = now;
    if (worker.processing.size > 0) {
      const keys: string[] = [];
      for (const task of worker.processing) {
        this.clearSteal(task);
        keys.push(task.key);
      }
      pushMany(this.outbox.steal, worker, keys);
    }
    this.replicateUnique(worker);
    this.checkRetired(worker);
    this.fillWorkers();
    this.end();
  }

  /** A worker now holds copies of these results (replication from a retiring peer). */
  handleAcquired(workerId: string, chunks: { key: string; nbytes: number }[], now: number): void {
    const worker = this.workers.get(workerId);
    if (!worker) return;
    this.begin(`acquired:${worker.name}`, now);
    for (const { key, nbytes } of chunks) {
      const task = this.tasks.get(key);
      if (task && task.replicatingTo === worker) task.replicatingTo = null;
      if (!task || task.state !== 'memory' || task.whoHas.has(worker)) {
        pushTo(this.outbox.release, worker, key);
        continue;
      }
      this.addHolder(task, worker, nbytes);
    }
    for (const w of this.workers.values()) if (w.status === 'retiring') this.checkRetired(w);
    this.end();
  }

  handleCancelJob(jobId: string, now: number): boolean {
    const job = this.jobs.get(jobId);
    if (!job) return false;
    this.begin(`cancel:${jobId}`, now);
    if (job.status === 'running') {
      job.status = 'canceled';
      this.outbox.jobEvents.push({ kind: 'status', jobId, status: 'canceled', done: job.done, total: job.tasks.length });
    }
    this.forgetJob(job);
    this.fillWorkers();
    this.end();
    return true;
  }

  handleHeartbeat(workerId: string, memory: WorkerMemory, now: number): void {
    const worker = this.workers.get(workerId);
    if (!worker) return;
    worker.lastSeen = now;
    worker.memory = memory;
    if (worker.memoryLimit <= 0) return;
    const used = memory.processBytes / worker.memoryLimit;
    if (worker.status === 'running' && used >= MEMORY_PAUSE_FRACTION) {
      this.begin(`pause:${worker.name}`, now);
      worker.status = 'paused';
      this.end();
    } else if (worker.status === 'paused' && used < MEMORY_PAUSE_FRACTION * MEMORY_RESUME_HYSTERESIS) {
      this.begin(`resume:${worker.name}`, now);
      worker.status = 'running';
      this.fillWorkers();
      this.end();
    }
  }

  /** Periodic housekeeping: heartbeat timeouts and due retries. */
  handleTick(now: number, workerTimeoutMs: number): void {
    this.begin('tick', now);
    for (const worker of [...this.workers.values()]) {
      if (now - worker.lastSeen > workerTimeoutMs) {
        this.outbox.dropWorkers.push(worker);
        this.end();
        this.handleWorkerRemoved(worker.id, `no heartbeat for ${Math.round((now - worker.lastSeen) / 1000)} s`, true, now);
        this.begin('tick', now);
      }
    }
    for (const task of [...this.delayed]) {
      if (task.retryAt <= now) {
        this.delayed.delete(task);
        if (task.state === 'waiting' && task.waitingOn === 0) this.makeReady(task);
      }
    }
    for (const worker of this.workers.values()) {
      if (worker.status === 'running' && worker.processing.size < worker.threads) this.stealFor(worker);
      if (worker.status === 'retiring') this.checkRetired(worker);
    }
    this.end();
  }

  // ---------------------------------------------------------------- queries

  /** Root-task slots of `worker` for tasks of operation `op`. */
  rootSlots(worker: WorkerState, op: string): number {
    const base = Math.ceil(WORKER_SATURATION * worker.threads);
    const bytes = this.estimates.outputBytesOf(op);
    const duration = this.estimates.durationOf(op);
    if (bytes === undefined || duration >= SHORT_TASK_MS) return base;
    const byTime = Math.ceil((worker.threads * SHORT_TASK_QUEUE_MS) / Math.max(duration, 0.001));
    const byBytes = Math.floor(SHORT_TASK_QUEUE_BYTES / Math.max(bytes, 1));
    return Math.max(base, Math.min(byTime, byBytes, MAX_SHORT_TASK_SLOTS));
  }

  /** Tasks waiting on the scheduler for a worker slot, over all jobs. */
  queuedCount(): number {
    let n = 0;
    for (const job of this.jobs.values()) n += job.queue.size;
    return n;
  }

  // ---------------------------------------------------------------- internals

  private begin(stimulus: string, now: number): void {
    this.stimulus = stimulus;
    this.now = now;
  }

  private end(): void {
    if (this.validate) validateState(this);
  }

  private newTask(sub: TaskSubmission, index: number): TaskState {
    return {
      key: sub.key,
      op: sub.op,
      args: sub.args,
      dependencies: [],
      dependents: [],
      jobs: [],
      state: 'released',
      priority: sub.priority ?? index,
      waitingOn: 0,
      processingOn: null,
      whoHas: new Set(),
      nbytes: sub.estBytes ?? 0,
      occupancyMs: 0,
      diedOn: [],
      retries: 0,
      retryAt: 0,
      meta: null,
      isOutput: false,
      dependentsPending: 0,
      holdsDependencies: false,
      counted: false,
      error: null,
      assignedAt: 0,
      stealTo: null,
      replicatingTo: null,
    };
  }

  private checkAcyclic(fresh: TaskState[]): void {
    // Kahn's algorithm over the fresh sub-graph; existing tasks cannot depend on fresh ones.
    const freshSet = new Set(fresh);
    const indegree = new Map<TaskState, number>();
    for (const task of fresh) {
      let n = 0;
      for (const dep of task.dependencies) if (freshSet.has(dep)) n++;
      indegree.set(task, n);
    }
    const stack = fresh.filter((t) => indegree.get(t) === 0);
    let seen = 0;
    while (stack.length > 0) {
      const task = stack.pop()!;
      seen++;
      for (const dependent of task.dependents) {
        if (!freshSet.has(dependent)) continue;
        const n = indegree.get(dependent)! - 1;
        indegree.set(dependent, n);
        if (n === 0) stack.push(dependent);
      }
    }
    if (seen !== fresh.length) {
      for (const task of fresh) {
        for (const dep of task.dependencies) {
          const i = dep.dependents.indexOf(task);
          if (i >= 0) dep.dependents.splice(i, 1);
        }
      }
      throw new SubmissionError('the task graph has a cycle');
    }
  }

  /** A task whose result alone exceeds every worker's memory cannot run: say so before starting. */
  private checkFits(fresh: TaskState[]): void {
    let largest = 0;
    for (const worker of this.workers.values()) largest = Math.max(largest, worker.memoryLimit);
    if (largest <= 0) return;
    const room = largest * MEMORY_REFUSE_FRACTION;
    const tooBig = fresh.find((t) => t.nbytes > room);
    if (!tooBig) return;
    for (const task of fresh) {
      for (const dep of task.dependencies) {
        const i = dep.dependents.indexOf(task);
        if (i >= 0) dep.dependents.splice(i, 1);
      }
    }
    throw new SubmissionError(`a task of this job (${tooBig.op}) holds ${formatBytes(tooBig.nbytes)} at once, more than the largest worker can hold (${formatBytes(largest)}); use a smaller extent, or run larger workers`);
  }

  private transition(task: TaskState, to: TaskStateName): void {
    const from = task.state;
    task.state = to;
    this.transitions++;
    this.log.add(task.key, from, to, this.stimulus, this.now);
  }

  /** A task is needed: wait for its dependencies, recomputing any whose data is gone. */
  private want(task: TaskState): void {
    if (task.state !== 'released') return;
    // A task computed before and released gave back its holds on its inputs: take them again.
    this.holdDependencies(task);
    this.transition(task, 'waiting');
    let waitingOn = 0;
    for (const dep of task.dependencies) {
      if (dep.state === 'memory') continue;
      waitingOn++;
      if (dep.state === 'released') this.want(dep);
    }
    task.waitingOn = waitingOn;
    if (waitingOn === 0) this.makeReady(task);
  }

  /** All inputs are in memory: place it on a worker, or queue it. */
  private makeReady(task: TaskState): void {
    if (task.retryAt > this.now) {
      this.delayed.add(task);
      return;
    }
    if (task.dependencies.length > 0) {
      const worker = chooseWorker(task, this.placementCandidates(task), this.bandwidth);
      if (worker !== null) {
        this.assign(task, worker);
        return;
      }
    }
    this.transition(task, 'queued');
    for (const job of task.jobs) {
      if (job.status === 'running') {
        job.queue.push(task);
        break;
      }
    }
    this.fillWorkers();
  }

  /**
   * Workers holding some of the task's inputs (Dask's `decide_worker`): moving a task to a
   * worker with none of its data is left to work stealing, which weighs the transfer against
   * the idle time it saves. All workers when no holder can take it.
   */
  private placementCandidates(task: TaskState): Iterable<WorkerState> {
    const candidates = new Set<WorkerState>();
    for (const dep of task.dependencies) for (const w of dep.whoHas) if (w.status === 'running') candidates.add(w);
    return candidates.size > 0 ? candidates : this.workers.values();
  }

  private assign(task: TaskState, worker: WorkerState): void {
    for (const dep of task.dependencies) {
      if (!dep.whoHas.has(worker)) {
        this.transfers++;
        this.transferBytes += dep.nbytes;
      }
    }
    this.transition(task, 'processing');
    task.processingOn = worker;
    task.occupancyMs = this.estimates.durationOf(task.op);
    task.assignedAt = this.now;
    worker.processing.add(task);
    worker.occupancyMs += task.occupancyMs;
    for (const job of task.jobs) job.processing++;
    pushTo(this.outbox.assign, worker, task);
  }

  private unassign(task: TaskState, worker: WorkerState): void {
    this.clearSteal(task);
    worker.processing.delete(task);
    worker.occupancyMs -= task.occupancyMs;
    if (worker.processing.size === 0) worker.occupancyMs = 0; // no drift from float sums
    task.processingOn = null;
    for (const job of task.jobs) job.processing--;
  }

  private addHolder(task: TaskState, worker: WorkerState, nbytes: number): void {
    task.whoHas.add(worker);
    worker.hasWhat.add(task);
    worker.nbytes += nbytes;
  }

  private dropHolder(task: TaskState, worker: WorkerState): void {
    if (!task.whoHas.delete(worker)) return;
    worker.hasWhat.delete(task);
    worker.nbytes -= task.nbytes;
    pushTo(this.outbox.release, worker, task.key);
  }

  private onMemory(task: TaskState): void {
    if (!task.counted) {
      task.counted = true;
      for (const job of task.jobs) {
        job.done++;
        this.progressed.add(job);
      }
    }
    for (const dependent of task.dependents) {
      if (dependent.state !== 'waiting') continue;
      dependent.waitingOn--;
      if (dependent.waitingOn === 0) this.makeReady(dependent);
    }
    if (task.holdsDependencies) {
      task.holdsDependencies = false;
      for (const dep of task.dependencies) {
        dep.dependentsPending--;
        if (dep.dependentsPending === 0 && !dep.isOutput) this.releaseData(dep);
      }
    }
    if (task.isOutput) {
      for (const job of [...task.jobs]) {
        if (!job.outputs.has(task)) continue;
        job.outputsPending--;
        if (job.status === 'running' && job.outputsPending === 0) this.finishJob(job);
      }
    }
  }

  private holdDependencies(task: TaskState): void {
    if (task.holdsDependencies) return;
    task.holdsDependencies = true;
    for (const dep of task.dependencies) dep.dependentsPending++;
  }

  /** Nobody needs this result any more: drop it from every worker. */
  private releaseData(task: TaskState): void {
    if (task.state !== 'memory') return;
    for (const worker of [...task.whoHas]) this.dropHolder(task, worker);
    this.transition(task, 'released');
  }

  /** The last copy of a result is gone; recompute it if anything still needs it. */
  private lostData(task: TaskState): void {
    if (task.isOutput && task.meta !== null) return; // a sink's result is its report, kept here
    const needed = task.dependentsPending > 0 || (task.isOutput && task.jobs.some((j) => j.status === 'running'));
    if (task.isOutput) for (const job of task.jobs) if (job.outputs.has(task)) job.outputsPending++;
    this.transition(task, 'released');
    if (!needed) return;
    // Recomputing needs its own inputs again.
    this.holdDependencies(task);
    for (const dependent of task.dependents) {
      if (dependent.state === 'waiting') {
        dependent.waitingOn++;
      } else if (dependent.state === 'processing') {
        // It would fail fetching this input; take it back now and let it wait for the recompute.
        const worker = dependent.processingOn!;
        this.unassign(dependent, worker);
        pushTo(this.outbox.cancel, worker, dependent.key);
        this.transition(dependent, 'waiting');
        dependent.waitingOn = dependent.dependencies.filter((d) => d.state !== 'memory').length;
      } else if (dependent.state === 'queued') {
        for (const job of dependent.jobs) job.queue.remove(dependent);
        this.transition(dependent, 'waiting');
        dependent.waitingOn = dependent.dependencies.filter((d) => d.state !== 'memory').length;
      }
    }
    this.want(task);
  }

  /** Hands queued tasks to workers with free slots, least busy workers first. */
  private fillWorkers(): void {
    if (this.workers.size === 0 || this.deferFill) return;
    let anyQueued = false;
    for (const job of this.jobs.values()) {
      if (job.queue.size > 0) {
        anyQueued = true;
        break;
      }
    }
    if (!anyQueued) return;
    const workers = [...this.workers.values()].sort((a, b) => a.occupancyMs / a.threads - b.occupancyMs / b.threads);
    // Each worker takes a contiguous run of queued tasks in priority order: tasks next to each
    // other in priority feed the same dependents, so their results end up on the same worker
    // (Dask's co-assignment) instead of alternating between workers.
    for (const worker of workers) this.fillWorker(worker);
  }

  private fillWorker(worker: WorkerState): void {
    while (this.assignOneQueued(worker)) {
      // keep filling
    }
  }

  /** Gives `worker` the next queued task of the job with the fewest running tasks, if it has a slot. */
  private assignOneQueued(worker: WorkerState): boolean {
    if (worker.status !== 'running') return false;
    let chosen: JobState | null = null;
    for (const job of this.jobs.values()) {
      if (job.queue.size === 0 || job.status !== 'running') continue;
      if (chosen === null || job.processing < chosen.processing || (job.processing === chosen.processing && job.seq < chosen.seq)) {
        chosen = job;
      }
    }
    if (chosen === null) return false;
    const next = chosen.queue.peek()!;
    if (worker.processing.size >= this.rootSlots(worker, next.op)) return false;
    const task = this.nextForWorker(chosen, worker);
    this.assign(task, worker);
    const family = task.dependents[0];
    if (family !== undefined) this.familyWorker.set(family, worker);
    return true;
  }

  /**
   * The job's next queued task for `worker`, keeping families together (Dask's co-assignment):
   * tasks feeding the same dependent (the dates of one tile that a composite reduces) go to the
   * worker that took the first of them, so the dependent finds all its inputs there instead of
   * fetching some from a peer. A worker skips up to MAX_ROOT_FAMILY queued tasks of families
   * another running worker started; when all of those are, it takes the first (no worker idles
   * while work is queued). Slots are never exceeded: the family's owner takes the rest as its
   * own slots free.
   */
  private nextForWorker(job: JobState, worker: WorkerState): TaskState {
    const skipped: TaskState[] = [];
    let chosen: TaskState | undefined;
    while (skipped.length < MAX_ROOT_FAMILY) {
      const candidate = job.queue.pop();
      if (candidate === undefined) break;
      const family = candidate.dependents[0];
      const owner = family === undefined ? undefined : this.familyWorker.get(family);
      if (owner === undefined || owner === worker || owner.status !== 'running' || !this.workers.has(owner.id)) {
        chosen = candidate;
        break;
      }
      skipped.push(candidate);
    }
    if (chosen === undefined) chosen = skipped.shift()!;
    for (const task of skipped) job.queue.push(task);
    return chosen;
  }

  private finishJob(job: JobState): void {
    job.status = 'finished';
    this.outbox.jobEvents.push({
      kind: 'status',
      jobId: job.id,
      status: 'finished',
      done: job.done,
      total: job.tasks.length,
      // Outputs without a report (plain results) need not travel in the event.
      outputs: [...job.outputs].filter((t) => t.meta !== null).map((t) => ({ key: t.key, meta: t.meta })),
    });
    this.forgetJob(job);
  }

  private failJobsOf(task: TaskState, failure: TaskFailure): void {
    for (const job of [...task.jobs]) {
      if (job.status !== 'running') continue;
      job.status = 'error';
      job.error = failure;
      this.outbox.jobEvents.push({ kind: 'log', jobId: job.id, level: 'error', message: failure.message });
      this.outbox.jobEvents.push({ kind: 'status', jobId: job.id, status: 'error', done: job.done, total: job.tasks.length, error: failure });
      this.forgetJob(job);
    }
  }

  /** Drops a job that ended: its tasks not shared with a running job stop and are forgotten. */
  private forgetJob(job: JobState): void {
    this.jobs.delete(job.id);
    this.progressed.delete(job);
    for (const task of job.tasks) {
      const i = task.jobs.indexOf(job);
      if (i >= 0) task.jobs.splice(i, 1);
    }
    for (const task of job.tasks) {
      if (task.jobs.length > 0) {
        // Still wanted by another job; move it to that job's queue if it was queued under this one.
        if (task.state === 'queued' && job.queue.remove(task)) task.jobs[0]!.queue.push(task);
        continue;
      }
      this.forgetTask(task);
    }
  }

  private clearSteal(task: TaskState): void {
    if (task.stealTo) {
      task.stealTo.incomingSteals = Math.max(0, task.stealTo.incomingSteals - 1);
      task.stealTo = null;
    }
  }

  /**
   * Work stealing for an idle worker: asks busy workers to hand back tasks they have not
   * started when moving their inputs costs less than part of their wait there.
   */
  private stealFor(thief: WorkerState): void {
    let want = thief.threads * STEAL_TASKS_PER_THREAD - thief.processing.size - thief.incomingSteals;
    if (want <= 0) return;
    const victims = [...this.workers.values()]
      .filter((w) => w !== thief && w.processing.size > w.threads)
      .sort((a, b) => b.occupancyMs / b.threads - a.occupancyMs / a.threads);
    for (const victim of victims) {
      const wait = victim.occupancyMs / victim.threads;
      // Newest assignments are the least likely to have started.
      const candidates = [...victim.processing].slice(-STEAL_SCAN_LIMIT).reverse();
      const keys: string[] = [];
      for (const task of candidates) {
        if (want <= 0 || victim.processing.size - keys.length <= victim.threads) break;
        if (task.stealTo) continue;
        const bytes = missingBytes(task, thief);
        const cost = bytes / this.bandwidth + (task.dependencies.length > 0 && bytes > 0 ? FETCH_LATENCY_MS : 0);
        if (cost >= wait * STEAL_COST_RATIO) continue;
        task.stealTo = thief;
        thief.incomingSteals++;
        keys.push(task.key);
        want--;
      }
      if (keys.length > 0) pushMany(this.outbox.steal, victim, keys);
      if (want <= 0) return;
    }
  }

  /**
   * Copies results that no running worker holds (only retiring ones do), and that are still
   * needed, to the least loaded running peer — once at a time per result.
   */
  private replicateUnique(worker: WorkerState): void {
    const targets = [...this.workers.values()].filter((w) => w.status === 'running');
    if (targets.length === 0) return;
    for (const task of worker.hasWhat) {
      if (task.replicatingTo || !this.stillNeeded(task) || !this.heldOnlyByRetiring(task)) continue;
      const target = targets.reduce((best, w) => (w.nbytes < best.nbytes ? w : best));
      task.replicatingTo = target;
      pushTo(this.outbox.replicate, target, task);
    }
  }

  private heldOnlyByRetiring(task: TaskState): boolean {
    for (const holder of task.whoHas) if (holder.status !== 'retiring') return false;
    return true;
  }

  private stillNeeded(task: TaskState): boolean {
    return task.dependentsPending > 0 || (task.isOutput && task.meta === null && task.jobs.some((j) => j.status === 'running'));
  }

  /**
   * A retiring worker may exit once it runs nothing and every needed result it holds is also on a
   * running worker (or no running worker exists, or copying took longer than RETIRE_COPY_TIMEOUT_MS).
   */
  private checkRetired(worker: WorkerState): void {
    if (worker.status !== 'retiring' || worker.processing.size > 0) return;
    if (this.outbox.retire.includes(worker)) return;
    const peers = [...this.workers.values()].some((w) => w.status === 'running');
    const timedOut = this.now - worker.retiringSince > RETIRE_COPY_TIMEOUT_MS;
    if (peers && !timedOut) {
      for (const task of worker.hasWhat) if (this.stillNeeded(task) && this.heldOnlyByRetiring(task)) return;
    }
    this.outbox.retire.push(worker);
  }

  private forgetTask(task: TaskState): void {
    this.clearSteal(task);
    switch (task.state) {
      case 'processing': {
        const worker = task.processingOn!;
        worker.processing.delete(task);
        worker.occupancyMs -= task.occupancyMs;
        if (worker.processing.size === 0) worker.occupancyMs = 0;
        task.processingOn = null;
        pushTo(this.outbox.cancel, worker, task.key);
        break;
      }
      case 'memory':
        for (const worker of [...task.whoHas]) this.dropHolder(task, worker);
        break;
      default:
        break;
    }
    this.delayed.delete(task);
    for (const dep of task.dependencies) {
      const i = dep.dependents.indexOf(task);
      if (i >= 0) dep.dependents.splice(i, 1);
      if (task.holdsDependencies) {
        dep.dependentsPending--;
        // A dependency shared with a running job may now be unneeded.
        if (dep.dependentsPending === 0 && !dep.isOutput && dep.jobs.length > 0) this.releaseData(dep);
      }
    }
    this.transition(task, 'forgotten');
    this.tasks.delete(task.key);
  }
}
