import type { TaskState, WorkerState } from './types.js';

/**
 * Bytes per millisecond assumed between workers when estimating transfer time.
 * 100 MB/s, Dask's `distributed.scheduler.bandwidth` default: conservative for loopback,
 * about right for pods on a cloud network.
 */
export const DEFAULT_BANDWIDTH_BYTES_PER_MS = 100e6 / 1000;

/**
 * Fixed cost of fetching from one peer (ms): a request/response round trip over gRPC plus
 * scheduling on both sides, whatever the size. Without it, tiny inputs look free to move and
 * small differences in queued work scatter dependents away from their inputs.
 */
export const FETCH_LATENCY_MS = 1;

/** Bytes of `task`'s inputs that `worker` does not hold and would have to fetch from peers. */
export function missingBytes(task: TaskState, worker: WorkerState): number {
  let bytes = 0;
  for (const dep of task.dependencies) {
    if (!dep.whoHas.has(worker)) bytes += dep.nbytes;
  }
  return bytes;
}

/**
 * When `task` would start on `worker` (ms from now): the queued work divided among its threads,
 * plus the time to fetch the inputs it lacks (bytes over bandwidth, plus a round trip per fetch).
 * Dask's `worker_objective`, with the fetch latency Dask's work stealing also charges.
 */
export function startTimeMs(task: TaskState, worker: WorkerState, bandwidthBytesPerMs: number): number {
  let bytes = 0;
  let fetches = 0;
  for (const dep of task.dependencies) {
    if (dep.whoHas.has(worker)) continue;
    bytes += dep.nbytes;
    fetches++;
  }
  // Inputs from one peer travel in one request, but holders differ: count a round trip per input, bounded by the inputs.
  return worker.occupancyMs / worker.threads + bytes / bandwidthBytesPerMs + (fetches > 0 ? FETCH_LATENCY_MS * Math.min(fetches, 4) : 0);
}

/**
 * The worker where `task` would start soonest; ties go to the worker holding fewer bytes
 * (spreads memory). Returns null when there is no candidate.
 */
export function chooseWorker(
  task: TaskState,
  candidates: Iterable<WorkerState>,
  bandwidthBytesPerMs: number = DEFAULT_BANDWIDTH_BYTES_PER_MS,
): WorkerState | null {
  let best: WorkerState | null = null;
  let bestStart = Infinity;
  for (const worker of candidates) {
    if (worker.status !== 'running') continue;
    const start = startTimeMs(task, worker, bandwidthBytesPerMs);
    if (start < bestStart || (start === bestStart && best !== null && worker.nbytes < best.nbytes)) {
      best = worker;
      bestStart = start;
    }
  }
  return best;
}
