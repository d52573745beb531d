import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import { createRegistry, type MetricsServer, startMetricsServer } from '../common/metrics.js';

/** What a worker's metrics read at each scrape: its live objects, never copies. */
export interface WorkerMetricsSource {
  threads: number;
  memoryLimit: number;
  store: { readonly bytes: number; readonly bytesSpilled: number; readonly count: number };
  executor: { readonly executing: number; readonly readyCount: number };
  /** Registered with the scheduler and holding a session. */
  connected(): boolean;
  retiring(): boolean;
  /** Tasks this process ran to the end, successfully or not. */
  outcomes(): { finished: number; failed: number };
}

/** A worker's metrics, read from its state at each scrape (nothing on the hot path). */
export function workerRegistry(source: WorkerMetricsSource): Registry {
  const registry = createRegistry('worker');
  const registers = [registry];
  new Gauge({
    name: 'openeo_worker_memory_bytes',
    help: 'Memory of this worker: process (RSS), managed (chunks held in memory), spilled (chunks on local disk)',
    labelNames: ['kind'],
    registers,
    collect() {
      this.set({ kind: 'process' }, process.memoryUsage.rss());
      this.set({ kind: 'managed' }, source.store.bytes);
      this.set({ kind: 'spilled' }, source.store.bytesSpilled);
    },
  });
  new Gauge({
    name: 'openeo_worker_memory_limit_bytes',
    help: 'Memory this worker may use (WORKER_MEMORY_LIMIT)',
    registers,
    collect() {
      this.set(source.memoryLimit);
    },
  });
  new Gauge({
    name: 'openeo_worker_threads',
    help: 'Kernel threads of this worker',
    registers,
    collect() {
      this.set(source.threads);
    },
  });
  new Gauge({
    name: 'openeo_worker_chunks',
    help: 'Chunks this worker holds (in memory or spilled)',
    registers,
    collect() {
      this.set(source.store.count);
    },
  });
  new Gauge({
    name: 'openeo_worker_tasks',
    help: 'Tasks on this worker: executing on a kernel thread, or ready and waiting for one',
    labelNames: ['state'],
    registers,
    collect() {
      this.set({ state: 'executing' }, source.executor.executing);
      this.set({ state: 'ready' }, source.executor.readyCount);
    },
  });
  const reported = { finished: 0, failed: 0 };
  const completed = new Counter({
    name: 'openeo_worker_tasks_completed_total',
    help: 'Tasks this worker ran to the end, by outcome',
    labelNames: ['outcome'],
    registers,
    collect() {
      const now = source.outcomes();
      for (const outcome of ['finished', 'failed'] as const) {
        if (now[outcome] > reported[outcome]) this.inc({ outcome }, now[outcome] - reported[outcome]);
        reported[outcome] = Math.max(reported[outcome], now[outcome]);
      }
    },
  });
  // Both outcomes from the start: rate() needs the zero before the first task ends.
  for (const outcome of ['finished', 'failed'] as const) completed.inc({ outcome }, 0);
  new Gauge({
    name: 'openeo_worker_connected',
    help: '1 while this worker holds a session with the scheduler',
    registers,
    collect() {
      this.set(source.connected() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'openeo_worker_retiring',
    help: '1 once this worker retires (hands its work over before it exits)',
    registers,
    collect() {
      this.set(source.retiring() ? 1 : 0);
    },
  });
  return registry;
}

/** Serves a worker's metrics on their own port. */
export function startWorkerMetrics(source: WorkerMetricsSource, address: { host: string; port: number }, logger: Logger): Promise<MetricsServer> {
  return startMetricsServer(workerRegistry(source), address, logger);
}
