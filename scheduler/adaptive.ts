import type { SchedulerState } from './state/scheduler-state.js';

/**
 * Work (ms) one worker thread should have outstanding: Dask's adaptive `target_duration` (5 s).
 * More queued work than this asks for more workers; less lets workers go.
 */
export const ADAPTIVE_TARGET_DURATION_MS = 5_000;
/** Queued tasks sampled to estimate queued work; keeps the estimate O(1) on huge queues (Dask samples 100). */
export const ADAPTIVE_QUEUE_SAMPLE = 100;
/** Threads per worker assumed before any worker has registered. */
export const ADAPTIVE_DEFAULT_THREADS = 1;

/**
 * How many workers the current work would keep busy (Dask's `adaptive_target`): the expected
 * run time of processing and queued tasks spread over ADAPTIVE_TARGET_DURATION_MS per thread,
 * never more workers than there are tasks to run.
 */
export function desiredWorkers(state: SchedulerState): number {
  let threads = 0;
  let occupancy = 0;
  let processing = 0;
  for (const worker of state.workers.values()) {
    threads += worker.threads;
    occupancy += worker.occupancyMs;
    processing += worker.processing.size;
  }
  const threadsPerWorker = state.workers.size > 0 ? threads / state.workers.size : ADAPTIVE_DEFAULT_THREADS;
  let queued = 0;
  let queuedWork = 0;
  for (const job of state.jobs.values()) {
    const tasks = job.queue.toArray();
    queued += tasks.length;
    const sample = Math.min(tasks.length, ADAPTIVE_QUEUE_SAMPLE);
    let sampleWork = 0;
    for (let i = 0; i < sample; i++) sampleWork += state.estimates.durationOf(tasks[i]!.op);
    if (sample > 0) queuedWork += (sampleWork / sample) * tasks.length;
  }
  const runnable = queued + processing;
  if (runnable === 0) return 0;
  const byWork = Math.ceil((occupancy + queuedWork) / ADAPTIVE_TARGET_DURATION_MS / threadsPerWorker);
  const byTasks = Math.ceil(runnable / threadsPerWorker);
  return Math.max(1, Math.min(byWork, byTasks));
}
