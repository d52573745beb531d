/**
 * The records the scheduler's state machine keeps. Plain objects with direct references
 * (no id look-ups on the hot path), mutated only by `SchedulerState`.
 */

/**
 * - `released`: known, not computed or its data was dropped; may be recomputed from lineage.
 * - `waiting`: wanted; some dependencies are not in memory yet.
 * - `queued`: ready to run, waiting on the scheduler for a worker slot (root tasks, or no worker).
 * - `processing`: assigned to a worker.
 * - `memory`: its result is held by one or more workers (or, for sinks, reported to the scheduler).
 * - `erred`: failed, or a dependency failed.
 * - `forgotten`: its job ended; the record is gone from the scheduler.
 */
import type { PriorityHeap } from '../../common/priority-heap.js';

export type TaskStateName = 'released' | 'waiting' | 'queued' | 'processing' | 'memory' | 'erred' | 'forgotten';

export interface TaskState {
  readonly key: string;
  readonly op: string;
  /** Opaque to the scheduler: kernel arguments forwarded to the worker. */
  readonly args: Uint8Array;
  readonly dependencies: TaskState[];
  readonly dependents: TaskState[];
  /** Jobs that asked for this task; usually one, more when identical sub-graphs are shared. */
  readonly jobs: JobState[];
  state: TaskStateName;
  /** Lower runs first; the compiler's order within its job. */
  priority: number;
  /** Dependencies not in memory. */
  waitingOn: number;
  processingOn: WorkerState | null;
  /** Workers that hold this task's result. */
  readonly whoHas: Set<WorkerState>;
  /** Result size in bytes: the compiler's estimate until a worker reports the real size. */
  nbytes: number;
  /** Estimated run time charged to the worker's occupancy while processing (ms). */
  occupancyMs: number;
  /** Names of workers that died while running this task. */
  readonly diedOn: string[];
  /** Transient failures so far. */
  retries: number;
  /** Monotonic time (ms) before which a retried task must not run. */
  retryAt: number;
  /** Small JSON result reported by sink tasks (file names, sizes). */
  meta: Uint8Array | null;
  /** Whether a job reports this task's result (its sinks); never released while the job runs. */
  isOutput: boolean;
  /** Dependents not yet in memory; the result is released when this reaches zero. */
  dependentsPending: number;
  /** Whether this task counts in its dependencies' `dependentsPending` (until it is in memory). */
  holdsDependencies: boolean;
  /** Whether this task counted towards its jobs' finished tasks. */
  counted: boolean;
  error: TaskFailure | null;
  /** Monotonic time the current assignment was sent (for stealing and duration). */
  assignedAt: number;
  /** Idle worker this task is being stolen for (asked back from its worker, not yet returned). */
  stealTo: WorkerState | null;
  /** The worker making a copy of this result (its holders retire), until it acknowledges. */
  replicatingTo: WorkerState | null;
}

export interface TaskFailure {
  kind: 'user' | 'transient' | 'canceled' | 'internal' | 'killed-worker' | 'out-of-memory' | 'dependency';
  message: string;
  /** openEO error code shown to the user. */
  code: string;
}

export type WorkerStatus = 'running' | 'paused' | 'retiring';

export interface WorkerState {
  readonly id: string;
  /** Human-readable name used in messages (e.g. which workers died under a task). */
  readonly name: string;
  /** host:port where peers fetch chunks. */
  readonly address: string;
  readonly threads: number;
  readonly memoryLimit: number;
  status: WorkerStatus;
  readonly processing: Set<TaskState>;
  /** Keys in memory on this worker. */
  readonly hasWhat: Set<TaskState>;
  /** Sum of `occupancyMs` of processing tasks. */
  occupancyMs: number;
  /** Sum of `nbytes` of held tasks. */
  nbytes: number;
  /** Last heartbeat (monotonic ms). */
  lastSeen: number;
  memory: WorkerMemory;
  /** Tasks run to completion here (for tests and metrics). */
  executedCount: number;
  /** Tasks being stolen for this worker, not yet handed back by their workers. */
  incomingSteals: number;
  /** When the worker asked to retire (monotonic ms); 0 when it does not. */
  retiringSince: number;
}

export interface WorkerMemory {
  /** Resident set size of the worker process. */
  processBytes: number;
  /** Bytes of chunks in the worker's memory store. */
  managedBytes: number;
  /** Bytes of chunks spilled to the worker's disk. */
  spilledBytes: number;
  /** Tasks running on the worker at its last heartbeat. */
  executing?: number;
}

export type JobStatus = 'running' | 'finished' | 'error' | 'canceled';

export interface JobState {
  readonly id: string;
  /** Submission order: older jobs win ties. */
  readonly seq: number;
  status: JobStatus;
  readonly tasks: TaskState[];
  readonly outputs: Set<TaskState>;
  /** Outputs not in memory; the job finishes when it reaches zero. */
  outputsPending: number;
  /** Tasks of this job that reached memory at least once. */
  done: number;
  /** Tasks of this job processing on some worker (for fair share). */
  processing: number;
  /** Ready tasks waiting for a worker slot, lowest priority first. */
  readonly queue: PriorityHeap<TaskState>;
  error: TaskFailure | null;
}

/** What the state machine asks its caller to do; the gRPC server and event publisher carry it out. */
export interface Outbox {
  readonly assign: Map<WorkerState, TaskState[]>;
  readonly release: Map<WorkerState, string[]>;
  readonly cancel: Map<WorkerState, string[]>;
  /** Ask these workers to hand back these tasks if not started (stealing, retiring). */
  readonly steal: Map<WorkerState, string[]>;
  /** Ask these workers to copy these results from their holders (a holder retires). */
  readonly replicate: Map<WorkerState, TaskState[]>;
  /** These workers may exit: they retired and hold nothing only they have. */
  readonly retire: WorkerState[];
  readonly jobEvents: JobEvent[];
  /** Workers to disconnect (heartbeat timeout, retired). */
  readonly dropWorkers: WorkerState[];
}

export type JobEvent =
  | { kind: 'progress'; jobId: string; done: number; total: number }
  | { kind: 'status'; jobId: string; status: JobStatus; done: number; total: number; error?: TaskFailure; outputs?: { key: string; meta: Uint8Array | null }[] }
  | { kind: 'log'; jobId: string; level: 'info' | 'warning' | 'error'; message: string };
