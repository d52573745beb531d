import { Counter, Gauge, type Registry } from 'prom-client';
import { createRegistry, type MetricsServer, startMetricsServer } from '../common/metrics.js';
import type { Logger } from '../common/logger.js';
import { ADAPTIVE_QUEUE_SAMPLE, desiredWorkers } from './adaptive.js';
import type { SchedulerState } from './state/scheduler-state.js';
import type { TaskStateName, WorkerState, WorkerStatus } from './state/types.js';

/**
 * How often (ms) the metrics note which workers exist, so that a worker's finished tasks still
 * count after it leaves between two scrapes. Only a worker living less than this could go unseen.
 */
export const WORKER_DISCOVERY_INTERVAL_MS = 1_000;

/** Task states the scheduler holds records in (forgotten tasks have none). */
const TASK_STATES = ['released', 'waiting', 'queued', 'processing', 'memory', 'erred'] as const satisfies readonly TaskStateName[];
const WORKER_STATUSES = ['running', 'paused', 'retiring'] as const satisfies readonly WorkerStatus[];

/**
 * Tasks that reached memory, ever: the sum of every worker's executed count, the only place a task
 * turns to memory. Departed workers' records keep their final counts, so they are kept here.
 */
class FinishedTasks {
  private readonly known = new Set<WorkerState>();
  private departed = 0;

  constructor(private readonly state: SchedulerState) {}

  note(): void {
    for (const worker of this.state.workers.values()) this.known.add(worker);
  }

  total(): number {
    this.note();
    let total = this.departed;
    for (const worker of this.known) {
      total += worker.executedCount;
      if (this.state.workers.get(worker.id) !== worker) {
        this.departed += worker.executedCount;
        this.known.delete(worker);
      }
    }
    return total;
  }
}

/** Estimated run time (ms) of the queued tasks, sampled the way the adaptive target samples them. */
export function queuedWorkMs(state: SchedulerState): number {
  let work = 0;
  for (const job of state.jobs.values()) {
    const tasks = job.queue.toArray();
    const sample = Math.min(tasks.length, ADAPTIVE_QUEUE_SAMPLE);
    if (sample === 0) continue;
    let sampleWork = 0;
    for (let i = 0; i < sample; i++) sampleWork += state.estimates.durationOf(tasks[i]!.op);
    work += (sampleWork / sample) * tasks.length;
  }
  return work;
}

/**
 * The scheduler's metrics, read from its state at each scrape (nothing on the hot path).
 * `openeo_scheduler_desired_workers` is what the worker autoscaler follows.
 */
export function schedulerRegistry(state: SchedulerState): { registry: Registry; close(): void } {
  const registry = createRegistry('scheduler');
  const registers = [registry];
  const finished = new FinishedTasks(state);
  const discovery = setInterval(() => finished.note(), WORKER_DISCOVERY_INTERVAL_MS);
  discovery.unref();

  new Gauge({
    name: 'openeo_scheduler_tasks',
    help: 'Tasks the scheduler holds, by state',
    labelNames: ['state'],
    registers,
    collect() {
      const counts = new Map<string, number>(TASK_STATES.map((s) => [s, 0]));
      for (const task of state.tasks.values()) counts.set(task.state, (counts.get(task.state) ?? 0) + 1);
      for (const [name, count] of counts) this.set({ state: name }, count);
    },
  });
  let finishedReported = 0;
  new Counter({
    name: 'openeo_scheduler_tasks_finished_total',
    help: 'Tasks that finished and reached memory (rate() of it is tasks per second)',
    registers,
    collect() {
      const total = finished.total();
      if (total > finishedReported) this.inc(total - finishedReported);
      finishedReported = Math.max(finishedReported, total);
    },
  });
  let transitionsReported = 0;
  new Counter({
    name: 'openeo_scheduler_transitions_total',
    help: 'Task state transitions made by the scheduler',
    registers,
    collect() {
      if (state.transitions > transitionsReported) this.inc(state.transitions - transitionsReported);
      transitionsReported = Math.max(transitionsReported, state.transitions);
    },
  });
  new Gauge({
    name: 'openeo_scheduler_queued_tasks',
    help: 'Ready tasks waiting on the scheduler for a worker slot',
    registers,
    collect() {
      this.set(state.queuedCount());
    },
  });
  new Gauge({
    name: 'openeo_scheduler_queued_work_seconds',
    help: 'Estimated run time of the queued tasks',
    registers,
    collect() {
      this.set(queuedWorkMs(state) / 1000);
    },
  });
  new Gauge({
    name: 'openeo_scheduler_desired_workers',
    help: "Workers the current work would keep busy (Dask's adaptive target); the worker autoscaler's metric",
    registers,
    collect() {
      this.set(desiredWorkers(state));
    },
  });
  new Gauge({
    name: 'openeo_scheduler_workers',
    help: 'Workers connected to the scheduler, by status',
    labelNames: ['status'],
    registers,
    collect() {
      const counts = new Map<string, number>(WORKER_STATUSES.map((s) => [s, 0]));
      for (const worker of state.workers.values()) counts.set(worker.status, (counts.get(worker.status) ?? 0) + 1);
      for (const [status, count] of counts) this.set({ status }, count);
    },
  });
  new Gauge({
    name: 'openeo_scheduler_worker_threads',
    help: 'Kernel threads of all connected workers',
    registers,
    collect() {
      let threads = 0;
      for (const worker of state.workers.values()) threads += worker.threads;
      this.set(threads);
    },
  });
  new Gauge({
    name: 'openeo_scheduler_worker_memory_bytes',
    help: 'Memory of each worker at its last heartbeat: process (RSS), managed (chunks held), spilled (chunks on disk)',
    labelNames: ['worker', 'kind'],
    registers,
    collect() {
      this.reset();
      for (const worker of state.workers.values()) {
        this.set({ worker: worker.name, kind: 'process' }, worker.memory.processBytes);
        this.set({ worker: worker.name, kind: 'managed' }, worker.memory.managedBytes);
        this.set({ worker: worker.name, kind: 'spilled' }, worker.memory.spilledBytes);
      }
    },
  });
  new Gauge({
    name: 'openeo_scheduler_worker_memory_limit_bytes',
    help: 'Memory limit of each worker',
    labelNames: ['worker'],
    registers,
    collect() {
      this.reset();
      for (const worker of state.workers.values()) this.set({ worker: worker.name }, worker.memoryLimit);
    },
  });
  new Gauge({
    name: 'openeo_scheduler_worker_processing_tasks',
    help: 'Tasks assigned to each worker and not finished',
    labelNames: ['worker'],
    registers,
    collect() {
      this.reset();
      for (const worker of state.workers.values()) this.set({ worker: worker.name }, worker.processing.size);
    },
  });
  new Gauge({
    name: 'openeo_scheduler_jobs',
    help: 'Jobs the scheduler holds tasks of, by status',
    labelNames: ['status'],
    registers,
    collect() {
      const counts = new Map<string, number>([['running', 0]]);
      for (const job of state.jobs.values()) counts.set(job.status, (counts.get(job.status) ?? 0) + 1);
      for (const [status, count] of counts) this.set({ status }, count);
    },
  });

  return { registry, close: () => clearInterval(discovery) };
}

/** Serves the scheduler's metrics on their own port. */
export async function startSchedulerMetrics(state: SchedulerState, address: { host: string; port: number }, logger: Logger): Promise<MetricsServer> {
  const { registry, close } = schedulerRegistry(state);
  try {
    const server = await startMetricsServer(registry, address, logger);
    return {
      port: server.port,
      async close() {
        close();
        await server.close();
      },
    };
  } catch (error) {
    close();
    throw error;
  }
}
